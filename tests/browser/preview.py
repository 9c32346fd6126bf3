"""Screenshots and a layout report of built pages (used by ``tools/preview.sh``).

    python tests/browser/preview.py HTML_DIR PAGE.html [PAGE2.html ...] --shots DIR

Serves HTML_DIR on 127.0.0.1 (an ephemeral port, so several previews can run at once), opens
each page in headless Chromium at 1280 and 400 CSS px, writes full-page screenshots
(``NAME.1280.png``, ``NAME.400.png``; a tall page continues in ``NAME.1280.part2.png`` ...) and
prints what a reader would notice (see ``layout.py``). Exit status 0 whatever it finds: a preview
reports, the browser test fails.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import axe  # noqa: E402
from chromium_cdp import Chromium  # noqa: E402
from layout import (LAYOUT_PROBE, MAX_CODE_LINES, MAX_LINE_CHARS, clipped,  # noqa: E402
                    code_summary, cut_vertically, display_name, image_problems,
                    too_wide)

WIDTHS = (1280, 400)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path):
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def save_shots(pngs: list[bytes], shots: Path, stem: str, width: int) -> list[Path]:
    for old in shots.glob(f"{stem}.{width}*.png"):
        old.unlink()
    paths = []
    for i, png in enumerate(pngs):
        p = shots / (f"{stem}.{width}.png" if i == 0 else f"{stem}.{width}.part{i + 1}.png")
        p.write_bytes(png)
        paths.append(p)
    return paths


def measure(browser: Chromium, url: str, width: int,
            axe_js: str | None = None) -> tuple[dict, list[bytes]]:
    page = browser.new_page(width=width)
    try:
        page.navigate(url)
        info = page.evaluate(LAYOUT_PROBE)
        pngs = page.screenshots()
        if axe_js:
            info["axe"] = axe.run_axe(page, axe_js)
    finally:
        page.close()
    return info, pngs


def report(page_path: str, infos: dict[int, dict], shot_paths: list[Path]) -> str:
    wide, narrow = infos[1280], infos[400]
    out = [f"== {page_path}",
           f"text column at 1280 px: {wide['column']['width']:.0f} CSS px; "
           f"at 400 px: {narrow['column']['width']:.0f} CSS px",
           f"display equations: {len(wide['displays'])}"]
    tw = too_wide(wide)
    out.append(f"-- wider than the text column at 1280 px: {len(tw)}")
    out += [f"   {d['ink']:4d} px > {d['column']} px  {display_name(d)}"
            + (f"  (in {d['inBox']})" if d['inBox'] else "") for d in tw]
    for w in WIDTHS:
        cl = clipped(infos[w])
        out.append(f"-- clipped at {w} px (wider than its box, not scrollable): {len(cl)}")
        out += [f"   ink {d['ink']:4d} px in a {d['box']} px box  {display_name(d)}"
                + (f"  (in {d['inBox']})" if d['inBox'] else "") for d in cl]
        cut = cut_vertically(infos[w])
        if cut:
            out.append(f"-- glyphs touching the edge of their scroll box at {w} px (cut): {len(cut)}")
            out += [f"   {d['headroom']} px room  {display_name(d)}" for d in cut]
        inl = infos[w].get("inlines", [])
        if inl:
            out.append(f"-- inline maths cut off at {w} px: {len(inl)}")
            out += [f"   {d['hidden']} of {d['ink']} px hidden  `{d['tex'][:60]}`" for d in inl]
        if infos[w]["pageWidth"] > infos[w]["viewport"] + 1:
            out.append(f"   the whole page scrolls sideways at {w} px "
                       f"({infos[w]['pageWidth']} px wide)")
    scroll = [d for d in narrow["displays"] if d["scrollable"] and d["ink"] > d["box"] + 1]
    out.append(f"-- scroll sideways in their own box at 400 px (fine): {len(scroll)}")
    imgs = image_problems(wide)
    out.append(f"-- images: {len(wide['images'])}, problems: {len(imgs)}")
    out += [f"   {p}" for p in imgs]
    total, long_lines = code_summary(wide)
    flag = "  TOO MANY" if total > MAX_CODE_LINES else ""
    out.append(f"-- visible code: {total} lines in {len(wide['code'])} cells "
               f"(at most {MAX_CODE_LINES}){flag}; lines over {MAX_LINE_CHARS} chars: "
               f"{len(long_lines)}")
    out += [f"   {len(line)} chars: {line.strip()[:80]}" for line in long_lines]
    if "axe" in wide:
        bad = axe.serious(wide["axe"])
        out.append(f"-- axe-core: {len(bad)} serious/critical violations "
                   f"({len(wide['axe']) - len(bad)} minor/moderate, not checked)")
        out += [f"   {axe.describe(v)}" for v in bad]
    else:
        out.append("-- axe-core: not installed (run `npm ci`), not checked")
    out.append("-- screenshots:")
    out += [f"   {p}" for p in shot_paths]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("html_dir", type=Path)
    ap.add_argument("pages", nargs="+")
    ap.add_argument("--shots", type=Path, required=True)
    args = ap.parse_args(argv)
    args.shots.mkdir(parents=True, exist_ok=True)
    axe_js = axe.axe_source()
    server, origin = serve(args.html_dir)
    try:
        with Chromium() as browser:
            for page_path in args.pages:
                stem = page_path[:-len(".html")].replace("/", "__")
                infos, paths = {}, []
                for w in WIDTHS:
                    infos[w], pngs = measure(browser, f"{origin}/{page_path}", w,
                                             axe_js if w == WIDTHS[0] else None)
                    paths += save_shots(pngs, args.shots, stem, w)
                print(report(page_path, infos, paths))
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
