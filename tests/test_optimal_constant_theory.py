"""theory.optimal_constant: independent recomputation (SVD, minimisation, solve_ivp), properties, error paths."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

from theorylib.theory import deep_linear as dl
from theorylib.theory import optimal_constant as oc


def tree(root=True):
    """The canonical 8-item binary-tree labels, built here independently of theorylib.sim."""
    rows = []
    for i in range(8):
        r = [1.0] if root else []
        rows.append(np.concatenate([r, np.eye(2)[i // 4], np.eye(4)[i // 2], np.eye(8)[i]]))
    return np.array(rows)


# ------------------------------------------------------------------ OCS and its loss

def test_ocs_is_the_minimiser_of_the_squared_loss():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((13, 4))
    res = minimize(lambda c: 0.5 * np.mean(np.sum((Y - c) ** 2, axis=1)), np.zeros(4), method="BFGS",
                   options={"gtol": 1e-13})
    np.testing.assert_allclose(oc.ocs(Y), res.x, atol=1e-7)
    assert abs(oc.ocs_loss(Y) - res.fun) < 1e-10


def test_canonical_tree_numbers():
    Y = tree()
    assert np.linalg.norm(oc.ocs(Y)) ** 2 == pytest.approx(1.875, abs=1e-14)
    assert oc.ocs_loss(Y) == pytest.approx(17 / 16, abs=1e-14)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.integers(1, 5), st.integers(0, 10_000))
def test_ocs_loss_is_half_trace_of_covariance(P, N, seed):
    Y = np.random.default_rng(seed).standard_normal((P, N))
    cov = np.cov(Y.T, bias=True).reshape(N, N)
    assert abs(oc.ocs_loss(Y) - 0.5 * np.trace(cov)) < 1e-10


def test_cross_entropy_ocs_minimises_over_logits():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=40)
    Y = np.eye(4)[labels]
    ce = lambda z: -np.mean(np.sum(Y * (z - np.log(np.sum(np.exp(z)))), axis=1))
    res = minimize(ce, np.zeros(4), method="BFGS", options={"gtol": 1e-12})
    p = np.exp(res.x) / np.exp(res.x).sum()
    np.testing.assert_allclose(oc.ocs_cross_entropy(Y), p, atol=1e-6)
    assert abs(oc.ocs_cross_entropy_loss(Y) - res.fun) < 1e-10


def test_cross_entropy_rejects_non_distributions():
    with pytest.raises(ValueError, match="probability"):
        oc.ocs_cross_entropy(np.array([[0.5, 0.6]]))


# ------------------------------------------------------------------ bias trajectory

def test_bias_trajectory_solves_the_ode():
    ybar, b0, tau = np.array([1.0, 0.25, -0.3]), np.array([0.2, -1.0, 0.0]), 0.7
    t = np.linspace(0, 5, 41)
    sol = solve_ivp(lambda _t, b: (ybar - b) / tau, (0, 5), b0, t_eval=t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(oc.bias_trajectory(t, ybar, b0, tau), sol.y.T, atol=1e-10)


def test_bias_trajectory_shapes_and_broadcast():
    out = oc.bias_trajectory(np.linspace(0, 1, 5), np.ones(3), 0.0)
    assert out.shape == (5, 3)
    assert oc.bias_trajectory(0.0, 2.0, 0.5).shape == ()
    np.testing.assert_allclose(oc.bias_trajectory(0.0, np.ones(3), 0.5), 0.5)


@pytest.mark.parametrize("kwargs, name", [
    ({"t": [np.nan], "ybar": [1.0], "b0": 0.0}, "t"),
    ({"t": [-1.0], "ybar": [1.0], "b0": 0.0}, "t"),
    ({"t": [1.0], "ybar": [np.inf], "b0": 0.0}, "ybar"),
    ({"t": [1.0], "ybar": [1.0, 2.0], "b0": [0.0, 1.0, 2.0]}, "b0"),
    ({"t": [1.0], "ybar": [1.0], "b0": 0.0, "tau": -1.0}, "tau"),
    ({"t": [1.0], "ybar": [1.0], "b0": 0.0, "tau": 0.0}, "tau"),
])
def test_bias_trajectory_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        oc.bias_trajectory(**kwargs)


def test_ocs_first_bound_is_the_half_time_crossing():
    for s in (0.3, 1.0, 2.5):
        u0 = oc.ocs_first_u0_bound(s)
        assert abs(dl.half_learning_time(s, u0) - np.log(2)) < 1e-10
        assert dl.half_learning_time(s, 0.5 * u0) > np.log(2) > dl.half_learning_time(s, min(2 * u0, 0.4 * s))
    with pytest.raises(ValueError, match="s"):
        oc.ocs_first_u0_bound(-1.0)


# ------------------------------------------------------------------ residual equation

def test_residual_rate_against_finite_differences():
    """τṙ from a finite difference of m = W2b1 + b2 along the flow written out by hand (Σ_xx general)."""
    rng = np.random.default_rng(2)
    n_in, n_h, n_out = 3, 4, 2
    W1, W2 = rng.standard_normal((n_h, n_in)), rng.standard_normal((n_out, n_h))
    b1, b2 = rng.standard_normal(n_h), rng.standard_normal(n_out)
    A = rng.standard_normal((n_in, n_in))
    Sxx, Syx, ybar = A @ A.T, rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)

    def flow(W1, W2, b1, b2):  # centred inputs: R = Σyx − WΣxx, r = ȳ − m
        R = Syx - W2 @ W1 @ Sxx
        r = ybar - W2 @ b1 - b2
        return W2.T @ R, R @ W1.T + np.outer(r, b1), W2.T @ r, r

    h = 1e-6
    f = flow(W1, W2, b1, b2)
    m = lambda s: (W2 + s * f[1]) @ (b1 + s * f[2]) + b2 + s * f[3]
    r_dot = -(m(h) - m(-h)) / (2 * h)
    r = ybar - W2 @ b1 - b2
    np.testing.assert_allclose(oc.residual_rate(r, W1, W2, b1, Syx, Sxx), r_dot, atol=1e-7)


def test_residual_rate_shape_errors():
    z = np.zeros
    with pytest.raises(ValueError, match="W2"):
        oc.residual_rate(z(2), z((4, 3)), z((2, 5)), z(4), z((2, 3)), z((3, 3)))
    with pytest.raises(ValueError, match="sigma_xx"):
        oc.residual_rate(z(2), z((4, 3)), z((2, 4)), z(4), z((2, 3)), z((2, 2)))
    with pytest.raises(ValueError, match="b1"):
        oc.residual_rate(z(2), z((4, 3)), z((2, 4)), [np.nan] * 4, z((2, 3)), z((3, 3)))


# ------------------------------------------------------------------ singular-mode views of the OCS

def test_ocs_mode_strength_matches_numpy_svd():
    Y = tree()
    u, s, vt = np.linalg.svd(Y)
    assert abs(oc.ocs_mode_strength(Y) - s[0]) < 1e-10
    assert abs(oc.ocs_mode_strength(Y) - np.sqrt(8 * 1.875)) < 1e-12
    ybar = Y.mean(0)
    assert abs(abs(vt[0] @ ybar) / np.linalg.norm(ybar) - 1) < 1e-10
    assert oc.ocs_learned_first(Y) is True


def test_ocs_mode_strength_of_any_balanced_label_matrix():
    """Permuting items and adding a constant unit keeps every item's overlap y·ȳ equal."""
    rng = np.random.default_rng(3)
    Y = np.hstack([tree()[rng.permutation(8)], np.full((8, 1), 0.3)])
    s = np.linalg.svd(Y, compute_uv=False)
    sig0 = oc.ocs_mode_strength(Y)
    assert np.min(np.abs(s - sig0)) < 1e-10


