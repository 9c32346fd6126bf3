"""Tests that kill survivors of theorylib/sim/biased.py from the full mutation run (mutmut 3.8.1).

Each test checks a documented property against an independent computation (a hand-computed small
case, sample statistics of a large draw, a per-sample gradient written out by hand), a documented
shape/dtype/default, a validation tolerance on both sides of its edge, or a whole error message that
names the argument. Only numpy, pytest and theorylib are imported (the digits tests skip without
scikit-learn, which ships the data), so the file also runs in the benchmark environment.
"""
from fractions import Fraction

import numpy as np
import pytest

from _asserts import raises
from theorylib.sim import biased as sb


def moments(sxx=None, x_mean=None, trace_yy=1.0, syx=None, y_mean=None):
    sxx = np.eye(2) if sxx is None else sxx
    n = np.shape(sxx)[0]
    syx = np.zeros((1, n)) if syx is None else syx
    x_mean = np.zeros(n) if x_mean is None else x_mean
    y_mean = np.zeros(1) if y_mean is None else y_mean
    return sb.BiasedMoments(sxx, syx, x_mean, y_mean, trace_yy)


# --------------------------------------------------------------------------- BiasedMoments
def test_biased_moments_store_trace_yy_as_a_python_float():
    # documented type float: an int or a 0-d array is converted, not kept as given
    for given in (3, np.array(3.0), np.int64(3)):
        m = moments(trace_yy=given)
        assert type(m.trace_yy) is float and m.trace_yy == 3.0


@pytest.mark.parametrize("field, value, msg", [
    ("sxx", np.ones(2), "sigma_xx must be 2-dimensional; got shape (2,)"),
    ("sxx", np.ones((2, 3)), "sigma_xx must be square; got (2, 3)"),
    ("sxx", np.ones((3, 2)), "sigma_xx must be square; got (3, 2)"),
    ("x_mean", np.zeros((2, 1)), "x_mean must be 1-dimensional; got shape (2, 1)"),
    ("x_mean", np.array([0.0, np.nan]), "x_mean has non-finite entries"),
    ("y_mean", np.zeros((1, 1)), "y_mean must be 1-dimensional; got shape (1, 1)"),
    ("y_mean", np.array([np.inf]), "y_mean has non-finite entries"),
], ids=["sxx-ndim", "sxx-wide", "sxx-tall", "xmean-ndim", "xmean-nan", "ymean-ndim", "ymean-inf"])
def test_biased_moments_name_the_bad_statistic(field, value, msg):
    with raises(msg):
        moments(**{field: value})


@pytest.mark.parametrize("trace", [-1.0, -1e-300, np.nan, np.inf, -np.inf])
def test_biased_moments_reject_a_negative_or_non_finite_trace_yy(trace):
    with raises("trace_yy must be a non-negative number"):
        moments(trace_yy=trace)


def test_biased_moments_accept_zero_and_small_trace_yy():
    # E|y|^2 = 0 (all targets zero) and 0.5 are legitimate values
    zero = sb.biased_moments_from_samples(np.eye(3, 2), np.zeros((3, 1)))
    assert zero.trace_yy == 0.0
    assert moments(trace_yy=0.5).trace_yy == 0.5


def test_biased_moments_symmetry_tolerance_at_unit_scale():
    # tolerance 1e-12 * max(1, max|sigma_xx|): at unit scale an asymmetry of 0.5e-12 next to an
    # exact 0 (numpy's rtol term gives no slack there) is round-off, 1.5e-12 and 1e-9 are not
    sxx = np.eye(2)
    sxx[0, 1] = 0.5e-12
    np.testing.assert_array_equal(moments(sxx).sigma_xx, sxx)
    for asym in (1.5e-12, 1e-9):
        sxx[0, 1] = asym
        with raises("sigma_xx must be symmetric"):
            moments(sxx)


def test_biased_moments_covariance_tolerance_at_unit_scale():
    # the augmented second moment [[S, m], [m^T, 1]] may have a negative eigenvalue down to
    # -1e-10 * max(1, max|entry|) (inclusive); diagonal matrices have exact eigenvalues
    msg = "sigma_xx − x_mean x_meanᵀ must be positive semi-definite (a covariance)"
    assert moments(np.diag([1.0, -1e-10])).n_in == 2
    for neg in (-1.5e-10, -1e-9):
        with raises(msg):
            moments(np.diag([1.0, neg]))


def test_biased_moments_covariance_tolerance_grows_with_the_entries():
    # entries of size 100: round-off of -1e-9 (1e-11 relative) is accepted, -1e-7 is not
    assert moments(np.diag([100.0, -1e-9])).n_in == 2
    with raises("sigma_xx − x_mean x_meanᵀ must be positive semi-definite (a covariance)"):
        moments(np.diag([100.0, -1e-7]))


