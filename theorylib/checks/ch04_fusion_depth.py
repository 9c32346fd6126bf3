"""Claims of Chapter 4 (fusion depth and the unimodal phase; Zhang, Latham & Saxe 2024).

Symbolic claims return an expression that sympy must simplify to exactly zero; numeric claims
compare :mod:`theorylib.theory.fusion` with an independent computation: GD run by
:mod:`theorylib.sim.fusion` on population statistics, ``solve_ivp``, or quadrature.

Runs shared by several claims are cached (``lru_cache``), so the chapter and
``python -m theorylib verify ch04`` pay for each simulation once.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.integrate import quad, solve_ivp
from scipy.optimize import brentq

from theorylib.claims import claim
from theorylib.sim import engine
from theorylib.sim import fusion as fs
from theorylib.symbolic import gradient_flow, hessian, time_derivative
from theorylib.theory import fusion as fu

CH = "ch04"

# ------------------------------------------------------------------ settings of the chapter
R_TOY = 2.0
RHO_PROTOCOL = (-0.5, 0.0, 0.5)          # the paper's protocol (r = 2)
U0_TWO = 1e-12                           # aligned two-layer init: W(0) = u0² = 1e-24
LR_SMALL = 0.00125
HEAT_R = (1.5, 2.0, 3.0)                 # simulated points on the heatmaps
HEAT_RHO = tuple(np.round(np.linspace(-0.75, 0.75, 7), 4))
U0_HEAT, LR_HEAT = 1e-9, 0.0025
DEEP_L, DEEP_U0, DEEP_LR = 4, 0.1, 0.01
DEEP_RHO = (-0.5, -0.25, 0.0, 0.25, 0.5)
DEEP_LF = (1, 2, 3, 4)


def _sym():
    """Symbols of a general two-scalar-modality problem: Σ entries, Σ_yx entries."""
    sa, sb = sp.symbols("sigma_A sigma_B", positive=True)
    sab = sp.symbols("sigma_AB", real=True)
    pa, pb = sp.symbols("p_A p_B", real=True)
    return sa, sb, sab, pa, pb


def _loss_tot(WA, WB, sa, sb, sab, pa, pb, eyy=0):
    """½E(y − W_A x_A − W_B x_B)² in moments (σ_A, σ_B are variances here)."""
    return sp.Rational(1, 2) * eyy - (WA * pa + WB * pb) + sp.Rational(1, 2) * (WA**2 * sa + 2 * WA * WB * sab + WB**2 * sb)


# ================================================================== symbolic claims


@claim("ch04-toy-statistics", CH, "symbolic",
       'The toy data set has Σ_yx = (r² + ρr, 1 + ρr) and E y² = r² + 2ρr + 1.',
       ref="eq-ch04-toy")
def _toy_stats():
    S, Syx, Eyy, (r, rho) = fu.toy_statistics_expr()
    return sp.Matrix([Syx[0] - (r**2 + rho * r), Syx[1] - (1 + rho * r), Eyy - (r**2 + 2 * rho * r + 1)])


@lru_cache(maxsize=None)
def stationary_totals(fusion: str):
    """End-to-end maps (W_A, W_B) of all stationary points of a two-layer net with one unit per branch.

    ``early``: ŷ = c(a x_A + b x_B). ``late``: ŷ = c a x_A + d b x_B. Returns a set of tuples.
    """
    sa, sb, sab, pa, pb = _sym()
    a, b, c, d = sp.symbols("a b c d", real=True)
    if fusion == "early":
        WA, WB, params = c * a, c * b, [a, b, c]
    else:
        WA, WB, params = c * a, d * b, [a, b, c, d]
    L = _loss_tot(WA, WB, sa, sb, sab, pa, pb)
    eqs = [sp.diff(L, p) for p in params]
    sols = sp.solve(eqs, params, dict=True)
    return {(sp.simplify(WA.subs(s)), sp.simplify(WB.subs(s))) for s in sols}, (sa, sb, sab, pa, pb)


@claim("ch04-fixed-points", CH, "symbolic",
       "Solving ∇L = 0 (one hidden unit per branch): early fusion's stationary points have W = 0 or W"
       " = W*; late fusion's add M_A = (Σ_yxA/σ_A², 0) and M_B = (0, Σ_yxB/σ_B²).",
       ref="thm-ch04-fixed")
def _fixed():
    early, (sa, sb, sab, pa, pb) = stationary_totals("early")
    late, _ = stationary_totals("late")
    det = sa * sb - sab**2
    wstar = (sp.simplify((pa * sb - pb * sab) / det), sp.simplify((pb * sa - pa * sab) / det))
    want_early = {(0, 0), wstar}
    want_late = want_early | {(pa / sa, 0), (0, pb / sb)}
    norm = lambda S: {tuple(sp.simplify(x) for x in w) for w in S}
    ok = norm(early) == norm(want_early) and norm(late) == norm(want_late)
    return sp.Integer(0 if ok else 1)


@claim("ch04-unimodal-saddle", CH, "symbolic",
       "At M_A the late-fusion Hessian restricted to B's weights has eigenvalues ±c_B, so M_A is a "
       'saddle when c_B ≠ 0, and L(M_A) = ½(E y² − Σ_yxA²/σ_A²).',
       ref="thm-ch04-fixed")
def _saddle():
    sa, sb, sab, pa, pb = _sym()
    eyy = sp.symbols("E_yy", positive=True)
    a, b, c, d, lam = sp.symbols("a b c d lambda", real=True)
    L = _loss_tot(c * a, d * b, sa, sb, sab, pa, pb, eyy)
    w = sp.sqrt(pa / sa)
    at = {a: w, c: w, b: 0, d: 0}
    H = hessian(L, [sp.Matrix([b, d])], at)
    cB = pb - pa / sa * sab
    return sp.Matrix([sp.expand((lam * sp.eye(2) - H).det() - (lam**2 - cB**2)),
                      sp.simplify(L.subs(at) - (eyy - pa**2 / sa) / 2)])


@claim("ch04-late-ode", CH, "symbolic",
       'Two-layer late fusion with balanced branches: W_A obeys τẆ_A = 2W_A(Σ_yxA − σ_A²W_A − Σ_AB '
       'W_B) (likewise W_B), and each branch conserves δ_m = a_m² − w_m².',
       ref="thm-ch04-logistic")
def _late_ode():
    sa, sb, sab, pa, pb = _sym()
    a, b, c, d = sp.symbols("a b c d", real=True)
    L = _loss_tot(c * a, d * b, sa, sb, sab, pa, pb)
    flows = gradient_flow(L, [a, c, b, d])
    dWA = time_derivative(c * a, [a, c, b, d], flows)
    dWB = time_derivative(d * b, [a, c, b, d], flows)
    bal = {c: a, d: b}
    WA, WB = a**2, b**2
    return sp.Matrix([
        sp.expand(dWA.subs(bal) - 2 * WA * (pa - sa * WA - sab * WB)),
        sp.expand(dWB.subs(bal) - 2 * WB * (pb - sb * WB - sab * WA)),
        sp.expand(time_derivative(a**2 - c**2, [a, c, b, d], flows)),
    ])


@claim("ch04-logistic", CH, "symbolic",
       'At ρ = 0 the logistic W_m(t) solves τẆ = 2W(Σ_yxm − σ_m²W) with W(0) = W_0 and reaches W*/2 '
       'at t½ = (τ/2Σ_yxm) ln(W*/W_0 − 1).',
       ref="thm-ch04-logistic")
def _logistic():
    t, tau, p, s2, w0 = sp.symbols("t tau Sigma_yx sigma2 W_0", positive=True)
    wstar = p / s2
    W = fu.logistic_weight_expr(t, wstar, w0, p, tau)
    th = tau / (2 * p) * sp.log(wstar / w0 - 1)
    return sp.Matrix([sp.simplify(tau * sp.diff(W, t) - 2 * W * (p - s2 * W)), sp.simplify(W.subs(t, 0) - w0),
                      sp.simplify(W.subs(t, th) - wstar / 2)])


@claim("ch04-toy-closed-forms", CH, "symbolic",
       'For the toy, W_A^uni = 1 + ρ/r, c_B = 1 − ρ², the misattribution is ρ/r and the signed ratio '
       'is 1 + (r² − 1)/(1 − ρ²).',
       ref="thm-ch04-ratio")
def _toy_closed():
    S, Syx, _, (r, rho) = fu.toy_statistics_expr()
    w_uni = Syx[0] / S[0, 0]
    cB = Syx[1] - w_uni * S[0, 1]
    wstar = Syx * S.inv()
    return sp.Matrix([
        sp.simplify(w_uni - (1 + rho / r)),
        sp.simplify(cB - (1 - rho**2)),
        sp.simplify(w_uni - wstar[0] - rho / r),
        sp.simplify(1 + (Syx[0] - Syx[1]) / cB - (1 + (r**2 - 1) / (1 - rho**2))),
    ])


@claim("ch04-preference", CH, "symbolic",
       "At ρ = 0 modality m's drive is Σ_yxm = σ_m² w*_m and its output variance σ_m² w*_m², which "
       'give the prioritisation line (σ_B/σ_A)² and the contribution line σ_B/σ_A.',
       ref="thm-ch04-preference")
def _pref():
    sA, sB, wA, wB = sp.symbols("sigma_A sigma_B w_A w_B", positive=True)
    S = sp.diag(sA**2, sB**2)
    w = sp.Matrix([[wA, wB]])
    Syx = w * S
    var = sp.expand((w * S * w.T)[0, 0])
    q = wA / wB
    # learned first: Σ_yxA > Σ_yxB  <=>  q > (σ_B/σ_A)²;  contributes more: σ_A²w_A² > σ_B²w_B²  <=>  q > σ_B/σ_A
    first = sp.simplify(Syx[0] / (sA**2 * wB) - (q))
    contrib = sp.simplify(sp.sqrt(sA**2 * wA**2) / (sA * wB) - q)
    return sp.Matrix([first, contrib, var - (sA**2 * wA**2 + sB**2 * wB**2)])


@lru_cache(maxsize=None)
def chain_flow(depth: int, fusion_layer: int):
    """Gradient flow of the scalar chain model of a depth-L network fused at L_f, restricted to
    equal factors; returns (u̇_A − claimed, u̇_B − claimed, d/dt(v² − u_A² − u_B²))."""
    sa, sb, sab, pa, pb = _sym()
    L, Lf = depth, fusion_layer
    ua_f = sp.symbols(f"a1:{Lf + 1}", positive=True)
    ub_f = sp.symbols(f"b1:{Lf + 1}", positive=True)
    v_f = sp.symbols(f"v1:{L - Lf + 1}", positive=True) if L > Lf else ()
    shared = sp.Mul(*v_f)
    WA, WB = sp.Mul(*ua_f) * shared, sp.Mul(*ub_f) * shared
    loss = _loss_tot(WA, WB, sa, sb, sab, pa, pb)
    params = list(ua_f) + list(ub_f) + list(v_f)
    flows = gradient_flow(loss, params)
    uA, uB = sp.symbols("u_A u_B", positive=True)
    v = sp.sqrt(uA**2 + uB**2)
    eq = {**{x: uA for x in ua_f}, **{x: uB for x in ub_f}, **{x: v for x in v_f}}
    gA = pa - sa * WA.subs(eq) - sab * WB.subs(eq)
    gB = pb - sb * WB.subs(eq) - sab * WA.subs(eq)
    resA = flows[0][0].subs(eq) - gA * uA ** (Lf - 1) * v ** (L - Lf)
    resB = flows[Lf][0].subs(eq) - gB * uB ** (Lf - 1) * v ** (L - Lf)
    # every factor of a group moves alike (equal factors stay equal)
    same = [flows[i][0].subs(eq) - flows[0][0].subs(eq) for i in range(Lf)]
    if v_f:
        cons = time_derivative(v_f[0] ** 2 - ua_f[0] ** 2 - ub_f[0] ** 2, params, flows).subs(eq)
    else:
        cons = sp.Integer(0)
    return tuple(sp.simplify(e) for e in [resA, resB, cons, *same])


@claim("ch04-deep-reduction", CH, "symbolic",
       'For depth 4 and every fusion layer, the flow on the aligned balanced manifold is τḟ_m = g_m '
       'f_m^{L_f−1} v^{L−L_f}, equal factors stay equal and v² − f_A² − f_B² is conserved.',
       ref="thm-ch04-reduction")
def _deep_red():
    return sp.Matrix([e for Lf in range(1, 5) for e in chain_flow(4, Lf)])


@lru_cache(maxsize=None)
def separable_solutions(fusion_layer: int):
    """dsolve of df_B/df_A = k(f_B/f_A)^{L_f−1}, f_B(f0) = f0; returns (solutions, claimed form, (x, u0, k))."""
    x, u0, k = sp.symbols("x f_0 k", positive=True)
    ub = sp.Function("f_B")
    Lf = fusion_layer
    sols = sp.dsolve(sp.Eq(ub(x).diff(x), k * (ub(x) / x) ** (Lf - 1)), ub(x), ics={ub(u0): u0})
    sols = tuple(sols) if isinstance(sols, list) else (sols,)
    want = u0 * (x / u0) ** k if Lf == 2 else (u0 ** (2 - Lf) + k * (x ** (2 - Lf) - u0 ** (2 - Lf))) ** sp.Rational(1, 2 - Lf)
    return sols, want, (x, u0, k)


def separable_matches(fusion_layer: int) -> bool:
    """One branch of the dsolve solution equals the claimed form ((2 − L_f)-th powers for L_f > 2)."""
    sols, want, _ = separable_solutions(fusion_layer)
    Lf = fusion_layer
    if Lf == 2:
        return any(sp.simplify(sp.expand_power_base(s.rhs - want, force=True)) == 0 for s in sols)
    return any(sp.simplify(s.rhs ** (2 - Lf) - want ** (2 - Lf)) == 0 for s in sols)


@claim("ch04-separable", CH, "symbolic",
       "In the loss-free phase, dsolve of df_B/df_A = κ(f_B/f_A)^{L_f−1} gives the library's "
       'early_branch_size for L_f = 2, 3, 4, and the escape integral of B is f_B0^{2−L_f}/(L_f − 2).',
       ref="thm-ch04-deep")
def _separable():
    res = []
    for Lf in (2, 3, 4):
        _, want, (x, u0, k) = separable_solutions(Lf)
        res.append(sp.Integer(0 if separable_matches(Lf) else 1))
        # numeric twin: the library's early_branch_size satisfies the ODE and equals the claimed form
        val = {x: sp.Rational(7, 10), u0: sp.Rational(1, 10), k: sp.Rational(1, 3)}
        res.append(sp.nsimplify(round(float(sp.N(sp.diff(want, x).subs(val) - (k * (want / x) ** (Lf - 1)).subs(val))), 12)))
        lib = fu.early_branch_size(0.7, 0.1, 1 / 3, Lf)
        res.append(sp.nsimplify(round(lib - float(want.subs(val)), 12)))
    b0 = sp.symbols("b_0", positive=True)
    xx = sp.symbols("x", positive=True)
    for Lf in (3, 4):
        res.append(sp.simplify(sp.integrate(1 / xx ** (Lf - 1), (xx, b0, sp.oo)) - b0 ** (2 - Lf) / (Lf - 2)))
    return sp.Matrix(res)


@claim("ch04-late-limit", CH, "symbolic",
       'For late fusion (L_f = L) the deep-fusion ratio tends to the two-layer ratio 1 + (Σ_yxA − '
       'Σ_yxB)/c_B as ε → 0, for L = 3, 4, 5 (and equals it for L = 2).',
       ref="thm-ch04-deep")
def _late_limit():
    u0, pa, c = sp.symbols("u_0 p_A c_B", positive=True)
    k = sp.symbols("k", real=True)
    res = []
    for L in (3, 4, 5):
        t_a = sp.integrate(1 / (pa * sp.Symbol("u", positive=True) ** (L - 1)), (sp.Symbol("u", positive=True), u0, 1))
        w = sp.symbols("W", positive=True)
        lag = u0 ** (2 - L) * (1 - k) / ((L - 2) * c * w**0)
        res.append(sp.simplify(sp.limit(1 + lag / t_a, u0, 0) - (1 + pa * (1 - k) / c)))
    uu = sp.symbols("u", positive=True)
    t_a2 = sp.integrate(1 / (pa * uu), (uu, u0, 1))
    res.append(sp.simplify(1 + (1 - k) * sp.log(1 / u0) / c / t_a2 - (1 + pa * (1 - k) / c)))
    return sp.Matrix(res)


# ================================================================== numeric: closed forms


def _random_stats(rng, d_a, d_b):
    D = d_a + d_b
    A = rng.standard_normal((D, D))
    S = A @ A.T / D + 0.3 * np.eye(D)
    return S, rng.standard_normal(D)


@claim("ch04-closed-forms", CH, "numeric",
       "On 200 random problems, unimodal_solution zeroes A's gradient at (W_A^uni, 0), residual_drive"
       " equals B's gradient there, misattribution equals W_A^uni − (Σ_yxΣ⁻¹)_A, and the toy "
       'functions equal their closed forms.',
       tol=1e-10, tol_reason='independent double-precision linear algebra on matrices with condition numbers up to ~1e3; measured 1.5e-14',
       ref="thm-ch04-ratio")
def _closed():
    rng = np.random.default_rng(4)
    errs = []
    for _ in range(100):
        d_a, d_b = rng.integers(1, 4, size=2)
        S, s = _random_stats(rng, d_a, d_b)
        wa = fu.unimodal_solution(S, s, d_a)
        W = np.concatenate([wa, np.zeros(d_b)])
        g = s - W @ S  # −∂L/∂W at (W_A^uni, 0)
        errs.append(np.abs(g[:d_a]).max())
        errs.append(np.abs(g[d_a:] - fu.residual_drive(S, s, d_a)).max())
        errs.append(np.abs(fu.misattribution(S, s, d_a) - (wa - np.linalg.lstsq(S, s, rcond=None)[0][:d_a])).max())
    for _ in range(100):
        r, rho = rng.uniform(1, 3), rng.uniform(-0.95, 0.95)
        m = fs.toy_moments(r, rho)  # the generative model, not the formula
        S, s = m.sigma[0], m.sigma_yx[0]
        errs.append(abs(fu.unimodal_solution(S, s, 1)[0] - (1 + rho / r)))
        errs.append(abs(fu.misattribution(S, s, 1)[0] - rho / r))
        errs.append(abs(fu.late_fusion_time_ratio(S, s, 1) - (1 + (r * r - 1) / (1 - rho * rho))) / fu.toy_time_ratio(r, rho))
        St, st = fu.toy_statistics(r, rho)
        errs.append(max(np.abs(St - S).max(), np.abs(st - s).max()))
    return float(max(errs))


def deep_ratio_independent(depth, fusion_layer, sigma, sigma_yx, u0):
    """The deep-fusion ratio recomputed without the closed forms of theory.fusion:
    the loss-free phase by solve_ivp in u_A (t and u_B together), the lag by quadrature."""
    S = np.asarray(sigma, float)
    s = np.asarray(sigma_yx, float)
    L, Lf = depth, fusion_layer
    w_uni = s[0] / S[0, 0]
    cB = s[1] - w_uni * S[0, 1]
    sa, k, c = abs(s[0]), np.sign(cB) * s[1] / abs(s[0]), abs(cB)

    def rhs(u, y):  # y = (t, u_B); d/du_A with g = Σ_yx (loss-free)
        ub = y[1]
        v = np.sqrt(u * u + ub * ub)
        dt = 1.0 / (sa * u ** (Lf - 1) * v ** (L - Lf))
        return [dt, k * sa * abs(ub) ** (Lf - 1) * np.sign(ub) ** (Lf - 1) * v ** (L - Lf) * dt]

    sol = solve_ivp(rhs, (u0, 1.0), [0.0, u0], method="DOP853", rtol=1e-12, atol=1e-14, dense_output=False)
    t_a = sol.y[0, -1]
    if Lf == 1:
        return 1.0
    if Lf == 2:
        ub0 = sol.y[1, -1]  # at u_A = 1
        lag = quad(lambda u: 1.0 / (c * u * w_uni ** (1 - Lf / L)), ub0, 1.0, epsrel=1e-12)[0]
    else:
        # B's size when A's factors have blown up (u_A → ∞): integrate further in 1/u_A
        sol2 = solve_ivp(lambda z, y: [-k * (y[0] * z) ** (Lf - 1) / z**2 * np.sign(y[0]) ** 0], (1.0, 1e-9), [sol.y[1, -1]],
                         method="DOP853", rtol=1e-12, atol=1e-16)
        ub0 = sol2.y[0, -1]
        lag = quad(lambda u: 1.0 / (c * u ** (Lf - 1) * w_uni ** (1 - Lf / L)), ub0, np.inf, epsrel=1e-12)[0]
    return 1.0 + lag / t_a


@claim("ch04-deep-ratio-independent", CH, "numeric",
       'fusion_time_ratio equals an independent computation (solve_ivp of the loss-free phase, '
       'quadrature of the lag) for L = 3, 4, 5, every L_f, and four (r, ρ, ε) cases.',
       tol=1e-8, tol_reason='both sides are quadratures/ODE solutions at relative tolerance 1e-11 to 1e-12; measured 7e-11',
       ref="thm-ch04-deep")
def _deep_indep():
    errs = []
    for L in (3, 4, 5):
        for Lf in range(1, L + 1):
            for r, rho, u0 in [(2.0, 0.0, 0.1), (1.5, -0.8, 0.05), (3.0, 0.6, 0.2), (2.0, -0.3, 0.1)]:
                S, s = fu.toy_statistics(r, rho)
                a = fu.fusion_time_ratio(L, Lf, S, s, 1, u0)
                b = deep_ratio_independent(L, Lf, S, s, u0)
                errs.append(abs(a - b) / b)
    return float(max(errs))


# ================================================================== numeric: GD


def _record(net):
    return lambda q: dict(zip(("WA", "WB"), (w[:, 0] for w in net.branch_weights(q))))


@lru_cache(maxsize=None)
def two_layer_run(fusion_layer: int, rho: float, r: float = R_TOY, u0: float = 1e-3, lr: float = 1e-3,
                  t_end: float = 10.0):
    """GD on the toy from the aligned init (hidden 2 per branch; width does not matter on the manifold)."""
    net = fs.FusionNet(1, 1, 2, fusion_layer, 2)
    p = fs.aligned_init(net, u0, n_ensemble=1, seed=0)
    t = np.round(np.arange(0.0, t_end + 1e-9, 0.02), 10)
    tr = engine.train_gd(net, p, fs.toy_moments(r, rho), lr, times=t, record=_record(net))
    return t, tr["WA"][:, 0], tr["WB"][:, 0], tr.loss[:, 0]


@claim("ch04-gd-trajectories", CH, "numeric",
       "Two-layer toy (r = 2, ρ = 0, aligned init ε = 1e-3, t ≤ 10): the GD weights W_A(t), W_B(t) (η = 1e-3) "
       "equal the logistic of each modality for late fusion and the reduced flow for early fusion.",
       tol=1e-2, tol_reason="Euler error O(ηΣ_yxA) on weights of size 1: measured 6.0e-3 at η = 1e-3 and "
                            "1.2e-2 at η = 2e-3 (first order)",
       ref="thm-ch04-logistic")
def _traj():
    S, s = fu.toy_statistics(R_TOY, 0.0)
    t, wa, wb, loss_late = two_layer_run(2, 0.0)
    th_a = fu.logistic_weight(t, 1.0, 1e-6, s[0])
    th_b = fu.logistic_weight(t, 1.0, 1e-6, s[1])
    t2, ea, eb, loss_early = two_layer_run(1, 0.0)
    th_e = fu.aligned_flow(t2, 2, 1, S, s, 1e-3)
    err = max(np.abs(wa - th_a).max(), np.abs(wb - th_b).max(), np.abs(ea - th_e[:, 0]).max(),
              np.abs(eb - th_e[:, 1]).max())
    return float(err), {"t": t, "late": (wa, wb, loss_late), "late_theory": (th_a, th_b),
                        "early": (ea, eb, loss_early), "early_theory": (th_e[:, 0], th_e[:, 1])}


TAU_FLOW = 2.0


@lru_cache(maxsize=None)
def flow_tau_run():
    """Gradient flow (solve_ivp) of full networks at τ = 2 from the aligned init: two-layer late fusion at
    ρ = 0 (ε = 0.03) and depth 4 fused at L_f = 3 at ρ = 0.5 (ε = 0.3)."""
    out = {}
    for key, (L, lf, rho, eps, t_end) in {"late2": (2, 2, 0.0, 0.03, 16.0), "deep3": (4, 3, 0.5, 0.3, 40.0)}.items():
        net = fs.FusionNet(1, 1, L, lf, 2)
        p = fs.aligned_init(net, eps, n_ensemble=1, seed=3)
        t = np.linspace(0.0, t_end, 161)
        tr = engine.integrate_flow(net, p, fs.toy_moments(R_TOY, rho), t, tau=TAU_FLOW, record=_record(net))
        out[key] = (t, tr["WA"][:, 0], tr["WB"][:, 0])
    return out


@claim("ch04-flow-tau", CH, "numeric",
       "With time constant τ = 2 and non-whitened data, the gradient flow of the full network equals the theory "
       "in value: the logistic W_m(t) of each modality (two-layer late fusion, ρ = 0, ε = 0.03) and the reduced "
       "two-variable flow (depth 4 fused at L_f = 3, ρ = 0.5, ε = 0.3), at every recorded time.",
       tol=1e-6, tol_reason="both sides are ODE solutions (solve_ivp, rtol 1e-10) of the same dynamics; measured "
                            "1.2e-7; a wrong power of τ would give errors of order 1",
       ref="thm-ch04-reduction")
def _flow_tau():
    runs = flow_tau_run()
    S0, s0 = fu.toy_statistics(R_TOY, 0.0)
    t, wa, wb = runs["late2"]
    err = max(np.abs(wa - fu.logistic_weight(t, 1.0, 0.03**2, s0[0], tau=TAU_FLOW)).max(),
              np.abs(wb - fu.logistic_weight(t, 1.0, 0.03**2, s0[1], tau=TAU_FLOW)).max())
    S, s = fu.toy_statistics(R_TOY, 0.5)
    t, wa, wb = runs["deep3"]
    W = fu.aligned_flow(t, 4, 3, S, s, 0.3, tau=TAU_FLOW)
    err = max(err, np.abs(wa - W[:, 0]).max(), np.abs(wb - W[:, 1]).max())
    return float(err), {"runs": runs}


def _assert_converged(tr, data, rtol=0.02):
    """t_B is read at half of max W_B: only meaningful if W_B has reached its final value."""
    wb_star = data.least_squares()[:, 1]
    gap = np.abs(tr["WB"][-1] - wb_star) / np.abs(wb_star)
    if np.any(gap > rtol):
        raise ValueError(f"run too short: W_B is {gap.max():.1%} away from its least-squares value")


def _ratio_sweep(r, rho, u0, lr, t_end, hidden=2, init="aligned", seed=0):
    r = np.asarray(r, float)
    rho = np.asarray(rho, float)
    data = fs.toy_moments(r, rho)
    E = data.n_sets
    net = fs.FusionNet(1, 1, 2, 2, hidden)
    if init == "aligned":
        p = fs.aligned_init(net, u0, n_ensemble=E, seed=seed)
    else:
        p = fs.gaussian_init(net, u0, n_ensemble=E, seed=seed)
    steps = np.arange(0, int(round(t_end / lr)) + 1, 4)
    tr = engine.train_gd(net, p, data, lr, steps=steps, record=_record(net))
    t = steps * lr
    _assert_converged(tr, data)
    level = np.array([fu.unimodal_solution(data.sigma[e], data.sigma_yx[e], 1)[0] for e in range(E)]) / 2
    ta, tb = fs.half_times(t, tr["WA"], tr["WB"], level)
    return t, tr["WA"], tr["WB"], ta, tb


@lru_cache(maxsize=None)
def protocol_ratios(lr: float = LR_SMALL, u0: float = U0_TWO):
    rho = np.array(RHO_PROTOCOL)
    t_end = 7 * np.log(1 / u0**2) / (2 * 3.0)
    *_, ta, tb = _ratio_sweep(np.full(3, R_TOY), rho, u0, lr, t_end)
    return tb / ta, ta


@claim("ch04-toy-ratio-gd", CH, "numeric",
       "Two-layer late fusion, r = 2, ρ ∈ {−0.5, 0, 0.5}, aligned init ε = 1e-12: GD (η = 1.25e-3) measures "
       "t_B/t_A = 1 + (r² − 1)/(1 − ρ²) and t_A = (τ/2Σ_yxA) ln(W_A^uni/ε² − 1) (the logistic's half time), "
       "both within 1%.",
       tol=1e-2, tol_reason="1% is the agreement the paper's protocol aims for; measured 0.75% for the ratio "
                            '(η-error ~0.3%, finite-ε error ~0.4% at ln(1/ε²) = 55) and 0.3% for t_A '
                            '(η-error)',
       ref="thm-ch04-ratio")
def _toy_ratio():
    sim, ta = protocol_ratios()
    rho = np.array(RHO_PROTOCOL)
    th = fu.toy_time_ratio(R_TOY, rho)
    ta_th = np.array([fu.logistic_half_time(fu.unimodal_solution(*fu.toy_statistics(R_TOY, x), 1)[0], U0_TWO**2,
                                            fu.toy_statistics(R_TOY, x)[1][0]) for x in rho])
    err_ratio = np.abs(sim - th) / th
    err_ta = np.abs(ta - ta_th) / ta_th
    return float(max(err_ratio.max(), err_ta.max())), {"rho": rho, "sim": sim, "theory": th, "ta": ta,
                                                        "ta_theory": ta_th, "err_ratio": err_ratio, "err_ta": err_ta}


@lru_cache(maxsize=None)
def heat_run():
    R, RHO = np.meshgrid(HEAT_R, HEAT_RHO, indexing="ij")
    r, rho = R.ravel(), RHO.ravel()
    t_end = 1.15 * max(fu.toy_time_ratio(a, b) * np.log(1 / U0_HEAT**2) / (2 * fu.toy_statistics(a, b)[1][0]) for a, b in zip(r, rho))
    t, wa, wb, ta, tb = _ratio_sweep(r, rho, U0_HEAT, LR_HEAT, t_end)
    # misattribution: W_A on the plateau (midway between t_A and t_B) relative to its final value
    mid = np.array([wa[np.searchsorted(t, 0.5 * (ta[e] + tb[e])), e] for e in range(len(r))])
    mis = (mid - wa[-1]) / wa[-1]
    return r, rho, tb / ta, mis


@claim("ch04-heatmap-ratio", CH, "numeric",
       'On 21 toy data sets (r ∈ {1.5, 2, 3}, |ρ| ≤ 0.75), the GD time ratio (η = 2.5e-3, aligned '
       'init ε = 1e-9) agrees with 1 + (r² − 1)/(1 − ρ²).',
       tol=3e-2, tol_reason="O(η Σ_yxA) Euler error (η Σ_yxA up to 0.029 at r = 3) plus the O(1/ln(1/ε)) finite-init "
                              'correction; measured 2.2% (0.75% in the protocol run at η = 1.25e-3, ε'
                              ' = 1e-12)',
       ref="fig-ch04-heatmaps")
def _heat_ratio():
    r, rho, ratio, _ = heat_run()
    th = fu.toy_time_ratio(r, rho)
    return float(np.max(np.abs(ratio - th) / th)), {"r": r, "rho": rho, "sim": ratio, "theory": th}


@claim("ch04-heatmap-misattribution", CH, "numeric",
       'On the same runs, W_A on the unimodal plateau exceeds its final value by ρ/r.',
       tol=2e-3, tol_reason="mid-plateau W_B is small but not zero and W_A is still relaxing onto the plateau; measured 2.5e-4",
       ref="thm-ch04-ratio")
def _heat_mis():
    r, rho, _, mis = heat_run()
    th = rho / r
    return float(np.max(np.abs(mis - th))), {"r": r, "rho": rho, "sim": mis, "theory": th}


@claim("ch04-large-step", CH, "numeric",
       "At the authors' step η = 0.04 (r = 2, ρ = 0), GD measures t_B/t_A = ln(1 + ηΣ_yxA)/ln(1 + "
       "ηΣ_yxB) = 3.78 instead of the flow's 4.",
       tol=5e-3, tol_reason="the discrete-rate prediction is itself leading order in ln(1/ε), like the flow's; measured 3.1e-3",
       ref="sec-ch04-large-step")
def _large_step():
    S, s = fu.toy_statistics(R_TOY, 0.0)
    *_, ta, tb = _ratio_sweep(np.array([R_TOY]), np.array([0.0]), U0_HEAT, 0.04, 40.0)
    sim = float(tb[0] / ta[0])
    pred = np.log(1 + 0.04 * s[0]) / np.log(1 + 0.04 * s[1])
    return abs(sim - pred) / pred, {"sim": sim, "discrete": pred, "flow": fu.toy_time_ratio(R_TOY, 0.0)}


@lru_cache(maxsize=None)
def sign_caveat_run():
    """The example r = 3, ρ = −0.6 (Σ_yxB < 0 < c_B) from a random init h = 50, u0 = 1e-6."""
    t, wa, wb, ta, tb = _ratio_sweep(np.array([3.0]), np.array([-0.6]), 1e-6, 0.0025, 40.0, hidden=50, init="gaussian")
    return t, wa[:, 0], wb[:, 0], float(tb[0] / ta[0])


def wrong_sign_growth(t, wb, t_a):
    """B's early wrong-sign growth: (W_B(0), min W_B, the time of the minimum, and whether the minimum
    is at least 50 times below min(W_B(0), 0) and reached before 1.5 t_A)."""
    i = int(np.argmin(wb))
    ok = bool(wb[i] < 50 * min(wb[0], 0.0) and wb[i] < 0 and t[i] < 1.5 * t_a)
    return float(wb[0]), float(wb[i]), float(t[i]), ok


@claim("ch04-sign-caveat", CH, "numeric",
       'Toy r = 3, ρ = −0.6 (Σ_yxB = −0.8 < 0 < c_B = 0.64), random init: GD measures 13.7, within 2% '
       'of the signed ratio 13.5 and far from the norm form 1 + (‖Σ_yxA‖ − ‖Σ_yxB‖)/‖c_B‖ = 11.0; before '
       't_A, W_B first grows (negligibly) with the wrong sign.',
       tol=2e-2, tol_reason="η = 2.5e-3 with ηΣ_yxA = 0.018 gives an O(ηΣ_yxA) shift; measured 1.2%, while "
                            "the norm form is 19.5% below the GD value (less than 10% would add 1, as would "
                            "no wrong-sign growth of W_B by a factor 50 before 1.5 t_A)",
       ref="sec-ch04-sign")
def _sign():
    S, s = fu.toy_statistics(3.0, -0.6)
    t, wa, wb, ratio = sign_caveat_run()
    signed = fu.late_fusion_time_ratio(S, s, 1)
    boxed = 1 + (abs(s[0]) - abs(s[1])) / abs(fu.residual_drive(S, s, 1)[0])
    t_a = float(fs.first_crossing(t, wa, fu.unimodal_solution(S, s, 1)[0] / 2)[0])
    wb0, wb_min, t_min, wrong_sign = wrong_sign_growth(t, wb, t_a)
    bad = int(abs(ratio - boxed) / ratio < 0.1) + int(not wrong_sign)
    return abs(ratio - signed) / signed + bad, {"sim": ratio, "signed": signed, "boxed": boxed, "t_a": t_a,
                                                "wb0": wb0, "wb_min": wb_min, "t_min": t_min}


# ------------------------------------------------------------------ deep fusion


@lru_cache(maxsize=None)
def deep_sweep(init: str = "aligned", lr: float = DEEP_LR, u0: float = DEEP_U0, hidden: int = 4, seeds: int = 1,
               t_end: float = 100.0, rhos: tuple = DEEP_RHO):
    """Depth-4 networks fused at every L_f, for every ρ (and seed): one ensemble, one GD run."""
    LF, RHO, SEED = np.meshgrid(DEEP_LF, rhos, np.arange(seeds), indexing="ij")
    LF, RHO = LF.ravel(), RHO.ravel()
    net = fs.FusionNet(1, 1, DEEP_L, LF, hidden)
    data = fs.toy_moments(R_TOY, RHO)
    if init == "aligned":
        p = fs.aligned_init(net, u0, seed=0)
    else:
        p = fs.gaussian_init(net, u0, seed=0, scheme="numel")
    steps = np.arange(0, int(round(t_end / lr)) + 1, 4)
    tr = engine.train_gd(net, p, data, lr, steps=steps, record=_record(net))
    t = steps * lr
    _assert_converged(tr, data)
    level = np.array([fu.unimodal_solution(*fu.toy_statistics(R_TOY, rho), 1)[0] for rho in RHO]) / 2
    ta, tb = fs.half_times(t, tr["WA"], tr["WB"], level)
    shape = (len(DEEP_LF), len(rhos), seeds)
    return {"t": t, "WA": tr["WA"], "WB": tr["WB"], "loss": tr.loss, "ta": ta.reshape(shape), "tb": tb.reshape(shape),
            "ratio": (tb / ta).reshape(shape), "LF": LF, "RHO": RHO}


@lru_cache(maxsize=None)
def deep_theory(u0: float = DEEP_U0):
    th = np.array([[fu.fusion_time_ratio(DEEP_L, lf, *fu.toy_statistics(R_TOY, rho), 1, u0) for rho in DEEP_RHO] for lf in DEEP_LF])
    tt = np.linspace(0.0, 100.0, 2001)
    exact = np.empty_like(th)
    ta_exact = np.empty_like(th)
    tb_exact = np.empty_like(th)
    for i, lf in enumerate(DEEP_LF):
        for j, rho in enumerate(DEEP_RHO):
            S, s = fu.toy_statistics(R_TOY, rho)
            W = fu.aligned_flow(tt, DEEP_L, lf, S, s, u0, rtol=1e-8)
            ta, tb = fs.half_times(tt, W[:, 0], W[:, 1], fu.unimodal_solution(S, s, 1)[0] / 2)
            ta_exact[i, j], tb_exact[i, j] = ta[0], tb[0]
            exact[i, j] = tb[0] / ta[0]
    return th, exact, ta_exact, tb_exact


@claim("ch04-deep-gd-flow", CH, "numeric",
       'Depth 4, every L_f, ρ ∈ {0, ±0.25, ±0.5}: GD from the aligned init (ε = 0.1, η = 1e-2) has '
       'the same t_A, t_B and t_B/t_A as the reduced two-variable flow.',
       tol=1e-2, tol_reason="O(η) Euler error of GD against the solve_ivp reference; measured 0.49% at η = 1e-2 (t_A, t_B and the ratio; 0.32% for the ratio alone, 0.11% at η = 5e-3)",
       ref="thm-ch04-reduction")
def _deep_gd_flow():
    d = deep_sweep()
    sim = d["ratio"][:, :, 0]
    _, exact, ta_ex, tb_ex = deep_theory()
    err = max(np.max(np.abs(sim - exact) / exact), np.max(np.abs(d["ta"][:, :, 0] - ta_ex) / ta_ex),
              np.max(np.abs(d["tb"][:, :, 0] - tb_ex) / tb_ex))
    return float(err), {"sim": sim, "exact": exact, "ta": d["ta"][:, :, 0], "ta_exact": ta_ex}


@claim("ch04-deep-gd-theory", CH, "numeric",
       'Depth 4, aligned init ε = 0.1: the leading-order ratio of fusion_time_ratio matches GD for '
       'L_f = 2, 3, 4 and |ρ| ≤ 0.5, and both increase with L_f.',
       tol=8e-2, tol_reason="the formula is leading order in ε (it integrates u to 1 and neglects the loss during the "
                            'rise); measured 6.8% at u0 = 0.1, and the error shrinks as ε decreases '
                            '(claim ch04-deep-init-trend)',
       ref="thm-ch04-deep")
def _deep_gd_theory():
    sim = deep_sweep()["ratio"][:, :, 0]
    th = deep_theory()[0]
    sel = np.abs(np.array(DEEP_RHO)) <= 0.5 + 1e-9
    err = np.abs(sim[1:, sel] - th[1:, sel]) / th[1:, sel]
    monotone = bool(np.all(np.diff(sim, axis=0) > 0) and np.all(np.diff(th, axis=0) > 0))
    return float(err.max()) if monotone else np.inf, {"sim": sim, "theory": th, "rho": np.array(DEEP_RHO)}


@lru_cache(maxsize=None)
def init_sweep(u0s=(0.2, 0.1, 0.05)):
    """Deep-fusion theory vs the exact reduced flow at ρ = 0 for several u0 (L_f = 2, 3, 4)."""
    S, s = fu.toy_statistics(R_TOY, 0.0)
    out = np.empty((3, len(u0s)))
    ex = np.empty_like(out)
    for j, u0 in enumerate(u0s):
        t_end = 6 * 1.0 / (2 * s[0]) * u0**-2 * 1.5
        tt = np.linspace(0.0, t_end, 4001)
        for i, lf in enumerate((2, 3, 4)):
            W = fu.aligned_flow(tt, DEEP_L, lf, S, s, u0, rtol=1e-8)
            ta, tb = fs.half_times(tt, W[:, 0], W[:, 1], 0.5)
            ex[i, j] = tb[0] / ta[0]
            out[i, j] = fu.fusion_time_ratio(DEEP_L, lf, S, s, 1, u0)
    return np.array(u0s), out, ex


@claim("ch04-deep-init-trend", CH, "numeric",
       'At ρ = 0 the error of the leading-order deep ratio against the exact reduced flow shrinks as '
       'ε falls from 0.2 to 0.05 (L_f = 2, 3, 4); intermediate-fusion ratios fall towards 1, late '
       'fusion stays at 4.',
       tol=1e-9, tol_reason="an ordering: the error is the number of violated inequalities",
       ref="sec-ch04-init-scale")
def _deep_trend():
    u0s, th, ex = init_sweep()
    rel = np.abs(th - ex) / ex
    bad = int(np.sum(np.diff(rel, axis=1) > 0)) + int(np.sum(np.diff(ex[:2], axis=1) > 0))
    bad += int(abs(ex[2, -1] - 4.0) > 0.1)
    return float(bad), {"u0": u0s, "theory": th, "exact": ex, "rel": rel}


class AuthorsDeepFusion:
    """A depth-L linear network fused at one layer L_f with the widths of the authors' ``deep_fusion``.

    Scalar modalities; ``hidden`` units in every branch layer *and* in every shared layer (the
    fusion layer maps the 2·hidden concatenated units to hidden, or to the output when
    L_f = L). Parameters are stored unpadded (``A1…``, ``B1…``, ``F``, ``S…``), so a step costs
    what the authors' network costs; :class:`theorylib.sim.fusion.FusionNet` pads every hidden
    layer to 2·hidden. It plugs into :func:`theorylib.sim.engine.train_gd` (``loss``, ``grad``)
    and trains on population moments (:class:`theorylib.sim.fusion.FusionMoments`). No closed
    form is used: it is plain gradient descent on the loss of eq. ``eq-ch04-loss``.
    """

    def __init__(self, depth: int, fusion_layer: int, hidden: int = 100):
        self.L, self.Lf, self.h = int(depth), int(fusion_layer), int(hidden)
        if not (1 <= self.Lf <= self.L and self.h >= 1):
            raise ValueError("need 1 ≤ fusion_layer ≤ depth and hidden ≥ 1")
        L, Lf, h = self.L, self.Lf, self.h
        shapes = {}
        for l in range(1, Lf):
            for m in "AB":
                shapes[f"{m}{l}"] = (h, 1 if l == 1 else h)
        shapes["F"] = (1 if Lf == L else h, 2 if Lf == 1 else 2 * h)
        for l in range(Lf + 1, L + 1):
            shapes[f"S{l}"] = (1 if l == L else h, h)
        self.shapes = shapes

    def init(self, eps: float, n_ensemble: int, seed: int = 0) -> dict:
        """The authors' Gaussian init: branch blocks N(0, ε²/numel), fusion and shared N(0, 2ε²/numel)."""
        rng = np.random.default_rng(seed)
        out = {}
        for name, (o, i) in self.shapes.items():
            gain = 1.0 if name[0] in "AB" else np.sqrt(2.0)
            out[name] = gain * eps / np.sqrt(o * i) * rng.standard_normal((int(n_ensemble), o, i))
        return out

    def _forward(self, p):
        Lf, h = self.Lf, self.h
        E = p["F"].shape[0]
        al, bl = [np.ones((E, 1, 1))], [np.ones((E, 1, 1))]
        for l in range(1, Lf):
            al.append(p[f"A{l}"] @ al[-1])
            bl.append(p[f"B{l}"] @ bl[-1])
        F = p["F"]
        f = F if Lf == 1 else np.concatenate([F[:, :, :h] @ al[-1], F[:, :, h:] @ bl[-1]], axis=2)
        chain = [f]
        for l in range(Lf + 1, self.L + 1):
            chain.append(p[f"S{l}"] @ chain[-1])
        return al, bl, chain

    def product(self, p) -> np.ndarray:
        """End-to-end map (W_A, W_B), shape (E, 2)."""
        return self._forward(p)[2][-1][:, 0, :]

    def loss(self, p, data):
        W = self.product(p)
        S = np.broadcast_to(data.sigma, (W.shape[0], 2, 2))
        return 0.5 * data.e_yy - np.sum(W * data.sigma_yx, axis=1) + 0.5 * np.einsum("ei,eij,ej->e", W, S, W)

    def grad(self, p, data):
        Lf, h, L = self.Lf, self.h, self.L
        al, bl, chain = self._forward(p)
        R = data.sigma_yx[:, None, :] - chain[-1] @ data.sigma  # (E, 1, 2): Σ_yx − WΣ
        E = R.shape[0]
        g, beta = {}, np.ones((E, 1))
        for l in range(L, Lf, -1):  # shared layers, from the output down
            right = (R @ np.swapaxes(chain[l - Lf - 1], 1, 2))[:, 0]
            g[f"S{l}"] = -np.einsum("ei,ej->eij", beta, right)
            beta = (beta[:, None, :] @ p[f"S{l}"])[:, 0]
        if Lf == 1:
            g["F"] = -np.einsum("ei,ej->eij", beta, R[:, 0])
            return g
        right = np.concatenate([R[:, 0, :1] * al[-1][:, :, 0], R[:, 0, 1:] * bl[-1][:, :, 0]], axis=1)
        g["F"] = -np.einsum("ei,ej->eij", beta, right)
        gam = (beta[:, None, :] @ p["F"])[:, 0]
        for m, vecs, sl, Rm in (("A", al, slice(0, h), R[:, 0, 0]), ("B", bl, slice(h, 2 * h), R[:, 0, 1])):
            gm = gam[:, sl]
            for l in range(Lf - 1, 0, -1):
                g[f"{m}{l}"] = -np.einsum("ei,ej->eij", gm * Rm[:, None], vecs[l - 1][:, :, 0])
                gm = (gm[:, None, :] @ p[f"{m}{l}"])[:, 0]
        return g


