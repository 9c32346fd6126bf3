"""Value-level tests of Chapters 1 and 4's modules, written against surviving mutants.

Covers ``theorylib.sim.data``, ``theorylib.sim.linear``, ``theorylib.sim.fusion``,
``theorylib.theory.deep_linear`` and ``theorylib.theory.fusion`` (mutation run: tools/mutate.sh,
notes on the remaining equivalent mutants: tools/mutation/ch01_ch04.md). Every value is checked
against an independent reference: least squares on samples for the moments and losses, central
finite differences for gradients and Hessians, explicit per-sample loops for the networks,
sampling with fixed seeds for the random initialisations and data sets, ``solve_ivp`` and
``quad`` for the closed forms, sympy differentiation for the ``*_expr`` functions. Error checks
assert that the message names the argument and the broken condition. Sizes are small: the file
is re-run for every mutant.
"""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad, solve_ivp

from theorylib.sim import data as sd
from theorylib.sim import fusion as fs
from theorylib.sim import linear as sl
from theorylib.theory import deep_linear as dl
from theorylib.theory import fusion as tf


def _fd_grad(loss, params, eps=1e-6):
    """Central differences of ``loss(params)`` (one value per ensemble member) in every entry."""
    g = {}
    for name, p in params.items():
        g[name] = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            up = {k: v.copy() for k, v in params.items()}
            dn = {k: v.copy() for k, v in params.items()}
            up[name][idx] += eps
            dn[name][idx] -= eps
            g[name][idx] = (loss(up)[idx[0]] - loss(dn)[idx[0]]) / (2 * eps)
    return g


def _fd_hessian_max(loss, params, member=0, eps=1e-4):
    """Largest eigenvalue of the finite-difference Hessian of one member's loss."""
    names = list(params)
    slots = [(n, idx) for n in names for idx in np.ndindex(params[n].shape[1:])]

    def f(shifts):
        q = {k: v.copy() for k, v in params.items()}
        for (n, idx), h in shifts:
            q[n][(member,) + idx] += h
        return float(loss(q)[member])

    n = len(slots)
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            a, b = slots[i], slots[j]
            H[i, j] = H[j, i] = (f([(a, eps), (b, eps)]) - f([(a, eps), (b, -eps)])
                                 - f([(a, -eps), (b, eps)]) + f([(a, -eps), (b, -eps)])) / (4 * eps**2)
    return np.linalg.eigvalsh(H).max()


# ---------------------------------------------------------------- sim.data: Moments


def test_moments_store_float_arrays_and_sizes():
    m = sd.Moments([[2, 0, 0], [0, 1, 0], [0, 0, 1]], [[1, 0, 0], [0, 1, 0]], 3)
    assert isinstance(m.sigma_xx, np.ndarray) and m.sigma_xx.dtype == float
    assert isinstance(m.sigma_yx, np.ndarray) and m.sigma_yx.dtype == float
    assert type(m.trace_yy) is float and m.trace_yy == 3.0
    assert (m.n_in, m.n_out) == (3, 2)
    # zero target, zero energy: the boundary of trace_yy ≥ 0 is allowed
    z = sd.Moments(np.eye(2), np.zeros((1, 2)), 0.0)
    assert z.min_loss() == 0.0


