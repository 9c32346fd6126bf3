"""Claims of Chapter 1 (deep linear networks; Saxe, McClelland & Ganguli 2014).

Symbolic claims return an expression that sympy must simplify to exactly zero; numeric claims
compare a closed form from :mod:`theorylib.theory.deep_linear` with an independent computation
(GD, ``solve_ivp`` or quadrature from :mod:`theorylib.sim` / scipy).

Notation of the book: in a two-layer network ``w`` is the first-layer (input) factor of a mode
and ``a`` the second-layer (readout) factor; the conserved balance is ``δ = a² − w²`` per mode
and ``Δ = W₂ᵀW₂ − W₁W₁ᵀ`` for the matrices; ``L`` is the number of weight layers. The library's
argument names stay as they are: ``unbalanced_limit(s, a0, b0)`` takes the first-layer factor
as ``a0`` and the readout factor as ``b0``; ``n_weights`` is ``L``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.integrate import quad

from theorylib import sim
from theorylib.claims import claim
from theorylib.sim.linear import ScalarChains
from theorylib.symbolic import gradient_flow, hessian, matrix_symbols, symmetric_matrix_symbols, time_derivative
from theorylib.theory import deep_linear as dl

CH = "ch01"

# The validation setting of the chapter.
S_VALUES = np.array([3.0, 2.0, 1.0, 0.5])
N_UNITS = 8
U0 = 1e-3
T_END = 8.0
# Input covariance Σ_xx = V diag(LAMBDAS) Vᵀ sharing the right singular vectors of Σ_yx.
LAMBDAS = np.array([2.0, 0.5, 1.5, 1.2, 1.0, 1.0, 1.0, 1.0])
TAU_FLOW = 2.0
# Deep scalar chains: every depth from 1 to 16 (around the peak), then deeper ones.
DEPTHS = tuple(range(1, 17)) + (20, 24, 32, 48, 64)
DEEP_LR, DEEP_U0, DEEP_T = 4e-3, 1e-3, 34.0


def two_layer_symbols(n_in=2, n_hidden=2, n_out=2):
    """Symbolic two-layer network: weights, a symmetric Σ_xx, Σ_yx and the loss without Σ_yy."""
    W1 = matrix_symbols("w", n_hidden, n_in, real=True)
    W2 = matrix_symbols("a", n_out, n_hidden, real=True)
    Sxx = symmetric_matrix_symbols("c", n_in, real=True)
    Syx = matrix_symbols("m", n_out, n_in, real=True)
    W = W2 * W1
    # ½𝔼‖y − Wx‖² up to the constant ½tr Σ_yy
    loss = -(Syx.T * W).trace() + sp.Rational(1, 2) * (W * Sxx * W.T).trace()
    return W1, W2, Sxx, Syx, loss


def rotated_two_mode_symbols():
    """Two modes, two hidden units, in SVD coordinates with Σ_xx = V diag(λ1, λ2) Vᵀ."""
    s = sp.symbols("s1 s2", positive=True)
    lam = sp.symbols("lambda1 lambda2", positive=True)
    Wb1 = matrix_symbols("w", 2, 2, real=True)
    Wb2 = matrix_symbols("a", 2, 2, real=True)
    W = Wb2 * Wb1
    loss = -(sp.diag(*s) * W.T).trace() + sp.Rational(1, 2) * (W * sp.diag(*lam) * W.T).trace()
    return s, lam, Wb1, Wb2, loss


@claim("ch01-flow", CH, "symbolic",
       "The gradient flow of ½𝔼‖y − W₂W₁x‖² is τẆ₁ = W₂ᵀ(Σ_yx − W₂W₁Σ_xx), τẆ₂ = (Σ_yx − W₂W₁Σ_xx)W₁ᵀ.",
       ref="thm-ch01-conserved")
def _flow():
    W1, W2, Sxx, Syx, loss = two_layer_symbols()
    f1, f2 = gradient_flow(loss, [W1, W2])
    R = Syx - W2 * W1 * Sxx
    return (f1 - W2.T * R).col_join(f2 - R * W1.T)


@claim("ch01-conserved", CH, "symbolic",
       "The balance Δ = W₂ᵀW₂ − W₁W₁ᵀ is constant under the gradient flow, for any Σ_xx and Σ_yx.",
       ref="thm-ch01-conserved")
def _conserved():
    W1, W2, Sxx, Syx, loss = two_layer_symbols()
    flows = gradient_flow(loss, [W1, W2])
    return time_derivative(W2.T * W2 - W1 * W1.T, [W1, W2], flows).applyfunc(sp.expand)


@claim("ch01-decoupled", CH, "symbolic",
       "If Σ_xx = VΛVᵀ, diagonal weights in SVD coordinates stay diagonal, and each mode follows "
       "τẇ = a(s − λaw), τȧ = w(s − λaw).",
       ref="thm-ch01-decoupling")
def _decoupled():
    s, lam, Wb1, Wb2, loss = rotated_two_mode_symbols()
    f1, f2 = gradient_flow(loss, [Wb1, Wb2])
    off = {Wb1[0, 1]: 0, Wb1[1, 0]: 0, Wb2[0, 1]: 0, Wb2[1, 0]: 0}
    res = []
    for k in range(2):
        w, a = Wb1[k, k], Wb2[k, k]
        res.append(f1[k, k].subs(off) - a * (s[k] - lam[k] * a * w))
        res.append(f2[k, k].subs(off) - w * (s[k] - lam[k] * a * w))
    res += [f1[0, 1].subs(off), f1[1, 0].subs(off), f2[0, 1].subs(off), f2[1, 0].subs(off)]
    return sp.Matrix(res)


@claim("ch01-origin-saddle", CH, "symbolic",
       "For one mode, E = ½(s − aw)² has Hessian eigenvalues ±s at the origin (a saddle) and "
       "0, a² + w² on the hyperbola aw = s (a degenerate minimum).",
       ref="thm-ch01-saddles")
def _origin():
    w, a = sp.symbols("w a", real=True)
    s = sp.symbols("s", positive=True)
    E = (s - a * w) ** 2 / 2
    H0 = hessian(E, [w, a], {w: 0, a: 0})
    H1 = hessian(E, [w, a], {a: s / w})
    lam = sp.symbols("lam")
    return sp.Matrix([
        *(H0 - sp.Matrix([[0, -s], [-s, 0]])),
        sp.expand(H1.charpoly(lam).as_expr() - lam * (lam - (w**2 + (s / w) ** 2))),
    ])


@claim("ch01-weak-mode-saddle", CH, "symbolic",
       "With one hidden unit and modes s₁ > s₂, every fixed point that learns s₂ (w₂a₂ = s₂) is a "
       "saddle: the Hessian block of (w₁, a₁) has determinant s₂² − s₁² < 0; at the balanced one "
       "(w₂ = a₂) the negative eigenvalue is s₂ − s₁, and the balanced point that learns s₁ has none.",
       ref="thm-ch01-saddles")
def _weak_saddle():
    s1, s2 = sp.symbols("s1 s2", positive=True)
    w1, w2, a1, a2 = sp.symbols("w1 w2 a1 a2", real=True)
    W1, W2 = sp.Matrix([[w1, w2]]), sp.Matrix([[a1], [a2]])
    loss = sp.Rational(1, 2) * sum(e**2 for e in (sp.diag(s1, s2) - W2 * W1))
    lam = sp.symbols("lam")
    Hw = hessian(loss, [W1, W2], {w1: 0, a1: 0, w2: sp.sqrt(s2), a2: sp.sqrt(s2)})
    Hs = hessian(loss, [W1, W2], {w1: sp.sqrt(s1), a1: sp.sqrt(s1), w2: 0, a2: 0})
    want_w = lam * (lam - (s2 - s1)) * (lam - (s1 + s2)) * (lam - 2 * s2)
    want_s = lam * (lam - (s1 - s2)) * (lam - (s1 + s2)) * (lam - 2 * s1)
    # any weak fixed point: w₂ free, a₂ = s₂/w₂; the (w₁, a₁) block is [[a₂², −s₁], [−s₁, w₂²]]
    H_any = hessian(loss, [W1, W2], {w1: 0, a1: 0, a2: s2 / w2})
    block = H_any.extract([0, 2], [0, 2])  # rows/columns of w₁ and a₁
    return sp.Matrix([sp.expand(Hw.charpoly(lam).as_expr() - want_w),
                      sp.expand(Hs.charpoly(lam).as_expr() - want_s),
                      *(block - sp.Matrix([[s2**2 / w2**2, -s1], [-s1, w2**2]])),
                      sp.simplify(block.det() - (s2**2 - s1**2))])


def solve_logistic():
    """sympy's solution of τu̇ = 2u(s − u), u(0) = u₀ (the Bernoulli hint is the fast route)."""
    expr, (t, s, u0, tau) = dl.mode_strength_expr()
    u = sp.Function("u")
    ode = sp.Eq(tau * u(t).diff(t), 2 * u(t) * (s - u(t)))
    return sp.dsolve(ode, u(t), ics={u(0): u0}, hint="Bernoulli"), expr