AUTH_LF = (2, 3, 4)
AUTH_STEPS = {2: 1800, 3: 2700, 4: 8000}   # enough for W_B to settle in every seed
AUTH_SEEDS, AUTH_LR, AUTH_WIDTH = 4, 0.04, 100


@lru_cache(maxsize=None)
def random_init_run(seeds: int = AUTH_SEEDS, lr: float = AUTH_LR, hidden: int = AUTH_WIDTH):
    """The authors' deep setting: depth 4, 100 units per branch and 100 shared, Gaussian init of norm
    ε = 0.1 per layer (√2 ε for fusion and shared layers), η = 0.04, toy r = 2, ρ = 0, per L_f."""
    data = fs.toy_moments(R_TOY, 0.0)
    ta, tb = np.empty((len(AUTH_LF), seeds)), np.empty((len(AUTH_LF), seeds))
    for i, lf in enumerate(AUTH_LF):
        net = AuthorsDeepFusion(DEEP_L, lf, hidden)
        p = net.init(DEEP_U0, seeds, seed=10 + lf)
        steps = np.arange(0, AUTH_STEPS[lf] + 1, 10)
        tr = engine.train_gd(net, p, data, lr, steps=steps, record=lambda q: {"W": net.product(q)})
        _assert_converged({"WB": tr["W"][:, :, 1]}, data)
        ta[i], tb[i] = fs.half_times(steps * lr, tr["W"][:, :, 0], tr["W"][:, :, 1], 0.5)
    return {"ta": ta, "tb": tb, "ratio": tb / ta}


