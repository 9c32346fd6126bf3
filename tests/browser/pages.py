"""Find the pages of a built book and read what the browser test needs from them."""
from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent.parent
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", "_panels_static"}
CHAPTER_RE = re.compile(r"^(\d\d)_.*\.html$")


def in_ci() -> bool:
    """CI runs .ci/run with CI=true."""
    return os.environ.get("CI", "").lower() == "true"


def book_html() -> Path:
    """The built book under test: $SLD_BOOK_HTML, default _build/html of this checkout."""
    return Path(os.environ.get("SLD_BOOK_HTML", ROOT / "_build" / "html")).resolve()


def is_redirect(path: Path) -> bool:
    head = path.read_text(errors="replace")[:2000].lower()
    return 'http-equiv="refresh"' in head


def built_pages(html_dir: Path) -> list[str]:
    """Every HTML page of the build (relative POSIX paths), redirect stubs excluded."""
    if not html_dir.is_dir():
        return []
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if rel.parts[0] in SKIP_DIRS or is_redirect(path):
            continue
        pages.append(rel.as_posix())
    return pages


def chapter_pages(html_dir: Path) -> list[str]:
    return [p for p in built_pages(html_dir)
            if p.startswith("chapters/") and CHAPTER_RE.match(p.split("/")[-1])]


def is_external(url: str) -> bool:
    """True for a URL that leaves the site: another scheme+host, or protocol-relative."""
    url = url.strip()
    if url.startswith("//"):
        return True
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ftp", "ws", "wss")


class ResourceParser(HTMLParser):
    """Collect what a page loads: scripts, stylesheets, images, iframes, preloads."""

    def __init__(self):
        super().__init__()
        self.resources: list[tuple[str, str]] = []  # (tag description, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.resources.append(("script", a["src"]))
        elif tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower().split()
            if {"stylesheet", "preload", "modulepreload", "icon", "manifest"} & set(rel):
                self.resources.append((f"link rel={'/'.join(rel)}", a["href"]))
        elif tag in ("img", "iframe", "embed", "source", "audio", "video") and a.get("src"):
            self.resources.append((tag, a["src"]))
        elif tag == "object" and a.get("data"):
            self.resources.append((tag, a["data"]))


def external_resources(path: Path) -> list[tuple[str, str]]:
    parser = ResourceParser()
    parser.feed(path.read_text(errors="replace"))
    return [(kind, url) for kind, url in parser.resources if is_external(url)]
