"""theorylib.symbolic helpers and the claims registry."""
import subprocess
import sys

import pytest
import sympy as sp

from theorylib import claims
from theorylib.symbolic import (
    gradient, gradient_flow, hessian, is_zero, matrix_symbols, symmetric_matrix_symbols, time_derivative,
)


def test_gradient_flow_of_quadratic():
    """Regression: an integer tau made the flow float-valued (-0.5*x), breaking exact checks."""
    x, y = sp.symbols("x y")
    (fx, fy) = gradient_flow(x**2 + 3 * x * y, [x, y], tau=2)
    assert fx == sp.Matrix([-(2 * x + 3 * y) / 2]) and fy == sp.Matrix([-3 * x / 2])


def test_matrix_gradient_shape_and_values():
    W = matrix_symbols("w", 2, 3)
    g = gradient(sum(e**2 for e in W) / 2, W)
    assert g == W


def test_time_derivative_detects_non_conserved():
    a, b = sp.symbols("a b")
    flows = gradient_flow((1 - a * b) ** 2 / 2, [a, b])
    assert is_zero(time_derivative(a**2 - b**2, [a, b], flows))
    assert not is_zero(time_derivative(a**2 + b**2, [a, b], flows))


def test_hessian_at_point():
    a, b = sp.symbols("a b")
    assert hessian((1 - a * b) ** 2 / 2, [a, b], {a: 0, b: 0}) == sp.Matrix([[0, -1], [-1, 0]])


def test_symmetric_matrix_symbols():
    S = symmetric_matrix_symbols("c", 3, real=True)
    assert S == S.T and len(S.free_symbols) == 6 and S[0, 2].name == "c_13"


def test_helpers_reject_bad_input():
    with pytest.raises(ValueError):
        symmetric_matrix_symbols("c", 0)
    a = sp.symbols("a")
    with pytest.raises(ValueError):
        matrix_symbols("w", 0, 2)
    with pytest.raises(ValueError):
        gradient_flow(a**2, [a], rates=[1, 2])
    with pytest.raises(ValueError):
        time_derivative(a, [a], [])


def test_claims_pass_and_fail_correctly():
    @claim_numeric("test-pass", tol=1e-3)
    def _():
        return 1e-4

    @claim_numeric("test-fail", tol=1e-3)
    def _():
        return 1e-2

    @claims.claim("test-sym-fail", "test", "symbolic", "x is not zero")
    def _():
        return sp.Symbol("x")

    assert claims.check("test-pass").passed
    assert not claims.check("test-fail").passed
    r = claims.check("test-sym-fail")
    assert not r.passed and r.error == 1.0
    for label in ("test-pass", "test-fail", "test-sym-fail"):
        claims._REGISTRY.pop(label)


def claim_numeric(label, tol):
    return claims.claim(label, "test", "numeric", "a test claim", tol=tol)


def test_claim_registration_errors():
    with pytest.raises(ValueError):
        claims.claim("x", "test", "numeric", "no tolerance")
    with pytest.raises(ValueError):
        claims.claim("x", "test", "guess", "bad kind")
    with pytest.raises(KeyError):
        claims.check("no-such-claim")


def test_verify_cli_exit_codes():
    ok = subprocess.run([sys.executable, "-m", "theorylib", "verify", "ch01"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ch01-gd-mode-strength" in ok.stdout and "failed" in ok.stdout
    none = subprocess.run([sys.executable, "-m", "theorylib", "verify", "no-such-chapter"], capture_output=True, text=True)
    assert none.returncode == 1  # a run that checked nothing is not a pass


def test_theory_never_imports_sim():
    import pathlib
    import re

    root = pathlib.Path(claims.__file__).parent / "theory"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(theorylib\.sim|\.\.sim)", text, re.M), path