def effective_scale(fusion_layer: int, t_a: float) -> float:
    """The aligned-init scale ε_eff whose theoretical t_A (fusion_times) equals the measured t_A."""
    S, s = fu.toy_statistics(R_TOY, 0.0)
    return brentq(lambda e: fu.fusion_times(DEEP_L, fusion_layer, S, s, 1, e)[0] - t_a, 1e-3, 0.9)


@claim("ch04-random-init", CH, "numeric",
       "At the authors' deep setting (depth 4, 100 units per branch and 100 shared, Gaussian init of norm "
       "ε = 0.1 per branch layer and √2ε per shared layer, η = 0.04, r = 2, ρ = 0, 4 seeds), late fusion's seed-mean t_B/t_A equals the "
       "late-fusion limit 1 + (r² − 1)/(1 − ρ²) = 4, while single seeds scatter around it.",
       tol=5e-2, tol_reason="seed scatter: single-seed ratios 3.89–4.16, so the 4-seed mean has a standard error "
                            "of 1.6%; the tolerance is three standard errors. Measured 0.6%",
       ref="sec-ch04-random-init")
def _random_init():
    rnd = random_init_run()
    late = float(rnd["ratio"][-1].mean())
    limit = float(fu.toy_time_ratio(R_TOY, 0.0))
    return abs(late - limit) / limit, {**rnd, "late": late, "limit": limit}


