"""A course update gives the same stored mastery, badges and risk as the code before the course
pipeline (``achieveup.pipeline``) took over the orchestration.

One course (10 students, 4 quizzes of which 2 are New Quizzes, 2 attempts each, some work
missing) goes through every kind of update, over HTTP and the job worker: a full sync, a
second (incremental) sync, a settings change and its recompute job, a matrix change that
removes a skill (its badges are revoked), a re-evaluation of badges (``/badges/generate``),
and KnowGap's ``/get-risk`` for two students. After each step the test reads what is stored
(every student's course summary with its skills, badge state and risk; the badge documents;
the fitted parameters), leaves out only what a clock or a random generator writes (times,
public ids), and compares it with ``fixtures/course_pipeline/before.jsonl`` (one stored
record a line, so a difference names the record).

That file was written by this same test (``PIPELINE_FIXTURE_WRITE=<path>`` writes what it
found there) on commit b0f9846, the last commit where ``mastery.service.recompute_course``
called the badge and engagement code itself. Regenerate it only from a checkout of code whose
results are the reference (``$REPO`` is this repository)::

    git worktree add --detach /tmp/before b0f9846
    cp tests/test_course_pipeline.py /tmp/before/tests/
    cd /tmp/before && PIPELINE_FIXTURE_WRITE=$REPO/tests/fixtures/course_pipeline/before.jsonl \\
        $REPO/.venv/bin/python -m pytest tests/test_course_pipeline.py
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from achieveup.mastery import store
from knowgap.core.clock import iso, parse
from knowgap.jobs.worker import run_pending
from tests.canvas_sandbox import build_world
from tests.canvas_sandbox.world import CourseSpec
from tests.conftest import canvas_settings, make_config
from tests.test_mastery_sync import COURSE, SKILLS, setup_course, sync, teacher  # noqa: F401

FIXTURE = Path(__file__).parent / "fixtures" / "course_pipeline" / "before.jsonl"
SPEC = CourseSpec(int(COURSE), "Introduction to Biology", "BIO-101", n_students=10,
                  n_quizzes=4, n_questions_per_quiz=6, attempts=2, engine="mixed",
                  missing_ratio=0.1)
#: A summary's per-skill fields, in the order of the rows compared.
SKILL_FIELDS = ("skill", "score", "level", "questions_attempted", "questions_correct",
                "p_mastery", "evidence_count", "mastered", "last_graded_at", "model", "evidence",
                "explanation")
#: Fields a clock or a random generator writes: not part of the comparison.
CLOCKED = {"computed_at", "earned_at", "fitted_at", "updated_at", "revoked_at", "public_id",
           "created_at", "stored_at"}


@pytest.fixture
def course_sandbox(sandbox_factory):
    return sandbox_factory(build_world([SPEC], seed=11))


@pytest.fixture
def config(course_sandbox):
    return make_config(**canvas_settings(course_sandbox))


def _plain(value):
    """JSON-comparable: dates as ISO text, tuples as lists, floats as they are."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _rows(value, fields):
    """A summary's list field as rows of ``fields``: stored as subdocuments, or (before the
    documents were made plain) as a JSON string of rows in the same order."""
    if isinstance(value, str):
        return [row[:len(fields)] for row in json.loads(value)]
    return [[entry.get(f) for f in fields] for entry in value or []]


def _skills(doc: dict) -> list:
    rows = _rows(doc.get("packed") or doc.get("skills"), SKILL_FIELDS)
    for row in rows:                 # last_graded_at: a date, or its ISO text before
        row[8] = iso(parse(row[8])) if row[8] else row[8]
    return rows


def stored_state(db) -> dict:
    """What the course's updates stored, without clocked fields."""
    summaries = {}
    for doc in db[store.MASTERY].find({"course_id": COURSE}):
        fields = {k: _plain(v) for k, v in doc.items()
                  if k not in CLOCKED | {"_id", "canvas_host", "packed", "skills", "badges",
                                         "revoked_badges"}}
        fields["skills"] = _skills(doc)
        # badges without their clock (earned_at)
        fields["badges"] = [[r[0], r[1], r[3], r[4]] for r in _rows(
            doc.get("badges"), ("skill", "level", "earned_at", "percentage", "evidence_count"))]
        fields["revoked_badges"] = _rows(doc.get("revoked_badges"), ("skill", "level"))
        summaries[doc["student_id"]] = fields
    badges = sorted(({k: _plain(v) for k, v in doc.items()
                      if k not in CLOCKED | {"_id", "canvas_host"}}
                     for doc in db[store.BADGES].find({"course_id": COURSE})),
                    key=lambda b: (b["student_id"], b["skill"], b["level"]))
    parameters = sorted(({k: _plain(v) for k, v in doc.items()
                          if k not in CLOCKED | {"_id", "canvas_host"}}
                         for doc in db[store.BKT_PARAMETERS].find({"course_id": COURSE})),
                        key=lambda p: (p.get("scope") or "", p.get("skill") or ""))
    return {"summaries": dict(sorted(summaries.items())), "badges": badges,
            "parameters": parameters}


