"""Tests that kill survivors of theory/fusion.py and sim/fusion.py left by the full mutation run
of the rewritten functions (mutmut 3.8.1); see tools/mutation/rerun2_fusion.md.

Expectations are independent computations:

* ``t_A`` of :func:`fusion_times` against a 30-digit ``mpmath`` quadrature of the integral in
  ``u`` written in the docstring (``u_B(u)`` from the closed forms of ``early_branch_size``'s
  docstring), and the lag against its closed form;
* the standard deviation of ``gaussian_init(..., scheme="numel")`` entries, estimated from a
  large ensemble, against the documented ``std/sqrt(numel)``;
* ``aligned_flow`` for two-layer late fusion with a diagonal ``Sigma``, where each weight solves
  ``tau dW/dt = 2 W (Sigma_yx - sigma^2 W)`` (hand-derived: ``W = u^2``, ``tau du/dt = g u``), a
  logistic; and its long-time limit ``Sigma_yx Sigma^-1`` for deeper networks.

Three of the survivors made ``aligned_flow`` run for very long; those runs are made under a
wall-clock limit (``SIGALRM``, restored afterwards), so such a mutant fails instead of hanging.
"""

import mpmath as mp
import numpy as np
import pytest

from _wallclock import needs_alarm, time_limit
from theorylib.sim import fusion as fs
from theorylib.theory import fusion as fu

_LIMIT_S = 4.0  # every guarded run takes well under a second

# ---------------------------------------------------------------- fusion_times: accuracy of t_A


def _t_a_reference(depth, fusion_layer, sigma_yx_a, k, u0):
    """``int_{u0}^1 du / (Sigma_yxA u^{Lf-1} (u^2 + u_B(u)^2)^{(L-Lf)/2})`` with mpmath (tau = 1)."""
    L, Lf = depth, fusion_layer
    with mp.workdps(30):
        u0m, k, sa = mp.mpf(u0), mp.mpf(k), mp.mpf(sigma_yx_a)
        p = 2 - Lf

        def u_b(u):
            if Lf == 1:
                return u0m + k * (u - u0m)
            if Lf == 2:
                return u0m * (u / u0m) ** k
            return (u0m**p + k * (u**p - u0m**p)) ** (mp.mpf(1) / p)

        def f(u):
            return 1 / (sa * u ** (Lf - 1) * (u * u + u_b(u) ** 2) ** (mp.mpf(L - Lf) / 2))

        scale = f(u0m)  # mp.quad's tolerance is absolute: integrate an O(1) function
        pts = [u0m * (1 / u0m) ** (mp.mpf(j) / 16) for j in range(17)]
        return float(scale * mp.quad(lambda u: f(u) / scale, pts))


@pytest.mark.parametrize("depth, fusion_layer, k, u0", [
    (60, 58, 0.995, 0.7),
    (22, 21, 0.9915, 0.2),
])
def test_fusion_times_t_a_matches_the_docstring_integral_to_1e_12(depth, fusion_layer, k, u0):
    # Sigma = I, Sigma_yx = (1, k): Sigma_yxA = 1, c_B = k, W_A^uni = 1, k = Sigma_yxB/Sigma_yxA
    sigma, sigma_yx = np.eye(2), np.array([1.0, k])
    t_a, lag = fu.fusion_times(depth, fusion_layer, sigma, sigma_yx, 1, u0)
    assert t_a == pytest.approx(_t_a_reference(depth, fusion_layer, 1.0, k, u0), rel=1e-12, abs=0.0)
    # docstring: lag = u0^{2-Lf} (1 - k) / ((Lf - 2) c_B (W_A^uni)^{1 - Lf/L}) for Lf > 2
    assert lag == pytest.approx(u0 ** (2 - fusion_layer) * (1 - k) / ((fusion_layer - 2) * k), rel=1e-13)


def test_fusion_time_ratio_matches_the_reference_times_to_1e_12():
    depth, fusion_layer, k, u0 = 60, 58, 0.995, 0.7
    t_a = _t_a_reference(depth, fusion_layer, 1.0, k, u0)
    lag = u0 ** (2 - fusion_layer) * (1 - k) / ((fusion_layer - 2) * k)
    got = fu.fusion_time_ratio(depth, fusion_layer, np.eye(2), np.array([1.0, k]), 1, u0)
    assert got - 1.0 == pytest.approx(lag / t_a, rel=1e-11, abs=0.0)


# ---------------------------------------------------------------- gaussian_init, scheme="numel"


def test_numel_scheme_gives_a_one_by_one_branch_block_standard_deviation_std():
    # d_a = d_b = hidden = 1, fused at layer 2: W1 is block diagonal with 1x1 blocks, so
    # numel = 1 and the branch entries have standard deviation std (the Frobenius norm of each
    # block is |entry|, about std); the fusion layer (1 x 2) has sqrt(2) std / sqrt(2) = std
    std, E = 0.5, 4000
    net = fs.FusionNet(1, 1, depth=2, fusion_layer=2, hidden=1)
    p = fs.gaussian_init(net, std, n_ensemble=E, seed=3, scheme="numel")
    W1, W2 = p["W1"], p["W2"]
    assert W1.shape == (E, 2, 2) and W2.shape == (E, 1, 2)
    assert np.all(W1[:, 0, 1] == 0) and np.all(W1[:, 1, 0] == 0)
    for entries in (W1[:, 0, 0], W1[:, 1, 1], W2[:, 0, 0], W2[:, 0, 1]):
        # sample sd of 4000 normals: relative standard error 1.1 %
        assert np.std(entries) == pytest.approx(std, rel=0.05)
        assert abs(np.mean(entries)) < 0.05 * std


