"""gunicorn settings for Heroku: its router gives up on a request after 30 s."""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5001')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 28          # below the router's 30 s so a stuck worker is recycled, not orphaned
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = None      # the app writes its own structured request log
