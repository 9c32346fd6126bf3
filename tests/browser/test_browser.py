"""The real-browser test: every built page in headless Chromium, with the network blocked.

For each page of ``_build/html`` (served on 127.0.0.1) it checks that
- the page requests nothing from another host (every request is recorded; other hosts are
  unresolvable, see ``chromium_cdp.FLAGS``), and every local resource loads (no 404);
- the maths is typeset: MathJax is loaded from the site and finished, every Sphinx maths node
  holds a MathJax container, no MathJax error box, and no raw TeX is left in the visible text;
- every image decodes (``naturalWidth > 0``);
- the console shows no error and no uncaught exception.
Full-page screenshots of each page at 1280 and 400 CSS px are saved under
``_build/screenshots/`` for review (``chapters__01_deep_linear.1280.png`` and ``....400.png``; a
tall page continues in ``....1280.part2.png`` and so on).

The reader standard of the layout (``layout.py``), on every page:
- no display equation wider than the text column at 1280 px, none clipped at 1280 or 400 px
  (wider than its box and not in a horizontally scrollable box), no glyph cut by its box, and
  the page itself never scrolls sideways;
- every image in the article has alt text, and a raster image has at least 2x the pixels it is
  shown with (SVG is always sharp);
- at most 150 visible code lines (outside ``<details>``; removed cells are not in the page) and
  none over 88 characters;
- no serious or critical axe-core violation (``axe.py``; axe-core is pinned in package.json and
  installed by ``npm ci``; without it the test skips, except in CI, where it fails).

Also: the network block itself is tested (a remote script must fail to load and be reported),
the chapters opened straight from disk (``file://``, a copy on a USB stick) typeset their maths,
and the search page finds words offline.
"""
from __future__ import annotations

import re

import pytest

import axe
import layout
from chromium_cdp import Chromium, find_chromium
from pages import book_html, built_pages, chapter_pages, in_ci

WIDTHS = (1280, 400)

PAGES = built_pages(book_html()) or ["<no built book>"]

