"""``python -m knowgap.migrate`` on a database written by the code before stored documents were
plain (JSON text in mastery summaries, evidence and item responses; results' ``graded_at`` as
text).

The data: ``tests/fixtures/legacy_db/legacy_b0f9846.json``, every collection (and index) of a
database that the code of commit b0f9846 (tenancy by Canvas host, issue 17) filled through its
own HTTP API and job worker, made by ``tests/fixtures/legacy_db/generate.py`` run in a worktree
of that commit (see its docstring). It is loaded as ``tests/test_migration.py`` loads its own:
the sandbox it was written against is started again and its address replaces the old one
everywhere (``_id``s and ``canvas_host`` included).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from knowgap import create_app
from knowgap.core.clock import parse
from knowgap.core.extensions import limiter
from knowgap.jobs.worker import run_pending
from knowgap.migrate import PACKED_SKILL_FIELDS, evidence_rows, migrate, pending
from tests.test_migration import canvas, config, loaded  # noqa: F401  (fixtures)
from tests.test_plain_documents import json_strings

FIXTURE = Path(__file__).parent / "fixtures" / "legacy_db" / "legacy_b0f9846.json"
MASTERY, EVIDENCE = "AchieveUp_Student_Mastery", "AchieveUp_Student_Evidence"
RESPONSES, RESULTS = "AchieveUp_Item_Responses", "AchieveUp_Question_Results"


@pytest.fixture(scope="module")
def legacy():
    """(``canvas``, ``loaded`` and ``config`` come from ``tests/test_migration.py`` and load
    this fixture instead of the older one.)"""
    return json.loads(FIXTURE.read_text())


def everything(db) -> dict:
    return {name: sorted(db[name].find(), key=lambda d: str(d["_id"]))
            for name in db.list_collection_names() if name != "schema_migrations"}


def json_text(db) -> list[str]:
    return [f"{name} {doc['_id']}: {path}" for name, docs in everything(db).items()
            for doc in docs for path, _ in json_strings(doc)]


def test_packed_documents_become_plain_once(loaded, config):
    db = loaded
    before = everything(db)
    assert json_text(db)
    assert set(pending(db)) == {MASTERY, EVIDENCE, RESPONSES, RESULTS}
    steps = {s["step"]: s["counts"] for s in migrate(db, config)}
    assert steps["plain-documents"] == {MASTERY: len(before[MASTERY]),
                                        EVIDENCE: len(before[EVIDENCE]),
                                        RESPONSES: len(before[RESPONSES]),
                                        RESULTS: len(before[RESULTS])}
    assert pending(db) == [] and json_text(db) == []
    after = everything(db)
    # same documents per collection (collections of newer features start empty)
    assert {n: len(d) for n, d in after.items() if d} == {n: len(d) for n, d in before.items()
                                                          if d}

    for old, new in zip(before[MASTERY], after[MASTERY]):
        rows = json.loads(old["packed"])
        assert [[e[f] for f in PACKED_SKILL_FIELDS[:len(r)]] for e, r in
                zip(new["skills"], rows)][:1] and len(new["skills"]) == len(rows)
        for entry, row in zip(new["skills"], rows):
            assert entry["skill"] == row[0] and entry["score"] == row[1]
            assert entry["evidence_count"] == row[6] and entry["mastered"] == row[7]
            assert entry["last_graded_at"] == parse(row[8])          # a date now
        assert [(b["skill"], b["level"], b["percentage"]) for b in new["badges"]] == [
            (r[0], r[1], r[3]) for r in json.loads(old["badges"])]
        assert all(isinstance(b["earned_at"], dt.datetime) for b in new["badges"])
        assert "packed" not in new and isinstance(new["revoked_badges"], list)
    for old, new in zip(before[EVIDENCE], after[EVIDENCE]):
        rows = sorted(evidence_rows(old["packed"]), key=lambda r: (r[0], r[1], r[2]))
        flat = sorted([(a["quiz_id"], q, a["attempt"], a["graded_at"], c, p)
                       for a in new["attempts"]
                       for q, c, p in zip(a["question_ids"], a["credits"], a["points_possible"])],
                      key=lambda r: (r[0], r[1], r[2]))
        assert [tuple(r[:3]) + (parse(r[3]),) + tuple(r[4:]) for r in rows] == flat
        assert new["count"] == len(rows) == old["count"]
    for old, new in zip(before[RESPONSES], after[RESPONSES]):
        cols = json.loads(old["packed"])
        assert new["student_ids"] == cols["s"] and new["credits"] == cols["c"]
        assert [",".join(c) for c in new["choices"]] == cols["p"]
    for old, new in zip(before[RESULTS], after[RESULTS]):
        assert new["graded_at"] == parse(old["graded_at"])
        assert {k: v for k, v in new.items() if k != "graded_at"} == \
            {k: v for k, v in old.items() if k != "graded_at"}

    again = {s["step"]: s["counts"] for s in migrate(db, config)}
    assert again["plain-documents"] == {}
    assert everything(db) == after
    assert db["schema_migrations"].find_one({"_id": "plain-documents"})["runs"] == 2


def test_an_interrupted_run_finishes_on_the_next(loaded, config):
    """Some documents converted, the rest not (a crash between two updates): the next run
    converts only the rest."""
    db = loaded
    summary = db[MASTERY].find_one()
    from knowgap.migrate import plain_summary

    db[MASTERY].update_one({"_id": summary["_id"]}, plain_summary(summary))
    steps = {s["step"]: s["counts"] for s in migrate(db, config)}
    assert steps["plain-documents"][MASTERY] == db[MASTERY].count_documents({}) - 1
    assert json_text(db) == []


def test_the_migrated_data_serves_the_app_and_syncs_on(loaded, config, legacy, canvas):
    db = loaded
    scores = {d["student_id"]: {r[0]: r[1] for r in json.loads(d["packed"])}
              for d in db[MASTERY].find()}
    badges = {d["_id"] for d in db["AchieveUp_Badges"].find()}
    migrate(db, config)
    app = create_app(config, db=db)
    limiter.reset()
    client = app.test_client()
    r = client.post("/auth/login", json={"email": "grace@example.edu",
                                         "password": legacy["secrets"]["password"]})
    teacher = {"Authorization": f"Bearer {r.get_json()['token']}"}
    body = client.get("/achieveup/instructor/courses/101/student-analytics",
                      headers=teacher).get_json()
    assert {s["id"]: {k: v["score"] for k, v in s["skillBreakdown"].items()}
            for s in body["students"]} == scores
    assert sum(s["badgesEarned"] for s in body["students"]) > 0
    job = client.post("/achieveup/instructor/course/101/force-sync", headers=teacher)
    assert job.status_code == 202, job.get_json()
    run_pending(app)
    state = client.get(f"/achieveup/jobs/{job.get_json()['job_id']}", headers=teacher).get_json()
    assert state["state"] == "succeeded", state
    assert state["counts"]["results_new"] == 0 and state["counts"]["results_changed"] == 0
    assert badges <= {d["_id"] for d in db["AchieveUp_Badges"].find()}
    assert json_text(db) == [] and pending(db) == []
