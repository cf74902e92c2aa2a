"""Against a real MongoDB (skipped unless TEST_MONGODB_URI is set).

1. The hot queries use the declared indexes: ``explain()`` shows an index scan, never COLLSCAN.
2. Losing the database and getting it back needs no restart: a loopback TCP proxy sits between
   the app and the server; stopping it gives 503s, starting it again gives 200s, same app.
"""
from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from urllib.parse import quote_plus

import pytest

from knowgap.core import db as dbmod
from tests.conftest import canvas_settings, make_config

TEST_MONGODB_URI = os.environ.get("TEST_MONGODB_URI", "")
HOSTS = ("ucf.instructure.com", "fiu.instructure.com")
pytestmark = pytest.mark.skipif(not TEST_MONGODB_URI,
                                reason="set TEST_MONGODB_URI to run against a real MongoDB")


# ------------------------------------------------------------------ explain helpers
def stages(plan) -> list[str]:
    """Every ``stage`` name anywhere in an explain plan tree (classic, SBE or sharded)."""
    found = []
    if isinstance(plan, dict):
        if isinstance(plan.get("stage"), str):
            found.append(plan["stage"])
        for value in plan.values():
            found += stages(value)
    elif isinstance(plan, list):
        for value in plan:
            found += stages(value)
    return found


def winning_stages(explain: dict) -> list[str]:
    planner = explain.get("queryPlanner") or {}
    plan = planner.get("winningPlan")
    if plan is None and "stages" in explain:          # aggregation-shaped explain output
        plan = explain["stages"]
    return stages(plan)


def assert_uses_index(explain: dict, what: str) -> None:
    names = winning_stages(explain)
    assert names, f"{what}: no plan in explain output {explain}"
    assert "COLLSCAN" not in names, f"{what} scans the whole collection: {names}"
    assert any("IXSCAN" in n or n in ("IDHACK", "EXPRESS_IDHACK") for n in names), \
        f"{what} does not use an index: {names}"


def explain_find(collection, query: dict, sort=None, projection=None) -> dict:
    cursor = collection.find(query, projection)
    if sort:
        cursor = cursor.sort(sort)
    return cursor.explain()


@pytest.fixture
def seeded(db):
    """The real-server ``db`` fixture with every index and a few documents per collection
    (explain on an empty or missing collection only says EOF)."""
    assert not dbmod.is_embedded(db)
    assert dbmod.IndexManager(db).ensure()
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(20):
        c, s = str(100 + i % 3), str(1000 + i)
        h = HOSTS[i % 2]                         # two Canvas hosts, the same ids on both
        db["AchieveUp_Users"].insert_one({"email_lower": f"u{i}@example.edu",
                                          "canvas_user_id": s, "canvas_host": h})
        db["AchieveUp_Skill_Matrices"].insert_one({"canvas_host": h, "course_id": c,
                                                   "name_lower": f"m{i}", "skills": ["A"]})
        db["AchieveUp_Question_Skills"].insert_one({"canvas_host": h, "course_id": c,
                                                    "question_id": str(i), "skills": ["A"]})
        db["AchieveUp_Student_Mastery"].insert_one({"_id": f"{h}|{c}|{s}", "canvas_host": h,
                                                    "course_id": c, "student_id": s})
        db["AchieveUp_Badges"].insert_one({"canvas_host": h, "course_id": c, "student_id": s,
                                           "revoked": False, "public": i % 2 == 0,
                                           "skill_slug": "a", "level": "beginner",
                                           "public_id": f"p{i}"})
        db["AchieveUp_Canvas_Cache"].insert_one({"canvas_host": h, "scope": f"fp{i % 4}",
                                                 "key": f"k{i}", "data": [], "fetched_at": now})
        db["knowgap_incorrect_answers"].insert_one({"canvas_host": h, "course_id": c,
                                                    "student_id": s, "quizzes": {}})
        active = i % 2 == 0
        db["jobs"].insert_one({"_id": uuid.uuid4().hex, "kind": "k", "key": str(i),
                               "canvas_host": h, "state": "queued" if active else "succeeded",
                               **({"active_key": f"{h}|k|{i}"} if active else {}),
                               "attempts": 0, "created_at": now, "run_after": now,
                               "lease_until": None})
    return db