def _job(client, app, headers, job_id) -> dict:
    run_pending(app)
    job = client.get(f"/achieveup/jobs/{job_id}", headers=headers).get_json()
    assert job["state"] == "succeeded", job
    return job


def _counts(job: dict) -> dict:
    """A job's counts that describe the update (not how many Canvas requests it took)."""
    return {k: v for k, v in job["counts"].items() if k != "canvas_requests"}


def records(steps: dict) -> list[str]:
    """One JSON line per step and stored record: ``[step, kind, key, value]``."""
    out = []
    for step, found in steps.items():
        for kind, value in found.items():
            if kind == "state":
                out += [[step, "summary", sid, doc] for sid, doc in value["summaries"].items()]
                out += [[step, "badge", f"{b['student_id']}|{b['skill']}|{b['level']}", b]
                        for b in value["badges"]]
                out += [[step, "parameters", f"{p.get('scope')}|{p.get('skill')}", p]
                        for p in value["parameters"]]
            else:
                out.append([step, kind, None, value])
    return sorted(json.dumps(r, sort_keys=True) for r in out)


def test_course_updates_store_what_they_stored_before(client, app, teacher, course_sandbox):
    canvas_world = course_sandbox.world
    db = setup_course(client, app, teacher, canvas_world)
    matrix = client.get(f"/achieveup/matrix/course/{COURSE}", headers=teacher).get_json()
    matrix_id = (matrix[0] if isinstance(matrix, list) else matrix)["_id"]
    steps = {}

    job = sync(client, app, teacher)
    assert job["state"] == "succeeded", job
    steps["sync"] = {"job": _counts(job), "state": stored_state(db)}

    job = sync(client, app, teacher)
    assert job["state"] == "succeeded", job
    assert stored_state(db) == steps["sync"]["state"]        # nothing new in Canvas
    steps["sync_again"] = {"job": _counts(job)}

    r = client.put(f"/achieveup/instructor/course/{COURSE}/settings", headers=teacher,
                   json={"min_evidence": 2, "badge_thresholds": {
                       "beginner": 20, "intermediate": 45, "advanced": 70, "expert": 85}})
    assert r.status_code == 202, r.get_json()
    job = _job(client, app, teacher, r.get_json()["job_id"])
    steps["settings"] = {"job": _counts(job), "state": stored_state(db)}

    r = client.put(f"/achieveup/matrix/{matrix_id}", headers=teacher,
                   json={"skills": SKILLS[:2]})
    assert r.status_code == 200, r.get_json()
    steps["matrix"] = {"state": stored_state(db)}

    r = client.post("/achieveup/badges/generate", headers=teacher, json={"course_id": COURSE})
    assert r.status_code == 200, r.get_json()
    steps["generate"] = {"awarded": sorted((b["skill_name"], b["badge_level"])
                                           for b in r.get_json())}
    assert stored_state(db) == steps["matrix"]["state"]      # nothing left to award

    risks = {}
    for sid in canvas_world.student_ids(int(COURSE))[:3]:
        r = client.post("/get-risk", json={"access_token": "teacher-token",
                                           "course_id": int(COURSE), "student_id": sid})
        assert r.status_code == 200, r.get_json()
        risks[str(sid)] = r.get_json()
    steps["risk"] = risks

    assert steps["sync"]["state"]["badges"], "the course's sync should award badges"
    assert any(b["revoked"] for b in steps["matrix"]["state"]["badges"])
    found = records(steps)
    target = os.environ.get("PIPELINE_FIXTURE_WRITE")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text("\n".join(found) + "\n")
        pytest.skip(f"wrote {target}: nothing compared")
    before = FIXTURE.read_text().splitlines()
    missing = sorted(set(before) - set(found))
    new = sorted(set(found) - set(before))
    assert not missing and not new, (f"stored before, not now: {missing[:3]}; "
                                     f"stored now, not before: {new[:3]}")
    assert len(found) == len(before)
