"""Hypothesis runs derandomised: the property tests draw the same examples on every run and
machine, so a CI failure can be rerun exactly, and nothing is written to a .hypothesis/
example database. ``HYPOTHESIS_PROFILE=explore`` draws fresh random examples instead (for
hunting new counterexamples locally; a failure prints the example to pin as a regression)."""
import os

try:
    from hypothesis import settings
except ImportError:  # the benchmark's venv runs test_compiled_backend.py without hypothesis
    settings = None

if settings is not None:
    settings.register_profile("repeatable", derandomize=True, database=None)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
