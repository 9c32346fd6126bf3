"""Drive a headless Chromium through the Chrome DevTools Protocol over a pipe.

Why this and not Selenium or Playwright: it needs nothing but the standard library and the
``chromium`` binary from the operating system's packages. There is no driver whose version must
match the browser (chromedriver), no browser download (Playwright), and the protocol gives
direct access to what the book's browser test checks: console messages, uncaught exceptions,
every network request, and full-page screenshots. ``--remote-debugging-pipe`` is the transport
Puppeteer and Playwright use themselves: JSON messages separated by NUL bytes, written to the
browser on file descriptor 3 and read from it on file descriptor 4.

Usage::

    with Chromium() as browser:
        page = browser.new_page()
        page.navigate("http://127.0.0.1:8000/index.html")
        value = page.evaluate("document.title")
        pngs = page.screenshots()
        page.close()
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

#: Flags for a headless browser on a machine with no network. Without the background-networking
#: flags Chromium keeps trying to reach Google's services; ``--host-resolver-rules`` makes every
#: host but 127.0.0.1 (where the test serves the book) unresolvable, so a page that references another site fails to load it
#: (and the test, which records every request, reports it).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class CDPError(RuntimeError):
    """The browser answered a command with an error, died, or did not answer in time."""


def find_chromium() -> str | None:
    """Path of a Chromium binary: ``$CHROMIUM`` if set, else the first one on ``PATH``."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless Chromium process controlled over ``--remote-debugging-pipe``."""

    def __init__(self, binary: str | None = None, timeout: float = 60.0):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise FileNotFoundError("no Chromium binary found (set CHROMIUM or install chromium)")
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict] = []  # events not yet consumed, in arrival order
        self._profile = tempfile.TemporaryDirectory(prefix="sld-chromium-")
        self.log_path = Path(self._profile.name) / "chromium.log"
        # to_browser: we write, Chromium reads on fd 3; from_browser: Chromium writes on fd 4.
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()

        def child_fds():  # runs in the child between fork and exec
            a, b = os.dup(to_r), os.dup(from_w)  # move out of the way of 3 and 4 first
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        cmd = [self.binary, *FLAGS, f"--user-data-dir={self._profile.name}/profile",
               "--remote-debugging-pipe", "about:blank"]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=child_fds,
                                     close_fds=False)
        os.close(to_r)
        os.close(from_w)
        self.version = self.send("Browser.getVersion")

    # -- transport ---------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_r], [], [], min(left, 1.0))
            if not ready:
                if self.proc.poll() is not None:
                    raise CDPError(f"Chromium exited with code {self.proc.returncode}; "
                                   f"log: {self.log_tail()}")
                continue
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                raise CDPError(f"Chromium closed the pipe; log: {self.log_tail()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str | None = None,
                   timeout: float | None = None) -> dict:
        """Wait for (and consume) the first event ``method`` of ``session``."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == method and ev.get("sessionId") == session:
                    return self.events.pop(i)
            msg = self._read_message(deadline)
            if "method" in msg:
                self.events.append(msg)

    def take_events(self, session: str) -> list[dict]:
        """Remove and return every buffered event of ``session``."""
        mine = [e for e in self.events if e.get("sessionId") == session]
        self.events = [e for e in self.events if e.get("sessionId") != session]
        return mine

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    # -- pages ---------------------------------------------------------------------------------
    def new_page(self, width: int = 1280, height: int = 900) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        return page

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", timeout=10)
            except (CDPError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._to_w, self._from_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Page:
    """One tab, attached in flat mode: commands carry its session id."""

    def __init__(self, browser: Chromium, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session

    def send(self, method: str, params: dict | None = None, timeout: float | None = None):
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def navigate(self, url: str, timeout: float = 60.0) -> None:
        """Load ``url`` and wait for its ``load`` event."""
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        self.browser.wait_event("Page.loadEventFired", self.session, timeout=timeout)

    def evaluate(self, expression: str, timeout: float = 60.0):
        """Evaluate JavaScript (awaiting a returned promise) and return its JSON value."""
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"JavaScript error: {text}")
        return result["result"].get("value")

    def screenshots(self, segment: int = 10000) -> list[bytes]:
        """PNGs of the whole page, top to bottom, each at most ``segment`` CSS pixels tall
        (one image for most pages; Chromium cannot capture arbitrarily tall images)."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = int(metrics["cssLayoutViewport"]["clientWidth"])
        height = max(int(size["height"]), 1)
        shots = []
        for top in range(0, height, segment):
            shot = self.send("Page.captureScreenshot",
                             {"format": "png", "captureBeyondViewport": True,
                              "clip": {"x": 0, "y": top, "width": width,
                                       "height": min(segment, height - top), "scale": 1}})
            shots.append(base64.b64decode(shot["data"]))
        return shots

    def events(self) -> list[dict]:
        return self.browser.take_events(self.session)

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})
