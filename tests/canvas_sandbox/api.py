"""Route handlers of the fake Canvas ``/api/v1`` and their JSON serialisers.

Handlers assume the middleware (``server.py``) already authenticated the caller and stored
its user id in ``request[USER_ID]``; they only decide *permission* and *shape*.  Permission
mirrors Canvas: not enrolled -> 401 without ``WWW-Authenticate`` ("user not authorized");
students see only their own grades/submissions; quiz questions are for course staff only.
Each list handler sets ``request[ITEMS]`` so the middleware can charge a size-based cost.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from aiohttp import web

from .cache import ResponseCache
from .pagination import BadPage, page_bounds, paginate
from .world import BASE_TS, DAY, SHORT_TYPE, TERM_NAMES, Quiz, QuizWork, World, iso

WORLD = web.AppKey("world", World)
USER_ID = web.RequestKey("user_id", int)   # set by the auth middleware
ITEMS = web.RequestKey("items", int)      # page size, for the request cost
CACHE = web.AppKey("cache", ResponseCache)  # serialised rows of the heavy lists (cache.py)

STAFF = frozenset({"TeacherEnrollment", "TaEnrollment", "DesignerEnrollment"})
GRADERS = frozenset({"TeacherEnrollment", "TaEnrollment"})
HOST = "https://canvas.example.edu"


# ------------------------------------------------------------------ responses


def json_response(data, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=json.dumps(data, separators=(",", ":")).encode(), status=status,
                        content_type="application/json", charset="utf-8", headers=headers)


def error(status: int, message: str) -> web.Response:
    return json_response({"errors": [{"message": message}]}, status)


def unauthorized() -> web.Response:
    """Canvas's "no permission": 401 *without* WWW-Authenticate."""
    return error(401, "user not authorized to perform that action")


def not_found() -> web.Response:
    return error(404, "The specified resource does not exist.")


def page_response(request: web.Request, items, key, *, last: bool = True, wrap: str | None = None):
    try:
        chunk, link = paginate(request, items, key, last=last)
    except BadPage:
        return error(400, "invalid page parameter")
    request[ITEMS] = len(chunk)
    return json_response({wrap: chunk} if wrap else chunk, headers={"Link": link})


def blob_page_response(request: web.Request, blobs: list[bytes], keys: list[tuple], *,
                       last: bool = True, wrap: str | None = None) -> web.Response:
    """A page of pre-serialised JSON rows: the bytes of the page's rows joined into an array."""
    try:
        start, end, link = page_bounds(request, keys, last=last)
    except BadPage:
        return error(400, "invalid page parameter")
    request[ITEMS] = end - start
    body = b"[" + b",".join(blobs[start:end]) + b"]"
    if wrap:
        body = b'{"' + wrap.encode() + b'":' + body + b"}"
    return web.Response(body=body, content_type="application/json", charset="utf-8",
                        headers={"Link": link})


def _cache(request: web.Request) -> ResponseCache:
    cache = request.app.get(CACHE)
    if cache is None:                      # an app built without build_app()
        cache = request.app[CACHE] = ResponseCache()
    return cache


def _world(request: web.Request) -> World:
    return request.app[WORLD]


def _multi(request: web.Request, name: str) -> list[str]:
    """Values of ``name[]`` (and plain ``name``) query parameters."""
    return request.query.getall(name + "[]", []) + request.query.getall(name, [])


def _since(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=json.dumps({"errors": [{"message": f"invalid {name}"}]}),
                                 content_type="application/json") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _course(request: web.Request):
    """(course, roles) or an error response for ``:course_id``."""
    world = _world(request)
    try:
        course = world.courses.get(int(request.match_info["course_id"]))
    except ValueError:
        course = None
    if course is None:
        return None, not_found()
    roles = world.roles(course.id, request[USER_ID])
    if not roles:
        return None, unauthorized()
    return (course, roles), None


def _quiz(request: web.Request, course_id: int) -> Quiz | None:
    try:
        quiz = _world(request).quizzes.get(int(request.match_info["quiz_id"]))
    except ValueError:
        return None
    if quiz is None or quiz.course_id != course_id or quiz.engine != "classic":
        return None                         # New Quizzes live under /api/quiz/v1 only
    return quiz