# --------------------------------------------------------------------------- Samples
@pytest.mark.parametrize("Y, msg", [
    (np.ones(3), "Y must be 2-dimensional; got shape (3,)"),
    (np.array([[1.0], [np.nan], [0.0]]), "Y has non-finite entries"),
], ids=["ndim", "nan"])
def test_samples_name_y_in_their_messages(Y, msg):
    with raises(msg):
        sb.Samples(np.zeros((3, 2)), Y)


# --------------------------------------------------------------------------- BiasedLinear._check
@pytest.fixture
def net234():
    net = sb.BiasedLinear((2, 3, 4))
    params = sb.biased_random_init((2, 3, 4), 0.5, bias_scale=0.2, n_ensemble=2, seed=3)
    rng = np.random.default_rng(1)
    data = sb.biased_moments_from_samples(rng.standard_normal((6, 2)), rng.standard_normal((6, 4)))
    return net, params, data


def test_biased_linear_names_mismatched_data_widths(net234):
    net, params, _ = net234
    rng = np.random.default_rng(2)
    wrong_out = sb.Samples(rng.standard_normal((5, 2)), rng.standard_normal((5, 5)))
    wrong_in = sb.biased_moments_from_samples(rng.standard_normal((5, 3)), rng.standard_normal((5, 4)))
    for method in (net.loss, net.grad):
        with raises("data has n_in=2, n_out=5; network expects 2 and 4"):
            method(params, wrong_out)
        with raises("data has n_in=3, n_out=4; network expects 2 and 4"):
            method(params, wrong_in)


def test_biased_linear_lists_missing_parameters(net234):
    net, params, data = net234
    for drop, msg in ((("b2",), "missing parameters ['b2']"),
                      (("W1", "b1"), "missing parameters ['W1', 'b1']")):
        p = {k: v for k, v in params.items() if k not in drop}
        with raises(msg):
            net.grad(p, data)


def test_biased_linear_names_a_misshaped_parameter(net234):
    net, params, data = net234
    cases = [("W1", np.zeros((2, 3, 3)), "W1 has shape (3, 3); expected (3, 2)"),
             ("W2", np.zeros((2, 4, 2)), "W2 has shape (4, 2); expected (4, 3)"),
             ("b1", np.zeros((2, 2)), "b1 has shape (2,); expected (3,)"),
             ("b2", np.zeros((2, 4, 1)), "b2 has shape (4, 1); expected (4,)")]
    for name, value, msg in cases:
        with raises(msg):
            net.loss({**params, name: value}, data)


# --------------------------------------------------------------------------- forward dtypes
def _long_and_fraction_inputs():
    X = np.array([[0.5, -1.25], [2.0, 0.75], [-0.5, 3.0]])
    frac = np.array([[Fraction(1, 2), Fraction(-5, 4)], [Fraction(2), Fraction(3, 4)],
                     [Fraction(-1, 2), Fraction(3)]], dtype=object)
    return X, [X.astype(np.longdouble), frac, X.tolist()]


def test_biased_linear_forward_casts_inputs_to_float64():
    # any real array-like input gives the float64 outputs of its float64 copy
    net = sb.BiasedLinear((2, 3, 2))
    p = sb.biased_random_init((2, 3, 2), 0.7, bias_scale=0.4, n_ensemble=2, seed=5)
    X, others = _long_and_fraction_inputs()
    W = p["W2"] @ p["W1"]
    m = np.einsum("eoh,eh->eo", p["W2"], p["b1"]) + p["b2"]
    ref = np.stack([X @ W[e].T + m[e] for e in range(2)])
    for Xo in others:
        out = net.forward(p, Xo)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-13)


