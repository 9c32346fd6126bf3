#!/usr/bin/env bash
# Preview ONE chapter as a reader sees it, quickly, without building the whole book:
#
#   bash tools/preview.sh 01            # or 1, or 01_deep_linear
#   bash tools/preview.sh claims        # a reference page (chapters/claims.md), chapters as stubs
#
# 1. copies the checkout (configuration, _ext, _static, intro.md, references.bib, ... but not the
#    other notebooks, .git, venvs or builds) and chapters/NN_*.ipynb into /tmp/preview_NN/book, with a table of contents of intro + that
#    chapter + the bibliography. The other chapters become title-only stub pages, so the chapter
#    keeps its number (equation (5.3) stays (5.3)) and {doc} links to them still resolve; labels
#    inside them do not (those warnings are expected and allowed here);
# 2. builds it into /tmp/preview_NN/_build/html (only that notebook is executed; the log is in
#    /tmp/preview_NN/build.log);
# 3. opens the page in headless Chromium at 1280 and 400 CSS px, saves full-page screenshots in
#    /tmp/preview_NN/shots/ (NAME.1280.png, NAME.400.png, tall pages continue in .part2.png ...)
#    and prints a layout report: display equations wider than the text column at 1280 px,
#    displays clipped at 400 px (wider than their box and not scrollable), images without alt
#    text or raster under 2x density, visible code lines (outside <details>, hidden and removed
#    cells) and lines over 88 characters.
#
# Each chapter has its own directory and a lock, so two helpers can preview at once (the same
# chapter twice waits for the first). Exit status: that of the build (1 if the page was not
# produced, e.g. the notebook raised); the report itself never fails.
set -euo pipefail
# The whole script is one block that bash reads before running it, so that an edit of this
# file while a preview runs cannot break the running preview.
{
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ $# -ge 1 ] || { echo "usage: bash tools/preview.sh NN" >&2; exit 2; }
arg=$1
case $arg in
  [0-9]) nn="0$arg" ;;
  *) nn=${arg:0:2} ;;
esac
shopt -s nullglob
if [[ $nn =~ ^[0-9][0-9]$ ]]; then
  matches=(chapters/${nn}_*.ipynb)
  [ ${#matches[@]} -eq 1 ] || { echo "no single chapters/${nn}_*.ipynb (found: ${matches[*]:-none})" >&2; exit 2; }
  nb=${matches[0]}
else
  # a reference page instead of a chapter: bash tools/preview.sh claims (chapters/claims.md)
  nn=${arg%.md}; nn=${nn#chapters/}
  nb=chapters/$nn.md
  [ -f "$nb" ] || { echo "no chapters/$nn.md" >&2; exit 2; }
fi
doc=${nb%.*}
PY="$ROOT/.venv/bin/python"
JB="$ROOT/.venv/bin/jupyter-book"
OUT=/tmp/preview_$nn
mkdir -p "$OUT"
exec 9>"$OUT.lock"
if ! flock -n 9; then
  echo "another preview of chapter $nn is running; waiting for it ..." >&2
  flock 9
fi
start=$(date +%s)
rm -rf "$OUT/book" "$OUT/_build" "$OUT/shots"
mkdir -p "$OUT/book/chapters" "$OUT/shots"
# the whole checkout (small: configuration, extensions and the files they read, e.g.
# CITATION.cff) without the build, the venvs, node_modules and the other chapters' notebooks
tar -c --exclude=./.git --exclude='./.venv*' --exclude=./_build --exclude=./node_modules \
    --exclude=./.hypothesis --exclude='*/.pytest_cache' --exclude='*/__pycache__' \
    --exclude='./chapters/*' --exclude='./benchmarks' --exclude='./_toc.yml' . \
  | tar -x -C "$OUT/book"
mkdir -p "$OUT/book/chapters"
cp "$nb" chapters/bibliography.md "$OUT/book/chapters/"

# stubs for the other chapters and reference pages, and the table of contents
"$PY" - "$OUT/book" "$doc" <<'EOF'
import json, re, sys
from pathlib import Path
book, doc = Path(sys.argv[1]), sys.argv[2]
chapters = sorted(Path("chapters").glob("[0-9][0-9]_*.ipynb"))
def title(path):
    nb = json.loads(path.read_text())
    for c in nb["cells"]:
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        m = re.search(r"^# (.+)$", src, re.M)
        if c["cell_type"] == "markdown" and m:
            return m.group(1).strip()
    return path.stem
entries = []
for p in chapters:
    d = f"chapters/{p.stem}"
    if d != doc:
        (book / f"{d}.md").write_text(f"# {title(p)}\n\n(Not built in this preview.)\n")
    entries.append(f"      - file: {d}")
refs = []
for name in ("run_it_yourself", "claims", "status"):
    src = Path(f"chapters/{name}.md")
    if f"chapters/{name}" == doc:
        refs.append(f"      - file: chapters/{name}")
        continue
    m = re.search(r"^# .+$", src.read_text(), re.M) if src.exists() else None
    head = m.group(0) if m else f"# {name}"
    (book / f"chapters/{name}.md").write_text(f"{head}\n\n(Not built in this preview.)\n")
    refs.append(f"      - file: chapters/{name}")
refs.append("      - file: chapters/bibliography")
(book / "_toc.yml").write_text(
    "format: jb-book\nroot: intro\nparts:\n  - caption: Chapters\n    numbered: true\n"
    "    chapters:\n" + "\n".join(entries) + "\n  - caption: Reference\n    chapters:\n"
    + "\n".join(refs) + "\n")
EOF

echo "building $nb alone into $OUT/_build/html (log: $OUT/build.log) ..."
status=0
"$JB" build "$OUT/book" --path-output "$OUT" >"$OUT/build.log" 2>&1 || status=$?
page="$doc.html"
if [ ! -f "$OUT/_build/html/$page" ] || [ $status -ne 0 ]; then
  tail -40 "$OUT/build.log"
  echo "build failed (status $status); see $OUT/build.log" >&2
  [ -f "$OUT/_build/html/$page" ] || exit 1
fi
# warnings of this chapter's page (cross-references into other chapters are expected to break)
sed 's/\x1b\[[0-9;]*m//g' "$OUT/build.log" | grep -E "WARNING|ERROR" | grep -v -E \
  "IPKernelApp|py:[a-z]* reference target not found|undefined label|unknown document|failed to create a cross-reference|more than one target|doesn't have a title|intro.md" \
  | sort -u >"$OUT/warnings.txt" || true
echo "built in $(( $(date +%s) - start )) s; $(wc -l <"$OUT/warnings.txt") warnings other than"\
     "cross-chapter references (all: $OUT/build.log):"
sed 's/^/   /' "$OUT/warnings.txt" | head -30
"$PY" tests/browser/preview.py "$OUT/_build/html" "$page" --shots "$OUT/shots"
echo "preview finished in $(( $(date +%s) - start )) s"
exit $status
}