@pytest.mark.parametrize("sxx, syx, tr, match", [
    (np.zeros((0, 0)), np.zeros((1, 0)), 0.0, "sigma_xx and sigma_yx must not be empty"),
    (np.eye(2), np.zeros((0, 2)), 0.0, "must not be empty"),
    (np.ones(3), np.ones((1, 3)), 3.0, r"sigma_xx must be square; got shape \(3,\)"),
    (np.ones((2, 3)), np.ones((1, 3)), 3.0, r"sigma_xx must be square; got shape \(2, 3\)"),
    (np.eye(2), np.ones((1, 3)), 3.0, r"sigma_yx must have shape \(n_out, 2\); got \(1, 3\)"),
    (np.eye(2), np.ones(2), 3.0, r"sigma_yx must have shape \(n_out, 2\); got \(2,\)"),
    (np.array([[1.0, 1e-6], [0.0, 1.0]]), np.zeros((1, 2)), 1.0, "sigma_xx must be symmetric"),
    (np.array([[1.0, 0.0], [0.0, -1.0]]), np.zeros((1, 2)), 1.0,
     "sigma_xx must be positive semi-definite"),
    (np.eye(2), np.zeros((1, 2)), -1.0, "trace_yy must be a non-negative number"),
    (np.eye(2), np.zeros((1, 2)), np.nan, "trace_yy must be a non-negative number"),
    (np.eye(2), [[1.0, 0.0]], 0.5, r"trace_yy = 0.5 is below tr Σ_yx Σ_xx⁺ Σ_xy \(the part"),
    (np.array([[np.nan, 0.0], [0.0, 1.0]]), np.zeros((1, 2)), 1.0, "sigma_xx must be finite"),
    (np.eye(2), [[np.inf, 0.0]], 1.0, "sigma_yx must be finite"),
])
def test_moments_reject_bad_statistics(sxx, syx, tr, match):
    with pytest.raises(ValueError, match=match):
        sd.Moments(sxx, syx, tr)


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_moments_tolerances_are_relative_to_the_largest_entry(scale):
    # documented tolerances: symmetry to 1e-12 and eigenvalues ≥ −1e-10, times max(1, max|Σ|)
    z = np.zeros((1, 2))
    sd.Moments(scale * np.array([[1.0, 0.5e-12], [0.0, 1.0]]), z, 0.0)
    with pytest.raises(ValueError, match="symmetric"):
        sd.Moments(scale * np.array([[1.0, 1.5e-12], [0.0, 1.0]]), z, 0.0)
    sd.Moments(scale * np.diag([1.0, -0.5e-10]), z, 0.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        sd.Moments(scale * np.diag([1.0, -1.5e-10]), z, 0.0)


def test_min_loss_and_moments_from_samples_against_least_squares():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    X[:, 2] = X[:, 0]  # rank-deficient Σ_xx: the pseudo-inverse branch
    Y = X @ rng.standard_normal((3, 2)) + 0.3 * rng.standard_normal((40, 2))
    m = sd.moments_from_samples(X, Y)
    assert np.allclose(m.sigma_xx, sum(np.outer(x, x) for x in X) / 40)
    assert np.allclose(m.sigma_yx, sum(np.outer(y, x) for x, y in zip(X, Y)) / 40)
    assert np.isclose(m.trace_yy, np.mean([y @ y for y in Y]))
    B = np.linalg.lstsq(X, Y, rcond=None)[0]
    assert np.isclose(m.min_loss(), 0.5 * np.mean(np.sum((Y - X @ B) ** 2, axis=1)), rtol=1e-10)
    assert m.min_loss() > 0.01


@pytest.mark.parametrize("X, Y, match", [
    (np.ones(3), np.ones((3, 1)), r"X and Y must be 2-D with the same number of rows; got \(3,\)"),
    (np.ones((3, 1)), np.ones(3), "X and Y must be 2-D"),
    (np.ones((3, 1)), np.ones((2, 1)), r"same number of rows; got \(3, 1\) and \(2, 1\)"),
    (np.ones((0, 2)), np.ones((0, 1)), "no samples"),
    (np.full((2, 1), np.nan), np.ones((2, 1)), "X must be finite"),
    (np.ones((2, 1)), np.full((2, 1), np.inf), "Y must be finite"),
])
def test_moments_from_samples_rejects_bad_samples(X, Y, match):
    with pytest.raises(ValueError, match=match):
        sd.moments_from_samples(X, Y)


# ---------------------------------------------------------------- sim.data: random matrices


def test_random_orthogonal_is_the_positive_diagonal_qr_factor():
    q = sd.random_orthogonal(4, np.random.default_rng(5))
    G = np.random.default_rng(5).standard_normal((4, 4))  # the same draw
    R = q.T @ G
    assert np.allclose(q.T @ q, np.eye(4))
    # G = qR with R upper triangular and positive on the diagonal: the unique (Haar) choice
    assert np.allclose(np.tril(R, -1), 0.0) and np.all(np.diag(R) > 0)
    assert np.array_equal(q, sd.random_orthogonal(4, np.random.default_rng(5)))
    assert not np.allclose(q, sd.random_orthogonal(4, np.random.default_rng(6)))
    assert sd.random_orthogonal(1, np.random.default_rng(0)).shape == (1, 1)


def test_random_orthogonal_is_haar_distributed():
    rng = np.random.default_rng(0)
    Q = np.stack([sd.random_orthogonal(3, rng) for _ in range(1000)])
    # Haar: every entry has mean 0 and second moment 1/n (QR without the sign fix is biased)
    assert np.abs(Q.mean(axis=0)).max() < 0.08
    assert np.abs((Q**2).mean(axis=0) - 1 / 3).max() < 0.04


@pytest.mark.parametrize("n, match", [(0, "n must be ≥ 1"), (2.5, "n must be an integer")])
def test_random_orthogonal_rejects_bad_sizes(n, match):
    with pytest.raises(ValueError, match=match):
        sd.random_orthogonal(n, np.random.default_rng(0))


def test_aligned_moments_have_the_prescribed_svd():
    m, U, V = sd.aligned_moments([3.0, 1.0], n_in=3, n_out=2, seed=4)
    assert U.shape == (2, 2) and V.shape == (3, 3)
    assert np.allclose(U.T @ U, np.eye(2)) and np.allclose(V.T @ V, np.eye(3))
    assert np.allclose(m.sigma_xx, np.eye(3))
    assert np.allclose(U.T @ m.sigma_yx @ V, [[3.0, 0, 0], [0, 1.0, 0]])
    assert np.isclose(m.trace_yy, 10.0) and abs(m.min_loss()) < 1e-12
    # fewer values than modes, and a zero one, are allowed
    m1, U1, V1 = sd.aligned_moments([2.0, 0.0], n_in=2, n_out=3, seed=4)
    assert np.allclose(U1.T @ m1.sigma_yx @ V1, [[2.0, 0], [0, 0], [0, 0]])
    m2, U2, V2 = sd.aligned_moments([2.0], n_in=2, n_out=2)
    assert np.allclose(np.linalg.svd(m2.sigma_yx, compute_uv=False), [2.0, 0.0])
    again = sd.aligned_moments([3.0, 1.0], n_in=3, n_out=2, seed=4)
    assert np.array_equal(again[1], U) and np.array_equal(again[2], V)
    other = sd.aligned_moments([3.0, 1.0], n_in=3, n_out=2, seed=5)
    assert not np.allclose(other[2], V)


@pytest.mark.parametrize("s, n_in, n_out, match", [
    ([1.0, 1.0, 1.0], 3, 2, r"need at most min\(n_in, n_out\) = 2 singular values"),
    ([[1.0]], 2, 2, r"need at most min\(n_in, n_out\) = 2"),
    ([1.0, -0.1], 2, 2, "singular values must be non-negative"),
    ([np.nan], 2, 2, "s must be finite"),
    ([1.0], 0, 2, "n_in must be ≥ 1"),
    ([1.0], 2, 0, "n_out must be ≥ 1"),
    ([1.0], 1.5, 2, "n_in must be an integer"),
])
def test_aligned_moments_reject_bad_input(s, n_in, n_out, match):
    with pytest.raises(ValueError, match=match):
        sd.aligned_moments(s, n_in, n_out)


# ---------------------------------------------------------------- sim.data: hierarchical data


def test_hierarchical_data_shapes_and_whitened_inputs():
    X, Y = sd.hierarchical_data(3, 5, flip=0.1, seed=2)
    assert X.shape == (4, 4) and Y.shape == (4, 5)
    assert np.allclose(X, 2.0 * np.eye(4))
    assert np.allclose(X.T @ X / 4, np.eye(4))
    assert set(np.unique(Y)) <= {-1.0, 1.0}
    X2, Y2 = sd.hierarchical_data(2, 1, flip=0.5)  # smallest tree, boundary flip
    assert X2.shape == (2, 2) and Y2.shape == (2, 1)


def test_hierarchical_data_without_flips_copies_the_root():
    _, Y = sd.hierarchical_data(4, 300, flip=0.0, seed=1)
    assert np.all(Y == Y[0])
    # the root signs are fair coins
    assert abs(Y[0].mean()) < 0.2 and set(np.unique(Y)) == {-1.0, 1.0}


def test_hierarchical_data_correlations_follow_the_tree_distance():
    f, n_levels, n_feat = 0.2, 4, 20000
    _, Y = sd.hierarchical_data(n_levels, n_feat, flip=f, seed=7)
    P = Y.shape[0]
    for i in range(P):
        for j in range(i + 1, P):
            # leaves i, j meet at the ancestor above the highest differing bit: 2·h edges apart
            d = 2 * (int(i ^ j).bit_length())
            p_differ = (1 - (1 - 2 * f) ** d) / 2
            assert abs(np.mean(Y[i] != Y[j]) - p_differ) < 0.015, (i, j)
    assert np.abs(Y.mean(axis=1)).max() < 0.05


def test_hierarchical_data_is_reproducible_per_seed():
    a = sd.hierarchical_data(3, 50, seed=3)[1]
    assert np.array_equal(a, sd.hierarchical_data(3, 50, seed=3)[1])
    assert not np.array_equal(a, sd.hierarchical_data(3, 50, seed=4)[1])


@pytest.mark.parametrize("args, match", [
    ((1, 3, 0.1), "need n_levels ≥ 2, n_features ≥ 1 and 0 ≤ flip ≤ 0.5"),
    ((3, 0, 0.1), "need n_levels ≥ 2, n_features ≥ 1"),
    ((3, 3, -0.01), "0 ≤ flip ≤ 0.5"),
    ((3, 3, 0.51), "0 ≤ flip ≤ 0.5"),
    ((2.5, 3, 0.1), "n_levels must be an integer"),
    ((3, 1.5, 0.1), "n_features must be an integer"),
])
def test_hierarchical_data_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        sd.hierarchical_data(*args)


# ---------------------------------------------------------------- sim.linear: DeepLinear


def _samples(n_in, n_out, P=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((P, n_in))
    Y = X @ rng.standard_normal((n_in, n_out)) + 0.5 * rng.standard_normal((P, n_out))
    return X, Y


@pytest.mark.parametrize("widths, match", [
    ([3], "widths must list at least input and output sizes ≥ 1"),
    ([[2, 3]], "widths must list at least input and output sizes"),
    ([3, 0], "widths entries must be ≥ 1"),
    ([2.5, 3], "widths must hold whole numbers"),
])
def test_deep_linear_rejects_bad_widths(widths, match):
    with pytest.raises(ValueError, match=match):
        sl.DeepLinear(widths)


def test_deep_linear_attributes():
    net = sl.DeepLinear(np.array([3.0, 4, 2]))
    assert net.widths == (3, 4, 2) and all(type(w) is int for w in net.widths)
    assert net.n_layers == 2 and net.names == ("W1", "W2")


@pytest.mark.parametrize("widths", [(3, 2), (3, 4, 2), (2, 3, 3, 2)])
def test_deep_linear_product_loss_and_gradient(widths):
    net = sl.DeepLinear(widths)
    p = sl.random_init(widths, 0.7, n_ensemble=2, seed=1)
    W = net.product(p)
    for e in range(2):
        ref = p["W1"][e]
        for name in net.names[1:]:
            ref = p[name][e] @ ref
        assert np.allclose(W[e], ref)
    X, Y = _samples(widths[0], widths[-1])
    data = sd.moments_from_samples(X, Y)
    # the loss on moments is the mean squared error on the samples they came from
    ref_loss = [0.5 * np.mean(np.sum((Y - X @ W[e].T) ** 2, axis=1)) for e in range(2)]
    assert np.allclose(net.loss(p, data), ref_loss, rtol=1e-12)
    g = net.grad(p, data)
    fd = _fd_grad(lambda q: net.loss(q, data), p)
    for name in net.names:
        assert np.allclose(g[name], fd[name], atol=1e-7), name


def test_deep_linear_checks_data_and_parameter_shapes():
    net = sl.DeepLinear((3, 4, 1))
    p = sl.random_init((3, 4, 1), 0.1)
    with pytest.raises(ValueError, match="data has n_in=2, n_out=1; network expects 3 and 1"):
        net.grad(p, sd.moments_from_samples(*_samples(2, 1)))
    with pytest.raises(ValueError, match="data has n_in=3, n_out=2; network expects 3 and 1"):
        net.grad(p, sd.moments_from_samples(*_samples(3, 2)))
    bad = dict(p, W2=np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"W2 has shape \(2, 4\); expected \(1, 4\)"):
        net.grad(bad, sd.moments_from_samples(*_samples(3, 1)))


@pytest.mark.parametrize("L", [1, 2, 3])
def test_stability_bound_against_the_numeric_hessian(L):
    # isotropic Σ_xx = λI: the top Hessian eigenvalue at the balanced minimum is exactly the
    # one of the top mode's scalar chain
    lam = 2.0
    w_star = np.diag([1.5, 0.5])
    data = sd.Moments(lam * np.eye(2), lam * w_star, float(lam * np.sum(w_star**2)) + 0.1)
    net = sl.DeepLinear((2,) * (L + 1))
    root = np.diag(np.diag(w_star) ** (1.0 / L))
    p = {n: root[None].copy() for n in net.names}
    assert np.allclose(net.product(p)[0], w_star)
    h_max = _fd_hessian_max(lambda q: net.loss(q, data), p)
    assert np.isclose(net.stability_bound(data), 2.0 / h_max, rtol=1e-5)


def test_stability_bound_without_signal_is_infinite_beyond_one_layer():
    data = sd.Moments(np.eye(2), np.zeros((1, 2)), 1.0)
    assert sl.DeepLinear((2, 3, 1)).stability_bound(data) == np.inf
    # one layer: the Hessian is Σ_xx whatever the target
    assert np.isclose(sl.DeepLinear((2, 1)).stability_bound(data), 2.0)


# ---------------------------------------------------------------- sim.linear: initialisations


def test_decoupled_init_sets_each_mode_and_balances_the_layers():
    rng = np.random.default_rng(0)
    U, V = sd.random_orthogonal(2, rng), sd.random_orthogonal(3, rng)
    widths = (3, 4, 4, 2)
    p = sl.decoupled_init(U, V, widths, [2.0, 0.5], n_ensemble=3, seed=1)
    net = sl.DeepLinear(widths)
    target = U @ np.array([[2.0, 0, 0], [0, 0.5, 0]]) @ V.T
    assert all(p[n].shape == (3, widths[l + 1], widths[l]) for l, n in enumerate(net.names))
    assert np.allclose(net.product(p), target)
    for e in range(3):
        for l in range(2):
            lower, upper = p[f"W{l + 1}"][e], p[f"W{l + 2}"][e]
            assert np.allclose(upper.T @ upper, lower @ lower.T)  # balanced
        for n in net.names:  # every layer carries the share u0^{1/L}
            sv = np.linalg.svd(p[n][e], compute_uv=False)
            assert np.allclose(sv[:2], [2.0 ** (1 / 3), 0.5 ** (1 / 3)]) and np.allclose(sv[2:], 0)
    assert np.allclose(sl.mode_strengths(net.product(p), U, V), [2.0, 0.5])
    # one random rotation per member: hidden layers differ, products agree
    assert not np.allclose(p["W1"][0], p["W1"][1])
    same = sl.decoupled_init(U, V, widths, [2.0, 0.5], n_ensemble=3, seed=1)
    assert all(np.array_equal(same[n], p[n]) for n in p)
    other = sl.decoupled_init(U, V, widths, [2.0, 0.5], n_ensemble=3, seed=2)
    assert not np.allclose(other["W1"], p["W1"])


def test_decoupled_init_scalar_and_short_u0():
    rng = np.random.default_rng(1)
    U, V = sd.random_orthogonal(3, rng), sd.random_orthogonal(3, rng)
    net = sl.DeepLinear((3, 2, 3))
    W = net.product(sl.decoupled_init(U, V, (3, 2, 3), 0.3))[0]
    # a scalar fills the min(widths) = 2 modes the bottleneck can carry
    assert np.allclose(W, 0.3 * U[:, :2] @ V[:, :2].T)
    W1 = net.product(sl.decoupled_init(U, V, (3, 2, 3), [1.2]))[0]
    assert np.allclose(W1, 1.2 * np.outer(U[:, 0], V[:, 0]))


@pytest.mark.parametrize("kw, match", [
    (dict(U=np.ones((2, 2))), "U must be orthogonal"),
    (dict(U=np.eye(3)), r"U must be a square orthogonal matrix of shape \(2, 2\)"),
    (dict(V=np.eye(2)), r"V must be a square orthogonal matrix of shape \(3, 3\)"),
    (dict(n_ensemble=0), "n_ensemble must be ≥ 1"),
    (dict(u0=[]), "u0 must not be empty"),
    (dict(u0=[1.0, np.nan]), "u0 must be finite"),
    (dict(u0=[1.0, 1.0, 1.0]), r"u0 must be a scalar or have at most min\(widths\) = 2 entries"),
    (dict(u0=[[1.0]]), r"at most min\(widths\) = 2 entries"),
    (dict(u0=[1.0, 0.0]), "initial mode strengths u0 must be positive"),
    (dict(u0=-1.0), "u0 must be positive"),
    (dict(widths=(3, 0, 2)), "widths entries must be ≥ 1"),
])
def test_decoupled_init_rejects_bad_input(kw, match):
    args = dict(U=np.eye(2), V=np.eye(3), widths=(3, 4, 2), u0=0.5, n_ensemble=1)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        sl.decoupled_init(**args)


def test_random_init_is_iid_gaussian_with_the_given_scale():
    widths = (30, 40, 20)
    p = sl.random_init(widths, 0.05, n_ensemble=3, seed=2)
    assert set(p) == {"W1", "W2"}
    assert p["W1"].shape == (3, 40, 30) and p["W2"].shape == (3, 20, 40)
    for w in p.values():
        assert abs(w.std() / 0.05 - 1) < 0.05 and abs(w.mean()) < 0.003
    assert abs(np.corrcoef(p["W1"][0, :20, :20].ravel(), p["W2"][0, :, :20].ravel())[0, 1]) < 0.05
    assert not np.allclose(p["W1"][0], p["W1"][1])
    again = sl.random_init(widths, 0.05, n_ensemble=3, seed=2)
    assert all(np.array_equal(again[n], p[n]) for n in p)
    assert not np.allclose(sl.random_init(widths, 0.05, n_ensemble=3, seed=3)["W1"], p["W1"])


@pytest.mark.parametrize("kw, match", [
    (dict(scale=0.0), "scale must be positive"),
    (dict(scale=[0.1, 0.2]), "scale must be a scalar"),
    (dict(n_ensemble=0), "n_ensemble must be ≥ 1"),
    (dict(widths=(2,)), "widths must list at least"),
])
def test_random_init_rejects_bad_input(kw, match):
    args = dict(widths=(2, 3), scale=0.1, n_ensemble=1)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        sl.random_init(**args)


def test_mode_strengths_are_the_diagonal_of_UtWV():
    rng = np.random.default_rng(4)
    W = rng.standard_normal((2, 3, 4))
    U, V = sd.random_orthogonal(3, rng), sd.random_orthogonal(4, rng)
    full = np.stack([np.diag(U.T @ W[e] @ V) for e in range(2)])  # (E, 3)
    assert np.allclose(sl.mode_strengths(W, U, V), full)
    assert np.allclose(sl.mode_strengths(W, U, V, k=2), full[:, :2])
    assert np.allclose(sl.mode_strengths(W, U[:, :2], V), full[:, :2])  # k_max from U's columns
    assert np.allclose(sl.mode_strengths(W, U, V[:, :1]), full[:, :1])


@pytest.mark.parametrize("args, match", [
    ((np.ones((3, 4)), np.eye(3), np.eye(4)), r"W must have shape \(E, n_out, n_in\); got \(3, 4\)"),
    ((np.ones((1, 3, 4)), np.eye(4), np.eye(4)), r"U must have shape \(3, ·\) \(n_out rows"),
    ((np.ones((1, 3, 4)), np.eye(3), np.eye(3)), r"V must have shape \(4, ·\) \(n_in rows"),
    ((np.ones((1, 3, 4)), np.ones(3), np.eye(4)), r"U must have shape \(3, ·\)"),
    ((np.ones((1, 3, 4)), np.eye(3), np.ones(4)), r"V must have shape \(4, ·\)"),
    ((np.full((1, 3, 4), np.nan), np.eye(3), np.eye(4)), "W must be finite"),
    ((np.ones((1, 3, 4)), np.full((3, 3), np.nan), np.eye(4)), "U must be finite"),
    ((np.ones((1, 3, 4)), np.eye(3), np.full((4, 4), np.inf)), "V must be finite"),
])
def test_mode_strengths_reject_bad_shapes(args, match):
    with pytest.raises(ValueError, match=match):
        sl.mode_strengths(*args)


@pytest.mark.parametrize("k, match", [(0, "k must be ≥ 1"), (4, "k must be ≤ 3"), (1.5, "k must be an")])
def test_mode_strengths_reject_bad_k(k, match):
    with pytest.raises(ValueError, match=match):
        sl.mode_strengths(np.ones((1, 3, 4)), np.eye(3), np.eye(4), k=k)


# ---------------------------------------------------------------- sim.linear: ScalarChains


def test_scalar_chains_attributes():
    c = sl.ScalarChains([1, 3, 2])
    assert c.depths.tolist() == [1, 3, 2] and c.n_max == 3
    assert sl.ScalarChains(2).depths.tolist() == [2]


@pytest.mark.parametrize("depths, match", [
    ([], "depths must be a non-empty 1-D list of positive integers"),
    ([[1, 2]], "depths must be a non-empty 1-D list"),
    ([0, 2], "depths entries must be ≥ 1"),
    ([1.5], "depths must hold whole numbers"),
])
def test_scalar_chains_reject_bad_depths(depths, match):
    with pytest.raises(ValueError, match=match):
        sl.ScalarChains(depths)


def test_scalar_chains_product_loss_and_gradient_ignore_the_padding():
    c = sl.ScalarChains([1, 3, 2])
    rng = np.random.default_rng(5)
    a = rng.uniform(0.5, 1.5, (3, 3))
    x = rng.standard_normal(25)
    y = 1.7 * x + 0.4 * rng.standard_normal(25)
    data = sd.moments_from_samples(x[:, None], y[:, None])
    u_ref = np.array([a[0, 0], a[1].prod(), a[2, :2].prod()])
    padded = a.copy()
    padded[0, 1:] = [7.0, -3.0]
    padded[2, 2] = 11.0
    for q in (a, padded):
        p = {"a": q.copy()}
        assert np.allclose(c.product(p), u_ref)
        ref = [0.5 * np.mean((y - u * x) ** 2) for u in u_ref]
        assert np.allclose(c.loss(p, data), ref, rtol=1e-12)
    p = {"a": padded}
    g = c.grad(p, data)["a"]
    fd = _fd_grad(lambda q: c.loss(q, data), p)["a"]
    assert np.allclose(g, fd, atol=1e-7)
    assert g[0, 1] == g[0, 2] == g[2, 2] == 0.0
    assert np.all(g[c._mask] != 0.0)


def test_scalar_chains_reject_bad_parameters_and_data():
    c = sl.ScalarChains([1, 3])
    one = sd.Moments([[1.0]], [[1.0]], 1.0)
    with pytest.raises(ValueError, match=r"a has shape \(2, 2\); expected \(2, 3\)"):
        c.loss({"a": np.ones((2, 2))}, one)
    with pytest.raises(ValueError, match=r"a has shape \(3, 3\); expected \(2, 3\)"):
        c.grad({"a": np.ones((3, 3))}, one)
    two = sd.Moments(np.eye(2), np.zeros((1, 2)), 1.0)
    with pytest.raises(ValueError, match="ScalarChains needs 1×1 moments"):
        c.grad({"a": np.ones((2, 3))}, two)
    with pytest.raises(ValueError, match="ScalarChains needs 1×1 moments"):
        c.loss({"a": np.ones((2, 3))}, sd.Moments([[1.0]], np.zeros((2, 1)), 1.0))


# ---------------------------------------------------------------- sim.fusion: data


def test_fusion_moments_shapes_and_broadcast_sets():
    m = fs.FusionMoments(np.eye(2), [1.0, 0.5], 2)
    assert m.sigma.shape == (1, 2, 2) and m.sigma_yx.shape == (1, 2) and m.e_yy.shape == (1,)
    assert m.sigma.dtype == float and m.e_yy.dtype == float
    assert m.n_in == 2 and m.n_sets == 1
    many = fs.FusionMoments(np.eye(3), np.zeros((4, 3)), 1.0)
    assert many.n_sets == 4 and many.n_in == 3
    assert fs.FusionMoments(np.stack([np.eye(2)] * 3), [0.0, 0.0], [1.0]).n_sets == 3
    assert fs.FusionMoments(np.eye(2), [0.0, 0.0], [1.0, 2.0]).n_sets == 2


@pytest.mark.parametrize("S, s, e, match", [
    (np.ones(2), [1.0, 1.0], 5.0, r"sigma must be \(D, D\) or \(E, D, D\); got \(2,\)"),
    (np.ones((2, 3)), [1.0, 1.0], 5.0, r"sigma must be \(D, D\) or \(E, D, D\); got \(2, 3\)"),
    (np.ones((1, 1, 2, 2)), [1.0, 1.0], 5.0, r"sigma must be \(D, D\) or \(E, D, D\)"),
    (np.eye(2), [1.0, 1.0, 1.0], 5.0, r"sigma_yx must be \(D,\) or \(E, D\) with D = 2; got \(3,\)"),
    (np.eye(2), np.ones((1, 1, 2)), 5.0, r"sigma_yx must be \(D,\) or \(E, D\) with D = 2"),
    (np.stack([np.eye(2)] * 2), np.ones((3, 2)), 9.0, "disagree on the number of data sets"),
    (np.eye(2), np.ones((2, 2)), [5.0, 5.0, 5.0], "disagree on the number of data sets"),
    (np.eye(2), [1.0, 1.0], [[5.0, 5.0]], "disagree on the number of data sets"),
    (np.eye(2), [np.nan, 1.0], 5.0, "statistics must be finite"),
    (np.eye(2), [1.0, 1.0], np.inf, "statistics must be finite"),
    (np.array([[1.0, np.inf], [np.inf, 1.0]]), [1.0, 1.0], 5.0, "statistics must be finite"),
    (np.array([[1.0, 1e-6], [0.0, 1.0]]), [0.0, 0.0], 5.0, "sigma must be symmetric"),
    (np.diag([1.0, -1.0]), [0.0, 0.0], 5.0, "sigma must be positive semi-definite"),
    (np.eye(2), [0.0, 0.0], -1.0, "e_yy must be non-negative"),
    (np.eye(2), [1.0, 1.0], 1.5, "e_yy = 1.5 is below Σ_yx Σ⁺ Σ_xy"),
])
def test_fusion_moments_reject_bad_statistics(S, s, e, match):
    with pytest.raises(ValueError, match=match):
        fs.FusionMoments(S, s, e)


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_fusion_moments_tolerances_are_relative_to_the_largest_entry(scale):
    z = [0.0, 0.0]
    fs.FusionMoments(scale * np.array([[1.0, 0.5e-12], [0.0, 1.0]]), z, 0.0)
    with pytest.raises(ValueError, match="symmetric"):
        fs.FusionMoments(scale * np.array([[1.0, 1.5e-12], [0.0, 1.0]]), z, 0.0)
    fs.FusionMoments(scale * np.diag([1.0, -0.5e-10]), z, 0.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        fs.FusionMoments(scale * np.diag([1.0, -1.5e-10]), z, 0.0)


@pytest.mark.parametrize("shared", ["sigma", "sigma_yx", "none"])
def test_fusion_moments_check_each_set_against_its_own_statistics(shared):
    # explained part Σ_yx Σ⁻¹ Σ_xy of set i is i + 1 (or its pairing with the shared statistic)
    sig = np.stack([np.diag([1.0, 2.0]), np.diag([2.0, 1.0]), np.diag([4.0, 4.0])])
    syx = np.array([[1.0, 0.0], [2.0, 0.0], [2.0, np.sqrt(8.0)]])
    if shared == "sigma":
        sig = sig[:1]
    elif shared == "sigma_yx":
        syx = syx[:1]
    n = 3
    explained = np.array([syx[i % len(syx)] @ np.linalg.solve(sig[i % len(sig)], syx[i % len(syx)])
                          for i in range(n)])
    fs.FusionMoments(sig, syx, explained * (1 + 1e-12))
    for i in range(n):
        e = explained.copy()
        e[i] *= 1 - 1e-6
        with pytest.raises(ValueError, match=rf"e_yy\[{i}\] = "):
            fs.FusionMoments(sig, syx, e)


def test_fusion_moments_from_samples_and_least_squares():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((30, 3))
    X[:, 2] = 2 * X[:, 1]  # singular Σ: the minimum-norm least squares solution
    y = X @ [1.0, -0.5, 0.2] + 0.1 * rng.standard_normal(30)
    m = fs.FusionMoments.from_samples(X, y)
    assert np.allclose(m.sigma[0], sum(np.outer(x, x) for x in X) / 30)
    assert np.allclose(m.sigma_yx[0], sum(v * x for v, x in zip(y, X)) / 30)
    assert np.allclose(m.e_yy, [np.mean(y**2)])
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.allclose(m.least_squares(), [w])
    d = fs.FusionSamples(X, y[:, None])
    assert d.y.shape == (30,) and d.n_in == 3
    assert np.allclose(d.moments().sigma, m.sigma) and np.allclose(d.moments().e_yy, m.e_yy)
    # several data sets sharing Σ
    two = fs.FusionMoments(np.diag([2.0, 4.0]), [[2.0, 4.0], [1.0, -2.0]], [10.0, 10.0])
    assert np.allclose(two.least_squares(), [[1.0, 1.0], [0.5, -0.5]])


@pytest.mark.parametrize("X, y, match", [
    (np.ones(3), np.ones(3), r"X must be \(P, D\) and y \(P,\) with P ≥ 1; got \(3,\) and \(3,\)"),
    (np.ones((3, 2)), np.ones(2), r"X must be \(P, D\) and y \(P,\) with P ≥ 1; got \(3, 2\)"),
    (np.ones((0, 2)), np.ones(0), r"with P ≥ 1"),
    (np.full((2, 2), np.nan), np.ones(2), "X and y must be finite"),
    (np.ones((2, 2)), [1.0, np.inf], "X and y must be finite"),
])
def test_fusion_samples_reject_bad_data(X, y, match):
    with pytest.raises(ValueError, match=match):
        fs.FusionSamples(X, y)


def test_toy_mixing_gives_the_stated_scales_and_correlation():
    for r, rho in [(2.0, 0.5), (0.5, -0.3), (1.0, 0.0)]:
        M = fs.toy_mixing(r, rho)
        S = M @ M.T
        assert np.isclose(np.sqrt(S[0, 0]), r) and np.isclose(S[1, 1], 1.0)
        assert np.isclose(S[0, 1] / (r * 1.0), rho)
    assert np.allclose(fs.toy_mixing(2.0, 0.6), [[1.2, 1.6], [1.0, 0.0]])


@pytest.mark.parametrize("r, rho", [(0.0, 0.1), (-1.0, 0.1), (np.nan, 0.1), (1.0, 1.0),
                                    (1.0, -1.0), (1.0, np.inf), (np.inf, 0.0)])
def test_toy_mixing_rejects_bad_parameters(r, rho):
    with pytest.raises(ValueError, match=r"need r > 0 and \|rho\| < 1"):
        fs.toy_mixing(r, rho)


def test_toy_moments_known_values_and_broadcast():
    m = fs.toy_moments(2.0, 0.5)
    assert np.allclose(m.sigma, [[[4.0, 1.0], [1.0, 1.0]]])
    assert np.allclose(m.sigma_yx, [[5.0, 2.0]]) and np.allclose(m.e_yy, [7.0])
    many = fs.toy_moments([1.0, 3.0], 0.0)
    assert many.n_sets == 2
    assert np.allclose(many.sigma[1], np.diag([9.0, 1.0])) and np.allclose(many.e_yy, [2.0, 10.0])
    grid = fs.toy_moments([[1.0], [2.0]], [0.1, -0.1, 0.2])
    assert grid.n_sets == 6 and np.isclose(grid.sigma[4, 0, 1], 2.0 * -0.1)


def test_toy_samples_follow_the_generative_model():
    d = fs.toy_samples(2.0, 0.5, 20000, seed=1)
    assert d.X.shape == (20000, 2) and np.array_equal(d.y, d.X[:, 0] + d.X[:, 1])
    C = np.cov(d.X.T)
    assert np.allclose(C, [[4.0, 1.0], [1.0, 1.0]], atol=0.1)
    assert np.array_equal(fs.toy_samples(2.0, 0.5, 10, seed=1).X, fs.toy_samples(2.0, 0.5, 10, seed=1).X)
    assert not np.allclose(fs.toy_samples(2.0, 0.5, 10, seed=1).X, fs.toy_samples(2.0, 0.5, 10, seed=2).X)
    assert fs.toy_samples(1.0, 0.0, 2).X.shape == (2, 2)


@pytest.mark.parametrize("n", [1, 2.5, 0])
def test_toy_samples_reject_bad_sizes(n):
    with pytest.raises(ValueError, match="need n ≥ 2 samples"):
        fs.toy_samples(1.0, 0.0, n)


def test_multi_samples_statistics():
    d, S, w = fs.multi_samples(4000, d_a=3, d_b=2, var_a=3.0, var_b=0.5, weight=0.2, noise=0.4, seed=3)
    assert d.X.shape == (4000, 5) and d.y.shape == (4000,)
    assert np.allclose(S, np.diag([3.0, 3.0, 3.0, 0.5, 0.5])) and np.allclose(w, 0.2)
    assert np.allclose(d.X.var(axis=0), np.diag(S), rtol=0.08)
    assert np.abs(np.corrcoef(d.X.T) - np.eye(5)).max() < 0.06
    resid = d.y - d.X @ w
    assert abs(resid.std() - 0.4) < 0.02 and abs(np.corrcoef(resid, d.X[:, 0])[0, 1]) < 0.06
    clean, _, w0 = fs.multi_samples(5, d_a=1, d_b=1, weight=-1.0, noise=0.0)
    assert np.allclose(clean.y, clean.X @ w0) and np.allclose(w0, -1.0)
    assert fs.multi_samples(1, d_a=1, d_b=1)[0].X.shape == (1, 2)
    a = fs.multi_samples(6, d_a=2, d_b=2, seed=5)[0]
    assert np.array_equal(a.y, fs.multi_samples(6, d_a=2, d_b=2, seed=5)[0].y)
    assert not np.allclose(a.y, fs.multi_samples(6, d_a=2, d_b=2, seed=6)[0].y)
    default = fs.multi_samples(3)
    assert default[0].X.shape == (3, 100) and np.allclose(np.diag(default[1]), [3.0] * 50 + [1.0] * 50)
    assert np.allclose(default[2], 0.1)


@pytest.mark.parametrize("kw, match", [
    (dict(n=0), "need n ≥ 1, d_a, d_b ≥ 1, positive variances and noise ≥ 0"),
    (dict(n=2.5), "need n ≥ 1"),
    (dict(d_a=0), "d_a, d_b ≥ 1"),
    (dict(d_b=0), "d_a, d_b ≥ 1"),
    (dict(var_a=0.0), "positive variances"),
    (dict(var_b=-1.0), "positive variances"),
    (dict(noise=-0.1), "noise ≥ 0"),
    (dict(weight=np.nan), "weight must be finite"),
    (dict(d_a=1.5), "d_a must be an integer"),
    (dict(d_b=2.5), "d_b must be an integer"),
])
def test_multi_samples_reject_bad_input(kw, match):
    args = dict(n=4, d_a=2, d_b=2)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        fs.multi_samples(**args)


# ---------------------------------------------------------------- sim.fusion: the network


def _net_params(net, E, seed, scale=0.7):
    rng = np.random.default_rng(seed)
    return {n: scale * rng.standard_normal((E, net.widths[l + 1], net.widths[l])) * net.masks[n]
            for l, n in enumerate(net.names)}


def _loop_output(net, params, X, e):
    """Output of member ``e`` computed one sample at a time (leaky ReLU by hand)."""
    out = []
    for x in X:
        h = x
        for l, n in enumerate(net.names):
            z = params[n][e] @ h
            h = z if l == net.depth - 1 else np.array([v if v > 0 else net.slope * v for v in z])
        out.append(h[0])
    return np.array(out)


def test_fusion_net_attributes_and_widths():
    net = fs.FusionNet(2, 3, 3, [1, 3], 4, slope=0.5)
    assert net.n_in == 5 and net.widths == (5, 8, 8, 1) and net.names == ("W1", "W2", "W3")
    assert net.fusion_layer.dtype.kind == "i" and net.fusion_layer.tolist() == [1, 3]
    assert net.n_members == 2 and type(net.slope) is float and net.slope == 0.5
    assert (net.d_a, net.d_b, net.depth, net.hidden) == (2, 3, 3, 4)
    one = fs.FusionNet(1, 1, 1, 1, 1)
    assert one.widths == (2, 1) and one.n_members == 1
    fs.FusionNet(1, 1, 2, 2, 1, slope=0.0)


@pytest.mark.parametrize("args, kw, match", [
    ((0, 1, 2, 1, 2), {}, "d_a, d_b, depth and hidden must be ≥ 1"),
    ((1, 0, 2, 1, 2), {}, "d_a, d_b, depth and hidden must be ≥ 1"),
    ((1, 1, 0, 1, 2), {}, "d_a, d_b, depth and hidden must be ≥ 1"),
    ((1, 1, 2, 1, 0), {}, "d_a, d_b, depth and hidden must be ≥ 1"),
    ((1.5, 1, 2, 1, 2), {}, "d_a must be an integer"),
    ((1, 1, 2, 1, 2.5), {}, "hidden must be an integer"),
    ((1, 1, 2, 0, 2), {}, r"fusion_layer must be integers in \[1, depth = 2\]; got 0"),
    ((1, 1, 2, 3, 2), {}, r"fusion_layer must be integers in \[1, depth = 2\]"),
    ((1, 1, 2, [1, 1.5], 2), {}, r"fusion_layer must be integers in \[1, depth = 2\]"),
    ((1, 1, 2, [[1, 2]], 2), {}, r"fusion_layer must be integers"),
    ((1, 1, 2, 1, 2), dict(slope=-0.1), r"slope must lie in \[0, 1\]"),
    ((1, 1, 2, 1, 2), dict(slope=1.1), r"slope must lie in \[0, 1\]"),
])
def test_fusion_net_rejects_bad_architecture(args, kw, match):
    with pytest.raises(ValueError, match=match):
        fs.FusionNet(*args, **kw)


@pytest.mark.parametrize("slope", [1.0, 0.0, 0.3])
def test_fusion_net_output_loss_and_gradient_against_loops(slope):
    net = fs.FusionNet(2, 1, 3, [1, 2, 3], 2, slope=slope)
    p = _net_params(net, 3, seed=8)
    rng = np.random.default_rng(9)
    X = rng.standard_normal((12, 3))
    y = X @ [1.0, -1.0, 0.5] + 0.2 * rng.standard_normal(12)
    data = fs.FusionSamples(X, y)
    out = net.output(p, X)
    assert out.shape == (3, 12)
    for e in range(3):
        ref = _loop_output(net, p, X, e)
        assert np.allclose(out[e], ref)
        assert np.isclose(net.loss(p, data)[e], 0.5 * np.mean((y - ref) ** 2))
    g = net.grad(p, data)
    fd = _fd_grad(lambda q: net.loss(q, data), p)
    for n in net.names:
        # masked entries are held at zero: their gradient is zero, not the loss's derivative
        assert np.allclose(g[n], fd[n] * net.masks[n], atol=1e-6), n
        assert np.all(g[n][net.masks[n] == 0] == 0.0)
    if slope == 1.0:  # the linear network: the same loss and gradient from the moments
        m = data.moments()
        assert np.allclose(net.loss(p, m), net.loss(p, data))
        gm = net.grad(p, m)
        assert all(np.allclose(gm[n], g[n]) for n in net.names)
        W = net.product(p)
        assert W.shape == (3, 3)
        for e in range(3):
            assert np.allclose(W[e], p["W3"][e] @ p["W2"][e] @ p["W1"][e])
        wa, wb = net.branch_weights(p)
        assert np.array_equal(wa, W[:, :2]) and np.array_equal(wb, W[:, 2:])


def test_fusion_net_checks_parameters_and_data():
    net = fs.FusionNet(1, 1, 2, [1, 2], 2)
    p = _net_params(net, 2, seed=0)
    d = fs.toy_moments(1.5, 0.2)
    with pytest.raises(ValueError, match=r"W2 has shape \(1, 3\); expected \(1, 4\)"):
        net.grad(dict(p, W2=np.ones((2, 1, 3))), d)
    with pytest.raises(ValueError, match="W1 has 3 members; the fusion layers define 2"):
        net.grad({n: np.concatenate([v, v[:1]]) for n, v in p.items()}, d)
    with pytest.raises(ValueError, match=r"data has 3 inputs; the network expects d_a \+ d_b = 2"):
        net.grad(p, fs.FusionMoments(np.eye(3), np.zeros(3), 1.0))
    with pytest.raises(ValueError, match="3 data sets for 2 ensemble members"):
        net.grad(p, fs.toy_moments([1.5, 2.0, 3.0], 0.0))
    with pytest.raises(ValueError, match="data must be FusionMoments or FusionSamples"):
        net.grad(p, sd.Moments(np.eye(2), np.zeros((1, 2)), 0.0))
    relu = fs.FusionNet(1, 1, 2, [1, 2], 2, slope=0.5)
    with pytest.raises(ValueError, match=r"leaky-ReLU network \(slope < 1\) needs FusionSamples"):
        relu.grad(p, d)
    # one shared data set, or one per member, are both fine; a single-layer net broadcasts to any E
    net.grad(p, fs.toy_moments([1.5, 2.0], 0.0))
    flat = fs.FusionNet(1, 1, 2, 2, 2)
    flat.grad(_net_params(flat, 5, seed=1), d)


@pytest.mark.parametrize("as_samples", [False, True])
def test_fusion_stability_bound_against_the_numeric_hessian(as_samples):
    # Σ = I (r = 1, ρ = 0): the top Hessian eigenvalue at the balanced minimum of an early-fusion
    # net is that of the scalar chain along w* = (1, 1)
    for depth in (1, 2):
        net = fs.FusionNet(1, 1, depth, 1, 1)
        data = fs.toy_moments(1.0, 0.0)
        s = np.sqrt(2.0)
        w_hat = np.array([1.0, 1.0]) / s
        share = s ** (1.0 / depth)
        if depth == 1:
            p = {"W1": (share * w_hat)[None, None, :].copy()}
        else:
            c = np.array([1.0, 0.0])
            p = {"W1": (share * np.outer(c, w_hat))[None], "W2": (share * c)[None, None, :].copy()}
        assert np.allclose(net.product(p), [[1.0, 1.0]])
        h_max = _fd_hessian_max(lambda q: net.loss(q, data), p)
        arg = fs.FusionSamples(np.eye(2) * np.sqrt(2.0), np.full(2, np.sqrt(2.0))) if as_samples else data
        if as_samples:  # two samples with exactly the moments of the toy
            assert np.allclose(arg.moments().sigma, data.sigma)
        assert np.isclose(net.stability_bound(arg), 2.0 / h_max, rtol=1e-5)


def test_fusion_stability_bound_uses_the_worst_data_set():
    net = fs.FusionNet(1, 1, 1, 1, 1)
    two = fs.FusionMoments(np.stack([np.eye(2), np.diag([4.0, 1.0])]), np.zeros(2), 1.0)
    assert np.isclose(net.stability_bound(two), 0.5)  # the Hessian of a linear model is Σ
    deep = fs.FusionNet(1, 1, 3, 1, 1)
    assert deep.stability_bound(fs.FusionMoments(np.eye(2), np.zeros(2), 1.0)) == np.inf
    both = fs.FusionMoments(np.eye(2), [[1.0, 0.0], [3.0, 4.0]], 30.0)
    s = 5.0  # the larger ‖w*‖
    assert np.isclose(deep.stability_bound(both), 2.0 / (3 * s ** (4 / 3)))


def test_modality_coefficients():
    net = fs.FusionNet(1, 1, 2, 2, 2, slope=0.0)
    w, a = 0.7, 1.3
    W1 = np.zeros((1, 4, 2))
    W1[0, :2, 0] = [w, -w]  # ReLU(wx) − ReLU(−wx) = wx: an exactly linear A branch
    W1[0, 2:, 1] = [2.0, 0.0]  # B: ReLU(2x), not linear
    W2 = np.array([[[a, -a, 1.0, 0.0]]])
    p = {"W1": W1, "W2": W2}
    X = np.random.default_rng(0).standard_normal((200, 2))
    ca, cb = net.modality_coefficients(p, fs.FusionSamples(X, X.sum(axis=1)))
    assert np.allclose(ca, [[a * w]])
    # B's output 2·ReLU(x) regressed on x through the origin: Σ 2 x⁺ x / Σ x²
    xb = X[:, 1]
    assert np.allclose(cb, [[np.sum(2 * np.maximum(xb, 0) * xb) / np.sum(xb**2)]])
    lin = fs.FusionNet(2, 1, 2, 2, 2)
    q = _net_params(lin, 2, seed=4)
    Xl = np.random.default_rng(1).standard_normal((20, 3))
    via_samples = lin.modality_coefficients(q, fs.FusionSamples(Xl, Xl[:, 0]))
    via_moments = lin.modality_coefficients(q, fs.FusionSamples(Xl, Xl[:, 0]).moments())
    W = lin.product(q)
    for got in (via_samples, via_moments):
        assert np.allclose(got[0], W[:, :2]) and np.allclose(got[1], W[:, 2:])


# ---------------------------------------------------------------- sim.fusion: initialisations


def test_aligned_init_factor_sizes_masks_and_balance():
    u0, depth, h = 0.3, 4, 3
    net = fs.FusionNet(1, 1, depth, [1, 2, 3, 4], h)
    p = fs.aligned_init(net, u0, seed=2)
    assert all(p[n].shape == (4, net.widths[l + 1], net.widths[l]) for l, n in enumerate(net.names))
    W = net.product(p)
    for e, lf in enumerate([1, 2, 3, 4]):
        # every branch factor u0, every shared one √2·u0
        assert np.allclose(W[e], u0**lf * (np.sqrt(2) * u0) ** (depth - lf))
        for l, n in enumerate(net.names, start=1):
            M = p[n][e]
            assert np.all(M[net.masks[n][e] == 0] == 0.0)
            assert np.isclose(np.linalg.norm(M), np.sqrt(2) * u0)
            if l < lf:  # a branch layer: one rank-one block of size u0 per modality
                top = M[:h, : (1 if l == 1 else h)]
                assert np.isclose(np.linalg.norm(top), u0)
                assert np.linalg.matrix_rank(M, tol=1e-10) == 2
            else:
                assert np.linalg.matrix_rank(M, tol=1e-10) == 1
            if l > lf:  # shared layers are balanced with the layer below
                lower = p[net.names[l - 2]][e]
                assert np.allclose(M.T @ M, lower @ lower.T)


def test_aligned_init_members_seeds_and_defaults():
    net = fs.FusionNet(1, 1, 3, 2, 4)
    p = fs.aligned_init(net, 0.1, n_ensemble=3, seed=0)
    assert p["W1"].shape == (3, 8, 2)
    assert not np.allclose(p["W1"][0], p["W1"][1])  # one draw per member
    assert np.allclose(net.product(p), 0.1**2 * np.sqrt(2) * 0.1)
    same = fs.aligned_init(net, 0.1, n_ensemble=3, seed=0)
    assert all(np.array_equal(same[n], p[n]) for n in p)
    assert not np.allclose(fs.aligned_init(net, 0.1, n_ensemble=3, seed=1)["W1"], p["W1"])
    assert fs.aligned_init(net, 0.1)["W1"].shape == (1, 8, 2)  # default: the net's members
    multi = fs.FusionNet(1, 1, 3, [2, 3], 4)
    assert fs.aligned_init(multi, 0.1)["W1"].shape == (2, 8, 2)
    assert fs.aligned_init(multi, 0.1, n_ensemble=2)["W1"].shape == (2, 8, 2)


@pytest.mark.parametrize("net, kw, match", [
    (fs.FusionNet(1, 1, 2, 2, 2), dict(u0=0.0), "u0 must be positive"),
    (fs.FusionNet(2, 1, 2, 2, 2), {}, "the aligned rank-one initialisation is defined for scalar"),
    (fs.FusionNet(1, 2, 2, 2, 2), {}, "defined for scalar modalities"),
    (fs.FusionNet(1, 1, 2, [1, 2], 2), dict(n_ensemble=3), "n_ensemble must match the number"),
    (fs.FusionNet(1, 1, 2, 2, 2), dict(n_ensemble=0), "n_ensemble must be ≥ 1"),
])
def test_aligned_init_rejects_bad_input(net, kw, match):
    args = dict(u0=0.1)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        fs.aligned_init(net, **args)


def test_gaussian_init_iid_scheme():
    net = fs.FusionNet(1, 1, 3, [2, 3], 60)
    p = fs.gaussian_init(net, 0.2, seed=1)
    for l, n in enumerate(net.names):
        assert p[n].shape == (2, net.widths[l + 1], net.widths[l])
        live = p[n][net.masks[n] > 0]
        assert np.all(p[n][net.masks[n] == 0] == 0.0)
        assert abs(live.std() / 0.2 - 1) < 0.1 and abs(live.mean()) < 0.03
    same = fs.gaussian_init(net, 0.2, seed=1)
    assert all(np.array_equal(same[n], p[n]) for n in p)
    assert not np.allclose(fs.gaussian_init(net, 0.2, seed=2)["W2"], p["W2"])


def test_gaussian_init_numel_scheme_entry_scales():
    h = 40
    net = fs.FusionNet(1, 1, 3, [1, 2, 3], h)
    p = fs.gaussian_init(net, 0.5, seed=3, scheme="numel")
    # member, layer -> (is a branch layer, number of entries of one block or of the whole layer)
    expect = {
        (0, "W1"): (False, 4 * h), (0, "W2"): (False, 4 * h * h), (0, "W3"): (False, 2 * h),
        (1, "W1"): (True, h), (1, "W2"): (False, 4 * h * h), (1, "W3"): (False, 2 * h),
        (2, "W1"): (True, h), (2, "W2"): (True, h * h), (2, "W3"): (False, 2 * h),
    }
    for (e, n), (branch, numel) in expect.items():
        live = p[n][e][net.masks[n][e] > 0]
        assert live.size == (2 * numel if branch else numel)
        sd_ref = (0.5 if branch else np.sqrt(2) * 0.5) / np.sqrt(numel)
        assert abs(live.std() / sd_ref - 1) < 0.2, (e, n)
        assert np.all(p[n][e][net.masks[n][e] == 0] == 0.0)


@pytest.mark.parametrize("kw, match", [
    (dict(std=0.0), "std must be positive"),
    (dict(scheme="xavier"), "scheme must be 'iid' or 'numel'"),
    (dict(n_ensemble=3), "n_ensemble must match the number of fusion layers"),
    (dict(n_ensemble=0), "n_ensemble must be ≥ 1"),
])
def test_gaussian_init_rejects_bad_input(kw, match):
    args = dict(std=0.1)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        fs.gaussian_init(fs.FusionNet(1, 1, 2, [1, 2], 2), **args)


def test_gaussian_init_n_ensemble_for_a_single_fusion_layer():
    net = fs.FusionNet(1, 1, 2, 2, 3)
    for scheme in ("iid", "numel"):
        p = fs.gaussian_init(net, 0.1, n_ensemble=4, scheme=scheme)
        assert p["W1"].shape == (4, 6, 2) and not np.allclose(p["W1"][0], p["W1"][1])
        assert fs.gaussian_init(net, 0.1, scheme=scheme)["W2"].shape == (1, 1, 6)


# ---------------------------------------------------------------- sim.fusion: measurements


def test_first_crossing_by_hand():
    t = np.array([0.0, 1.0, 2.0, 4.0])
    w = np.array([[0.0, 2.0, 0.0], [0.5, 3.0, 1.0], [1.5, 4.0, 1.0], [2.0, 5.0, 3.0]])
    # column 0 crosses 1 between t = 1 and 2; column 1 starts above; column 2 hits 1 exactly at t=1
    assert np.allclose(fs.first_crossing(t, w, 1.0), [1.5, 0.0, 1.0])
    assert np.allclose(fs.first_crossing(t, w, [1.75, 4.5, 2.0]), [3.0, 3.0, 3.0])
    assert np.allclose(fs.first_crossing(t, w[:, 0], 0.25), [0.5])  # a 1-D record
    tt = np.stack([t, 10 * t, t + 1], axis=1)  # one time axis per member
    assert np.allclose(fs.first_crossing(tt, w, 1.0), [1.5, 0.0, 2.0])


def test_first_crossing_errors():
    t = np.array([0.0, 1.0])
    w = np.array([[0.0, 0.0], [1.0, 0.2]])
    with pytest.raises(ValueError, match=r"members \[1\] never reach their level; run longer"):
        fs.first_crossing(t, w, 0.5)
    with pytest.raises(ValueError, match=r"t must be \(T,\) or \(T, E\) matching w"):
        fs.first_crossing(np.arange(3.0), w, 0.5)
    with pytest.raises(ValueError, match=r"t must be \(T,\) or \(T, E\) matching w"):
        fs.first_crossing(np.zeros((2, 3)), w, 0.5)


def test_half_times_by_hand():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    w_a = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 2.0], [2.0, 2.0]])
    w_b = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 3.0], [4.0, 4.0]])
    ta, tb = fs.half_times(t, w_a, w_b, 1.5)
    assert np.allclose(ta, [1.5, 0.75])
    # half of the maximum: 2 (reached at t = 2 + 1/3) and 2 (at t = 1.5)
    assert np.allclose(tb, [2.0 + 1.0 / 3.0, 1.5])
    ta1, tb1 = fs.half_times(t, w_a[:, 0], w_b[:, 0], 1.0)
    assert np.allclose(ta1, [1.0]) and np.allclose(tb1, [2.0 + 1.0 / 3.0])


