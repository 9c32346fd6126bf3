"""Tests that kill survivors of theorylib/sim/fusion.py from the full mutation run (mutmut 3.8.1).

Every expectation is an independent computation (a hand-computed small case, an invariance of
the network such as its homogeneity under ``W_1 -> c W_1, X -> X / c``, plain GD written out
here, the authors' per-block initialisation scales), a documented default, or a whole anchored
error message. The compiled-kernel tests need numba and skip themselves without it; CI's
compiled-backend stage runs this file in the benchmark environment (.venv-bench). Only numpy,
pytest, the standard library and theorylib are imported.
"""
import types
from decimal import Decimal

import numpy as np
import pytest

from _asserts import no_warnings, raises
from theorylib.sim import engine
from theorylib.sim import fusion as fs

INCONSISTENT = ("is below \u03a3_yx \u03a3\u207a \u03a3_xy (the part the best linear predictor explains)"
                " ({}): the statistics are inconsistent (they would give a negative minimum loss)")


# --------------------------------------------------------------------------- FusionMoments
def test_fusion_moments_errors_give_their_whole_message():
    with raises("sigma, sigma_yx and e_yy disagree on the number of data sets"):
        fs.FusionMoments(np.stack([np.eye(2)] * 2), np.ones((3, 2)), 5.0)
    with raises("statistics must be finite"):
        fs.FusionMoments(np.eye(2), [np.inf, 0.0], 1.0)
    with raises("sigma must be symmetric"):
        fs.FusionMoments([[1.0, 0.5], [0.0, 1.0]], [0.0, 0.0], 1.0)
    with raises("e_yy must be non-negative"):
        fs.FusionMoments(np.eye(2), [0.0, 0.0], -1.0)
    with raises("sigma_yx must be (D,) or (E, D) with D = 2; got (3,)"):
        fs.FusionMoments(np.eye(2), np.ones(3), 5.0)


def test_fusion_moments_check_every_data_set_whichever_statistic_has_them():
    """E[y^2] >= Sigma_yx Sigma^+ Sigma_xy must hold for every set, also when only sigma_yx or
    only e_yy carries the sets (the others shared), and when there are more sets than inputs."""
    # only sigma_yx varies: the second set explains 3^2 = 9 > 2
    with raises("e_yy = 2 " + INCONSISTENT.format(9)):
        fs.FusionMoments(np.eye(2), [[1.0, 0.0], [3.0, 0.0]], 2.0)
    assert fs.FusionMoments(np.eye(2), [[1.0, 0.0], [3.0, 0.0]], 9.0).n_sets == 2
    # only e_yy varies: the second set has E[y^2] = 0.5 below the explained 1
    with raises("e_yy[1] = 0.5 " + INCONSISTENT.format(1)):
        fs.FusionMoments(np.eye(2), [1.0, 0.0], [5.0, 0.5])
    # three sets of sigma_yx in D = 1: the third explains 9 > 4
    with raises("e_yy = 4 " + INCONSISTENT.format(9)):
        fs.FusionMoments([[1.0]], [[1.0], [1.0], [3.0]], 4.0)
    assert fs.FusionMoments([[1.0]], [[1.0], [1.0], [2.0]], 4.0).n_sets == 3


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_fusion_moments_psd_tolerance_includes_its_edge(scale):
    # the tolerance is -1e-10 * max(1, max|Sigma|); an eigenvalue exactly at it is accepted
    edge = -1e-10 * max(1.0, scale)
    m = fs.FusionMoments(np.diag([scale, edge]), [0.0, 0.0], 0.0)
    assert m.sigma[0, 1, 1] == edge
    with raises("sigma must be positive semi-definite"):
        fs.FusionMoments(np.diag([scale, 1.01 * edge]), [0.0, 0.0], 0.0)


# --------------------------------------------------------------------------- FusionSamples, data
def test_fusion_samples_reject_non_finite_data_with_the_message():
    with raises("X and y must be finite"):
        fs.FusionSamples([[1.0, np.nan]], [1.0])
    with raises("X and y must be finite"):
        fs.FusionSamples([[1.0, 2.0]], [np.inf])


def test_toy_samples_default_seed_and_message():
    a, b = fs.toy_samples(2.0, 0.3, 5), fs.toy_samples(2.0, 0.3, 5, seed=0)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, fs.toy_samples(2.0, 0.3, 5, seed=1).X)
    # the documented draw: X = Z M^T with Z from default_rng(0), y = x_A + x_B
    Z = np.random.default_rng(0).standard_normal((5, 2))
    np.testing.assert_allclose(a.X, Z @ fs.toy_mixing(2.0, 0.3).T, rtol=1e-15)
    np.testing.assert_array_equal(a.y, a.X[:, 0] + a.X[:, 1])
    for n in (1, 2.5):
        with raises("need n \u2265 2 samples"):
            fs.toy_samples(2.0, 0.3, n)