@claim("ch04-random-init-effective", CH, "numeric",
       "At the same setting, an aligned init of the effective scale ε_eff fitted to the measured t_A "
       "(one number per L_f) predicts the measured seed-mean t_B/t_A within 2% for L_f = 2 and 4 but is "
       "10–16% low for L_f = 3; the aligned theory at ε = 0.1 overestimates the ratios for L_f = 2, 3.",
       tol=2e-2, tol_reason="the error is the larger relative gap for L_f = 2, 4 (measured 0.7%); the 4-seed "
                            "means have standard errors of 0.04% (L_f = 2) and 1.6% (L_f = 4), and the "
                            "leading-order estimate is within 0.7% of the exact reduced flow at ε = 0.05 "
                            "(claim ch04-deep-init-trend). Each failed ordering (aligned above GD for "
                            "L_f = 2, 3; L_f = 3 gap between 10% and 16%, measured 12.5%, seed standard "
                            "error 2.9%) adds 1",
       ref="sec-ch04-random-init")
def _random_eff():
    rnd = random_init_run()
    S, s = fu.toy_statistics(R_TOY, 0.0)
    ta, ratio = rnd["ta"].mean(axis=1), rnd["ratio"].mean(axis=1)
    eff = np.array([effective_scale(lf, t) for lf, t in zip(AUTH_LF, ta)])
    pred = np.array([fu.fusion_time_ratio(DEEP_L, lf, S, s, 1, e) for lf, e in zip(AUTH_LF, eff)])
    aligned = np.array([fu.fusion_time_ratio(DEEP_L, lf, S, s, 1, DEEP_U0) for lf in AUTH_LF])
    ta_aligned = np.array([fu.fusion_times(DEEP_L, lf, S, s, 1, DEEP_U0)[0] for lf in AUTH_LF])
    rel = (pred - ratio) / ratio
    err = float(max(abs(rel[0]), abs(rel[2])))
    bad = int(np.sum(aligned[:2] <= ratio[:2])) + int(not 0.10 < -rel[1] < 0.16)
    return err + bad, {"eps_eff": eff, "rel": rel, "pred": pred, "sim": ratio, "aligned": aligned, "ta": ta,
                 "ta_aligned": ta_aligned}