def test_user_by_email_uses_index(seeded):
    assert_uses_index(explain_find(seeded["AchieveUp_Users"], {"email_lower": "u3@example.edu"}),
                      "user by email_lower")


def test_matrices_by_course_use_index(seeded):
    assert_uses_index(explain_find(seeded["AchieveUp_Skill_Matrices"],
                                   {"canvas_host": HOSTS[0], "course_id": "101"}),
                      "matrices by (canvas_host, course_id)")


def test_question_skills_by_course_and_question_use_index(seeded):
    assert_uses_index(explain_find(seeded["AchieveUp_Question_Skills"],
                                   {"canvas_host": HOSTS[0], "course_id": "101",
                                    "question_id": {"$in": ["1", "4"]}}),
                      "question skills by (canvas_host, course_id, question_id)")
    assert_uses_index(explain_find(seeded["AchieveUp_Question_Skills"],
                                   {"canvas_host": HOSTS[0], "course_id": "101"}),
                      "question skills by (canvas_host, course_id)")


def test_student_mastery_by_course_uses_index(seeded):
    assert_uses_index(explain_find(seeded["AchieveUp_Student_Mastery"],
                                   {"canvas_host": HOSTS[1], "course_id": "101"}),
                      "student mastery by (canvas_host, course_id) (analytics)")


def test_badges_by_student_use_index(seeded):
    assert_uses_index(explain_find(seeded["AchieveUp_Badges"],
                                   {"canvas_host": HOSTS[1], "student_id": "1003",
                                    "revoked": {"$ne": True}}),
                      "badges by (canvas_host, student_id)")
    assert_uses_index(explain_find(seeded["AchieveUp_Badges"],
                                   {"canvas_host": HOSTS[1], "student_id": "1003",
                                    "revoked": {"$ne": True}, "public": True}),
                      "public badges by (canvas_host, student_id)")
    assert_uses_index(explain_find(seeded["AchieveUp_Badges"], {"public_id": "x" * 22}),
                      "a badge by its public id (every public badge URL)")


def test_canvas_cache_by_scope_and_key_uses_index(seeded):
    assert_uses_index(explain_find(seeded["AchieveUp_Canvas_Cache"],
                                   {"canvas_host": HOSTS[1], "scope": "fp1", "key": "k5"}),
                      "Canvas cache by (canvas_host, scope, key)")


def test_knowgap_incorrect_answers_use_index(seeded):
    assert_uses_index(explain_find(seeded["knowgap_incorrect_answers"],
                                   {"canvas_host": HOSTS[0], "course_id": "101",
                                    "student_id": "1004"}),
                      "incorrect answers by (canvas_host, course_id, student_id)")


def test_recipient_lookup_by_canvas_user_uses_index(seeded):
    assert_uses_index(explain_find(seeded["AchieveUp_Users"],
                                   {"canvas_host": HOSTS[1], "canvas_user_id": "1003"}),
                      "account by (canvas_host, canvas_user_id)")


def test_job_claim_uses_index(seeded):
    """The claim is a findAndModify; explain it as the queue sends it."""
    from knowgap.jobs.queue import MAX_ATTEMPTS

    now = dt.datetime.now(dt.timezone.utc)
    explain = seeded.command({
        "explain": {
            "findAndModify": "jobs",
            "query": {"$or": [{"state": "queued", "run_after": {"$lte": now}},
                              {"state": "running", "lease_until": {"$lt": now}}],
                      "attempts": {"$lt": MAX_ATTEMPTS}},
            "sort": {"created_at": 1},
            "update": {"$set": {"state": "running"}, "$inc": {"attempts": 1}},
            "new": True},
        "verbosity": "queryPlanner"})
    assert_uses_index(explain, "jobs claim")
    assert_uses_index(explain_find(seeded["jobs"], {"active_key": f"{HOSTS[0]}|k|4"}),
                      "jobs: the active job holding a key")


