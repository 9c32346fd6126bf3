"""Closed forms keep their accuracy at the edges of their domain, against independent
high-precision references (mpmath): regimes where a difference of nearly equal numbers, or a
clamp against overflow, used to cost most or all of the digits."""
import mpmath as mp
import numpy as np
import pytest

from theorylib.theory import deep_linear as dl
from theorylib.theory import rich_lazy as rl

mp.mp.dps = 40


@pytest.mark.parametrize("a0", [1e3, 1e4, 1e5, 1e150])
def test_unbalanced_limit_keeps_the_small_factor_when_the_imbalance_is_large(a0):
    # the limit of τȧ = b(s − ab), τḃ = a(s − ab) from (a0, 0): ab = s and a² − b² = a0²
    a, b = dl.unbalanced_limit(1.0, a0, 0.0)
    assert abs(a * b - 1.0) < 1e-14
    big = mp.sqrt((mp.mpf(a0) ** 2 + mp.sqrt(mp.mpf(a0) ** 4 + 4)) / 2)
    assert abs(a - float(big)) <= 1e-15 * a and abs(b - float(1 / big)) <= 1e-15 * b
    b2, a2 = dl.unbalanced_limit(1.0, 0.0, a0)  # the mirror image: b carries the imbalance
    assert (a2, b2) == (a, b)


def _balanced_exact(t, s, mu0, phi0):
    S0 = mp.atanh(phi0)
    S = s * t + S0
    C = s * (mp.cosh(2 * S0) + 1) / mu0 - 2 * S0 - mp.sinh(2 * S0)
    return s * (mp.cosh(2 * S) + 1) / (2 * S + mp.sinh(2 * S) + C)


@pytest.mark.parametrize("s, mu0, phi0", [(1.0, 0.5, 0.0), (1.0, 1e-300, 0.0), (2.0, 1e-3, -0.9),
                                          (0.3, 5.0, 0.99), (1.0, 1e-308, 0.5)])
def test_balanced_solution_far_past_the_overflow_of_cosh(s, mu0, phi0):
    # 2S far beyond 700 (where cosh overflows) and tiny μ0: the closed form must still be
    # exact, and μ → s
    t = np.array([0.0, 1e-8, 0.5, 3.0, 352.0, 1e5, 1e300, 1e305, 1e307])
    mu, _ = rl.balanced_solution(t, s, mu0, phi0)
    ref = np.array([float(_balanced_exact(mp.mpf(x), mp.mpf(s), mp.mpf(mu0), mp.mpf(phi0)))
                    for x in t])
    np.testing.assert_allclose(mu, ref, rtol=1e-12)
    assert mu[-1] == pytest.approx(s, rel=1e-14)


def _neuron_flow(t, a0, w0, beta):
    # ȧ = −w·(aw − β*), ẇ = −a(aw − β*): the whitened single neuron, to 40 digits
    def f(_, y):
        res = [y[0] * y[1 + i] - beta[i] for i in range(len(beta))]
        return [-sum(y[1 + i] * res[i] for i in range(len(beta)))] + [-y[0] * r for r in res]

    sol = mp.odefun(f, 0, [mp.mpf(a0)] + [mp.mpf(x) for x in w0])(mp.mpf(t))
    return float(sol[0]), np.array([float(x) for x in sol[1:]])


@pytest.mark.parametrize("s", [1e-3, 1e-9, 1e-14])
@pytest.mark.parametrize("a0, w0", [(1.2, (0.6, 0.0)), (0.3, (1.5, 0.2))], ids=["delta>0", "delta<0"])
def test_single_neuron_when_the_target_is_far_smaller_than_the_imbalance(s, a0, w0):
    a, w = rl.single_neuron(np.array([2.0]), a0, np.array(w0), np.array([s, 0.0]))
    a_ref, w_ref = _neuron_flow(2.0, a0, w0, [s, 0.0])
    assert abs(a[0] - a_ref) <= 1e-14 * abs(a_ref)
    np.testing.assert_allclose(w[0], w_ref, rtol=1e-13, atol=1e-300)


def _unbalanced_big(s, a0, b0):
    c = mp.mpf(a0) ** 2 - mp.mpf(b0) ** 2
    return mp.sqrt((abs(c) + mp.sqrt(c * c + 4 * mp.mpf(s) ** 2)) / 2)