@claim("ch01-sigmoid", CH, "symbolic",
       "The balanced mode strength, τu̇ = 2u(s − u) with u(0) = u₀, is u(t) = s e^{2st/τ}/(e^{2st/τ} − 1 + s/u₀).",
       ref="thm-ch01-sigmoid")
def _sigmoid():
    sol, expr = solve_logistic()
    return sp.simplify(sol.rhs - expr)


@claim("ch01-learning-time", CH, "symbolic",
       "Separating variables, a balanced mode takes t = (τ/2s) ln[u_f(s − u₀)/(u₀(s − u_f))] from u₀ to u_f.",
       ref="thm-ch01-sigmoid")
def _learning_time():
    s, u0, u, tau, x = sp.symbols("s u_0 u tau x", positive=True)
    t = sp.integrate(sp.apart(tau / (2 * x * (s - x)), x), (x, u0, u))
    target = tau / (2 * s) * sp.log(u * (s - u0) / (u0 * (s - u)))
    # compare derivatives in u and the value at u = u0 (avoids branch bookkeeping of log(s − u))
    return sp.Matrix([sp.simplify(sp.diff(t - target, u)), sp.simplify((t - target).subs(u, u0))])


@claim("ch01-shared-basis", CH, "symbolic",
       "With input variance λ along the mode, τu̇ = 2u(s − λu) is solved by the balanced u(t) with "
       "s → s/λ and τ → τ/λ.",
       ref="cor-ch01-shared-basis")
