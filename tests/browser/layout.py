"""Layout measurements of a rendered page, shared by the browser test and ``tools/preview.sh``.

``LAYOUT_PROBE`` runs in the page (after MathJax, fonts and images are ready) and returns what a
reader would notice at the current viewport width:

- ``column``: the text column (``article.bd-article`` content box: left, width);
- ``displays``: every display equation (MathJax 3 CHTML ``mjx-container[display="true"]``) with
  its Sphinx label (``div.math`` id), equation number, the first characters of its TeX, the width
  of its ink (union of the glyph boxes, the equation number excluded), the width of the box that
  shows it, and whether it is *clipped*: wider than the box it sits in while no ancestor scrolls
  horizontally (so part of it cannot be seen) or reaching past the viewport;
- ``inlines``: inline formulas that are cut off (they cannot wrap; one wider than the room it
  has runs past the column, where a box with hidden overflow or the viewport cuts it);
- ``images``: every image in the article: alt text, natural and displayed width, SVG or raster;
- ``code``: every visible code-cell input (outside ``<details>``, rendered and displayed): its
  lines; removed cells are not in the HTML at all, hidden ones sit in ``<details>``.

``problems(...)`` turns one or two measurements into readable problem strings; the thresholds are
the book's reader standard (COMMON: at most 150 visible code lines, none over 88 characters; no
display wider than the column at 1280 px; nothing clipped at 400 px; alt text; rasters >= 2x).
"""
from __future__ import annotations

MAX_CODE_LINES = 150
MAX_LINE_CHARS = 88
MIN_DENSITY = 2.0