# ---------------------------------------------------------------- theory.deep_linear


def _mode_ode(t, s, u0, tau=1.0):
    """``τu̇ = 2u(s − u)`` integrated numerically (forward or backward in time from 0)."""
    t = np.atleast_1d(np.asarray(t, float))
    out = np.empty_like(t)
    for sign in (1.0, -1.0):
        sel = t * sign > 0
        if np.any(sel):
            ts = t[sel]
            order = np.argsort(np.abs(ts))
            sol = solve_ivp(lambda _t, u: 2 * u * (s - u) / tau, (0.0, ts[order][-1]), [u0],
                            t_eval=ts[order], method="DOP853", rtol=1e-12, atol=1e-14 * u0)
            vals = np.empty(len(ts))
            vals[order] = sol.y[0]
            out[sel] = vals
    out[t == 0] = u0
    return out


@pytest.mark.parametrize("s, u0, t", [
    (1.0, 0.01, [-3.0, -0.5, 0.0, 1.0, 4.0]),  # from below: defined for every t
    (2.0, 3.0, [-0.1, 0.0, 0.3, 2.0]),         # s < u0 < 2s, before and after t = 0
    (1.0, 5.0, [0.0, 0.05, 0.5, 3.0]),         # u0 > 2s
    (0.5, 40.0, [-0.001, 0.0, 0.01, 1.0]),     # u0 ≫ s, just after the pole
])
@pytest.mark.parametrize("tau", [1.0, 2.5])
def test_mode_strength_against_the_ode(s, u0, t, tau):
    t = np.array(t) * tau
    assert np.allclose(dl.mode_strength(t, s, u0, tau), _mode_ode(t, s, u0, tau), rtol=1e-9)