def test_biased_relu_hidden_and_forward_cast_inputs_to_float64():
    net = sb.BiasedReLU((2, 3, 2))
    p = sb.biased_random_init((2, 3, 2), 0.7, bias_scale=0.4, n_ensemble=2, seed=5)
    X, others = _long_and_fraction_inputs()
    z = np.stack([X @ p["W1"][e].T + p["b1"][e] for e in range(2)])
    y = np.stack([np.maximum(z[e], 0) @ p["W2"][e].T + p["b2"][e] for e in range(2)])
    for Xo in others:
        h, out = net.hidden(p, Xo), net.forward(p, Xo)
        assert h.dtype == np.float64 and out.dtype == np.float64
        np.testing.assert_allclose(h, z, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(out, y, rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------- BiasedReLU
def test_biased_relu_names_a_misshaped_parameter():
    net = sb.BiasedReLU((2, 3, 4))
    p = sb.biased_random_init((2, 3, 4), 0.5, bias_scale=0.1, n_ensemble=2, seed=0)
    data = sb.Samples(np.ones((5, 2)), np.zeros((5, 4)))
    cases = [("W1", np.zeros((2, 3, 3)), "W1 must have shape (E, 3, 2)"),
             ("b1", np.zeros((2, 2)), "b1 must have shape (E, 3)"),
             ("W2", np.zeros((2, 3, 4)), "W2 must have shape (E, 4, 3)"),
             ("b2", np.zeros((2, 4, 1)), "b2 must have shape (E, 4)")]
    for name, value, msg in cases:
        with raises(msg):
            net.grad({**p, name: value}, data)
        with raises(msg):  # a missing parameter gets the same message
            net.loss({k: v for k, v in p.items() if k != name}, data)


def test_biased_relu_rejects_moments_with_its_message():
    net = sb.BiasedReLU((2, 3, 1))
    p = sb.biased_random_init((2, 3, 1), 0.5)
    with raises("BiasedReLU trains on Samples (its loss is not a function of moments)"):
        net.loss(p, sb.biased_moments_from_samples(np.eye(3, 2), np.ones((3, 1))))


def test_biased_relu_derivative_at_zero_is_zero():
    # documented ReLU'(0) = 0: with W1 = 0 the pre-activation of unit 0 is exactly b1[0] = 0
    # (dead, no gradient) while unit 1 (b1[1] = 1) is active; gradients by hand per sample
    net = sb.BiasedReLU((2, 2, 1))
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, -3.0]])
    Y = np.array([[1.0], [-2.0], [0.5]])
    p = {"W1": np.zeros((1, 2, 2)), "b1": np.array([[0.0, 1.0]]),
         "W2": np.array([[[2.0, -1.5]]]), "b2": np.array([[0.25]])}
    g = net.grad(p, sb.Samples(X, Y))
    err = Y[:, 0] - (-1.5 * 1.0 + 0.25)  # the output is W2[1] * 1 + b2 on every sample
    np.testing.assert_array_equal(g["b1"][0, 0], 0.0)
    np.testing.assert_array_equal(g["W1"][0, 0], [0.0, 0.0])
    np.testing.assert_allclose(g["b1"][0, 1], np.mean(-err * -1.5), rtol=1e-14)
    np.testing.assert_allclose(g["W1"][0, 1], np.mean((-err * -1.5)[:, None] * X, axis=0), rtol=1e-14)
    np.testing.assert_allclose(g["W2"][0, 0], [0.0, np.mean(-err)], rtol=1e-14)
    np.testing.assert_allclose(g["b2"][0], [np.mean(-err)], rtol=1e-14)


# --------------------------------------------------------------------------- biased_random_init
def test_biased_random_init_defaults_are_one_member_seed_zero():
    p = sb.biased_random_init((3, 4, 2), 0.5)
    assert sorted(p) == ["W1", "W2", "b1", "b2"]
    assert p["W1"].shape == (1, 4, 3) and p["W2"].shape == (1, 2, 4)
    assert p["b1"].shape == (1, 4) and p["b2"].shape == (1, 2)
    q = sb.biased_random_init((3, 4, 2), 0.5, n_ensemble=1, seed=0)
    for k in p:
        np.testing.assert_array_equal(p[k], q[k])
    np.testing.assert_array_equal(p["b1"], 0.0)  # default bias_scale 0


def test_biased_random_init_is_reproducible_and_depends_on_the_seed():
    a = sb.biased_random_init((3, 4, 2), 0.5, bias_scale=0.3, n_ensemble=2, seed=11)
    b = sb.biased_random_init((3, 4, 2), 0.5, bias_scale=0.3, n_ensemble=2, seed=11)
    c = sb.biased_random_init((3, 4, 2), 0.5, bias_scale=0.3, n_ensemble=2, seed=12)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert not np.array_equal(a[k], c[k])


def test_biased_random_init_standard_deviations():
    # 20000 draws each: the sample std and mean |.| of a Gaussian N(0, s^2) are s and s*sqrt(2/pi)
    p = sb.biased_random_init((5, 4, 1), 0.2, bias_scale=0.5, n_ensemble=5000, seed=4)
    for vals, s in ((p["W1"][:, :, :1], 0.2), (p["b1"], 0.5)):
        v = vals.ravel()
        assert v.size == 20000
        assert abs(v.std() / s - 1) < 0.03
        assert abs(np.abs(v).mean() / (s * np.sqrt(2 / np.pi)) - 1) < 0.03
        assert np.abs(v).max() < 6 * s


@pytest.mark.parametrize("scale, bias_scale", [(-0.1, 0.0), (np.inf, 0.0), (0.1, -1.0), (0.1, np.nan)])
def test_biased_random_init_rejects_bad_scales_with_its_message(scale, bias_scale):
    with raises("scale and bias_scale must be non-negative and finite"):
        sb.biased_random_init((2, 3, 1), scale, bias_scale=bias_scale)


