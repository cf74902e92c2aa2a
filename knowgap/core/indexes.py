"""Every index of every collection, declared in one place and created at start-up.

Unique indexes are part of the data model: they are what makes a badge award, a refresh
token, or a skill matrix name impossible to duplicate under concurrent requests.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ASC = 1
DESC = -1


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: list
    options: dict = field(default_factory=dict)


def unique(collection: str, *names: str, **options) -> IndexSpec:
    return IndexSpec(collection, [(n, ASC) for n in names], {"unique": True, **options})


def plain(collection: str, *names: str, **options) -> IndexSpec:
    return IndexSpec(collection, [(n, ASC) for n in names], options)


H = "canvas_host"     # first key of every tenant index (knowgap.core.tenancy)

INDEXES: list[IndexSpec] = [
    # shared infrastructure: one active job per (host, kind, key), see knowgap.jobs.queue
    plain("jobs", "state", "lease_until"),
    unique("jobs", "active_key", sparse=True),
    plain("jobs", "created_at"),
    # AchieveUp: accounts (an account is global; its Canvas identity is per host)
    unique("AchieveUp_Users", "email_lower"),
    plain("AchieveUp_Users", H, "canvas_user_id"),
    unique("AchieveUp_Refresh_Tokens", "jti"),
    plain("AchieveUp_Refresh_Tokens", "family_id"),
    plain("AchieveUp_Refresh_Tokens", "user_id"),
    plain("AchieveUp_Refresh_Tokens", "expires_at", expireAfterSeconds=0),
    unique("AchieveUp_Revoked_Tokens", "jti"),
    plain("AchieveUp_Revoked_Tokens", "expires_at", expireAfterSeconds=0),
    # AchieveUp: Canvas cache
    unique("AchieveUp_Canvas_Cache", H, "scope", "key"),
    # AchieveUp: skills (matrix names unique per course ignoring case)
    unique("AchieveUp_Skill_Matrices", H, "course_id", "name_lower"),
    unique("AchieveUp_Question_Skills", H, "course_id", "question_id"),
    unique("AchieveUp_Course_Descriptions", H, "course_id", "instructor_id"),
    unique("AchieveUp_Import_Status", H, "target_course_id"),
    # KnowGap: identity cache (freshness = explicit expires_at checked at read, not TTL)
    unique("knowgap_identity_cache", H, "fingerprint", "scope"),
    plain("knowgap_identity_cache", "expires_at"),
    # KnowGap: courses, questions, incorrect answers, context
    unique("knowgap_quizzes", H, "course_id", "quiz_id"),
    unique("knowgap_questions", H, "course_id", "question_id"),
    plain("knowgap_questions", H, "quiz_id", "question_id"),
    plain("knowgap_questions", H, "course_id", "quiz_id", "position"),
    unique("knowgap_incorrect_answers", H, "course_id", "student_id"),
    unique("knowgap_course_context", H, "course_id"),
    # KnowGap: registered tokens and the scheduled refresh
    unique("knowgap_tokens", H, "canvas_user_id"),
    unique("knowgap_sync_schedule", H, "course_id"),
    plain("knowgap_sync_schedule", "next_due_at"),
    # KnowGap: topic/video caches, watched state, votes, risk toggle
    unique("knowgap_topic_cache", H, "key"),
    unique("knowgap_video_cache", H, "topic_key"),
    unique("knowgap_video_watched", H, "course_id", "student_id", "video_link"),
    unique("knowgap_video_votes", H, "course_id", "video_link", "student_id"),
    unique("knowgap_risk_toggle", H, "course_id"),
    unique("knowgap_sync_state", H, "course_id"),
    # AchieveUp: course sync, mastery, badges (natural keys live in deterministic string
    # _ids, e.g. "host|course|student|quiz|question|attempt"; see achieveup/mastery/store.py)
    unique("AchieveUp_Canvas_Quizzes", H, "course_id", "quiz_id"),
    plain("AchieveUp_Canvas_Quizzes", H, "course_id", "assignment_id"),
    plain("AchieveUp_Canvas_Questions", H, "course_id", "quiz_id"),
    unique("AchieveUp_Canvas_Students", H, "course_id", "student_id"),
    plain("AchieveUp_Canvas_Students", H, "student_id"),
    plain("AchieveUp_Question_Results", H, "course_id", "student_id", "quiz_id"),
    plain("AchieveUp_Student_Evidence", H, "course_id", "student_id"),
    plain("AchieveUp_Student_Mastery", H, "course_id", "student_id"),
    plain("AchieveUp_Student_Mastery", H, "student_id"),
    plain("AchieveUp_Badges", H, "course_id", "revoked", "student_id"),
    plain("AchieveUp_Badges", H, "student_id", "revoked", "public"),
    plain("AchieveUp_Badges", H, "course_id", "skill_slug", "level"),
    plain("AchieveUp_Badges", "status_list", "revoked"),        # issuer-wide status lists
    plain("AchieveUp_Badges", "public_id"),     # public URLs (random ids: no unique index needed)
    unique("AchieveUp_Course_Settings", H, "course_id"),
    plain("AchieveUp_Sync_State", H, "course_id"),
    # AchieveUp: insights (item responses read model, quiz submissions; see
    # achieveup/insights/store.py)
    plain("AchieveUp_Item_Responses", H, "course_id", "quiz_id"),
    plain("AchieveUp_Item_Responses", H, "course_id", "question_id"),
    plain("AchieveUp_Quiz_Submissions", H, "course_id", "student_id"),
    IndexSpec("AchieveUp_Quiz_Submissions", [(H, ASC), ("course_id", ASC),
                                             ("last_submitted_at", DESC)]),
    plain("AchieveUp_BKT_Parameters", H, "course_id", "skill"),
    # KnowGap: tutor sessions, messages (knowgap/tutor/store.py; the daily budget is keyed
    # by its _id "host|course|day")
    plain("knowgap_tutor_sessions", H, "student_id", "course_id", "updated_at"),
    plain("knowgap_tutor_sessions", H, "course_id", "question_id"),
    plain("knowgap_tutor_messages", H, "session_id", "seq"),
    # xAPI (knowgap/xapi/store.py): natural keys in "host|course|…" _ids; the retry timer's
    # look at every host's courses with work, as the scheduled refresh's next_due_at above
    plain("xapi_outbox", H, "course_id", "state", "next_attempt_at"),
    plain("xapi_courses", "has_work", "next_attempt_at"),
    plain("xapi_skill_state", H, "course_id"),
    plain("xapi_answer_state", H, "course_id"),
]
