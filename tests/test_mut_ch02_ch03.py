"""Chapters 2 and 3 (rich/lazy single neuron, bias-free ReLU nets): values, error messages and
random initialisations, tested against references computed here by other means.

Written against the mutants that survived ``tools/mutate.sh`` in ``theory/rich_lazy.py``,
``sim/rich_lazy.py``, ``theory/bias_free_relu.py`` and ``sim/bias_free.py`` (see
``tools/mutation/ch02_ch03.md``), but every test states a property of the book's models:
closed forms against ``solve_ivp`` / quadrature / finite differences / hand-computed cases,
sympy expressions against the differential equation they solve, initialisations by their
shapes, norms, balance and seeds, and errors by the argument and condition they name.
The sim tests build their inputs by hand, never with :mod:`theorylib.theory`.
Small sizes throughout: mutmut re-runs this file for every mutant.
"""
import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad, solve_ivp

from theorylib.sim import bias_free as bf
from theorylib.sim import rich_lazy as rs
from theorylib.theory import bias_free_relu as bfr
from theorylib.theory import rich_lazy as rl


def _flow(t, a0, w0, C, b, eta_a=1.0, eta_w=1.0):
    """Gradient flow of ½βᵀCβ − βᵀb + const, β = a w, with layer rates; plain solve_ivp."""
    w0 = np.asarray(w0, float)

    def rhs(_t, z):
        a, w = z[0], z[1:]
        g = C @ (a * w) - b
        return np.r_[-eta_a * (w @ g), -eta_w * a * g]

    t = np.asarray(t, float)
    sol = solve_ivp(rhs, (0, t[-1]), np.r_[a0, w0], t_eval=t, rtol=1e-12, atol=1e-13,
                    method="DOP853")
    return sol.y[0], sol.y[1:].T


def _whitened_flow(t, a0, w0, bs, eta_a=1.0, eta_w=1.0):
    bs = np.asarray(bs, float)
    return _flow(t, a0, w0, np.eye(len(bs)), bs, eta_a, eta_w)


def _mp(t, expr):
    """``expr(t)`` at 30 significant digits (mpmath), for residuals that should vanish."""
    f = sp.lambdify(t, expr, "mpmath")

    def at(tv):
        with mpmath.workdps(30):
            return f(mpmath.mpf(tv))
    return at


# =============================================================== theory.rich_lazy: small pieces
@pytest.mark.parametrize("kw, shown", [
    (dict(eta_a=0.0), "eta_a=0.0"), (dict(eta_a=-1.0), "eta_a=-1.0"),
    (dict(eta_w=0.0), "eta_w=0.0"), (dict(eta_w=-2.0), "eta_w=-2.0"),
    (dict(eta_a=np.inf), "eta_a=inf"), (dict(eta_w=np.nan), "eta_w=nan"),
])
def test_rates_must_be_positive_and_finite_and_are_named(kw, shown):
    with pytest.raises(ValueError, match="^learning-rate multipliers must be positive and finite") as e:
        rl.conserved_quantity(1.0, [1.0, 0.0], **kw)
    assert shown in str(e.value)


def test_conserved_quantity_shapes_and_values():
    # a scalar with a vector w is the basic case; 2-D a with 3-D w broadcasts
    assert rl.conserved_quantity(3.0, [1.0, 2.0], eta_a=0.5, eta_w=2.0) == pytest.approx(18 - 2.5)
    a = np.array([[1.0, -2.0]])
    w = np.array([[[1.0, 0.0], [0.0, 3.0]]])
    np.testing.assert_allclose(rl.conserved_quantity(a, w), [[0.0, -5.0]])
    with pytest.raises(ValueError, match=r"^w must have shape a\.shape \+ \(d,\)"):
        rl.conserved_quantity(1.0, 2.0)  # w has no vector axis
    with pytest.raises(ValueError, match="^a must be finite"):
        rl.conserved_quantity(np.nan, [1.0])
    with pytest.raises(ValueError, match="^w must be finite"):
        rl.conserved_quantity(1.0, [np.inf])


def test_omega_is_the_sum_of_the_layer_terms():
    # for β = a w: Ω² = (η_w a² − η_a‖w‖²)² + 4η_aη_w a²‖w‖² = (η_w a² + η_a‖w‖²)²
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, w = rng.standard_normal(), rng.standard_normal(3)
        ea, ew = np.exp(rng.uniform(-1, 1, 2))
        delta = ew * a**2 - ea * w @ w
        assert rl.omega(delta, abs(a) * np.linalg.norm(w), ea, ew) == pytest.approx(
            ew * a**2 + ea * w @ w, rel=1e-12)
    np.testing.assert_allclose(rl.omega([-3.0, 0.0], [0.0, 2.0]), [3.0, 4.0])
    with pytest.raises(ValueError, match="^beta_norm must be non-negative"):
        rl.omega(1.0, -0.1)
    with pytest.raises(ValueError, match="^delta must be finite"):
        rl.omega(np.nan, 1.0)
    with pytest.raises(ValueError, match="^beta_norm must be finite"):
        rl.omega(1.0, np.inf)


@pytest.mark.parametrize("delta", [-3.0, -1e-3, 0.0, 1e-3, 2.0])
def test_split_init_meets_both_constraints(delta):
    b0 = np.array([0.6, -0.8, 0.25])
    ea, ew = 1.7, 0.4
    a0, w0 = rl.split_init(b0, delta, ea, ew)
    assert isinstance(a0, float) and a0 > 0
    np.testing.assert_allclose(a0 * w0, b0, rtol=1e-14)
    assert ew * a0**2 - ea * w0 @ w0 == pytest.approx(delta, abs=1e-13)


def test_split_init_zero_function():
    a0, w0 = rl.split_init(np.zeros(2), 2.0, eta_w=0.5)  # δ > 0: a₀ = √(δ/η_w), w₀ = 0
    assert a0 == pytest.approx(2.0) and not np.any(w0)
    for delta in (0.0, -1.0):  # δ ≤ 0 would need a₀ = 0
        with pytest.raises(ValueError, match="^β₀ = 0 with δ ≤ 0 forces a₀ = 0: no split with a₀ > 0 exists$"):
            rl.split_init(np.zeros(2), delta)
    with pytest.raises(ValueError, match="^beta0 must be a vector"):
        rl.split_init(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="^beta0 must be finite"):
        rl.split_init([np.nan, 1.0], 1.0)


def test_function_space_matrix_from_raw_parameters():
    # M = η_w a² I + η_a w wᵀ, with (a, w) chosen first and β, δ computed from them
    ea, ew = 0.6, 1.9
    for a, w in ((1.3, np.array([0.2, -0.5, 0.4])), (0.3, np.array([1.5, 0.0, -0.7]))):
        beta, delta = a * w, ew * a**2 - ea * w @ w
        M = rl.function_space_matrix(beta, delta, ea, ew)
        np.testing.assert_allclose(M, ew * a**2 * np.eye(3) + ea * np.outer(w, w), atol=1e-13)