def test_tie_without_root_raises():
    with pytest.raises(ValueError, match="tie"):
        oc.ocs_learned_first(tree(root=False))


def test_learned_first_false_when_centred_mode_dominates():
    # ȳ = (1, 0), every item overlaps ȳ by 1: σ0 = √2 < σ1(Y_c) = 2√2
    Y = np.array([[1.0, 2.0], [1.0, -2.0]])
    assert oc.ocs_mode_strength(Y) == pytest.approx(np.sqrt(2), abs=1e-12)
    assert oc.ocs_learned_first(Y) is False
    # one-hot class labels always tie: Y = I has every singular value 1
    with pytest.raises(ValueError, match="tie"):
        oc.ocs_learned_first(np.eye(4))


def test_unbalanced_labels_raise():
    Y = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="singular direction"):
        oc.ocs_mode_strength(Y)
    with pytest.raises(ValueError, match="zero mean"):
        oc.ocs_mode_strength(np.array([[1.0], [-1.0]]))


@pytest.mark.parametrize("Y", [np.ones(3), np.ones((0, 2)), np.array([[np.nan, 1.0]]), "abc"])
def test_label_matrix_bad_input(Y):
    with pytest.raises(ValueError, match="Y"):
        oc.ocs(Y)


def test_hidden_bias_mode_strength():
    Y = tree()
    # centred whitened inputs built here with an SVD (not sim's QR)
    C = np.eye(8) - 1 / 8
    q = np.linalg.svd(C)[0][:, :7]
    X = np.sqrt(8) * q
    Syx = Y.T @ X / 8
    s_aug = np.linalg.svd(np.hstack([Syx, Y.mean(0)[:, None]]), compute_uv=False)
    s0 = oc.hidden_bias_mode_strength(Syx, Y.mean(0))
    assert abs(s0 - s_aug[0]) < 1e-10 and abs(s0 - np.sqrt(1.875)) < 1e-12
    with pytest.raises(ValueError, match="orthogonal"):
        oc.hidden_bias_mode_strength(Syx + 0.1, Y.mean(0))
    with pytest.raises(ValueError, match="rows"):
        oc.hidden_bias_mode_strength(Syx, np.ones(3))


