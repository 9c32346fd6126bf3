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