def _shared_basis():
    expr, (t, s, u0, tau) = dl.mode_strength_expr()
    lam = sp.symbols("lambda", positive=True)
    u = expr.subs({s: s / lam, tau: tau / lam}, simultaneous=True)
    return sp.Matrix([sp.simplify(tau * u.diff(t) - 2 * u * (s - lam * u)), u.subs(t, 0) - u0])


@claim("ch01-unbalanced", CH, "symbolic",
       "With δ = a² − w² conserved and aw → s, the mode ends at a∞² = (δ + √(δ² + 4s²))/2, w∞ = s/a∞, "
       "and its strength obeys τu̇ = √(δ² + 4u²)(s − u).",
       ref="thm-ch01-unbalanced")
def _unbalanced():
    w, a, s, d = sp.symbols("w a s delta", real=True)
    A2 = sp.symbols("A2", positive=True)
    roots = sp.solve(sp.Eq(A2 - s**2 / A2, d), A2)  # a² − w² = δ with w = s/a
    want = (d + sp.sqrt(d**2 + 4 * s**2)) / 2
    ok = [r for r in roots if sp.simplify(r - want) == 0]
    udot = sp.expand(w * w * (s - a * w) + a * a * (s - a * w))  # τ d(aw)/dt = wȧ + aẇ
    speed = (a**2 - w**2) ** 2 + 4 * (a * w) ** 2 - (a**2 + w**2) ** 2
    return sp.Matrix([sp.Integer(0 if len(ok) == 1 else 1),
                      sp.expand(udot - (a**2 + w**2) * (s - a * w)), sp.expand(speed)])


@claim("ch01-deep-chain", CH, "symbolic",
       "For L = 3 equal factors, u obeys τu̇ = 3u^{4/3}(s − u); the antiderivative F of the deep-chain "
       "time satisfies F'(q) = q^{1−L}/(1 − q^L) for L = 3, 4.",
       ref="thm-ch01-deep")
def _deep_chain():
    a1, a2, a3 = sp.symbols("a1 a2 a3", positive=True)
    s = sp.symbols("s", positive=True)
    u = a1 * a2 * a3
    flows = gradient_flow((s - u) ** 2 / 2, [a1, a2, a3])
    udot = time_derivative(u, [a1, a2, a3], flows)
    a = sp.symbols("a", positive=True)
    eq = sp.simplify(udot.subs({a1: a, a2: a, a3: a}) - 3 * (a**3) ** sp.Rational(4, 3) * (s - a**3))
    q = sp.symbols("q", positive=True)
    res = [eq]
    for L in (3, 4):
        F = q ** (2 - L) / (2 - L) + q**2 / 2 * sp.hyper([1, sp.Rational(2, L)], [1 + sp.Rational(2, L)], q**L)
        res.append(sp.simplify(sp.hyperexpand(sp.diff(F, q) - q ** (1 - L) / (1 - q**L))))
    return sp.Matrix(res)


def gd_error_symbols():
    """The first-order GD error e₁(t) of a balanced mode (τ = 1) and its ingredients."""
    expr, (t, s, u0, tau) = dl.mode_strength_expr()
    u = expr.subs(tau, 1)
    C = s / u0 - 1
    integral_u = sp.log((sp.exp(2 * s * t) + C) / (1 + C)) / 2  # ∫₀ᵗ u dt'
    e1 = -u * (s - u) * (s * t - 3 * integral_u)
    return e1, u, integral_u, (t, s, u0)


