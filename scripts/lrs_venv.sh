#!/usr/bin/env bash
# Creates .venv-lrs (once) with the Learning Record Store the xAPI tests and bench/xapi.py use
# (ralph-malph, requirements-lrs.txt), apart from .venv because its pins clash with ours.
# Called by scripts/bootstrap.sh, and by the tests when they find it missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv-lrs/.requirements.sha
want=$(sha256sum requirements-lrs.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  [ -x .venv-lrs/bin/python ] || "$PY" -m venv .venv-lrs
  .venv-lrs/bin/pip install --quiet --disable-pip-version-check -r requirements-lrs.txt
  echo "$want" > "$stamp"
fi
