"""Tests that kill survivors of theory/deep_linear.py, sim/linear.py, sim/data.py and _validate.py
from the full mutation run (mutmut 3.8.1).

Every expectation is an independent computation (the closed forms evaluated in 40-digit
``decimal`` arithmetic, plain GD written out here, the symmetry of the flow, a hand-computed small
case), a documented default/shape/dtype, or a whole error message that names the argument. Only
numpy, pytest, the standard library and theorylib are imported; the closed forms need sympy (the
module imports it), so their tests skip without it and the file also runs in the benchmark
environment (.venv-bench, with numba), where the compiled-backend test runs.
"""
from decimal import Decimal, localcontext

import numpy as np
import pytest

from _asserts import no_warnings, raises
from theorylib import _validate as _v
from theorylib.sim import data as sd
from theorylib.sim import linear as sl

GE, LE = "\u2265", "\u2264"  # the messages' mathematical signs, kept out of this file's source


@pytest.fixture
def dl():
    pytest.importorskip("sympy")
    from theorylib.theory import deep_linear
    return deep_linear


# --------------------------------------------------------------------------- _validate
def test_fitted_part_tolerance_is_relative_to_the_larger_of_the_two():
    # total >= fitted - rtol * max(1, |fitted|, |total|): with rtol = 1/4 the slack is 1 here
    assert _v.fitted_part_below("t", 3.0, 4.0, rtol=0.25) == 3.0      # |fitted| is the larger
    assert _v.fitted_part_below("t", -4.0, -3.0, rtol=0.25) == -4.0   # |total| is the larger
    with raises("t = 2.99 is below the part the best linear map explains (4): the statistics are "
                "inconsistent (they would give a negative minimum loss)"):
        _v.fitted_part_below("t", 2.99, 4.0, rtol=0.25)
    with raises("t = -4.01 is below the part the best linear map explains (-3): the statistics are "
                "inconsistent (they would give a negative minimum loss)"):
        _v.fitted_part_below("t", -4.01, -3.0, rtol=0.25)


# --------------------------------------------------------------------------- sim.data
def test_moments_error_messages():
    with raises("sigma_xx and sigma_yx must not be empty"):
        sd.Moments(np.zeros((0, 0)), np.zeros((1, 0)), 0.0)
    with raises("sigma_xx must be positive semi-definite"):
        sd.Moments(np.diag([1.0, -1.0]), [[1.0, 0.0]], 1.0)
    with raises("trace_yy must be a non-negative number"):
        sd.Moments(np.eye(2), [[0.0, 0.0]], -1.0)
    with raises("trace_yy must be a non-negative number"):
        sd.Moments(np.eye(2), [[0.0, 0.0]], np.nan)


def test_moments_psd_tolerance_is_inclusive():
    # eigenvalues >= -1e-10 * max(1, max|sigma_xx|) pass (as symmetric_psd documents: ">="); the
    # diagonal matrix has exactly that eigenvalue
    sxx = np.diag([1.0, -1e-10])
    assert np.linalg.eigvalsh(sxx).min() == -1e-10
    m = sd.Moments(sxx, [[1.0, 0.0]], 1.0)
    assert m.n_in == 2 and m.trace_yy == 1.0
    with raises("sigma_xx must be positive semi-definite"):
        sd.Moments(np.diag([1.0, -2e-10]), [[1.0, 0.0]], 1.0)


def test_moments_from_samples_errors_name_the_argument():
    with raises("no samples"):
        sd.moments_from_samples(np.zeros((0, 2)), np.zeros((0, 1)))
    with raises("X must be finite (no NaN or inf)"):
        sd.moments_from_samples([[np.nan, 1.0]], [[1.0]])
    with raises("Y must be finite (no NaN or inf)"):
        sd.moments_from_samples([[0.0, 1.0]], [[np.inf]])


def test_aligned_moments_rejects_negative_singular_values():
    with raises("singular values must be non-negative"):
        sd.aligned_moments([1.0, -0.5], 2, 3)


def test_hierarchical_data_messages_and_default_seed():
    msg = f"need n_levels {GE} 2, n_features {GE} 1 and 0 {LE} flip {LE} 0.5"
    for args in ((1, 3), (3, 0), (3, 2, 0.6), (3, 2, -0.1)):
        with raises(msg):
            sd.hierarchical_data(*args)
    X, Y = sd.hierarchical_data(4, 6)
    X0, Y0 = sd.hierarchical_data(4, 6, flip=0.1, seed=0)
    assert np.array_equal(Y, Y0) and np.array_equal(X, X0)
    assert not np.array_equal(Y, sd.hierarchical_data(4, 6, seed=1)[1])


