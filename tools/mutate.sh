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
#   MUTATE_SAMPLE=600 MUTATE_SEED=0 bash tools/mutate.sh sample
#                                # the full configuration, but only a uniform random sample of
#                                # its mutants (fixed seed): an estimate of the full score with
#                                # a 95% interval in minutes instead of hours (after writing tests
#                                # for a sample's survivors, estimate again with a new seed: the
#                                # same seed draws mostly the same mutants)
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
elif [ "$profile" != full ] && [ "$profile" != sample ]; then
  echo "usage: bash tools/mutate.sh [quick|full|files|sample] [mutmut run arguments]"; exit 2
fi

cd "$WORK"
export PATH="$VENV/bin:$PATH"
start=$(date +%s)
status=0
if [ "$profile" = sample ]; then
  # A filter that matches nothing: mutmut generates every mutant and records which tests cover
  # which function, then stops before running any mutant.
  mutmut run "$@" 'no-such-mutant-*' > generate.log 2>&1 || true
  grep -q "nothing matches" generate.log || { cat generate.log; exit 1; }
  "$VENV/bin/python" - "${MUTATE_SAMPLE:-600}" "${MUTATE_SEED:-0}" > sample.txt <<'PY'
import json, pathlib, random, sys
size, seed = int(sys.argv[1]), int(sys.argv[2])
names = sorted(k for meta in pathlib.Path("mutants").rglob("*.meta")
               for k in json.loads(meta.read_text())["exit_code_by_key"])
for name in sorted(random.Random(seed).sample(names, min(size, len(names)))):
    print(name)
print(f"{min(size, len(names))} of {len(names)} mutants sampled (seed {seed})", file=sys.stderr)
PY
  mapfile -t sample < sample.txt
  mutmut run "$@" "${sample[@]}" || status=$?
else
  mutmut run "$@" || status=$?
fi
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
if done and status.get("not checked"):
    # a sample: Wilson 95% interval for the score of all mutants
    z, p = 1.96, killed / done
    mid = (p + z * z / (2 * done)) / (1 + z * z / done)
    half = z * (p * (1 - p) / done + z * z / (4 * done * done)) ** 0.5 / (1 + z * z / done)
    print(f"sample of {done} of {done + status['not checked']} mutants: "
          f"95% interval for the full score {100 * (mid - half):.1f}-{100 * (mid + half):.1f}%")
# per module, as in tools/mutation/README.md (the module is the name up to its mangled function)
per = collections.defaultdict(collections.Counter)
for l in lines:
    name, st = (x.strip() for x in l.rsplit(":", 1))
    if st != "not checked":
        per[re.split(r"\.x[_\u01c1]", name, maxsplit=1)[0]][st] += 1
if per:
    print("| module | mutants | killed | survived | no tests | timeout | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mod, c in sorted(per.items()):
        n = sum(c.values())
        print(f"| {mod} | {n} | {c['killed']} | {c['survived']} | {c['no tests']} | "
              f"{c['timeout']} | {100 * c['killed'] / n:.1f}% |")
print("survivors:")
for l in lines:
    if l.rsplit(":", 1)[1].strip() in ("survived", "no tests", "timeout", "suspicious"):
        print("   ", l)
PY
