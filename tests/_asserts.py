"""Small assertion helpers shared by the tests."""
import contextlib
import re
import warnings

import pytest


def raises(msg):
    """``pytest.raises(ValueError)`` for the whole message ``msg``, not a fragment: a prefix or
    suffix glued to it is a different message."""
    return pytest.raises(ValueError, match="^" + re.escape(msg) + "$")


@contextlib.contextmanager
def no_warnings():
    """A context in which any warning (overflow, invalid value, divide by zero) is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