@pytest.mark.parametrize("r, rho", [(None, 0.5), (2.0, None)])
def test_toy_moments_reject_a_missing_parameter_with_the_toys_message(r, rho):
    # a missing r or rho is not a number: the toy's own check rejects it (not a TypeError)
    with raises("need r > 0 and |rho| < 1"):
        fs.toy_moments(r, rho)


def test_multi_samples_reject_bad_arguments_with_the_message():
    msg = "need n \u2265 1, d_a, d_b \u2265 1, positive variances and noise \u2265 0"
    for kw in ({"n": 0}, {"n": 3, "var_b": 0.0}, {"n": 3, "noise": -0.1}):
        with raises(msg):
            fs.multi_samples(**kw)


# --------------------------------------------------------------------------- FusionNet
def test_fusion_net_argument_errors_give_their_whole_message():
    with raises("d_b must be an integer; got 1.5"):
        fs.FusionNet(1, 1.5, 2, 1, 2)
    with raises("d_a, d_b, depth and hidden must be \u2265 1"):
        fs.FusionNet(1, 1, 2, 1, 0)
    for slope in (-0.1, 1.5):
        with raises("slope must lie in [0, 1]"):
            fs.FusionNet(1, 1, 2, 1, 2, slope=slope)


def test_fusion_net_data_errors_give_their_whole_message():
    relu = fs.FusionNet(1, 1, 2, 2, 2, slope=0.0)
    p = fs.gaussian_init(relu, 0.1)
    with raises("a leaky-ReLU network (slope < 1) needs FusionSamples, not moments"):
        relu.grad(p, fs.toy_moments(2.0, 0.0))
    lin = fs.FusionNet(1, 1, 2, 2, 2)
    with raises("data must be FusionMoments or FusionSamples"):
        lin.loss(fs.gaussian_init(lin, 0.1), types.SimpleNamespace(n_in=2))


def test_output_is_computed_in_double_precision_for_single_precision_inputs():
    net = fs.FusionNet(1, 1, 2, 1, 3, slope=0.2)
    rng = np.random.default_rng(0)
    p64 = {n: rng.standard_normal((1, net.widths[l + 1], net.widths[l])) for l, n in enumerate(net.names)}
    X64 = rng.standard_normal((7, 2))
    p32 = {n: v.astype(np.float32) for n, v in p64.items()}
    X32 = X64.astype(np.float32)
    # reference: the same (float32-representable) numbers, written out in float64
    W1, W2 = p32["W1"][0].astype(float), p32["W2"][0].astype(float)
    z = W1 @ X32.astype(float).T
    ref = W2 @ np.where(z > 0, z, 0.2 * z)
    out = net.output(p32, X32)
    assert out.dtype == np.float64 and out.shape == (1, 7)
    np.testing.assert_allclose(out, ref, rtol=1e-14, atol=1e-15)


def test_one_layer_network_is_linear_whatever_the_slope():
    """No activation after the last layer: a depth-1 ReLU net is X W^T, negative and infinite
    outputs included, and nothing multiplies the output by the slope (no invalid 0 * inf)."""
    net = fs.FusionNet(1, 1, 1, 1, 2, slope=0.0)
    p = {"W1": np.array([[[1.0, -1.0]]])}
    X = np.array([[-2.0, 3.0], [np.inf, 1.0], [0.5, 0.25]])
    with no_warnings():
        out = net.output(p, X)
    np.testing.assert_array_equal(out, [[-5.0, np.inf, 0.25]])


