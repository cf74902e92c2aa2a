"""gunicorn settings for Heroku: its router gives up on a request after 30 s."""
import os

from config import DEFAULT_GUNICORN_THREADS

bind = f"0.0.0.0:{os.environ.get('PORT', '5001')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
# Each open tutor stream (Server-Sent Events) holds a thread for its answer's length; idle
# threads cost nothing. TUTOR_MAX_STREAMS keeps some for the rest of the API.
threads = int(os.environ.get("GUNICORN_THREADS", str(DEFAULT_GUNICORN_THREADS)))
timeout = 28          # below the router's 30 s so a stuck worker is recycled, not orphaned
graceful_timeout = 20
keepalive = 5
# Recycling a worker drops the embedded database (it lives in the worker), so only with
# a real MongoDB.
max_requests = 2000 if os.environ.get("MONGODB_URI") else 0
max_requests_jitter = 200 if os.environ.get("MONGODB_URI") else 0
accesslog = None      # the app writes its own structured request log