# ------------------------------------------------------------------ over-parameterisation and ReLU


@lru_cache(maxsize=None)
def overparam_run(std: float = 1e-6, lr: float = 0.04, n_steps: int = 3000):
    Ss, ss, es = [], [], []
    for n in (70, 700):
        d, S_true, w_true = fs.multi_samples(n, seed=0)
        m = d.moments()
        Ss.append(m.sigma[0]); ss.append(m.sigma_yx[0]); es.append(m.e_yy[0])
    idx = [0, 0, 1, 1]  # (n = 70: early, late), (n = 700: early, late)
    data = fs.FusionMoments(np.stack([Ss[i] for i in idx]), np.stack([ss[i] for i in idx]), np.array([es[i] for i in idx]))
    net = fs.FusionNet(50, 50, 2, [1, 2, 1, 2], 25)
    p = fs.gaussian_init(net, std, seed=0)

    def rec(q):
        dW = net.product(q) - w_true
        return {"Eg": 0.5 * np.einsum("ei,ij,ej->e", dW, S_true, dW)}

    steps = np.arange(0, n_steps + 1, 20)
    tr = engine.train_gd(net, p, data, lr, steps=steps, record=rec)
    minnorm = []
    for S, s in zip(Ss, ss):
        dW = np.linalg.pinv(S) @ s - w_true
        minnorm.append(0.5 * dW @ S_true @ dW)
    return steps * lr, tr["Eg"], tr.loss, np.array(minnorm)


