#!/usr/bin/env bash
# Runs the server against the local Canvas sandbox, so the web app and the extension can be
# tried end to end with no Canvas account. Sign up with Canvas token "teacher-token" to be an
# instructor of courses 101 and 102, or "student-token-1001" to be a student. PORT (default 5001)
# and SANDBOX_PORT (default 8900) choose the ports; badge links follow PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
SANDBOX_PORT=${SANDBOX_PORT:-8900}
.venv/bin/python -m tests.canvas_sandbox --port "$SANDBOX_PORT" --latency 0.02 &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true' EXIT INT TERM
export CANVAS_BASE_URL="http://127.0.0.1:$SANDBOX_PORT"
export CANVAS_ALLOWED_HOSTS="127.0.0.1:$SANDBOX_PORT,localhost:$SANDBOX_PORT"
# Badge links and credentials must point at the port the server really listens on.
export PORT=${PORT:-5001}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://localhost:$PORT}
bash scripts/serve.sh
