"""Stored documents are plain: after an end-to-end sync (the Canvas sandbox, the HTTP routes,
the job worker) and the reads that build derived data, no string anywhere in any collection
parses as a JSON array or object, and the answer, summary and badge documents have typed
fields (dates as dates, numbers as numbers) that a MongoDB query can use."""
from __future__ import annotations

import datetime as dt
import json

from achieveup.mastery import store
from tests.test_mastery_sync import COURSE, SKILLS, setup_course, sync, teacher  # noqa: F401


def json_strings(value, path: str = ""):
    """``(path, text)`` of every string inside ``value`` that parses as a JSON array/object."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_strings(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_strings(v, f"{path}[{i}]")
    elif isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return
        if isinstance(parsed, (list, dict)):
            yield path, value[:80]


def test_the_walk_finds_json_strings():
    doc = {"a": "[1, 2]", "b": [{"c": '{"x": 1}'}], "d": "[not json", "e": "{}x", "f": "3"}
    assert [p for p, _ in json_strings(doc)] == ["a", "b[0].c"]


def test_no_stored_document_holds_a_json_string(client, app, teacher, canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    job = sync(client, app, teacher)
    assert job["state"] == "succeeded", job
    assert job["counts"]["badges_awarded"] > 0
    quiz = canvas_world.course_quizzes(int(COURSE))[0]
    sid = str(canvas_world.student_ids(int(COURSE))[0])
    for path in (f"/achieveup/instructor/courses/{COURSE}/student-analytics",
                 f"/achieveup/instructor/courses/{COURSE}/quizzes/{quiz.id}/item-analysis",
                 f"/achieveup/instructor/courses/{COURSE}/engagement",
                 f"/achieveup/progress/{sid}/{COURSE}",
                 f"/achieveup/export/{COURSE}?format=json"):
        r = client.get(path, headers=teacher)
        assert r.status_code == 200, (path, r.get_json())
    assert sync(client, app, teacher)["state"] == "succeeded"      # a second, incremental sync

    raw = db.raw
    found = []
    for name in raw.list_collection_names():
        for doc in raw[name].find():
            found += [f"{name} {doc['_id']}: {p} = {text}" for p, text in json_strings(doc)]
    assert not found, "\n".join(found[:20])

    answer = raw[store.RESULTS].find_one({"course_id": COURSE})
    assert isinstance(answer["graded_at"], dt.datetime)
    assert isinstance(answer["credit"], float) and isinstance(answer["attempt"], int)
    summary = raw[store.MASTERY].find_one({"course_id": COURSE, "badges.0": {"$exists": True}})
    assert {s["skill"] for s in summary["skills"]} == set(SKILLS)
    assert all(isinstance(s["score"], (int, float)) for s in summary["skills"])
    assert isinstance(summary["badges"][0]["earned_at"], dt.datetime)
    # what an administrator's query can now ask: summaries with an expert skill
    assert raw[store.MASTERY].count_documents({"course_id": COURSE,
                                               "skills.level": {"$exists": True}}) > 0
    evidence = raw[store.EVIDENCE].find_one({"course_id": COURSE})
    attempt = evidence["attempts"][0]
    assert isinstance(attempt["graded_at"], dt.datetime)
    assert len(attempt["question_ids"]) == len(attempt["credits"]) \
        == len(attempt["points_possible"])
    assert evidence["count"] == raw[store.RESULTS].count_documents(
        {"course_id": COURSE, "student_id": evidence["student_id"]})
    badge = raw[store.BADGES].find_one({"course_id": COURSE})
    assert isinstance(badge["earned_at"], dt.datetime) and isinstance(badge["percentage"],
                                                                       (int, float))