@claim("ch04-overparam", CH, "numeric",
       "With D = 100 inputs and P = 70 samples, early fusion ends at the minimum-norm interpolant's "
       'generalisation error and late fusion more than 0.1 above it; with P = 700 both reach least '
       'squares.',
       tol=1e-3, tol_reason="GD has converged to 1e-7 in loss after 3000 steps; the error is max(|Eg_early − Eg_minnorm| "
                            "(P = 70), |ΔEg| (P = 700), shortfall of the 0.1 gap); measured 3.3e-6",
       ref="sec-ch04-overparam")
def _overparam():
    t, Eg, loss, minnorm = overparam_run()
    final = Eg[-1]
    err = max(abs(final[0] - minnorm[0]), abs(final[2] - final[3]), abs(final[2] - minnorm[1]), max(0.0, 0.1 - (final[1] - final[0])))
    return float(err), {"t": t, "Eg": Eg, "minnorm": minnorm}


OVERPARAM_STDS = (1e-2, 1e-6, 1e-10)


@claim("ch04-overparam-scale", CH, "numeric",
       "With P = 70 samples, late fusion's final generalisation error rises as the initial standard "
       "deviation falls from 1e-2 to 1e-6 to 1e-10: a smaller start spends longer in the unimodal phase "
       "and ends deeper in the A-first interpolant.",
       tol=1e-9, tol_reason="an ordering: the error is the number of steps in the sequence that raise E_g by "
                            "less than 0.05 (measured rises 0.36 and 0.11; E_g moves by < 3e-4 between 3000 "
                            "and 6000 steps)",
       ref="sec-ch04-overparam")
