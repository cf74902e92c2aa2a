"""Instructor insights and student study plans, built on the stored per-question results.

* Item analysis (``item_analysis``, ``course_item_rows`` for the export): ``stats`` over the
  item-response read model, i.e. each student's **latest attempt** of the quiz (as Canvas'
  own item analysis does: the state of the class now, one attempt per student so the
  rest-of-quiz scores compare like with like).
* Leaderboard (``leaderboard``): ``ranking`` over the course's mastery summaries; only
  students who opted in are listed, by name; a student always sees their own rank; off per
  course by the instructor (students then see nothing).
* Engagement (``student_engagement``, ``course_engagement``, ``engagement_indices`` for the
  risk index): ``engagement`` over the stored quiz submissions, the course's latest
  submission as its clock, and the KnowGap videos recommended for / watched by the student.
* Study plan (``study_plan``): ``plan`` over the student's mastery summary, their
  evidence (missed questions of the latest attempt of each quiz), the question -> skill map,
  item difficulty from the read model and KnowGap's video per question.
"""
from __future__ import annotations

from achieveup import readmodel
from achieveup.insights import engagement, ingest, plan, ranking, stats
from achieveup.insights import store
from achieveup.mastery import store as mstore
from achieveup.mastery import summaries
from knowgap.core.errors import NotFound
from knowgap.videos.links import canonical_link, public_video

NOT_QUESTIONS = frozenset({"text_only_question"})
TEXT_LIMIT = 300


def _clean(html) -> str:
    from knowgap.topics.text import html_to_text

    text = html_to_text(html)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT - 1].rstrip() + "…"


