"""Tests of theorylib.theory.rich_lazy (Chapter 2): known answers, independent computations
(solve_ivp written here, independent of theorylib.sim), property tests and error paths."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.integrate import solve_ivp

from theorylib.theory import rich_lazy as rl

TOL = 1e-4  # the agreement target; measured gaps are ~1e-9


def _flow(t, a0, w0, beta_star, eta_a=1.0, eta_w=1.0, X=None, y=None):
    """Independent gradient flow of ½‖Xβ − y‖² (whitened by default) with plain numpy + solve_ivp."""
    if X is None:
        C, b = np.eye(len(w0)), np.asarray(beta_star, float)
    else:
        C, b = X.T @ X, X.T @ y

    def rhs(_t, z):
        a, w = z[0], z[1:]
        g = C @ (a * w) - b
        return np.r_[-eta_a * (w @ g), -eta_w * a * g]

    sol = solve_ivp(rhs, (0, t[-1]), np.r_[a0, w0], t_eval=t, rtol=1e-11, atol=1e-12, method="DOP853")
    return sol.y[0], sol.y[1:].T


def test_conserved_quantity_known_values():
    assert rl.conserved_quantity(2.0, np.array([1.0, 1.0])) == pytest.approx(2.0)
    assert rl.conserved_quantity(1.0, np.array([1.0, 0.0]), eta_a=3.0, eta_w=2.0) == pytest.approx(-1.0)
    a = np.array([1.0, 2.0])
    w = np.array([[0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(rl.conserved_quantity(a, w), [0.0, 2.0])


@pytest.mark.parametrize("delta", [-4.0, -1.0, 0.0, 0.3, 4.0])
def test_single_neuron_matches_independent_flow_fig2(delta):
    a0, w0 = rl.split_init(np.array([-1.0, 0.0]), delta)
    t = np.linspace(0, 20, 81)
    a_th, w_th = rl.single_neuron(t, a0, w0, np.array([0.0, 1.0]))
    a_num, w_num = _flow(t, a0, w0, np.array([0.0, 1.0]))
    assert np.abs(a_th - a_num).max() < TOL
    assert np.abs(w_th - w_num).max() < TOL
    assert a_th.shape == t.shape and w_th.shape == t.shape + (2,)


def test_riccati_blowup_case_a_changes_sign():
    # δ < 0 and w anti-aligned with β*: 2ν₀ + δ < −Ω, so ν blows up and a crosses zero
    bs = np.array([1.0, 0.0])
    a0, w0 = 0.3, np.array([-1.5, 0.2])
    delta = rl.conserved_quantity(a0, w0)
    nu0 = w0 @ bs / a0
    tb = rl.riccati_blowup_time(delta, 1.0, nu0)
    assert np.isfinite(tb) and tb > 0
    t = np.linspace(0, 10, 201)
    a_th, w_th = rl.single_neuron(t, a0, w0, bs)
    a_num, w_num = _flow(t, a0, w0, bs)
    assert np.abs(a_th - a_num).max() < TOL and np.abs(w_th - w_num).max() < TOL
    assert a_th[-1] < 0 < a_th[0]
    # a crosses zero at the blow-up time of ν
    i = np.argmax(a_th < 0)
    assert t[i - 1] <= tb <= t[i]
    # ν from riccati_nu matches η_a w·β*/a away from the pole
    nu = rl.riccati_nu(t, delta, 1.0, nu0)
    far = np.abs(t - tb) > 0.2
    np.testing.assert_allclose(nu[far], (w_th @ bs / a_th)[far], rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(a0=st.floats(0.05, 2.0) | st.floats(-2.0, -0.05),
       w0=st.lists(st.floats(-2, 2), min_size=3, max_size=3),
       bs=st.lists(st.floats(-2, 2), min_size=3, max_size=3),
       ea=st.floats(0.2, 3.0), ew=st.floats(0.2, 3.0))
def test_single_neuron_property_random(a0, w0, bs, ea, ew):
    w0, bs = np.array(w0), np.array(bs)
    if np.linalg.norm(bs) < 1e-2:
        bs = bs + np.array([0.5, 0.0, 0.0])
    t = np.linspace(0, 4, 21)
    a_th, w_th = rl.single_neuron(t, a0, w0, bs, ea, ew)
    a_num, w_num = _flow(t, a0, w0, bs, ea, ew)
    scale = 1 + np.abs(a_num).max() + np.abs(w_num).max()
    assert np.abs(a_th - a_num).max() < TOL * scale
    assert np.abs(w_th - w_num).max() < TOL * scale
    # conservation along the closed form
    d = rl.conserved_quantity(a_th, w_th, ea, ew)
    np.testing.assert_allclose(d, d[0], atol=1e-8 * (1 + abs(d[0])))


def test_long_time_no_overflow_and_final_readout():
    bs = np.array([0.0, 3.0])
    for delta in (-30.0, 0.0, 30.0):
        a0, w0 = rl.split_init(np.array([0.2, 0.1]), delta)
        a, w = rl.single_neuron(np.array([0.0, 1e3, 1e6]), a0, w0, bs)
        assert np.all(np.isfinite(a)) and np.all(np.isfinite(w))
        assert abs(a[-1]) == pytest.approx(rl.final_readout(delta, 3.0), rel=1e-9)
        np.testing.assert_allclose(a[-1] * w[-1], bs, atol=1e-9)


def test_final_readout_known_answers():
    assert rl.final_readout(0.0, 1.0) == pytest.approx(1.0)  # balanced: a² = s
    assert rl.final_readout(3.0, 2.0) == pytest.approx(2.0)  # (3 + 5)/2 = 4
    # δ = η_w a⁴ ... check the quartic root with rates
    a = rl.final_readout(-1.0, 1.5, eta_a=2.0, eta_w=0.5)
    assert 0.5 * a**4 - (-1.0) * a**2 - 2.0 * 1.5**2 == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("delta", [-2.0, -1.0, -0.2, 1.0])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_final_readout_sign_rule_both_sides_of_separatrix(delta, sign):
    # Theorem thm-ch02-exact: for every r ≠ −1, a → sign(a₀(1 + r))·final_readout, β → β*;
    # β₀ = (0, −1), β* = (0.5, 0.5) gives r < −1 for δ = −2, −1 (a crosses zero) and r > −1 otherwise
    bs = np.array([0.5, 0.5])
    a0, w0 = rl.split_init(np.array([0.0, -1.0]), delta)
    a0, w0 = sign * a0, sign * w0
    s = np.linalg.norm(bs)
    r = (2 * (w0 @ bs) / a0 + delta) / rl.omega(delta, s)
    assert (r < -1) == (delta <= -1.0)
    a_inf = np.sign(a0 * (1 + r)) * rl.final_readout(delta, s)
    t = np.array([0.0, 200.0])
    a_th, w_th = rl.single_neuron(t, a0, w0, bs)
    a_num, w_num = _flow(t, a0, w0, bs)
    assert a_th[-1] == pytest.approx(a_inf, abs=1e-9) and a_num[-1] == pytest.approx(a_inf, abs=1e-6)
    np.testing.assert_allclose(a_num[-1] * w_num[-1], bs, atol=1e-6)


def test_split_init_and_function_space_matrix():
    beta0 = np.array([0.3, -0.4])
    for delta in (-2.0, 0.0, 1.5):
        a0, w0 = rl.split_init(beta0, delta, 0.7, 1.3)
        np.testing.assert_allclose(a0 * w0, beta0)
        assert rl.conserved_quantity(a0, w0, 0.7, 1.3) == pytest.approx(delta)
        M = rl.function_space_matrix(beta0, delta, 0.7, 1.3)
        np.testing.assert_allclose(M, 1.3 * a0**2 * np.eye(2) + 0.7 * np.outer(w0, w0), atol=1e-12)


def test_learning_time_matches_flow_and_logistic():
    s, mu0, mu1 = 2.0, 1e-2, 1.5
    # δ = 0, κ = 1: logistic learning time
    assert rl.learning_time(0.0, s, mu0, mu1) == pytest.approx(np.log(mu1 * (s - mu0) / (mu0 * (s - mu1))) / (2 * s))
    for delta in (-2.0, 0.5, 3.0):
        T = rl.learning_time(delta, s, mu0, mu1)
        bs = np.array([s, 0.0])
        a0, w0 = rl.split_init(np.array([mu0, 0.0]), delta)
        a, w = _flow(np.array([0.0, T]), a0, w0, bs)
        assert a[-1] * w[-1, 0] == pytest.approx(mu1, abs=1e-7)


def test_implicit_bias_limit_fig4_and_limits():
    X, y = np.array([[0.5, 1.0]]), np.array([1.1])
    beta0 = np.array([0.4, 0.05])
    for delta in (-4.0, -1.0, 0.0, 1.0, 4.0):
        a0, w0 = rl.split_init(beta0, delta)
        b_inf, a_inf = rl.implicit_bias_limit(X, y, a0, w0)
        a, w = _flow(np.array([0.0, 300.0]), a0, w0, None, X=X, y=y)
        np.testing.assert_allclose(a[-1] * w[-1], b_inf, atol=1e-6)
        assert a[-1] == pytest.approx(a_inf, abs=1e-6)
        np.testing.assert_allclose(X @ b_inf, y, atol=1e-12)
    # δ → ±∞ limits
    b_plus, _ = rl.implicit_bias_limit(X, y, *rl.split_init(beta0, 1e6))
    np.testing.assert_allclose(b_plus, rl.lazy_limit(X, y, beta0), atol=1e-4)
    b_minus, _ = rl.implicit_bias_limit(X, y, *rl.split_init(beta0, -1e6))
    np.testing.assert_allclose(b_minus, rl.ray_limit(X, y, beta0), atol=1e-4)


def test_implicit_bias_general_x_positive_row_delta():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 4))
    y = rng.standard_normal(2)
    a0, w0 = 1.5, 0.3 * rng.standard_normal(4)
    b_inf, a_inf = rl.implicit_bias_limit(X, y, a0, w0)
    a, w = _flow(np.array([0.0, 400.0]), a0, w0, None, X=X, y=y)
    np.testing.assert_allclose(a[-1] * w[-1], b_inf, atol=1e-6)


def test_kernel_distance_correct_norm():
    X = np.eye(2)
    a0, w0 = 1.0, np.array([1.0, 0.0])
    a1, w1 = 2.0, np.array([0.0, 1.0])
    K0, K1 = rl.neuron_kernel(X, np.array(a0), w0), rl.neuron_kernel(X, np.array(a1), w1)
    np.testing.assert_allclose(K0, np.diag([2.0, 1.0]))
    np.testing.assert_allclose(K1, np.diag([4.0, 5.0]))
    expected = 1 - (8 + 5) / (np.sqrt(5) * np.sqrt(41))
    assert rl.kernel_distance(K0, K1) == pytest.approx(expected)
    assert rl.kernel_distance(K0, 3 * K0) == pytest.approx(0.0, abs=1e-15)


def test_gd_drift_per_step_matches_one_step():
    a, w, g, lr = 0.7, np.array([0.2, -1.0]), np.array([0.5, 0.3]), 0.1
    a1 = a - lr * 2.0 * (w @ g)
    w1 = w - lr * 0.5 * a * g
    d = rl.conserved_quantity(a1, w1, 2.0, 0.5) - rl.conserved_quantity(a, w, 2.0, 0.5)
    assert rl.gd_drift_per_step(np.array(a), w, g, lr, 2.0, 0.5) == pytest.approx(d, rel=1e-12)


@pytest.mark.parametrize("call", [
    lambda: rl.conserved_quantity(1.0, np.ones(2), eta_a=0.0),
    lambda: rl.conserved_quantity(np.ones(3), np.ones((2, 2))),
    lambda: rl.single_neuron([0.0, 1.0], 0.0, np.ones(2), np.ones(2)),
    lambda: rl.single_neuron([-1.0], 1.0, np.ones(2), np.ones(2)),
    lambda: rl.single_neuron([1.0], 1.0, np.ones(2), np.ones(3)),
    lambda: rl.single_neuron([1.0], 1.0, np.array([1.0, 0.0]), np.zeros(2)),  # δ = 0 and β* = 0: Ω = 0
    lambda: rl.final_readout(1.0, -1.0),
    lambda: rl.split_init(np.zeros(2), -1.0),
    lambda: rl.implicit_bias_limit(np.eye(2), np.ones(2), 1.0, np.ones(2)),
    lambda: rl.implicit_bias_limit(np.ones((1, 2)), np.ones(1), 0.0, np.ones(2)),
    lambda: rl.implicit_bias_limit(np.array([[1.0, 0, 0], [1.0, 1.0, 0]]), np.ones(2), 0.1, np.ones(3)),
    lambda: rl.learning_time(0.0, 1.0, 0.5, 1.2),
    lambda: rl.learning_time(0.0, 1.0, 0.0, 0.5),
    lambda: rl.kernel_distance(np.zeros((2, 2)), np.eye(2)),
    lambda: rl.function_space_matrix(np.zeros(2), -1.0),
])
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_balanced_solution_matches_flow():
    bs = np.array([0.0, 1.5])
    a0, w0 = rl.split_init(np.array([0.3, -0.1]), 0.0)
    t = np.linspace(0, 5, 26)
    a, w = _flow(t, a0, w0, bs)
    mu, phi = rl.mu_phi(a, w, bs)
    mu_t, phi_t = rl.balanced_solution(t, 1.5, mu[0], phi[0])
    assert np.abs(mu - mu_t).max() < TOL and np.abs(phi - phi_t).max() < TOL
    mu_inf, phi_inf = rl.balanced_solution(np.array([1e4]), 1.5, mu[0], phi[0])
    assert mu_inf[0] == pytest.approx(1.5) and phi_inf[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rl.balanced_solution(t, 1.5, 0.1, 1.0)


def test_mirror_potential_gradient_is_w():
    beta, delta, h = np.array([0.3, -0.5]), -0.7, 1e-6
    a, w = rl.split_init(beta, delta)
    grad = np.array([(rl.mirror_potential(beta + h * e, delta) - rl.mirror_potential(beta - h * e, delta)) / (2 * h)
                     for e in np.eye(2)])
    np.testing.assert_allclose(grad, w, atol=1e-8)
    assert rl.mirror_potential(beta, 0.0) == pytest.approx(2 / 3 * np.linalg.norm(beta) ** 1.5)


@pytest.mark.parametrize("a0, w0", [(0.3, [1.0, 0.5]), (1.2, [0.3, 0.1])])
def test_zero_target_both_signs_of_delta(a0, w0):
    # regression: β* = 0 with δ < 0 makes δ + Ω = 0, which once divided by zero
    w0 = np.array(w0)
    t = np.linspace(0, 5, 11)
    a, w = rl.single_neuron(t, a0, w0, np.zeros(2))
    a_num, w_num = _flow(t, a0, w0, np.zeros(2))
    assert np.abs(a - a_num).max() < TOL and np.abs(w - w_num).max() < TOL


def test_split_init_no_cancellation_for_negative_delta():
    """Regression: (δ + √(δ² + 4κ‖β₀‖²))/2 lost all digits for δ ≪ 0 and small β₀."""
    b0 = np.array([1e-9, 0.0])
    a0, w0 = rl.split_init(b0, -4.0)
    # η_w a₀² is the positive root of x² − δx − κ‖β₀‖² = 0, ≈ κ‖β₀‖²/|δ| = 2.5e-19
    assert a0**2 == pytest.approx(1e-18 / 4.0, rel=1e-12, abs=0)  # abs=0: the default 1e-12 would pass any a0² below it
    assert rl.conserved_quantity(a0, w0) == pytest.approx(-4.0, rel=1e-14)


def test_separatrix_ratio_matches_the_closed_forms_r():
    # r from its definition (2ν₀ + δ)/Ω, written out here, at unequal rates and in a batch
    rng = np.random.default_rng(3)
    a0, w0, bs = rng.standard_normal(5) + 2.0, rng.standard_normal((5, 3)), np.array([0.5, -1.0, 2.0])
    ea, ew = 0.7, 1.6
    d = ew * a0**2 - ea * np.sum(w0**2, axis=1)
    r = (2 * ea * (w0 @ bs) / a0 + d) / np.sqrt(d**2 + 4 * ea * ew * (bs @ bs))
    assert np.allclose(rl.separatrix_ratio(a0, w0, bs, ea, ew), r, rtol=1e-14)
    # a start against β* has r < −1 (its readout changes sign); one along β* does not
    assert rl.separatrix_ratio(0.5, [-0.9, 0.0], [1.0, 0.0]) < -1 < rl.separatrix_ratio(0.5, [0.1, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="a0 = 0"):
        rl.separatrix_ratio(0.0, [1.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="beta_star"):
        rl.separatrix_ratio(1.0, [1.0, 0.0], [1.0, 0.0, 0.0])
