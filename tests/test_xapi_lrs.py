"""xAPI end to end: a course synced from the Canvas sandbox appears in a real LRS (ralph-malph,
file-system backend, ``tests/lrs``) as valid statements, read back through the LRS's own
``GET /xAPI/statements`` with its ``more`` pagination; an LRS that dies mid-delivery and comes
back ends with every statement exactly once.
"""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from achieveup.mastery import store as records
from knowgap.core.tenancy import where
from knowgap.jobs.worker import run_pending
from knowgap.xapi import delivery, derive, schema, statements, store
from tests.conftest import canvas_settings, make_config
from tests.test_mastery_sync import setup_course, signup

COURSE = "101"
ADL = "http://adlnet.gov/expapi/verbs/"


@pytest.fixture(scope="module")
def lrs(tmp_path_factory):
    from tests.lrs import RalphLRS

    server = RalphLRS(tmp_path_factory.mktemp("lrs"), max_page=100).start()
    yield server
    server.stop()


@pytest.fixture
def account(lrs):
    if not lrs.running:                   # a test that stopped it must not break the next one
        lrs.start()
    return lrs.account()


@pytest.fixture
def config(sandbox, account):
    return make_config(**canvas_settings(sandbox), **account.settings, xapi_batch_size=100)


@pytest.fixture
def teacher(client):
    return signup(client, "teacher-token")


def sync(client, app, teacher, course=COURSE, *, run=True):
    r = client.post(f"/achieveup/instructor/course/{course}/force-sync", headers=teacher)
    assert r.status_code == 202, r.get_json()
    if run:
        run_pending(app)
    return r.get_json()["job_id"]


def enable(client, teacher, course=COURSE, on=True):
    r = client.put(f"/achieveup/instructor/courses/{course}/xapi", headers=teacher,
                   json={"enabled": on})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def delivery_status(client, teacher, course=COURSE):
    r = client.get(f"/achieveup/instructor/courses/{course}/xapi", headers=teacher)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def expected_ids(db, course=COURSE) -> dict[str, str]:
    """Statement id -> verb name of everything the stored data says happened, computed here
    from the stored rows and badges (not from the outbox)."""
    out = {}
    attempts, host = set(), db.canvas_host
    for r in db[records.RESULTS].find(where(db, course_id=course)):
        if r.get("credit") is None:
            continue
        out[statements.statement_id(host, course, r["student_id"], r["quiz_id"],
                                    r["question_id"], r["attempt"])] = "answered"
        attempts.add((r["student_id"], r["quiz_id"], r["attempt"]))
    for sid, quiz, attempt in attempts:
        out[statements.statement_id(host, course, sid, quiz, "attempt", attempt)] = "completed"
    for b in db[records.BADGES].find(where(db, course_id=course)):
        out[derive.badge_earned_id(host, course, b)] = "earned"
    return out


