#!/usr/bin/env bash
# Build the whole book as one PDF, _build/latex/book.pdf, from the notebooks the HTML build
# executed (run `bash tools/book.sh` first; nothing is executed again). Installs what it needs:
# the Python packages of requirements.txt and Debian's TeX packages (by name) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -r requirements.txt
need=()
command -v xelatex >/dev/null || need+=(texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended)
command -v latexmk >/dev/null || need+=(latexmk)
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
command -v pdftotext >/dev/null || need+=(poppler-utils)
fc-list 2>/dev/null | grep -q FreeSerif || need+=(fonts-freefont-otf)
fc-list 2>/dev/null | grep -q "DejaVu Sans Mono" || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  as_root=""; [ "$(id -u)" = 0 ] || as_root="sudo"
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -d _build/jupyter_execute/chapters ] || bash tools/book.sh
"$VENV/bin/python" tools/pdf_src.py
"$VENV/bin/jupyter-book" build _build/pdf_src --builder pdflatex
mkdir -p _build/latex
cp _build/pdf_src/_build/latex/book.pdf _build/latex/book.pdf
# the website's download link points here (see _ext/sld_release.py)
[ -d _build/html/_static ] && cp _build/latex/book.pdf _build/html/_static/book.pdf
echo "PDF: _build/latex/book.pdf ($(pdfinfo _build/latex/book.pdf | awk '/^Pages/ {print $2}') pages)"
# the PDF numbers theorems, equations, figures and chapters as the website does
SLD_REQUIRE_PDF=1 "$VENV/bin/python" -m pytest -q tests/test_pdf.py