# ------------------------------------------------------------------ serialisers


def user_json(u, *, email: bool = False) -> dict:
    d = {"id": u.id, "name": u.name, "sortable_name": u.sortable_name, "short_name": u.short_name,
         "login_id": u.login_id, "created_at": iso(BASE_TS - 90 * DAY)}
    if email:
        d["email"] = u.email
    return d


def course_json(world: World, course, uid: int, includes: list[str]) -> dict:
    d = {"id": course.id, "name": course.name, "course_code": course.course_code,
         "uuid": f"sandbox-course-{course.id}", "account_id": 1, "root_account_id": 1,
         "enrollment_term_id": course.enrollment_term_id, "workflow_state": course.workflow_state,
         "start_at": iso(BASE_TS - 7 * DAY), "end_at": iso(BASE_TS + 120 * DAY),
         "created_at": iso(BASE_TS - 60 * DAY), "default_view": "modules", "is_public": False,
         "public_syllabus": False, "hide_final_grades": False, "apply_assignment_group_weights": False,
         "time_zone": "UTC", "blueprint": False, "license": "private", "grading_standard_id": None,
         "calendar": {"ics": f"{HOST}/feeds/calendars/course_{course.id}.ics"},
         "enrollments": []}
    for e in world.enrollments_of(uid):
        if e.course_id != course.id:
            continue
        ej = {"type": SHORT_TYPE[e.type], "role": e.role, "role_id": e.role_id, "user_id": uid,
              "enrollment_state": e.enrollment_state, "limit_privileges_to_course_section": False}
        if e.grades and "total_scores" in includes:
            ej.update(computed_current_score=e.grades["current_score"],
                      computed_final_score=e.grades["final_score"],
                      computed_current_grade=e.grades["current_grade"],
                      computed_final_grade=e.grades["final_grade"])
        d["enrollments"].append(ej)
    if "total_students" in includes:
        d["total_students"] = len(world.student_ids(course.id))
    if "term" in includes:
        tid = course.enrollment_term_id
        d["term"] = {"id": tid, "name": TERM_NAMES.get(tid, f"Term {tid}"),
                     "start_at": iso(BASE_TS - 7 * DAY), "end_at": iso(BASE_TS + 120 * DAY),
                     "workflow_state": "active"}
    if "syllabus_body" in includes:
        d["syllabus_body"] = course.syllabus_body
    return d


def enrollment_json(world: World, e, *, grades: bool) -> dict:
    u = world.users[e.user_id]
    d = {"id": e.id, "user_id": e.user_id, "course_id": e.course_id, "type": e.type,
         "role": e.role, "role_id": e.role_id, "enrollment_state": e.enrollment_state,
         "course_section_id": e.course_id * 10 + 1, "root_account_id": 1,
         "associated_user_id": None, "limit_privileges_to_course_section": False,
         "created_at": iso(BASE_TS - 30 * DAY), "updated_at": iso(BASE_TS - 30 * DAY),
         "start_at": None, "end_at": None, "last_activity_at": iso(BASE_TS + 14 * DAY),
         "html_url": f"{HOST}/courses/{e.course_id}/users/{e.user_id}",
         "user": {"id": u.id, "name": u.name, "sortable_name": u.sortable_name,
                  "short_name": u.short_name, "login_id": u.login_id}}
    if grades and e.grades is not None:
        d["grades"] = {"html_url": f"{HOST}/courses/{e.course_id}/grades/{e.user_id}", **e.grades}
    return d


