"""A wall-clock limit for tests of code that could loop forever (a mutant, or a regression).

``with time_limit(4.0): ...`` fails the test after 4 s instead of hanging the suite, so an endless
loop is a quick failure that mutmut and CI report as such. The alarm is ``SIGALRM`` through
``signal.setitimer`` (POSIX); a timer that was already running gets its remaining time back.
Without ``setitimer`` the body runs unguarded (``needs_alarm`` skips a test that relies on it).
"""
import contextlib
import signal
import time

import pytest

HAS_ALARM = hasattr(signal, "setitimer")
needs_alarm = pytest.mark.skipif(not HAS_ALARM, reason="needs signal.setitimer (POSIX)")


@contextlib.contextmanager
def time_limit(seconds):
    """Fail (not hang) if the body runs longer than ``seconds`` of wall-clock time."""
    if not HAS_ALARM:
        yield
        return

    def on_alarm(signum, frame):
        pytest.fail(f"still running after {seconds} s: an endless loop?", pytrace=False)

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, old_handler)
            if old_delay > 0:  # someone else's timer was running: give it its remaining time
                left = max(old_delay - (time.monotonic() - start), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, left, old_interval)