def test_function_space_matrix_at_zero_function():
    # β = 0 with δ ≥ 0 means w = 0 and η_w a² = δ: M = δ I
    np.testing.assert_array_equal(rl.function_space_matrix(np.zeros(3), 2.5), 2.5 * np.eye(3))
    np.testing.assert_array_equal(rl.function_space_matrix(np.zeros(2), 0.0), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^M\(0\) depends on the direction of w when δ < 0$"):
        rl.function_space_matrix(np.zeros(2), -0.5)
    with pytest.raises(ValueError, match="^beta must be a vector"):
        rl.function_space_matrix(np.ones((1, 2)), 1.0)


def test_dexp_ratio_on_both_sides_of_the_series_cutoff():
    # (e^{xt} − 1)/x from expm1 (accurate for x ≠ 0) and its x → 0 limit t
    x = np.array([1e-7, -4e-4, 9.9e-4, -9.9e-4, 1.01e-3, 0.3, -2.0, 0.0])
    t = 1.0
    ref = np.where(x == 0, t, np.expm1(x * t) / np.where(x == 0, 1.0, x))
    np.testing.assert_allclose(rl._dexp_ratio(x, t), ref, rtol=1e-14)
    # broadcasting over t, with x·t crossing the cut-off 1e-3 along the way
    tt = np.array([0.5, 2.0, 40.0])
    np.testing.assert_allclose(rl._dexp_ratio(2e-5, tt), np.expm1(2e-5 * tt) / 2e-5, rtol=1e-14)


# =============================================================== theory.rich_lazy: the exact solution
CASES = {
    # name: (a0, w0, beta_star, eta_a, eta_w, t_end)
    "tiny delta (series branch)": (1.0, [0.99995, 0.0], [0.3, 0.8], 1.0, 1.0, 5.0),
    "balanced": (0.8, [0.0, 0.8], [1.0, -0.5], 1.0, 1.0, 6.0),
    "positive delta, long": (1.5, [0.3, -0.2], [0.0, 1.2], 1.0, 1.0, 8.0),
    "negative delta": (0.4, [1.1, 0.5], [0.5, 0.9], 1.0, 1.0, 6.0),
    "unequal rates": (0.7, [-0.4, 0.9], [1.3, 0.2], 0.6, 2.2, 5.0),
    "sign change (r < -1)": (0.3, [-1.5, 0.2], [1.0, 0.0], 1.0, 1.0, 6.0),
    "zero target, delta > 0": (1.2, [0.3, 0.1], [0.0, 0.0], 1.0, 1.0, 5.0),
    "zero target, delta < 0": (0.3, [1.0, 0.5], [0.0, 0.0], 1.3, 0.8, 5.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_single_neuron_agrees_with_the_ode_to_high_accuracy(name):
    a0, w0, bs, ea, ew, T = CASES[name]
    t = np.linspace(0.0, T, 25)
    a, w = rl.single_neuron(t, a0, w0, bs, ea, ew)
    a_num, w_num = _whitened_flow(t, a0, w0, bs, ea, ew)
    assert a.shape == t.shape and w.shape == t.shape + (2,)
    np.testing.assert_allclose(a, a_num, atol=2e-9)
    np.testing.assert_allclose(w, w_num, atol=2e-9)
    assert a[0] == pytest.approx(a0, abs=1e-15)
    np.testing.assert_allclose(w[0], w0, atol=1e-15)


def test_single_neuron_scalar_time_and_time_errors():
    a, w = rl.single_neuron(0.5, 0.8, [0.1, 0.2], [1.0, 0.0])
    assert np.shape(a) == () and w.shape == (2,)
    a_num, w_num = _whitened_flow([0.0, 0.5], 0.8, [0.1, 0.2], [1.0, 0.0])
    assert a == pytest.approx(a_num[-1], abs=1e-10)
    with pytest.raises(ValueError, match="^times must be non-negative"):
        rl.single_neuron([0.0, -1e-9], 0.8, [0.1, 0.2], [1.0, 0.0])
    with pytest.raises(ValueError, match="^t must be finite"):
        rl.single_neuron([np.nan], 0.8, [0.1, 0.2], [1.0, 0.0])


@pytest.mark.parametrize("args, msg", [
    ((np.inf, [1.0, 0.0], [1.0, 0.0]), "^a0 must be finite"),
    ((np.nan, [1.0, 0.0], [1.0, 0.0]), "^a0 must be finite"),
    ((0.0, [1.0, 0.0], [1.0, 0.0]), r"^a0 = 0: ν = η_a\(w·β\*\)/a is undefined"),
    ((1.0, [1.0, 0.0], [1.0, 0.0, 0.0]), r"^w0 and beta_star must be vectors of the same length"),
    ((1.0, [[1.0, 0.0]], [[1.0, 0.0]]), r"^w0 and beta_star must be vectors"),
    ((1.0, [1.0, 0.0], [0.0, 0.0]), r"^β\* = 0 together with δ = 0 is degenerate"),
    ((1e-300, [1.0, 0.0], [1.0, 0.0]), r"^a0 = 1e-300 is too close to 0 for the closed form: r = \(2ν0 \+ δ\)/Ω = 8.94e\+299 overflows$"),
    ((1.0, [np.nan, 0.0], [1.0, 0.0]), "^w0 must be finite"),
    ((1.0, [1.0, 0.0], [np.inf, 0.0]), "^beta_star must be finite"),
])
def test_single_neuron_setup_errors(args, msg):
    with pytest.raises(ValueError, match=msg):
        rl.single_neuron([0.0, 1.0], *args)


def test_single_neuron_late_times_reach_the_target():
    # t = 300 and 1e4: every exponential of the unscaled formulas overflows; β → β*, δ conserved
    bs = np.array([0.6, -0.3])
    for a0, w0 in ((0.5, [0.2, 0.1]), (2.0, [0.1, 0.4]), (0.2, [1.5, 0.3])):
        a, w = rl.single_neuron(np.array([300.0, 1e4]), a0, w0, bs, 0.8, 1.4)
        np.testing.assert_allclose(a[:, None] * w, np.tile(bs, (2, 1)), atol=1e-12)
        d0 = 1.4 * a0**2 - 0.8 * np.sum(np.square(w0))
        np.testing.assert_allclose(1.4 * a**2 - 0.8 * np.sum(w**2, axis=1), d0, atol=1e-12)


def test_single_neuron_expr_solves_its_differential_equations():
    ex, (t, delta, Om, r, a0, s, ea, ew) = rl.single_neuron_expr()
    assert [str(x) for x in (t, delta, Om, r, a0, s, ea, ew)] == [
        "t", "delta", "Omega", "r", "a_0", "s", "eta_a", "eta_w"]
    assert t.is_nonnegative and delta.is_real and delta.is_nonzero
    assert all(x.is_positive for x in (Om, s, ea, ew)) and r.is_real and a0.is_real
    assert set(ex) == {"G", "I", "N", "P", "a", "nu"}
    Rt = sp.Rational
    vals = {delta: Rt(7, 10), Om: Rt(3, 2), r: Rt(-1, 3), a0: Rt(4, 5), s: Rt(6, 5),
            ea: Rt(1, 2), ew: Rt(9, 5)}
    # numbers in for every parameter first (cheap derivatives in t), then 30-digit evaluation
    G, I, N, P, a, nu = (ex[k].subs(vals) for k in ("G", "I", "N", "P", "a", "nu"))
    dl_, om, rr, a0v, sv, eav, ewv = (vals[x] for x in (delta, Om, r, a0, s, ea, ew))
    q = (om**2 - dl_**2) / 4  # = η_aη_w s² when Ω is the function-space rate
    dG = sp.diff(G, t)
    residuals = [
        sp.diff(dG, t) - dl_ * dG - q * G,           # G linearises the Riccati equation
        sp.diff(I, t) - G**2,                        # I = ∫₀ᵗ G²
        sp.diff(N, t) - 2 * ewv * a0v**2 * G**2,     # N = 1 + 2η_w a₀² I
        P - a0v / (eav * sv) * (dG - dl_ * G),       # w·β̂* √N from ȧ = −η_a w·∇L
        sp.diff(nu, t) - (q - dl_ * nu - nu**2),     # ν solves the Riccati equation
        a - a0v * G / sp.sqrt(N),
    ]
    for res in residuals:
        f = _mp(t, res)
        for tv in ("0.9", "2.6"):
            assert abs(f(tv)) < 1e-20
    at0 = lambda e: complex(_mp(t, e)("0"))
    assert abs(at0(G) - 1) < 1e-14 and abs(at0(I)) < 1e-14 and abs(at0(N) - 1) < 1e-14
    assert abs(at0(dG) - (dl_ + om * rr) / 2) < 1e-14
    assert abs(at0(nu) - (om * rr - dl_) / 2) < 1e-14  # ν₀ from r = (2ν₀ + δ)/Ω


def test_single_neuron_expr_gives_the_flow():
    # the readout and the aligned part w·β̂* = P/√N of a concrete start, against solve_ivp
    ex, (t, delta, Om, r, a0s, s, ea, ew) = rl.single_neuron_expr()
    a0, w0, bs, eta_a, eta_w = 0.7, np.array([0.5, -0.6]), np.array([1.1, 0.4]), 0.8, 1.5
    sn = np.linalg.norm(bs)
    dv = eta_w * a0**2 - eta_a * w0 @ w0
    Omv = np.sqrt(dv**2 + 4 * eta_a * eta_w * sn**2)
    rv = (2 * eta_a * (w0 @ bs) / a0 + dv) / Omv
    sub = {delta: dv, Om: Omv, r: rv, a0s: a0, s: sn, ea: eta_a, ew: eta_w}
    fa = sp.lambdify(t, ex["a"].subs(sub), "numpy")
    fu = sp.lambdify(t, (ex["P"] / sp.sqrt(ex["N"])).subs(sub), "numpy")
    tt = np.linspace(0, 3, 7)
    a_num, w_num = _whitened_flow(tt, a0, w0, bs, eta_a, eta_w)
    np.testing.assert_allclose(fa(tt), a_num, atol=1e-9)
    np.testing.assert_allclose(fu(tt), w_num @ bs / sn, atol=1e-9)


# =============================================================== theory.rich_lazy: Riccati equation
@pytest.mark.parametrize("delta, s, nu0, ea, ew, T", [
    (0.5, 1.2, 0.3, 1.0, 1.0, 4.0),     # |r| < 1
    (-0.4, 0.8, 2.5, 0.7, 1.6, 4.0),    # r > 1
    (0.2, 1.0, -1.5, 1.0, 1.0, 0.5),    # r < −1, before the pole
    (-1.0, 0.0, 0.4, 1.0, 1.0, 3.0),    # s = 0 (then Ω = |δ|)
])
def test_riccati_nu_solves_the_riccati_equation(delta, s, nu0, ea, ew, T):
    t = np.linspace(0, T, 9)
    sol = solve_ivp(lambda _t, v: ea * ew * s**2 - delta * v - v**2, (0, T), [nu0], t_eval=t,
                    rtol=1e-12, atol=1e-13, method="DOP853")
    np.testing.assert_allclose(rl.riccati_nu(t, delta, s, nu0, ea, ew), sol.y[0], rtol=1e-9, atol=1e-10)


def test_riccati_errors_name_the_condition():
    for f in (lambda: rl.riccati_nu([1.0], 0.0, -1.0, 0.0), lambda: rl.riccati_blowup_time(0.0, -1.0, 0.0)):
        with pytest.raises(ValueError, match="^s = ‖β\\*‖ must be non-negative"):
            f()
    for f in (lambda: rl.riccati_nu([1.0], 0.0, 0.0, 0.3), lambda: rl.riccati_blowup_time(0.0, 0.0, 0.3)):
        with pytest.raises(ValueError, match="^Ω = 0"):
            f()
    with pytest.raises(ValueError, match="^times must be non-negative"):
        rl.riccati_nu([0.0, -0.5], 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="^nu0 must be finite"):
        rl.riccati_blowup_time(1.0, 1.0, np.nan)
    with pytest.raises(ValueError, match="^s must be finite"):
        rl.riccati_nu(1.0, 1.0, np.inf, 0.0)
    with pytest.raises(ValueError, match="^learning-rate multipliers"):
        rl.riccati_blowup_time(1.0, 1.0, 0.0, eta_w=0.0)


@pytest.mark.parametrize("delta, s, nu0, ea, ew", [
    (0.2, 1.0, -1.5, 1.0, 1.0), (-0.6, 0.7, -2.0, 0.5, 2.5), (1.5, 0.0, -3.0, 1.0, 1.0)])
def test_riccati_blowup_time_is_the_zero_of_the_linearisation(delta, s, nu0, ea, ew):
    # ν = G'/G − δ with G'' = δG' + η_aη_w s² G, G(0) = 1, G'(0) = δ + ν₀: ν blows up where G = 0
    ev = lambda _t, z: z[0]
    ev.terminal = True
    sol = solve_ivp(lambda _t, z: [z[1], delta * z[1] + ea * ew * s**2 * z[0]], (0, 50),
                    [1.0, delta + nu0], events=ev, rtol=1e-12, atol=1e-14, method="DOP853")
    t_star = rl.riccati_blowup_time(delta, s, nu0, ea, ew)
    assert isinstance(t_star, float)
    assert t_star == pytest.approx(sol.t_events[0][0], rel=1e-9)


def test_riccati_no_blowup_at_or_above_the_separatrix():
    # δ = 0, s = 1: ν = −1 is the unstable fixed point (r = −1) and is never left
    assert rl.riccati_blowup_time(0.0, 1.0, -1.0) == np.inf
    np.testing.assert_allclose(rl.riccati_nu([0.0, 2.0, 5.0], 0.0, 1.0, -1.0), -1.0, atol=1e-12)
    assert rl.riccati_blowup_time(0.5, 1.0, 3.0) == np.inf
    assert rl.riccati_blowup_time(0.5, 1.0, -0.5) == np.inf


# =============================================================== theory.rich_lazy: readout, ratio
def test_final_readout_is_the_stable_root_of_the_quartic():
    # at the end β = β*: a² − δ/η_w ... from δ = η_w a² − η_a s²/a²: η_w a⁴ − δ a² − η_a s² = 0
    for delta, s, ea, ew in ((0.7, 1.3, 0.4, 2.0), (-2.5, 0.6, 1.5, 0.3), (0.0, 2.0, 2.0, 2.0)):
        a = rl.final_readout(delta, s, ea, ew)
        assert a > 0 and ew * a**4 - delta * a**2 - ea * s**2 == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(rl.final_readout([4.0, -4.0], 0.0, eta_w=4.0), [1.0, 0.0])
    with pytest.raises(ValueError, match="^s = ‖β\\*‖ must be non-negative"):
        rl.final_readout(1.0, [1.0, -1e-3])
    with pytest.raises(ValueError, match="^delta must be finite"):
        rl.final_readout(np.inf, 1.0)


def test_separatrix_ratio_errors_and_rates():
    with pytest.raises(ValueError, match="^beta_star must be a vector of length w0.shape"):
        rl.separatrix_ratio(1.0, [1.0, 0.0], [[1.0, 0.0]])
    with pytest.raises(ValueError, match=r"^a0 = 0: ν₀ = η_a\(w₀·β\*\)/a₀ is undefined"):
        rl.separatrix_ratio([1.0, 0.0], [[1.0, 0.0], [1.0, 0.0]], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^β\* = 0 together with δ = 0 is degenerate \(Ω = 0\)"):
        rl.separatrix_ratio(1.0, [1.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"^a0 is too close to 0: r = \(2ν₀ \+ δ\)/Ω overflows"):
        rl.separatrix_ratio(1e-310, [1.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="^a0 must be finite"):
        rl.separatrix_ratio(np.nan, [1.0, 0.0], [1.0, 0.0])
    # η_a = 4, η_w = 2, a₀ = 2, w₀ = (1, 1): δ = 8 − 8 = 0, ν₀ = 4·1/2 = 2, Ω = √(4·8) = √32
    r = rl.separatrix_ratio(2.0, [1.0, 1.0], [1.0, 0.0], eta_a=4.0, eta_w=2.0)
    assert r == pytest.approx(4.0 / np.sqrt(32.0), rel=1e-14)
    # from the definition, at η_a ≠ η_w: δ = 2·1 − 0.5·1 = 1.5, ν₀ = 0.5, Ω = √(1.5² + 4)
    r = rl.separatrix_ratio(1.0, [0.0, 1.0], [0.0, 1.0], eta_a=0.5, eta_w=2.0)
    assert r == pytest.approx((1.0 + 1.5) / np.sqrt(1.5**2 + 4.0), rel=1e-14)


def test_mu_phi_values_and_errors():
    mu, phi = rl.mu_phi(np.array([2.0, -1.0]), np.array([[3.0, 4.0], [0.0, -2.0]]), [0.0, 5.0])
    np.testing.assert_allclose(mu, [10.0, -2.0])
    np.testing.assert_allclose(phi, [0.8, -1.0])
    mu, phi = rl.mu_phi(0.5, [1.0, 1.0], [2.0, 0.0])
    assert mu == pytest.approx(0.5 * np.sqrt(2)) and phi == pytest.approx(1 / np.sqrt(2))
    with pytest.raises(ValueError, match=r"^need a of shape S, w of shape S \+ \(d,\)"):
        rl.mu_phi(1.0, 2.0, [1.0])
    with pytest.raises(ValueError, match="^need a of shape S"):
        rl.mu_phi([1.0, 2.0], [[1.0, 0.0]], [1.0, 0.0])
    with pytest.raises(ValueError, match="^φ is undefined when w = 0 or β\\* = 0"):
        rl.mu_phi([1.0, 2.0], [[1.0, 0.0], [0.0, 0.0]], [1.0, 0.0])
    with pytest.raises(ValueError, match="^φ is undefined"):
        rl.mu_phi(1.0, [1.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="^beta_star must be finite"):
        rl.mu_phi(1.0, [1.0, 0.0], [np.nan, 0.0])


# =============================================================== theory.rich_lazy: learning time
def _aligned_time(delta, s, mu0, mu, kappa):
    return quad(lambda m: 1.0 / (np.sqrt(delta**2 + 4 * kappa * m**2) * (s - m)), mu0, mu,
                epsabs=1e-13, epsrel=1e-12)[0]


@pytest.mark.parametrize("delta, s, mu0, mu, ea, ew", [
    (0.8, 1.5, -0.3, 1.2, 0.5, 3.0), (-2.0, 1.0, 0.05, 0.9, 1.0, 1.0), (0.0, 2.0, 0.1, 1.9, 2.0, 0.7),
    (3.0, 0.5, 0.0, 0.25, 1.0, 1.0)])
def test_learning_time_is_the_quadrature_of_the_aligned_flow(delta, s, mu0, mu, ea, ew):
    T = rl.learning_time(delta, s, mu0, mu, ea, ew)
    assert T == pytest.approx(_aligned_time(delta, s, mu0, mu, ea * ew), rel=1e-9)


def test_learning_time_broadcasts_and_checks_its_domain():
    mu = np.array([0.2, 0.5, 0.8])
    T = rl.learning_time(0.5, 1.0, 0.1, mu)
    assert T.shape == (3,)
    np.testing.assert_allclose(T, [_aligned_time(0.5, 1.0, 0.1, m, 1.0) for m in mu], rtol=1e-9)
    assert rl.learning_time(0.5, 1.0, 0.3, 0.3) == 0.0  # μ = μ₀: no time needed
    with pytest.raises(ValueError, match="^s must be positive"):
        rl.learning_time(0.5, 0.0, -0.2, -0.1)
    with pytest.raises(ValueError, match="^need μ₀ ≤ μ < s"):
        rl.learning_time(0.5, 1.0, 0.4, 0.3)
    with pytest.raises(ValueError, match="^need μ₀ ≤ μ < s"):
        rl.learning_time(0.5, 1.0, 0.4, 1.0)
    for mu0 in (0.0, -0.1):
        with pytest.raises(ValueError, match="^with δ = 0, μ = 0 is a fixed point"):
            rl.learning_time(0.0, 1.0, mu0, 0.5)
    with pytest.raises(ValueError, match="^shapes do not broadcast"):
        rl.learning_time(0.5, 1.0, [0.1, 0.2], [0.3, 0.4, 0.5])
    with pytest.raises(ValueError, match="^mu0 must be finite"):
        rl.learning_time(0.5, 1.0, np.nan, 0.5)


def test_learning_time_expr_integrates_the_aligned_flow():
    T, (mu, mu0, delta, s, kappa) = rl.learning_time_expr()
    assert [str(x) for x in (mu, mu0, delta, s, kappa)] == ["mu", "mu_0", "delta", "s", "kappa"]
    assert mu.is_real and mu0.is_real and delta.is_real and s.is_positive and kappa.is_positive
    vals = {mu0: sp.Rational(-1, 5), delta: sp.Rational(3, 4), s: sp.Rational(3, 2),
            kappa: sp.Rational(2, 3)}
    Tm = T.subs(vals)
    rate = 1 / (sp.sqrt(vals[delta] ** 2 + 4 * vals[kappa] * mu**2) * (vals[s] - mu))
    res = _mp(mu, sp.diff(Tm, mu) - rate)  # dt/dμ = 1/μ̇
    for m in ("-0.1", "0.4", "1.3"):
        assert abs(res(m)) < 1e-20
    assert abs(_mp(mu, Tm)("-0.2")) < 1e-14  # t(μ₀) = 0


# =============================================================== theory.rich_lazy: interpolants
def test_lazy_limit_is_the_interpolant_nearest_to_beta0():
    rng = np.random.default_rng(1)
    X, y, b0 = rng.standard_normal((2, 4)), rng.standard_normal(2), rng.standard_normal(4)
    # min ‖β − β₀‖ subject to Xβ = y: β₀ plus the minimum-norm correction of the residual
    corr, *_ = np.linalg.lstsq(X, y - X @ b0, rcond=None)
    np.testing.assert_allclose(rl.lazy_limit(X, y, b0), b0 + corr, atol=1e-12)
    with pytest.raises(ValueError, match=r"^beta0 must have shape \(4,\)"):
        rl.lazy_limit(X, y, b0[:3])


def test_ray_limit_minimises_the_loss_along_the_ray():
    X, y, b0 = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]]), np.array([1.0, -0.5]), np.array([0.3, 0.1, 0.2])
    lam, *_ = np.linalg.lstsq((X @ b0)[:, None], y, rcond=None)
    np.testing.assert_allclose(rl.ray_limit(X, y, b0), lam[0] * b0, atol=1e-14)
    with pytest.raises(ValueError, match="^Xβ₀ = 0: the ray through β₀ does not change the predictions"):
        rl.ray_limit(X, y, np.array([0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"^X must have shape \(·, ·\)"):
        rl.ray_limit(np.ones(3), y, b0)
    with pytest.raises(ValueError, match=r"^y must have shape \(2,\)"):
        rl.ray_limit(X, [1.0], b0)


@pytest.mark.parametrize("X, msg", [
    (np.ones(3), "^X must be a matrix"),
    (np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]), "^X must have full row rank"),
    (np.eye(2), r"^the implicit-bias result needs fewer samples than features; got X of shape \(2, 2\)$"),
    (np.array([[np.nan, 0.0, 1.0]]), "^X must be finite"),
])
def test_row_space_checks(X, msg):
    with pytest.raises(ValueError, match=msg):
        rl.lazy_limit(X, np.ones(np.atleast_2d(X).shape[0]), np.ones(np.atleast_2d(X).shape[-1]))


def test_implicit_bias_limit_sign_flip_with_orthogonal_rows():
    # XXᵀ = 4I (not I) and δ_row < 0 with w anti-aligned with β_mn: r < −1, so the readout
    # crosses zero and ends negative; the null-space part of w is carried along
    X = 2.0 * np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    y = np.array([1.0, 0.5])
    a0, w0 = 0.3, np.array([-1.0, -0.2, 0.4])
    b_inf, a_inf = rl.implicit_bias_limit(X, y, a0, w0)
    a, w = _flow([0.0, 60.0], a0, w0, X.T @ X, X.T @ y)
    assert a_inf < 0 < a0
    assert a[-1] == pytest.approx(a_inf, abs=1e-7)
    np.testing.assert_allclose(a[-1] * w[-1], b_inf, atol=1e-7)
    # and with unequal rates and a row-space part along β_mn (no sign change)
    b_inf, a_inf = rl.implicit_bias_limit(X, y, 0.3, [0.5, 0.1, -0.3], eta_a=0.6, eta_w=1.7)
    a, w = _flow([0.0, 60.0], 0.3, [0.5, 0.1, -0.3], X.T @ X, X.T @ y, 0.6, 1.7)
    assert a_inf > 0 and a[-1] == pytest.approx(a_inf, abs=1e-7)
    np.testing.assert_allclose(a[-1] * w[-1], b_inf, atol=1e-7)


def test_implicit_bias_limit_keeps_a_negative_readout_when_row_delta_is_positive():
    X = np.array([[1.0, 0.5, 0.0], [0.2, -1.0, 0.3]])
    y = np.array([0.4, -0.7])
    a0, w0 = -1.4, np.array([0.2, 0.3, 0.5])
    b_inf, a_inf = rl.implicit_bias_limit(X, y, a0, w0, eta_a=1.3, eta_w=0.8)
    a, w = _flow([0.0, 80.0], a0, w0, X.T @ X, X.T @ y, 1.3, 0.8)
    assert a_inf < 0 and a[-1] == pytest.approx(a_inf, abs=1e-7)
    np.testing.assert_allclose(a[-1] * w[-1], b_inf, atol=1e-7)


@pytest.mark.parametrize("args, msg", [
    (([[1.0, 0.0]], [1.0, 2.0], 1.0, [0.0, 1.0]), r"^need y of shape \(1,\) and w0 of shape \(2,\)"),
    (([[1.0, 0.0]], [1.0], 1.0, [0.0, 1.0, 0.0]), r"^need y of shape \(1,\) and w0 of shape \(2,\)"),
    (([[1.0, 0.0]], [1.0], 0.0, [0.0, 1.0]), "^a0 must be finite and non-zero"),
    (([[1.0, 0.0]], [1.0], np.inf, [0.0, 1.0]), "^a0 must be finite and non-zero"),
    (([[1.0, 0.0]], [0.0], 0.5, [1.0, 0.0]), "^y = 0 with δ_row ≤ 0: the readout decays to zero"),
    (([[1.0, 0.0]], [1.0], 1.0, [-1.0, 0.0]), r"^initialisation on the separatrix \(r = −1\)"),
    (([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]], [1.0, 1.0], 0.1, [1.0, 1.0, 0.0]), "^δ \\+ η_a‖w_⊥‖² ≤ 0 and XXᵀ is not a multiple of I: the sign of a∞ has no closed form$"),
    (([[1.0, 0.0]], [np.nan], 1.0, [0.0, 1.0]), "^y must be finite"),
])
def test_implicit_bias_limit_errors(args, msg):
    # the separatrix case: β₀ = −β_mn with δ = 0 gives r = (−2 + 0)/2 = −1 exactly
    with pytest.raises(ValueError, match=msg):
        rl.implicit_bias_limit(*args)


def test_implicit_bias_limit_one_sample_zero_target_with_positive_row_delta():
    # y = 0 with δ_row > 0: β_mn = 0 and |a∞| = √(δ_row/η_w); w keeps its null-space part
    b_inf, a_inf = rl.implicit_bias_limit([[1.0, 0.0]], [0.0], 2.0, [0.5, 1.0], eta_w=2.0)
    d_row = 2.0 * 4.0 - 1.25 + 1.0
    assert a_inf == pytest.approx(np.sqrt(d_row / 2.0))
    np.testing.assert_allclose(b_inf, [0.0, a_inf * 1.0])


# =============================================================== theory.rich_lazy: kernels, GD
def test_neuron_kernel_is_the_rate_weighted_jacobian_gram():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 2))
    a, w = np.array([0.7, -1.2]), rng.standard_normal((2, 2))
    ea, ew, h = 0.4, 2.5, 1e-6
    K = rl.neuron_kernel(X, a, w, ea, ew)
    assert K.shape == (2, 3, 3)
    for e in range(2):
        th = np.r_[a[e], w[e]]
        f = lambda p: X @ (p[0] * p[1:])
        J = np.stack([(f(th + h * v) - f(th - h * v)) / (2 * h) for v in np.eye(3)], axis=1)
        np.testing.assert_allclose(K[e], J @ np.diag([ea, ew, ew]) @ J.T, atol=1e-8)
    with pytest.raises(ValueError, match=r"^need X \(n, d\), a of shape S and w of shape S \+ \(d,\)"):
        rl.neuron_kernel(X, a, w[:, :1])
    with pytest.raises(ValueError, match="^need X"):
        rl.neuron_kernel(np.ones(2), 1.0, np.ones(2))
    with pytest.raises(ValueError, match="^need X"):
        rl.neuron_kernel(X, a[:1], w)


def test_kernel_distance_values_and_errors():
    K0 = np.diag([1.0, 0.0])
    K = np.stack([np.diag([2.0, 0.0]), np.diag([0.0, 3.0]), np.diag([1.0, 1.0])])
    np.testing.assert_allclose(rl.kernel_distance(K0, K), [0.0, 1.0, 1 - 1 / np.sqrt(2)], atol=1e-15)
    with pytest.raises(ValueError, match="^kernels must have the same trailing shape"):
        rl.kernel_distance(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="^kernel distance undefined for a zero kernel"):
        rl.kernel_distance(np.eye(2), np.stack([np.eye(2), np.zeros((2, 2))]))
    with pytest.raises(ValueError, match="^K0 must be finite"):
        rl.kernel_distance(np.full((2, 2), np.nan), np.eye(2))


def test_gd_drift_per_step_batch_equals_the_change_of_delta():
    rng = np.random.default_rng(6)
    a, w, g = rng.standard_normal(4), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    ea, ew, lr = 1.7, 0.3, 0.25
    a1 = a - lr * ea * np.sum(w * g, axis=1)
    w1 = w - lr * ew * a[:, None] * g
    delta = lambda a_, w_: ew * a_**2 - ea * np.sum(w_**2, axis=1)
    np.testing.assert_allclose(rl.gd_drift_per_step(a, w, g, lr, ea, ew), delta(a1, w1) - delta(a, w),
                               rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"^need a of shape S and w, grad_beta of shape S \+ \(d,\)"):
        rl.gd_drift_per_step(a, w, g[:, :2], lr)
    with pytest.raises(ValueError, match="^need a of shape S"):
        rl.gd_drift_per_step(a[:2], w, g, lr)
    with pytest.raises(ValueError, match="^lr must be positive"):
        rl.gd_drift_per_step(a, w, g, 0.0)
    with pytest.raises(ValueError, match="^grad_beta must be finite"):
        rl.gd_drift_per_step(a, w, np.full_like(g, np.nan), lr)


# =============================================================== theory.rich_lazy: balanced, mirror
@pytest.mark.parametrize("w0, bs", [([0.4, -0.3], [0.0, 1.5]), ([-0.3, -0.1], [2.0, 0.0])])
def test_balanced_solution_matches_the_flow_in_mu_phi(w0, bs):
    w0, bs = np.array(w0), np.array(bs)
    a0 = np.linalg.norm(w0)  # balanced: a₀ = ‖w₀‖
    s = np.linalg.norm(bs)
    t = np.linspace(0, 4, 9)
    a, w = _whitened_flow(t, a0, w0, bs)
    mu_ref = a * np.linalg.norm(w, axis=1)
    phi_ref = w @ bs / (np.linalg.norm(w, axis=1) * s)
    mu, phi = rl.balanced_solution(t, s, a0**2, w0 @ bs / (a0 * s))
    np.testing.assert_allclose(mu, mu_ref, atol=1e-9)
    np.testing.assert_allclose(phi, phi_ref, atol=1e-9)


def test_balanced_solution_limits_and_errors():
    mu, phi = rl.balanced_solution(np.array([0.0, 400.0, 1e5]), 2.0, 0.1, -0.6)
    assert mu[0] == pytest.approx(0.1, rel=1e-13) and phi[0] == pytest.approx(-0.6, rel=1e-13)
    np.testing.assert_allclose(mu[1:], 2.0, rtol=1e-12)
    np.testing.assert_allclose(phi[1:], 1.0, rtol=1e-15)
    for args in ((1.0, 0.0, 0.1, 0.0), (1.0, 1.0, 0.0, 0.0), (1.0, 1.0, 0.1, -1.0),
                 (1.0, 1.0, 0.1, 1.0), (-0.1, 1.0, 0.1, 0.0)):
        with pytest.raises(ValueError, match=r"^need s > 0, μ₀ > 0, \|φ₀\| < 1 and t ≥ 0"):
            rl.balanced_solution(*args)
    with pytest.raises(ValueError, match="^phi0 must be finite"):
        rl.balanced_solution(1.0, 1.0, 0.1, np.nan)


@pytest.mark.parametrize("a, w", [(1.3, [0.4, -0.2]), (0.5, [0.9, 0.6]), (0.8, [0.0, 0.8])])
def test_mirror_potential_gradient_and_hessian(a, w):
    # built from (a, w): β = a w, δ = a² − ‖w‖²; ∇Φ = w and a (∇²Φ)⁻¹ = M = a²I + wwᵀ
    w = np.array(w)
    beta, delta, h = a * w, a**2 - w @ w, 1e-4
    phi = lambda b: rl.mirror_potential(b, delta)
    E = np.eye(2)
    grad = np.array([(phi(beta + h * e) - phi(beta - h * e)) / (2 * h) for e in E])
    np.testing.assert_allclose(grad, w, atol=1e-7)
    H = np.array([[(phi(beta + h * (ei + ej)) - phi(beta + h * (ei - ej)) - phi(beta - h * (ei - ej))
                    + phi(beta - h * (ei + ej))) / (4 * h * h) for ej in E] for ei in E])
    np.testing.assert_allclose(a * np.linalg.inv(H), a**2 * np.eye(2) + np.outer(w, w), rtol=1e-5)


def test_mirror_potential_vectorised_and_at_zero():
    beta = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(rl.mirror_potential(beta, 0.0), [2 / 3 * 5**1.5, 0.0])
    # β = 0 with δ > 0: Ω = δ, Φ = (δ − 2δ)√δ/3 = −δ^{3/2}/3; with δ < 0: Ω + δ = 0, Φ = 0
    assert rl.mirror_potential([0.0, 0.0], 4.0) == pytest.approx(-8 / 3)
    assert rl.mirror_potential([0.0, 0.0], -4.0) == 0.0
    with pytest.raises(ValueError, match="^beta must be finite"):
        rl.mirror_potential([np.inf, 0.0], 1.0)


# =============================================================== sim.rich_lazy: data and the neuron
@pytest.mark.parametrize("args, msg", [
    ((np.ones(2), np.ones(2), 1.0), r"^need XᵀX of shape \(d, d\) and Xᵀy of shape \(d,\)"),
    ((np.ones((2, 3)), np.ones(2), 1.0), r"^need XᵀX of shape \(d, d\)"),
    ((np.eye(2), np.ones(3), 1.0), r"^need XᵀX of shape \(d, d\) and Xᵀy of shape \(d,\); got \(2, 2\) and \(3,\)$"),
    ((np.array([[np.nan, 0], [0, 1.0]]), np.ones(2), 1.0), "^data must be finite"),
    ((np.eye(2), np.array([np.inf, 0]), 1.0), "^data must be finite"),
    ((np.eye(2), np.zeros(2), np.nan), "^data must be finite"),
    ((np.array([[1.0, 0.1], [0.0, 1.0]]), np.zeros(2), 1.0), "^XᵀX must be symmetric"),
    ((np.eye(2), np.zeros(2), -1.0), "^yᵀy must be non-negative"),
    ((np.diag([1.0, -1.0]), np.zeros(2), 1.0), r"^xtx \(XᵀX\) must be positive semi-definite"),
    ((np.eye(2), np.array([3.0, 4.0]), 24.0), r"^yty \(yᵀy\) = 24 is below"),
])
def test_sample_sums_checks(args, msg):
    with pytest.raises(ValueError, match=msg):
        rs.SampleSums(*args)


def test_sample_sums_stores_floats_and_scales_its_symmetry_tolerance():
    data = rs.SampleSums([[2, 0], [0, 2]], [1, 0], 1)
    assert data.xtx.dtype == float and data.xty.dtype == float and type(data.yty) is float
    assert data.d == 2 and data.yty == 1.0
    # symmetric up to 1e-12 of the largest entry: an off-diagonal 1e-7 against entries 1e6 is round-off
    rs.SampleSums(np.array([[1e6, 1e-7], [0.0, 1e6]]), np.zeros(2), 0.0)
    X, y = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, -1.0]]), np.array([1.0, 0.0, 2.0])
    s = rs.SampleSums.from_samples(X, y)
    np.testing.assert_allclose(s.xtx, [[2.0, 1.0], [1.0, 6.0]])
    np.testing.assert_allclose(s.xty, [3.0, 0.0])
    assert s.yty == 5.0
    with pytest.raises(ValueError, match=r"^need X of shape \(n, d\) and y of shape \(n,\)"):
        rs.SampleSums.from_samples(np.ones(3), np.ones(3))
    w = rs.SampleSums.whitened([3.0, 4.0])
    np.testing.assert_array_equal(w.xtx, np.eye(2))
    assert w.yty == 25.0 and np.array_equal(w.xty, [3.0, 4.0])
    with pytest.raises(ValueError, match="^beta_star must be a vector"):
        rs.SampleSums.whitened(np.ones((2, 2)))