def test_xapi_queries_use_indexes(seeded):
    """The delivery job's next batch, a course's derivation state and the retry timer, as
    ``knowgap.xapi.store`` sends them."""
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(20):
        h, c = HOSTS[i % 2], str(100 + i % 3)
        seeded["xapi_outbox"].insert_one({"_id": f"{h}|{c}|stored|{i}", "canvas_host": h,
                                          "course_id": c, "created_at": now, "count": 1,
                                          "state": "pending" if i % 4 else "delivered",
                                          "next_attempt_at": now})
        seeded["xapi_answer_state"].insert_one({"_id": f"{h}|{c}|{1000 + i}", "canvas_host": h,
                                                "course_id": c, "student_id": str(1000 + i)})
        seeded["xapi_courses"].insert_one({"_id": f"{h}|{c}|{i}", "canvas_host": h,
                                           "course_id": c, "has_work": i % 3 == 0,
                                           "next_attempt_at": None})
    assert_uses_index(explain_find(seeded["xapi_outbox"],
                                   {"canvas_host": HOSTS[0], "course_id": "100",
                                    "state": "pending", "next_attempt_at": {"$lte": now}},
                                   sort=[("created_at", 1), ("_id", 1)], projection={"events": 0}),
                      "xAPI outbox: the course's next due batch")
    assert_uses_index(explain_find(seeded["xapi_answer_state"],
                                   {"canvas_host": HOSTS[1], "course_id": "101"}),
                      "xAPI answer state of a course")
    assert_uses_index(explain_find(seeded["xapi_courses"], {"has_work": True, "$or": [
        {"next_attempt_at": None}, {"next_attempt_at": {"$lte": now}}]}),
        "xAPI retry timer: courses with work")


# ------------------------------------------------------------------ outage and recovery
def _direct_uri_through(proxy, parsed: dict) -> str:
    auth = ""
    if parsed.get("username"):
        auth = f"{quote_plus(parsed['username'])}:{quote_plus(parsed.get('password') or '')}@"
    options = parsed.get("options") or {}
    query = ["directConnection=true", "serverSelectionTimeoutMS=500", "connectTimeoutMS=500",
             "heartbeatFrequencyMS=500"]
    if options.get("authsource"):
        query.append(f"authSource={options['authsource']}")
    return f"mongodb://{auth}{proxy.address}/?{'&'.join(query)}"


def _wait_status(client, method, path, want, seconds=20, **kw):
    deadline = time.monotonic() + seconds
    while True:
        r = getattr(client, method)(path, **kw)
        if r.status_code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_outage_and_recovery_without_restart(sandbox):
    from pymongo import uri_parser

    from knowgap import create_app
    from tests.mongo_proxy import TcpProxy

    if TEST_MONGODB_URI.startswith("mongodb+srv://"):
        pytest.skip("the proxy test needs a host:port URI, not mongodb+srv")
    parsed = uri_parser.parse_uri(TEST_MONGODB_URI)
    if parsed.get("options", {}).get("tls") or parsed.get("options", {}).get("ssl"):
        pytest.skip("the proxy test does not carry TLS settings over")
    host, port = parsed["nodelist"][0]
    proxy = TcpProxy(host, port)
    proxy.start()
    proxy.stop()                                   # keep the port, start with the DB "down"
    name = f"test_{uuid.uuid4().hex[:12]}"
    db = dbmod.connect(_direct_uri_through(proxy, parsed), name)
    login = {"email": "nobody@example.edu", "password": "Not the password 1"}
    try:
        app = create_app(make_config(**canvas_settings(sandbox)), db=db)   # starts while down
        client = app.test_client()
        assert client.get("/health").status_code == 503
        assert client.post("/auth/login", json=login).status_code == 503

        proxy.start()                                                       # DB is back
        assert _wait_status(client, "get", "/health", 200).status_code == 200
        assert app.extensions["knowgap"].indexes.ready                     # created late
        assert client.post("/auth/login", json=login).status_code == 401

        proxy.stop()                                                        # DB goes away
        r = _wait_status(client, "post", "/auth/login", 503, json=login)
        assert r.status_code == 503 and r.get_json()["error"] == "database_unavailable"
        assert client.get("/health").status_code == 503

        proxy.start()                                                       # and back again
        assert _wait_status(client, "get", "/health", 200).status_code == 200
        assert _wait_status(client, "post", "/auth/login", 401, json=login).status_code == 401
    finally:
        proxy.stop()
        db.client.close()
        cleanup = dbmod.connect(TEST_MONGODB_URI, name)
        cleanup.client.drop_database(name)
        cleanup.client.close()
