"""Mutation re-run 2 for :mod:`theorylib.theory.linear_attention`.

Tests of documented properties of ``merged_time_course`` (the closed form of sigma(t) when
``sqrt(D)/w_init**2`` equals or differs by one from ``lam*s``), ``head_strength`` (the
trajectory stays below its fixed point and can be inverted by ``head_time``) and
``unbalanced_drop_time`` (agreement with ``separate_drop_time`` and with an mpmath
quadrature of the docstring's integral; finishing quickly for small ``lam``).
See tools/mutation/rerun2_linear_attention.md.
"""
from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from _wallclock import time_limit
from theorylib.theory import linear_attention as la


# --------------------------------------------------------------------------- helpers

def _ref_balanced_drop(lam, tr, N, v0, tau=1.0):
    """Midpoint time for v0 = kappa0 (delta = 0), to 30 digits.

    With v = v* xi, v*^3 = 1/(lam c): dt = tau/(lam^2 v*) dxi/(xi^2 (1 - xi^3)), from xi0 = v0/v*
    to U = (1 - 1/sqrt 2)^(1/3); and 1/(xi^2 (1-xi^3)) = 1/xi^2 + xi/(1 - xi^3) (partial fractions).
    """
    with mp.workdps(30):
        lam, tr, N, v0, tau = (mp.mpf(x) for x in (lam, tr, N, v0, tau))
        c = 1 + (1 + tr / lam) / N
        vs = (lam * c) ** (-mp.mpf(1) / 3)
        U = (1 - 1 / mp.sqrt(2)) ** (mp.mpf(1) / 3)
        x0 = v0 / vs
        integral = (1 / x0 - 1 / U) + mp.quad(lambda x: x / (1 - x**3), [x0, U])
        return float(tau / (lam**2 * vs) * integral)


def _ref_unbalanced_drop(lam, tr, N, v0, k0, tau=1.0):
    """The docstring's quadrature dt = tau dv / ((v^2 - delta)(lam^2 - lam^3 c v (v^2 - delta)))
    from v0 to the midpoint v (v^2 - delta) = (1 - 1/sqrt 2)/(lam c), with v = v0 + w and
    v^2 - delta = k0^2 + w (w + 2 v0) (no cancellation), in 40-digit arithmetic."""
    with mp.workdps(40):
        lam, tr, N, v0, k0, tau = (mp.mpf(x) for x in (lam, tr, N, v0, k0, tau))
        c = 1 + (1 + tr / lam) / N
        target = (1 - 1 / mp.sqrt(2)) / (lam * c)

        def kap2(w):
            return k0**2 + w * (w + 2 * v0)

        wmid = mp.findroot(lambda w: (v0 + w) * kap2(w) - target, (mp.mpf(0), 4 * (target ** (mp.mpf(1) / 3) + v0)),
                           solver="anderson")
        integrand = lambda w: 1 / (kap2(w) * (lam**2 - lam**3 * c * (v0 + w) * kap2(w)))
        pts = [mp.mpf(0)] + [wmid * mp.mpf(k) / 8 for k in range(1, 9)]
        return float(tau * mp.quad(integrand, pts))


# --------------------------------------------------------------------------- merged_time_course

@pytest.mark.parametrize(
    "D, N, w_init, lam, sigma_const",
    [(4, 5.0, 1.0, 1.0, 0.5), (16, 17.0, 1.0, 2.0, 0.25)],
    ids=["D4_N5_lam1", "D16_N17_lam2"],
)
def test_merged_sigma_constant_when_init_already_at_the_fixed_scale(D, N, w_init, lam, sigma_const):
    # s = 1 + (1 + D)/N = 2 and sqrt(D)/w_init^2 = lam*s exactly: the docstring's
    # sigma(t) = E/(lam s (E - 1) + sqrt(D)/w^2) = E/(lam s E) = 1/(lam s) for every t, including
    # t << 0 where E(t) underflows and E^{-1} overflows; L = D lam (1 - 1/s).
    t = np.array([-1000.0, -10.0, 0.0, 3.0, 1000.0])
    sigma, loss = la.merged_time_course(t, D, N, w_init, lam=lam)
    s = 1.0 + (1.0 + D) / N
    assert sigma_const == 1.0 / (lam * s)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), t.shape)
    loss = np.broadcast_to(np.asarray(loss, dtype=float), t.shape)
    assert np.all(np.isfinite(sigma)) and np.all(np.isfinite(loss))
    np.testing.assert_allclose(sigma, sigma_const, rtol=1e-15, atol=0)
    np.testing.assert_allclose(loss, D * lam * (1.0 - 1.0 / s), rtol=1e-14, atol=0)


