"""Closed forms, one module per topic. Never imports :mod:`theorylib.sim`."""
from . import deep_linear  # noqa: F401
