"""Mutation-rerun 3: ``learning_time`` at the edges of the float range.

Every expected value comes from the docstring's formula
``t = tau/(2s) ln(u (s - u0) / (u0 (s - u)))`` evaluated with mpmath at 40 digits on the exact
binary values of the float arguments. The argument of the log is written as ``1 + s q`` with
``q = (u - u0) / (u0 (s - u))`` (an algebraic identity), so that ``log1p`` keeps the digits that
a 40-digit ``1 + tiny`` would drop when ``s`` is 5e-324. See tools/mutation/rerun3_lt.md.
"""
import mpmath as mp
import pytest

from theorylib.theory.deep_linear import learning_time


def _ref(s, u0, u, tau):
    with mp.workdps(40):
        s, u0, u, tau = (mp.mpf(float(v)) for v in (s, u0, u, tau))
        q = (u - u0) / (u0 * (s - u))
        return tau / (2 * s) * mp.log1p(s * q)


def _close(got, s, u0, u, tau, rtol):
    want = _ref(s, u0, u, tau)
    assert want != 0
    err = abs(mp.mpf(float(got)) - want) / abs(want)
    assert err <= rtol, (float(got), float(want), float(err))


def test_smallest_s_recovers_the_s_to_zero_limit():
    # s = 5e-324: s*q underflows to 0, the time must still be tau/2 (1/u - 1/u0) to leading order
    s, u0, u, tau = 5e-324, 1.0, 0.9, 1.0
    t = learning_time(s, u0, u, tau)
    _close(t, s, u0, u, tau, 1e-14)
    assert abs(float(t) - 0.5 * (1 / 0.9 - 1.0)) <= 1e-14


def test_u_equal_u0_takes_zero_time_even_when_tau_over_s_overflows():
    # ln(1) = 0: no time is needed, even though tau/(2s) = 1e10/1e-323 is not representable
    assert float(learning_time(5e-324, 1.0, 1.0, tau=1e10)) == 0.0


def test_q_exactly_the_smallest_normal():
    # q = ((u - u0)/u0)/(s - u) = 2**-1022 exactly (the boundary of the log1p form)
    s, u0, u, tau = 2.0 ** 1021, 2.0 ** 1023, 2.0 ** 1022, 2.0 ** 100
    _close(learning_time(s, u0, u, tau), s, u0, u, tau, 1e-14)


def test_huge_s_with_tiny_u0_keeps_digits():
    # q is subnormal (near form off); the log's argument u(s-u0)/(u0(s-u)) is representable
    s, u0, tau = 1.5 * 2.0 ** 1022, 2.0 ** -600, 2.0 ** 1000
    u = u0 * (1 + 1e-3)
    _close(learning_time(s, u0, u, tau), s, u0, u, tau, 1e-14)


def test_huge_s_with_subnormal_q_keeps_digits():
    # q ~ 1.5e-320 would keep only ~4 significant digits; the result must keep them all
    s, u0, u, tau = 1.5 * 2.0 ** 1022, 1.0, 1 + 1e-12, 2.0 ** 1000
    _close(learning_time(s, u0, u, tau), s, u0, u, tau, 1e-12)


@pytest.mark.parametrize("s,u0,u,rtol", [
    # u0 >> u > s with u - s a few ulps: q overflows, the log's argument is ~1e16
    (8.206647375446704e-301, 1.635567146272162e+233, 8.206647375446706e-301, 1e-15),
    (1e-300, 1e300, 1e-300 * (1 + 2.0 ** -52), 1e-15),
    # u0 ~ 1: u0 (s - u) is subnormal, the time must still be accurate
    (3.3468085289327037e-301, 0.9881560004152492, 3.3468085289327053e-301, 1e-12),
], ids=["u0-huge", "u0-1e300", "u0-near-1"])
def test_u_a_few_ulps_from_s_from_above(s, u0, u, rtol):
    assert u0 > u > s
    _close(learning_time(s, u0, u, 1.0), s, u0, u, 1.0, rtol)


def test_all_subnormal_arguments():
    s, u0, u, tau = 3e-320, 1e-320, 2e-320, 1e-300
    _close(learning_time(s, u0, u, tau), s, u0, u, tau, 1e-11)