@claim("ch01-gd-error-formula", CH, "symbolic",
       "GD's first-order deviation e₁ solves ė₁ = (2s − 4u)e₁ − u(s − 3u)(s − u), e₁(0) = 0, and equals "
       "theory.deep_linear.gd_first_order_error.",
       ref="prop-ch01-gd-error")
def _gd_error_formula():
    e1, u, integral_u, (t, s, u0) = gd_error_symbols()
    a, x = sp.symbols("a x", positive=True)
    g = a * (s - a**2)  # one balanced factor: τȧ = a(s − a²); Euler's modified field is g − (η/2)g'g
    # so u = a² gets the correction −η a g' g, which is −η u(s − 3u)(s − u) with u = x
    modified = sp.expand((a * g.diff(a) * g).subs(a, sp.sqrt(x)) - x * (s - 3 * x) * (s - x))
    ode = e1.diff(t) - (2 * s - 4 * u) * e1 + u * (s - 3 * u) * (s - u)
    num = [float(e1.subs({t: tt, s: 2.0, u0: 0.01})) - float(dl.gd_first_order_error(tt, 2.0, 0.01))
           for tt in (0.3, 1.1, 2.5)]
    return sp.Matrix([modified, sp.simplify(integral_u.diff(t) - u), sp.simplify(ode), e1.subs(t, 0),
                      sp.Integer(0 if max(abs(x) for x in num) < 1e-12 else 1)])


# ---------------------------------------------------------------- numeric claims


@lru_cache(maxsize=None)
def validation_setup(seed: int = 0):
    """Whitened 8-dimensional task with s = (3, 2, 1, 0.5) and its SVD."""
    return sim.aligned_moments(S_VALUES, N_UNITS, N_UNITS, seed=seed)


@lru_cache(maxsize=None)
def shared_basis_setup():
    """The same Σ_yx with non-whitened inputs Σ_xx = V diag(LAMBDAS) Vᵀ."""
    data, U, V = validation_setup()
    lam = LAMBDAS[: len(S_VALUES)]
    sxx = V @ np.diag(LAMBDAS) @ V.T
    return sim.Moments(sxx, data.sigma_yx, float(np.sum(S_VALUES**2 / lam))), U, V


def _net():
    return sim.DeepLinear((N_UNITS, N_UNITS, N_UNITS))


def _rec(net, U, V):
    return lambda p: {"u": sim.mode_strengths(net.product(p), U, V, len(S_VALUES))}


@lru_cache(maxsize=None)
def decoupled_run(lr: float, dt: float = 0.05, shared: bool = False, tau: float = 1.0,
                  t_end: float = T_END):
    """GD (step k at t = ηk) from the balanced decoupled init u₀ = 1e-3; strengths every dt."""
    data, U, V = shared_basis_setup() if shared else validation_setup()
    net = _net()
    p0 = sim.decoupled_init(U, V, net.widths, U0, seed=1)
    t = np.round(np.arange(0.0, t_end + 1e-9, dt), 10)
    tr = sim.train_gd(net, p0, data, lr, times=t, tau=tau, record=_rec(net, U, V))
    return t, tr["u"][:, 0, :]


@claim("ch01-gd-mode-strength", CH, "numeric",
       "GD with η = 10⁻³ from the balanced decoupled init follows u(t) for all four modes up to t = 8.",
       tol=1e-2, ref="thm-ch01-sigmoid",
       tol_reason="the first-order Euler error η·max|e₁| = 6.7e-3 predicts the measured 6.7e-3; "
                  "1e-2 is 1.5× that")
def _gd_modes():
    t, u = decoupled_run(1e-3)
    th = dl.mode_strength(t[:, None], S_VALUES, U0)
    return float(np.max(np.abs(u - th))), {"t": t, "sim": u, "theory": th}


@claim("ch01-gd-first-order", CH, "numeric",
       "GD with η = 10⁻³ equals u(t) + η e₁(t) to within O(η²), at every recorded time and mode.",
       tol=5e-5, ref="prop-ch01-gd-error",
       tol_reason="the remainder is second order: measured 1.55e-5 = 15.5 η² at η = 1e-3; 5e-5 = 50 η². "
                  "A record one step late would add η·max u̇ = η s₁²/2 = 4.5e-3")
def _gd_first_order():
    t, u = decoupled_run(1e-3)
    pred = dl.mode_strength(t[:, None], S_VALUES, U0) + 1e-3 * dl.gd_first_order_error(t[:, None], S_VALUES, U0)
    return float(np.max(np.abs(u - pred)))


