"""``python -m knowgap.migrate`` on a database written by the code before records carried their
Canvas host.

The data: ``tests/fixtures/legacy_db/legacy_e3fd65a.json``, every collection (and index) of a
database that the code of commit e3fd65a filled through its own HTTP API and job worker,
against the Canvas sandbox and the fake OpenAI and YouTube servers: an instructor's matrices,
skill mapping, AchieveUp sync, settings change, badges (one shared), leaderboard opt-in; a
KnowGap token registration, syncs, course context, a video override, the risk switch turned
off, a watched video, a vote and the scheduled refresh. How it was made, and how to make it
again, is in ``tests/fixtures/legacy_db/generate.py`` (run from a temporary ``git worktree``
of that commit, never committed). It records the sandbox it was written against (the same
world is started here; the old port is replaced by this sandbox's) and its throw-away
secrets, so the app can serve the migrated data.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from bson import json_util

from knowgap import create_app
from knowgap.core.extensions import limiter
from knowgap.jobs.worker import run_pending
from knowgap.migrate import LEGACY_INDEXES, migrate, pending
from tests.canvas_sandbox import CourseSpec, SandboxServer, build_world
from tests.conftest import make_config

FIXTURE = Path(__file__).parent / "fixtures" / "legacy_db" / "legacy_e3fd65a.json"
OTHER_CANVAS = "https://ucf.instructure.com"
#: Account-level collections: an account is global, its Canvas identity per host.
ACCOUNTS = {"AchieveUp_Refresh_Tokens", "AchieveUp_Revoked_Tokens", "schema_migrations"}


@pytest.fixture(scope="module")
def legacy():
    return json.loads(FIXTURE.read_text())


@pytest.fixture
def canvas(legacy):
    courses = [CourseSpec(**c) for c in legacy["world"]["courses"]]
    with SandboxServer(build_world(courses, seed=legacy["world"]["seed"]),
                       throttle=False) as server:
        yield server


@pytest.fixture
def loaded(legacy, canvas, db):
    """The fixture in ``db`` as the old code left it (its indexes too), served by ``canvas``;
    one registered KnowGap token says it belongs to another Canvas."""
    old = legacy["canvas_base_url"].split("//", 1)[1]
    text = json.dumps(legacy["collections"]).replace(old, canvas.host)
    for name, docs in json_util.loads(text).items():
        if docs:
            db[name].insert_many(docs)
    for name, specs in legacy["indexes"].items():
        for spec in specs:
            db[name].create_index([tuple(k) for k in spec["key"]], **spec["options"])
    db["knowgap_tokens"].update_one({}, {"$set": {"base_url": OTHER_CANVAS}})
    return db


@pytest.fixture
def config(legacy, canvas):
    secrets = legacy["secrets"]
    return make_config(canvas_base_url=canvas.base_url, canvas_allowed_hosts=(canvas.host,),
                       token_encryption_key=secrets["token_encryption_key"],
                       jwt_secret_key=secrets["jwt_secret_key"],
                       badge_salt=secrets["badge_salt"], badge_min_evidence=1)


def everything(db) -> dict:
    return {name: sorted(db[name].find(), key=lambda d: str(d["_id"]))
            for name in db.list_collection_names()}


def test_every_record_gets_its_host_once(loaded, config, canvas):
    db = loaded
    host = canvas.host
    before = everything(db)
    assert "AchieveUp_Student_Mastery" in pending(db)
    migrate(db, config)
    assert pending(db) == []
    after = everything(db)
    for name, docs in after.items():
        if name in ACCOUNTS:
            continue
        for doc in docs:
            if name == "AchieveUp_Users" and "canvas_base_url" not in doc:
                continue                       # no Canvas account yet: no Canvas host
            expected = "ucf.instructure.com" if name == "knowgap_tokens" else host
            assert doc["canvas_host"] == expected, (name, doc["_id"])
    # nothing lost (the five-minute identity cache excepted), natural keys carry the host
    for name, docs in before.items():
        expected = 0 if name == "knowgap_identity_cache" else len(docs)
        assert len(after.get(name, [])) == expected, name
    for name in ("AchieveUp_Student_Mastery", "AchieveUp_Question_Results",
                 "AchieveUp_Course_Settings", "AchieveUp_Sync_State",
                 "AchieveUp_Leaderboard_Preferences", "AchieveUp_Course_Versions"):
        assert after[name] and all(d["_id"].startswith(host + "|") for d in after[name]), name
    # badges get the host in their natural key; a shared badge keeps its old id as its
    # public id, so the links given out keep working; the unpublished ones get random ones
    old_ids = {d["_id"] for d in before["AchieveUp_Badges"]}
    assert old_ids.isdisjoint(d["_id"] for d in after["AchieveUp_Badges"])
    shared = {d["_id"] for d in before["AchieveUp_Badges"] if d["public"]}
    assert shared and {d["public_id"] for d in after["AchieveUp_Badges"] if d["public"]} == shared
    assert all(d["public_id"] not in old_ids for d in after["AchieveUp_Badges"]
               if not d["public"])
    assert all(d["course_id"] for d in after["AchieveUp_Course_Versions"])
    assert all("|" not in d["key"] for d in after["jobs"]
               if d["kind"] == "achieveup_course_sync")
    # the old unique indexes (without the host) are gone, the new ones are there
    for name, keys in LEGACY_INDEXES:
        wanted = [k if isinstance(k, tuple) else (k, 1) for k in keys]
        assert wanted not in [[(k, int(d)) for k, d in info["key"]]
                              for info in db[name].index_information().values()], name
    assert "canvas_host_1_course_id_1_quiz_id_1" in db["knowgap_quizzes"].index_information()

    # a second run changes nothing
    again = migrate(db, config)
    assert all(step["counts"] == {} for step in again)
    assert everything(db) == {**after, "schema_migrations": everything(db)["schema_migrations"]}
    assert db["schema_migrations"].find_one({"_id": "tenancy-canvas-host"})["runs"] == 2


def test_an_interrupted_run_finishes_on_the_next(loaded, config, canvas):
    """A copy under the new _id was written but the old document not yet deleted (the crash
    window of the re-keying): the next run completes the move without a duplicate."""
    db = loaded
    old = db["AchieveUp_Student_Mastery"].find_one()
    db["AchieveUp_Student_Mastery"].insert_one(
        {**old, "_id": f"{canvas.host}|{old['_id']}", "canvas_host": canvas.host})
    count = db["AchieveUp_Student_Mastery"].count_documents({}) - 1
    migrate(db, config)
    assert db["AchieveUp_Student_Mastery"].count_documents({}) == count
    assert db["AchieveUp_Student_Mastery"].find_one({"_id": old["_id"]}) is None


def test_the_migrated_data_serves_both_apps(loaded, config, legacy, canvas):
    """After the migration the old data is what its users see, and syncs continue from it."""
    db = loaded
    migrate(db, config)
    app = create_app(config, db=db)
    limiter.reset()
    client = app.test_client()
    password = legacy["secrets"]["password"]

    def login(email):
        response = client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    teacher, student = login("grace@example.edu"), login("pupil@example.edu")
    matrices = client.get("/achieveup/matrix/course/101", headers=teacher).get_json()
    assert [m["matrix_name"] for m in matrices] == ["Biology skills"]
    analytics = client.get("/achieveup/instructor/courses/101/student-analytics",
                           headers=teacher).get_json()
    assert len(analytics["students"]) == 5
    settings = client.get("/achieveup/instructor/course/101/settings", headers=teacher)
    assert settings.get_json()["min_evidence"] == 1
    assert client.get("/achieveup/leaderboard-preferences", headers=student).get_json()[
        "leaderboard_opt_in"] is True
    shared = next(b for b in db["AchieveUp_Badges"].find({"public": True}))
    link = legacy["collections"]["AchieveUp_Badges"]                  # the link given out
    old_id = next(b["_id"] for b in link if b["public"])
    assertion = client.get(f"/achieveup/public/badges/assertions/{old_id}",
                           headers={"Accept": "application/json"}).get_json()
    assert assertion["id"].endswith(shared["public_id"]) and shared["public_id"] == old_id
    identity = hashlib.sha256(("pupil@example.edu" + assertion["recipient"]["salt"]).encode())
    assert assertion["recipient"]["identity"] == "sha256$" + identity.hexdigest()
    badges = {d["_id"] for d in db["AchieveUp_Badges"].find()}

    job = client.post("/achieveup/instructor/course/101/force-sync", headers=teacher)
    assert job.status_code == 202, job.get_json()
    run_pending(app)
    state = client.get(f"/achieveup/jobs/{job.get_json()['job_id']}", headers=teacher).get_json()
    assert state["state"] == "succeeded", state
    assert state["counts"]["incremental"] == 1               # from the migrated sync state
    assert state["counts"]["results_new"] == 0
    # every earned badge stays (a newer default score model may award more), none twice
    after = list(db["AchieveUp_Badges"].find())
    assert badges <= {d["_id"] for d in after}
    keys = [(d["course_id"], d["student_id"], d["skill"], d["level"]) for d in after]
    assert len(keys) == len(set(keys)) == len(badges) + state["counts"]["badges_awarded"]

    kg = {"access_token": "teacher-token", "course_id": "101"}
    assert client.get("/get-toggle-risk/101", headers={
        "Authorization": "Bearer teacher-token"}).get_json()["toggle_risk"] is False
    videos = client.post("/get-course-videos", json=kg).get_json()["course_videos"]
    assert any((v["video_data"] or {}).get("link", "").endswith("abcdefghijk") for v in videos)
    synced = client.post("/update-course-db", json=kg)
    assert synced.status_code == 200, synced.get_json()
    assert db["knowgap_sync_state"].find_one({"course_id": "101"})["mode"] == "incremental"
    assert pending(db) == []