def _overparam_scale():
    late = np.array([overparam_run(std=x)[1][-1, 1] for x in OVERPARAM_STDS])
    bad = int(np.sum(np.diff(late) < 0.05))
    return float(bad), {"std": np.array(OVERPARAM_STDS), "late": late}


@lru_cache(maxsize=None)
def relu_run(rho: float, lr: float = 0.01, t_end: float = 30.0):
    d = fs.toy_samples(R_TOY, rho, 1024, seed=1)
    net = fs.FusionNet(1, 1, 2, 2, 10, slope=0.0)
    p = fs.gaussian_init(net, 1e-4, n_ensemble=1, seed=2)
    steps = np.arange(0, int(round(t_end / lr)) + 1, 10)
    rec = lambda q: dict(zip(("WA", "WB"), (w[:, 0] for w in net.modality_coefficients(q, d))))
    tr = engine.train_gd(net, p, d, lr, steps=steps, record=rec)
    m = d.moments()
    S, s = m.sigma[0], m.sigma_yx[0]
    ta, tb = fs.half_times(steps * lr, tr["WA"], tr["WB"], fu.unimodal_solution(S, s, 1)[0] / 2)
    return float(tb[0] / ta[0]), fu.late_fusion_time_ratio(S, s, 1)


@claim("ch04-relu", CH, "numeric",
       'Two-layer late-fusion ReLU networks (10 units per branch, 1024 samples, r = 2, ρ ∈ {0, 0.5}) '
       "have the linear networks' time ratio, computed from the sample statistics.",
       tol=5e-2, tol_reason="not a theorem for ReLU: the half-plane structure adds O(1) terms to ln(1/ε) = 9 at this "
                            "init; measured 1.6% (ρ = 0) and 3.7% (ρ = 0.5) at η = 1e-2",
       ref="sec-ch04-relu")
