"""The tutor: sessions on a missed question, and the answer to each message, streamed.

Who: the caller is a Canvas user proven by their own token (``knowgap.identity``); a session
belongs to the student who answered the question, and only they can read or continue it. An
instructor sees how many sessions, students and messages each question had
(``question_usage``), never the conversations.

A session starts (``start_session``) only on a question the student answered wrong in their
latest *graded* attempt, as KnowGap stored it from Canvas (``knowgap_incorrect_answers``, built
from the source-independent ``QuestionResult`` records of both quiz engines), and only once the
quiz is closed to them (``knowgap.tutor.rules``; checked with Canvas when the session starts
and again before a message when the last check is older than ``RECHECK``). Its material
(``knowgap.tutor.prompt.grounding``) is fixed then and stored with it.

A message (``begin_turn``) is checked before anything is stored: the session is the caller's
and active, the student's rate limit (``TUTOR_STUDENT_RATE_LIMIT``, in the rate-limit storage
shared by the workers) and a free stream slot in this worker (``TUTOR_MAX_STREAMS``: each open
stream holds one of gunicorn's threads, and the rest of the API keeps the others). Then the
student's message is stored and a ``Turn`` streams the answer: from the model, or assembled
from the course's feedback when there is no API key or the course's daily token budget
(``TUTOR_COURSE_DAILY_TOKENS``) is spent. A failed or cut-off answer keeps the session, the
student's message (``unanswered``) and what was streamed (``incomplete``).
"""
from __future__ import annotations

import datetime as dt
import threading
from contextlib import closing
from typing import Iterator

from limits import parse_many
from limits.strategies import MovingWindowRateLimiter

from knowgap.canvas import new_quizzes
from knowgap.core.clock import aware, iso, utcnow
from knowgap.core.errors import AppError, Conflict, NotFound, ServiceUnavailable
from knowgap.core.extensions import limiter
from knowgap.courses import store as courses
from knowgap.identity.service import Caller, require_instructor
from knowgap.tutor import store
from knowgap.tutor.model import ModelError, Usage, stream_answer
from knowgap.tutor.prompt import (Grounding, estimate_tokens, grounding, model_messages,
                                  offline_answer, pieces)
from knowgap.tutor.rules import answers_visible, closed_reason
from knowgap.xapi import stage as xapi

#: A session re-checks with Canvas that its quiz is still closed when its last check is older.
RECHECK = dt.timedelta(minutes=5)
OPEN_MESSAGE = ("This quiz is still open to you: you can take it again, so the tutor cannot "
                "discuss its questions yet. It can once you have no attempts left or the quiz "
                "has closed.")


# ------------------------------------------------------------------ serialization
def session_json(doc: dict) -> dict:
    out = {"id": doc["_id"], "course_id": doc["course_id"], "quiz_id": doc["quiz_id"],
           "question_id": doc["question_id"], "state": doc["state"],
           "messages": doc.get("messages") or 0, "created_at": iso(doc.get("created_at")),
           "updated_at": iso(doc.get("updated_at")), "ended_at": iso(doc.get("ended_at"))}
    if "grounding" in doc:
        out["context"] = doc["grounding"]
    return out


def message_json(doc: dict) -> dict:
    out = {"id": doc["_id"], "session_id": doc["session_id"], "seq": doc["seq"],
           "role": doc["role"], "content": doc["content"], "status": doc["status"],
           "created_at": iso(doc.get("created_at"))}
    for name in ("source", "error"):
        if doc.get(name):
            out[name] = doc[name]
    return out


# ------------------------------------------------------------------ the gate
def _missed(db, course_id: str, student_id: str, quiz_id: str, question_id: str) -> dict:
    """The student's stored latest graded attempt of the quiz in which they missed the
    question; 404/409 with the reason otherwise."""
    row = next((r for r in courses.incorrect_of(db, course_id, student_id)
                if r["quiz_id"] == quiz_id), None)
    if row and question_id in (row.get("incorrect") or []):
        return row
    if row and question_id in (row.get("correct") or []):
        raise Conflict("You answered this question right in your latest graded attempt; the "
                       "tutor is for questions you missed.", error="answered_right")
    raise NotFound("KnowGap has no graded wrong answer of yours to this question. If you took "
                   "the quiz recently, refresh your KnowGap results and try again.",
                   error="no_graded_answer")


