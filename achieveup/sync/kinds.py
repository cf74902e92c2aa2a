"""The AchieveUp sync job's kind, where readers of the job queue can import it without the
sync (whose pipeline reaches them back: xAPI waits for a running sync of the course)."""

COURSE_SYNC_JOB_KIND = "achieveup_course_sync"