ORDER_LRS = (0.02, 0.01, 0.005, 0.0025, 0.00125)


@claim("ch01-gd-error-order", CH, "numeric",
       "For η from 1.25·10⁻³ to 2·10⁻², GD's maximal error equals the first-order value η·max|e₁| "
       "within 2%.",
       tol=0.02, ref="prop-ch01-gd-error",
       tol_reason="the relative gap is O(η): measured 0.85% at the largest step η = 2e-2, 0.03% at 1.25e-3")
def _gd_order():
    errs, preds = [], []
    for lr in ORDER_LRS:
        t, u = decoupled_run(float(lr), dt=0.1)
        errs.append(np.max(np.abs(u - dl.mode_strength(t[:, None], S_VALUES, U0))))
        preds.append(lr * np.max(np.abs(dl.gd_first_order_error(t[:, None], S_VALUES, U0))))
    errs, preds = np.array(errs), np.array(preds)
    return float(np.max(np.abs(errs - preds) / preds)), {"lr": np.array(ORDER_LRS), "error": errs,
                                                         "prediction": preds}


@claim("ch01-flow-mode-strength", CH, "numeric",
       "The gradient flow integrated by solve_ivp from the decoupled init matches u(t) for all four modes.",
       tol=1e-7, ref="thm-ch01-sigmoid",
       tol_reason="solve_ivp at rtol 1e-10: measured 8.5e-10; 1e-7 allows for other BLAS/platforms")
def _flow_modes():
    data, U, V = validation_setup()
    net = _net()
    p0 = sim.decoupled_init(U, V, net.widths, U0, seed=1)
    t = np.linspace(0, T_END, 81)
    tr = sim.integrate_flow(net, p0, data, t, record=_rec(net, U, V))
    u = tr["u"][:, 0, :]
    return float(np.max(np.abs(u - dl.mode_strength(t[:, None], S_VALUES, U0)))), {"t": t, "sim": u}


@claim("ch01-shared-basis-flow", CH, "numeric",
       "With τ = 2 and Σ_xx = V diag(2, 0.5, 1.5, 1.2, 1, …) Vᵀ, solve_ivp of the matrix flow matches "
       "u(t) with s/λ and τ/λ for all four modes up to t = 16.",
       tol=1e-7, ref="cor-ch01-shared-basis",
       tol_reason="solve_ivp at rtol 1e-10: measured 1.2e-9; 1e-7 allows for other BLAS/platforms")
def _shared_flow():
    data, U, V = shared_basis_setup()
    net = _net()
    p0 = sim.decoupled_init(U, V, net.widths, U0, seed=1)
    t = np.linspace(0, 16.0, 161)
    tr = sim.integrate_flow(net, p0, data, t, tau=TAU_FLOW, record=_rec(net, U, V))
    lam = LAMBDAS[: len(S_VALUES)]
    th = dl.mode_strength(t[:, None], S_VALUES / lam, U0, TAU_FLOW / lam)
    return float(np.max(np.abs(tr["u"][:, 0, :] - th))), {"t": t, "sim": tr["u"][:, 0, :], "theory": th}


@claim("ch01-shared-basis-gd", CH, "numeric",
       "GD with τ = 2 and η = 2·10⁻³ on the non-whitened task equals u(t) + (η/τλ) e₁(t/τ; s, λu₀) "
       "within O(η²), up to t = 16.",
       tol=5e-5, ref="cor-ch01-shared-basis",
       tol_reason="in units of t/τ GD on the mode is the whitened map for λu with step η/τ = 1e-3, "
                  "so the remainder is O((η/τ)²) as for whitened data: measured 1.0e-5; 5e-5 = 50 (η/τ)²")
def _shared_gd():
    lr, tau = 2e-3, TAU_FLOW
    t, u = decoupled_run(lr, dt=0.1, shared=True, tau=tau, t_end=16.0)
    lam = LAMBDAS[: len(S_VALUES)]
    th = dl.mode_strength(t[:, None], S_VALUES / lam, U0, tau / lam)
    e1 = dl.gd_first_order_error(t[:, None] / tau, S_VALUES, lam * U0)
    pred = th + lr / (tau * lam) * e1
    return float(np.max(np.abs(u - pred))), {"t": t, "sim": u, "theory": th,
                                            "plain_error": float(np.max(np.abs(u - th)))}