def test_sample_gradient_is_homogeneous_in_the_first_layer_scale():
    """f(c W1, X / c) = f(W1, X): the loss is the same, the gradient of W2 too, and that of W1 is
    divided by c. With c = 2^1020 every product is exact; the gradient never needs W1^T times the
    back-propagated signal, so it is finite and free of overflow warnings."""
    c = 2.0 ** 1020
    net = fs.FusionNet(1, 1, 2, 1, 1, slope=0.5)
    W1 = np.array([[[1.0, -1.0], [2.0, 1.0]]])
    W2 = np.array([[[1.0, -3.0]]])
    X = np.array([[1.0, 2.0], [3.0, -1.0], [-2.0, 0.5]])
    y = np.array([1000.0, -1000.0, 400.0])
    g0 = net.grad({"W1": W1, "W2": W2}, fs.FusionSamples(X, y))
    with no_warnings():
        big = {"W1": c * W1, "W2": W2}
        scaled = fs.FusionSamples(X / c, y)
        g = net.grad(big, scaled)
        loss = net.loss(big, scaled)
    np.testing.assert_array_equal(loss, net.loss({"W1": W1, "W2": W2}, fs.FusionSamples(X, y)))
    np.testing.assert_array_equal(g["W2"], g0["W2"])
    np.testing.assert_array_equal(g["W1"], g0["W1"] / c)
    # the unscaled gradient by hand: residual drive through the leaky ReLU
    z = W1[0] @ X.T
    h = np.where(z > 0, z, 0.5 * z)
    delta = -(y - W2[0] @ h) / 3  # (1, P)
    np.testing.assert_allclose(g0["W2"][0], delta @ h.T, rtol=1e-14)
    np.testing.assert_allclose(g0["W1"][0], (W2[0].T @ delta * np.where(z > 0, 1.0, 0.5)) @ X, rtol=1e-14)


def test_stability_bound_of_data_without_signal_is_infinite_without_a_warning():
    no_signal = fs.FusionMoments(np.eye(2), [0.0, 0.0], 0.0)
    for depth in (2, 3):
        net = fs.FusionNet(1, 1, depth, 1, 2)
        with no_warnings():
            assert net.stability_bound(no_signal) == np.inf
    # a case with signal, by hand: w* = (1, 1), |w*| = sqrt 2, lambda = 2 * sqrt2 * 2
    data = fs.FusionMoments(np.diag([2.0, 1.0]), [2.0, 1.0], 3.0)
    np.testing.assert_allclose(fs.FusionNet(1, 1, 2, 1, 2).stability_bound(data), 1 / (2 * np.sqrt(2)), rtol=1e-14)


# --------------------------------------------------------------------------- compiled-kernel hook
def test_compiled_hook_declines_data_it_has_no_kernel_for():
    # the kernel is for the linear network on moments only; the hook says None before it
    # imports numba, so this runs without numba too
    lin = fs.FusionNet(1, 1, 2, [1, 2], 2)
    p = fs.gaussian_init(lin, 0.3, seed=0)
    assert lin._compiled_stepper(p, fs.toy_samples(2.0, 0.3, 20), {n: 0.1 for n in p}) is None
    relu = fs.FusionNet(1, 1, 2, [1, 2], 2, slope=0.5)
    assert relu._compiled_stepper(p, fs.toy_moments(2.0, 0.3), {n: 0.1 for n in p}) is None


def _plain_gd(net, p, data, lr, rates, n_steps):
    q = {n: x.copy() for n, x in p.items()}
    for _ in range(n_steps):
        g = net.grad(q, data)
        q = {n: q[n] - lr * rates[n] * g[n] for n in q}
    return q


