"""Instructor dashboard ``students``: the distinct students enrolled in Canvas in the caller's
courses, read through the caller's cached gateway, before and after a sync, and during a
Canvas outage (stale roster, else the last sync's roster)."""
from __future__ import annotations

from datetime import datetime, timezone

from knowgap.canvas.gateway import CACHE
from tests.canvas_sandbox import build_world
from tests.canvas_sandbox.world import Enrollment
from tests.test_faults import fast_canvas, new_app
from tests.test_mastery_sync import setup_course, signup, sync

DASHBOARD = "/achieveup/instructor/dashboard"
ROSTER = "/enrollments"                      # the roster endpoint (StudentEnrollment list)
LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)


def enrolled(world, *course_ids) -> set[int]:
    return {sid for cid in course_ids for sid in world.student_ids(cid)}


def dashboard(client, headers):
    r = client.get(DASHBOARD, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r


def roster_requests(sandbox) -> int:
    return sandbox.state.count(ROSTER)


def test_students_come_from_canvas_before_any_sync(client, sandbox, canvas_world):
    teacher = signup(client, "teacher-token")
    sandbox.state.reset_counters()
    sandbox.state.latency_s = 0.05                   # so concurrent requests overlap
    body = dashboard(client, teacher).get_json()
    assert body["students"] == len(enrolled(canvas_world, 101, 102)) == 42
    assert body["totalCourses"] == 2 and body["averageProgress"] == 0.0
    assert body["recentActivity"] == []
    assert roster_requests(sandbox) == 2             # one page per course (< 100 students)
    assert sandbox.state.max_in_flight["teacher-token"] == 2    # both rosters at once

    # a second look within the cache TTL asks Canvas nothing at all
    sandbox.state.reset_counters()
    assert dashboard(client, teacher).get_json()["students"] == 42
    assert sandbox.state.total_requests == 0


def test_after_a_sync_the_count_is_still_the_canvas_roster(client, app, sandbox, canvas_world):
    teacher = signup(client, "teacher-token")
    setup_course(client, app, teacher, canvas_world, course="101")
    assert sync(client, app, teacher, course="101")["state"] == "succeeded"
    body = dashboard(client, teacher).get_json()
    # only 101 is synced, yet 102's students count too (the synced count alone would be 30)
    assert body["students"] == len(enrolled(canvas_world, 101, 102))
    assert body["averageProgress"] > 0 and body["recentActivity"][0]["course_id"] == "101"


def test_a_student_in_two_courses_counts_once(sandbox_factory, db):
    world = build_world(seed=7)
    shared = world.student_ids(101)[:3]
    for sid in shared:                                # three 101 students also take 102
        world.enrollments.append(Enrollment(world.next_id("enrollment"), sid, 102,
                                            "StudentEnrollment", grades={}))
    server = sandbox_factory(world)
    client = new_app(fast_canvas(server), db).test_client()
    teacher = signup(client, "teacher-token")
    count = dashboard(client, teacher).get_json()["students"]
    enrollments = len(world.student_ids(101)) + len(world.student_ids(102))
    assert count == len(enrolled(world, 101, 102)) == enrollments - len(shared)


def test_other_instructors_count_only_their_own_courses(client, canvas_world):
    other = signup(client, "other-teacher-token")
    body = dashboard(client, other).get_json()
    assert body["totalCourses"] == 1
    assert body["students"] == len(enrolled(canvas_world, canvas_world.other_course_id))


def test_outage_serves_the_stale_roster(sandbox, db, canvas_world):
    app = new_app(fast_canvas(sandbox), db)
    client = app.test_client()
    teacher = signup(client, "teacher-token")
    assert dashboard(client, teacher).get_json()["students"] == 42
    db[CACHE].update_many({}, {"$set": {"fetched_at": LONG_AGO}})    # every copy expired
    sandbox.inject("503", count=100_000)
    r = dashboard(client, teacher)
    assert r.get_json()["students"] == 42 and r.headers.get("X-Cache-Stale") == "true"


def test_outage_with_no_cached_roster_counts_the_last_sync(sandbox, db, canvas_world):
    app = new_app(fast_canvas(sandbox), db)
    client = app.test_client()
    teacher = signup(client, "teacher-token")
    setup_course(client, app, teacher, canvas_world, course="101")
    assert sync(client, app, teacher, course="101")["state"] == "succeeded"
    db[CACHE].delete_many({"key": {"$regex": "/students$"}})   # no roster cached yet
    sandbox.state.reset_counters()
    sandbox.inject("503", count=100_000, path=ROSTER)
    body = dashboard(client, teacher).get_json()
    # 101 counts its synced roster, 102 (never synced) nothing: the dashboard still answers
    assert body["students"] == len(enrolled(canvas_world, 101))
    assert roster_requests(sandbox) == 2 * (1 + 2)   # 2 courses x (1 + canvas_max_retries)
    sandbox.state.clear_faults()
    assert dashboard(client, teacher).get_json()["students"] == 42


def test_a_revoked_canvas_token_is_reported_not_masked(sandbox, db):
    app = new_app(fast_canvas(sandbox), db)
    client = app.test_client()
    teacher = signup(client, "teacher-token")
    dashboard(client, teacher)
    db[CACHE].delete_many({"key": {"$regex": "/students$"}})
    sandbox.inject("401", count=100, path=ROSTER)
    r = client.get(DASHBOARD, headers=teacher)
    assert r.status_code == 400 and r.get_json()["error"] == "canvas_token_invalid"