def _relu():
    out = {rho: relu_run(rho) for rho in (0.0, 0.5)}
    err = max(abs(a - b) / b for a, b in out.values())
    return float(err), {"runs": out}


# ------------------------------------------------------------------ multi-dimensional B against its drive

MULTI_SIGMA = ((1.0, 0.9, 0.0), (0.9, 1.0, 0.0), (0.0, 0.0, 1.0))
MULTI_SYX = (3.0, 0.5, 0.2)
MULTI_U0 = (1e-3, 1e-6, 1e-12, 1e-24, 1e-48)


def _multidim_ratios(syx, u0s, horizon, lr, seeds):
    """Late fusion with D_A = 1, D_B = 2 on MULTI_SIGMA, random init at several u0 at once:
    the GD ratios t_B/t_A (len(u0s), seeds) and W_B's final component along w*_B (normalised).
    ``horizon`` scales the escape time ln(1/(8u0²))/6 that sets how long to train."""
    S, s = np.array(MULTI_SIGMA), np.array(syx)
    w = np.linalg.solve(S, s)
    data = fs.FusionMoments(S, s, float(s @ w))
    net = fs.FusionNet(1, 2, 2, 2, 8)
    u0 = np.repeat(np.array(u0s), seeds)
    p = fs.gaussian_init(net, 1.0, n_ensemble=len(u0), seed=1)
    p = {k: v * u0[:, None, None] for k, v in p.items()}
    t_end = horizon * np.log(1 / (8 * min(u0s) ** 2)) / 6 + 10
    steps = np.arange(0, int(round(t_end / lr)) + 1, 4)
    wb_dir = w[1:] / np.linalg.norm(w[1:])
    rec = lambda q: {"WA": net.branch_weights(q)[0][:, 0], "WB": net.branch_weights(q)[1] @ wb_dir}
    tr = engine.train_gd(net, p, data, lr, steps=steps, record=rec)
    ta, tb = fs.half_times(steps * lr, tr["WA"], tr["WB"], fu.unimodal_solution(S, s, 1)[0] / 2)
    return (tb / ta).reshape(len(u0s), seeds), tr["WB"][-1] / np.linalg.norm(w[1:])


@lru_cache(maxsize=None)
def multidim_run(lr: float = 0.005, seeds: int = 2):
    """Σ_yxB·c_B < 0 (cos θ = −0.89): the u0 grid and the GD ratios."""
    return np.array(MULTI_U0), _multidim_ratios(MULTI_SYX, MULTI_U0, 3.5, lr, seeds)[0]


@claim("ch04-multidim-limit", CH, "numeric",
       'Two-dimensional B with Σ_yxB·c_B < 0 (cos θ = −0.89): the GD ratio falls monotonically as ε '
       'goes from 1e-3 to 1e-48 and approaches the norm form (2.11), not the signed one (2.58).',
       tol=3e-2, tol_reason="the approach is logarithmic: the projection factor (1 + cos θ)/2 adds "
                            "ln(2/(1 + cos θ))‖Σ_yxA‖/(‖c_B‖ ln(1/ε)) ≈ 1.7% at u0 = 1e-48, plus an O(η) shift; measured 2.5% (monotonicity "
                            "violations would add 1 each)",
       ref="sec-ch04-multidim")
def _multidim():
    u0, ratio = multidim_run()
    S, s = np.array(MULTI_SIGMA), np.array(MULTI_SYX)
    c = fu.residual_drive(S, s, 1)
    boxed = 1 + (abs(s[0]) - np.linalg.norm(s[1:])) / np.linalg.norm(c)
    signed = 1 + (abs(s[0]) - s[1:] @ c / np.linalg.norm(c)) / np.linalg.norm(c)
    mean = ratio.mean(axis=1)
    bad = int(np.sum(np.diff(mean) >= 0))
    return float(abs(mean[-1] - boxed) / boxed + bad), {"u0": u0, "ratio": ratio, "boxed": boxed, "signed": signed,
                                                         "cos": float(s[1:] @ c / np.linalg.norm(s[1:]) / np.linalg.norm(c))}


MULTI_SYX_POS = (3.0, 0.5, 2.0)          # same Σ, Σ_yxB·c_B > 0 (cos θ = +0.47)
MULTI_U0_POS = (1e-3, 1e-6, 1e-12, 1e-24)


@lru_cache(maxsize=None)
def multidim_positive_run(lr: float = 0.005, seeds: int = 2):
    """Σ_yxB·c_B > 0 (cos θ = +0.47): the u0 grid, the GD ratios and W_B's end value."""
    ratio, wb_end = _multidim_ratios(MULTI_SYX_POS, MULTI_U0_POS, 2.0, lr, seeds)
    return np.array(MULTI_U0_POS), ratio, wb_end


@claim("ch04-multidim-positive", CH, "numeric",
       'Two-dimensional B with Σ_yxB·c_B > 0 (cos θ = +0.47): the GD ratio falls monotonically as ε goes '
       'from 1e-3 to 1e-24 and approaches the norm form (1.32), not the projected signed form (1.68); at '
       'ε = 1e-24 it is within 5% of the norm form.',
       tol=5e-2, tol_reason="finite-ε corrections of relative order 1/ln(1/ε), as for a scalar B: the measured "
                            "excess times ln(1/ε) is 1.4–2.0 over the sweep, i.e. about 3.6% at ln(1/ε) = 55, "
                            "plus an O(ηΣ_yxA) = 1.5% step bias; measured 3.7% (each monotonicity violation, "
                            "or an end point nearer the signed form, would add 1)",
       ref="sec-ch04-multidim")
def _multidim_pos():
    u0, ratio, wb_end = multidim_positive_run()
    S, s = np.array(MULTI_SIGMA), np.array(MULTI_SYX_POS)
    c = fu.residual_drive(S, s, 1)
    nc = np.linalg.norm(c)
    boxed = 1 + (abs(s[0]) - np.linalg.norm(s[1:])) / nc
    signed = 1 + (abs(s[0]) - s[1:] @ c / nc) / nc
    mean = ratio.mean(axis=1)
    bad = int(np.sum(np.diff(mean) >= 0)) + int(abs(mean[-1] - boxed) >= abs(mean[-1] - signed))
    bad += int(np.any(np.abs(wb_end - 1) > 0.02))  # W_B must have converged for t_B to mean anything
    return float(abs(mean[-1] - boxed) / boxed + bad), {"u0": u0, "ratio": ratio, "boxed": boxed, "signed": signed,
                                                         "cos": float(s[1:] @ c / np.linalg.norm(s[1:]) / nc)}
