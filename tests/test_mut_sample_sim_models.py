"""Tests that kill mutants of theorylib/sim/fusion.py, sim/biased.py and sim/bias_free.py which
survived a sampled mutmut run (a uniform sample of 600 mutants, mutmut 3.8.1).

Each test checks a documented behaviour or an independently computed value: stored statistics
are float arrays whatever numeric type the caller passes, the scale-relative symmetry tolerance,
the exact text of error messages (the library promises messages that name the argument), the
stratified split of the digits data, the documented random stream of ``multi_samples``, and the
data check of the fusion network's compiled-kernel hook (reachable without numba). The mutants
judged equivalent, and which test kills which mutant, are listed in
tools/mutation/sample_sim_models.md.

Only numpy, pytest and scikit-learn (for the digits) are needed; the one numba test skips
itself where numba is not installed, so the file also runs in the benchmark environment.
"""
import re

import numpy as np
import pytest

from _asserts import raises
from theorylib.sim import bias_free as bf
from theorylib.sim import biased as sb
from theorylib.sim import engine
from theorylib.sim import fusion as fs


# ============================================================== sim.fusion

def test_fusion_moments_store_integer_statistics_as_float():
    # Σ = [[2, 1], [1, 2]], Σ_yx = (1, 0), E[y²] = 1 given as Python ints (e.g. counts)
    m = fs.FusionMoments([[2, 1], [1, 2]], [1, 0], 1)
    for a in (m.sigma, m.sigma_yx, m.e_yy):
        assert isinstance(a, np.ndarray) and a.dtype == np.float64
    ref = fs.FusionMoments(np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([1.0, 0.0]), 1.0)
    np.testing.assert_array_equal(m.sigma, ref.sigma)
    # best linear predictor Σ_yx Σ⁻¹ = (1, 0)·(1/3)[[2, −1], [−1, 2]] = (2/3, −1/3), by hand
    np.testing.assert_allclose(m.least_squares(), [[2 / 3, -1 / 3]], atol=1e-15)


def test_fusion_moments_reject_an_indefinite_sigma_with_its_message():
    with raises("sigma must be positive semi-definite"):
        fs.FusionMoments(np.diag([1.0, -1.0]), np.zeros(2), 1.0)


