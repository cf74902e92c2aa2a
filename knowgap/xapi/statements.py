"""xAPI statements from the product's events: pure functions, no I/O.

An *event* is the small plain document the outbox stores (``knowgap.xapi.store``): its kind,
its statement ``id``, the Canvas student and course, when it happened and the few numbers its
statement carries. ``build`` turns one event into a complete statement (xAPI 1.0.3, which is
also valid xAPI 2.0 / IEEE 9274.1.1: no 1.0-only property is used, every timestamp carries its
time zone) with the server's settings (``Identity``). Building at delivery time keeps the outbox
small (a statement is several times its event) and a statement is a pure function of its event
and the settings, so a re-sent statement is the one the LRS already has.

Identifiers
-----------
* **Statement ids** are UUIDv5 of the event's natural key (``statement_id``), e.g. an answer is
  ``host|course|student|quiz|question|attempt``: a re-sync derives the same id, and an LRS keeps
  one statement per id (xAPI 1.0.3 Communication 2.1.2: it "MUST NOT make any modifications to its
  state based on receiving a Statement with an id that it already has").
* **Actors** are the student's Canvas account: ``{"account": {"homePage": <Canvas origin>,
  "name": <Canvas user id>}}`` (Data 2.4.2.4; an opaque account name, as the specification
  recommends when personal data is a concern). With ``XAPI_ACTOR_MBOX=true`` a student whose
  e-mail Canvas shows is identified by ``mbox`` instead (one identifier only, Data 2.4.2.1).
* **Activities** are the Canvas objects at their Canvas URLs (course ``/courses/:id``, Classic
  quiz ``/courses/:id/quizzes/:id``, New Quiz ``/courses/:id/assignments/:id``, its questions
  below it), and the product's own objects under ``PUBLIC_BASE_URL/xapi/activities/<canvas
  host>/…`` (skills and their badge levels), so the same course id on two Canvas hosts never
  names the same activity.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from knowgap.canvas.hosts import is_loopback
from knowgap.xapi.vocabulary import ACTIVITY_TYPES, extension_iri, verb

#: Fixed forever: every statement id is UUIDv5(NAMESPACE, natural key).
NAMESPACE = uuid.UUID("6f0b5c2e-3d1a-5b8e-9c47-2a1d0e7f4b93")
KEY_SEP = "|"

#: Canvas question types -> xAPI interactionType (Data 2.4.4.1 "Interaction Types").
INTERACTION_TYPES = {
    "multiple_choice_question": "choice",
    "multiple_answers_question": "choice",
    "multiple_dropdowns_question": "choice",
    "true_false_question": "true-false",
    "short_answer_question": "fill-in",
    "fill_in_multiple_blanks_question": "fill-in",
    "essay_question": "long-fill-in",
    "matching_question": "matching",
    "numerical_question": "numeric",
    "calculated_question": "numeric",
}

NEW_QUIZ_PREFIX = "nq-"


def statement_id(*key) -> str:
    """The statement id of a natural key (UUIDv5, standard string form, Data 2.4.1)."""
    return str(uuid.uuid5(NAMESPACE, KEY_SEP.join(str(k) for k in key)))


@lru_cache(maxsize=1024)
def canvas_origin(canvas_host: str) -> str:
    """``https://host[:port]`` of a Canvas host key (plain http for loopback hosts only, as
    ``knowgap.canvas.hosts`` allows)."""
    name = canvas_host.rsplit(":", 1)[0] if canvas_host.count(":") == 1 else canvas_host
    scheme = "http" if is_loopback(name.strip("[]")) else "https"
    return f"{scheme}://{canvas_host}"


@dataclass(frozen=True)
class Identity:
    """The settings a statement depends on (all from ``config``): ``platform`` names the
    product in every context and is the name of the system agent that voids statements."""

    public_base_url: str
    platform: str = "AchieveUp"
    actor_mbox: bool = False

    @classmethod
    def from_config(cls, config) -> "Identity":
        return cls(public_base_url=config.public_base_url.rstrip("/"),
                   platform=config.badge_issuer_name or "AchieveUp",
                   actor_mbox=bool(config.xapi_actor_mbox))

    def ext(self, name: str) -> str:
        return _extension_iri(self.public_base_url, name)


_extension_iri = lru_cache(maxsize=256)(extension_iri)


# ------------------------------------------------------------------ activities and actors

@lru_cache(maxsize=65536)
def course_iri(host: str, course_id: str) -> str:
    return f"{canvas_origin(host)}/courses/{quote(str(course_id), safe='')}"


@lru_cache(maxsize=65536)
def quiz_iri(host: str, course_id: str, quiz_id: str) -> str:
    quiz_id = str(quiz_id)
    if quiz_id.startswith(NEW_QUIZ_PREFIX):
        return f"{course_iri(host, course_id)}/assignments/" \
               f"{quote(quiz_id[len(NEW_QUIZ_PREFIX):], safe='')}"
    return f"{course_iri(host, course_id)}/quizzes/{quote(quiz_id, safe='')}"


@lru_cache(maxsize=65536)
def question_iri(host: str, course_id: str, quiz_id: str, question_id: str) -> str:
    question_id = str(question_id)
    if question_id.startswith(NEW_QUIZ_PREFIX):
        return f"{quiz_iri(host, course_id, quiz_id)}/items/" \
               f"{quote(question_id[len(NEW_QUIZ_PREFIX):], safe='')}"
    return f"{quiz_iri(host, course_id, quiz_id)}/questions/{quote(question_id, safe='')}"


def skill_iri(ident: Identity, host: str, course_id: str, skill: str) -> str:
    return (f"{ident.public_base_url}/xapi/activities/{quote(host, safe=':')}/courses/"
            f"{quote(str(course_id), safe='')}/skills/{quote(skill, safe='')}")


def badge_iri(ident: Identity, host: str, course_id: str, skill: str, level: str) -> str:
    return f"{skill_iri(ident, host, course_id, skill)}/badges/{quote(level, safe='')}"


def _lang(text) -> dict:
    return {"en": str(text)}


def _activity(iri: str, kind: str, name=None, extra: dict | None = None) -> dict:
    definition = {"type": ACTIVITY_TYPES[kind]}
    if name:
        definition["name"] = _lang(str(name)[:250])
    if extra:
        definition.update(extra)
    return {"objectType": "Activity", "id": iri, "definition": definition}


def actor(ident: Identity, host: str, event: dict) -> dict:
    email = event.get("email")
    if ident.actor_mbox and isinstance(email, str) and "@" in email:
        local, _, domain = email.strip().rpartition("@")
        return {"objectType": "Agent", "mbox": f"mailto:{local}@{domain.lower()}"}
    return {"objectType": "Agent",
            "account": {"homePage": canvas_origin(host), "name": str(event["student_id"])}}


def system_actor(ident: Identity) -> dict:
    """Who voids a statement the product made (a badge revocation)."""
    return {"objectType": "Agent", "name": ident.platform,
            "account": {"homePage": ident.public_base_url, "name": "system"}}


# ------------------------------------------------------------------ numbers

def _finite(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _round(value: float, places: int = 4) -> float | int:
    value = round(value, places)
    return int(value) if value == int(value) else value


def score(scaled=None, raw=None, low=None, high=None) -> dict | None:
    """A Score object that always satisfies Data 2.4.5.1: scaled within [-1, 1], min < max, raw
    within [min, max]; a part that cannot satisfy it is left out (never clamped into a lie)."""
    out = {}
    scaled = _finite(scaled)
    if scaled is not None and -1.0 <= scaled <= 1.0:
        out["scaled"] = _round(scaled)
    raw, low, high = _finite(raw), _finite(low), _finite(high)
    if raw is not None:
        if low is not None and high is not None and low < high and low <= raw <= high:
            out.update(raw=_round(raw), min=_round(low), max=_round(high))
        else:
            out["raw"] = _round(raw)           # raw alone is unrestricted (Data 2.4.5.1)
    return out or None


def _context(ident: Identity, host: str, course_id: str, *, parent: dict | None = None,
             extensions: dict | None = None, platform: bool = True) -> dict:
    activities = {"grouping": [_activity(course_iri(host, course_id), "course")]}
    if parent is not None:
        activities["parent"] = [parent]
    ext = {ident.ext("canvas-host"): host}
    ext.update(extensions or {})
    context = {"contextActivities": activities, "extensions": ext}
    if platform:
        context["platform"] = ident.platform
    return context


def _ext(ident: Identity, **values) -> dict:
    return {ident.ext(name.replace("_", "-")): value for name, value in values.items()
            if value is not None}


def _base(event: dict, ident: Identity, host: str, verb_name: str, obj: dict) -> dict:
    return {"id": event["id"], "actor": actor(ident, host, event), "verb": verb(verb_name),
            "object": obj, "timestamp": event["at"]}


# ------------------------------------------------------------------ one builder per kind

def _answered(event: dict, ident: Identity, host: str) -> dict:
    course, quiz = event["course_id"], event["quiz_id"]
    extra = {"interactionType": INTERACTION_TYPES.get(event.get("question_type") or "",
                                                      "other")}
    obj = _activity(question_iri(host, course, quiz, event["question_id"]), "question",
                    event.get("question_name") or f"Question {event['question_id']}", extra)
    result: dict = {}
    credit = _finite(event.get("credit"))
    if credit is not None:
        result["success"] = credit >= 1.0
    sc = score(credit, event.get("points"), 0.0, event.get("points_possible"))
    if sc:
        result["score"] = sc
    answers = event.get("answer_ids") or []
    if answers and extra["interactionType"] in ("choice", "true-false"):
        result["response"] = "[,]".join(str(a) for a in answers)
    parent = _activity(quiz_iri(host, course, quiz), "quiz", event.get("quiz_title"))
    statement = _base(event, ident, host, "answered", obj)
    if result:
        statement["result"] = result
    statement["context"] = _context(ident, host, course, parent=parent, extensions=_ext(
        ident, attempt=event.get("attempt"), quiz_source=event.get("source"),
        regrade=True if event.get("revision") else None))
    return statement


def _completed(event: dict, ident: Identity, host: str) -> dict:
    course, quiz = event["course_id"], event["quiz_id"]
    obj = _activity(quiz_iri(host, course, quiz), "quiz", event.get("quiz_title"))
    possible = _finite(event.get("points_possible"))
    points = _finite(event.get("points"))
    scaled = points / possible if points is not None and possible else None
    result: dict = {"completion": True}
    sc = score(scaled, points, 0.0, possible)
    if sc:
        result["score"] = sc
    statement = _base(event, ident, host, "completed", obj)
    statement["result"] = result
    statement["context"] = _context(ident, host, course, extensions=_ext(
        ident, attempt=event.get("attempt"), quiz_source=event.get("source"),
        regrade=True if event.get("revision") else None))
    return statement


def _skill_result(ident: Identity, event: dict, **more) -> dict:
    value = _finite(event.get("score"))
    result: dict = {}
    sc = score(value / 100.0 if value is not None else None, value, 0.0, 100.0)
    if sc:
        result["score"] = sc
    result.update(more)
    result["extensions"] = _ext(ident, level=event.get("level"),
                                previous_level=event.get("previous_level"),
                                mastery_model=event.get("model"),
                                p_mastery=_finite(event.get("p_mastery")),
                                evidence=event.get("evidence"))
    return result


def _skill_statement(event: dict, ident: Identity, host: str, verb_name: str,
                     **result_more) -> dict:
    course = event["course_id"]
    obj = _activity(skill_iri(ident, host, course, event["skill"]), "skill", event["skill"])
    statement = _base(event, ident, host, verb_name, obj)
    statement["result"] = _skill_result(ident, event, **result_more)
    statement["context"] = _context(ident, host, course)
    return statement


def _progressed(event: dict, ident: Identity, host: str) -> dict:
    return _skill_statement(event, ident, host, "progressed")


def _mastered(event: dict, ident: Identity, host: str) -> dict:
    return _skill_statement(event, ident, host, "mastered", success=True)


def _earned(event: dict, ident: Identity, host: str) -> dict:
    course, skill, level = event["course_id"], event["skill"], event["level"]
    obj = _activity(badge_iri(ident, host, course, skill, level), "badge",
                    f"{skill} — {level.capitalize()}")
    parent = _activity(skill_iri(ident, host, course, skill), "skill", skill)
    statement = _base(event, ident, host, "earned", obj)
    statement["result"] = _skill_result(ident, event)
    statement["context"] = _context(ident, host, course, parent=parent,
                                    extensions=_ext(ident, skill=skill))
    return statement


def _voided(event: dict, ident: Identity, host: str) -> dict:
    """Voids an earlier statement (Data 2.3.2): a revoked badge's ``earned`` statement, or an
    answer or quiz result that Canvas regraded (its replacement follows it)."""
    statement = {"id": event["id"], "actor": system_actor(ident), "verb": verb("voided"),
                 "object": {"objectType": "StatementRef", "id": event["target"]},
                 "timestamp": event["at"]}
    ext = _ext(ident, revocation_reason=event.get("reason"), regrade=event.get("regrade"))
    # revision and platform only with an Activity object (Data 2.4.6): neither is set here
    statement["context"] = _context(ident, host, event["course_id"], extensions=ext,
                                    platform=False)
    return statement


def _watched(event: dict, ident: Identity, host: str) -> dict:
    obj = _activity(event["video"], "video")
    statement = _base(event, ident, host, "watched", obj)
    statement["result"] = {"completion": True}
    statement["context"] = _context(ident, host, event["course_id"])
    return statement


def _tutored(event: dict, ident: Identity, host: str) -> dict:
    """A tutoring session the student held (and ended) on a question they missed: they
    interacted with that question; how many messages the session held is an extension, what
    was written is never sent."""
    course, quiz = event["course_id"], event["quiz_id"]
    obj = _activity(question_iri(host, course, quiz, event["question_id"]), "question",
                    event.get("question_name") or f"Question {event['question_id']}")
    statement = _base(event, ident, host, "interacted", obj)
    statement["result"] = {"completion": True,
                           "extensions": _ext(ident, tutor_messages=event.get("messages", 0))}
    statement["context"] = _context(ident, host, course,
                                    parent=_activity(quiz_iri(host, course, quiz), "quiz"))
    return statement


BUILDERS = {"answered": _answered, "completed": _completed, "progressed": _progressed,
            "mastered": _mastered, "earned": _earned, "voided": _voided,
            "watched": _watched, "tutored": _tutored}


def build(event: dict, ident: Identity, host: str) -> dict:
    """The statement of one outbox event (``KeyError`` for an unknown kind)."""
    return BUILDERS[event["kind"]](event, ident, host)