LAYOUT_PROBE = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  if (document.querySelector('.math')) {
    for (let i = 0; i < 100 && !(window.MathJax && window.MathJax.startup); i++) await sleep(100);
  }
  if (window.MathJax && window.MathJax.startup) await window.MathJax.startup.promise;
  await document.fonts.ready;
  const imgs = [...document.images];
  for (const img of imgs) img.loading = 'eager';
  await Promise.all(imgs.map(img => img.decode().catch(() => null)));
  await sleep(50);

  const vw = document.documentElement.clientWidth;
  const article = document.querySelector('article.bd-article') || document.querySelector('main')
                  || document.body;
  const acs = getComputedStyle(article);
  const arect = article.getBoundingClientRect();
  const column = {
    left: arect.left + parseFloat(acs.paddingLeft),
    width: article.clientWidth - parseFloat(acs.paddingLeft) - parseFloat(acs.paddingRight),
  };

  // TeX source of each typeset container (MathJax keeps it in its math list)
  const texOf = new Map();
  try {
    for (const item of MathJax.startup.document.math) {
      if (item.typesetRoot) texOf.set(item.typesetRoot, item.math);
    }
  } catch (e) {}

  const scrollsX = el => {
    const o = getComputedStyle(el).overflowX;
    return o === 'auto' || o === 'scroll';
  };
  const clipsX = el => {
    const o = getComputedStyle(el).overflowX;
    return o === 'hidden' || o === 'clip';
  };

  const displays = [];
  for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
    if (!c.getClientRects().length) continue;            // inside a closed dropdown
    let left = Infinity, right = -Infinity, top = Infinity, bottom = -Infinity;
    for (const g of c.querySelectorAll('mjx-c')) {
      // the number's column, and the repeated extender pieces of stretchy delimiters (each
      // a tall glyph clipped by its mjx-ext box) are not ink of the equation
      if (g.closest('mjx-labels') || g.closest('mjx-ext')) continue;
      for (const r of g.getClientRects()) {
        if (r.width === 0) continue;
        left = Math.min(left, r.left); right = Math.max(right, r.right);
        top = Math.min(top, r.top); bottom = Math.max(bottom, r.bottom);
      }
    }
    if (!isFinite(left)) continue;
    const ink = right - left;
    const mathDiv = c.closest('div.math');
    const eqno = mathDiv && mathDiv.querySelector('.eqno');
    // the box that shows it, and whether an ancestor (up to the article) scrolls horizontally
    const box = c.getBoundingClientRect();
    let scrollable = null, clipper = null;
    for (let el = c; el && el !== document.body; el = el.parentElement) {
      if (scrollsX(el) && el.scrollWidth > el.clientWidth + 1) { scrollable = el; break; }
      if (scrollsX(el)) { scrollable = el; break; }
      if (!clipper && clipsX(el)) clipper = el;
      if (el === article) break;
    }
    // visible area: the container's own box, cut by the viewport and by a clipping ancestor
    let visL = Math.max(box.left, 0), visR = Math.min(box.right, vw);
    if (clipper) {
      const cr = clipper.getBoundingClientRect();
      visL = Math.max(visL, cr.left); visR = Math.min(visR, cr.right);
    }
    let clipped = false;
    if (scrollable) {
      // inside a horizontally scrolling box: fine, unless the box itself leaves the viewport
      const sr = scrollable.getBoundingClientRect();
      clipped = sr.right > vw + 1 || sr.left < -1;
    } else {
      clipped = left < visL - 1 || right > visR + 1;
    }
    // a scroll box clips at its padding edge: glyph boxes flush with it lose the ink that
    // reaches past them (the top bar of a superscript transpose looked like a broken bar)
    const headroom = (scrollsX(c) || clipsX(c))
      ? Math.min(top - box.top - c.clientTop, box.top + c.clientTop + c.clientHeight - bottom)
      : 99;
    const tex = (texOf.get(c) || (mathDiv ? mathDiv.textContent : c.textContent) || '')
                  .replace(/\s+/g, ' ').trim();
    const prf = c.closest('.proof, .theorem, .lemma, .proposition, .corollary, .definition, '
                          + '[class*="prf-"], .admonition');
    displays.push({
      label: mathDiv && mathDiv.id ? mathDiv.id.replace(/^equation-/, '') : '',
      number: eqno ? eqno.textContent.replace(/\s+/g, ' ').replace(/[#¶]/g, '').trim() : '',
      tex: tex.slice(0, 70),
      ink: Math.round(ink),
      box: Math.round(box.width),
      column: Math.round(column.width),
      inBox: prf ? (prf.className.split(' ')[0] || 'box') : '',
      clipped: clipped,
      headroom: Math.round(headroom * 10) / 10,
      scrollable: !!scrollable,
      top: Math.round(box.top + window.scrollY),
    });
  }

  // inline maths cannot wrap: one wider than the room left to it runs past the column, where
  // a box with overflow hidden (theorem boxes, span.math itself) or the viewport cuts it off
  const inlines = [];
  for (const c of document.querySelectorAll('mjx-container:not([display="true"])')) {
    if (!c.getClientRects().length || c.closest('mjx-container[display="true"]')) continue;
    let left = Infinity, right = -Infinity;
    for (const g of c.querySelectorAll('mjx-c')) {
      if (g.closest('mjx-ext')) continue;
      for (const r of g.getClientRects()) {
        if (r.width === 0) continue;
        left = Math.min(left, r.left); right = Math.max(right, r.right);
      }
    }
    if (!isFinite(left)) continue;
    let visL = 0, visR = vw, scrolls = false;
    for (let el = c.parentElement; el && el !== document.documentElement; el = el.parentElement) {
      if (scrollsX(el)) { scrolls = true; break; }
      if (clipsX(el)) {
        const er = el.getBoundingClientRect();
        visL = Math.max(visL, er.left); visR = Math.min(visR, er.right);
      }
    }
    if (!scrolls && (right > visR + 1 || left < visL - 1)) {
      const mathSpan = c.closest('span.math');
      inlines.push({
        tex: ((texOf.get(c) || (mathSpan || c).textContent || '').replace(/\s+/g, ' ')
              .trim()).slice(0, 70),
        ink: Math.round(right - left), hidden: Math.round(Math.max(right - visR, visL - left)),
        top: Math.round(c.getBoundingClientRect().top + window.scrollY),
      });
    }
  }

  const images = [];
  for (const img of article.querySelectorAll('img')) {
    const r = img.getBoundingClientRect();
    const src = img.getAttribute('src') || '';
    images.push({
      src: src.split('/').pop(),
      alt: img.getAttribute('alt'),
      svg: /\.svg(\?|#|$)/i.test(src) || src.startsWith('data:image/svg'),
      natural: img.naturalWidth,
      shown: Math.round(r.width),
      visible: r.width > 0,
      top: Math.round(r.top + window.scrollY),
    });
  }

  const code = [];
  for (const pre of article.querySelectorAll('div.cell_input pre, div.cell .input pre')) {
    if (pre.closest('details')) continue;
    if (!pre.getClientRects().length) continue;            // hidden (toggle, dropdown)
    const lines = pre.textContent.replace(/\n+$/, '').split('\n');
    code.push({lines: lines, top: Math.round(pre.getBoundingClientRect().top + window.scrollY)});
  }
  return {viewport: vw, column: column, displays: displays, inlines: inlines, images: images,
          code: code,
          pageWidth: document.documentElement.scrollWidth};
})()
"""


def display_name(d: dict) -> str:
    name = d["number"] or "(unnumbered)"
    if d["label"]:
        name += f" [{d['label']}]"
    return f"{name} `{d['tex'][:60]}`"


def too_wide(info: dict) -> list[dict]:
    """Displays whose ink is wider than the text column (use at 1280 px)."""
    return [d for d in info["displays"] if d["ink"] > info["column"]["width"] + 1]


def clipped(info: dict) -> list[dict]:
    """Displays a reader cannot see in full: wider than their box and not scrollable."""
    return [d for d in info["displays"] if d["clipped"]]


def cut_vertically(info: dict) -> list[dict]:
    """Displays whose glyphs touch the top or bottom of their scroll box (ink gets cut)."""
    return [d for d in info["displays"] if d.get("headroom", 99) < 1]


def image_problems(info: dict) -> list[str]:
    out = []
    for img in info["images"]:
        if not (img["alt"] or "").strip():
            out.append(f"image without alt text: {img['src']}")
        if not img["svg"] and img["visible"] and img["natural"] < MIN_DENSITY * img["shown"]:
            out.append(f"raster image under {MIN_DENSITY:g}x density: {img['src']} "
                       f"({img['natural']} px drawn at {img['shown']} CSS px)")
    return out


def code_summary(info: dict) -> tuple[int, list[str]]:
    """Visible code lines in total, and the lines over MAX_LINE_CHARS."""
    total, long_lines = 0, []
    for block in info["code"]:
        total += len(block["lines"])
        long_lines += [line for line in block["lines"] if len(line) > MAX_LINE_CHARS]
    return total, long_lines


def page_problems(wide: dict, narrow: dict | None = None) -> list[str]:
    """Reader-standard problems from a measurement at 1280 px and (optionally) one at 400 px."""
    problems = []
    for d in too_wide(wide):
        problems.append(f"display wider than the text column at {wide['viewport']} px "
                        f"({d['ink']} > {d['column']} px): {display_name(d)}")
    for info in (wide, narrow):
        if info is None:
            continue
        for d in clipped(info):
            problems.append(f"display clipped at {info['viewport']} px (ink {d['ink']} px in a "
                            f"{d['box']} px box, not scrollable): {display_name(d)}")
        for d in cut_vertically(info):
            problems.append(f"display glyphs touch the edge of their scroll box at "
                            f"{info['viewport']} px ({d['headroom']} px room; ink is cut off): "
                            f"{display_name(d)}")
        for d in info.get("inlines", []):
            problems.append(f"inline maths cut off at {info['viewport']} px ({d['hidden']} of "
                            f"{d['ink']} px not visible): `{d['tex'][:60]}`")
        if info["pageWidth"] > info["viewport"] + 1:
            problems.append(f"the page scrolls sideways at {info['viewport']} px "
                            f"({info['pageWidth']} px wide)")
    problems += image_problems(wide)
    total, long_lines = code_summary(wide)
    if total > MAX_CODE_LINES:
        problems.append(f"{total} visible code lines (at most {MAX_CODE_LINES})")
    for line in long_lines:
        problems.append(f"visible code line of {len(line)} > {MAX_LINE_CHARS} characters: "
                        f"{line.strip()[:70]}")
    return problems