@lru_cache(maxsize=None)
def conservation_drift(lr: float):
    """Max relative drift of Δ = W₂ᵀW₂ − W₁W₁ᵀ over t ≤ 8 from a random (unbalanced) init, 4 seeds."""
    data, U, V = validation_setup()
    net = _net()
    p0 = sim.random_init(net.widths, 0.3, n_ensemble=4, seed=2)
    T = lambda m: np.swapaxes(m, 1, 2)
    bal = lambda p: T(p["W2"]) @ p["W2"] - p["W1"] @ T(p["W1"])
    t = np.round(np.arange(0.0, T_END + 1e-9, 0.5), 10)
    D = sim.train_gd(net, p0, data, lr, times=t, record=lambda p: {"D": bal(p)})["D"]
    drift = np.linalg.norm(D - D[:1], axis=(2, 3)).max(axis=0) / np.linalg.norm(D[0], axis=(1, 2))
    return float(drift.max())


@claim("ch01-gd-conservation", CH, "numeric",
       "Under GD, Δ drifts by O(η²) per step, hence O(η) at fixed t: doubling η doubles the drift.",
       tol=0.02, ref="thm-ch01-conserved",
       tol_reason="drift(2η)/drift(η) = 2(1 + O(η)): measured 2 + 2.2e-3 at η = 1e-3; 0.02 is 9× that")
def _gd_conservation():
    d1, d2 = conservation_drift(1e-3), conservation_drift(2e-3)
    return abs(d2 / d1 - 2.0), {"drift": {1e-3: d1, 2e-3: d2}}


UNBALANCED_STARTS = np.array([[0.05, 1.6], [1.5, 0.1], [-1.2, -0.3], [0.4, -1.5], [0.02, 0.02]])


@claim("ch01-unbalanced-flow", CH, "numeric",
       "From unbalanced starts (w₀, a₀) of either sign, the flow ends at the predicted (w∞, a∞) on its "
       "hyperbola a² − w² = δ.",
       tol=1e-10, ref="thm-ch01-unbalanced",
       tol_reason="solve_ivp at rtol 1e-10 to t = 40 (the remaining gap e^{-2st} < 1e-30): measured 1.8e-11")
def _unbalanced_flow():
    s = 1.0
    w0, a0 = UNBALANCED_STARTS.T
    net = sim.DeepLinear((1, 1, 1))
    data = sim.Moments(np.eye(1), np.array([[s]]), s**2)
    p0 = {"W1": w0.reshape(-1, 1, 1), "W2": a0.reshape(-1, 1, 1)}
    times = np.concatenate([np.linspace(0, 12, 400), [40.0]])
    rec = lambda p: {"w": p["W1"][:, 0, 0], "a": p["W2"][:, 0, 0]}
    tr = sim.integrate_flow(net, p0, data, times, record=rec)
    w_inf, a_inf = dl.unbalanced_limit(s, w0, a0)  # argument a0 is the first layer, b0 the readout
    err = max(np.abs(tr["w"][-1] - w_inf).max(), np.abs(tr["a"][-1] - a_inf).max())
    return float(err), {"w": tr["w"][:-1], "a": tr["a"][:-1], "w_inf": w_inf, "a_inf": a_inf,
                        "starts": UNBALANCED_STARTS}


@claim("ch01-deep-time-quadrature", CH, "numeric",
       "The hypergeometric deep-chain time equals adaptive quadrature of τ du/(L u^{2−2/L}(s − u)) for L = 1…8.",
       tol=1e-12, ref="thm-ch01-deep",
       tol_reason="quad is asked for 1e-13 relative accuracy; measured 1.2e-15")
def _deep_quad():
    errs = []
    for L in range(1, 9):
        for s, u0, u in [(3.0, 1e-3, 1.5), (1.0, 1e-2, 0.9), (2.0, 0.1, 1.9)]:
            ref = quad(lambda x: 1.0 / (L * x ** (2 - 2 / L) * (s - x)), u0, u, limit=200, epsabs=0,
                       epsrel=1e-13)[0]
            errs.append(abs(dl.deep_learning_time(s, u0, u, L) - ref) / abs(ref))
    return float(max(errs))


@lru_cache(maxsize=None)
def deep_chain_half_times(lr: float = DEEP_LR, s: float = 1.0, u0: float = DEEP_U0, depths=DEPTHS):
    """GD half-learning times of balanced scalar chains u = a₁⋯a_L, all depths as one ensemble."""
    depths = np.array(depths)
    net = ScalarChains(depths)
    data = sim.Moments(np.eye(1), np.array([[s]]), s**2)
    # every factor a_i = u₀^{1/L} (entries past a chain's depth are padding, ignored by the model)
    p0 = {"a": np.repeat((u0 ** (1.0 / depths))[:, None], net.n_max, axis=1)}
    steps = np.arange(0, int(round(DEEP_T / lr)) + 1, 2)
    u = sim.train_gd(net, p0, data, lr, steps=steps, record=lambda p: {"u": net.product(p)})["u"]
    if np.any(u[-1] < s / 2):
        raise RuntimeError("run too short: a chain has not reached half strength")
    # first crossing of s/2, linearly interpolated between the two records around it
    t = steps * lr
    return depths, np.array([np.interp(s / 2, u[:, e], t) for e in range(len(depths))])