def test_mode_strength_far_above_s_keeps_full_precision():
    # u0 = 10¹⁰ s at t = 10⁻¹⁰: 1 − e^{−x} must not be formed by cancellation
    s, u0, t = 1.0, 1e10, np.array([1e-12, 1e-10, 1e-8])
    ref = _mode_ode(t, s, u0)
    assert np.allclose(dl.mode_strength(t, s, u0), ref, rtol=1e-10)


def test_mode_strength_fixed_point_and_pole():
    assert np.all(dl.mode_strength([-1e4, 0.0, 1e4], 2.0, 2.0) == 2.0)
    assert np.isclose(dl.mode_strength(1e5, 1.0, 1e-3), 1.0)
    # from u0 = 2s the pole is at t* = (τ/2s) ln(1 − s/u0) = −ln2/(2s)
    s, u0, tau = 1.0, 2.0, 3.0
    t_star = tau / (2 * s) * np.log(1 - s / u0)
    assert dl.mode_strength(t_star * 0.999, s, u0, tau) > 100
    for t in (t_star, t_star * 1.001, 10 * t_star):
        with pytest.raises(ValueError, match="t is before the pole: from u0 > s"):
            dl.mode_strength(t, s, u0, tau)


@pytest.mark.parametrize("args, match", [
    ((1.0, 0.0, 0.1), "s must be positive"),
    ((1.0, 1.0, -0.1), "u0 must be positive"),
    ((1.0, 1.0, 0.1, 0.0), "tau must be positive"),
    ((np.nan, 1.0, 0.1), "t must be finite"),
    ((np.zeros(2), np.ones(3), 0.1), r"shapes do not broadcast together: t \(2,\), s \(3,\)"),
])
def test_mode_strength_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        dl.mode_strength(*args)


