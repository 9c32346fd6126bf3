"""Tests of the BUILT book (``_build/html``): they run after ``bash tools/book.sh``.

They are collected only when this folder is named on the command line::

    python -m pytest tests/browser              # after bash tools/book.sh

so the plain ``pytest`` of ``tools/test.sh`` (which runs before the build) does not see them.
``SLD_BOOK_HTML`` points them at another build (default: ``_build/html`` of this checkout).
A missing build is a failure, not a skip. Without Chromium the browser test skips with a
message, except in CI (``CI=true``), where ``.ci/run`` installs it and its absence fails.
"""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from pages import book_html

HERE = Path(__file__).resolve().parent


def _named_on_command_line(config) -> bool:
    base = Path(config.invocation_params.dir)
    for arg in config.invocation_params.args:
        if arg.startswith("-"):
            continue
        path = (base / arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".py" and HERE in collection_path.parents \
            and not _named_on_command_line(config):
        return True
    return None


@pytest.fixture(scope="session")
def html_dir() -> Path:
    path = book_html()
    if not (path / "intro.html").is_file():
        pytest.fail(f"no built book in {path}: run `bash tools/book.sh` first "
                    "(or set SLD_BOOK_HTML to a build's html folder)")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        # Chromium asks every new site for /favicon.ico on its own; the book links none, and a
        # 404 for it would show as a console error that no page of the book caused.
        if self.path == "/favicon.ico" and not (Path(self.directory) / "favicon.ico").exists():
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture(scope="session")
def book_server(html_dir):
    """Serve the built book on 127.0.0.1 (an ephemeral port) for the browser."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
