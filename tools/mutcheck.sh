#!/usr/bin/env bash
# Does a given test kill a given mutant? After `tools/mutate.sh` has generated the mutants:
#
#   bash tools/mutcheck.sh '<mutant name>' tests/test_x.py [more test files or node ids]
#
# The named test files are copied from the working tree into the mutated copy
# ($MUTATE_DIR/mutants, default /tmp/theorylib-mutate) and run there with MUTANT_UNDER_TEST set,
# exactly as mutmut runs them; prints KILLED or SURVIVES. This is how every "killed by" in
# tools/mutation/*.md was checked.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
W=${MUTATE_DIR:-/tmp/theorylib-mutate}
[ $# -ge 2 ] || { echo "usage: bash tools/mutcheck.sh <mutant name> <tests...>"; exit 2; }
[ -d "$W/mutants" ] || { echo "no mutants at $W/mutants (run tools/mutate.sh first)"; exit 2; }
name=$1; shift
for t in "$@"; do f=${t%%::*}; mkdir -p "$W/mutants/$(dirname "$f")"; cp "$ROOT/$f" "$W/mutants/$f"; done
cd "$W/mutants"
log=$(mktemp)
if MUTANT_UNDER_TEST="$name" timeout 600 "$VENV/bin/python" -m pytest -x -q -p no:cacheprovider \
    --hypothesis-seed=0 "$@" > "$log" 2>&1; then
  echo "SURVIVES $name"
else
  echo "KILLED $name"; tail -3 "$log" | head -2
fi
rm -f "$log"