def test_mode_strength_expr_solves_the_mode_equation():
    u, (t, s, u0, tau) = dl.mode_strength_expr()
    assert [x.name for x in (t, s, u0, tau)] == ["t", "s", "u_0", "tau"]
    assert all(x.is_positive for x in (t, s, u0, tau))
    assert sp.cancel(tau * sp.diff(u, t) - 2 * u * (s - u)) == 0
    assert sp.cancel(u.subs(t, 0) - u0) == 0
    f = sp.lambdify((t, s, u0, tau), u)
    assert np.isclose(f(0.7, 1.5, 0.1, 2.0), dl.mode_strength(0.7, 1.5, 0.1, 2.0))


def test_learning_time_against_quadrature():
    # t = τ∫ du / (2u(s − u)) from u0 to u, on either side of s
    for s, u0, u, tau in [(2.0, 0.01, 1.5, 1.0), (1.0, 0.2, 0.9, 3.0), (1.0, 3.0, 1.2, 2.0)]:
        ref = tau * quad(lambda v: 1.0 / (2 * v * (s - v)), u0, u, epsrel=1e-12)[0]
        assert np.isclose(dl.learning_time(s, u0, u, tau), ref, rtol=1e-9)
    assert dl.learning_time(1.0, 0.3, 0.3) == 0.0
    assert np.allclose(dl.learning_time([1.0, 2.0], 0.1, 0.5),
                       [quad(lambda v: 1 / (2 * v * (s - v)), 0.1, 0.5)[0] for s in (1.0, 2.0)])


