#!/usr/bin/env bash
# Creates .venv (once) and installs the pinned requirements into it when they change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The 1EdTech Open Badges 2.0 verifier (tests only). Its pins cannot be installed on Python 3.11,
# so it comes without its dependencies, which requirements-openbadges.txt pins at working versions.
OPENBADGES_VERIFIER=openbadges==1.1.2
# Debian packages listed in scripts/system-packages.txt (browsers, office tools for tests).
missing=()
while read -r pkg; do
  pkg=${pkg%%#*}; pkg=${pkg// /}
  [ -n "$pkg" ] || continue
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < scripts/system-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing Debian packages; run: sudo apt-get install ${missing[*]}" >&2
  fi
fi
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
  # pyBKT compiles its C++ extension only when numpy is importable at build time (otherwise
  # it installs its slow pure-Python fallback): rebuild it against the venv, best effort.
  "${pip[@]}" --no-build-isolation --no-deps --force-reinstall --no-binary pyBKT \
    "$(grep -i '^pybkt==' requirements-dev.txt)" \
    || echo "pyBKT: C++ extension not built; bench/mastery_model.py uses the pure-Python one"
  echo "$want" > "$stamp"
fi
# The Learning Record Store for the xAPI tests and bench/xapi.py, in its own venv (.venv-lrs).
bash scripts/lrs_venv.sh
