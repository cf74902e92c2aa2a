"""The xAPI vocabulary the product's statements use: verbs, activity types, extensions.

Every verb and activity type is an IRI someone else defines and publishes, so an institution's
analytics read our statements the way they read any other tool's (xAPI 1.0.3 Data 2.4.3:
"A system reading a Statement MUST use the Verb IRI to infer meaning"; 2.4.4.1: "it is
recommended that those implementing xAPI look for and use established, widely adopted, Activity
types"):

- ADL's verbs, ``http://adlnet.gov/expapi/verbs/…`` (the ADL vocabulary that ships with xAPI
  1.0; ``voided`` is the one verb the specification itself reserves, Data 2.3.2;
  ``interacted`` for a tutoring session held on a missed question);
- ``earned`` from the xAPI Registry (``http://id.tincanapi.com/verb/earned``: "the actor has
  earned or has been awarded the object"), and ``watched`` from Activity Streams 1.0
  (``http://activitystrea.ms/schema/1.0/watch``), the two IRIs the xAPI Registry lists for
  those meanings;
- ADL's activity types (``cmi.interaction`` for a question, Data 2.4.4.1 "Interaction
  Activities SHOULD have the Activity type …cmi.interaction"; ``assessment``, ``course``,
  ``objective`` for a skill), Activity Streams' ``badge``, and the xAPI Video Profile's
  ``video`` (``https://w3id.org/xapi/video/activity-type/video``).

What no published vocabulary says (the skill's level, the mastery model, the evidence count,
the Canvas attempt number) goes into extensions whose IRIs live under the server's own
``PUBLIC_BASE_URL`` (``/xapi/extensions/<name>``), where ``knowgap.xapi.routes`` serves a
human-readable description of each, as Data 4.1 asks ("The controller of an IRL extension key
SHOULD make a human-readable description of the intended meaning of the extension supported by
the IRL accessible at the IRL").
"""
from __future__ import annotations

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITIES = "http://adlnet.gov/expapi/activities/"

#: name -> (IRI, display). The display is only for people (Data 2.4.3: it "MUST NOT be used to
#: alter the meaning of a Verb").
VERBS: dict[str, tuple[str, str]] = {
    "answered": (ADL_VERBS + "answered", "answered"),
    "completed": (ADL_VERBS + "completed", "completed"),
    "progressed": (ADL_VERBS + "progressed", "progressed"),
    "mastered": (ADL_VERBS + "mastered", "mastered"),
    "voided": (ADL_VERBS + "voided", "voided"),
    "earned": ("http://id.tincanapi.com/verb/earned", "earned"),
    "watched": ("http://activitystrea.ms/schema/1.0/watch", "watched"),
    "interacted": (ADL_VERBS + "interacted", "interacted"),
}

ACTIVITY_TYPES: dict[str, str] = {
    "question": ADL_ACTIVITIES + "cmi.interaction",
    "quiz": ADL_ACTIVITIES + "assessment",
    "course": ADL_ACTIVITIES + "course",
    "skill": ADL_ACTIVITIES + "objective",
    "badge": "http://activitystrea.ms/schema/1.0/badge",
    "video": "https://w3id.org/xapi/video/activity-type/video",
}

#: Our extensions: name -> what it means (served at ``<PUBLIC_BASE_URL>/xapi/extensions/<name>``).
EXTENSIONS: dict[str, str] = {
    "attempt": "The Canvas quiz attempt number (1 for the first attempt) this answer or "
               "quiz result belongs to. Integer.",
    "canvas-host": "The Canvas installation (host[:port]) the course, quiz and student ids "
                   "belong to. String.",
    "quiz-source": "Which Canvas quiz engine the quiz runs on: \"classic\" (Classic "
                   "Quizzes) or \"new\" (New Quizzes). String.",
    "level": "The skill level the student's score reaches on the course's thresholds: one of "
             "\"not_started\", \"beginner\", \"intermediate\", \"advanced\", \"expert\". String.",
    "previous-level": "The skill level before this change (same values as level). String.",
    "mastery-model": "The course's mastery model that produced the score: \"recency\", "
                     "\"percentage\", a Canvas Outcomes calculation method (e.g. "
                     "\"decaying_average\") or \"bkt_\" plus where the parameters come from. "
                     "String.",
    "p-mastery": "Bayesian Knowledge Tracing probability (0-1) that the student knows the "
                 "skill. Number.",
    "evidence": "How many graded answers the skill's score rests on. Integer.",
    "skill": "The skill's name as the instructor wrote it in the course's skill matrix. "
             "String.",
    "revocation-reason": "Why an earned badge was revoked (the voided earned statement is in "
                         "the object). String.",
    "regrade": "The answer was regraded in Canvas: the statement replaces the one it voids. "
               "Boolean.",
    "tutor-messages": "How many messages a tutoring session on a question the student missed "
                      "held, the student's and the tutor's together (their text is never "
                      "sent). Integer.",
}


def verb(name: str) -> dict:
    iri, display = VERBS[name]
    return {"id": iri, "display": {"en-US": display}}


def extension_iri(public_base_url: str, name: str) -> str:
    if name not in EXTENSIONS:
        raise KeyError(name)
    return f"{public_base_url.rstrip('/')}/xapi/extensions/{name}"
