#!/usr/bin/env bash
# Install everything (into .venv unless VENV is set) and build the website into _build/html.
# Warnings are errors (-W) and every chapter is executed; a failing assert fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/jupyter-book" build . -W -n --keep-going "$@"