async def _classic_state(client, course_id: str, quiz_id: str) -> tuple[dict, dict | None]:
    """The quiz and the caller's own quiz submission, as the student's token sees them (Canvas'
    quiz submissions list answers a student with their own submissions only: "A user who can
    only submit will have only their own submissions returned", Quiz Submissions API)."""
    quiz = await client.get(f"/courses/{course_id}/quizzes/{quiz_id}")
    page = await client.get(f"/courses/{course_id}/quizzes/{quiz_id}/submissions")
    subs = (page or {}).get("quiz_submissions") if isinstance(page, dict) else None
    mine = max(subs or [], key=lambda s: s.get("attempt") or 0, default=None)
    return quiz or {}, mine


def _quiz_state(svc, caller: Caller, course_id: str, quiz_id: str, stored_attempt) -> dict:
    """``{closed, answers_visible, title}`` from Canvas: Classic quizzes are read with the
    student's token (their attempts left, extra attempts and an attempt in progress
    included); a New Quiz from what the last sync stored (students cannot read New Quizzes'
    settings), with the student's latest graded attempt."""
    now = utcnow()
    stored = courses.quiz_of(svc.db, course_id, quiz_id) or {}
    if new_quizzes.is_new_quiz_id(quiz_id):
        reason = closed_reason(stored, {"attempt": stored_attempt}, now)
        return {"closed": reason, "answers_visible": True, "title": stored.get("title") or ""}
    access = caller.canvas(svc.config, deadline=svc.config.canvas_timeout_seconds)
    quiz, mine = access.run(lambda client: _classic_state(client, course_id, quiz_id))
    if mine and (mine.get("attempt") or 0) > (stored_attempt or 0) \
            and mine.get("workflow_state") != "untaken":
        raise Conflict("Canvas has a newer attempt of this quiz than KnowGap has synced. Refresh "
                       "your KnowGap results, then start the tutor again.",
                       error="results_out_of_date")
    return {"closed": closed_reason(quiz, mine, now), "answers_visible": answers_visible(quiz, now),
            "title": quiz.get("title") or stored.get("title") or ""}


def _require_closed(state: dict) -> None:
    if not state["closed"]:
        raise Conflict(OPEN_MESSAGE, error="quiz_still_open")


# ------------------------------------------------------------------ sessions
def start_session(svc, caller: Caller, course_id: str, quiz_id: str,
                  question_id: str) -> tuple[dict, bool]:
    """(session, created): the caller's active session on the question, or a new one."""
    db = svc.db
    row = _missed(db, course_id, caller.user_id, quiz_id, question_id)
    question = courses.find_question(db, quiz_id, question_id, course_id)
    if question is None:
        raise NotFound("This question's text is not in KnowGap yet: it arrives with your "
                       "instructor's next sync.", error="question_not_synced")
    state = _quiz_state(svc, caller, course_id, quiz_id, row.get("attempt"))
    _require_closed(state)
    existing = store.active_session(db, course_id, caller.user_id, question_id)
    if existing:
        return existing, False
    picked = next((p for p in row.get("picked") or [] if p.get("question_id") == question_id),
                  None)
    context, _ = courses.get_context(db, course_id)
    material = grounding(question, picked, answers_visible=state["answers_visible"],
                         quiz_title=state["title"], course_context=context)
    return store.create_session(db, course_id, caller.user_id, quiz_id, question_id,
                                material.to_dict()), True


def own_session(svc, caller: Caller, session_id: str) -> dict:
    """The caller's session; 404 for another student's (its existence is not confirmed)."""
    doc = store.get_session(svc.db, session_id)
    if doc is None or doc["student_id"] != caller.user_id:
        raise NotFound("There is no tutor session with this id among yours.",
                       error="session_not_found")
    return doc


