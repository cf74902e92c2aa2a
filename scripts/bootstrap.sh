#!/usr/bin/env bash
# Creates .venv (once) and installs the pinned requirements into it when they change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The 1EdTech Open Badges 2.0 verifier (tests only). Its pins cannot be installed on Python 3.11,
# so it comes without its dependencies, which requirements-openbadges.txt pins at working versions.
OPENBADGES_VERIFIER=openbadges==1.1.2
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$( (cat requirements.txt requirements-dev.txt requirements-openbadges.txt; echo "$OPENBADGES_VERIFIER") \
  | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pip=(.venv/bin/pip install --quiet --disable-pip-version-check)
  "${pip[@]}" -r requirements-dev.txt
  "${pip[@]}" -r requirements-openbadges.txt
  "${pip[@]}" --no-deps "$OPENBADGES_VERIFIER"
  echo "$want" > "$stamp"
fi
