"""theory.deep_linear: known answers, independent recomputation, properties, error paths."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp

from theorylib.theory import deep_linear as dl

pos = st.floats(min_value=0.05, max_value=5.0)


def test_mode_strength_known_values():
    assert dl.mode_strength(0.0, 3.0, 1e-3) == pytest.approx(1e-3)
    assert dl.mode_strength(1e3, 3.0, 1e-3) == pytest.approx(3.0)
    # half strength exactly at t½ = (1/2s) ln(s/u0 − 1)
    t_half = np.log(3.0 / 1e-3 - 1) / 6.0
    assert dl.mode_strength(t_half, 3.0, 1e-3) == pytest.approx(1.5, rel=1e-12)


def test_mode_strength_matches_saxe_eq12_form():
    t = np.linspace(0, 4, 50)
    s, u0, tau = 2.0, 1e-2, 0.7
    E = np.exp(2 * s * t / tau)
    np.testing.assert_allclose(dl.mode_strength(t, s, u0, tau), s * E / (E - 1 + s / u0), rtol=1e-12)


def test_mode_strength_no_overflow_at_large_times():
    assert np.isfinite(dl.mode_strength(1e6, 5.0, 1e-9))


@settings(max_examples=40, deadline=None)
@given(s=pos, frac=st.floats(0.01, 0.9), tau=st.floats(0.2, 3.0))
def test_mode_strength_solves_the_logistic_ode(s, frac, tau):
    """Closed form against solve_ivp of τu̇ = 2u(s − u), over random valid parameters."""
    u0 = frac * s
    t = np.linspace(0, 3 * tau / s, 30)
    sol = solve_ivp(lambda _t, u: 2 * u * (s - u) / tau, (0, t[-1]), [u0], t_eval=t, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dl.mode_strength(t, s, u0, tau), sol.y[0], atol=1e-5 * s)


@settings(max_examples=40, deadline=None)
@given(s=pos, f0=st.floats(0.001, 0.4), f1=st.floats(0.5, 0.99))
def test_learning_time_inverts_mode_strength(s, f0, f1):
    t = dl.learning_time(s, f0 * s, f1 * s)
    assert dl.mode_strength(t, s, f0 * s) == pytest.approx(f1 * s, rel=1e-9)


def test_learning_time_from_above():
    t = dl.learning_time(1.0, 3.0, 1.5)
    assert t > 0 and dl.mode_strength(t, 1.0, 3.0) == pytest.approx(1.5)


def test_learning_time_asymptotics():
    s, eps = 2.0, 1e-8
    assert dl.learning_time(s, eps, s - eps) == pytest.approx(np.log(s / eps) / s, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(s=pos, a0=st.floats(-2, 2), b0=st.floats(-2, 2))
def test_unbalanced_limit_against_ode(s, a0, b0):
    if abs(a0 + b0) < 1e-2 or abs(a0) + abs(b0) < 0.05:
        return  # near the saddle's stable manifold the flow needs unbounded time
    f = lambda _t, z: [z[1] * (s - z[0] * z[1]), z[0] * (s - z[0] * z[1])]
    sol = solve_ivp(f, (0, 400), [a0, b0], rtol=1e-11, atol=1e-13, method="LSODA")
    a_inf, b_inf = dl.unbalanced_limit(s, a0, b0)
    assert sol.y[0, -1] == pytest.approx(float(a_inf), abs=1e-5)
    assert sol.y[1, -1] == pytest.approx(float(b_inf), abs=1e-5)
    assert a_inf**2 - b_inf**2 == pytest.approx(a0**2 - b0**2, abs=1e-9)  # conserved quantity


def test_unbalanced_limit_saddle_manifold():
    assert dl.unbalanced_limit(1.0, 0.5, -0.5) == (0.0, 0.0)
    a, b = dl.unbalanced_limit(4.0, 1.0, 1.0)
    assert (a, b) == (pytest.approx(2.0), pytest.approx(2.0))


@pytest.mark.parametrize("N", [1, 2, 3, 4, 7, 12])
def test_deep_learning_time_against_quadrature(N):
    s, u0, u = 1.5, 1e-3, 1.2
    ref = quad(lambda x: 1 / (N * x ** (2 - 2 / N) * (s - x)), u0, u, limit=200, epsrel=1e-13)[0]
    assert dl.deep_learning_time(s, u0, u, N) == pytest.approx(ref, rel=1e-5)


def test_deep_learning_time_reduces_to_two_layer():
    assert dl.deep_learning_time(3.0, 1e-3, 2.0, 2) == pytest.approx(dl.learning_time(3.0, 1e-3, 2.0), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 6), s=pos, f0=st.floats(0.001, 0.3), f1=st.floats(0.4, 0.95))
def test_deep_learning_time_against_chain_ode(N, s, f0, f1):
    """Integrate the chain τȧ = a^{N−1}(s − a^N) and stop when u = a^N reaches f1·s."""
    u0, u1 = f0 * s, f1 * s
    ev = lambda _t, z: z[0] ** N - u1
    ev.terminal = True
    sol = solve_ivp(lambda _t, z: [z[0] ** (N - 1) * (s - z[0] ** N)], (0, 1e5), [u0 ** (1 / N)],
                    events=ev, rtol=1e-11, atol=1e-14)
    assert dl.deep_learning_time(s, u0, u1, N) == pytest.approx(sol.t_events[0][0], rel=1e-5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: dl.mode_strength(1.0, -1.0, 0.1),
        lambda: dl.mode_strength(1.0, 1.0, 0.0),
        lambda: dl.mode_strength(1.0, 1.0, 0.1, tau=0),
        lambda: dl.learning_time(1.0, 0.1, 1.0),
        lambda: dl.learning_time(1.0, 0.1, 1.5),
        lambda: dl.learning_time(1.0, -0.1, 0.5),
        lambda: dl.half_learning_time(1.0, 0.6),
        lambda: dl.unbalanced_limit(0.0, 1.0, 1.0),
        lambda: dl.unbalanced_limit(1.0, np.nan, 1.0),
        lambda: dl.deep_learning_time(1.0, 0.1, 1.0, 3),
        lambda: dl.deep_learning_time(1.0, 0.1, 0.5, 0),
        lambda: dl.deep_learning_time(1.0, 0.1, 0.5, 2.5),
    ],
)
def test_out_of_domain_raises(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------- first-order GD error (Chapter 1)
def _gd_balanced_mode(s, u0, lr, n_steps):
    """The GD map of one balanced factor, a ← a + η a(s − a²), iterated directly (no library)."""
    a = np.sqrt(u0)
    out = [a * a]
    for _ in range(n_steps):
        a = a + lr * a * (s - a * a)
        out.append(a * a)
    return np.array(out)


@pytest.mark.parametrize("s, u0", [(3.0, 1e-3), (0.5, 1e-2), (1.0, 0.3)])
def test_gd_first_order_error_predicts_the_gd_map(s, u0):
    """u_k − u(ηk) = η e₁(ηk) + O(η²): halving η quarters the remainder."""
    rem = []
    for lr in (4e-3, 2e-3):
        n = int(round(6.0 / (s * lr)))
        t = lr * np.arange(n + 1)
        gd = _gd_balanced_mode(s, u0, lr, n)
        first = dl.mode_strength(t, s, u0) + lr * dl.gd_first_order_error(t, s, u0)
        rem.append(np.max(np.abs(gd - first)))
        assert np.max(np.abs(gd - dl.mode_strength(t, s, u0))) > 5 * rem[-1]  # e₁ is most of the error
    assert rem[0] / rem[1] == pytest.approx(4.0, rel=0.1)


def test_gd_first_order_error_known_values():
    assert dl.gd_first_order_error(0.0, 2.0, 0.1) == 0.0
    # long after learning u = s, so the error has decayed
    assert abs(dl.gd_first_order_error(50.0, 2.0, 0.1)) < 1e-30
    # early on u ≈ u0 e^{2st}: GD lags by ηst/2 in time, e₁ ≈ −u s² t
    t, s, u0 = 0.1, 1.0, 1e-8
    assert dl.gd_first_order_error(t, s, u0) == pytest.approx(-u0 * np.exp(2 * s * t) * s**2 * t, rel=1e-6)


@pytest.mark.parametrize("call", [
    lambda: dl.gd_first_order_error(1.0, -1.0, 0.1),
    lambda: dl.gd_first_order_error(1.0, 1.0, 0.0),
    lambda: dl.gd_first_order_error(-1.0, 1.0, 0.1),
    lambda: dl.gd_first_order_error(np.nan, 1.0, 0.1),
])
def test_gd_first_order_error_rejects_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------- sim.linear.ScalarChains
def test_scalar_chains_match_deep_linear():
    """Loss and gradient of each member equal those of DeepLinear((1,)*(L+1)), for λ ≠ 1."""
    from theorylib import sim
    from theorylib.sim.linear import ScalarChains

    depths = [1, 2, 3, 5]
    net = ScalarChains(depths)
    rng = np.random.default_rng(0)
    a = rng.uniform(-1.5, 1.5, (len(depths), max(depths)))
    data = sim.Moments(np.array([[1.7]]), np.array([[0.8]]), 2.0)
    g = net.grad({"a": a}, data)["a"]
    loss = net.loss({"a": a}, data)
    for e, L in enumerate(depths):
        deep = sim.DeepLinear((1,) * (L + 1))
        p = {n: a[e:e + 1, i].reshape(1, 1, 1) for i, n in enumerate(deep.names)}
        gd = deep.grad(p, data)
        np.testing.assert_allclose([gd[n][0, 0, 0] for n in deep.names], g[e, :L], rtol=1e-12)
        assert np.all(g[e, L:] == 0)  # padding gets no gradient
        assert loss[e] == pytest.approx(deep.loss(p, data)[0], rel=1e-12)


def test_scalar_chains_reject_bad_input():
    from theorylib import sim
    from theorylib.sim.linear import ScalarChains

    for bad in ([], [0, 2], [1.5]):
        with pytest.raises(ValueError):
            ScalarChains(bad)
    net = ScalarChains([2, 3])
    with pytest.raises(ValueError):
        net.grad({"a": np.ones((2, 2))}, sim.Moments(np.eye(1), np.ones((1, 1)), 1.0))
    with pytest.raises(ValueError):
        net.grad({"a": np.ones((2, 3))}, sim.Moments(np.eye(2), np.ones((1, 2)), 2.0))


def test_first_crossings_interpolates_between_records():
    """Chapter 1's half-strength crossings (checks.ch01_deep_linear): linear interpolation
    between the two records around the level, per column, exact for piecewise-linear data."""
    from theorylib.checks.ch01_deep_linear import _first_crossings

    t = np.arange(0.0, 5.0, 1.0)
    u = np.stack([t, 2 * t, np.minimum(t, 2.0) ** 2], axis=1)  # (time, column)
    np.testing.assert_allclose(_first_crossings(u, t, np.array([1.5, 3.0, 2.0])),
                               [1.5, 1.5, 1 + 1 / 3], rtol=1e-12)
    # the first crossing counts, not a later one; extra leading axes broadcast
    wave = np.array([0.0, 2.0, 0.0, 2.0, 2.0])[:, None, None] * np.ones((1, 2, 3))
    assert np.allclose(_first_crossings(wave, t, 1.0), 0.5)