# Everything the page shows a reader after MathJax ran; maths, code and scripts excluded.
PROBE = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const mathNodes = [...document.querySelectorAll('.math')];
  let mathjax = 'absent';
  if (window.MathJax && window.MathJax.startup) {
    await window.MathJax.startup.promise;
    mathjax = window.MathJax.version || 'loaded';
  } else if (mathNodes.length) {
    // the script is deferred: give it a moment in case it has not started yet
    for (let i = 0; i < 100 && !(window.MathJax && window.MathJax.startup); i++) await sleep(100);
    if (window.MathJax && window.MathJax.startup) {
      await window.MathJax.startup.promise;
      mathjax = window.MathJax.version || 'loaded';
    }
  }
  await document.fonts.ready;
  const imgs = [...document.images];
  for (const img of imgs) img.loading = 'eager';
  await Promise.all(imgs.map(img => img.decode().catch(() => null)));

  const untypeset = mathNodes.filter(n => !n.querySelector('mjx-container'))
                             .map(n => n.textContent.trim().slice(0, 80));
  const merrors = [...document.querySelectorAll('mjx-merror')]
                    .map(n => (n.getAttribute('data-mjx-error') || n.textContent).slice(0, 80));
  const skip = 'script, style, pre, code, textarea, mjx-container, .highlight, .math';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement && !node.parentElement.closest(skip)) texts.push(node.nodeValue);
  }
  return {
    title: document.title,
    mathjax: mathjax,
    mathNodes: mathNodes.length,
    containers: document.querySelectorAll('mjx-container').length,
    untypeset: untypeset,
    merrors: merrors,
    text: texts.join(' '),
    images: imgs.map(img => ({src: img.getAttribute('src'), complete: img.complete,
                              w: img.naturalWidth, h: img.naturalHeight})),
  };
})()
"""

# TeX that MathJax should have consumed: \(..\), \[..\], $$, $..$ on one line, \begin{..},
# and TeX commands (\alpha, \frac ...); code, maths and scripts are not part of the text searched.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\$[^$\n]{1,200}?\$|\\begin\{|\\[a-zA-Z]{2,}\b")

# A Markdown table that was not rendered (smartquotes turn "---" into an em dash).
RAW_TABLE = re.compile(r"\|\s*(?::?-{3,}:?|—)\s*\|")


@pytest.fixture(scope="session")
def browser():
    binary = find_chromium()
    if binary is None:
        message = ("Chromium not found: the browser test needs Debian's `chromium` package "
                   "(apt-get install chromium) or CHROMIUM=/path/to/chrome")
        if in_ci():
            pytest.fail(message + "; in CI, .ci/run installs it")
        pytest.skip(message)
    with Chromium(binary) as chromium:
        yield chromium


@pytest.fixture(scope="session")
def screenshot_dir(html_dir):
    path = html_dir.parent / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _problems_from_events(events, origin):
    """Console errors, uncaught exceptions, failed and external requests."""
    problems = []
    requests = {}
    for ev in events:
        method, p = ev["method"], ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            problems.append(f"console.{p['type']}: {text[:300]}")
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text")
            problems.append(f"uncaught exception: {str(text)[:300]}")
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            e = p["entry"]
            problems.append(f"console error ({e.get('source')}): {e.get('text')} {e.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            requests[p["requestId"]] = url
            if not url.startswith((origin, "data:", "blob:", "about:")):
                problems.append(f"request to another host (the network is blocked): {url}")
        elif method == "Network.responseReceived" and p["response"]["status"] >= 400:
            problems.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            url = requests.get(p["requestId"], "?")
            if url.startswith(origin):  # other hosts are reported above already
                problems.append(f"failed to load {url}: {p.get('errorText')}")
    return problems


@pytest.fixture(scope="session")
def axe_source():
    source = axe.axe_source()
    if source is None:
        message = (f"axe-core not installed ({axe.AXE_JS} missing): run `npm ci` in the "
                   "repository (package.json pins it)")
        if in_ci():
            pytest.fail(message + "; in CI, .ci/run installs it")
        pytest.skip(message)
    return source


def _save_screenshots(pngs, screenshot_dir, stem: str, width: int) -> None:
    for old in screenshot_dir.glob(f"{stem}.{width}.part*.png"):
        old.unlink()
    for i, png in enumerate(pngs):  # a tall page: NAME.1280.png, NAME.1280.part2.png, ...
        name = f"{stem}.{width}.png" if i == 0 else f"{stem}.{width}.part{i + 1}.png"
        (screenshot_dir / name).write_bytes(png)


_MEASURED: dict[str, dict] = {}


def _measure(page_path, browser, book_server, screenshot_dir) -> dict:
    """Load the page at both widths once per session: what the page tests below look at."""
    if page_path in _MEASURED:
        return _MEASURED[page_path]
    stem = page_path[:-len(".html")].replace("/", "__")
    result = {"layout": {}}
    for width in WIDTHS:
        page = browser.new_page(width=width)
        try:
            page.navigate(f"{book_server}/{page_path}")
            if width == WIDTHS[0]:
                result["info"] = page.evaluate(PROBE)
            result["layout"][width] = page.evaluate(layout.LAYOUT_PROBE)
            pngs = page.screenshots()
            if width == WIDTHS[0]:
                result["events"] = _problems_from_events(page.events(), book_server)
        finally:
            page.close()
        _save_screenshots(pngs, screenshot_dir, stem, width)
    _MEASURED[page_path] = result
    return result


@pytest.mark.parametrize("page_path", PAGES)
def test_page_in_browser(page_path, browser, html_dir, book_server, screenshot_dir):
    if page_path == "<no built book>":
        pytest.fail(f"no built pages in {html_dir}: run `bash tools/book.sh` first")
    measured = _measure(page_path, browser, book_server, screenshot_dir)
    info, problems = measured["info"], list(measured["events"])

    if page_path in chapter_pages(html_dir) and not info["containers"]:
        problems.append("a chapter page with no typeset maths (no MathJax container)")
    if info["mathNodes"]:
        if info["mathjax"] == "absent":
            problems.append(f"{info['mathNodes']} maths nodes but MathJax did not load")
        if info["untypeset"]:
            problems.append(f"{len(info['untypeset'])} maths nodes not typeset, e.g. "
                            f"{info['untypeset'][:3]}")
        if info["containers"] < info["mathNodes"]:
            problems.append(f"only {info['containers']} MathJax containers for "
                            f"{info['mathNodes']} maths nodes")
    if info["merrors"]:
        problems.append(f"MathJax errors: {info['merrors'][:5]}")
    raw = list(RAW_TEX.finditer(info["text"]))
    if raw:
        shown = [" ".join(info["text"][max(m.start() - 30, 0):m.end() + 30].split())
                 for m in raw[:5]]
        problems.append(f"raw TeX left in the page text ({len(raw)} places), e.g.:\n    "
                        + "\n    ".join(shown))
    if RAW_TABLE.search(info["text"]):
        m = RAW_TABLE.search(info["text"])
        problems.append("raw Markdown table left in the page text: "
                        + " ".join(info["text"][max(m.start() - 60, 0):m.end() + 60].split()))
    for img in info["images"]:
        if not img["complete"] or img["w"] == 0:
            problems.append(f"image does not decode: {img['src']}")
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page_path", PAGES)
def test_page_layout(page_path, browser, html_dir, book_server, screenshot_dir):
    """Maths fits (or scrolls in its own box), images have alt text and density, the code a
    reader sees is short: the Edition 1 reader standard, measured at 1280 and 400 px."""
    if page_path == "<no built book>":
        pytest.fail(f"no built pages in {html_dir}: run `bash tools/book.sh` first")
    measured = _measure(page_path, browser, book_server, screenshot_dir)
    problems = layout.page_problems(measured["layout"][1280], measured["layout"][400])
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page_path", PAGES)
def test_page_accessibility(page_path, browser, html_dir, book_server, axe_source):
    """No serious or critical axe-core violation (WCAG 2 A/AA and best-practice rules)."""
    if page_path == "<no built book>":
        pytest.fail(f"no built pages in {html_dir}: run `bash tools/book.sh` first")
    page = browser.new_page()
    try:
        page.navigate(f"{book_server}/{page_path}")
        page.evaluate(PROBE)  # MathJax done, fonts and images loaded
        violations = axe.run_axe(page, axe_source)
        page.events()
    finally:
        page.close()
    bad = axe.serious(violations)
    assert not bad, f"{page_path}:\n  " + "\n  ".join(axe.describe(v) for v in bad)


def test_every_chapter_screenshot(browser, html_dir, screenshot_dir):
    """Runs after the page tests (file order): each chapter left non-empty screenshots at
    both widths."""
    chapters = chapter_pages(html_dir)
    assert chapters, f"no chapter pages (chapters/NN_*.html) in {html_dir}"
    for page_path in chapters:
        stem = page_path[:-len(".html")].replace("/", "__")
        for width in WIDTHS:
            shot = screenshot_dir / f"{stem}.{width}.png"
            assert shot.is_file() and shot.stat().st_size > 10_000, \
                f"no {width} px screenshot for {page_path}"


def test_network_is_really_blocked(browser, book_server):
    """The block itself works: a page that asks for a remote script gets nothing and the
    request is seen, so a page that passes above truly did not depend on the network."""
    page = browser.new_page()
    try:
        page.navigate(f"{book_server}/intro.html")
        loaded = page.evaluate("""new Promise(resolve => {
            const s = document.createElement('script');
            s.src = 'https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js';
            s.onload = () => resolve(true); s.onerror = () => resolve(false);
            document.head.appendChild(s);
            setTimeout(() => resolve('timeout'), 20000);
        })""")
        problems = _problems_from_events(page.events(), book_server)
    finally:
        page.close()
    assert loaded is False, f"a remote script loaded or hung ({loaded}): the network is not blocked"
    assert any("another host" in p for p in problems), problems



def _typeset_problems(info: dict) -> list[str]:
    problems = []
    if info["mathNodes"] and (info["untypeset"] or info["mathjax"] == "absent"):
        problems.append(f"maths not typeset: {info['untypeset'][:3]}")
    return problems


def test_book_opens_from_disk(browser, html_dir):
    """Readers copy _build/html to a USB stick: pages opened as file:// (no server at all)
    still typeset their maths and load nothing from elsewhere."""
    problems = []
    for page_path in ["intro.html", *chapter_pages(html_dir)]:
        page = browser.new_page()
        try:
            page.navigate((html_dir / page_path).as_uri())
            info = page.evaluate(PROBE)
            found = _problems_from_events(page.events(), "file://") + _typeset_problems(info)
        finally:
            page.close()
        problems += [f"{page_path}: {p}" for p in found]
    assert not problems, "\n".join(problems)


def test_search_works_offline(browser, book_server):
    """The search box works without network: a query for a word of the book finds pages."""
    page = browser.new_page()
    try:
        page.navigate(f"{book_server}/search.html?q=gradient")
        hits = page.evaluate("""(async () => {
            for (let i = 0; i < 200; i++) {
                const n = document.querySelectorAll('#search-results li').length;
                if (n) return n;
                await new Promise(r => setTimeout(r, 50));
            }
            return 0;
        })()""")
        problems = _problems_from_events(page.events(), book_server)
    finally:
        page.close()
    assert hits > 0, "searching the book for 'gradient' found nothing"
    assert not problems, problems