@claim("ch01-deep-time-gd", CH, "numeric",
       "GD on balanced scalar chains of L = 1…64 factors reaches u = s/2 at the deep-chain time, "
       "within 0.5%.",
       tol=5e-3, ref="thm-ch01-deep",
       tol_reason="relative error O(η) (η = 4e-3): measured 2.0e-3 at L = 1 (η/2: GD's (1 − η)^k runs "
                  "ahead of e^{−ηk} in linear regression) and ≤ 1.4e-3 for L ≥ 2")
def _deep_gd():
    depths, t_sim = deep_chain_half_times()
    t_th = dl.deep_learning_time(1.0, DEEP_U0, 0.5, depths)
    return float(np.max(np.abs(t_sim - t_th) / t_th)), {"depth": depths, "sim": t_sim, "theory": t_th}


@claim("ch01-deep-peak-gd", CH, "numeric",
       "The GD half-learning time is not monotone in depth: it peaks at the theory's depth L = 11 "
       "and is shorter at L = 1 and L = 64.",
       tol=0.5, ref="thm-ch01-deep",
       tol_reason="an integer: |L_peak(GD) − L_peak(theory)| plus 1 if either end is not below the "
                  "peak; every depth 1…16 is trained, so any shift of the peak counts. The maximum is "
                  "flat (exact t½ = 31.80 at L = 11, 31.78 at L = 12, closer than GD's O(η) error of up "
                  "to 0.14%); the argmax agrees because that error varies smoothly with L")
def _deep_peak():
    depths, t_sim = deep_chain_half_times()
    t_th = dl.deep_learning_time(1.0, DEEP_U0, 0.5, depths)
    peak_sim, peak_th = int(depths[np.argmax(t_sim)]), int(depths[np.argmax(t_th)])
    ends_lower = t_sim[0] < t_sim.max() and t_sim[-1] < t_sim.max()
    return abs(peak_sim - peak_th) + (0 if ends_lower else 1), {"peak_sim": peak_sim, "peak_theory": peak_th}


# ---------------------------------------------------------------- hierarchical data

HIER_SHOWN = np.array([0, 1, 2, 4, 11, 17, 30])  # Saxe et al.'s modes 1, 2, 3, 5, 12, 18, 31
HIER_EPS, HIER_LR = 1e-3, 0.01


def _first_crossings(u, t, level):
    """First time each column of ``u`` (time, …) reaches ``level``, linearly interpolated."""
    k = np.argmax(u >= level, axis=0)  # first record at or above the level (k ≥ 1: u starts below)
    idx = np.indices(k.shape)
    lo, hi = u[(k - 1, *idx)], u[(k, *idx)]
    return t[k - 1] + (level - lo) / (hi - lo) * (t[k] - t[k - 1])


@lru_cache(maxsize=None)
def hierarchical_run(n_ensemble: int = 8):
    """Eight 32–32–200 networks from random init (std ε = 1e-3) on the hierarchical data, and the
    same network from the aligned balanced init u₀ = ε² N_h, by the same GD on the same record grid.

    The delay of a mode is that of its (interpolated) half-strength crossing against the aligned
    GD run's, so GD's own lag behind the flow (prop-ch01-gd-error) and the record spacing cancel.
    """
    X, Y = sim.hierarchical_data(6, 200, flip=0.1, seed=0)
    data = sim.moments_from_samples(X, Y)
    U, S, Vt = np.linalg.svd(data.sigma_yx, full_matrices=True)
    net = sim.DeepLinear((32, 32, 200))
    p0 = sim.random_init(net.widths, HIER_EPS, n_ensemble=n_ensemble, seed=3)
    steps = np.arange(0, 1001, 2)
    rec = lambda p: {"u": sim.mode_strengths(net.product(p), U, Vt.T)}
    u = sim.train_gd(net, p0, data, HIER_LR, steps=steps, record=rec)["u"]  # (time, network, mode)
    t = steps * HIER_LR
    u0 = HIER_EPS**2 * net.widths[1]  # balanced strength with the same weight norms: ε² N_h
    p_al = sim.decoupled_init(U, Vt.T, net.widths, u0, seed=3)
    u_al = sim.train_gd(net, p_al, data, HIER_LR, steps=steps, record=rec)["u"][:, 0, :]
    level = S[HIER_SHOWN] / 2
    if not (np.all(u[-1][:, HIER_SHOWN] >= level) and np.all(u_al[-1, HIER_SHOWN] >= level)):
        raise RuntimeError("run too short for every mode to reach half strength")
    if np.any(u[0][:, HIER_SHOWN] >= level) or np.any(u_al[0, HIER_SHOWN] >= level):
        raise RuntimeError("a mode starts above half strength")
    t_half = _first_crossings(u[:, :, HIER_SHOWN], t, level)  # (network, mode)
    t_half_al = _first_crossings(u_al[:, HIER_SHOWN], t, level)
    t_half_th = dl.half_learning_time(S[HIER_SHOWN], u0)
    return {"t": t, "u": u, "S": S, "u0": u0, "shown": HIER_SHOWN, "t_half": t_half,
            "t_half_aligned": t_half_al, "t_half_flow": t_half_th,
            "delay": (t_half - t_half_al) / t_half_al}