def test_single_neuron_shape_check_names_the_sizes():
    data = rs.SampleSums.whitened(np.ones(3))
    for a, w in ((np.ones((2, 1)), np.ones((2, 3))), (np.ones(2), np.ones(3)), (np.ones(2), np.ones((3, 3)))):
        with pytest.raises(ValueError, match=r"^need a of shape \(E,\) and w of shape \(E, 3\)"):
            rs.SingleNeuron().grad({"a": a, "w": w}, data)


def _fd_hessian(model, params, data, h=1e-5):
    """Hessian of the loss of member 0 in θ = (a, w) by central differences of the gradient."""
    th0 = np.r_[params["a"][0], params["w"][0]]
    unpack = lambda th: {"a": th[:1].copy(), "w": th[1:][None, :].copy()}
    grad = lambda th: np.r_[[model.grad(unpack(th), data)["a"][0]], model.grad(unpack(th), data)["w"][0]]
    return np.stack([(grad(th0 + h * e) - grad(th0 - h * e)) / (2 * h) for e in np.eye(len(th0))])


@pytest.mark.parametrize("c, b", [(1.0, [3.0, 4.0]), (2.0, [2.0, 0.0]), (0.5, [0.0, 0.3])])
def test_stability_bound_is_two_over_the_hessian_top_eigenvalue(c, b):
    # XᵀX = cI: the minimum is β = b/c; at its balanced split a² = ‖w‖² = ‖β‖ the Hessian's
    # largest eigenvalue is 2c‖β‖ and GD with lr < 2/λ_max is stable there
    data = rs.SampleSums(c * np.eye(2), np.array(b), float(np.dot(b, b) / c))
    beta = np.array(b) / c
    s = np.linalg.norm(beta)
    params = {"a": np.array([np.sqrt(s)]), "w": (beta / np.sqrt(s))[None, :]}
    lam = np.linalg.eigvalsh(_fd_hessian(rs.SingleNeuron(), params, data)).max()
    assert rs.SingleNeuron().stability_bound(data) == pytest.approx(2.0 / lam, rel=1e-6)


