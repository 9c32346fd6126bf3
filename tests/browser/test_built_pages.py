"""Checks on the built HTML itself (no browser needed), run after ``bash tools/book.sh``.

- No page loads a script, stylesheet, image or frame from another host: the book works offline.
- MathJax is the copy served from the site's ``_static/mathjax``.
- Every chapter page shows an exercise with its solution in a dropdown, a "Cite this chapter"
  section with its BibTeX entry, a download button for its notebook, and Binder and Colab
  launch buttons for this repository.
- Every numbered figure a chapter declares is on its page as an image.
- The status page lists every chapter's execution time and the software versions.
- Citations are author-year and unambiguous: each in-text label ("Zhang et al., 2024a") points
  to exactly one bibliography entry, which carries the same label, and no two entries share one.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pages import book_html, built_pages, chapter_pages, external_resources

REPO = "solvable-learning-dynamics/solvable-learning-dynamics"
PAGES = built_pages(book_html()) or ["<no built book>"]
CHAPTERS = chapter_pages(book_html()) or ["<no chapter page>"]


def _read(html_dir: Path, page: str) -> str:
    if page.startswith("<"):
        pytest.fail(f"{page} in {html_dir}: run `bash tools/book.sh` first (and check that "
                    "chapters/NN_*.ipynb exist)")
    return (html_dir / page).read_text(errors="replace")


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_nothing_from_other_hosts(page, html_dir):
    _read(html_dir, page)
    external = external_resources(html_dir / page)
    assert not external, (f"{page} loads from other hosts (it would break offline): "
                          + ", ".join(f"{kind} {url}" for kind, url in external))


@pytest.mark.parametrize("page", PAGES)
def test_mathjax_is_served_locally(page, html_dir):
    text = _read(html_dir, page)
    if 'class="math' not in text:
        return  # no maths on this page: MathJax is not included
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', text, re.I)
    assert scripts, f"{page} has maths but no MathJax script"
    for src in scripts:
        local = (html_dir / page).parent / src.split("?")[0]
        assert local.resolve().is_file(), f"{page}: MathJax script {src} is not in the build"
    fonts = html_dir / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("*.woff")), "MathJax's fonts are not in the build"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_page_has_exercise_solution_and_cite_block(page, html_dir):
    text = _read(html_dir, page)
    nn = re.match(r"chapters/(\d\d)_", page).group(1)
    assert re.search(r'<div class="exercise admonition" id="ex-ch', text), \
        f"{page}: no exercise"
    assert re.search(r'<div class="solution dropdown admonition"', text), \
        f"{page}: no solution in a dropdown"
    section = re.search(r'<section id="cite-this-chapter">(.*?)</section>', text, re.S)
    assert section, f"{page}: no 'Cite this chapter' section"
    plain = re.sub(r"<[^>]+>", "", section.group(1))
    assert f"@incollection{{sld2026-ch{nn}," in plain, f"{page}: no BibTeX entry sld2026-ch{nn}"
    assert "booktitle = {Solvable Learning Dynamics}" in " ".join(plain.split()), plain
    # the {cite-chapter} directive writes the version of CITATION.cff (one place to edit)
    cff = (Path(__file__).resolve().parents[2] / "CITATION.cff").read_text()
    version = re.search(r"^version: *\"?([^\"\n]+)", cff, re.M).group(1).strip()
    assert f"version = {{{version}}}" in " ".join(plain.split()), plain


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_page_has_download_and_launch_buttons(page, html_dir):
    text = _read(html_dir, page)
    notebook = page[len("chapters/"):-len(".html")] + ".ipynb"
    download = re.search(rf'href="([^"]*_sources/chapters/{re.escape(notebook)})"', text)
    assert download, f"{page}: no download button for {notebook}"
    target = ((html_dir / page).parent / download.group(1)).resolve()
    assert target.is_file(), f"{page}: the download link {download.group(1)} points at nothing"
    binder = f"https://mybinder.org/v2/gh/{REPO}/main?urlpath=lab/tree/chapters/{notebook}"
    colab = f"https://colab.research.google.com/github/{REPO}/blob/main/chapters/{notebook}"
    assert binder in text, f"{page}: no Binder launch button for this repository"
    assert colab in text, f"{page}: no Colab launch button for this repository"


def test_status_page_lists_every_chapter_and_versions(html_dir):
    text = _read(html_dir, "chapters/status.html")
    for page in chapter_pages(html_dir):
        name = page[len("chapters/"):]
        row = re.search(rf'<tr[^>]*>\s*<td[^>]*>(?:<p>)?<a[^>]*href="{re.escape(name)}"(.*?)</tr>',
                        text, re.S)
        assert row, f"the status page's execution table has no row for {name}"
        cells = [re.sub(r"<[^>]+>", "", c).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
        # columns: document, modified, method, run time (s), status
        assert len(cells) == 4 and re.fullmatch(r"\d+(\.\d+)?", cells[2]), \
            f"no run time for {name}: {cells}"
        assert cells[3] == "\u2705", f"{name} did not execute successfully: {cells}"
    for package in ("jupyter-book", "numpy", "sympy", "theorylib", "sphinx-mathjax-offline"):
        assert package in text, f"the status page does not list {package}"


def test_reference_pages_are_built(html_dir):
    intro = _read(html_dir, "intro.html")
    for page in ("run_it_yourself", "claims", "status", "bibliography"):
        assert (html_dir / "chapters" / f"{page}.html").is_file(), f"{page}.html not built"
        assert f'href="chapters/{page}.html"' in intro, f"{page} is not in the navigation"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_page_shows_every_figure(page, html_dir):
    """Each code cell that declares a numbered figure (``mystnb.figure.name``) shows it, as an
    image. A kernel that draws nothing (e.g. MPLBACKEND=Agg with plt.show()) would otherwise
    drop the figure from the page without any error."""
    text = _read(html_dir, page)
    source = html_dir / "_sources" / (page[:-len(".html")] + ".ipynb")
    assert source.is_file(), f"no notebook source for {page}"
    names = [c["metadata"]["mystnb"]["figure"]["name"]
             for c in json.loads(source.read_text())["cells"]
             if c["cell_type"] == "code"
             and c.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")]
    missing = []
    for name in names:
        figure = re.search(rf'<figure[^>]*id="{re.escape(name)}"[^>]*>(.*?)</figure>', text, re.S)
        if not figure or "<img" not in figure.group(1):
            missing.append(name)
    assert not missing, f"{page}: figures declared but not shown: {missing}"


CITATION_SPAN = re.compile(r'<span class="bibtex-citation"[^>]*>(.*?)</span>', re.S)
CITATION_LINK = re.compile(r'<a class="reference internal" href="([^"]*bibliography\.html)#([^"]+)"'
                           r'[^>]*>(.*?)</a>', re.S)
BIB_ENTRY = re.compile(r'<div class="citation" id="([^"]+)"[^>]*>\s*<span class="label">'
                       r'(.*?)</span>\s*</span>', re.S)
YEAR_ONLY = re.compile(r"^(\d{4}[a-z]?|n\.d\.)$")


def _text(html: str) -> str:
    import html as html_lib
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", html)).split())


def in_text_citations(text: str) -> list[tuple[str, str]]:
    """(label, bibliography anchor) of every in-text citation of a page. A textual citation
    links only its year ("Zhang et al. [2024a]"): its author part is the text before the link."""
    found = []
    for span in CITATION_SPAN.finditer(text):
        body, pos = span.group(1), 0
        for link in CITATION_LINK.finditer(body):
            shown = _text(link.group(3))
            if YEAR_ONLY.match(shown):
                author = _text(body[pos:link.start()]).strip(" [],;")
                shown = f"{author}, {shown}"
            found.append((shown, link.group(2)))
            pos = link.end()
    return found


def bibliography_labels(text: str) -> dict[str, str]:
    """Anchor -> label of each entry of the bibliography page."""
    return {m.group(1): _text(m.group(2)).strip("[]") for m in BIB_ENTRY.finditer(text)}


def test_citations_resolve_to_one_entry_each(html_dir):
    bib = bibliography_labels(_read(html_dir, "chapters/bibliography.html"))
    assert bib, "the bibliography page lists no entries"
    problems = []
    labels = list(bib.values())
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        problems.append(f"two bibliography entries share the label {label!r} (needs a/b)")
    for label in labels:
        if not re.search(r", (\d{4}[a-z]?|n\.d\.)$", label):
            problems.append(f"bibliography label {label!r} is not author-year")
    targets: dict[str, set] = {}
    for page in built_pages(html_dir):
        for label, anchor in in_text_citations(_read(html_dir, page)):
            targets.setdefault(label, set()).add(anchor)
            if anchor not in bib:
                problems.append(f"{page}: citation {label!r} points at no bibliography entry")
            elif bib[anchor] != label:
                problems.append(f"{page}: citation {label!r} points at the entry {bib[anchor]!r}")
    for label, anchors in targets.items():
        if len(anchors) > 1:
            problems.append(f"the in-text label {label!r} stands for {len(anchors)} entries: "
                            + ", ".join(bib.get(a, a) for a in sorted(anchors)))
    assert targets, "no in-text citation found on any page"
    assert not problems, "\n".join(problems)


def test_citation_parsing():
    page = ('<span class="bibtex-citation" id="i1">Zhang <em>et al.</em> [<a class="reference '
            'internal" href="bibliography.html#id4" title="t">2024a</a>]</span> and '
            '<span class="bibtex-citation" id="i2">[<a class="reference internal" '
            'href="bibliography.html#id5" title="t">Baldi and Hornik, 1989</a>, <a class='
            '"reference internal" href="bibliography.html#id6">Saxe <em>et al.</em>, 2014</a>]'
            '</span>')
    assert in_text_citations(page) == [("Zhang et al., 2024a", "id4"),
                                       ("Baldi and Hornik, 1989", "id5"),
                                       ("Saxe et al., 2014", "id6")]
    entry = ('<div class="citation" id="id4" role="listitem"><span class="label"><span '
             'class="fn-bracket">[</span>Zhang et al., 2024a<span class="fn-bracket">]</span>'
             '</span><p>Ruiqi Zhang ...</p></div>')
    assert bibliography_labels(entry) == {"id4": "Zhang et al., 2024a"}