@claim("ch01-hier-stages", CH, "numeric",
       "From small random init on hierarchical data, every network learns the modes α = 1, 2, 3, 5, "
       "12, 18, 31 in the order of their singular values, each later than GD (same η, same record "
       "grid) from the aligned balanced init u₀ = ε²N_h.",
       tol=0.5, ref="sec-ch01-hierarchical",
       tol_reason="a count of violations (out-of-order crossings plus non-positive delays) over 8 "
                  "networks × 7 modes; one violation fails. Crossings are interpolated between "
                  "records and the reference is GD, so the Euler lag (2.8% of t½ for α = 1) and the "
                  "grid cancel; smallest measured delay 1.1% (α = 1), mean 4.9% to 28%")
def _hier_stages():
    r = hierarchical_run()
    n_bad = int(np.sum(np.diff(r["t_half"], axis=1) <= 0) + np.sum(r["delay"] <= 0))
    return n_bad, r


# ---------------------------------------------------------------- where it breaks

@lru_cache(maxsize=None)
def step_size_runs():
    """GD at 0.9, 1.2 and 2 times the stability bound 2/λ_max from the decoupled init."""
    data, U, V = validation_setup()
    net = _net()
    p0 = sim.decoupled_init(U, V, net.widths, U0, seed=1)
    bound = net.stability_bound(data)
    rec = _rec(net, U, V)
    final, top = {}, {}
    for f in (0.9, 1.2):
        tr = sim.train_gd(net, p0, data, lr=f * bound, steps=[0, 1997, 1998, 1999, 2000], record=rec)
        final[f], top[f] = float(tr.loss[-1, 0]), tr["u"][1:, 0, 0]  # top mode at steps 1997…2000
    try:
        sim.train_gd(net, p0, data, lr=2 * bound, steps=[0, 500])
        message = None
    except sim.DivergenceError as err:
        message = str(err)
    return bound, final, top, message


@claim("ch01-stability-bound", CH, "numeric",
       "GD converges at 0.9 × the stability bound 2/λ_max = 1/s₁, stalls in a period-two cycle at "
       "1.2 × and diverges (with a DivergenceError) at 2 ×.",
       tol=0.5, ref="sec-ch01-breaks",
       tol_reason="a count of violations of: loss < 1e-5 after 2000 steps at 0.9× (measured 4e-7); "
                  "at 1.2× loss > 0.1 (measured 0.40) and the top mode alternating, steps 1997…2000 "
                  "with u_{k+2} = u_k to 1e-8 and |u_{k+1} − u_k| > 1 (measured 3.9 ↔ 1.6); "
                  "divergence at 2×")
def _stability():
    bound, final, top, message = step_size_runs()
    u = top[1.2]
    period_two = np.all(np.abs(u[2:] - u[:-2]) < 1e-8) and np.all(np.abs(np.diff(u)) > 1.0)
    n_bad = (int(not final[0.9] < 1e-5) + int(not final[1.2] > 0.1) + int(not period_two)
             + int(message is None))
    return n_bad, {"bound": bound, "final": final, "cycle": u, "message": message}


@lru_cache(maxsize=None)
def init_scale_runs(scales=(1e-3, 0.5)):
    """Loss curves of the 8–8–8 network from random init of std ε, GD with η = 1e-2 to t = 8."""
    data, U, V = validation_setup()
    net = _net()
    t = np.round(np.arange(0, 8.0001, 0.02), 10)
    out = {}
    for eps in scales:
        p0 = sim.random_init(net.widths, eps, n_ensemble=1, seed=4)
        out[eps] = (t, sim.train_gd(net, p0, data, 0.01, times=t).loss[:, 0])
    return out