@pytest.mark.parametrize("args, match", [
    ((1.0, 0.1, 1.0), "u0 and u must lie strictly on the same side of s"),
    ((1.0, 1.0, 0.5), "u0 and u must lie strictly on the same side of s"),
    ((1.0, 0.1, 2.0), "strictly on the same side of s"),
    ((1.0, 0.5, 0.1), "u must lie between u0 and s"),
    ((1.0, 2.0, 3.0), "u must lie between u0 and s"),
    ((0.0, 0.1, 0.5), "s must be positive"),
    ((1.0, 0.0, 0.5), "u0 must be positive"),
    ((1.0, 0.1, 0.0), "u must be positive"),
    ((1.0, 0.1, 0.5, -1.0), "tau must be positive"),
    (([1.0, 2.0], [0.1, 0.1, 0.1], 0.5), "shapes do not broadcast together"),
])
def test_learning_time_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        dl.learning_time(*args)


def test_half_learning_time():
    for s, u0, tau in [(1.0, 0.01, 1.0), (3.0, 1.4, 2.0)]:
        th = dl.half_learning_time(s, u0, tau)
        assert np.isclose(_mode_ode([th], s, u0, tau)[0], s / 2, rtol=1e-8)
    for u0 in (0.5, 0.7):
        with pytest.raises(ValueError, match=r"the half-learning time needs u0 < s/2"):
            dl.half_learning_time(1.0, u0)
    with pytest.raises(ValueError, match="s must be positive"):
        dl.half_learning_time(-1.0, 0.1)
    with pytest.raises(ValueError, match="u0 must be positive"):
        dl.half_learning_time(1.0, 0.0)
    with pytest.raises(ValueError, match="tau must be positive"):
        dl.half_learning_time(1.0, 0.1, 0.0)


@pytest.mark.parametrize("s, u0", [(1.0, 0.05), (2.0, 3.0), (0.5, 0.5)])
def test_gd_first_order_error_against_its_linear_ode(s, u0):
    def rhs(_t, y):
        u, e = y
        return [2 * u * (s - u), (2 * s - 4 * u) * e - u * (s - 3 * u) * (s - u)]

    t = np.linspace(0.0, 4.0, 9)
    sol = solve_ivp(rhs, (0.0, 4.0), [u0, 0.0], t_eval=t, method="DOP853", rtol=1e-12, atol=1e-14)
    assert np.allclose(dl.gd_first_order_error(t, s, u0), sol.y[1], rtol=1e-7, atol=1e-11)
    assert dl.gd_first_order_error(0.0, s, u0) == 0.0


def test_gd_first_order_error_at_large_times_and_bad_input():
    # the error decays with the mode; no overflow of e^{2st}
    assert abs(dl.gd_first_order_error(500.0, 1.0, 1e-3)) < 1e-100
    with pytest.raises(ValueError, match="t must be non-negative"):
        dl.gd_first_order_error(-0.1, 1.0, 0.1)
    with pytest.raises(ValueError, match="t must be finite"):
        dl.gd_first_order_error(np.inf, 1.0, 0.1)
    with pytest.raises(ValueError, match="s must be positive"):
        dl.gd_first_order_error(1.0, 0.0, 0.1)
    with pytest.raises(ValueError, match="u0 must be positive"):
        dl.gd_first_order_error(1.0, 1.0, -0.1)


def _unbalanced_ode(s, w0, a0, T=60.0):
    sol = solve_ivp(lambda _t, y: [y[1] * (s - y[0] * y[1]), y[0] * (s - y[0] * y[1])], (0, T),
                    [w0, a0], method="DOP853", rtol=1e-11, atol=1e-13)
    return sol.y[:, -1]


@pytest.mark.parametrize("s, w0, a0", [
    (1.0, 0.5, 0.1), (1.0, -0.5, 0.1), (2.0, 0.1, -0.6), (2.0, -0.1, -0.6), (1.5, 0.3, 0.3),
    (1.5, -0.2, -0.2), (1.0, 0.0, 0.4), (1.0, -0.7, 0.0),
])
def test_unbalanced_limit_against_the_flow(s, w0, a0):
    w_inf, a_inf = dl.unbalanced_limit(s, w0, a0)
    assert np.allclose([w_inf, a_inf], _unbalanced_ode(s, w0, a0), atol=1e-7)
    assert np.isclose(w_inf * a_inf, s)
    assert np.isclose(a_inf**2 - w_inf**2, a0**2 - w0**2)  # the conserved balance


def test_unbalanced_limit_saddle_manifold_and_broadcasting():
    for w0, a0 in [(0.0, 0.0), (0.3, -0.3), (-0.5, 0.5)]:
        w_inf, a_inf = dl.unbalanced_limit(1.0, w0, a0)
        assert w_inf == 0.0 and a_inf == 0.0
        assert np.allclose(_unbalanced_ode(1.0, w0, a0), 0.0, atol=1e-6)
    w, a = dl.unbalanced_limit([1.0, 4.0], [0.1, 0.2], 0.1)
    assert w.shape == (2,) and np.allclose(w * a, [1.0, 4.0])
    assert np.allclose([w[1], a[1]], _unbalanced_ode(4.0, 0.2, 0.1), atol=1e-7)
    with pytest.raises(ValueError, match="a0 and b0 must be finite"):
        dl.unbalanced_limit(1.0, np.nan, 0.1)
    with pytest.raises(ValueError, match="a0 and b0 must be finite"):
        dl.unbalanced_limit(1.0, 0.1, np.inf)
    with pytest.raises(ValueError, match="s must be positive"):
        dl.unbalanced_limit(0.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="shapes do not broadcast"):
        dl.unbalanced_limit([1.0, 2.0], [0.1, 0.2, 0.3], 0.1)


@pytest.mark.parametrize("N", [1, 2, 3, 5])
def test_deep_learning_time_against_quadrature_of_the_product_flow(N):
    s, u0, u, tau = 1.5, 0.02, 1.2, 2.0
    # τu̇ = N u^{2−2/N}(s − u): t = τ∫ du / (N u^{2−2/N}(s − u))
    ref = tau * quad(lambda v: 1.0 / (N * v ** (2 - 2 / N) * (s - v)), u0, u, epsrel=1e-12,
                     limit=200)[0]
    assert np.isclose(dl.deep_learning_time(s, u0, u, N, tau), ref, rtol=1e-8)
    assert dl.deep_learning_time(s, u0, u0, N) == 0.0


def test_deep_learning_time_broadcasts_over_depth():
    got = dl.deep_learning_time(1.0, 0.1, 0.8, np.array([1, 2, 4]))
    ref = [quad(lambda v: 1.0 / (N * v ** (2 - 2 / N) * (1.0 - v)), 0.1, 0.8)[0] for N in (1, 2, 4)]
    assert np.allclose(got, ref, rtol=1e-8)


@pytest.mark.parametrize("args, match", [
    ((1.0, 1.0, 0.5, 2), "need 0 < u0 < s and 0 < u < s"),
    ((1.0, 0.1, 1.0, 2), "need 0 < u0 < s and 0 < u < s"),
    ((1.0, 0.5, 0.2, 2), "need u ≥ u0: the product grows from u0 towards s"),
    ((1.0, 0.1, 0.5, 0), "n_weights entries must be ≥ 1"),
    ((1.0, 0.1, 0.5, 1.5), "n_weights must hold whole numbers"),
    ((1.0, 0.1, 0.5, 2, 0.0), "tau must be positive"),
    ((0.0, 0.1, 0.5, 2), "s must be positive"),
    ((1.0, 0.0, 0.5, 2), "u0 must be positive"),
    ((1.0, 0.1, -0.5, 2), "u must be positive"),
    ((1.0, 0.1, 0.5, [2, 3, 4], [1.0, 2.0]), "shapes do not broadcast together"),
])
def test_deep_learning_time_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        dl.deep_learning_time(*args)


# ---------------------------------------------------------------- theory.fusion: statistics


def test_toy_statistics_expr_from_the_mixing_model():
    S, Syx, Eyy, (r, rho) = tf.toy_statistics_expr()
    assert r.name == "r" and r.is_positive and rho.name == "rho" and rho.is_real
    # x_A = r(ρz₁ + √(1−ρ²)z₂), x_B = z₁ with z ~ N(0, I): Σ = MMᵀ
    M = sp.Matrix([[r * rho, r * sp.sqrt(1 - rho**2)], [1, 0]])
    assert sp.expand(S - M * M.T) == sp.zeros(2, 2)
    # y = x_A + x_B: E[y x_A] = r² + ρr, E[y x_B] = ρr + 1, E[y²] = r² + 2ρr + 1
    assert sp.expand(Syx - sp.Matrix([[r**2 + rho * r, rho * r + 1]])) == sp.zeros(1, 2)
    assert sp.expand(Eyy - (r**2 + 2 * rho * r + 1)) == 0
    S_num, s_num = tf.toy_statistics(1.7, -0.4)
    assert np.allclose(np.array(S.subs({r: 1.7, rho: -0.4}), dtype=float), S_num)
    assert np.allclose(np.array(Syx.subs({r: 1.7, rho: -0.4}), dtype=float).ravel(), s_num)


@pytest.mark.parametrize("r, rho, match", [
    (0.0, 0.1, "r must be positive; got 0.0"), (np.inf, 0.1, "r must be positive"),
    (-2.0, 0.1, "r must be positive"), (1.0, 1.0, r"the correlation must satisfy \|rho\| < 1"),
    (1.0, -1.0, r"\|rho\| < 1 \(else Σ is singular\); got -1.0"), (1.0, np.nan, r"\|rho\| < 1"),
])
def test_toy_statistics_errors_name_the_argument(r, rho, match):
    with pytest.raises(ValueError, match=match):
        tf.toy_statistics(r, rho)


def test_toy_unimodal_quantities_by_hand():
    r, rho = 2.0, 0.5
    S, s = tf.toy_statistics(r, rho)
    assert np.allclose(tf.unimodal_solution(S, s, 1), [1 + rho / r])
    assert np.allclose(tf.residual_drive(S, s, 1), [1 - rho**2])
    assert np.allclose(tf.misattribution(S, s, 1), [rho / r])
    e_yy = r * r + 2 * rho * r + 1
    out = tf.fixed_point_losses(S, s, 1, e_yy)
    assert set(out) == {"M0", "MA", "MB", "Mstar"}
    # y = x_A + x_B exactly: M* fits it; A alone leaves (1 − ρ²)σ_B²; B alone (1 − ρ²)σ_A²
    assert np.isclose(out["M0"], e_yy / 2) and np.isclose(out["Mstar"], 0.0, atol=1e-12)
    assert np.isclose(out["MA"], 0.5 * (1 - rho**2)) and np.isclose(out["MB"], 0.5 * (1 - rho**2) * r * r)