def test_multi_samples_follow_the_documented_model_and_random_stream():
    # y = w*ᵀx + noise·ε with X, then ε, drawn from np.random.default_rng(seed): the same seed
    # gives the same data set (the chapter's figures depend on it)
    n, d_a, d_b, var_a, var_b, weight, noise, seed = 40, 3, 2, 4.0, 0.25, 0.3, 0.7, 11
    d, S, w = fs.multi_samples(n, d_a, d_b, var_a, var_b, weight, noise, seed)
    rng = np.random.default_rng(seed)
    sd = np.array([2.0] * d_a + [0.5] * d_b)
    X = rng.standard_normal((n, d_a + d_b)) * sd
    eps = rng.standard_normal(n)
    np.testing.assert_array_equal(d.X, X)
    np.testing.assert_allclose(d.y, X @ np.full(d_a + d_b, weight) + noise * eps, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(S, np.diag(sd**2))
    np.testing.assert_array_equal(w, np.full(d_a + d_b, weight))


@pytest.mark.parametrize("depth, lf", [(1, 1), (2, [1, 2]), (4, [1, 3, 4])])
def test_fusion_masks_are_listed_layer_by_layer(depth, lf):
    # the public ``masks`` dict pairs with ``names`` and ``widths``: its l-th entry is layer l+1's
    net = fs.FusionNet(2, 1, depth, lf, 3)
    assert list(net.masks) == list(net.names)
    for l, m in enumerate(net.masks.values()):
        assert m.shape == (net.n_members, net.widths[l + 1], net.widths[l])


def test_compiled_hook_checks_the_data_against_the_ensemble_like_grad():
    # a one-layer linear net (no masks): the hook validates before it builds (or imports) a kernel
    net = fs.FusionNet(1, 2, 1, 1, 4)
    params = fs.gaussian_init(net, 0.5, n_ensemble=3, seed=0)
    two_sets = fs.FusionMoments(np.stack([np.eye(3), 2 * np.eye(3)]), np.ones((2, 3)), np.array([5.0, 5.0]))
    with raises("2 data sets for 3 ensemble members"):
        net.grad(params, two_sets)
    with raises("2 data sets for 3 ensemble members"):
        net._compiled_stepper(params, two_sets, {n: 0.01 for n in params})


@pytest.mark.parametrize("depth, lf, hidden", [(1, [1], 3), (2, [1, 2], 2)])
def test_compiled_fusion_kernel_matches_numpy(depth, lf, hidden, tmp_path, monkeypatch):
    # only where numba is installed (the benchmark environment); skipped in the book's one
    pytest.importorskip("numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    net = fs.FusionNet(1, 2, depth, lf, hidden)
    E = 2
    data = fs.FusionMoments(np.diag([1.0, 2.0, 0.5]), np.array([0.7, -0.4, 0.3]), 2.0)
    init = fs.gaussian_init(net, 0.5, n_ensemble=E, seed=3, scheme="numel")
    a = engine.train_gd(net, init, data, 0.05, steps=[0, 10, 40], backend="numpy")
    b = engine.train_gd(net, init, data, 0.05, steps=[0, 10, 40], backend="numba")
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12, atol=1e-15)
    for name in net.names:
        np.testing.assert_allclose(b.params[name], a.params[name], rtol=1e-12, atol=1e-15)


# ============================================================== sim.biased

def test_biased_moments_symmetry_tolerance_is_relative_to_the_entries():
    # Σ_xx with entries ~1e4: an asymmetry of 1e-10 (1e-14 relative, round-off) is accepted,
    # also where the mirrored entry is exactly 0 (there numpy's rtol term gives no slack)
    sxx = 1e4 * np.eye(2)
    sxx[0, 1] = 1e-10
    m = sb.BiasedMoments(sxx, np.ones((1, 2)), np.zeros(2), np.zeros(1), 1e5)
    np.testing.assert_array_equal(m.sigma_xx, sxx)
    # a real asymmetry (1e-6 relative) is still an error
    sxx[0, 1] = 1e-2
    with raises("sigma_xx must be symmetric"):
        sb.BiasedMoments(sxx, np.ones((1, 2)), np.zeros(2), np.zeros(1), 1e5)


def test_biased_moments_reject_an_asymmetric_sigma_xx_with_its_message():
    with raises("sigma_xx must be symmetric"):
        sb.BiasedMoments(np.array([[1.0, 0.5], [0.0, 1.0]]), np.ones((1, 2)), np.zeros(2), np.zeros(1), 1.0)


def test_biased_moments_accept_array_like_statistics():
    # plain lists (and ints) are stored as float arrays; augmented() appends x̄ and ȳ
    m = sb.BiasedMoments([[2, 0], [0, 1]], [[1, 0]], [1, 0], [0.5], 3)
    for a in (m.sigma_xx, m.sigma_yx, m.x_mean, m.y_mean):
        assert isinstance(a, np.ndarray) and a.dtype == np.float64
    sxx, syx = m.augmented()
    np.testing.assert_array_equal(sxx, [[2.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(syx, [[1.0, 0.0, 0.5]])


def test_biased_samples_accept_a_single_row_and_reject_none():
    one = sb.Samples(np.array([[1.0, 2.0]]), np.array([[3.0]]))
    assert (one.n_in, one.n_out) == (2, 1)
    m = sb.biased_moments_from_samples(one.X, one.Y)  # P = 1: the moments of one point
    np.testing.assert_array_equal(m.sigma_xx, [[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_array_equal(m.y_mean, [3.0])
    with pytest.raises(ValueError, match=re.escape("X and Y need the same, non-zero number of rows; got (0, 2)")):
        sb.Samples(np.zeros((0, 2)), np.zeros((0, 1)))


def test_biased_samples_accept_array_like_data():
    X = [[1, 0], [0, 1], [1, 1]]
    Y = [[1, 2], [0, 1], [2, 2]]
    d = sb.Samples(X, Y)
    for a in (d.X, d.Y):
        assert isinstance(a, np.ndarray) and a.dtype == np.float64
    assert (d.n_in, d.n_out) == (2, 2)
    m = sb.biased_moments_from_samples(X, Y)
    Xa, Ya = np.array(X, float), np.array(Y, float)
    np.testing.assert_allclose(m.sigma_yx, Ya.T @ Xa / 3, atol=1e-15)
    np.testing.assert_allclose(m.y_mean, Ya.mean(axis=0), atol=1e-15)
    assert m.trace_yy == pytest.approx(np.sum(Ya**2) / 3)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_hierarchical_digits_test_fraction_must_lie_strictly_inside(fraction):
    pytest.importorskip("sklearn")
    with raises("test_fraction must lie in (0, 1)"):
        sb.hierarchical_digits(test_fraction=fraction)


@pytest.mark.parametrize("fraction, seed", [(0.3, 0), (0.5, 4)])
def test_hierarchical_digits_split_is_stratified_by_digit(fraction, seed):
    pytest.importorskip("sklearn")
    d = sb.hierarchical_digits(test_fraction=fraction, seed=seed)
    n_test = np.bincount(d["digit_test"], minlength=10)
    n_all = n_test + np.bincount(d["digit_train"], minlength=10)
    assert n_all.sum() == 1797
    # each digit contributes round(fraction · its count) items to the test split, no more
    np.testing.assert_array_equal(n_test, np.round(fraction * n_all).astype(int))


# ============================================================== sim.bias_free

def test_symmetric_teacher_data_names_s_in_its_message():
    with raises("s must be finite (no NaN or inf)"):
        bf.symmetric_teacher_data([np.nan], 2, 1, 4)


def test_symmetric_teacher_data_odd_extra_may_return_a_flat_vector():
    # one output: odd_extra may return (P,) as well as (P, 1); it is added to the teacher's y
    data0, U, V = bf.symmetric_teacher_data([1.5], 2, 1, 6, seed=2)
    data, U1, V1 = bf.symmetric_teacher_data([1.5], 2, 1, 6, seed=2, odd_extra=lambda X: X[:, 0] ** 3)
    np.testing.assert_array_equal(U1, U)
    np.testing.assert_array_equal(V1, V)
    assert data.Y.shape == (12, 1) and data.is_symmetric(atol=1e-12)
    np.testing.assert_allclose(data.Y[:, 0], data0.Y[:, 0] + data.X[:, 0] ** 3, atol=1e-14)


# ============================================================== second sample
# The tests below are for the second sampled run (current code, seed 0, 600 of 13,346 mutants).

# ---------------------------------------------------------------- sim.fusion

@pytest.mark.parametrize("r, rho", [(0.0, 0.3), (-1.0, 0.0), (np.inf, 0.0), (1.0, 1.0), (1.0, -1.5), (1.0, np.nan)],
                         ids=["r0", "r_neg", "r_inf", "rho1", "rho_m1p5", "rho_nan"])
def test_toy_mixing_rejects_a_degenerate_toy_with_its_message(r, rho):
    with raises("need r > 0 and |rho| < 1"):
        fs.toy_mixing(r, rho)


def test_fusion_moments_check_every_data_set_when_only_sigma_varies():
    # E = 3 data sets in D = 1: Σ varies, Σ_yx = 1 and E[y²] = 2 are shared. The best linear
    # predictor explains Σ_yx²/Σ = 1, 1, 4; the third set would have a negative minimum loss
    S = np.array([[[1.0]], [[1.0]], [[0.25]]])
    ok = fs.FusionMoments(S, [1.0], 4.0)
    assert ok.n_sets == 3
    np.testing.assert_allclose(ok.least_squares(), [[1.0], [1.0], [4.0]], rtol=1e-14)
    with raises("e_yy = 2 is below Σ_yx Σ⁺ Σ_xy (the part the best linear predictor explains) (4): "
                "the statistics are inconsistent (they would give a negative minimum loss)"):
        fs.FusionMoments(S, [1.0], 2.0)


def test_multi_samples_defaults_are_the_chapters_data_set():
    # chapter 4 (over-parameterisation): D = 100 inputs, A: 50 of variance 3, B: 50 of variance 1,
    # W* = 0.1·1 and noise of standard deviation 0.5; X, then ε, drawn from default_rng(0)
    n = 5
    d, S, w = fs.multi_samples(n)
    rng = np.random.default_rng(0)
    sd = np.array([np.sqrt(3.0)] * 50 + [1.0] * 50)
    X = rng.standard_normal((n, 100)) * sd
    eps = rng.standard_normal(n)
    np.testing.assert_allclose(d.X, X, rtol=1e-15, atol=0)
    np.testing.assert_allclose(d.y - X @ np.full(100, 0.1), 0.5 * eps, rtol=0, atol=1e-13)


@pytest.mark.parametrize("depth, hidden", [(1, 1), (2, 2)])
def test_fusion_loss_pairs_the_data_sets_with_the_ensemble_members(depth, hidden):
    # E = 3 members, one data set each; the ensemble size is the parameters' leading axis
    # (not the width of the first layer: 1 for depth 1, 2·hidden = 4 for depth 2)
    net = fs.FusionNet(1, 1, depth, 1, hidden)
    params = fs.gaussian_init(net, 0.7, n_ensemble=3, seed=1)
    S = np.stack([np.eye(2), np.diag([2.0, 1.0]), np.array([[1.0, 0.5], [0.5, 1.0]])])
    s = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, -1.0]])
    e = np.array([3.0, 2.0, 4.0])
    loss = net.loss(params, fs.FusionMoments(S, s, e))
    W = net.product(params)
    want = [0.5 * e[i] - W[i] @ s[i] + 0.5 * W[i] @ S[i] @ W[i] for i in range(3)]
    np.testing.assert_allclose(loss, want, rtol=1e-13)
    # four data sets for three members is an error, whatever the first layer's width
    four = fs.FusionMoments(np.stack([np.eye(2)] * 4), np.ones((4, 2)), np.full(4, 5.0))
    with raises("4 data sets for 3 ensemble members"):
        net.loss(params, four)


# ---------------------------------------------------------------- sim.biased

@pytest.mark.parametrize("syx, msg", [
    (np.ones(2), "sigma_yx must be 2-dimensional; got shape (2,)"),
    (np.array([[1.0, np.nan]]), "sigma_yx has non-finite entries"),
], ids=["ndim", "nan"])
def test_biased_moments_name_sigma_yx_in_its_messages(syx, msg):
    with raises(msg):
        sb.BiasedMoments(np.eye(2), syx, np.zeros(2), np.zeros(1), 1.0)


def test_biased_moments_reject_a_second_moment_below_the_squared_mean():
    # E[x²] = 1 < E[x]² = 4: the variance would be −3, so these are not the moments of any data
    with raises("sigma_xx − x_mean x_meanᵀ must be positive semi-definite (a covariance)"):
        sb.BiasedMoments([[1.0]], [[0.0]], [2.0], [0.0], 1.0)
    # E[x²] = 4 = E[x]² (a constant input, variance 0) is a valid data set
    m = sb.BiasedMoments([[4.0]], [[0.0]], [2.0], [0.0], 1.0)
    assert m.n_in == 1


@pytest.mark.parametrize("X, msg", [
    (np.ones(3), "X must be 2-dimensional; got shape (3,)"),
    (np.array([[1.0], [np.inf], [0.0]]), "X has non-finite entries"),
], ids=["ndim", "inf"])
def test_biased_samples_name_x_in_their_messages(X, msg):
    with raises(msg):
        sb.Samples(X, np.zeros((3, 1)))


def test_biased_relu_names_the_mismatched_data_widths():
    net = sb.BiasedReLU((2, 3, 1))
    params = sb.biased_random_init((2, 3, 1), 0.5, bias_scale=0.1, n_ensemble=2, seed=0)
    good = sb.Samples(np.ones((4, 2)), np.zeros((4, 1)))
    assert net.loss(params, good).shape == (2,)
    with raises("data has n_in=3, n_out=1; network expects 2 and 1"):
        net.loss(params, sb.Samples(np.ones((4, 3)), np.zeros((4, 1))))
    with raises("data has n_in=2, n_out=2; network expects 2 and 1"):
        net.grad(params, sb.Samples(np.ones((4, 2)), np.zeros((4, 2))))