def quiz_json(q: Quiz) -> dict:
    return {"id": q.id, "title": q.title, "html_url": f"{HOST}/courses/{q.course_id}/quizzes/{q.id}",
            "mobile_url": f"{HOST}/courses/{q.course_id}/quizzes/{q.id}?force_user=1&persist_headless=1",
            "description": f"<p>{q.title}</p>", "quiz_type": "assignment",
            "assignment_id": q.assignment_id, "assignment_group_id": q.course_id * 10 + 1,
            "time_limit": 30, "shuffle_answers": True, "hide_results": q.hide_results,
            "show_correct_answers": q.show_correct_answers, "show_correct_answers_at": None,
            "hide_correct_answers_at": None, "show_correct_answers_last_attempt": False,
            "one_time_results": False, "scoring_policy": q.scoring_policy,
            "allowed_attempts": q.allowed_attempts, "one_question_at_a_time": False,
            "cant_go_back": False, "access_code": None, "ip_filter": None,
            "question_count": q.question_count, "points_possible": q.points_possible,
            "due_at": iso(q.due_at), "lock_at": iso(q.lock_at), "unlock_at": iso(q.unlock_at),
            "published": q.published, "unpublishable": False, "locked_for_user": False,
            "anonymous_submissions": False, "quiz_extensions_url": None, "version_number": 1}


def attempts_left(quiz: Quiz, attempt: int | None, extra: int | None = None) -> int:
    """Canvas' ``Quizzes::QuizSubmission#attempts_left`` (app/models/quizzes/
    quiz_submission.rb): -1 when attempts are unlimited, else what is left of the quiz's
    allowed attempts plus the student's extra ones, never below 0. Serialised with every quiz
    submission (``QUIZ_SUBMISSION_JSON_FIELD_METHODS``, lib/api/v1/quiz_submission.rb)."""
    if quiz.allowed_attempts < 0:
        return -1
    return max(0, quiz.allowed_attempts - (attempt or 0) + (extra or 0))


def quiz_submission_json(w: QuizWork, quiz: Quiz, own: bool) -> dict:
    a = w.latest
    d = {"id": w.quiz_submission_id, "quiz_id": w.quiz_id, "quiz_version": 1, "user_id": w.user_id,
         "submission_id": w.submission_id, "score": a.score,
         "kept_score": w.kept_score(quiz.scoring_policy), "fudge_points": 0,
         "attempt": a.attempt, "extra_attempts": None, "extra_time": None,
         "attempts_left": attempts_left(quiz, a.attempt),
         "manually_unlocked": None, "started_at": iso(a.started_at), "finished_at": iso(a.submitted_at),
         "end_at": None, "time_spent": a.submitted_at - a.started_at, "score_before_regrade": None,
         "quiz_points_possible": quiz.points_possible, "workflow_state": "complete",
         "has_seen_results": own, "overdue_and_needs_submission": False,
         "html_url": f"{HOST}/courses/{w.course_id}/quizzes/{w.quiz_id}/submissions/{w.quiz_submission_id}",
         "result_url": f"{HOST}/courses/{w.course_id}/quizzes/{w.quiz_id}/history?quiz_submission_id={w.quiz_submission_id}"}
    if own:
        d["validation_token"] = f"vt-{w.quiz_submission_id}"
    return d


def _grade(score):
    return None if score is None else f"{score:g}"


def _lateness(attempt, quiz: Quiz) -> dict:
    """Canvas marks a submission late when it was handed in after the due date."""
    seconds = max(0, attempt.submitted_at - quiz.due_at) if quiz.due_at else 0
    return {"late": seconds > 0, "seconds_late": seconds}