def test_numel_scheme_block_of_one_column_and_hidden_one_in_a_deeper_branch():
    # depth 3 fused at layer 3, hidden = 1: W1 (2x2) and W2 (2x2) are both branch layers made of
    # 1x1 blocks (numel = 1, sd = std); W3 (1x2) is the fusion layer (sd = sqrt(2) std/sqrt(2))
    std, E = 2.0, 4000
    net = fs.FusionNet(1, 1, depth=3, fusion_layer=3, hidden=1)
    p = fs.gaussian_init(net, std, n_ensemble=E, seed=5, scheme="numel")
    for name in ("W1", "W2"):
        W = p[name]
        assert np.all(W[:, 0, 1] == 0) and np.all(W[:, 1, 0] == 0)
        assert np.std(W[:, 0, 0]) == pytest.approx(std, rel=0.05)
        assert np.std(W[:, 1, 1]) == pytest.approx(std, rel=0.05)
    assert np.std(p["W3"]) == pytest.approx(std, rel=0.05)


# ---------------------------------------------------------------- aligned_flow


def _logistic(t, w_star, w0, rate, tau):
    """Solution of ``tau dW/dt = 2 W (s - sigma^2 W)``, ``W* = s/sigma^2``, ``rate = s``."""
    return w_star / (1.0 + (w_star / w0 - 1.0) * np.exp(-2.0 * rate * t / tau))


@needs_alarm
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_two_layer_late_fusion_flow_is_two_logistics_for_diagonal_sigma(tau):
    # depth = fusion_layer = 2, Sigma = diag(sa2, sb2): the branches decouple, W = u^2 and
    # tau du/dt = (s - sigma^2 W) u, so tau dW/dt = 2 W (s - sigma^2 W), from W(0) = u0^2
    sa2, sb2 = 4.0, 1.0
    s = np.array([1.5, 0.8])
    u0 = 0.05
    t = np.array([0.0, 0.5, 1.0, 2.0, 2.0, 4.0, 8.0, 20.0])  # with a repeated time
    with time_limit(_LIMIT_S):
        W = fu.aligned_flow(t, 2, 2, np.diag([sa2, sb2]), s, u0, tau=tau)
    assert W.shape == (len(t), 2)
    np.testing.assert_allclose(W[:, 0], _logistic(t, s[0] / sa2, u0**2, s[0], tau), rtol=1e-7, atol=0)
    np.testing.assert_allclose(W[:, 1], _logistic(t, s[1] / sb2, u0**2, s[1], tau), rtol=1e-7, atol=0)


@needs_alarm
@pytest.mark.parametrize("depth, fusion_layer", [(3, 1), (4, 2), (3, 3)])
def test_aligned_flow_reaches_the_least_squares_solution(depth, fusion_layer):
    # gradient flow of L = 1/2 E(y - W x)^2 from a small positive aligned start converges to
    # the global minimum w* = Sigma_yx Sigma^-1 (here both entries of w* are positive)
    sigma, sigma_yx = fu.toy_statistics(2.0, 0.3)
    w_star = np.linalg.solve(sigma, sigma_yx)
    with time_limit(_LIMIT_S):
        W = fu.aligned_flow([0.0, 200.0], depth, fusion_layer, sigma, sigma_yx, 0.3)
    np.testing.assert_allclose(W[0], [0.3**depth * 2 ** ((depth - fusion_layer) / 2)] * 2, rtol=1e-12)
    np.testing.assert_allclose(W[-1], w_star, rtol=1e-6)


@pytest.mark.parametrize("depth, u0", [(2100, 0.9), (2160, 0.9), (2200, 0.9)])
def test_fusion_times_t_a_for_depths_whose_integrand_underflows(depth, u0):
    # the integrand is at most 2^{-(L-Lf)/2}, below the float range once L - Lf > ~2150: it
    # used to underflow to 0 (t_A = 0, fusion_time_ratio = inf) and lost digits before that
    # (2e-5 at L = 2100); it is now integrated scaled, its scale kept as a log
    k = 0.5
    sigma, sigma_yx = np.eye(2), np.array([1.0, k])
    t_a, lag = fu.fusion_times(depth, 2, sigma, sigma_yx, 1, u0)
    assert t_a == pytest.approx(_t_a_reference(depth, 2, 1.0, k, u0), rel=1e-11, abs=0.0)
    ratio = fu.fusion_time_ratio(depth, 2, sigma, sigma_yx, 1, u0)
    assert np.isfinite(ratio) and ratio == pytest.approx(1.0 + lag / t_a, rel=1e-12)


def test_times_and_ratios_beyond_the_float_range_are_errors_not_zero_or_inf():
    sigma, sigma_yx = np.eye(2), np.array([1.0, 0.5])
    # t_A ~ e^754 (above the range) and, at L = 3000, u0 = 0.95, t_A ~ 1e-450 (below it)
    for depth, u0 in ((2200, 0.5), (3000, 0.95)):
        with pytest.raises(ValueError, match="^t_A is not representable as a finite float"):
            fu.fusion_times(depth, 2, sigma, sigma_yx, 1, u0)
    # there t_B/t_A ~ 1e450: an error, not inf
    with pytest.raises(ValueError, match=r"^t_B/t_A is not representable as a finite float: the ratio is"):
        fu.fusion_time_ratio(3000, 2, sigma, sigma_yx, 1, 0.95)
    # while at (2200, 0.5) the ratio itself is representable: 1 to rounding
    assert fu.fusion_time_ratio(2200, 2, sigma, sigma_yx, 1, 0.5) == pytest.approx(1.0, abs=1e-12)
