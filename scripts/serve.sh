#!/usr/bin/env bash
# Runs the server on http://localhost:5001 (embedded database unless MONGODB_URI is set).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PORT=${PORT:-5001}
workers=${WEB_CONCURRENCY:-1}
# The embedded database (kept in instance/) belongs to one process: a second worker is refused.
[ -z "${MONGODB_URI:-}" ] && workers=1
exec .venv/bin/gunicorn -c gunicorn.conf.py --workers "$workers" wsgi:app