def submission_json(world: World, quiz: Quiz, user_id: int, w: QuizWork | None,
                    history: bool) -> dict:
    """Assignment submission for a quiz; ``w is None`` means the student never submitted."""
    base = {"assignment_id": quiz.assignment_id, "user_id": user_id, "body": None, "url": None,
            "grader_id": None, "late": False, "excused": False, "late_policy_status": None,
            "points_deducted": None, "seconds_late": 0, "extra_attempts": None,
            "cached_due_date": iso(quiz.due_at), "grade_matches_current_submission": True,
            "preview_url": f"{HOST}/courses/{quiz.course_id}/assignments/{quiz.assignment_id}"
                           f"/submissions/{user_id}?preview=1&version=1"}
    if w is None or not w.attempts:
        # Canvas keeps a row per assigned student; deterministic synthetic id.
        d = dict(base, id=10**9 + quiz.assignment_id * 10**5 + user_id, attempt=None, score=None,
                 grade=None, entered_score=None, entered_grade=None, graded_at=None,
                 submitted_at=None, posted_at=None, workflow_state="unsubmitted",
                 submission_type=None, missing=True)
        if history:
            d["submission_history"] = [{k: v for k, v in d.items()}]
        return d
    kept = w.kept_score(quiz.scoring_policy)
    a = w.latest
    classic = quiz.engine == "classic"
    kind = "online_quiz" if classic else "basic_lti_launch"
    d = dict(base, **_lateness(a, quiz), id=w.submission_id, attempt=a.attempt, score=kept,
             grade=_grade(kept),
             entered_score=kept, entered_grade=_grade(kept), graded_at=iso(a.graded_at),
             submitted_at=iso(a.submitted_at), posted_at=iso(a.graded_at), workflow_state="graded",
             submission_type=kind, missing=False)
    if history:
        # New Quizzes are an LTI tool: their submissions carry no per-question data
        d["submission_history"] = [
            dict(base, **_lateness(h, quiz), id=w.submission_id, attempt=h.attempt,
                 score=h.score, grade=_grade(h.score),
                 graded_at=iso(h.graded_at), submitted_at=iso(h.submitted_at),
                 workflow_state="graded", submission_type=kind, missing=False,
                 **({"submission_data": h.submission_data} if classic else {}))
            for h in w.attempts]
    return d


# ------------------------------------------------------------------ handlers


async def users_self(request: web.Request) -> web.Response:
    u = _world(request).users[request[USER_ID]]
    d = user_json(u)
    d.update(primary_email=u.email, avatar_url=f"{HOST}/images/thumbnails/{u.id}/avatar.png",
             locale=None, effective_locale="en", time_zone="UTC")
    return json_response(d)


async def users_self_profile(request: web.Request) -> web.Response:
    u = _world(request).users[request[USER_ID]]
    return json_response({"id": u.id, "name": u.name, "short_name": u.short_name,
                          "sortable_name": u.sortable_name, "title": None, "bio": None,
                          "primary_email": u.email, "login_id": u.login_id,
                          "avatar_url": f"{HOST}/images/thumbnails/{u.id}/avatar.png",
                          "time_zone": "UTC", "locale": None, "integration_id": None})


async def list_courses(request: web.Request) -> web.Response:
    world, uid = _world(request), request[USER_ID]
    etype = request.query.get("enrollment_type")           # teacher|student|ta|designer|observer
    erole = request.query.get("enrollment_role")           # e.g. StudentEnrollment
    estate = request.query.get("enrollment_state")         # active|invited_or_pending|completed
    includes = _multi(request, "include")
    with world.lock:
        ids = sorted({e.course_id for e in world.enrollments_of(uid)
                      if (not etype or SHORT_TYPE[e.type] == etype)
                      and (not erole or e.role == erole)
                      and (not estate or e.enrollment_state == estate)})
        courses = [course_json(world, world.courses[c], uid, includes) for c in ids]
    return page_response(request, courses, key=lambda c: (c["id"],))


