"""Tutor endpoints: sessions on missed questions, their messages, answers streamed as SSE.

Every call identifies the caller by their Canvas token (``Authorization: Bearer <Canvas
token>``, or ``access_token`` in a JSON body) and the Canvas they use (``link``), like the rest
of KnowGap; everything read or written is that Canvas host's (``knowgap.core.tenancy``).

``POST /tutor/sessions/{id}/messages`` answers ``text/event-stream`` when the client asks for
it (``Accept: text/event-stream``, as ``EventSource`` does) and one JSON object otherwise.
Events (``event:`` name, ``data:`` one JSON object): ``start`` {session_id, user_message_id,
source ai|offline}, one ``chunk`` {text} per piece of the answer, then ``done`` {message_id,
message, source} or ``error`` {error, message, statusCode, session_id, user_message_id,
message_id (what was streamed, kept, or null)}. Failures before the answer starts (bad input,
not your session, rate limit, busy) are ordinary JSON errors with their status.
"""
from __future__ import annotations

import json
import re

from flask import Response, request
from flask_smorest import Blueprint

from knowgap.core.schemas import path_id
from knowgap.identity.request import identify, scoped_services
from knowgap.identity.schemas import CallerBody
from knowgap.identity.service import with_course
from knowgap.tutor import service
from knowgap.tutor.schemas import CallerQuery, MessageBody, SessionBody, SessionsQuery

blp = Blueprint("knowgap_tutor", __name__, url_prefix="/tutor",
                description="KnowGap: a grounded tutor conversation on each missed question")

SESSION_ID = re.compile(r"^[0-9a-f]{24}$")


def _caller(source: dict, course_id=None):
    """The verified caller and the services scoped to their Canvas host."""
    caller = identify(dict(source), course_id)
    return caller, scoped_services(caller)


def _session_id(value: str) -> str:
    return path_id(value, "session_id", SESSION_ID)


@blp.route("/sessions", methods=["POST"])
@blp.arguments(SessionBody)
@blp.response(201)
def start_session(body):
    """Start (201) or resume (200) the caller's tutor session on a question they missed in a
    graded attempt of a quiz that is closed to them."""
    caller, svc = _caller(body, body["course_id"])
    doc, created = service.start_session(svc, caller, body["course_id"], body["quiz_id"],
                                         body["question_id"])
    return service.session_json(doc), 201 if created else 200


@blp.route("/sessions", methods=["GET"])
@blp.arguments(SessionsQuery, location="query")
@blp.response(200)
def list_sessions(query):
    """The caller's own sessions (newest first), of one course when ``course_id`` is given."""
    caller, svc = _caller(query)
    return service.list_sessions(svc, caller, query.get("course_id"))


@blp.route("/sessions/<string:session_id>", methods=["GET"])
@blp.arguments(CallerQuery, location="query")
@blp.response(200)
def read_session(query, session_id):
    """One of the caller's sessions with its messages (``messages_list``, in order)."""
    caller, svc = _caller(query)
    return service.read_session(svc, caller, _session_id(session_id))


@blp.route("/sessions/<string:session_id>/end", methods=["POST"])
@blp.arguments(CallerBody)
@blp.response(200)
def end_session(body, session_id):
    """End one of the caller's sessions (kept for reading; no more messages)."""
    caller, svc = _caller(body)
    return service.end_session(svc, caller, _session_id(session_id))


class _EventStream:
    """A turn's events as ``text/event-stream`` text. The WSGI server calls ``close`` when the
    response ends, also when the client left before the first byte: the turn's stream slot is
    released there, whether or not iteration began. (Not ``stream_with_context``: the turn
    needs no request context, and that wrapper would close only an iterator it started.)"""

    def __init__(self, turn):
        self.turn = turn

    def __iter__(self):
        for event, data in self.turn:
            yield f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    def close(self) -> None:
        self.turn.close()


def _sse(turn) -> Response:
    return Response(_EventStream(turn), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@blp.route("/sessions/<string:session_id>/messages", methods=["POST"])
@blp.arguments(MessageBody)
@blp.response(200)
def send_message(body, session_id):
    """Send a message; the answer streams as Server-Sent Events to ``Accept:
    text/event-stream``, else comes as ``{session_id, user_message_id, source, message}``."""
    session_id = _session_id(session_id)
    caller, svc = _caller(body)
    session = service.own_session(svc, caller, session_id)
    caller = with_course(svc, caller, session["course_id"])
    turn = service.begin_turn(svc, caller, session, body["content"])
    accept = request.accept_mimetypes
    if accept["text/event-stream"] > accept["application/json"]:
        return _sse(turn)
    return service.answer_json(turn)


@blp.route("/courses/<string:course_id>/questions", methods=["GET"])
@blp.arguments(CallerQuery, location="query")
@blp.response(200)
def question_usage(query, course_id):
    """Instructors: sessions, students and messages per question; never the conversations."""
    course_id = path_id(course_id)
    caller, svc = _caller(query, course_id)
    return service.question_usage(svc, caller, course_id)
