"""Mutation-driven tests for ``theory.linear_attention.unbalanced_drop_time`` (rerun 3, part a).

Reference: the docstring's quadrature ``t = τ ∫ dv / ((v² − δ)(λ² − λ³c v (v² − δ)))`` from ``v0`` to the
midpoint ``v (v² − δ) = (1 − 1/√2)/(λc)``, evaluated independently with mpmath (``v² − δ`` written as
``κ0² + (v − v0)(v + v0)``, so no cancellation; variable ``ln v``; midpoint by bisection).
"""
import math

import mpmath as mp
import pytest

from _wallclock import time_limit
from theorylib.theory.linear_attention import separate_drop_time, unbalanced_drop_time

MID = 1 - 1 / math.sqrt(2)


def _c(lam, tr, N):
    return 1 + (1 + tr / lam) / N


def _reference(lam, tr, N, v0, k0, tau=1.0, dps=30):
    with mp.workdps(dps):
        lam, tr, N, v0, k0, tau = map(mp.mpf, (lam, tr, N, v0, k0, tau))
        c = 1 + (1 + tr / lam) / N
        target = (1 - 1 / mp.sqrt(2)) / (lam * c)

        def kap2(v):  # v² − δ
            return k0**2 + (v - v0) * (v + v0)

        def f(r):
            v = mp.e**r
            return mp.log(v * kap2(v)) - mp.log(target)

        lo = mp.log(v0)
        hi = lo + 1
        while f(hi) < 0:
            hi = lo + 2 * (hi - lo)
        a, b = lo, hi
        for _ in range(int(mp.mp.prec) + 40):
            m = (a + b) / 2
            if f(m) < 0:
                a = m
            else:
                b = m
        r_mid = (a + b) / 2

        def g(r):  # dt/d(ln v)
            v = mp.e**r
            k2 = kap2(v)
            return tau * v / (k2 * lam**2 * (1 - lam * c * v * k2))

        return float(mp.quad(g, mp.linspace(lo, r_mid, 8)))


CASES = [
    # (lam, tr, N, v0, kappa0, dps)
    (1.0, 1.0, 1.0, 1.0, 1e-3, 30),  # kappa0 << v0
    (1.0, 2.0, 3.0, 1e-3, 1.0, 30),  # kappa0 >> v0
    (2.0, 3.0, 5.0, 1e-2, 1.0, 30),
    (0.5, 1.0, 1.0, 0.1, 1e-10, 30),  # very unbalanced, kappa0 tiny
    (1.0, 1.0, 1.0, 1e-4, 10.0, 30),  # kappa0/v0 = 1e5
    (1.0, 1.0, 1.0, 1e-8, 1e3, 30),  # kappa0/v0 = 1e11
    (1.0, 1.0, 1.0, 1e-60, 1e-60, 30),  # balanced, very long drop
    (1.0, 1.0, 1.0, 1e6, 1e-4, 60),  # v0 large: nu stays 1 to rounding up to the midpoint
    (1.0, 1.0, 1.0, 3e6, 1e-4, 60),
]


@pytest.mark.parametrize("lam,tr,N,v0,k0,dps", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_matches_docstring_quadrature(lam, tr, N, v0, k0, dps):
    with time_limit(5):
        got = unbalanced_drop_time(lam, tr, N, v0, k0)
    assert got == pytest.approx(_reference(lam, tr, N, v0, k0, dps=dps), rel=1e-12, abs=0)


def test_tau_scales_time_and_balanced_start_is_separate_drop_time():
    t1 = unbalanced_drop_time(1.5, 2.0, 4.0, 1e-3, 1e-3)
    assert unbalanced_drop_time(1.5, 2.0, 4.0, 1e-3, 1e-3, tau=2.5) == pytest.approx(2.5 * t1, rel=1e-13, abs=0)
    assert t1 == pytest.approx(separate_drop_time(1.5, 2.0, 4.0, 1e-3), rel=1e-12, abs=0)


def test_start_close_to_midpoint_is_accurate():
    # v0 κ0² = (1 − 1e-9) × midpoint: the drop takes ~1e-9 of the time scale; the root of the midpoint
    # equation must be resolved far below an absolute 1e-12
    lam, tr, N, v0 = 1.0, 1.0, 1.0, 1.0
    k0 = math.sqrt(MID / (lam * _c(lam, tr, N) * v0) * (1 - 1e-9))
    got = unbalanced_drop_time(lam, tr, N, v0, k0)
    # the midpoint is found in logs, where the start's distance to it (1e-9) is a difference of O(1)
    # numbers: the relative error is about eps / 1e-9 (measured 2.5e-7), not eps
    assert got == pytest.approx(_reference(lam, tr, N, v0, k0, dps=40), rel=1e-15 / 1e-9, abs=0)


def test_start_close_to_midpoint_kappa_dominated():
    lam, tr, N, v0 = 1.0, 1.0, 1.0, 1e-3
    k0 = math.sqrt(MID / (lam * _c(lam, tr, N) * v0) * (1 - 1e-10))
    got = unbalanced_drop_time(lam, tr, N, v0, k0)
    # as above, with the start 1e-10 from the midpoint (measured 4.2e-6)
    assert got == pytest.approx(_reference(lam, tr, N, v0, k0, dps=40), rel=1e-15 / 1e-10, abs=0)


# v0 κ0² just below the midpoint (exact float comparison) but within rounding of it in logs
WITHIN_ROUNDING = [
    (0.5, 1.0, 2.0, 2.0, 0.34228246745251356),  # logs agree exactly
    (1.924, 7.27272, 4.0, 2.868, 0.15550533342409903),  # logs already past the midpoint by 2 ulp
    (0.868, 3.0293200000000002, 5.0, 1.8, 0.3142754372031691),
]


@pytest.mark.parametrize("lam,tr,N,v0,k0", WITHIN_ROUNDING, ids=["ties", "past2ulp", "past1ulp"])
def test_start_within_rounding_of_midpoint_gives_negligible_time(lam, tr, N, v0, k0):
    assert v0 * k0**2 < MID / (lam * _c(lam, tr, N))  # a valid start
    got = unbalanced_drop_time(lam, tr, N, v0, k0)
    scale = 1.0 / (lam**2 * v0)  # τ/(λ² v0), the time scale of the drop
    assert 0.0 <= got <= 1e-12 * scale


def test_start_past_midpoint_raises():
    lam, tr, N, v0 = 1.0, 1.0, 1.0, 1.0
    k0 = math.sqrt(MID / 3.0) * (1 + 1e-12)
    with pytest.raises(ValueError, match=r"^the head starts at or past the midpoint of its drop: need "):
        unbalanced_drop_time(lam, tr, N, v0, k0)


def test_nu_equal_to_e_at_upper_bracket():
    # at the upper end of the root bracket the computed ln ν is exactly 1.0: the root lies well inside
    lam, tr, N, v0, k0 = 1.0, 1.0, 1.0, 0.2, 0.48227909008359604
    got = unbalanced_drop_time(lam, tr, N, v0, k0)
    assert got == pytest.approx(_reference(lam, tr, N, v0, k0, dps=30), rel=1e-12, abs=0)