def test_compiled_kernel_takes_the_numpy_steps_with_branch_layers(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    net = fs.FusionNet(1, 2, 3, [3, 2, 1], 2)  # branch layers in two of the three members
    data = fs.FusionMoments(np.diag([1.0, 2.0, 0.5]), np.array([0.7, -0.4, 0.3]), 2.0)
    p = fs.gaussian_init(net, 0.5, seed=4, scheme="numel")
    assert net._compiled_stepper(p, data, {n: 0.01 for n in p}) is not None
    rates = {"W1": 1.0, "W2": 0.5, "W3": 2.0}
    tr = engine.train_gd(net, p, data, 0.05, steps=[0, 7, 30], rates=rates, backend="numba")
    q = _plain_gd(net, p, data, 0.05, rates, 30)
    for n in p:
        np.testing.assert_allclose(tr.params[n], q[n], rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(tr.loss[-1], net.loss(q, data), rtol=1e-11)


def test_nonzero_masked_weights_get_no_kernel_and_train_on_numpy(tmp_path, monkeypatch):
    """The kernel skips masked entries; a member with a nonzero masked weight (which then stays
    fixed and still feeds the product) must fall back to the numpy loop."""
    pytest.importorskip("numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    net = fs.FusionNet(1, 1, 3, [3, 1], 2)
    data = fs.toy_moments(2.0, 0.5)
    p = fs.gaussian_init(net, 0.5, seed=1)
    p["W2"][0, 0, 3] = 0.4  # member 0 is fused at layer 3: W2 is block diagonal there
    assert net._compiled_stepper(p, data, {n: 0.01 for n in p}) is None
    tr = engine.train_gd(net, p, data, 0.05, steps=[0, 40], backend="auto")
    q = _plain_gd(net, p, data, 0.05, {n: 1.0 for n in p}, 40)
    assert tr.params["W2"][0, 0, 3] == 0.4
    for n in p:
        np.testing.assert_allclose(tr.params[n], q[n], rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- initialisations
def test_aligned_init_errors_give_their_whole_message():
    with raises("the aligned rank-one initialisation is defined for scalar modalities"):
        fs.aligned_init(fs.FusionNet(2, 1, 2, 2, 2), 0.1)
    with raises("n_ensemble must match the number of fusion layers"):
        fs.aligned_init(fs.FusionNet(1, 1, 2, [1, 2], 2), 0.1, n_ensemble=3)


def test_aligned_init_default_seed_is_zero():
    net = fs.FusionNet(1, 1, 3, 2, 3)
    a, b = fs.aligned_init(net, 0.2), fs.aligned_init(net, 0.2, seed=0)
    c = fs.aligned_init(net, 0.2, seed=1)
    assert all(np.array_equal(a[n], b[n]) for n in net.names)
    assert not np.array_equal(a["W1"], c["W1"])


def test_aligned_init_gives_each_member_its_own_fusion_layer():
    # two members fused at layers 1 and 3 of a depth-3 net: W^tot = u0^Lf (sqrt2 u0)^(L - Lf)
    u0 = 0.3
    net = fs.FusionNet(1, 1, 3, [1, 3], 2)
    p = fs.aligned_init(net, u0, seed=2)
    W = net.product(p)
    np.testing.assert_allclose(W[0], [u0 * 2 * u0**2] * 2, rtol=1e-13)
    np.testing.assert_allclose(W[1], [u0**3] * 2, rtol=1e-13)
    for name in net.names:  # the masks of member 1 (branch layers 1, 2) hold
        assert np.all(p[name][1][net.masks[name][1] == 0] == 0)


@pytest.mark.parametrize("seed", range(4))
def test_aligned_init_directions_are_generic_unit_vectors(seed):
    """a_l, b_l and the fused/shared c_l are random unit vectors on their blocks (A units, B
    units, all units): no hidden unit is left out (no zero row in a hidden layer)."""
    u0, h = 0.4, 3
    net = fs.FusionNet(1, 1, 4, 2, h)  # layer 1 branch, 2 fusion, 3 shared, 4 output
    p = fs.aligned_init(net, u0, seed=seed)
    W1, W2, W3 = p["W1"][0], p["W2"][0], p["W3"][0]
    a, b = W1[:h, 0] / u0, W1[h:, 1] / u0
    np.testing.assert_allclose([np.linalg.norm(a), np.linalg.norm(b)], [1.0, 1.0], rtol=1e-14)
    assert np.all(W1[:h, 1] == 0) and np.all(W1[h:, 0] == 0)
    for W in (W1, W2, W3):
        assert np.all(np.abs(W).max(axis=1) > 0)
    # fusion layer u0 c (a + b)^T, shared layer sqrt2 u0 c' c^T: unit c and c'
    c = W2 @ np.concatenate([a, np.zeros(h)]) / u0
    np.testing.assert_allclose(np.linalg.norm(c), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(W3 @ c) / (np.sqrt(2) * u0), 1.0, rtol=1e-14)


def test_gaussian_init_errors_and_default_seed():
    net = fs.FusionNet(1, 1, 2, [1, 2], 2)
    with raises("scheme must be 'iid' or 'numel'"):
        fs.gaussian_init(net, 0.1, scheme="xavier")
    with raises("n_ensemble must match the number of fusion layers"):
        fs.gaussian_init(net, 0.1, n_ensemble=3)
    a, b = fs.gaussian_init(net, 0.1), fs.gaussian_init(net, 0.1, seed=0)
    assert all(np.array_equal(a[n], b[n]) for n in net.names)
    assert not np.array_equal(a["W2"], fs.gaussian_init(net, 0.1, seed=1)["W2"])


def test_gaussian_numel_init_uses_the_authors_per_block_scales():
    """The authors' deep_fusion code (checks.ch04_fusion_depth.AuthorsDeepFusion.init) draws a
    branch block with std / sqrt(numel of the block) and a fusion or shared layer with
    sqrt2 * std / sqrt(numel of the layer). For equal blocks the two are the same number in
    exact arithmetic, but not always in floating point: with hidden = 5 and std = 0.1 they
    differ in the last bit for every layer size here, so the test compares bit for bit, on
    the same standard normals (one draw of shape (E, out, in) per layer, in order)."""
    std, h = 0.1, 5
    net = fs.FusionNet(1, 1, 3, [3, 1], h)  # member 0: W1, W2 branch, W3 fusion; member 1: all shared
    p = fs.gaussian_init(net, std, seed=7, scheme="numel")
    rng = np.random.default_rng(7)
    for l, name in enumerate(net.names):
        out_w, in_w = net.widths[l + 1], net.widths[l]
        G = rng.standard_normal((2, out_w, in_w))
        for e, lf in enumerate((3, 1)):
            if l + 1 < lf:  # block (h x 1) or (h x h)
                s = 1.0 * std / np.sqrt(h * (1 if l == 0 else h))
            else:
                s = np.sqrt(2.0) * std / np.sqrt(out_w * in_w)
            expect = s * G[e] * net.masks[name][e]
            np.testing.assert_array_equal(p[name][e], expect)


def test_gaussian_numel_init_scales_unequal_branch_blocks_by_their_own_size():
    """With d_a != d_b the two blocks of the first branch layer have h*d_a and h*d_b entries;
    each is drawn with std / sqrt(its own size), so each block has Frobenius norm ~ std (the
    docstring's promise). Dividing by the layer's average block size instead would give the
    blocks norms std * sqrt(2 d / (d_a + d_b)): here 0.63 std and 1.26 std."""
    std, h, d_a, d_b = 0.1, 4, 1, 3
    net = fs.FusionNet(d_a, d_b, 3, [3], h)  # W1, W2 branch layers, W3 the fusion layer
    p = fs.gaussian_init(net, std, seed=5, scheme="numel")
    rng = np.random.default_rng(5)
    G = {n: rng.standard_normal((1, net.widths[l + 1], net.widths[l]))[0]
         for l, n in enumerate(net.names)}
    W1 = p["W1"][0]
    np.testing.assert_array_equal(W1[:h, :d_a], std / np.sqrt(h * d_a) * G["W1"][:h, :d_a])
    np.testing.assert_array_equal(W1[h:, d_a:], std / np.sqrt(h * d_b) * G["W1"][h:, d_a:])
    assert np.all(W1[:h, d_a:] == 0) and np.all(W1[h:, :d_a] == 0)
    W2 = p["W2"][0]
    for rows in (slice(0, h), slice(h, 2 * h)):
        np.testing.assert_array_equal(W2[rows, rows], std / np.sqrt(h * h) * G["W2"][rows, rows])
    np.testing.assert_array_equal(p["W3"][0], np.sqrt(2.0) * std / np.sqrt(2 * h) * G["W3"])


# --------------------------------------------------------------------------- measurements
def test_first_crossing_error_message():
    with raises("t must be (T,) or (T, E) matching w"):
        fs.first_crossing([0.0, 1.0], [[0.0], [1.0], [2.0]], 0.5)


def test_first_crossing_interpolates_in_float_for_small_integer_types():
    # int8 inputs whose differences overflow int8 (200): the crossing is the midpoint
    t8 = np.array([-100, 100], dtype=np.int8)
    w8 = np.array([-100, 100], dtype=np.int8)
    with no_warnings():
        np.testing.assert_allclose(fs.first_crossing(t8, [0.0, 1.0], 0.5), [0.0], atol=1e-15)
        np.testing.assert_allclose(fs.first_crossing([0.0, 1.0], w8, 0.0), [0.5], atol=1e-15)


def test_measurements_read_decimal_levels_and_weights_as_floats():
    t = [0.0, 1.0, 2.0]
    np.testing.assert_allclose(fs.first_crossing(t, [0.0, 1.0, 2.0], Decimal("1.5")), [1.5], rtol=1e-15)
    w_b = [[Decimal(0)], [Decimal(4)], [Decimal(2)]]
    t_a, t_b = fs.half_times(t, [0.0, 1.0, 2.0], w_b, 0.5)
    np.testing.assert_allclose(t_a, [0.5], rtol=1e-15)
    np.testing.assert_allclose(t_b, [0.5], rtol=1e-15)


def test_half_times_use_each_members_own_maximum():
    t = np.array([0.0, 1.0, 2.0])
    w_b = np.array([[0.0, 0.0], [1.0, 4.0], [2.0, 2.0]])  # maxima 2 and 4: half levels 1 and 2
    t_a, t_b = fs.half_times(t, w_b, w_b, 0.5)
    np.testing.assert_allclose(t_b, [1.0, 0.5], rtol=1e-15)
    np.testing.assert_allclose(t_a, [0.5, 0.125], rtol=1e-15)