def test_stability_bound_without_signal_is_infinite():
    assert rs.SingleNeuron().stability_bound(rs.SampleSums(np.eye(2), np.zeros(2), 0.0)) == np.inf


# =============================================================== sim.rich_lazy: initial conditions
def test_split_function_brackets_large_and_small_readouts():
    # δ = 1e4 needs |a| ≈ 100 (bracket doubled from 1); ‖β₀‖ tiny with δ < 0 needs |a| ≪ 1
    p = rs.split_function(np.array([[0.5, 0.5], [1e-5, 0.0], [0.3, -0.4]]), [1e4, -2.0, 0.0],
                          eta_a=0.7, eta_w=1.3, sign=[1, -1, 1])
    a, w = p["a"], p["w"]
    np.testing.assert_allclose(a[:, None] * w, [[0.5, 0.5], [1e-5, 0.0], [0.3, -0.4]], rtol=1e-14)
    np.testing.assert_allclose(1.3 * a**2 - 0.7 * np.sum(w**2, axis=1), [1e4, -2.0, 0.0],
                               rtol=1e-12, atol=1e-12)
    assert a[0] > 50 and a[1] < 0 and abs(a[1]) < 1e-2
    # balanced (δ = 0): η_w a⁴ = η_a‖β₀‖², so a² = ‖β₀‖√(η_a/η_w)
    assert p["a"][2] ** 2 == pytest.approx(0.5 * np.sqrt(0.7 / 1.3), rel=1e-13)


