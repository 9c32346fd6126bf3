"""The PDF (tools/pdf.sh) numbers everything as the website does.

A reader who cites "Theorem 2.3" or "(4.12)" from the PDF must find the same thing on the
website. For every chapter this compares, between the built HTML and the PDF's text
(``pdftotext``): the chapter number and title, each theorem-like box (kind, number, title),
each exercise and its solution, each figure number and the start of its caption, and the set
of equation numbers. It also checks that the claims table is in the PDF and that every
cross-reference resolves (no "??").

Skipped when no PDF has been built, unless SLD_REQUIRE_PDF=1 (tools/pdf.sh sets it).
"""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PDF = ROOT / "_build" / "latex" / "book.pdf"
HTML = ROOT / "_build" / "html" / "chapters"

if os.environ.get("SLD_REQUIRE_PDF") == "1":
    if not PDF.is_file() or not HTML.is_dir():
        raise RuntimeError("SLD_REQUIRE_PDF=1 but _build/latex/book.pdf or the HTML build is missing")
elif not PDF.is_file() or not HTML.is_dir():
    pytest.skip("no PDF built (bash tools/pdf.sh builds it)", allow_module_level=True)
elif PDF.stat().st_mtime < max(p.stat().st_mtime for p in HTML.glob("*.html")):
    pytest.skip("the PDF is older than the website: rebuild it with bash tools/pdf.sh",
                allow_module_level=True)


def norm(text: str, markup: bool = True) -> str:
    if markup:  # HTML: drop the tags; the PDF's text keeps its "<" and ">"
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    text = text.replace("\u2019", "'").replace("\u00a0", " ").replace("\u00ad", "")
    return re.sub(r"\s+", " ", text).strip()


def pdf_text() -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (Debian's poppler-utils) is needed; tools/pdf.sh installs it")
    out = subprocess.run(["pdftotext", "-layout", str(PDF), "-"], check=True,
                         capture_output=True, text=True).stdout
    return norm(out, markup=False)


TEXT = None


def text() -> str:
    global TEXT
    if TEXT is None:
        TEXT = pdf_text()
    return TEXT


CHAPTERS = sorted(HTML.glob("[0-9][0-9]_*.html"))


def html_items(page: Path):
    s = page.read_text()
    boxes = [norm(m) for m in re.findall(r'<p class="admonition-title">(.*?)</p>', s, re.S)]
    boxes = [b for b in boxes if re.match(r"(Theorem|Lemma|Proposition|Corollary|Definition|Remark|"
                                          r"Exercise|Solution to Exercise) \d+\.\d+", b)]
    figures = [norm(m) for m in re.findall(r'<figcaption>\s*<p>(.*?)</p>', s, re.S)]
    equations = set(re.findall(r'<span class="eqno">\((\d+\.\d+)\)', s))
    title = norm(re.search(r"<h1>([^<]*)", s).group(1))
    return title, boxes, figures, equations


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_number_and_title(page):
    number = int(page.stem[:2])
    title, *_ = html_items(page)
    title = re.sub(r"^\d+\.\s*", "", title)
    # the running foot of every page of a chapter reads "Chapter N. Title" (up to its colon)
    short = title.split(":")[0][:30]
    assert re.search(rf"Chapter {number}\. {re.escape(short)}", text()), \
        f"the PDF has no 'Chapter {number}. {short}'"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_theorems_and_exercises_have_the_same_numbers(page):
    _, boxes, _, _ = html_items(page)
    # compared up to the first maths of a title (TeX on the website, typeset glyphs in the PDF)
    missing = [b for b in boxes if b.split("\\(")[0][:60].rstrip() not in text()]
    assert boxes and not missing, f"in the HTML but not in the PDF: {missing}"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_figures_have_the_same_numbers(page):
    _, _, figures, _ = html_items(page)
    missing = []
    for caption in figures:
        m = re.match(r"Fig\. (\d+\.\d+)\s*(.{0,30})", caption)
        if m and not re.search(rf"Fig\. {re.escape(m.group(1))}: {re.escape(m.group(2)[:20])}", text()):
            missing.append(caption[:50])
    assert not missing, f"figures numbered differently in the PDF: {missing}"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_equations_have_the_same_numbers(page):
    _, _, _, equations = html_items(page)
    missing = sorted(e for e in equations if f"({e})" not in text())
    assert not missing, f"equation numbers missing from the PDF: {missing}"


def test_the_claims_table_is_in_the_pdf():
    assert "Claims" in text() and re.search(r"\d+ of \d+ claims pass", text())


def test_reference_pages_are_appendices_not_chapters():
    # the website numbers only the chapters; Run it yourself, Claims, ... are appendices
    last = int(CHAPTERS[-1].stem[:2])
    assert re.search(r"Appendix A\. Run it yourself", text(), re.I), "no 'Appendix A. Run it yourself'"
    assert not re.search(rf"Chapter {last + 1}\. ", text()), f"a 'Chapter {last + 1}' in the PDF"


def test_nothing_is_set_off_the_page():
    # Text set beyond a page's edge (a wide code line or table, a table row below the
    # footer) is still in the PDF; pdftotext -bbox gives every word's box on its page.
    out = subprocess.run(["pdftotext", "-bbox", str(PDF), "-"], check=True,
                         capture_output=True, text=True).stdout
    off = []
    for number, page in enumerate(out.split("<page ")[1:], start=1):
        width, height = map(float, re.match(r'width="([\d.]+)" height="([\d.]+)"', page).groups())
        for m in re.finditer(r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" '
                             r'yMax="([-\d.]+)">([^<]*)</word>', page):
            x0, y0, x1, y1 = map(float, m.groups()[:4])
            if x0 < -0.5 or y0 < -0.5 or x1 > width + 0.5 or y1 > height + 0.5:
                off.append((number, m.group(5)))
    assert not off, f"{len(off)} words set off the page, e.g. {off[:6]}"


def test_every_cross_reference_resolves():
    # an unresolved \ref prints "??" in the PDF while the website's link works; the log of
    # LaTeX's last pass lists every one still undefined
    log = ROOT / "_build" / "pdf_src" / "_build" / "latex" / "book.log"
    if not log.is_file():
        pytest.skip("no LaTeX log (the PDF was copied from elsewhere)")
    undefined = re.findall(r"Reference `([^']+)' on page", log.read_text(errors="replace"))
    assert not undefined, f"unresolved in the PDF: {sorted(set(undefined))}"
    assert "??" not in text()