def test_fixed_point_losses_consistency_boundary():
    S, s = np.diag([2.0, 1.0]), np.array([2.0, 1.0])
    full = 3.0  # Σ_yx Σ⁻¹ Σ_yxᵀ
    assert tf.fixed_point_losses(S, s, 1, full)["Mstar"] == 0.0
    tf.fixed_point_losses(S, s, 1, full * (1 - 1e-13))
    for bad in (full * (1 - 1e-9), np.nan):
        with pytest.raises(ValueError, match=r"E\[y²\] must be at least Σ_yx Σ⁻¹ Σ_yxᵀ"):
            tf.fixed_point_losses(S, s, 1, bad)


@pytest.mark.parametrize("S, s, d_a, match", [
    (np.ones(2), [1.0, 1.0], 1, r"sigma must be a square matrix; got shape \(2,\)"),
    (np.ones((2, 3)), [1.0, 1.0], 1, r"sigma must be a square matrix; got shape \(2, 3\)"),
    (np.eye(2), [1.0, 1.0, 1.0], 1, "sigma_yx must have 2 entries; got 3"),
    (np.eye(2), [np.nan, 1.0], 1, "sigma and sigma_yx must be finite"),
    (np.array([[1.0, np.inf], [np.inf, 1.0]]), [1.0, 1.0], 1, "sigma and sigma_yx must be finite"),
    (np.array([[1.0, 1e-6], [0.0, 1.0]]), [1.0, 1.0], 1, "sigma must be symmetric"),
    (np.diag([1.0, 0.0]), [1.0, 1.0], 1, "sigma must be positive definite"),
    (np.diag([1.0, 0.5e-12]), [1.0, 1.0], 1, "sigma must be positive definite"),
    (np.eye(2), [1.0, 1.0], 0, r"d_a must be an integer with 1 ≤ d_a < 2 \(both modalities"),
    (np.eye(2), [1.0, 1.0], 2, r"d_a must be an integer with 1 ≤ d_a < 2.*got 2"),
    (np.eye(2), [1.0, 1.0], 1.5, r"d_a must be an integer with 1 ≤ d_a < 2.*got 1.5"),
])
def test_statistics_checks_name_the_argument(S, s, d_a, match):
    for f in (tf.unimodal_solution, tf.residual_drive, tf.misattribution, tf.late_fusion_time_ratio):
        with pytest.raises(ValueError, match=match):
            f(S, s, d_a)


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_statistics_tolerances_are_relative(scale):
    s = [1.0, 0.5]
    tf.unimodal_solution(scale * np.array([[1.0, 0.5e-12], [0.0, 1.0]]), s, 1)
    with pytest.raises(ValueError, match="symmetric"):
        tf.unimodal_solution(scale * np.array([[1.0, 1.5e-12], [0.0, 1.0]]), s, 1)
    tf.unimodal_solution(scale * np.diag([1.0, 1.5e-12]), s, 1)
    with pytest.raises(ValueError, match="positive definite"):
        tf.unimodal_solution(scale * np.diag([1.0, 0.5e-12]), s, 1)


# ---------------------------------------------------------------- theory.fusion: late fusion


def test_late_fusion_ratio_for_independent_modalities():
    # Σ = I: each modality is its own logistic with drive ‖Σ_yx‖, so t_B/t_A = ‖Σ_yxA‖/‖Σ_yxB‖
    s = np.array([3.0, 4.0, 2.0])  # A two-dimensional (norm 5), B scalar
    assert np.isclose(tf.late_fusion_time_ratio(np.eye(3), s, 2), 2.5)
    assert np.isclose(tf.late_fusion_time_ratio(np.eye(3), -s, 2), 2.5)
    # equal drives: learned together
    assert np.isclose(tf.late_fusion_time_ratio(np.eye(2), [1.0, 1.0], 1), 1.0)
    with pytest.raises(ValueError, match=r"A is not learned first: ‖Σ_yxA‖ = 1 < ‖Σ_yxB‖ = 1.001"):
        tf.late_fusion_time_ratio(np.eye(2), [1.0, 1.001], 1)
    with pytest.raises(ValueError, match="c_B = 0: B is uncorrelated with the residual"):
        tf.late_fusion_time_ratio(np.eye(2), [1.0, 0.0], 1)
    with pytest.raises(ValueError, match="multi-dimensional modality B with Σ_yxB·c_B ≤ 0"):
        tf.late_fusion_time_ratio(np.array([[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1.0]]), [3.0, 0.5, 0.2], 1)


def test_late_fusion_ratio_multidimensional_B_boxed_form():
    # Σ = I, B two-dimensional: c_B = Σ_yxB and the boxed form is ‖Σ_yxA‖/‖Σ_yxB‖
    assert np.isclose(tf.late_fusion_time_ratio(np.eye(3), [10.0, 3.0, 4.0], 1), 2.0)


@pytest.mark.parametrize("r, rho", [(1.0, 0.0), (2.0, 0.5), (3.0, -0.7)])
def test_toy_time_ratio_against_the_rho_zero_logistics_and_the_statistics(r, rho):
    got = tf.toy_time_ratio(r, rho)
    S, s = tf.toy_statistics(r, rho)
    c = (1 + rho * r) - (1 + rho / r) * rho * r  # c_B by hand
    assert np.isclose(c, 1 - rho**2)
    if rho == 0.0:
        assert np.isclose(got, r * r)  # drives r² and 1
    assert np.isclose(got, tf.late_fusion_time_ratio(S, s, 1))
    assert np.allclose(tf.toy_time_ratio([1.0, 2.0], 0.0), [1.0, 4.0])


@pytest.mark.parametrize("r, rho, match", [
    (0.9, 0.0, "need r ≥ 1 so that A is learned first"), (np.nan, 0.0, "need r ≥ 1"),
    (2.0, 1.0, r"need \|rho\| < 1"), (2.0, np.inf, r"need \|rho\| < 1"),
])
def test_toy_time_ratio_errors(r, rho, match):
    with pytest.raises(ValueError, match=match):
        tf.toy_time_ratio(r, rho)


def test_logistic_weight_expr_solves_its_equation():
    t, w_star, w0, drive, tau = sp.symbols("t w_star w0 drive tau", positive=True)
    W = tf.logistic_weight_expr(t, w_star, w0, drive, tau)
    # τẆ = 2W(Σ_yx − σ²W) with σ² = Σ_yx/W*
    assert sp.cancel(tau * sp.diff(W, t) - 2 * W * (drive - drive / w_star * W)) == 0
    assert sp.cancel(W.subs(t, 0) - w0) == 0
    W1 = tf.logistic_weight_expr(t, w_star, w0, drive)  # default τ = 1
    assert sp.cancel(sp.diff(W1, t) - 2 * W1 * (drive - drive / w_star * W1)) == 0
    num = float(tf.logistic_weight_expr(sp.Float(0.8), 2.0, 0.1, 1.5, 2.0))
    assert np.isclose(num, tf.logistic_weight(0.8, 2.0, 0.1, 1.5, 2.0))


def _logistic_ode(t, w_star, w0, drive, tau=1.0):
    t = np.asarray(t, float)
    order = np.argsort(np.abs(t))
    sol = solve_ivp(lambda _t, w: 2 * w * (drive - drive / w_star * w) / tau, (0.0, t[order][-1]),
                    [w0], t_eval=t[order], method="DOP853", rtol=1e-12, atol=1e-14 * w0)
    out = np.empty(len(t))
    out[order] = sol.y[0]
    return out


@pytest.mark.parametrize("w_star, w0, t", [
    (1.0, 0.01, [0.0, 0.5, 2.0, 6.0]), (1.0, 0.01, [-4.0, -1.0, -0.1]),
    (2.0, 3.0, [0.0, 0.2, 1.0]), (2.0, 3.0, [-0.05, -0.01]),
    (1.0, 30.0, [0.0, 1e-3, 0.1, 2.0]),
])
def test_logistic_weight_against_the_ode(w_star, w0, t):
    for tau in (1.0, 0.5):
        tt = np.array(t) * tau
        assert np.allclose(tf.logistic_weight(tt, w_star, w0, 1.3, tau), _logistic_ode(tt, w_star, w0, 1.3, tau),
                           rtol=1e-9)


def test_logistic_weight_far_above_keeps_precision_and_fixed_point():
    t = np.array([1e-12, 1e-10, 1e-8])
    assert np.allclose(tf.logistic_weight(t, 1.0, 1e10, 1.0), _logistic_ode(t, 1.0, 1e10, 1.0), rtol=1e-10)
    assert np.all(tf.logistic_weight([-1e4, 0.0, 1e4], 0.7, 0.7, 2.0) == 0.7)
    # the pole from w0 = 2w*: t* = (τ/2Σ_yx) ln(1 − w*/w0)
    t_star = 2.0 / (2 * 1.5) * np.log(0.5)
    assert tf.logistic_weight(0.999 * t_star, 1.0, 2.0, 1.5, 2.0) > 100
    for t_bad in (t_star, 2 * t_star):
        with pytest.raises(ValueError, match="t is before the pole: from w0 > w_star"):
            tf.logistic_weight(t_bad, 1.0, 2.0, 1.5, 2.0)


@pytest.mark.parametrize("args, match", [
    ((1.0, 0.0, 0.1, 1.0), "w_star must be positive"), ((1.0, 1.0, -0.1, 1.0), "w0 must be positive"),
    ((1.0, 1.0, 0.1, 0.0), "drive must be positive"), ((1.0, 1.0, 0.1, 1.0, 0.0), "tau must be positive"),
    ((1.0, np.inf, 0.1, 1.0), "w_star must be positive"), ((np.nan, 1.0, 0.1, 1.0), "t must be finite"),
    (([0.0, 1.0], [1.0, 1.0, 1.0], 0.1, 1.0), r"shapes do not broadcast together: t \(2,\), w_star \(3,\)"),
])
def test_logistic_weight_errors(args, match):
    with pytest.raises(ValueError, match=match):
        tf.logistic_weight(*args)


def test_logistic_half_time():
    for w_star, w0, drive, tau in [(1.0, 1e-3, 2.0, 1.0), (2.0, 0.9, 0.5, 3.0)]:
        th = tf.logistic_half_time(w_star, w0, drive, tau)
        assert np.isclose(_logistic_ode([th], w_star, w0, drive, tau)[0], w_star / 2, rtol=1e-8)
    with pytest.raises(ValueError, match="need positive arguments and 0 < w0 < w_star/2"):
        tf.logistic_half_time(1.0, 0.5, 1.0)
    for i, name in enumerate(("w_star", "w0", "drive", "tau")):
        args = [1.0, 0.1, 1.0, 1.0]
        args[i] = 0.0
        with pytest.raises(ValueError, match=f"{name} must be positive"):
            tf.logistic_half_time(*args)
        args[i] = [0.1, 0.2]
        with pytest.raises(ValueError, match=f"{name} must be a scalar"):
            tf.logistic_half_time(*args)


def test_preference_lines_against_the_drives():
    prio, contrib = tf.preference_lines(2.0, 3.0)
    assert np.isclose(prio, 2.25) and np.isclose(contrib, 1.5)
    # ρ = 0: A is learned first iff its drive w_A σ_A² exceeds w_B σ_B²; A contributes more
    # output variance iff w_A² σ_A² > w_B² σ_B²
    for ratio in (prio * 0.99, prio * 1.01, contrib * 0.99, contrib * 1.01):
        w_a, w_b = ratio, 1.0
        assert (w_a * 4.0 > w_b * 9.0) == (ratio > prio)
        assert (w_a**2 * 4.0 > w_b**2 * 9.0) == (ratio > contrib)
    for args, name in (((0.0, 1.0), "sigma_a"), ((1.0, -1.0), "sigma_b")):
        with pytest.raises(ValueError, match=f"{name} must be positive"):
            tf.preference_lines(*args)


# ---------------------------------------------------------------- theory.fusion: deep fusion