@pytest.mark.parametrize("kw, msg", [
    (dict(beta0=np.ones((1, 2, 2)), delta=1.0), r"^beta0 must have shape \(d,\) or \(E, d\)"),
    (dict(beta0=[np.nan, 1.0], delta=1.0), "^beta0 and delta must be finite"),
    (dict(beta0=[1.0, 1.0], delta=np.inf), "^beta0 and delta must be finite"),
    (dict(beta0=[1.0, 1.0], delta=1.0, eta_a=-1.0), "^rates must be positive and finite; got eta_a=-1.0"),
    (dict(beta0=[1.0, 1.0], delta=1.0, eta_w=np.inf), "^rates must be positive and finite; got eta_a=1.0, eta_w=inf"),
    (dict(beta0=[1.0, 1.0], delta=1.0, sign=2.0), r"^sign must be \+1 or -1"),
    (dict(beta0=[0.0, 0.0], delta=-0.5), "^beta0 = 0 with delta <= 0 forces a0 = 0"),
])
def test_split_function_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        rs.split_function(**kw)


def test_tangent_kernel_default_and_partial_rates():
    X = np.array([[1.0, 0.0], [0.5, 2.0]])
    a, w = np.array([1.5]), np.array([[0.2, -0.7]])
    # f_i = a wᵀx_i: ∂f/∂a = wᵀx_i, ∂f/∂w = a x_i
    J_a = (X @ w[0])[:, None]
    J_w = a[0] * X
    for rates, (ra, rw) in ((None, (1.0, 1.0)), ({"a": 3.0}, (3.0, 1.0)), ({"w": 0.5, "a": 2.0}, (2.0, 0.5))):
        K = rs.tangent_kernel(rs.SingleNeuron(), {"a": a, "w": w}, X, rates=rates)
        assert K.shape == (1, 2, 2)
        np.testing.assert_allclose(K[0], ra * J_a @ J_a.T + rw * J_w @ J_w.T, atol=1e-14)


def test_two_layer_init_shapes_scales_and_seeds():
    p = rs.two_layer_init((30, 40, 20), (0.1, 2.0), n_ensemble=2, seed=3)
    assert p["W1"].shape == (2, 40, 30) and p["W2"].shape == (2, 20, 40)
    assert np.std(p["W1"]) == pytest.approx(0.1, rel=0.05)
    assert np.std(p["W2"]) == pytest.approx(2.0, rel=0.05)
    assert abs(np.mean(p["W1"])) < 0.01 and not np.array_equal(p["W1"][0], p["W1"][1])
    q = rs.two_layer_init((30, 40, 20), (0.1, 2.0), n_ensemble=2, seed=3)
    assert all(np.array_equal(p[k], q[k]) for k in p)
    r = rs.two_layer_init((30, 40, 20), (0.1, 2.0), n_ensemble=2, seed=4)
    assert not np.allclose(p["W1"], r["W1"])
    d = rs.two_layer_init((2, 3, 1), (1.0, 1.0))
    assert d["W1"].shape == (1, 3, 2)
    assert np.array_equal(d["W1"], rs.two_layer_init((2, 3, 1), (1.0, 1.0), 1, 0)["W1"])
    for widths in ((3, 4), (3, 0, 2), (3, 4, 2, 1)):
        with pytest.raises(ValueError, match=r"^widths must be \(d, m, c\) with positive entries"):
            rs.two_layer_init(widths, (1.0, 1.0))
    for scales in ((1.0,), (1.0, -1.0), (0.0, 1.0), (1.0, 1.0, 1.0)):
        with pytest.raises(ValueError, match=r"^scales must be two positive numbers \(first layer, readout\)"):
            rs.two_layer_init((3, 4, 2), scales)


# =============================================================== sim.rich_lazy: two-layer ReLU
def test_two_layer_relu_by_hand():
    # units w₁ = (1, 0), w₂ = (0, −1), readouts 2 and 3; inputs (1, 1) and (−1, 2), targets 1
    params = {"W": np.array([[[1.0, 0.0], [0.0, -1.0]]]), "a": np.array([[2.0, 3.0]])}
    X, y = np.array([[1.0, 1.0], [-1.0, 2.0]]), np.array([1.0, 1.0])
    m = rs.TwoLayerReLU()
    np.testing.assert_allclose(m.predict(params, X), [[2.0, 0.0]])   # only unit 1 on sample 1
    np.testing.assert_allclose(m.loss(params, (X, y)), [0.5])       # ½·mean(1², 1²)
    g = m.grad(params, (X, y))                                       # residual/n = (½, −½)
    np.testing.assert_allclose(g["a"], [[0.5, 0.0]])
    np.testing.assert_allclose(g["W"], [[[1.0, 1.0], [0.0, 0.0]]])


@pytest.mark.parametrize("params, data", [
    ({"W": np.ones((1, 2, 3)), "a": np.ones((1, 2))}, (np.ones((4, 2)), np.ones(4))),
    ({"W": np.ones((2, 3)), "a": np.ones((1, 2))}, (np.ones((4, 3)), np.ones(4))),
    ({"W": np.ones((1, 2, 3)), "a": np.ones((1, 3))}, (np.ones((4, 3)), np.ones(4))),
    ({"W": np.ones((1, 2, 3)), "a": np.ones((1, 2))}, (np.ones((4, 3)), np.ones(3))),
])
def test_two_layer_relu_shape_check(params, data):
    with pytest.raises(ValueError, match=r"^need W \(E, m, d\), a \(E, m\), X \(n, d\), y \(n,\)"):
        rs.TwoLayerReLU().grad(params, data)


def test_relu_init_distribution_and_structure():
    tau, delta = np.array([0.5, 1.5]), np.array([-3.0, 0.7])
    p = rs.relu_init(400, 3, tau, delta, n_ensemble=2, seed=1)
    W, a = p["W"], p["a"]
    assert W.shape == (2, 400, 3) and a.shape == (2, 400)
    nw = np.linalg.norm(W, axis=2)
    np.testing.assert_allclose(np.abs(a) * nw, np.broadcast_to(tau[:, None] ** 2, nw.shape), rtol=1e-13)
    np.testing.assert_allclose(a**2 - nw**2, np.broadcast_to(delta[:, None], nw.shape), atol=1e-12)
    # symmetric: the second half repeats the first half's directions with negated readouts
    np.testing.assert_array_equal(W[:, 200:], W[:, :200])
    np.testing.assert_array_equal(a[:, 200:], -a[:, :200])
    dirs = W / nw[..., None]
    assert np.abs(dirs[:, :200].mean(axis=1)).max() < 0.15            # uniform on the sphere
    assert np.abs(np.mean(np.sign(a[:, :200]))) < 0.2                   # ±1 readout signs, balanced
    assert set(np.unique(np.sign(a))) == {-1.0, 1.0}
    q = rs.relu_init(400, 3, tau, delta, n_ensemble=2, seed=1)
    assert np.array_equal(q["W"], W) and np.array_equal(q["a"], a)
    assert not np.allclose(rs.relu_init(400, 3, tau, delta, n_ensemble=2, seed=2)["W"], W)
    assert not np.allclose(W[0] / nw[0][:, None], W[1] / nw[1][:, None])   # members differ


def test_relu_init_asymmetric_and_errors():
    p = rs.relu_init(5, 2, 0.3, 0.0, symmetric=False)
    assert p["W"].shape == (1, 5, 2)
    # δ = 0: |a| = ‖w‖ = τ
    np.testing.assert_allclose(np.abs(p["a"]), 0.3, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(p["W"], axis=2), 0.3, rtol=1e-14)
    assert not np.allclose(p["W"][0, :2], p["W"][0, 2:4])
    assert np.array_equal(rs.relu_init(4, 2, 0.3, 0.1)["W"], rs.relu_init(4, 2, 0.3, 0.1, 1, 0)["W"])
    for args in ((0, 2, 0.1, 0.0), (4, 0, 0.1, 0.0), (3, 2, 0.1, 0.0)):
        with pytest.raises(ValueError, match=r"^need m, d ≥ 1 \(and m even when symmetric\)"):
            rs.relu_init(*args)
    with pytest.raises(ValueError, match="^tau must be positive"):
        rs.relu_init(4, 2, [0.1, 0.0], 0.0, n_ensemble=2)