def list_sessions(svc, caller: Caller, course_id: str | None) -> list[dict]:
    return [session_json(d) for d in store.sessions_of(svc.db, caller.user_id, course_id)]


def read_session(svc, caller: Caller, session_id: str) -> dict:
    doc = own_session(svc, caller, session_id)
    return {**session_json(doc),
            "messages_list": [message_json(m) for m in store.messages_of(svc.db, doc["_id"])]}


def end_session(svc, caller: Caller, session_id: str) -> dict:
    doc = own_session(svc, caller, session_id)
    ended = store.end_session(svc.db, doc["_id"])
    if ended is not None:                 # ended now (not before): one xAPI statement
        xapi.tutor_session_ended(svc.db, svc.config, ended)
    return session_json(ended or doc)


def question_usage(svc, caller: Caller, course_id: str) -> dict:
    """Instructors: per question, how many sessions, students and messages; no text."""
    require_instructor(caller)
    return {"course_id": course_id, "questions": store.question_counts(svc.db, course_id)}


# ------------------------------------------------------------------ limits
def _stream_slots(svc) -> threading.BoundedSemaphore:
    slots = svc.extras.get("tutor_streams")
    if slots is None:
        slots = svc.extras.setdefault("tutor_streams",
                                      threading.BoundedSemaphore(svc.config.tutor_stream_slots))
    return slots


def _rate_limit(svc, session: dict) -> None:
    """The student's message limit, shared by every worker through the limiter's storage."""
    strategy = MovingWindowRateLimiter(limiter.storage)
    ids = ("tutor", svc.db.canvas_host, session["course_id"], session["student_id"])
    items = parse_many(svc.config.tutor_student_rate_limit)
    for item in items:
        if not strategy.test(item, *ids):
            reset, _ = strategy.get_window_stats(item, *ids)
            wait = max(1, int(reset - utcnow().timestamp()) + 1)
            raise AppError(f"You have sent the tutor many messages ({item}). Wait {wait} "
                           "seconds, then send your message again.", status=429,
                           error="tutor_rate_limited", headers={"Retry-After": str(wait)})
    for item in items:
        strategy.hit(item, *ids)


def _today() -> str:
    return utcnow().strftime("%Y-%m-%d")


# ------------------------------------------------------------------ a turn
def begin_turn(svc, caller: Caller, session: dict, content: str) -> "Turn":
    """Check, store the student's message, and return the ``Turn`` that answers it.
    ``session``: the caller's own (``own_session``)."""
    if session["state"] != "active":
        raise Conflict("This tutor session has ended; start a new one on the question.",
                       error="session_ended")
    if utcnow() - aware(session["checked_at"]) > RECHECK:
        row = _missed(svc.db, session["course_id"], caller.user_id, session["quiz_id"],
                      session["question_id"])
        _require_closed(_quiz_state(svc, caller, session["course_id"], session["quiz_id"],
                                    row.get("attempt")))
        store.touch_session(svc.db, session["_id"], checked_at=utcnow())
    slots = _stream_slots(svc)
    if not slots.acquire(blocking=False):
        raise ServiceUnavailable("The tutor is answering many students right now. Your message "
                                 "was not sent; send it again in a few seconds.",
                                 error="tutor_busy", headers={"Retry-After": "5"})
    try:
        _rate_limit(svc, session)
        history = [{"role": m["role"], "content": m["content"]}
                   for m in store.messages_of(svc.db, session["_id"])
                   if m["status"] in ("answered", "complete")]
        user = store.add_message(svc.db, session, "user", content, "pending")
    except BaseException:
        slots.release()
        raise
    return Turn(svc, session, user, history, slots)


