"""Accessibility fixes to the theme's HTML (loaded through ``sphinx.local_extensions``).

axe-core (tests/browser/test_browser.py::test_page_accessibility) finds violations that come
from the theme's templates, sphinx-togglebutton and docutils, not from the book (1-5 below). A speech-input user says what they see, so a control's accessible
name must contain its visible text:

1. The search field button shows "Search Ctrl+K" but is named ``aria-label="Search"``. Without
   the aria-label its name is its visible text. (The icon-only search button keeps its label.)
2. The colour-mode button is named "Color mode"; its icons carry ``title="Light"`` (and "Dark",
   "System Settings"), which Font Awesome turns into ``<svg role="img"><title>Light</title>``:
   visible "text" that is not in the name. The icons are decorative (the button's name and
   tooltip say what it does), so they get ``aria-hidden="true"`` and no title.

3. docutils writes the bibliography as ``<div role="list">`` of ``role="doc-biblioentry"``
   items. DPUB-ARIA 1.1 deprecated ``doc-biblioentry``, and a list must own list items (axe:
   *critical* ``aria-required-children``), so the entries become ``role="listitem"``.

4. The navigation's collapsible sections (``<details><summary>`` with only a chevron icon) have
   no name (axe: *serious* ``summary-name``): they are named "Show the pages of this section".
5. sphinx-togglebutton names a hidden cell's ``<summary>`` "Toggle hidden content" while it
   shows "Show code cell source": without the aria-label its name is what it shows.

The written pages are rewritten once the build has finished; a pattern that no longer matches
(a theme update) leaves the page unchanged, and the browser test then reports the violation.
"""
from __future__ import annotations

import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

SEARCH_FIELD = re.compile(
    r'(<button class="btn search-button-field search-button__button[^"]*"[^>]*?) aria-label="[^"]*"')
THEME_ICON = re.compile(r'(<i class="theme-switch [^"]*"[^>]*?) title="[^"]*"></i>')


BIBLIOENTRY = re.compile(r'(<div class="citation"[^>]*? )role="doc-biblioentry"')


TOC_SUMMARY = re.compile(r'<details( open="open")?><summary>(<span class="toctree-toggle")')
TOGGLE_SUMMARY = re.compile(r'<summary aria-label="Toggle hidden content">')


def fix_html(text: str) -> str:
    text = TOC_SUMMARY.sub(r'<details\1><summary aria-label="Show the pages of this section">\2',
                           text)
    text = TOGGLE_SUMMARY.sub("<summary>", text)
    text = SEARCH_FIELD.sub(r"\1", text)
    text = BIBLIOENTRY.sub(r'\1role="listitem"', text)
    text = THEME_ICON.sub(r'\1 aria-hidden="true"></i>', text)
    return text


def rewrite_pages(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    changed = 0
    for path in Path(app.outdir).rglob("*.html"):
        if "_static" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        new = fix_html(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    logger.info(f"[sld_a11y] accessible names fixed on {changed} pages")


def setup(app):
    app.connect("build-finished", rewrite_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