def test_merged_sigma_matches_formula_when_gap_is_one():
    # D = 9, N = 10, lam = 1, w_init = 1: s = 2, sqrt(D)/w^2 - lam s = 1; docstring formula in mpmath
    D, N, w0, lam, tau = 9, 10.0, 1.0, 1.0, 1.0
    t = np.array([-1.0, 0.0, 0.1, 0.5, 2.0])
    sigma, loss = la.merged_time_course(t, D, N, w0, lam=lam, tau=tau)
    s = mp.mpf(1) + mp.mpf(1 + D) / N
    for ti, si, li in zip(t, np.broadcast_to(sigma, t.shape), np.broadcast_to(loss, t.shape)):
        E = mp.exp(2 * lam**2 * mp.sqrt(D) * mp.mpf(ti) / tau)
        ref = E / (lam * s * (E - 1) + mp.sqrt(D) / w0**2)
        ref_loss = D * lam * (1 - 2 * lam * ref + lam**2 * s * ref**2)
        assert abs(si - float(ref)) <= 1e-15 * float(ref)
        assert abs(li - float(ref_loss)) <= 1e-14 * float(ref_loss)
    assert abs(np.broadcast_to(sigma, t.shape)[1] - 1.0 / 3.0) <= 1e-16


# --------------------------------------------------------------------------- head_strength

def test_head_strength_stays_below_fixed_point_and_is_invertible_at_late_times():
    # v* is a fixed point of tau v' = lam^2 v^2 - lam^3 c v^5: a trajectory started at v0 < v*
    # approaches it but never reaches it, and head_strength inverts head_time, whose domain is
    # v0 <= v < v*.  At late times v(t) is within rounding of v* but must stay strictly below.
    lam, tr, N, v0 = 1.0, 1.0, 1.0, 0.5
    vs = float(la.head_fixed_point(lam, tr, N))
    t = np.array([20.0, 30.0, 1e3, 1e300])
    v = la.head_strength(t, v0, lam, tr, N)
    assert v.shape == t.shape
    assert np.all(v < vs), (v, vs)
    np.testing.assert_allclose(v, vs, rtol=1e-13, atol=0)
    for vi in v:
        back = la.head_time(vi, v0, lam, tr, N)
        assert np.isfinite(back) and back > 0


def test_head_strength_scalar_late_time_below_fixed_point():
    lam, tr, N, v0, tau = 2.0, 5.0, 10.0, 0.1, 0.5
    vs = float(la.head_fixed_point(lam, tr, N))
    v = float(la.head_strength(1e6, v0, lam, tr, N, tau=tau))
    assert v < vs
    assert vs - v <= 1e-13 * vs


# --------------------------------------------------------------------------- unbalanced_drop_time

def test_unbalanced_balanced_small_eigenvalue_finishes_and_matches_reference():
    # lam = tr = 0.01, N = 1: c = 3, the midpoint v(v^2 - delta) = (1 - 1/sqrt 2)/(lam c) ~ 9.76 lies
    # beyond v = 2 (v0 = 0.1): the bracket for it must grow; the call is quick.
    args = (0.01, 0.01, 1.0, 0.1)
    with time_limit(3.0):
        got = la.unbalanced_drop_time(*args, 0.1)
    ref = _ref_balanced_drop(*args)
    assert abs(got - ref) <= 1e-11 * ref
    assert abs(got - float(la.separate_drop_time(*args))) <= 1e-11 * ref


def test_unbalanced_with_tau_small_eigenvalue_finishes():
    args = (0.002, 0.004, 2.0, 0.05)
    with time_limit(3.0):
        got = la.unbalanced_drop_time(*args, 0.05, tau=3.0)
    ref = _ref_balanced_drop(*args, tau=3.0)
    assert abs(got - ref) <= 1e-11 * ref


@pytest.mark.parametrize(
    "lam, tr, N, v0",
    [(1e50, 1e50, 1.0, 1e-30), (1e90, 1e90, 1.0, 1e-120), (1e45, 1e45, 1.0, 1e-60)],
    ids=["lam1e50", "lam1e90", "lam1e45"],
)
def test_unbalanced_balanced_large_eigenvalue_equals_separate_drop_time(lam, tr, N, v0):
    # documented: for v0 = kappa0 the midpoint time equals separate_drop_time; a tiny target
    # (lam c huge) and v0 many decades below the midpoint strength.
    with time_limit(5.0):
        got = la.unbalanced_drop_time(lam, tr, N, v0, v0)
    ref = _ref_balanced_drop(lam, tr, N, v0)
    assert np.isfinite(got) and got > 0
    assert abs(got - ref) <= 1e-12 * ref
    assert abs(got - float(la.separate_drop_time(lam, tr, N, v0))) <= 1e-12 * ref


@pytest.mark.parametrize(
    "lam, tr, N, v0, k0",
    [(1.0, 2.0, 4.0, 0.01, 0.3), (1.0, 2.0, 4.0, 0.2, 0.1), (0.3, 1.5, 3.0, 1e-4, 2e-4)],
    ids=["kappa_gt_v", "v_gt_kappa", "small_v0"],
)
def test_unbalanced_matches_mpmath_quadrature(lam, tr, N, v0, k0):
    with time_limit(5.0):
        got = la.unbalanced_drop_time(lam, tr, N, v0, k0, tau=2.0)
    ref = _ref_unbalanced_drop(lam, tr, N, v0, k0, tau=2.0)
    assert abs(got - ref) <= 1e-11 * ref