class Turn:
    """The answer to one message as events: ``start``, ``chunk`` (one per piece of text),
    then ``done`` (the stored message) or ``error``. Iterate it once; ``close`` it always (the
    stream slot is released there, also when the client went away mid-answer)."""

    def __init__(self, svc, session: dict, user: dict, history: list[dict], slots):
        self.svc, self.session, self.user, self.history = svc, session, user, history
        self._slots = slots
        self._released = False
        self._events = self._run()

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        return self._events

    def close(self) -> None:
        try:
            self._events.close()
        finally:
            if not self._released:
                self._released = True
                self._slots.release()

    # -- internals
    def _source(self) -> tuple[str, str]:
        config, db = self.svc.config, self.svc.db
        if not config.openai_api_key:
            return "offline", ""
        budget = config.tutor_course_daily_tokens
        if budget and store.tokens_used(db, self.session["course_id"], _today()) >= budget:
            return "offline", ("Your course's AI tutor allowance for today is used up, so here "
                               "is what your course's own material says.")
        return "ai", ""

    def _pieces(self, source: str, reason: str, ground: Grounding, usage: Usage):
        if source == "offline":
            follow_up = any(t["role"] == "assistant" for t in self.history)
            return (p for p in pieces(offline_answer(ground, follow_up=follow_up, reason=reason)))
        config = self.svc.config
        messages = model_messages(ground, self.history, self.user["content"],
                                  config.tutor_history_tokens)
        self._prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        return stream_answer(config, messages, usage)

    def _run(self) -> Iterator[tuple[str, dict]]:
        db, session, user = self.svc.db, self.session, self.user
        source, reason = self._source()
        ground = Grounding.from_dict(session.get("grounding"))
        usage, parts = Usage(), []
        self._prompt_tokens = 0
        try:
            yield "start", {"session_id": session["_id"], "user_message_id": user["_id"],
                            "source": source}
            with closing(self._pieces(source, reason, ground, usage)) as stream:
                for text in stream:
                    parts.append(text)
                    yield "chunk", {"text": text}
        except ModelError as exc:
            yield "error", self._failed(exc, parts, source)
            return
        except GeneratorExit:                 # the student closed the stream
            self._failed(ModelError("tutor_stream_closed", "The answer stopped because the "
                                    "connection closed.", 499), parts, source)
            raise
        answer = "".join(parts)
        message = store.add_message(db, session, "assistant", answer, "complete", source=source)
        store.update_message(db, user["_id"], status="answered")
        tokens = ((usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
                  if usage.completion_tokens is not None
                  else self._prompt_tokens + estimate_tokens(answer))
        store.add_usage(db, session["course_id"], _today(),
                        tokens=tokens if source == "ai" else 0, source=source)
        yield "done", {"message": message_json(message), "message_id": message["_id"],
                       "source": source}

    def _failed(self, exc: ModelError, parts: list[str], source: str) -> dict:
        db, error = self.svc.db, {"code": exc.code, "message": exc.message}
        store.update_message(db, self.user["_id"], status="unanswered", error=error)
        partial = None
        if parts:
            text = "".join(parts)
            partial = store.add_message(db, self.session, "assistant", text, "incomplete",
                                        source=source, error=error)
            if source == "ai":            # a cut-off answer was generated, and is billed
                store.add_usage(db, self.session["course_id"], _today(), source=source,
                                tokens=self._prompt_tokens + estimate_tokens(text))
        return {"error": exc.code, "message": exc.message, "statusCode": exc.status,
                "session_id": self.session["_id"], "user_message_id": self.user["_id"],
                "message_id": partial["_id"] if partial else None}


def answer_json(turn: Turn) -> dict:
    """The whole turn as one JSON answer (clients that do not ask for a stream)."""
    try:
        start, done = None, None
        for event, data in turn:
            if event == "start":
                start = data
            elif event == "done":
                done = data
            elif event == "error":
                raise AppError(data["message"], status=data["statusCode"], error=data["error"],
                               details={"session_id": data["session_id"],
                                        "user_message_id": data["user_message_id"],
                                        "message_id": data["message_id"]})
        return {"session_id": start["session_id"], "user_message_id": start["user_message_id"],
                "source": done["source"], "message": done["message"]}
    finally:
        turn.close()