def test_hierarchical_flip_probability_is_a_strict_threshold():
    """An edge flips when its uniform draw U in [0, 1) is < flip (P = flip; with <=, flip = 0 could
    still flip on U = 0). A flip equal to one draw exactly tells the two apart: the generator's
    stream is the root signs (rng.choice) and then one uniform per child and feature."""
    n_features = 8
    rng = np.random.default_rng(5)
    root = rng.choice([-1.0, 1.0], size=(1, n_features))
    draws = rng.random((2, n_features))
    flip = float(draws[draws <= 0.5].min())  # an edge whose draw is exactly flip: no flip
    _, Y = sd.hierarchical_data(2, n_features, flip=flip, seed=5)
    expected = np.where(draws < flip, -1.0, 1.0) * root
    assert np.array_equal(Y, expected)
    assert np.sum(Y != root) == np.sum(draws < flip)  # the draw equal to flip did not flip


# --------------------------------------------------------------------------- sim.linear
def _orth(n, seed):
    return sd.random_orthogonal(n, np.random.default_rng(seed))


def test_decoupled_init_defaults_and_product():
    widths = (3, 4, 2)
    U, V = _orth(2, 1), _orth(3, 2)
    p = sl.decoupled_init(U, V, widths, [0.5, 0.2])
    q = sl.decoupled_init(U, V, widths, [0.5, 0.2], n_ensemble=1, seed=0)
    assert p["W1"].shape == (1, 4, 3) and p["W2"].shape == (1, 2, 4)
    assert all(np.array_equal(p[n], q[n]) for n in p)
    # the hidden rotation is drawn from the seed; the product is U diag(u0) V^T either way
    r = sl.decoupled_init(U, V, widths, [0.5, 0.2], seed=1)
    assert not np.allclose(r["W1"], p["W1"])
    S = np.zeros((2, 3))
    S[0, 0], S[1, 1] = 0.5, 0.2
    for x in (p, r):
        np.testing.assert_allclose(x["W2"][0] @ x["W1"][0], U @ S @ V.T, atol=1e-14)


def test_decoupled_init_u0_messages():
    U, V = np.eye(2), np.eye(2)
    with raises("u0 must be finite"):
        sl.decoupled_init(U, V, (2, 2), np.nan)
    with raises("u0 must be finite"):
        sl.decoupled_init(U, V, (2, 2), [0.1, np.inf])
    with raises("initial mode strengths u0 must be positive (zero is a saddle of the flow)"):
        sl.decoupled_init(U, V, (2, 2), [0.1, 0.0])


def test_random_init_defaults():
    p = sl.random_init((2, 3, 1), 0.5)
    q = sl.random_init((2, 3, 1), 0.5, n_ensemble=1, seed=0)
    assert p["W1"].shape == (1, 3, 2) and p["W2"].shape == (1, 1, 3)
    assert all(np.array_equal(p[n], q[n]) for n in p)
    assert not np.allclose(sl.random_init((2, 3, 1), 0.5, seed=1)["W1"], p["W1"])
    # i.i.d. N(0, scale^2) draws in layer order from default_rng(seed)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(p["W1"], 0.5 * rng.standard_normal((1, 3, 2)))


def test_stability_bound_without_curvature_is_infinite():
    """No positive curvature (zero targets, or Sigma_xx with only round-off-negative eigenvalues
    that Moments tolerates): no step-size limit, inf without a division warning; never negative."""
    zero = sd.Moments(np.eye(2), np.zeros((2, 2)), 0.0)
    flat = sd.Moments(np.diag([-1e-11, -1e-11]), np.zeros((2, 2)), 0.0)
    with no_warnings():
        assert sl.DeepLinear((2, 3, 2)).stability_bound(zero) == np.inf
        assert sl.DeepLinear((2, 2)).stability_bound(flat) == np.inf
        assert sl.DeepLinear((2, 3, 2)).stability_bound(flat) == np.inf
    # and a finite case by hand: L = 2, s = 2, lambda_x = 1, lambda_max = L s^(2(L-1)/L) = 4
    m = sd.Moments(np.eye(2), [[2.0, 0.0], [0.0, 1.0]], 5.0)
    assert sl.DeepLinear((2, 2, 2)).stability_bound(m) == pytest.approx(0.5, rel=1e-14)


