"""Schemas of the course sync endpoints (force-sync, job status) and the Student Analysis
CSV upload of a New Quiz."""
from __future__ import annotations

from flask_smorest.fields import Upload

from achieveup.analytics.schemas import Number
from knowgap.core.schemas import StrictSchema, fields


class ForceSyncQuery(StrictSchema):
    full = fields.Boolean(load_default=False, metadata={
        "description": "Re-read every quiz submission instead of only the new ones."})


class SyncCountsSchema(StrictSchema):
    total_quizzes = fields.Integer(required=True)
    total_synced = fields.Integer(required=True)
    progress_synced = fields.Integer(required=True)
    total_errors = fields.Integer(required=True)


class SyncStartedSchema(StrictSchema):
    message = fields.String(required=True)
    job_id = fields.String(required=True, metadata={
        "description": "Poll GET /achieveup/jobs/{job_id} for progress."})
    details = fields.Nested(SyncCountsSchema, required=True, metadata={
        "description": "All 0 when the sync is accepted (the web app's sync button reads "
                       "progress_synced); the job's counts say what it did."})


class JobStatusSchema(StrictSchema):
    job_id = fields.String(required=True)
    state = fields.String(required=True, metadata={
        "description": "queued, running, succeeded or failed."})
    progress = Number(required=True, metadata={"description": "From 0.0 to 1.0."})
    counts = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    errors = fields.List(fields.String(), required=True)
    reason = fields.String(required=True, allow_none=True)


class StudentAnalysisUpload(StrictSchema):
    file = Upload(required=True, metadata={
        "description": "The New Quiz's Student Analysis CSV as exported from Canvas (Quiz -> "
                       "Reports -> Student Analysis), unchanged."})


class StudentAnalysisStoredSchema(StrictSchema):
    message = fields.String(required=True)
    job_id = fields.String(required=True, metadata={
        "description": "The job recomputing mastery and badges: GET /achieveup/jobs/{job_id}."})
    quiz_id = fields.String(required=True)
    students = fields.Integer(required=True)
    attempts = fields.Integer(required=True)
    results = fields.Integer(required=True, metadata={
        "description": "Per-question results in the file (one per student, item, attempt)."})
    results_new = fields.Integer(required=True)
    results_changed = fields.Integer(required=True)
    results_unchanged = fields.Integer(required=True)
    items_outside_list = fields.Integer(required=True, metadata={
        "description": "Answers to items not in the quiz's item list (drawn from a bank), "
                       "kept under their own ids."})
    evidence_rebuilt = fields.Integer(required=True)
    item_responses_written = fields.Integer(required=True)