# ------------------------------------------------------------------ mean-driven OCS

def test_mean_output_trajectory_against_solve_ivp():
    """Integrate the balanced two-factor mode a = b with τȧ = a(s − λa²) and read o = ‖x̄‖a²."""
    yn, xn, u0, tau = 1.3, 0.7, 1e-3, 1.5
    s, lam = yn * xn, xn**2
    t = np.linspace(0, 30, 61)
    sol = solve_ivp(lambda _t, a: a * (s - lam * a**2) / tau, (0, 30), [np.sqrt(u0)], t_eval=t,
                    rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(oc.mean_output_trajectory(t, yn, xn, u0, tau), xn * sol.y[0] ** 2, atol=1e-9)
    assert oc.mean_output_trajectory(1e4, yn, xn, u0, tau) == pytest.approx(yn, abs=1e-12)


@pytest.mark.parametrize("args, name", [((1.0, -1.0, 1.0, 1e-3), "ybar_norm"), ((1.0, 1.0, 0.0, 1e-3), "xbar_norm"),
                                        ((1.0, 1.0, 1.0, np.nan), "u0"), ((np.nan, 1.0, 1.0, 1e-3), "t")])
def test_mean_output_bad_input(args, name):
    with pytest.raises(ValueError, match=name):
        oc.mean_output_trajectory(*args)


# ------------------------------------------------------------------ TNR / TPR

def test_rates_tie_rule_and_counts():
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    Yh = np.array([[0.5, 0.5], [0.7, 0.2]])  # 0.5 is a negative: TN at (0,1), FN at (0,0); FP at (1,0), FN at (1,1)
    tnr, tpr = oc.rates(Yh, Y, 0.5)
    assert tnr == 0.5 and tpr == 0.0
    tnr, tpr = oc.rates(np.stack([Y, 1 - Y]), Y)
    np.testing.assert_array_equal(tnr, [1.0, 0.0])
    np.testing.assert_array_equal(tpr, [1.0, 0.0])


def test_rates_bad_input():
    Y = np.array([[1.0, 0.0]])
    with pytest.raises(ValueError, match="binary"):
        oc.rates(Y, np.array([[0.5, 0.0]]))
    with pytest.raises(ValueError, match="Y_hat"):
        oc.rates(np.zeros((2, 3)), Y)
    with pytest.raises(ValueError, match="positive and one negative"):
        oc.rates(np.ones((1, 2)), np.ones((1, 2)))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.05, 0.95))
def test_ocs_rates_equal_rates_of_constant_output(seed, theta):
    rng = np.random.default_rng(seed)
    Y = (rng.random((9, 5)) < 0.4).astype(float)
    Y[0, 0], Y[0, 1] = 1.0, 0.0  # both classes present
    const = np.broadcast_to(Y.mean(0), Y.shape)
    np.testing.assert_allclose(oc.ocs_rates(Y, theta), oc.rates(const, Y, theta), atol=1e-14)


def test_tree_ocs_rates():
    assert oc.ocs_rates(tree(), 0.5) == (1.0, 0.25)
    tnr, tpr = oc.ocs_rates(tree(), 0.45)  # the level-1 units (ȳ = ½) turn positive
    assert tnr == pytest.approx(80 / 88) and tpr == pytest.approx(0.5)


def test_decoupled_outputs_limits():
    Y = tree()
    out = oc.decoupled_outputs([0.0, 200.0], Y, 0.0, 1e-6)
    np.testing.assert_allclose(out[0], 0.0, atol=1e-5)  # everything starts (almost) at zero
    np.testing.assert_allclose(out[1], Y, atol=1e-10)  # and ends at the targets
    # once the bias is learned and before any mode, every item sees ȳ
    mid = oc.decoupled_outputs([12.0], Y, 0.0, 1e-30)[0]
    np.testing.assert_allclose(mid, np.broadcast_to(Y.mean(0), Y.shape), atol=1e-4)


def test_output_bias_loss_matches_direct_loss_of_decoupled_outputs():
    Y = tree()
    t = np.linspace(0, 15, 16)
    out = oc.decoupled_outputs(t, Y, 0.0, 1e-3)
    direct = 0.5 * np.mean(np.sum((Y - out) ** 2, axis=2), axis=1)
    np.testing.assert_allclose(oc.output_bias_loss(t, Y, 0.0, 1e-3), direct, atol=1e-12)
    assert oc.output_bias_loss([0.0], Y, 0.0, 1e-12)[0] == pytest.approx(0.5 * np.mean(np.sum(Y**2, 1)), abs=1e-10)
