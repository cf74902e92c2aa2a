"""``POST /achieveup/instructor/course/{cid}/force-sync``, ``GET /achieveup/jobs/{job_id}``
and ``POST /achieveup/instructor/course/{cid}/new-quizzes/{qid}/student-analysis``."""
from __future__ import annotations

import functools
import re

from flask import request
from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, is_admin, require_course_instructor,
                                   role_required, login_required, tenant_db, user_gateway)
from achieveup.settings.service import RECOMPUTE_JOB_KIND
from achieveup.sync import schemas as s
from achieveup.sync import new_quizzes as nq_sync
from achieveup.sync import service
from knowgap.core.clock import utcnow
from knowgap.core.errors import Forbidden, NotFound
from knowgap.core.schemas import path_id
from knowgap.core.services import services
from knowgap.core.tenancy import in_scope
from knowgap.jobs.queue import get_job

blp = Blueprint("achieveup_sync", __name__, description="AchieveUp course sync jobs")

#: Jobs of a course that every instructor of the course may follow (the queue hands one
#: running job per course and key to everyone who asks for it).
COURSE_JOB_KINDS = (service.JOB_KIND, RECOMPUTE_JOB_KIND)


@blp.route("/achieveup/instructor/course/<course_id>/force-sync", methods=["POST"])
@role_required("instructor")
@blp.arguments(s.ForceSyncQuery, location="query")
@blp.response(202, s.SyncStartedSchema)
@blp.doc(summary="Start a course sync (202); poll GET /achieveup/jobs/{job_id}")
def force_sync(query, course_id):
    course_id = path_id(course_id)
    require_course_instructor(course_id)
    user = current_user()
    job_id, created = service.enqueue_sync(tenant_db(user), course_id, str(user["_id"]),
                                           full=query["full"])
    message = ("Course sync started." if created else
               "A sync of this course is already running; follow its progress.")
    # ``details``: the counts the web app's sync button reads; nothing is synced yet at 202
    return {"message": message, "job_id": job_id,
            "details": {"total_quizzes": 0, "total_synced": 0, "progress_synced": 0,
                        "total_errors": 0}}


@blp.route("/achieveup/jobs/<job_id>")
@login_required
@blp.response(200, s.JobStatusSchema)
@blp.doc(summary="Progress of a job: {state, progress, counts, errors}")
def job_status(job_id):
    job = get_job(services().db, path_id(job_id, "job_id"))
    if job is None:
        raise NotFound("No such job. Start the sync again.", error="job_not_found")
    user = current_user()
    payload = job.get("payload") or {}
    if not is_admin(user) and payload.get("user_id") != str(user["_id"]):
        # a course's job is followed by the instructors of that course of that Canvas only
        if (job.get("kind") not in COURSE_JOB_KINDS or user.get("role") != "instructor"
                or not in_scope(tenant_db(user), job)):
            raise Forbidden("This job belongs to someone else.", error="forbidden_job")
        require_course_instructor(payload.get("course_id"))
    return {"job_id": job["id"], "state": job["state"],
            "progress": job.get("progress", 0.0), "counts": job.get("counts", {}),
            "errors": job.get("errors", []), "reason": job.get("reason")}


NEW_QUIZ_ID = re.compile(r"^nq-[0-9]{1,20}$")


def _instructor_upload(view):
    """Before the upload is read: the caller must teach the course, and the body may be up to
    ``STUDENT_ANALYSIS_MAX_BYTES`` (a class's CSV with essays outgrows ``MAX_CONTENT_LENGTH``)."""
    @functools.wraps(view)
    def wrapper(*args, course_id, quiz_id, **kwargs):
        course_id = path_id(course_id)
        quiz_id = path_id(quiz_id, "quiz_id", NEW_QUIZ_ID)
        require_course_instructor(course_id)
        request.max_content_length = services().config.student_analysis_max_bytes
        return view(*args, course_id=course_id, quiz_id=quiz_id, **kwargs)
    return wrapper


@blp.route("/achieveup/instructor/course/<course_id>/new-quizzes/<quiz_id>/student-analysis",
           methods=["POST"])
@role_required("instructor")
@_instructor_upload
@blp.arguments(s.StudentAnalysisUpload, location="files")
@blp.response(202, s.StudentAnalysisStoredSchema)
@blp.doc(summary="Upload a New Quiz's Student Analysis CSV exported from Canvas (for when "
                 "the API is restricted); 422 names the row and column of a bad file")
def upload_student_analysis(files, course_id, quiz_id):
    return nq_sync.import_csv(tenant_db(), user_gateway(), course_id, quiz_id,
                              files["file"].read(), str(current_user()["_id"]), utcnow())
