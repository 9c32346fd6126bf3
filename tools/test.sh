#!/usr/bin/env bash
# Install everything (into .venv unless VENV is set) and run every test:
# the unit/property tests in tests/ and every chapter notebook through nbval (see pytest.ini).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements.txt
# Every claim computed once, cold (--no-cache); nbval and the book build reuse these results
# from the cache (keyed by a hash of theorylib's sources), so CI computes each claim once.
"$VENV/bin/python" -m theorylib verify --no-cache
"$VENV/bin/python" -m pytest "$@"
