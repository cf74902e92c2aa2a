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


INDEXES: list[IndexSpec] = [
    # shared infrastructure
    plain("jobs", "state", "lease_until"),
    plain("jobs", "kind", "key", "state"),
    plain("jobs", "created_at"),
    # AchieveUp: accounts
    unique("AchieveUp_Users", "email_lower"),
    plain("AchieveUp_Users", "canvas_user_id"),
    unique("AchieveUp_Refresh_Tokens", "jti"),
    plain("AchieveUp_Refresh_Tokens", "family_id"),
    plain("AchieveUp_Refresh_Tokens", "user_id"),
    plain("AchieveUp_Refresh_Tokens", "expires_at", expireAfterSeconds=0),
    unique("AchieveUp_Revoked_Tokens", "jti"),
    plain("AchieveUp_Revoked_Tokens", "expires_at", expireAfterSeconds=0),
    # AchieveUp: Canvas cache
    unique("AchieveUp_Canvas_Cache", "scope", "key"),
    # AchieveUp: skills (matrix names unique per course ignoring case)
    unique("AchieveUp_Skill_Matrices", "course_id", "name_lower"),
    unique("AchieveUp_Question_Skills", "course_id", "question_id"),
    unique("AchieveUp_Course_Descriptions", "course_id", "instructor_id"),
    unique("AchieveUp_Import_Status", "target_course_id"),
    # KnowGap: identity cache (freshness = explicit expires_at checked at read, not TTL)
    unique("knowgap_identity_cache", "fingerprint", "base_url", "scope"),
    plain("knowgap_identity_cache", "expires_at"),
    # KnowGap: courses, questions, incorrect answers, context
    unique("knowgap_quizzes", "course_id", "quiz_id"),
    unique("knowgap_questions", "course_id", "question_id"),
    plain("knowgap_questions", "quiz_id", "question_id"),
    plain("knowgap_questions", "course_id", "quiz_id", "position"),
    unique("knowgap_incorrect_answers", "course_id", "student_id"),
    unique("knowgap_course_context", "course_id"),
    # KnowGap: registered tokens and the scheduled refresh
    unique("knowgap_tokens", "base_url", "canvas_user_id"),
    unique("knowgap_sync_schedule", "base_url", "course_id"),
    plain("knowgap_sync_schedule", "next_due_at"),
    # KnowGap: topic/video caches, watched state, votes, risk toggle
    unique("knowgap_topic_cache", "key"),
    unique("knowgap_video_cache", "topic_key"),
    unique("knowgap_video_watched", "course_id", "student_id", "video_link"),
    unique("knowgap_video_votes", "course_id", "video_link", "student_id"),
    unique("knowgap_risk_toggle", "course_id"),
    unique("knowgap_sync_state", "course_id"),
    # AchieveUp: course sync, mastery, badges (natural keys live in deterministic string
    # _ids, e.g. "course|student|quiz|question|attempt"; see achieveup/mastery/store.py)
    unique("AchieveUp_Canvas_Quizzes", "course_id", "quiz_id"),
    plain("AchieveUp_Canvas_Quizzes", "course_id", "assignment_id"),
    plain("AchieveUp_Canvas_Questions", "course_id", "quiz_id"),
    unique("AchieveUp_Canvas_Students", "course_id", "student_id"),
    plain("AchieveUp_Canvas_Students", "student_id"),
    plain("AchieveUp_Question_Results", "course_id", "student_id", "quiz_id"),
    plain("AchieveUp_Student_Evidence", "course_id", "student_id"),
    plain("AchieveUp_Student_Mastery", "course_id", "student_id"),
    plain("AchieveUp_Student_Mastery", "student_id"),
    plain("AchieveUp_Badges", "course_id", "revoked", "student_id"),
    plain("AchieveUp_Badges", "student_id", "revoked", "public"),
    plain("AchieveUp_Badges", "course_id", "skill_slug", "level"),
    plain("AchieveUp_Badges", "status_list", "revoked"),        # Bitstring Status List build
    plain("AchieveUp_Badges", "public_id"),     # public URLs (random ids: no unique index needed)
    unique("AchieveUp_Course_Settings", "course_id"),
    # AchieveUp: insights (item responses read model, quiz submissions; see
    # achieveup/insights/store.py)
    plain("AchieveUp_Item_Responses", "course_id", "quiz_id"),
    plain("AchieveUp_Item_Responses", "course_id", "question_id"),
    plain("AchieveUp_Quiz_Submissions", "course_id", "student_id"),
    IndexSpec("AchieveUp_Quiz_Submissions", [("course_id", ASC), ("last_submitted_at", DESC)]),
    plain("AchieveUp_BKT_Parameters", "course_id", "skill"),
]