async def get_course(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    world = _world(request)
    with world.lock:
        return json_response(course_json(world, ctx[0], request[USER_ID],
                                         _multi(request, "include")))


async def course_users(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    (course, roles), world, uid = ctx, _world(request), request[USER_ID]
    wanted = {t.lower() for t in _multi(request, "enrollment_type")}
    user_ids = {int(x) for x in _multi(request, "user_ids") if x.isdigit()}
    includes = _multi(request, "include")
    staff, grader = bool(roles & STAFF), bool(roles & GRADERS)
    with world.lock:
        by_user: dict[int, list] = {}
        for e in world.enrollments_in(course.id):
            if wanted and SHORT_TYPE[e.type] not in wanted:
                continue
            if user_ids and e.user_id not in user_ids:
                continue
            by_user.setdefault(e.user_id, []).append(e)
        out = []
        for u_id, ens in by_user.items():
            d = user_json(world.users[u_id], email=staff and "email" in includes)
            if "avatar_url" in includes:
                d["avatar_url"] = f"{HOST}/images/thumbnails/{u_id}/avatar.png"
            if "enrollments" in includes:
                d["enrollments"] = [enrollment_json(world, e, grades=grader or u_id == uid)
                                    for e in ens]
            out.append(d)
    out.sort(key=lambda d: (d["sortable_name"], d["id"]))
    return page_response(request, out, key=lambda d: (d["sortable_name"], d["id"]))


async def course_enrollments(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    (course, roles), world, uid = ctx, _world(request), request[USER_ID]
    types = set(_multi(request, "type"))
    role_names = set(_multi(request, "role"))
    states = set(_multi(request, "state")) or {"active", "invited"}
    raw_user = request.query.get("user_id")
    if raw_user is None:
        only_user = None
    elif raw_user == "self":
        only_user = uid
    elif raw_user.isdigit():
        only_user = int(raw_user)
    else:
        return not_found()
    staff, grader = bool(roles & STAFF), bool(roles & GRADERS)
    blobs, keys = [], []
    with world.lock:
        for row in _cache(request).enrollments(world, course.id):
            e = row.enrollment
            if ((not types or e.type in types) and (not role_names or e.role in role_names)
                    and e.enrollment_state in states
                    and (only_user is None or e.user_id == only_user)
                    and (staff or e.user_id == uid)):
                blobs.append(row.with_grades if grader or e.user_id == uid else row.without_grades)
                keys.append((e.id,))
    return blob_page_response(request, blobs, keys)


async def list_quizzes(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    (course, roles), world = ctx, _world(request)
    term = (request.query.get("search_term") or "").lower()
    out = [quiz_json(q) for q in world.course_quizzes(course.id, "classic")
           if (q.published or roles & STAFF) and term in q.title.lower()]
    return page_response(request, out, key=lambda d: (d["id"],))


async def get_quiz(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    quiz = _quiz(request, ctx[0].id)
    return json_response(quiz_json(quiz)) if quiz else not_found()


async def quiz_questions(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    (course, roles) = ctx
    if not roles & STAFF:
        return unauthorized()
    quiz = _quiz(request, course.id)
    if quiz is None:
        return not_found()
    out = [q.to_api() for q in _world(request).questions[quiz.id]]
    return page_response(request, out, key=lambda d: (d["position"], d["id"]))


async def quiz_submissions(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    (course, roles), world, uid = ctx, _world(request), request[USER_ID]
    quiz = _quiz(request, course.id)
    if quiz is None:
        return not_found()
    grader = bool(roles & GRADERS)
    if not grader and "StudentEnrollment" not in roles:
        return unauthorized()
    with world.lock:
        users = world.student_ids(course.id) if grader else [uid]
        out = [quiz_submission_json(w, quiz, w.user_id == uid)
               for u in sorted(users) if (w := world.work.get((quiz.id, u))) and w.attempts]
    return page_response(request, out, key=lambda d: (d["user_id"],), last=False,
                         wrap="quiz_submissions")


async def student_submissions(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    (course, roles), world, uid = ctx, _world(request), request[USER_ID]
    grader = bool(roles & GRADERS)
    raw_ids = _multi(request, "student_ids") or ["self"]
    grouped = request.query.get("grouped") in ("1", "true")
    with world.lock:
        enrolled = tuple(sorted(world.student_ids(course.id)))
        if "all" in raw_ids:
            if not grader:
                return unauthorized()
            students = None                                   # every enrolled student
        else:
            try:
                asked = {uid if s == "self" else int(s) for s in raw_ids}
            except ValueError:
                return not_found()
            if not grader and asked - {uid}:
                return unauthorized()
            students = asked
        quizzes = world.course_quizzes(course.id)
        wanted = {int(a) for a in _multi(request, "assignment_ids") if a.isdigit()}
        if wanted:
            quizzes = [q for q in quizzes if q.assignment_id in wanted]
        if not grouped:                                       # rows sorted by (assignment, user)
            quizzes = sorted(quizzes, key=lambda q: q.assignment_id)
        includes = _multi(request, "include")
        graded_since = _since(request, "graded_since")
        submitted_since = _since(request, "submitted_since")
        states = set(_multi(request, "workflow_state"))
        filtered = (students is not None or graded_since is not None
                    or submitted_since is not None or bool(states))
        cache = _cache(request)
        rows = []
        for q in quizzes:
            cached = cache.submissions(world, q, enrolled, history="submission_history" in includes,
                                       with_user="user" in includes)
            if not filtered:
                rows.extend(cached)
                continue
            rows.extend(r for r in cached
                        if (students is None or r.user_id in students)
                        and (graded_since is None
                             or (r.graded_at is not None and r.graded_at > graded_since))
                        and (submitted_since is None
                             or (r.submitted_at is not None and r.submitted_at > submitted_since))
                        and (not states or r.workflow_state in states))
    if grouped:
        groups: dict[int, list[bytes]] = {}
        for r in rows:
            groups.setdefault(r.user_id, []).append(r.blob)
        section = course.id * 10 + 1
        users = sorted(groups)
        blobs = [b'{"user_id":%d,"section_id":%d,"integration_id":null,"sis_user_id":null,'
                 b'"submissions":[%s]}' % (u, section, b",".join(groups[u])) for u in users]
        return blob_page_response(request, blobs, [(u,) for u in users], last=False)
    return blob_page_response(request, [r.blob for r in rows],
                              [(r.assignment_id, r.user_id) for r in rows], last=False)


async def quiz_statistics(request: web.Request) -> web.Response:
    """Item statistics over each student's latest attempt (teachers/TAs only)."""
    ctx, err = _course(request)
    if err:
        return err
    (course, roles), world = ctx, _world(request)
    if not roles & GRADERS:
        return unauthorized()
    quiz = _quiz(request, course.id)
    if quiz is None:
        return not_found()
    with world.lock:
        works = [w for (qid, _), w in world.work.items() if qid == quiz.id and w.attempts]
        per_q = {q.id: {"correct": 0, "partial": 0, "incorrect": 0} for q in world.questions[quiz.id]}
        for w in works:
            for e in w.latest.submission_data:
                c = e["correct"]
                bucket = ("correct" if c is True else "partial" if c == "partial"
                          else "incorrect" if c is False else None)
                if bucket:
                    per_q[e["question_id"]][bucket] += 1
        scores = [w.latest.score for w in works]
        qstats = [{"id": str(q.id), "question_type": q.question_type, "question_text": q.question_text,
                   "position": q.position, "responses": len(works), "answered_student_count": len(works),
                   "correct_student_count": per_q[q.id]["correct"],
                   "partially_correct_student_count": per_q[q.id]["partial"],
                   "incorrect_student_count": per_q[q.id]["incorrect"]}
                  for q in world.questions[quiz.id]]
    stats = {"id": str(quiz.id), "quiz_id": quiz.id, "multiple_attempts_exist": quiz.allowed_attempts != 1,
             "includes_all_versions": False, "generated_at": iso(BASE_TS + 120 * DAY),
             "points_possible": quiz.points_possible, "question_statistics": qstats,
             "submission_statistics": {
                 "unique_count": len(scores),
                 "score_average": round(sum(scores) / len(scores), 2) if scores else None,
                 "score_high": max(scores, default=None), "score_low": min(scores, default=None)}}
    request[ITEMS] = len(qstats)
    return json_response({"quiz_statistics": [stats]})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/users/self", users_self)
    r.add_get("/api/v1/users/self/profile", users_self_profile)
    r.add_get("/api/v1/courses", list_courses)
    r.add_get("/api/v1/courses/{course_id}", get_course)
    r.add_get("/api/v1/courses/{course_id}/users", course_users)
    r.add_get("/api/v1/courses/{course_id}/enrollments", course_enrollments)
    r.add_get("/api/v1/courses/{course_id}/quizzes", list_quizzes)
    r.add_get("/api/v1/courses/{course_id}/quizzes/{quiz_id}", get_quiz)
    r.add_get("/api/v1/courses/{course_id}/quizzes/{quiz_id}/questions", quiz_questions)
    r.add_get("/api/v1/courses/{course_id}/quizzes/{quiz_id}/submissions", quiz_submissions)
    r.add_get("/api/v1/courses/{course_id}/quizzes/{quiz_id}/statistics", quiz_statistics)
    r.add_get("/api/v1/courses/{course_id}/students/submissions", student_submissions)
    from .new_quizzes import add_routes as add_new_quiz_routes   # it builds on this module

    add_new_quiz_routes(app)
