#!/usr/bin/env bash
# Install everything (into .venv unless VENV is set) and run every test:
# the unit/property tests in tests/ and every chapter notebook through nbval (see pytest.ini).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m theorylib verify
"$VENV/bin/python" -m pytest "$@"
