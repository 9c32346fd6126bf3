#!/usr/bin/env bash
# Mutation testing of theorylib with mutmut (pinned in tools/requirements-mutate.txt).
# Not part of tools/test.sh or CI: it is slow (every mutant re-runs the tests that cover it).
#
#   bash tools/mutate.sh quick   # theory/deep_linear.py + sim/engine.py, fast unit tests only
#   bash tools/mutate.sh full    # setup.cfg [mutmut]: theorylib/theory and the simulators
#   bash tools/mutate.sh quick --max-children 1     # extra arguments go to `mutmut run`
#   MUTATE_ONLY="theorylib/theory/fusion.py theorylib/sim/fusion.py" \
#   MUTATE_TESTS="tests/test_fusion_theory.py tests/test_fusion_sim.py" bash tools/mutate.sh files
#                                # one module at a time, with the tests that exercise it
#
# The project is copied to $MUTATE_DIR (default /tmp/theorylib-mutate) and mutmut runs there,
# so the working tree gets no mutants/ folder. At the end the script prints the score and the
# surviving mutants; inspect one with
#   (cd $MUTATE_DIR && $VENV/bin/mutmut show <name>)
# A survivor is either killed by a new test or explained as an equivalent mutant.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
case "$VENV" in /*) ;; *) VENV=$ROOT/$VENV ;; esac
[ -x "$VENV/bin/python" ] || { echo "no venv at $VENV (run tools/test.sh first)"; exit 1; }
"$VENV/bin/python" -m pip install -q -r tools/requirements-mutate.txt

profile=${1:-quick}
[ $# -gt 0 ] && shift
WORK=${MUTATE_DIR:-/tmp/theorylib-mutate}
rm -rf "$WORK"
mkdir -p "$WORK"
# sources and tests only (no notebooks, no build output, no caches)
tar -C "$ROOT" --exclude='__pycache__' --exclude='*.egg-info' -cf - theorylib tests pyproject.toml setup.cfg \
  | tar -C "$WORK" -xf -
rm -rf "$WORK/tests/browser"
# pytest.ini of the project runs the notebooks through nbval; here only the unit tests run
printf '[pytest]\naddopts = -p no:cacheprovider\n' > "$WORK/pytest.ini"

if [ "$profile" = quick ]; then
  "$VENV/bin/python" - "$WORK/setup.cfg" <<'PY'
import configparser, sys
path = sys.argv[1]
cfg = configparser.ConfigParser()
cfg.read(path)
cfg["mutmut"]["only_mutate"] = "\ntheorylib/theory/deep_linear.py\ntheorylib/sim/engine.py"
cfg["mutmut"]["pytest_add_cli_args_test_selection"] = "\n" + "\n".join([
    "tests/test_engine.py",
    "tests/test_deep_linear_theory.py",
    "tests/test_validation.py",
    "tests/test_independent_refs.py",
    "tests/test_properties_finite.py",
])
with open(path, "w") as f:
    cfg.write(f)
PY
elif [ "$profile" = files ]; then
  [ -n "${MUTATE_ONLY:-}" ] && [ -n "${MUTATE_TESTS:-}" ] || {
    echo "the files profile needs MUTATE_ONLY (source files) and MUTATE_TESTS (test files)"; exit 2; }
  "$VENV/bin/python" - "$WORK/setup.cfg" <<'PY'
import configparser, os, sys
path = sys.argv[1]
cfg = configparser.ConfigParser()
cfg.read(path)
cfg["mutmut"]["only_mutate"] = "\n" + "\n".join(os.environ["MUTATE_ONLY"].split())
cfg["mutmut"]["pytest_add_cli_args_test_selection"] = "\n" + "\n".join(os.environ["MUTATE_TESTS"].split())
with open(path, "w") as f:
    cfg.write(f)
PY
elif [ "$profile" != full ]; then
  echo "usage: bash tools/mutate.sh [quick|full|files] [mutmut run arguments]"; exit 2
fi

cd "$WORK"
export PATH="$VENV/bin:$PATH"
start=$(date +%s)
status=0
mutmut run "$@" || status=$?
echo "mutmut run exited with $status after $(( $(date +%s) - start )) s"
mutmut results --all true > results.txt 2>&1 || true
"$VENV/bin/python" - <<'PY'
import collections, re
lines = [l.strip() for l in open("results.txt") if ":" in l]
status = collections.Counter(l.rsplit(":", 1)[1].strip() for l in lines)
killed = status.get("killed", 0)
done = sum(v for k, v in status.items() if k not in ("not checked",))
print("mutants by status:", dict(status))
if done:
    print(f"score: {killed}/{done} killed = {100 * killed / done:.1f}% (timeouts and segfaults count as survived)")
print("survivors:")
for l in lines:
    if l.rsplit(":", 1)[1].strip() in ("survived", "no tests", "timeout", "suspicious"):
        print("   ", l)
PY