@pytest.mark.parametrize("s, a0, b0", [(1.0, 1e200, 2e200), (1.0, -2e200, 1e200), (1e300, 1e200, 3e200),
                                       (1.0, 1e308, -1.7e308), (1.0, 1e200, 1e200), (2.0, -1e300, -1e300)],
                         ids=["b-larger", "a-larger-negative", "huge-s", "near-float-max",
                              "balanced-huge", "balanced-negative"])
def test_unbalanced_limit_for_starts_whose_squares_overflow(s, a0, b0):
    # a0² − b0² overflows (inf, or inf − inf) from ~1e154 on, while the end point is representable
    w, a = (float(x) for x in dl.unbalanced_limit(s, a0, b0))
    big = _unbalanced_big(s, a0, b0)
    small = mp.mpf(s) / big
    w_ref, a_ref = (big, small) if abs(a0) >= abs(b0) else (small, big)
    sign = np.sign(a0) if abs(a0) >= abs(b0) else np.sign(b0)
    assert abs(w - sign * float(w_ref)) <= 4e-16 * float(w_ref)
    assert abs(a - sign * float(a_ref)) <= 4e-16 * float(a_ref)
    assert dl.unbalanced_limit(1.0, 1e200, -1e200) == (0.0, 0.0)  # the saddle's manifold


def _learning_time_exact(s, u0, u, tau=1.0):
    s, u0, u = mp.mpf(s), mp.mpf(u0), mp.mpf(u)
    return mp.mpf(tau) / (2 * s) * mp.log(u * (s - u0) / (u0 * (s - u)))


@pytest.mark.parametrize("s, u0, u", [(3e-200, 1e-200, 2e-200), (1e10, 1e-320, 5e9), (1e300, 1e-300, 1e299),
                                      (1.0, 3.0, 2.0), (1e-160, 1e-170, 5e-161), (1.0, 1e-3, 0.5)],
                         ids=["all-tiny", "u0-subnormal", "huge-range", "from-above", "products-underflow",
                              "ordinary"])
def test_learning_time_where_its_products_under_or_overflow(s, u0, u):
    # (u0 − s)(u − s) and u0(s − u) underflow below ~1e-154: the time must still be right
    t = float(dl.learning_time(s, u0, u))
    ref = float(_learning_time_exact(s, u0, u))
    assert abs(t - ref) <= 1e-14 * abs(ref)
    if u < s:  # the L = 2 chain is the same mode
        assert abs(float(dl.deep_learning_time(s, u0, u, 2)) - ref) <= 1e-14 * abs(ref)


def test_deep_learning_time_when_u0_over_s_underflows():
    # u0/s = 1e-330 underflows to 0, but (u0/s)^(1/3) = 1e-110 does not. The reference is a
    # 40-digit quadrature of dt = τ du / (L u^(2 − 2/L) (s − u)) in x = ln u (smooth over the
    # 750 decades). The root (u0/s)^(1/3) is exp of an argument near −253: ~253 ulp relative
    s, u0, u, L = 1e10, 1e-320, 5e9, 3
    g = lambda x: mp.exp(x) / (L * mp.exp(x) ** (2 - mp.mpf(2) / L) * (s - mp.exp(x)))
    ref = mp.quad(g, mp.linspace(mp.log(mp.mpf(u0)), mp.log(mp.mpf(u)), 16))
    assert abs(float(dl.deep_learning_time(s, u0, u, L)) - float(ref)) <= 1e-13 * float(ref)
    with pytest.raises(ValueError, match="^the learning time is not representable as a finite float"):
        dl.deep_learning_time(1.0, 1e-320, 0.5, 100)  # ~ u0^(2/L − 1) ≈ 1e313: beyond the float range


def test_mode_strength_at_t0_for_a_huge_singular_value():
    # 2·s overflows for s > 9e307, but at t = 0 the exponent is 0 and u(0) = u0
    assert float(dl.mode_strength(0.0, 9e307, 1.0)) == 1.0
    assert abs(float(dl.mode_strength(0.0, 1.7e308, 1e300)) - 1e300) <= 2.3e-16 * 1e300  # 1 ulp