def test_activation_change_counts_flipped_pairs():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    W0 = np.array([[[1.0, 1.0], [-1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
    W = np.array([[[1.0, -2.0], [-1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
    # member 0: unit 0 goes off on samples 2 and 3 (z = −2, −1), unit 1 unchanged: 2 of 6 pairs
    np.testing.assert_allclose(rs.activation_change(W0, W, X), [2 / 6, 0.0])


def test_teacher_student_data_structure():
    X, y, T = rs.teacher_student_data(8, 2, 3, seed=5)
    ang = 2 * np.pi * np.arange(8) / 8
    np.testing.assert_allclose(X, np.stack([np.cos(ang), np.sin(ang)], axis=1), atol=1e-15)
    assert T["W"].shape == (3, 2) and T["a"].shape == (3,)
    np.testing.assert_allclose(np.linalg.norm(T["W"], axis=1), 1.0)
    assert set(np.abs(T["a"])) == {1.0}
    y_ref = np.array([sum(T["a"][j] * max(0.0, T["W"][j] @ x) for j in range(3)) for x in X])
    np.testing.assert_allclose(y, y_ref, atol=1e-15)
    X3, y3, T3 = rs.teacher_student_data(50, 4, 2, seed=5)
    assert X3.shape == (50, 4) and y3.shape == (50,)
    np.testing.assert_allclose(np.linalg.norm(X3, axis=1), 1.0)
    assert abs(X3.mean()) < 0.1 and X3.std() == pytest.approx(0.5, rel=0.15)  # 1/√d per coordinate
    X4, _, _ = rs.teacher_student_data(50, 4, 2, seed=6)
    assert not np.allclose(X3, X4)
    assert np.array_equal(rs.teacher_student_data(5, 3, 1)[0], rs.teacher_student_data(5, 3, 1, 0)[0])
    for args in ((0, 2, 1), (3, 0, 1), (3, 2, 0)):
        with pytest.raises(ValueError, match="^n, d and n_teacher must be positive"):
            rs.teacher_student_data(*args)


# =============================================================== theory.bias_free_relu
def test_alpha_domain_is_named():
    for bad in (-0.1, 1.1, np.nan):
        with pytest.raises(ValueError, match=r"^the leak alpha must lie in \[0, 1\] \(0 = ReLU, 1 = linear\)"):
            bfr.time_rescaling(bad)
    np.testing.assert_allclose(bfr.time_rescaling([0.0, 0.5, 1.0]), [0.5, 0.75, 1.0])
    np.testing.assert_allclose(bfr.weight_rescaling([0.0, 0.5, 1.0]) ** 2, [0.5, 0.75, 1.0])


def test_sigma_expr_is_the_leaky_relu():
    sig, (z, alpha) = bfr.sigma_expr()
    assert str(z) == "z" and str(alpha) == "alpha" and z.is_real and alpha.is_nonnegative
    assert sig.subs(z, 3) == 3 and sig.subs(z, 0) == 0
    assert sp.simplify(sig.subs(z, -2) + 2 * alpha) == 0
    f = sp.lambdify((z, alpha), sig, "numpy")
    for a in (0.0, 0.3, 1.0):
        for zv in (-1.5, -1e-9, 0.0, 2.0):
            assert f(zv, a) == max(zv, a * zv)


def test_sigma_decomposition_expr_with_given_arguments():
    sig, (z, alpha) = bfr.sigma_expr()
    dec = bfr.sigma_decomposition_expr()
    assert dec.free_symbols == {z, alpha}
    for zv in (-2, 0, 3):
        assert sp.simplify(dec.subs(z, zv) - sig.subs(z, zv)) == 0
    x = sp.Symbol("x", positive=True)
    assert sp.simplify(bfr.sigma_decomposition_expr(z=x) - x) == 0              # σ_α(x) = x for x > 0
    assert sp.simplify(bfr.sigma_decomposition_expr(z=-x) + alpha * x) == 0
    quarter = bfr.sigma_decomposition_expr(alpha=sp.Rational(1, 4))            # z from sigma_expr
    assert quarter.free_symbols == {z} and quarter.subs(z, -4) == -1
    assert bfr.sigma_decomposition_expr(sp.Integer(-6), sp.Rational(1, 3)) == -2


def test_odd_part_matrix_shapes_and_errors():
    W1, W2 = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([[1.0, 3.0]])
    # hand: W2W1 = [[1, −1]]; α = 0.5 gives k = 3/4; an array of leaks adds a leading axis
    np.testing.assert_allclose(bfr.odd_part_matrix(W1, W2, 0.5), [[0.75, -0.75]])
    A = bfr.odd_part_matrix(W1, W2, np.array([0.0, 1.0]))
    assert A.shape == (2, 1, 2)
    np.testing.assert_allclose(A, [[[0.5, -0.5]], [[1.0, -1.0]]])
    np.testing.assert_allclose(bfr.odd_part_matrix(W1, W2, np.array(0.0)), [[0.5, -0.5]])
    with pytest.raises(ValueError, match=r"^W1 and W2 must be at least 2-D"):
        bfr.odd_part_matrix(W1, np.ones(2), 0.0)
    with pytest.raises(ValueError, match="^hidden sizes disagree: W1 has 2 rows, W2 has 3 columns"):
        bfr.odd_part_matrix(W1, np.ones((1, 3)), 0.0)
    with pytest.raises(ValueError, match="^W1 must be finite"):
        bfr.odd_part_matrix(np.full((2, 2), np.nan), W2, 0.0)
    with pytest.raises(ValueError, match="^the leak alpha must lie in"):
        bfr.odd_part_matrix(W1, W2, [0.0, 2.0])


def test_odd_part_matrix_expr_by_hand():
    A = bfr.odd_part_matrix_expr([[1, 2], [0, -1]], [[1, 3]], sp.Rational(1, 2))
    assert A == sp.Matrix([[sp.Rational(3, 4), -sp.Rational(3, 4)]])


def test_function_strength_expr_solves_the_rescaled_logistic_equation():
    u, (t, s, u0, alpha, tau) = bfr.function_strength_expr()
    assert [str(x) for x in (t, s, u0, alpha, tau)] == ["t", "s", "u_0", "alpha", "tau"]
    assert alpha.is_nonnegative and s.is_positive and tau.is_positive
    vals = {s: sp.Rational(3, 2), u0: sp.Rational(1, 20), alpha: sp.Rational(1, 3), tau: sp.Rational(5, 4)}
    k = (1 + vals[alpha]) / 2
    ut = u.subs(vals)
    res = _mp(t, vals[tau] * sp.diff(ut, t) - 2 * k * ut * (vals[s] - ut))  # τũ' = 2kũ(s − ũ)
    for tv in ("0.3", "2.0"):
        assert abs(res(tv)) < 1e-20
    assert float(_mp(t, ut)("0")) == pytest.approx(float(k * vals[u0]), rel=1e-14)  # ũ(0) = k u₀


def test_half_time_expr_is_where_the_expr_reaches_half():
    ht, (s, u0, alpha, tau) = bfr.half_time_expr()
    assert [str(x) for x in (s, u0, alpha, tau)] == ["s", "u_0", "alpha", "tau"]
    assert alpha.is_nonnegative and all(x.is_positive for x in (s, u0, tau))
    u, (t, s2, u02, alpha2, tau2) = bfr.function_strength_expr()
    vals = dict(s=sp.Rational(2), u0=sp.Rational(1, 10), alpha=sp.Rational(1, 5), tau=sp.Rational(3, 2))
    th = ht.subs({s: vals["s"], u0: vals["u0"], alpha: vals["alpha"], tau: vals["tau"]})
    uh = u.subs({s2: vals["s"], u02: vals["u0"], alpha2: vals["alpha"], tau2: vals["tau"], t: th})
    assert abs(complex(sp.N(uh, 30)) - 1) < 1e-14


def test_function_strength_and_half_time_against_the_mode_ode():
    # τ ũ' = 2kũ(s − ũ), ũ(0) = k u₀ with k = (1 + α)/2, integrated here
    s, u0, alpha, tau = 1.4, 0.02, 0.3, 0.7
    k = (1 + alpha) / 2
    ev = lambda _t, u: u[0] - s / 2
    sol = solve_ivp(lambda _t, u: 2 * k * u * (s - u) / tau, (0, 6), [k * u0], t_eval=np.linspace(0, 6, 7),
                    events=ev, rtol=1e-12, atol=1e-14, method="DOP853")
    np.testing.assert_allclose(bfr.function_strength(sol.t, s, u0, alpha, tau), sol.y[0], rtol=1e-9)
    assert bfr.half_time(s, u0, alpha, tau) == pytest.approx(sol.t_events[0][0], rel=1e-9)
    L = bfr.loss_curve(sol.t, [s, 0.5], [u0, 0.01], alpha, tau, floor=0.2)
    sol2 = solve_ivp(lambda _t, u: 2 * k * u * (0.5 - u) / tau, (0, 6), [k * 0.01], t_eval=sol.t,
                     rtol=1e-12, atol=1e-14, method="DOP853")
    np.testing.assert_allclose(L, 0.2 + 0.5 * ((s - sol.y[0]) ** 2 + (0.5 - sol2.y[0]) ** 2), rtol=1e-9)


def test_half_time_and_strength_errors():
    with pytest.raises(ValueError, match="^s must be positive"):
        bfr.half_time(0.0, 0.1, 0.0)
    with pytest.raises(ValueError, match="^u0 must be positive"):
        bfr.half_time(1.0, -0.1, 0.0)
    with pytest.raises(ValueError, match="^tau must be positive"):
        bfr.half_time(1.0, 0.1, 0.0, tau=0.0)
    with pytest.raises(ValueError, match=r"^the half-learning time needs \(\(1\+alpha\)/2\)·u0 < s/2"):
        bfr.half_time(1.0, 0.5, 1.0)  # k u₀ = s/2 exactly: already half-way
    with pytest.raises(ValueError, match="^u0 must be positive"):
        bfr.function_strength(1.0, 1.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="^the leak alpha"):
        bfr.function_strength(1.0, 1.0, 0.1, 1.5)


def test_loss_curve_shapes_and_errors():
    L = bfr.loss_curve(np.array([0.0, 1.0]), [2.0, 1.0], [0.1], 1.0)  # one u₀ for both modes
    assert L.shape == (2,)
    assert L[0] == pytest.approx(0.5 * ((2.0 - 0.1) ** 2 + (1.0 - 0.1) ** 2))
    assert bfr.loss_curve(0.0, 2.0, 0.1, 0.0) == pytest.approx(0.5 * (2.0 - 0.05) ** 2)
    with pytest.raises(ValueError, match=r"^s must have shape \(m,\) and u0 shape \(m,\) or \(1,\)"):
        bfr.loss_curve([0.0], [[1.0, 2.0]], [0.1], 0.0)
    with pytest.raises(ValueError, match=r"^s must have shape \(m,\) and u0 shape \(m,\) or \(1,\); got \(2,\) and \(1, 2\)$"):
        bfr.loss_curve([0.0], [1.0, 2.0], [[0.1, 0.1]], 0.0)
    for floor in (-0.1, np.nan, np.inf):
        with pytest.raises(ValueError, match="^floor must be a non-negative number"):
            bfr.loss_curve([0.0], [1.0], [0.1], 0.0, floor=floor)
    with pytest.raises(ValueError, match="^t must be finite"):
        bfr.loss_curve([np.nan], [1.0], [0.1], 0.0)
    with pytest.raises(ValueError, match="^s must be positive"):
        bfr.loss_curve([0.0], [1.0, -1.0], [0.1], 0.0)


def test_linear_fit_scalars_singular_inputs_and_errors():
    B, floor = bfr.linear_fit(2.0, 3.0, 10.0)  # B = 3/2, L* = ½(10 − 4.5)
    assert B.shape == (1, 1) and B[0, 0] == pytest.approx(1.5) and floor == pytest.approx(2.75)
    assert type(floor) is float
    B, floor = bfr.linear_fit(np.diag([1.0, 0.0]), [[2.0, 0.0]], 5.0)  # pseudo-inverse on a null direction
    np.testing.assert_allclose(B, [[2.0, 0.0]])
    assert floor == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"^need sigma_xx \(d, d\) and sigma_yx \(n_out, d\)"):
        bfr.linear_fit(np.ones((2, 3)), np.ones((1, 3)), 1.0)
    with pytest.raises(ValueError, match="^need sigma_xx"):
        bfr.linear_fit(np.ones((1, 2, 2)), np.ones((1, 2)), 1.0)
    with pytest.raises(ValueError, match="^sigma_xx must be symmetric"):
        bfr.linear_fit([[1.0, 0.5], [0.0, 1.0]], [[0.0, 0.0]], 1.0)
    for tyy in (-1.0, np.nan):
        with pytest.raises(ValueError, match="^trace_yy must be a non-negative number"):
            bfr.linear_fit(np.eye(2), [[0.0, 0.0]], tyy)
    with pytest.raises(ValueError, match=r"^sigma_xx is numerically singular: Σ_yx Σ_xx⁺ is not finite"):
        bfr.linear_fit([[1e-300]], [[1e10]], 1.0)
    with pytest.raises(ValueError, match=r"^trace_yy = 3 is below tr\(B Σ_xy\)"):
        bfr.linear_fit(np.eye(2), [[2.0, 0.0]], 3.0)
    with pytest.raises(ValueError, match="^sigma_yx must be finite"):
        bfr.linear_fit(np.eye(2), [[np.nan, 0.0]], 3.0)


# =============================================================== sim.bias_free: data sets
def test_samples_promotes_vectors_and_checks_its_input():
    d = bf.Samples([1.0, -2.0, 3.0], [0.5, 1.0, -1.0])
    assert d.X.shape == (3, 1) and d.Y.shape == (3, 1)
    assert (d.n_in, d.n_out, d.n_samples) == (1, 1, 3)
    m = bf.Samples(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[1.0], [-1.0]])).moments()
    np.testing.assert_allclose(m.sigma_xx, [[0.5, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(m.sigma_yx, [[0.5, -1.0]])
    for X, Y in ((np.ones((3, 2)), np.ones((4, 1))), (np.ones((3, 2, 1)), np.ones((3, 1))),
                 (np.ones((3, 2)), np.ones((3, 1, 1)))):
        with pytest.raises(ValueError, match="^X and Y must be 2-D with the same number of rows"):
            bf.Samples(X, Y)
    with pytest.raises(ValueError, match="^no samples"):
        bf.Samples(np.ones((0, 2)), np.ones((0, 1)))
    with pytest.raises(ValueError, match="^X and Y must be finite"):
        bf.Samples(np.ones((2, 2)), [np.inf, 0.0])


def test_is_symmetric_is_a_multiset_test_with_tolerance():
    X = np.array([[1.0, 2.0], [-1.0, -2.0], [0.5, 0.0], [-0.5, 0.0]])
    Y = np.array([[1.0], [-1.0], [3.0], [-3.0]])
    assert bf.Samples(X, Y).is_symmetric()
    assert not bf.Samples(X, -Y * np.array([[1.0], [1.0], [1.0], [-1.0]])).is_symmetric()
    # a duplicated sample without a duplicated mirror is not symmetric
    assert not bf.Samples([[1.0], [1.0], [-1.0]], [[1.0], [1.0], [-1.0]]).is_symmetric()
    Xp = X + np.array([[1e-9, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert not bf.Samples(Xp, Y).is_symmetric()
    assert bf.Samples(Xp, Y).is_symmetric(atol=1e-8)
    assert not bf.Samples(Xp, Y).is_symmetric(atol=1e-10)


def test_symmetric_dataset_and_whiten():
    X, Y = np.array([[1.0, 0.0], [1.0, 3.0]]), np.array([[2.0], [-1.0]])
    d = bf.symmetric_dataset(X, Y)
    np.testing.assert_array_equal(d.X, [[1.0, 0.0], [1.0, 3.0], [-1.0, 0.0], [-1.0, -3.0]])
    np.testing.assert_array_equal(d.Y, [[2.0], [-1.0], [-2.0], [1.0]])
    # the symmetric whitening Σ^{-1/2}: Σ = XᵀX/P = [[1, 1.5], [1.5, 4.5]]
    S = d.X.T @ d.X / 4
    lam, Q = np.linalg.eigh(S)
    Xw = bf.whiten(d.X)
    np.testing.assert_allclose(Xw.T @ Xw / 4, np.eye(2), atol=1e-13)
    M = np.linalg.solve(d.X.T @ d.X, d.X.T @ Xw)  # the linear map actually applied
    np.testing.assert_allclose(M, M.T, atol=1e-12)  # symmetric, and positive:
    assert np.all(np.linalg.eigvalsh(M) > 0)
    np.testing.assert_allclose(M @ S @ M, np.eye(2), atol=1e-12)
    with pytest.raises(ValueError, match=r"^X must be 2-D \(P, d\)"):
        bf.whiten(np.ones(3))
    with pytest.raises(ValueError, match="^Σ_xx is singular; cannot whiten"):
        bf.whiten(np.array([[1.0, 2.0], [2.0, 4.0], [-1.0, -2.0]]))


def test_symmetric_teacher_data_structure_and_errors():
    s = np.array([2.0, 0.5])
    data, U, V = bf.symmetric_teacher_data(s, 3, 2, 3, seed=4)  # n_half = n_in is enough
    assert data.n_samples == 6 and data.is_symmetric(atol=1e-12)
    np.testing.assert_allclose(U @ U.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(3), atol=1e-12)
    T = U @ np.array([[2.0, 0, 0], [0, 0.5, 0]]) @ V.T
    np.testing.assert_allclose(data.Y, data.X @ T.T, atol=1e-12)
    again, U2, _ = bf.symmetric_teacher_data(s, 3, 2, 3, seed=4)
    assert np.array_equal(again.X, data.X) and np.array_equal(U2, U)
    other, _, _ = bf.symmetric_teacher_data(s, 3, 2, 3, seed=5)
    assert not np.allclose(other.X, data.X)
    cubic = lambda X: X[:, :2] ** 3
    d3, U3, V3 = bf.symmetric_teacher_data(s, 3, 2, 4, seed=1, odd_extra=cubic)
    np.testing.assert_allclose(d3.Y, d3.X @ (U3 @ np.array([[2.0, 0, 0], [0, 0.5, 0]]) @ V3.T).T
                               + d3.X[:, :2] ** 3, atol=1e-12)
    for args in (([1.0, 1.0, 1.0], 3, 2, 5), ([-1.0], 3, 2, 5), ([[1.0]], 3, 2, 5)):
        with pytest.raises(ValueError, match=r"^need at most min\(n_in, n_out\) non-negative singular values"):
            bf.symmetric_teacher_data(*args)
    with pytest.raises(ValueError, match="^need n_half ≥ n_in samples to whiten"):
        bf.symmetric_teacher_data([1.0], 3, 2, 2)
    with pytest.raises(ValueError, match="^n_in must be ≥ 1"):
        bf.symmetric_teacher_data([1.0], 0, 2, 2)
    with pytest.raises(ValueError, match="^odd_extra must be an odd function of x"):
        bf.symmetric_teacher_data([1.0], 2, 2, 4, odd_extra=lambda X: X**2)


def test_parity_data_lists_every_corner():
    d1 = bf.parity_data(1)
    np.testing.assert_array_equal(np.sort(d1.X[:, 0]), [-1.0, 1.0])
    np.testing.assert_array_equal(d1.Y, d1.X)
    d = bf.parity_data()
    assert d.X.shape == (8, 3) and len({tuple(x) for x in d.X}) == 8
    assert set(np.unique(d.X)) == {-1.0, 1.0}
    np.testing.assert_array_equal(d.Y[:, 0], d.X[:, 0] * d.X[:, 1] * d.X[:, 2])
    d2 = bf.parity_data(2)
    assert d2.n_samples == 4 and not d2.is_symmetric()  # even parity is an even function
    with pytest.raises(ValueError, match="^n_bits must be ≥ 1"):
        bf.parity_data(0)


# =============================================================== sim.bias_free: the network
@pytest.mark.parametrize("kw, msg", [
    (dict(widths=(3, 2)), r"^widths must be \(n_in, hidden…, n_out\) with at least one hidden layer"),
    (dict(widths=(3, 0, 2)), r"^widths must be \(n_in, hidden…, n_out\) with at least one hidden layer; got \(3, 0, 2\)$"),
    (dict(widths=(3, 2, 1), alpha=np.zeros((2, 2))), r"^alpha must be a scalar or 1-D array in \[0, 1\]"),
    (dict(widths=(3, 2, 1), alpha=-0.5), "^alpha must be a scalar or 1-D array"),
    (dict(widths=(3, 2, 1), alpha=[0.5, 1.5]), "^alpha must be a scalar or 1-D array"),
    (dict(widths=(3, 2, 1), alpha=np.nan), "^alpha must be a scalar or 1-D array"),
    (dict(widths=(3, 2, 1), grad_at_zero=-0.1), r"^grad_at_zero must lie in \[0, 1\]"),
    (dict(widths=(3, 2, 1), grad_at_zero=1.1), r"^grad_at_zero must lie in \[0, 1\]"),
    (dict(widths=(3, 2.5, 1)), "^widths must hold whole numbers"),
])
def test_bias_free_net_constructor_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        bf.BiasFreeNet(**kw)


def test_bias_free_net_attributes_and_shape_checks():
    net = bf.BiasFreeNet((3, 4, 5, 2), alpha=0.1, grad_at_zero=1.0)
    assert net.widths == (3, 4, 5, 2) and net.n_layers == 3 and net.names == ("W1", "W2", "W3")
    bf.BiasFreeNet((3, 4, 2), grad_at_zero=0.0)  # both ends of [0, 1] are subgradients
    data = bf.Samples(np.ones((2, 3)), np.ones((2, 2)))
    p = bf.gaussian_init((3, 4, 5, 2), 0.5, n_ensemble=2)
    with pytest.raises(ValueError, match=r"^data has n_in=3, n_out=2; network expects 4 and 2"):
        bf.BiasFreeNet((4, 4, 2)).loss(bf.gaussian_init((4, 4, 2), 0.5), data)
    with pytest.raises(ValueError, match=r"^data has n_in=3, n_out=2; network expects 3 and 1"):
        bf.BiasFreeNet((3, 4, 1)).loss(bf.gaussian_init((3, 4, 1), 0.5), data)
    with pytest.raises(ValueError, match="^missing parameter 'W3'"):
        net.loss({"W1": p["W1"], "W2": p["W2"]}, data)
    with pytest.raises(ValueError, match=r"^W2 has shape \(2, 4, 4\); expected \(E, 5, 4\)"):
        net.loss({**p, "W2": np.ones((2, 4, 4))}, data)
    with pytest.raises(ValueError, match=r"^W1 has shape \(4, 3\); expected \(E, 4, 3\)"):
        net.loss({**p, "W1": np.ones((4, 3))}, data)
    with pytest.raises(ValueError, match="^parameters disagree on the ensemble size"):
        net.grad({**p, "W3": np.ones((3, 2, 5))}, data)
    with pytest.raises(ValueError, match="^alpha has 2 entries but the ensemble has 3 members"):
        bf.BiasFreeNet((3, 4, 2), alpha=[0.0, 1.0]).predict(bf.gaussian_init((3, 4, 2), 1.0, 3), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"^X must have shape \(P, 3\)"):
        net.predict(p, np.ones((2, 4)))


def test_bias_free_net_forward_and_gradient_by_hand():
    # one hidden unit per sign: f(x) = 2σ(x₁ − x₂) − σ(x₂), α = 0.25
    p = {"W1": np.array([[[1.0, -1.0], [0.0, 1.0]]]), "W2": np.array([[[2.0, -1.0]]])}
    X = np.array([[2.0, 1.0], [0.0, 3.0]])
    Y = np.array([[1.0], [0.0]])
    net = bf.BiasFreeNet((2, 2, 1), alpha=0.25)
    # sample 1: z = (1, 1) → f = 2 − 1 = 1; sample 2: z = (−3, 3) → f = 2(−0.75) − 3 = −4.5
    np.testing.assert_allclose(net.predict(p, X), [[[1.0], [-4.5]]])
    assert net.loss(p, bf.Samples(X, Y)) == pytest.approx([0.5 * (0.0 + 4.5**2) / 2])
    g = net.grad(p, bf.Samples(X, Y))
    # ∂L/∂f = (0, −2.25); ∂L/∂W2 = Σ δ h = −2.25·(−0.75, 3); ∂L/∂W1 = Σ δ W2 σ'(z) x
    np.testing.assert_allclose(g["W2"], [[[1.6875, -6.75]]])
    np.testing.assert_allclose(g["W1"], [[[0.0, -2.25 * 2 * 0.25 * 3], [0.0, -2.25 * -1 * 3]]])


@pytest.mark.parametrize("alpha, grad_at_zero, slope", [
    (0.2, None, 0.6), (0.2, 1.0, 1.0), (0.2, 0.0, 0.0), (0.0, None, 0.5), (1.0, None, 1.0)])
def test_derivative_at_exactly_zero(alpha, grad_at_zero, slope):
    # one unit with wᵀx = 0: f = 0, ∂L/∂f = −1, so ∂L/∂W1 = −v σ'(0) x with v = 2
    p = {"W1": np.array([[[0.0, 1.0]]]), "W2": np.array([[[2.0]]])}
    data = bf.Samples(np.array([[1.0, 0.0]]), np.array([[1.0]]))
    g = bf.BiasFreeNet((2, 1, 1), alpha=alpha, grad_at_zero=grad_at_zero).grad(p, data)
    np.testing.assert_allclose(g["W1"], [[[-2.0 * slope, 0.0]]], atol=1e-15)
    np.testing.assert_allclose(g["W2"], [[[0.0]]])


def test_per_member_leak_in_the_forward_pass():
    p = {"W1": np.tile(np.array([[[1.0], [-1.0]]]), (2, 1, 1)), "W2": np.ones((2, 1, 2))}
    f = bf.BiasFreeNet((1, 2, 1), alpha=[0.0, 0.5]).predict(p, np.array([[2.0]]))
    np.testing.assert_allclose(f[:, 0, 0], [2.0, 2.0 - 1.0])   # σ(2) + σ(−2) with α = 0 and ½


def test_even_odd_parts_by_hand():
    # f(x) = 3 relu(2x): odd part 3x, even part 3|x|
    p = {"W1": np.array([[[2.0]]]), "W2": np.array([[[3.0]]])}
    odd, even = bf.BiasFreeNet((1, 1, 1), alpha=0.0).even_odd(p, [[1.0], [-2.0]])
    np.testing.assert_allclose(odd[0, :, 0], [3.0, -6.0])
    np.testing.assert_allclose(even[0, :, 0], [3.0, 6.0])
    # leaky: odd part ((1+α)/2)·6x, even part ((1−α)/2)·6|x|
    odd, even = bf.BiasFreeNet((1, 1, 1), alpha=0.5).even_odd(p, np.array([[1.0]]))
    assert odd[0, 0, 0] == pytest.approx(4.5) and even[0, 0, 0] == pytest.approx(1.5)


def test_linear_readout_is_least_squares_of_the_outputs():
    rng = np.random.default_rng(2)
    data = bf.Samples(rng.standard_normal((10, 3)), rng.standard_normal((10, 2)))
    net = bf.BiasFreeNet((3, 4, 2), alpha=0.1)
    p = bf.gaussian_init(net.widths, 0.8, n_ensemble=2, seed=3)
    B = net.linear_readout(p, data)
    assert B.shape == (2, 2, 3)
    F = net.predict(p, data.X)
    for e in range(2):
        ref, *_ = np.linalg.lstsq(data.X, F[e], rcond=None)
        np.testing.assert_allclose(B[e], ref.T, atol=1e-12)


# =============================================================== sim.bias_free: initialisations
def test_gaussian_init_scale_fan_in_and_seeds():
    p = bf.gaussian_init((50, 40, 30), 0.5, n_ensemble=2, seed=1)
    assert p["W1"].shape == (2, 40, 50) and p["W2"].shape == (2, 30, 40) and set(p) == {"W1", "W2"}
    assert np.std(p["W1"]) == pytest.approx(0.5, rel=0.05) and np.std(p["W2"]) == pytest.approx(0.5, rel=0.05)
    q = bf.gaussian_init((50, 40, 30), 0.5, n_ensemble=2, seed=1, fan_in=True)
    assert np.std(q["W1"]) == pytest.approx(0.5 / np.sqrt(50), rel=0.05)
    assert np.std(q["W2"]) == pytest.approx(0.5 / np.sqrt(40), rel=0.05)
    assert np.array_equal(bf.gaussian_init((50, 40, 30), 0.5, n_ensemble=2, seed=1)["W1"], p["W1"])
    assert not np.allclose(bf.gaussian_init((50, 40, 30), 0.5, n_ensemble=2, seed=2)["W1"], p["W1"])
    assert not np.allclose(p["W1"][0], p["W1"][1])
    d = bf.gaussian_init((2, 3), 1.0)  # a single layer is allowed here; defaults E = 1, seed 0
    assert d["W1"].shape == (1, 3, 2)
    assert np.array_equal(d["W1"], bf.gaussian_init((2, 3), 1.0, 1, 0)["W1"])
    with pytest.raises(ValueError, match="^widths must list at least input and output sizes"):
        bf.gaussian_init((3,), 1.0)
    with pytest.raises(ValueError, match="^widths entries must be ≥ 1"):
        bf.gaussian_init((3, 0, 1), 1.0)
    with pytest.raises(ValueError, match="^scale must be positive"):
        bf.gaussian_init((3, 2), 0.0)
    with pytest.raises(ValueError, match="^n_ensemble must be ≥ 1"):
        bf.gaussian_init((3, 2), 1.0, n_ensemble=0)


def test_paired_init_structure_and_errors():
    W, V = np.arange(6.0).reshape(1, 2, 3), np.array([[[1.0, -2.0]]])
    p = bf.paired_init(W, V)
    np.testing.assert_array_equal(p["W1"], np.concatenate([W, -W], axis=1))
    np.testing.assert_array_equal(p["W2"], [[[1.0, -2.0, -1.0, 2.0]]])
    for W_, V_ in ((np.ones((2, 3)), V), (W, np.ones((1, 2))), (W, np.ones((2, 1, 2))), (W, np.ones((1, 1, 3)))):
        with pytest.raises(ValueError, match=r"^need W1_half \(E, h, d\) and W2_half \(E, n_out, h\)"):
            bf.paired_init(W_, V_)


def test_paired_random_init_draws_a_gaussian_half():
    p = bf.paired_random_init((20, 60, 10), 0.3, n_ensemble=2, seed=7)
    W1, W2 = p["W1"], p["W2"]
    assert W1.shape == (2, 60, 20) and W2.shape == (2, 10, 60)
    np.testing.assert_array_equal(W1[:, 30:], -W1[:, :30])
    np.testing.assert_array_equal(W2[:, :, 30:], -W2[:, :, :30])
    assert np.std(W1) == pytest.approx(0.3, rel=0.05) and np.std(W2) == pytest.approx(0.3, rel=0.05)
    assert np.array_equal(bf.paired_random_init((20, 60, 10), 0.3, n_ensemble=2, seed=7)["W1"], W1)
    assert not np.allclose(bf.paired_random_init((20, 60, 10), 0.3, n_ensemble=2, seed=8)["W1"], W1)
    assert bf.paired_random_init((2, 2, 1), 1.0)["W1"].shape == (1, 2, 2)
    with pytest.raises(ValueError, match=r"^the paired initialisation is defined for two-layer nets"):
        bf.paired_random_init((3, 4, 4, 1), 0.1)
    for h in (3, 0):
        with pytest.raises(ValueError, match=f"^the paired initialisation needs an even number of hidden units; got {h}$"):
            bf._even_hidden(h)
    assert bf._even_hidden(2) == 1


def test_paired_decoupled_init_per_mode_strengths():
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    V, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    p = bf.paired_decoupled_init(U, V, 4, [0.2, 0.05], n_ensemble=2, seed=3)
    W1, W2 = p["W1"], p["W2"]
    assert W1.shape == (2, 4, 3) and W2.shape == (2, 2, 4)
    np.testing.assert_array_equal(W1[:, 2:], -W1[:, :2])
    prod = W2 @ W1
    for e in range(2):
        np.testing.assert_allclose(U.T @ prod[e] @ V, [[0.2, 0, 0], [0, 0.05, 0]], atol=1e-14)
    np.testing.assert_allclose(W1 @ np.swapaxes(W1, 1, 2), np.swapaxes(W2, 1, 2) @ W2, atol=1e-14)
    q = bf.paired_decoupled_init(U, V, 4, 0.1)
    assert q["W1"].shape == (1, 4, 3)
    with pytest.raises(ValueError, match="^u0 must be positive"):
        bf.paired_decoupled_init(U, V, 4, [0.1, 0.0])
    with pytest.raises(ValueError, match="^u0 must be finite"):
        bf.paired_decoupled_init(U, V, 4, np.nan)
    with pytest.raises(ValueError, match="^u0 must not be empty"):
        bf.paired_decoupled_init(U, V, 4, [])
    with pytest.raises(ValueError, match="^the paired initialisation needs an even number of hidden units; got 5$"):
        bf.paired_decoupled_init(U, V, 5, 0.1)
    with pytest.raises(ValueError, match="^n_hidden must be an integer"):
        bf.paired_decoupled_init(U, V, 4.5, 0.1)


def test_neuron_balance_and_layer_spectra_by_hand():
    p = {"W1": np.array([[[1.0, 2.0], [0.0, 3.0]]]), "W2": np.array([[[1.0, 1.0]]])}
    (b,) = bf.neuron_balance(p)
    np.testing.assert_allclose(b, [[5.0 - 1.0, 9.0 - 1.0]])  # ‖in‖² − ‖out‖²
    R = np.array([[0.6, -0.8], [0.8, 0.6]])
    q = {f"W{l}": np.eye(2)[None] for l in range(1, 11)}
    q["W10"] = (R @ np.diag([1.0, 3.0]))[None]
    q["W2"] = 2 * np.eye(2)[None]
    sv = bf.layer_spectra(q)  # ordered W1, W2, …, W10 (numerically, not as strings)
    assert len(sv) == 10
    np.testing.assert_allclose(sv[1], [[2.0, 2.0]])
    np.testing.assert_allclose(sv[9], [[3.0, 1.0]])
    np.testing.assert_allclose(bf.layer_spectra(q, names=["W10"])[0], [[3.0, 1.0]])
    bal = bf.neuron_balance(q)
    assert len(bal) == 9
    np.testing.assert_allclose(bal[0], [[1.0 - 4.0, 1.0 - 4.0]])   # W1 in, W2 out
    np.testing.assert_allclose(bal[1], [[4.0 - 1.0, 4.0 - 1.0]])   # W2 in, W3 out
    np.testing.assert_allclose(bal[8], [[1.0 - 1.0, 1.0 - 9.0]])   # W9 in, W10 out
    np.testing.assert_allclose(bf.neuron_balance(q, names=["W2", "W10"])[0], [[4.0 - 1.0, 4.0 - 9.0]])


# =============================================================== names in non-finite errors, defaults
NAN = np.nan
NONFINITE = [
    (lambda: rl.neuron_kernel([[NAN, 0.0]], [1.0], [[1.0, 0.0]]), "X"),
    (lambda: rl.neuron_kernel([[1.0, 0.0]], [NAN], [[1.0, 0.0]]), "a"),
    (lambda: rl.neuron_kernel([[1.0, 0.0]], [1.0], [[NAN, 0.0]]), "w"),
    (lambda: rl.gd_drift_per_step(NAN, [1.0, 0.0], [1.0, 0.0], 0.1), "a"),
    (lambda: rl.gd_drift_per_step(1.0, [NAN, 0.0], [1.0, 0.0], 0.1), "w"),
    (lambda: rl.kernel_distance(np.eye(2), np.full((2, 2), NAN)), "K"),
    (lambda: rl.mu_phi(NAN, [1.0, 0.0], [1.0, 0.0]), "a"),
    (lambda: rl.mu_phi(1.0, [NAN, 0.0], [1.0, 0.0]), "w"),
    (lambda: rl.riccati_nu([NAN], 1.0, 1.0, 0.0), "t"),
    (lambda: rl.riccati_nu([1.0], 1.0, 1.0, NAN), "nu0"),
    (lambda: rl.riccati_blowup_time(1.0, NAN, 0.0), "s"),
    (lambda: rl.learning_time(NAN, 1.0, 0.1, 0.5), "delta"),
    (lambda: rl.learning_time(0.5, NAN, 0.1, 0.5), "s"),
    (lambda: rl.learning_time(0.5, 1.0, 0.1, NAN), "mu"),
    (lambda: rl.balanced_solution([NAN], 1.0, 0.1, 0.0), "t"),
    (lambda: rl.balanced_solution(1.0, 1.0, NAN, 0.0), "mu0"),
    (lambda: rl.function_space_matrix([NAN, 0.0], 1.0), "beta"),
    (lambda: rl.separatrix_ratio(1.0, [NAN, 0.0], [1.0, 0.0]), "w0"),
    (lambda: rl.separatrix_ratio(1.0, [1.0, 0.0], [NAN, 0.0]), "beta_star"),
    (lambda: bfr.loss_curve([0.0], [NAN], [0.1], 0.0), "s"),
    (lambda: bfr.loss_curve([0.0], [1.0], [NAN], 0.0), "u0"),
    (lambda: bfr.odd_part_matrix(np.ones((2, 2)), np.full((1, 2), NAN), 0.0), "W2"),
]


@pytest.mark.parametrize("call, name", NONFINITE)
def test_non_finite_input_is_named(call, name):
    with pytest.raises(ValueError, match=f"^{name} must be "):
        call()


def test_default_rates_are_one():
    a, w = 0.9, np.array([0.3, -1.1])
    np.testing.assert_allclose(rl.function_space_matrix(a * w, a**2 - w @ w), a**2 * np.eye(2) + np.outer(w, w),
                               atol=1e-13)
    g, lr = np.array([0.4, 0.2]), 0.3
    d_after = (a - lr * w @ g) ** 2 - np.sum((w - lr * a * g) ** 2)
    assert rl.gd_drift_per_step(a, w, g, lr) == pytest.approx(d_after - (a**2 - w @ w), rel=1e-12)
    # balanced_solution at s < 1 is a valid call
    mu, phi = rl.balanced_solution(0.0, 0.5, 0.1, 0.2)
    assert mu == pytest.approx(0.1) and phi == pytest.approx(0.2)


def test_activation_change_treats_zero_preactivation_as_off():
    X = np.array([[1.0, 0.0]])
    W0 = np.array([[[0.0, 1.0]]])   # z = 0: relu(0) = 0, the unit is off
    W = np.array([[[1.0, 1.0]]])    # z = 1: on
    np.testing.assert_allclose(rs.activation_change(W0, W, X), [1.0])
    np.testing.assert_allclose(rs.activation_change(W0, -W, X), [0.0])


def test_paired_inits_types_defaults_and_seeds():
    with pytest.raises(ValueError, match=r"^need W1_half \(E, h, d\) and W2_half \(E, n_out, h\)"):
        bf.paired_init(np.ones((1, 2)), np.ones((1, 1, 2)))
    assert type(bf._even_hidden(4)) is int and bf._even_hidden(4) == 2
    p = bf.paired_init(np.ones((1, 1, 2), dtype=int), np.ones((1, 1, 1), dtype=int))
    assert p["W1"].dtype == float and p["W2"].dtype == float
    assert np.array_equal(bf.paired_random_init((2, 4, 1), 1.0)["W1"], bf.paired_random_init((2, 4, 1), 1.0, 1, 0)["W1"])
    with pytest.raises(ValueError, match="^widths must hold whole numbers"):
        bf.paired_random_init((3, 4.5, 1), 0.1)
    U, V = np.eye(2), np.eye(2)
    a = bf.paired_decoupled_init(U, V, 4, 0.1, seed=3)
    b = bf.paired_decoupled_init(U, V, 4, 0.1, seed=3)
    c = bf.paired_decoupled_init(U, V, 4, 0.1)
    assert np.array_equal(a["W1"], b["W1"]) and not np.allclose(a["W1"], c["W1"])
    np.testing.assert_allclose(a["W2"] @ a["W1"], c["W2"] @ c["W1"], atol=1e-14)  # same product
    assert np.array_equal(c["W1"], bf.paired_decoupled_init(U, V, 4, 0.1, 1, 0)["W1"])
