"""Canvas LMS access: host allow-list, async client, cached sync gateway, course snapshots.

Modules:
- ``hosts``    which Canvas hosts we may talk to (checked before any request: no SSRF).
- ``errors``   Canvas failures as ``AppError``s with messages a person can act on.
- ``throttle`` adaptive (AIMD) concurrency limiter driven by Canvas's rate-limit headers.
- ``client``   ``CanvasClient``: aiohttp, pagination, throttling, retries.
- ``gateway``  ``CanvasGateway``: synchronous, Mongo-cached facade for Flask views and jobs.
- ``roles``    normalising Canvas enrollment types to teacher/ta/designer/student/observer.
- ``snapshot`` ``fetch_course_snapshot``: everything a course sync needs, fetched concurrently.
"""