@pytest.mark.parametrize("Lf", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [0.6, -0.3])
def test_early_branch_size_solves_its_ode(Lf, k):
    u0 = 0.05
    u_a = np.array([0.05, 0.1, 0.3, 0.8])
    if Lf > 2 and k < 0:
        u_a = u_a[:2]  # u_B^{2−L_f} must stay positive
    sol = solve_ivp(lambda ua, ub: k * (ub / ua) ** (Lf - 1), (u0, u_a[-1]), [u0], t_eval=u_a,
                    method="DOP853", rtol=1e-12, atol=1e-14)
    assert np.allclose(tf.early_branch_size(u_a, u0, k, Lf), sol.y[0], rtol=1e-9)


@pytest.mark.parametrize("args, match", [
    ((0.0, 0.1, 0.5, 2), "u_a must be positive"), ((0.2, 0.0, 0.5, 2), "u0 must be positive"),
    ((0.2, [0.1, 0.2], 0.5, 2), "u0 must be a scalar"), ((0.2, 0.1, np.nan, 2), "k must be finite"),
    ((0.2, 0.1, 0.5, 0), "fusion_layer must be ≥ 1"), ((0.2, 0.1, 0.5, 1.5), "fusion_layer must be an"),
])
def test_early_branch_size_errors(args, match):
    with pytest.raises(ValueError, match=match):
        tf.early_branch_size(*args)


def _fusion_times_by_quadrature(L, Lf, sa, sb, c, w_uni, u0, tau):
    """The proposition's integrals in the original variable u (no logarithms, no splitting)."""
    k = np.sign(c) * sb / abs(sa)
    if Lf == 1:
        ub = lambda u: u0 + k * (u - u0)
    elif Lf == 2:
        ub = lambda u: u0 * (u / u0) ** k
    else:
        p = 2.0 - Lf
        ub = lambda u: (u0**p + k * (u**p - u0**p)) ** (1 / p)
    f = lambda u: 1.0 / (abs(sa) * u ** (Lf - 1) * (u * u + ub(u) ** 2) ** ((L - Lf) / 2))
    pts = [u0 * 10**j for j in range(1, 8) if u0 * 10**j < 1]
    t_a = tau * quad(f, u0, 1.0, points=pts or None, limit=400, epsrel=1e-12)[0]
    if Lf == 1:
        lag = 0.0
    elif Lf == 2:
        lag = tau * (1 - k) * np.log(1 / u0) / (abs(c) * w_uni ** (1 - 2 / L))
    else:
        lag = tau * u0 ** (2 - Lf) * (1 - k) / ((Lf - 2) * abs(c) * w_uni ** (1 - Lf / L))
    return t_a, lag


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("r, rho", [(2.0, 0.3), (2.0, -0.8), (1.5, 0.0)])
def test_fusion_times_against_quadrature_in_u(L, r, rho):
    S, s = tf.toy_statistics(r, rho)
    sa, sb = s
    w_uni = abs(sa) / S[0, 0]
    c = sb - sa / S[0, 0] * S[0, 1]
    for Lf in range(1, L + 1):
        for u0, tau in ((0.05, 1.0), (0.01, 2.0)):
            got = tf.fusion_times(L, Lf, S, s, 1, u0, tau=tau)
            ref = _fusion_times_by_quadrature(L, Lf, sa, sb, c, w_uni, u0, tau)
            assert np.allclose(got, ref, rtol=1e-7, atol=0), (Lf, u0)
            assert np.isclose(tf.fusion_time_ratio(L, Lf, S, s, 1, u0), 1 + ref[1] / ref[0], rtol=1e-7)


def test_fusion_times_are_invariant_under_sign_flips():
    S, s = tf.toy_statistics(2.0, 0.4)
    ref = [tf.fusion_times(3, lf, S, s, 1, 0.05) for lf in (1, 2, 3)]
    D = np.diag([1.0, -1.0])
    for S2, s2 in ((S, -s), (D @ S @ D, D @ s), (-D @ S @ -D, -D @ s)):
        for lf, want in zip((1, 2, 3), ref):
            assert np.allclose(tf.fusion_times(3, lf, S2, s2, 1, 0.05), want, rtol=1e-12)
            assert np.isclose(tf.fusion_time_ratio(3, lf, S2, s2, 1, 0.05), 1 + want[1] / want[0])


def test_late_deep_fusion_ratio_closed_form():
    # L_f = L ≥ 3: 1 + (1 − k)Σ_yxA/(c_B(1 − u0^{L−2}))
    r, rho, u0 = 2.0, 0.3, 0.1
    S, s = tf.toy_statistics(r, rho)
    k, c = s[1] / s[0], 1 - rho**2
    for L in (3, 4):
        assert np.isclose(tf.fusion_time_ratio(L, L, S, s, 1, u0), 1 + (1 - k) * s[0] / (c * (1 - u0 ** (L - 2))),
                          rtol=1e-8)
    # equal drives: no unimodal phase at any fusion layer
    for lf in (1, 2, 3):
        assert np.isclose(tf.fusion_time_ratio(3, lf, np.eye(2), [1.0, 1.0], 1, 0.1), 1.0)
        assert tf.fusion_times(3, lf, np.eye(2), [1.0, 1.0], 1, 0.1)[1] == 0.0


def test_fusion_times_tiny_u0():
    S, s = tf.toy_statistics(2.0, 0.3)
    with pytest.raises(ValueError, match="t_A is not representable as a finite float.*fusion_time_ratio still"):
        tf.fusion_times(4, 4, S, s, 1, 1e-300)
    assert np.isclose(tf.fusion_time_ratio(4, 4, S, s, 1, 1e-300), tf.toy_time_ratio(2.0, 0.3))
    assert np.isclose(tf.fusion_time_ratio(3, 2, S, s, 1, 1e-300), 1.0, atol=1e-2)
    # ln t_A stays exact: t_A u0^{L−2} tends to a constant
    a = tf.fusion_times(3, 3, S, s, 1, 1e-8)[0] * 1e-8
    b = tf.fusion_times(3, 3, S, s, 1, 1e-10)[0] * 1e-10
    assert np.isclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("args, match", [
    ((4, 2, np.eye(3), np.ones(3), 1, 0.1), r"derived for scalar modalities \(d_a = d_b = 1\)"),
    ((1, 1, None, None, 1, 0.1), "depth must be ≥ 2"),
    ((4, 0, None, None, 1, 0.1), r"fusion_layer must be an integer in \[1, depth\]; got 0"),
    ((4, 5, None, None, 1, 0.1), r"fusion_layer must be an integer in \[1, depth\]; got 5"),
    ((4, 2.5, None, None, 1, 0.1), "fusion_layer must be an integer"),
    ((2.5, 2, None, None, 1, 0.1), "depth must be an integer"),
    ((4, 2, None, None, 1, 0.0), r"u0 must lie in \(0, 1\) \(the theory integrates u from u0 to 1\)"),
    ((4, 2, None, None, 1, 1.0), r"u0 must lie in \(0, 1\)"),
    ((4, 2, None, None, 1, np.nan), "u0 must be finite"),
    ((4, 2, np.eye(2), [0.5, 1.0], 1, 0.1), r"A is not learned first: \|Σ_yxA\| = 0.5 < \|Σ_yxB\| = 1"),
    ((4, 2, np.eye(2), [-0.5, 1.0], 1, 0.1), "A is not learned first"),
    ((4, 2, np.eye(2), [1.0, 0.0], 1, 0.1), "c_B = 0: B is never learned"),
    ((4, 2, np.eye(2), [1.0, 1.0], 2, 0.1), "d_a must be an integer with 1 ≤ d_a < 2"),
])
def test_deep_fusion_errors_name_the_argument(args, match):
    S, s = tf.toy_statistics(2.0, 0.3)
    args = list(args)
    if args[2] is None:
        args[2], args[3] = S, s
    for f in (tf.fusion_times, tf.fusion_time_ratio):
        with pytest.raises(ValueError, match=match):
            f(*args)
    with pytest.raises(ValueError, match="tau must be positive"):
        tf.fusion_times(3, 2, S, s, 1, 0.1, tau=0.0)


def test_aligned_flow_depth_one_is_linear_regression():
    # one layer: τẆ = Σ_yx − ΣW, W(t) = w* + e^{−Σt/τ}(W(0) − w*)
    S, s = tf.toy_statistics(1.5, 0.4)
    t = np.array([0.0, 0.5, 0.5, 2.0, 7.0])  # a repeated time is recorded twice
    w_star = np.linalg.solve(S, s)
    lam, Q = np.linalg.eigh(S)
    for tau in (1.0, 2.0):
        ref = [w_star + Q @ (np.exp(-lam * ti / tau) * (Q.T @ (np.full(2, 0.1) - w_star))) for ti in t]
        assert np.allclose(tf.aligned_flow(t, 1, 1, S, s, 0.1, tau=tau), ref, atol=1e-9)


def test_aligned_flow_tau_rescales_time():
    S, s = tf.toy_statistics(2.0, -0.3)
    t = np.linspace(0.0, 6.0, 7)
    a = tf.aligned_flow(t, 3, 2, S, s, 0.2)
    b = tf.aligned_flow(3.0 * t, 3, 2, S, s, 0.2, tau=3.0)
    assert a.shape == (7, 2) and np.allclose(a, b, atol=1e-9)
    assert np.allclose(a[0], [0.2**2 * np.sqrt(2) * 0.2] * 2)
    # rtol reaches the integrator: a loose tolerance gives a visibly coarser, still close, path
    err = np.abs(tf.aligned_flow(t, 3, 2, S, s, 0.2, rtol=1e-4) - a).max()
    assert 1e-6 < err < 0.02


@pytest.mark.parametrize("kw, match", [
    (dict(sigma=np.eye(3), sigma_yx=np.ones(3)), r"aligned_flow is for scalar modalities \(D = 2\)"),
    (dict(depth=0), "depth must be ≥ 1"),
    (dict(fusion_layer=4), "need 1 ≤ fusion_layer ≤ depth"),
    (dict(fusion_layer=0), "need 1 ≤ fusion_layer ≤ depth"),
    (dict(u0=0.0), "u0 must be positive"),
    (dict(tau=-1.0), "tau must be positive"),
    (dict(rtol=0.0), "rtol must be positive"),
    (dict(t=[1.0, 0.5]), "t must be non-decreasing"),
    (dict(t=[-1.0, 0.5]), "t must be non-negative"),
    (dict(t=[[0.0, 1.0]]), r"t must be 1-D; got shape \(1, 2\)"),
    (dict(t=[]), "t must not be empty"),
])
def test_aligned_flow_errors(kw, match):
    S, s = tf.toy_statistics(2.0, 0.3)
    args = dict(t=[0.0, 1.0], depth=3, fusion_layer=2, sigma=S, sigma_yx=s, u0=0.1)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        tf.aligned_flow(**args)


def test_fusion_samples_store_floats_and_accept_one_sample():
    d = fs.FusionSamples([[1, 2]], [3])
    assert d.X.dtype == float and d.y.dtype == float and d.X.shape == (1, 2) and d.y.shape == (1,)
    assert np.allclose(d.moments().sigma, [[[1.0, 2.0], [2.0, 4.0]]])


def test_single_layer_fusion_net_is_a_linear_model_on_samples():
    net = fs.FusionNet(1, 2, 1, 1, 3, slope=0.0)  # one layer: no activation at all
    W = np.array([[[0.5, -1.0, 2.0]], [[1.0, 0.0, -0.5]]])
    X = np.random.default_rng(2).standard_normal((6, 3))
    assert np.allclose(net.output({"W1": W}, X), np.stack([X @ W[0, 0], X @ W[1, 0]]))


def test_relu_units_with_zero_preactivation_pass_no_gradient():
    # the authors' (PyTorch) convention: ReLU'(0) = 0, so a zero first layer stays dead
    net = fs.FusionNet(1, 1, 2, 1, 2, slope=0.0)
    p = {"W1": np.zeros((1, 4, 2)), "W2": np.ones((1, 1, 4))}
    d = fs.toy_samples(1.5, 0.2, 20, seed=0)
    g = net.grad(p, d)
    assert np.all(g["W1"] == 0.0) and np.all(g["W2"] == 0.0)
    leaky = fs.FusionNet(1, 1, 2, 1, 2, slope=0.25)
    g = leaky.grad(p, d)["W1"]
    # at z = 0 the leaky unit passes the fraction `slope` of the linear network's gradient
    lin = fs.FusionNet(1, 1, 2, 1, 2).grad(p, d)["W1"]
    assert np.allclose(g, 0.25 * lin) and np.abs(lin).max() > 0.1