def _position(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ------------------------------------------------------------------ item analysis

def question_infos(questions: list[dict], by_question: dict) -> list[stats.QuestionInfo]:
    """The quiz's questions in position order (text-only items left out), then any question
    that has responses but is no longer stored."""
    infos = []
    known = set()
    for q in sorted(questions, key=lambda q: (_position(q.get("position")) or 0,
                                              str(q.get("question_id")))):
        known.add(q["question_id"])
        if q.get("question_type") in NOT_QUESTIONS:
            continue
        choices = tuple(stats.Choice(a["id"], (f"{a['blank_id']}: " if a.get("blank_id")
                                               else "") + (a.get("text") or ""),
                                     bool(a.get("correct")))
                        for a in q.get("answers") or [] if isinstance(a, dict) and "id" in a)
        infos.append(stats.QuestionInfo(
            question_id=q["question_id"], position=_position(q.get("position")),
            question_type=q.get("question_type"), points_possible=q.get("points_possible"),
            text=_clean(q.get("question_text")), choices=choices))
    infos.extend(stats.QuestionInfo(question_id=qid) for qid in sorted(by_question)
                 if qid not in known)
    return infos


def answers_of(by_question: dict) -> dict[str, stats.Answers]:
    """The read model's columns as ``stats.Answers`` per question."""
    return {qid: stats.Answers(c["s"], c["c"], c["p"], c["a"]) for qid, c in by_question.items()}


def analyze(quiz: dict, questions: list[dict], by_question: dict) -> dict:
    result = stats.analyze_quiz(question_infos(questions, by_question), answers_of(by_question))
    return {"course_id": quiz["course_id"], "quiz_id": quiz["quiz_id"],
            "quiz_title": quiz.get("title") or f"Quiz {quiz['quiz_id']}",
            "source": quiz.get("source"), "attempt_basis": "latest",
            "students": result["students"], "group_size": result["group_size"],
            "mean_score": result["mean_score"],
            "questions_to_check": sum(1 for i in result["items"] if i["check"]),
            "items": result["items"]}


def item_analysis(db, course_id: str, quiz_id: str) -> dict:
    quiz = store.quiz_of(db, course_id, quiz_id)
    if quiz is None:
        raise NotFound(f"Quiz {quiz_id} of course {course_id} is not synced yet. Sync the "
                       "course first.", error="quiz_not_found")
    by_question = store.quiz_responses(db, course_id, quiz_id)
    if not by_question and store.has_results(db, course_id, quiz_id):
        ingest.rebuild_quiz_responses(db, course_id, quiz_id, mstore.utcnow())
        by_question = store.quiz_responses(db, course_id, quiz_id)
    return analyze(quiz, store.questions_of(db, course_id, quiz_id), by_question)


ITEM_COLUMNS = ("quiz_id", "quiz_title", "question_id", "position", "question_type",
                "question_text", "students", "attempts", "difficulty", "point_biserial",
                "upper_lower", "check", "flags")


def course_item_rows(db, course_id: str) -> list[dict]:
    """One export row per question of every quiz with responses (``ITEM_COLUMNS``)."""
    responses = store.course_responses(db, course_id)
    if not responses:
        return []
    questions: dict = {}
    for q in store.questions_of(db, course_id):
        questions.setdefault(q["quiz_id"], []).append(q)
    quizzes = {q["quiz_id"]: q for q in store.quizzes_of(db, course_id)}
    rows = []
    for quiz_id in sorted(responses):
        quiz = quizzes.get(quiz_id) or {"course_id": course_id, "quiz_id": quiz_id}
        body = analyze(quiz, questions.get(quiz_id, []), responses[quiz_id])
        for item in body["items"]:
            rows.append({"quiz_id": quiz_id, "quiz_title": body["quiz_title"],
                         **{k: item[k] for k in ITEM_COLUMNS if k in item},
                         "flags": "; ".join(f["message"] for f in item["flags"])})
    return rows


# ------------------------------------------------------------------ leaderboard

LEADERBOARD_FIELDS = {"_id": 0, "student_id": 1, "student_name": 1, "progress": 1,
                      "skills_mastered": 1, "total_questions_attempted": 1, "badges": 1}


def _standing(doc: dict) -> dict:
    return {"student_id": doc["student_id"], "name": doc.get("student_name"),
            "badges": len(summaries.badge_rows(doc)), "mastery": doc.get("progress") or 0.0,
            "skills_mastered": doc.get("skills_mastered") or 0}


def standings(db, course_id: str) -> list[dict]:
    """The course's ranked standings (read-only): a course view of the summaries' version."""
    def build():
        docs = summaries.summaries_of_course(db, course_id, projection=LEADERBOARD_FIELDS)
        return ranking.rank(_standing(d) for d in docs
                            if d.get("total_questions_attempted") or summaries.badge_rows(d))
    return readmodel.view(db, course_id, "standings", mstore.version_of(db, course_id), build)


def leaderboard(db, course_id: str, *, viewer: str | None, as_student: bool) -> dict:
    """The course leaderboard as ``viewer`` (a student id, or None for staff) sees it."""
    enabled = store.leaderboard_enabled(db, course_id)
    body = {"course_id": course_id, "enabled": enabled, "ranked": 0, "entries": [],
            "you": None}
    if not enabled and as_student:
        return body
    ranked = standings(db, course_id)
    listed = store.opted_in(db, [r["student_id"] for r in ranked] + ([viewer] if viewer else []))
    body["ranked"] = len(ranked)
    body["entries"] = [{"rank": r["rank"], "name": r["name"] or "Student", "badges": r["badges"],
                        "mastery": r["mastery"], "skills_mastered": r["skills_mastered"],
                        "you": r["student_id"] == viewer}
                       for r in ranked if r["student_id"] in listed]
    if viewer is not None and as_student:
        mine = next((r for r in ranked if r["student_id"] == viewer), None)
        body["you"] = {"rank": mine["rank"] if mine else None, "listed": viewer in listed
                       and mine is not None, "opted_in": viewer in listed,
                       "badges": mine["badges"] if mine else 0,
                       "mastery": mine["mastery"] if mine else 0.0,
                       "skills_mastered": mine["skills_mastered"] if mine else 0}
    return body


def set_leaderboard(db, course_id: str, enabled: bool, by: str) -> dict:
    store.set_leaderboard_enabled(db, course_id, enabled, by)
    return {"course_id": course_id, "enabled": store.leaderboard_enabled(db, course_id)}


def preferences(db, student_id: str) -> dict:
    return {"student_id": student_id, "leaderboard_opt_in": store.opt_in_of(db, student_id)}


def set_preferences(db, student_id: str, opt_in: bool) -> dict:
    store.set_opt_in(db, student_id, opt_in)
    return preferences(db, student_id)


# ------------------------------------------------------------------ engagement

def _evidence_rows(db, course_id: str, student_id: str) -> list[dict]:
    return summaries.answer_dicts(mstore.student_answers(db, course_id, student_id))


def _video_counts(missed, videos: dict, watched: set) -> tuple[int, int]:
    links = {canonical_link(videos[q]["link"]) for q in missed if q in videos}
    seen = {canonical_link(link) for link in watched}
    return len(links), len(links & seen)


def _student_names(db, course_id: str) -> dict[str, str]:
    return {s["student_id"]: s.get("name") for s in mstore.students_of(db, course_id)}


def _student_name(db, course_id: str, student_id: str) -> str | None:
    doc = mstore.find_one(db[mstore.STUDENTS],
                          {"_id": mstore.summary_id(db, course_id, student_id)}, {"name": 1})
    return (doc or {}).get("name")


def student_engagement(db, course_id: str, student_id: str) -> dict:
    videos = store.question_videos(db, course_id)
    recommended = watched = 0
    if videos:
        missed = plan.missed_questions(_evidence_rows(db, course_id, student_id))
        recommended, watched = _video_counts(missed, videos,
                                             store.watched_of(db, course_id, student_id))
    result = engagement.engagement_index(
        store.submissions_of_student(db, course_id, student_id),
        store.latest_submission_at(db, course_id), videos_recommended=recommended,
        videos_watched=watched)
    return {"course_id": course_id, "student_id": student_id,
            "name": _student_name(db, course_id, student_id), **result}


def _course_engagement(db, course_id: str) -> dict[str, dict]:
    by_student = store.submissions_of_course(db, course_id)
    reference = engagement.last_activity(s for subs in by_student.values() for s in subs)
    videos = store.question_videos(db, course_id)
    counts: dict = {}
    if videos:
        watched = store.watched_by_student(db, course_id)
        for sid, rows in mstore.course_answers(db, course_id).items():
            missed = plan.missed_questions(summaries.answer_dicts(rows))
            counts[sid] = _video_counts(missed, videos, watched.get(sid, set()))
    out = {}
    for sid in set(by_student) | set(counts):
        recommended, seen = counts.get(sid, (0, 0))
        out[sid] = engagement.engagement_index(by_student.get(sid, []), reference,
                                               videos_recommended=recommended,
                                               videos_watched=seen)
    return out


def engagement_indices(db, course_id: str) -> dict[str, float]:
    """``{student_id: index}`` of the students with one (the risk index's engagement input)."""
    return {sid: r["index"] for sid, r in _course_engagement(db, course_id).items()
            if r["index"] is not None}


def course_engagement(db, course_id: str) -> dict:
    """Every student's engagement, least engaged first (no index last)."""
    names = _student_names(db, course_id)
    results = _course_engagement(db, course_id)
    students = [{"student_id": sid, "name": names.get(sid), **results.get(
        sid, {"index": None, "level": None, "factors": []})} for sid in set(names) | set(results)]
    students.sort(key=lambda s: (s["index"] is None, s["index"] or 0.0, s["student_id"]))
    return {"course_id": course_id, "students": students}


# ------------------------------------------------------------------ study plan

def study_plan(db, course_id: str, student_id: str) -> dict:
    summary = summaries.summary_of(db, course_id, student_id)
    skills = summaries.skills_of(summary)
    missed = plan.missed_questions(_evidence_rows(db, course_id, student_id))
    qskills = mstore.question_skill_map(db, course_id)
    weak = plan.weakest_first(skills)
    weak_names = {s["skill"] for s in weak}
    wanted = [qid for qid in missed if weak_names & set(qskills.get(qid, ()))]
    meta = {q["question_id"]: q for q in store.questions_of(db, course_id, question_ids=wanted)}
    quizzes = {q["quiz_id"]: q for q in store.quizzes_of(db, course_id)}
    difficulty = store.difficulties(db, course_id, wanted)
    videos = store.question_videos(db, course_id, wanted)
    watched = {canonical_link(link) for link in store.watched_of(db, course_id, student_id)}
    by_skill: dict = {}
    for qid in wanted:
        info, q = missed[qid], meta.get(qid, {})
        quiz = quizzes.get(info["quiz_id"], {})
        video = public_video(videos.get(qid))
        item = {"question_id": qid, "quiz_id": info["quiz_id"],
                "quiz_title": quiz.get("title") or f"Quiz {info['quiz_id']}",
                "question_text": _clean(q.get("question_text")), "credit": info["credit"],
                "difficulty": difficulty.get(qid), "video": video,
                "video_watched": bool(video) and canonical_link(video["link"]) in watched,
                "position": _position(q.get("position"))}
        for skill in qskills.get(qid, ()):
            if skill in weak_names:
                by_skill.setdefault(skill, []).append(item)
    steps = []
    for s in weak:
        ordered = plan.easier_first(by_skill.get(s["skill"], []))
        steps.append({"skill": s["skill"], "score": s.get("score"), "level": s.get("level"),
                      "p_mastery": s.get("p_mastery"),
                      "evidence_count": s.get("evidence_count") or 0,
                      "questions_attempted": s.get("questions_attempted") or 0,
                      "questions": [{"step": n, **{k: v for k, v in q.items()
                                                   if k != "position"}}
                                    for n, q in enumerate(ordered, start=1)]})
    return {"course_id": course_id, "student_id": student_id,
            "student_name": (summary or {}).get("student_name"),
            "generated_at": mstore.iso(mstore.utcnow()), "skills": steps,
            "not_started": [s["skill"] for s in skills if not s.get("questions_attempted")],
            "mastered": [s["skill"] for s in skills if s.get("mastered")]}