# --------------------------------------------------------------------------- tree_labels
def test_tree_labels_default_is_four_levels():
    # 8 items; columns root | 2 | 4 | 8 leaves; item mu lies under node mu // (8 / n_nodes)
    Y = sb.tree_labels()
    want = np.zeros((8, 15))
    for mu in range(8):
        want[mu, 0] = 1
        want[mu, 1 + mu // 4] = 1
        want[mu, 3 + mu // 2] = 1
        want[mu, 7 + mu] = 1
    np.testing.assert_array_equal(Y, want)


def test_tree_labels_smallest_tree():
    np.testing.assert_array_equal(sb.tree_labels(2), [[1, 1, 0], [1, 0, 1]])
    np.testing.assert_array_equal(sb.tree_labels(2, root=False), [[1, 0], [0, 1]])


@pytest.mark.parametrize("n", [1, 0, -3])
def test_tree_labels_reject_fewer_than_two_levels_with_its_message(n):
    with raises("n_levels must be at least 2"):
        sb.tree_labels(n)


# --------------------------------------------------------------------------- centred_whitened_inputs
@pytest.mark.parametrize("P", [1, 0])
def test_centred_whitened_inputs_reject_fewer_than_two_items(P):
    with raises("P must be at least 2"):
        sb.centred_whitened_inputs(P)


def test_centred_whitened_inputs_mean_of_exactly_p_minus_one_entries():
    # k = 0 padding columns: the mean is added to the whitened inputs, the covariance stays I
    mean = np.array([0.5, -1.0, 2.0])
    X = sb.centred_whitened_inputs(4, mean=mean)
    assert X.shape == (4, 3)
    np.testing.assert_allclose(X.mean(axis=0), mean, atol=1e-14)
    Xc = X - mean
    np.testing.assert_allclose(Xc.T @ Xc / 4, np.eye(3), atol=1e-13)


@pytest.mark.parametrize("mean, msg", [
    ([1.0, 2.0], "mean needs at least P − 1 = 3 entries"),
    ([], "mean needs at least P − 1 = 3 entries"),
    ([0.0, np.nan, 0.0], "mean has non-finite entries"),
    (np.zeros((3, 1)), "mean must be 1-dimensional; got shape (3, 1)"),
], ids=["short", "empty", "nan", "ndim"])
def test_centred_whitened_inputs_name_a_bad_mean(mean, msg):
    with raises(msg):
        sb.centred_whitened_inputs(4, mean=mean)


# --------------------------------------------------------------------------- hierarchical_digits
@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return {"default": sb.hierarchical_digits(), "seed0": sb.hierarchical_digits(seed=0),
            "raw": sb.hierarchical_digits(centre=False)}


def test_hierarchical_digits_returns_the_documented_keys(digits):
    assert set(digits["default"]) == {"X_train", "Y_train", "X_test", "Y_test", "digit_train",
                                      "digit_test", "units"}
    assert digits["default"]["units"] == ["loops", "straight", "open", "0", "1", "2", "3", "4", "5",
                                          "6", "7", "8", "9"]


def test_hierarchical_digits_default_seed_is_zero(digits):
    # also: the split is a fixed function of the seed (two calls agree)
    for k, v in digits["default"].items():
        np.testing.assert_array_equal(v, digits["seed0"][k])


def test_hierarchical_digits_labels_are_family_plus_digit(digits):
    family = {0: 0, 6: 0, 8: 0, 9: 0, 1: 1, 4: 1, 7: 1, 2: 2, 3: 2, 5: 2}
    d = digits["default"]
    for split in ("train", "test"):
        Y, dig = d["Y_" + split], d["digit_" + split]
        want = np.zeros((len(dig), 13))
        for i, k in enumerate(dig):
            want[i, family[int(k)]] = 1
            want[i, 3 + k] = 1
        np.testing.assert_array_equal(Y, want)
        assert set(dig.tolist()) == set(range(10))


def test_hierarchical_digits_pixels_scaled_to_unit_interval_and_centred_by_training_mean(digits):
    raw, cen = digits["raw"], digits["default"]
    for split in ("train", "test"):
        X = raw["X_" + split]
        assert X.min() == 0.0 and X.max() == 1.0  # the raw pixels run 0..16
        assert np.all(np.isin(X * 16, np.arange(17)))
    mu = raw["X_train"].mean(axis=0)
    np.testing.assert_allclose(cen["X_train"], raw["X_train"] - mu, atol=1e-15)
    np.testing.assert_allclose(cen["X_test"], raw["X_test"] - mu, atol=1e-15)
    np.testing.assert_array_equal(cen["Y_test"], raw["Y_test"])