def test_scalar_chains_depths_are_integer_indices():
    model = sl.ScalarChains([1, 3, 2])
    assert model.depths.dtype.kind == "i"
    a = np.arange(9.0).reshape(3, 3) + 1
    # member e's factors are the first depths[e] entries: usable as a slice bound
    assert [float(np.prod(a[e, :model.depths[e]])) for e in range(3)] == [1.0, 120.0, 56.0]
    for bad in ([], [[1, 2]]):
        with raises("depths must be a non-empty 1-D list of positive integers"):
            sl.ScalarChains(bad)


def test_compiled_stepper_takes_the_numpy_steps():
    pytest.importorskip("numba")
    from theorylib.sim.engine import train_gd

    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 3))
    data = sd.moments_from_samples(X, X[:, :2] @ [[1.0, 0.3], [-0.5, 0.8]] + 0.1 * rng.standard_normal((50, 2)))
    for widths in ((3, 4, 2), (3, 4, 3, 2)):  # the two-layer kernel and the chain kernel
        model = sl.DeepLinear(widths)
        p = sl.random_init(widths, 0.3, n_ensemble=2, seed=4)
        assert model._compiled_stepper(p, np.eye(3), {n: 1.0 for n in p}) is None  # no kernel: None
        assert model._compiled_stepper(p, data, {n: 1.0 for n in p}) is not None
        rates = {n: 0.5 + 0.25 * i for i, n in enumerate(p)}
        a = train_gd(model, p, data, 0.05, backend="numba", steps=[0, 7, 30], tau=0.9, rates=rates)
        q = {n: x.copy() for n, x in p.items()}  # the reference: plain GD written out here
        for _ in range(30):
            g = model.grad(q, data)
            q = {n: q[n] - 0.05 / 0.9 * rates[n] * g[n] for n in q}
        for n in p:
            np.testing.assert_allclose(a.params[n], q[n], rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(a.loss[-1], model.loss(q, data), rtol=1e-11)


# --------------------------------------------------------------------------- theory.deep_linear
def _mode_exact(t, s, u0, tau=1.0):
    """u = s / (1 + (s/u0 - 1) e^(-2st/tau)) in 40-digit decimal arithmetic from the float inputs."""
    with localcontext() as ctx:
        ctx.prec = 40
        s, u0, t, tau = (Decimal(float(v)) for v in (s, u0, t, tau))
        return float(s / (1 + (s / u0 - 1) * (-2 * s * t / tau).exp()))


def test_mode_strength_far_out_in_time_is_quiet(dl):
    """u0 = s is a fixed point for all t, u0 < s decays to 0 as t -> -inf: no overflow, 0*inf or
    log(0) warning escapes the closed form."""
    with no_warnings():
        assert np.all(dl.mode_strength([-1000.0, -1e5, 0.0, 1e5], 1.0, 1.0) == 1.0)
        u = dl.mode_strength([-1000.0, 1000.0], 1.0, 0.5)
    assert u[0] == 0.0 and u[1] == 1.0


@pytest.mark.parametrize("u0", [1e20, 1e10, 7.0, 1.5, 1.0, 0.3, 1e-8])
def test_mode_strength_starts_at_u0(dl, u0):
    assert dl.mode_strength(0.0, 1.0, u0) == pytest.approx(u0, rel=4e-16)


def test_mode_strength_for_u0_far_above_s_is_quiet(dl):
    # 1 + (s/u0 - 1) rounds to 0 for u0 >> s at t = 0: the stable form is used, and the general
    # form's division by zero must not escape as a RuntimeWarning (library fix)
    with no_warnings():
        u = dl.mode_strength([0.0, 1e-30, 2.0], 1.0, 1e20)
    assert u == pytest.approx([_mode_exact(t, 1.0, 1e20) for t in (0.0, 1e-30, 2.0)], rel=1e-15)


@pytest.mark.parametrize("s,u0,t", [(1.0, 1e10, -2.5e-11), (2.0, 1e8, -1e-9), (1.0, 1e6, -2.5e-7),
                                    (1.0, 1e3, -1e-4), (1.0, 4.0, -0.05), (1.0, 1e10, 3e-11),
                                    (0.5, 3.0, 0.7)])
def test_mode_strength_keeps_its_digits_for_u0_far_above_s(dl, s, u0, t):
    """Past the pole (t < 0 from u0 > s) as well as for t >= 0: 1 + (s/u0 - 1)e^(-x) cancels for
    u0 >> s, and used to cost up to 8 digits at small negative t (library fix)."""
    assert dl.mode_strength(t, s, u0) == pytest.approx(_mode_exact(t, s, u0), rel=1e-15)


def test_learning_time_broadcast_message_lists_every_argument(dl):
    with raises("shapes do not broadcast together: s (2,), u0 (), u (3,), tau ()"):
        dl.learning_time([2.0, 3.0], 0.1, [0.5, 0.6, 0.7])
    with raises("shapes do not broadcast together: s (2,), u0 (), u (), tau (3,)"):
        dl.learning_time([2.0, 3.0], 0.1, 0.5, [1.0, 1.0, 1.0])


def test_learning_time_rejects_a_target_behind_the_start_at_any_scale(dl):
    # u < u0 < s: negative time; (u - u0)/(s - u0) = -1e-350 underflows to -0.0, the product does not
    msg = ("u must lie between u0 and s: the mode moves from u0 towards s, so u is never reached "
           "(the time would be negative)")
    with raises(msg):
        dl.learning_time(1e150, 2e-200, 1e-200)
    with raises(msg):
        dl.learning_time(2.0, 1.0, 0.5)


def test_deep_learning_time_broadcast_message_lists_every_argument(dl):
    with raises("shapes do not broadcast together: s (2,), u0 (), u (3,), n_weights (), tau ()"):
        dl.deep_learning_time([2.0, 3.0], 0.1, [0.5, 0.6, 0.7], 3)
    with raises("shapes do not broadcast together: s (), u0 (2,), u (3,), n_weights (), tau ()"):
        dl.deep_learning_time(2.0, [0.1, 0.2], [0.5, 0.6, 0.7], 3)


def test_deep_learning_time_rejects_a_shrinking_product(dl):
    with raises(f"need u {GE} u0: the product grows from u0 towards s (the time would be negative)"):
        dl.deep_learning_time(1.0, 0.5, 0.25, 3)


@pytest.mark.parametrize("n", [2, 3])
def test_deep_learning_time_from_a_vanishing_start_is_quiet_and_longest(dl, n):
    """u0/s below the float range (a start as good as the saddle): the time is at least the time
    from any larger start, and no log(0) or 0**(2-L) warning escapes."""
    with no_warnings():
        t_tiny = dl.deep_learning_time(1e10, 1e-320, 5e9, n)
        t_small = dl.deep_learning_time(1e10, 1e-300, 5e9, n)
    assert t_tiny >= t_small > 0


def test_balanced_start_readout_factor_is_sqrt_s(dl):
    # w0 = a0: the flow keeps w = a, so aw -> s gives w = a = sqrt(s) (correctly rounded)
    for s in (2.0, 3.0, 5.0, 0.7):
        w, a = dl.unbalanced_limit(s, 1.0, 1.0)
        assert w == np.sqrt(s)
        w, a = dl.unbalanced_limit(s, -0.25, -0.25)
        assert w == -np.sqrt(s)


def test_balanced_start_ends_balanced_and_mirror_symmetric(dl):
    """Swapping the roles of w and a swaps the end point (the flow is symmetric); a balanced start
    therefore ends exactly balanced at sqrt(s), not at (sqrt(s), s/sqrt(s)) (library fix)."""
    for s in (2.0, 3.0, 5.0, 0.7):
        w, a = dl.unbalanced_limit(s, 1.0, 1.0)
        assert w == a == np.sqrt(s)
    a0 = np.array([1.0, -2.0, 0.3, 0.0, 4.0, -1.5])
    b0 = np.array([1.0, 0.5, -0.3, 2.0, 4.0, -1.5])
    w, a = dl.unbalanced_limit(1.7, a0, b0)
    a2, w2 = dl.unbalanced_limit(1.7, b0, a0)
    assert np.array_equal(w, w2) and np.array_equal(a, a2)


def test_tiny_starts_are_not_mistaken_for_the_saddle(dl):
    """Starts below ~1e-154 make a0**2 - b0**2 and a0*b0 underflow to 0; only w0 = -a0 is on the
    saddle's stable manifold (library fix: these used to return (0, 0))."""
    w, a = dl.unbalanced_limit(1.0, [1e-200, 1e-200, -1e-200, 0.0, 1e-200],
                               [1e-200, -3e-200, 1e-200, 0.0, 0.0])
    np.testing.assert_allclose(w, [1.0, -1.0, 0.0, 0.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(a, [1.0, -1.0, 0.0, 0.0, 1.0], rtol=1e-15)