def test_course_sync_appears_in_the_lrs_as_valid_statements(client, app, teacher,
                                                             canvas_world, account, sandbox):
    db = setup_course(client, app, teacher, canvas_world)
    status = enable(client, teacher)
    assert status["enabled"] and status["configured"] and status["lrs"].startswith("http://")
    sync(client, app, teacher)
    run_pending(app)                                   # the delivery job the sync queued
    host = db.canvas_host

    got = account.statements()                         # through GET + more (pages of 100)
    assert len(got) > 100, "pagination must have been followed"
    ids = [s["id"] for s in got]
    assert len(ids) == len(set(ids)), "a statement stored twice"
    verbs = Counter(s["verb"]["id"].rsplit("/", 1)[-1] for s in got)
    want = expected_ids(db)
    by_id = {s["id"]: s for s in got}
    missing = set(want) - set(by_id)
    assert not missing, f"{len(missing)} expected statements not in the LRS"
    assert verbs["answered"] == sum(1 for v in want.values() if v == "answered")
    assert verbs["completed"] == sum(1 for v in want.values() if v == "completed")
    assert verbs["earned"] == sum(1 for v in want.values() if v == "earned") > 0
    assert verbs["progressed"] > 0 and verbs["mastered"] >= 0
    students = {str(s) for s in canvas_world.student_ids(101)}
    for s in got:
        assert schema.problems(as_sent(s)) is None, s
        assert s["actor"]["account"]["homePage"] == sandbox.base_url
        assert s["actor"]["account"]["name"] in students and "mbox" not in s["actor"]
        assert s["context"]["contextActivities"]["grouping"][0]["id"] == \
            f"{sandbox.base_url}/courses/{COURSE}"

    # one answer, checked field by field against its stored row
    row = db[records.RESULTS].find_one(where(db, course_id=COURSE, credit={"$ne": None}))
    s = by_id[statements.statement_id(host, COURSE, row["student_id"], row["quiz_id"],
                                      row["question_id"], row["attempt"])]
    assert s["verb"]["id"] == ADL + "answered"
    assert s["object"]["id"] == (f"{sandbox.base_url}/courses/{COURSE}/quizzes/"
                                 f"{row['quiz_id']}/questions/{row['question_id']}")
    assert s["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/cmi.interaction"
    assert s["result"]["success"] is (row["credit"] >= 1.0)
    assert s["result"]["score"]["scaled"] == pytest.approx(row["credit"], abs=1e-4)
    assert s["context"]["contextActivities"]["parent"][0]["id"].endswith(
        f"/quizzes/{row['quiz_id']}")

    status = delivery_status(client, teacher)
    assert status["state"] == "idle" and status["statements"]["pending"] == 0
    assert status["statements"]["delivered"] == len(got) and status["last_error"] is None

    # a re-sync (nothing new in Canvas) makes no statement and no outbox batch
    batches = db[store.OUTBOX].count_documents({})
    sync(client, app, teacher)
    run_pending(app)
    assert db[store.OUTBOX].count_documents({}) == batches
    assert len(account.statements()) == len(got)


def test_lrs_outage_mid_delivery_loses_and_doubles_nothing(client, app, teacher, canvas_world,
                                                          account, lrs, sandbox):
    db = setup_course(client, app, teacher, canvas_world)
    services = app.extensions["knowgap"]
    config = services.config = services.config.with_overrides(xapi_batch_size=20)
    sync(client, app, teacher)                         # xAPI still off: nothing recorded
    assert db[store.OUTBOX].count_documents({}) == 0
    enable(client, teacher)                            # on: what is stored gets sent
    delivery.derive_stored(db, config, COURSE)
    total = sum(d["count"] for d in db[store.OUTBOX].find({"state": "pending"}))
    assert total > 200

    # deliver in the background; kill the LRS once some (not all) statements are in
    result = {}
    thread = threading.Thread(target=lambda: result.update(delivery.run(
        db, config, COURSE, budget_seconds=None)))
    thread.start()
    deadline = time.monotonic() + 60
    while len(account.stored_lines()) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    lrs.kill()
    thread.join(timeout=120)
    assert result.get("waiting") == 1, result
    stored_before = len(account.stored_lines())
    assert 0 < stored_before < total

    status = delivery_status(client, teacher)
    assert status["state"] == "waiting" and status["statements"]["pending"] > 0
    assert status["last_error"].startswith("LRS unreachable") and status["next_attempt_at"]

    # while the LRS is down, further runs wait and lose nothing
    for doc in db[store.OUTBOX].find({"state": "pending"}):
        db[store.OUTBOX].update_one({"_id": doc["_id"]},
                                    {"$set": {"next_attempt_at": records.utcnow()}})
    assert delivery.run(db, config, COURSE)["waiting"] == 1

    lrs.start()
    for doc in db[store.OUTBOX].find({"state": "pending"}):   # the backoff has passed
        db[store.OUTBOX].update_one({"_id": doc["_id"]},
                                    {"$set": {"next_attempt_at": records.utcnow()}})
    db[store.COURSES].update_many({}, {"$set": {"next_attempt_at": records.utcnow()}})
    assert delivery.enqueue_due(services, records.utcnow()) == 1   # the retry timer
    run_pending(app)

    got = account.statements()
    ids = [s["id"] for s in got]
    assert len(ids) == len(set(ids)) == total
    assert set(expected_ids(db)) <= set(ids)
    assert delivery_status(client, teacher)["state"] == "idle"


def canvas_host_named(statement) -> str:
    return next(v for k, v in statement["context"]["extensions"].items()
                if k.endswith("/xapi/extensions/canvas-host"))


def by_verb(got, name):
    return [s for s in got if s["verb"]["id"].rsplit("/", 1)[-1] == name]


def as_sent(statement: dict) -> dict:
    """A statement read back from the LRS without what the LRS adds (``stored``,
    ``authority``): what our schema checks."""
    return {k: v for k, v in statement.items() if k not in ("stored", "authority")}


def test_an_id_the_lrs_already_has_is_success_and_stays_once(client, app, teacher, canvas_world,
                                                            account, sandbox):
    """409 Conflict (xAPI Communication 2.1.2: the LRS keeps the statement it has) ends the
    batch's atomic POST; its statements then go one by one and the conflict counts as done."""
    import requests

    db = setup_course(client, app, teacher, canvas_world)
    sync(client, app, teacher)
    host = db.canvas_host
    row = db[records.RESULTS].find_one(where(db, course_id=COURSE, credit={"$ne": None}))
    taken = statements.statement_id(host, COURSE, row["student_id"], row["quiz_id"],
                                    row["question_id"], row["attempt"])
    theirs = {"id": taken, "actor": {"account": {"homePage": "https://elsewhere.example.org",
                                                 "name": "someone"}},
              "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
              "object": {"id": "https://elsewhere.example.org/page"},
              "timestamp": "2024-01-01T00:00:00.000Z"}
    r = requests.post(f"{account.lrs.endpoint}/statements", json=[theirs], timeout=30,
                      auth=(account.username, account.password),
                      headers={"X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 200
    enable(client, teacher)
    run_pending(app)

    got = account.statements()
    ids = [s["id"] for s in got]
    assert len(ids) == len(set(ids))
    kept = next(s for s in got if s["id"] == taken)
    assert kept["verb"]["id"].endswith("/experienced")          # the LRS kept its own
    want = expected_ids(db)
    assert set(want) <= set(ids)
    status = delivery_status(client, teacher)
    assert status["state"] == "idle" and status["statements"]["dead"] == 0
    assert sum(d.get("conflicts", 0) for d in db[store.OUTBOX].find()) == 1


def test_statements_the_lrs_refuses_are_dead_lettered_with_its_error(client, app, teacher,
                                                                     canvas_world, account,
                                                                     sandbox):
    """Actors by e-mail (XAPI_ACTOR_MBOX): ralph refuses a mailbox on a special-use domain
    (``.local``, RFC 6762), which the xAPI schema allows; those statements are kept as dead
    letters with the LRS's sentence, the rest of their batches is delivered. (The sandbox, like
    Canvas for a teacher's token, shows no student e-mail: the others stay accounts.)"""
    services = app.extensions["knowgap"]
    services.config = services.config.with_overrides(xapi_actor_mbox=True, xapi_batch_size=50)
    db = setup_course(client, app, teacher, canvas_world)
    sync(client, app, teacher)
    student = str(canvas_world.student_ids(101)[0])
    db[records.STUDENTS].update_many({"course_id": COURSE, "student_id": student},
                                     {"$set": {"email": f"s{student}@campus.local"}})
    enable(client, teacher)
    run_pending(app)

    status = delivery_status(client, teacher)
    assert status["state"] == "attention" and status["statements"]["pending"] == 0
    dead = status["statements"]["dead"]
    assert dead > 0 and len(status["dead_letters"]) == min(dead, 50)
    letter = status["dead_letters"][0]
    assert letter["error"].startswith("LRS answered 422") and "actor" in letter["error"]
    got = account.statements()
    assert len(got) == status["statements"]["delivered"]
    assert all(s["actor"].get("mbox") != f"mailto:s{student}@campus.local" for s in got)

    # once the student's address is fixed, the instructor sends them again
    db[records.STUDENTS].update_many({"course_id": COURSE, "student_id": student},
                                     {"$set": {"email": f"s{student}@example.edu"}})
    r = client.post(f"/achieveup/instructor/courses/{COURSE}/xapi/retry", headers=teacher)
    assert r.status_code == 200 and r.get_json()["requeued"] == dead
    run_pending(app)
    status = delivery_status(client, teacher)
    assert status["statements"]["dead"] == 0 and status["state"] == "idle"
    again = account.statements()
    assert len(again) == len(got) + dead == len({s["id"] for s in again})
    assert sum(1 for s in again if s["actor"].get("mbox") ==
               f"mailto:s{student}@example.edu") >= dead


def test_video_watched_once_per_student_and_video(client, app, account, sandbox, canvas_world):
    from tests.knowgap_support import post, student_token

    teacher = signup(client, "teacher-token")
    enable(client, teacher)
    sid = canvas_world.student_ids(101)[0]
    link = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    for _ in range(2):
        r = post(client, "/set-video-watched", student_token(sid), course_id=COURSE,
                 student_id=sid, video_link=link, watched=True)
        assert r.status_code == 200, r.get_json()
        run_pending(app)
    watched = by_verb(account.statements(), "watch")
    assert len(watched) == 1
    s = watched[0]
    assert s["actor"]["account"] == {"homePage": sandbox.base_url, "name": str(sid)}
    assert s["object"]["id"] == link
    assert s["object"]["definition"]["type"] == \
        "https://w3id.org/xapi/video/activity-type/video"
    assert schema.problems(as_sent(s)) is None


def test_an_ended_tutor_session_is_one_interacted_statement(client, app, account, sandbox,
                                                          canvas_world):
    """The tutor's end call (``POST /tutor/sessions/<id>/end``): one ``interacted`` statement
    on the missed question with the number of messages, none for ending it again, and
    nothing of what the student wrote."""
    from knowgap.canvas.hosts import canvas_host
    from tests.knowgap_support import sync as knowgap_sync
    from tests.test_tutor import COURSE as TUTOR_COURSE, bearer, missed, send, start

    teacher = signup(client, "teacher-token")
    enable(client, teacher, course=str(TUTOR_COURSE))
    knowgap_sync(client, TUTOR_COURSE)
    student, quiz_id, question_id, _ = missed(app, canvas_world)
    session = start(client, student, quiz_id, question_id)
    assert session.status_code == 201, session.get_json()
    session_id = session.get_json()["id"]
    assert send(client, student, session_id, "Why is my answer wrong?").status_code == 200
    for _ in range(2):
        r = client.post(f"/tutor/sessions/{session_id}/end", headers=bearer(student))
        assert r.status_code == 200, r.get_json()
        run_pending(app)
    tutored = by_verb(account.statements(), "interacted")
    assert len(tutored) == 1
    s = tutored[0]
    assert s["actor"]["account"] == {"homePage": sandbox.base_url, "name": str(student)}
    assert s["object"]["id"] == statements.question_iri(
        canvas_host(sandbox.base_url), str(TUTOR_COURSE), quiz_id, question_id)
    messages = next(v for k, v in s["result"]["extensions"].items()
                    if k.endswith("/tutor-messages"))
    assert messages == 2 and "Why is my answer wrong" not in str(s)   # question and answer
    assert schema.problems(as_sent(s)) is None


def test_removing_a_skill_voids_its_earned_badge_statements(client, app, teacher, canvas_world,
                                                           account, sandbox):
    setup_course(client, app, teacher, canvas_world)
    enable(client, teacher)
    sync(client, app, teacher)
    run_pending(app)
    earned = by_verb(account.statements(), "earned")
    genetics = {s["id"] for s in earned
                if s["context"]["contextActivities"]["parent"][0]["definition"]["name"]["en"]
                == "Genetics"}
    assert genetics and len(genetics) < len(earned)
    matrix = client.get(f"/achieveup/matrix/course/{COURSE}", headers=teacher).get_json()
    matrix = matrix[0] if isinstance(matrix, list) else matrix
    r = client.put(f"/achieveup/matrix/{matrix['_id']}", headers=teacher,
                   json={"skills": ["Cells", "Energy"]})
    assert r.status_code == 200, r.get_json()
    run_pending(app)
    voided = by_verb(account.statements(), "voided")
    assert {s["object"]["id"] for s in voided} == genetics
    assert all(s["object"]["objectType"] == "StatementRef" for s in voided)
    reason = voided[0]["context"]["extensions"]
    assert any(k.endswith("/revocation-reason") for k in reason)


def test_two_canvas_hosts_are_told_apart(lrs):
    """Course 101 with students 1001… on two Canvas hosts (``tests/tenancy_support``: the same
    ids, other content), one database, one LRS account: every statement names its host (actor,
    activities, statement id), every xAPI record carries its ``canvas_host``, and each host's
    instructor sees and switches only their own course."""
    import uuid

    from knowgap import create_app
    from knowgap.core import db as dbmod
    from knowgap.core.extensions import limiter
    from tests.conftest import TEST_MONGODB_URI
    from tests.tenancy_support import host_db, start_pair, two_host_config

    if not lrs.running:
        lrs.start()
    account = lrs.account()
    a, b = start_pair()
    name = f"test_{uuid.uuid4().hex[:12]}"
    db = dbmod.connect(TEST_MONGODB_URI, name)
    try:
        side = {}
        for home, other, token in ((a, b, "teacher-token"), (b, a, "b-teacher-token")):
            app = create_app(two_host_config(home, other, **account.settings,
                                             xapi_batch_size=200), db=db)
            limiter.reset()
            client = app.test_client()
            teacher = signup(client, token)
            setup_course(client, app, teacher, home.world)
            enable(client, teacher)
            sync(client, app, teacher)
            run_pending(app)
            side[home.base_url] = (client, teacher, host_db(db, home))
        got = account.statements()
        homes = {s["actor"]["account"]["homePage"] for s in got if s["verb"]["id"] !=
                 ADL + "voided"}
        assert homes == {a.base_url, b.base_url}
        for origin, (client, teacher, hdb) in side.items():
            host = hdb.canvas_host
            mine = [s for s in got if canvas_host_named(s) == host]
            want = expected_ids(hdb)
            assert set(want) <= {s["id"] for s in mine}
            for s in mine:
                assert s["context"]["contextActivities"]["grouping"][0]["id"] == \
                    f"{origin}/courses/{COURSE}"
                if s["verb"]["id"] in (ADL + "answered", ADL + "completed"):
                    assert s["object"]["id"].startswith(f"{origin}/courses/{COURSE}/")
                    assert s["actor"]["account"]["homePage"] == origin
                elif s["verb"]["id"] in (ADL + "progressed", ADL + "mastered"):
                    assert f"/xapi/activities/{host}/courses/{COURSE}/skills/" in \
                        s["object"]["id"]
            status = delivery_status(client, teacher)
            assert status["statements"]["delivered"] == len(mine) > 0
            assert status["state"] == "idle"
            for collection in store.COLLECTIONS:
                docs = list(db[collection].find(where(hdb, course_id=COURSE)))
                assert docs and all(d["_id"].startswith(f"{host}|") for d in docs)
        hosts = {d["canvas_host"] for c in store.COLLECTIONS for d in db[c].find()}
        assert hosts == {side[a.base_url][2].canvas_host, side[b.base_url][2].canvas_host}
        ids = [s["id"] for s in got]
        assert len(ids) == len(set(ids))           # no id shared by the two courses 101

        # host B's instructor turns their course 101 off; host A's stays on
        client_b, teacher_b, _ = side[b.base_url]
        assert enable(client_b, teacher_b, on=False)["state"] == "off"
        client_a, teacher_a, _ = side[a.base_url]
        assert delivery_status(client_a, teacher_a)["enabled"] is True
    finally:
        limiter.reset()
        a.stop()
        b.stop()
        if TEST_MONGODB_URI:
            db.client.drop_database(name)


def test_nothing_is_derived_while_a_course_update_is_queued_or_running(client, app, teacher,
                                                                      canvas_world, account):
    """A change outside a sync (``course_changed``) marks the course at a time a queued or
    running sync may still be writing rows stamped before it: the derivation waits for it."""
    from knowgap.xapi import stage

    db = setup_course(client, app, teacher, canvas_world)
    enable(client, teacher)
    config = app.extensions["knowgap"].config
    sync(client, app, teacher, run=False)              # queued, not run yet
    stage.course_changed(db, config, COURSE)
    counts = delivery.run(db, config, COURSE)
    assert counts["deferred"] == 1 and counts["derived"] == counts["delivered"] == 0
    assert db[store.OUTBOX].count_documents({}) == 0
    assert store.course_doc(db, COURSE)["has_work"] is True   # the timer comes back
    run_pending(app)                                   # the sync, then the delivery it queued
    got = {s["id"] for s in account.statements()}
    assert set(expected_ids(db)) <= got


def test_every_kind_of_statement_is_accepted_by_the_lrs(account):
    """The LRS's own validation (ralph's xAPI models) accepts a statement of every kind we
    build, not just our schema; read back, each is the statement we sent."""
    import requests

    from tests.test_xapi import EVENTS, HOST, IDENT

    sent = [statements.build(e, IDENT, HOST) for e in EVENTS]
    assert {s["verb"]["id"] for s in sent} >= {ADL + "answered", ADL + "completed",
                                               ADL + "progressed", ADL + "mastered",
                                               ADL + "voided"}
    for statement in sent:
        assert schema.problems(statement) is None
        r = requests.post(f"{account.lrs.endpoint}/statements", json=[statement], timeout=30,
                          auth=(account.username, account.password),
                          headers={"X-Experience-API-Version": "1.0.3"})
        assert r.status_code == 200, (statement["verb"]["id"], r.text)
    got = {s["id"]: s for s in account.statements()}
    assert set(got) == {s["id"] for s in sent}
    for s in sent:
        assert got[s["id"]]["verb"] == s["verb"] and got[s["id"]]["object"]["id"] == \
            s["object"]["id"]
