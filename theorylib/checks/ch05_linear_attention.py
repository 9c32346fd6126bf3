"""Claims of Chapter 5 (linear attention; Zhang, Singh, Latham & Saxe 2025).

Paper conventions throughout: ``L = E(y_q − ŷ_q)²`` without ½, ``τ θ̇ = −½ ∂L/∂θ``, ``1/N`` in the
attention. Symbolic claims return expressions sympy must reduce to zero; numeric claims compare
:mod:`theorylib.theory.linear_attention` with :mod:`theorylib.sim.attention` (GD, ``solve_ivp``,
sampled sequences) or with scipy quadrature.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
import sympy as sp
from scipy.integrate import quad

from theorylib.claims import claim
from theorylib.sim import attention as at
from theorylib.sim.engine import Trajectory, integrate_flow, train_gd
from theorylib.symbolic import gradient_flow, matrix_symbols, symmetric_matrix_symbols, time_derivative
from theorylib.theory import linear_attention as la

CH = "ch05"

# Validation settings: the paper's Fig. 3 spectrum, N = 31, H = 5.
SPECTRUM = np.array([0.4, 0.3, 0.2, 0.1])
N_CTX = 31
H_SEP = 5
SEP_SCALE = 0.01
SEP_DT = 1.0
SEP_T = 32000.0
N_SEEDS = 6
# Rank R (paper Fig. 4 has λ_d ∝ d; we use a geometric spectrum, see the chapter)
RANK_SPECTRUM = 0.75 ** np.arange(8)
RANKS = (1, 2, 4, 8)
RANK_SCALE, RANK_DT, RANK_T, RANK_SEEDS, RANK_H = 0.004, 0.6, 20000.0, 2, 9
DWELL_MIN = 0.15


def setting(seed=1):
    """Λ with spectrum (0.4, 0.3, 0.2, 0.1) (the paper's Fig. 3) in a random basis, its eigenvectors and
    population moments."""
    Lam, O = at.covariance_with_spectrum(SPECTRUM, seed=seed)
    return Lam, O, at.population_moments(Lam, N_CTX)


# =========================================================================== symbolic
def _tokens(D, N):
    xs = [sp.Matrix(D, 1, lambda i, j, n=n: sp.Symbol(f"x_{n + 1}{i + 1}", real=True)) for n in range(N)]
    xq = sp.Matrix(D, 1, lambda i, j: sp.Symbol(f"xq_{i + 1}", real=True))
    ys = [sp.Symbol(f"y_{n + 1}", real=True) for n in range(N)]
    X = sp.zeros(D + 1, N + 1)
    for n in range(N):
        X[:D, n] = xs[n]
        X[D, n] = ys[n]
    X[:D, N] = xq
    beta = sum((ys[n] * xs[n] for n in range(N)), sp.zeros(D, 1)) / N
    return X, xq, beta


def merged_reduction_residual(D=2, N=2, H=2):
    """Full merged attention at (D+1, N+1) minus ``Σ_i v_i βᵀU_i x_q``, with the ``*`` blocks symbolic."""
    X, xq, beta = _tokens(D, N)
    out, red = sp.Integer(0), sp.Integer(0)
    for i in range(H):
        WV = matrix_symbols(f"a{i}", D + 1, D + 1, real=True)
        WV[D, :D] = sp.zeros(1, D)  # the x-part of the value's label row is dormant (zero)
        WKQ = matrix_symbols(f"b{i}", D + 1, D + 1, real=True)
        WKQ[D, :D] = sp.zeros(1, D)  # u_i = 0
        out += (WV * X * X.T * WKQ * X)[D, N] / N
        red += WV[D, D] * (beta.T * WKQ[:D, :D] * xq)[0, 0]
    return sp.expand(out - red)


def separate_reduction_residual(D=2, N=2, H=2, R=2):
    """Full separate rank-R attention minus ``Σ_i v_i Σ_r βᵀ k_ir q_irᵀ x_q``."""
    X, xq, beta = _tokens(D, N)
    out, red = sp.Integer(0), sp.Integer(0)
    for i in range(H):
        WV = matrix_symbols(f"a{i}", D + 1, D + 1, real=True)
        WV[D, :D] = sp.zeros(1, D)
        WK = matrix_symbols(f"k{i}", R, D + 1, real=True)
        WK[:, D] = sp.zeros(R, 1)  # keys ignore the label
        WQ = matrix_symbols(f"q{i}", R, D + 1, real=True)
        out += (WV * X * (WK * X).T * (WQ * X))[D, N] / N
        for r in range(R):
            red += WV[D, D] * (beta.T * WK[r, :D].T * WQ[r, :D] * xq)[0, 0]
    return sp.expand(out - red)


def two_layer_residual(D=2, N=2, H=2):
    """``Σ v_i βᵀU_i x_q − w_2ᵀ W_1 z`` with ``z = vec(β x_qᵀ)`` (row-major) and rows of ``W_1`` = vec(U_i)."""
    _, xq, beta = _tokens(D, N)
    z = (beta * xq.T).reshape(D * D, 1)
    Us = [matrix_symbols(f"U{i}", D, D, real=True) for i in range(H)]
    v = sp.Matrix(sp.symbols(f"v1:{H + 1}", real=True))
    W1 = sp.Matrix.vstack(*[U.reshape(1, D * D) for U in Us])
    heads = sum((v[i] * (beta.T * Us[i] * xq)[0, 0] for i in range(H)), sp.Integer(0))
    return sp.expand(heads - (v.T * W1 * z)[0, 0])


def sym_cov(D, name="l"):
    return symmetric_matrix_symbols(name, D, real=True)


def gaussian_fourth_moment(Lambda, A):
    """``E[x xᵀ A x xᵀ]`` for ``x ~ N(0, Λ)`` from the moment generating function ``exp(½tᵀΛt)``."""
    D = Lambda.shape[0]
    t = sp.symbols(f"t1:{D + 1}", real=True)
    tv = sp.Matrix(t)
    mgf = sp.exp((tv.T * Lambda * tv)[0, 0] / 2)
    zero = {s: 0 for s in t}

    def m4(a, b, c, d):
        return sp.diff(mgf, t[a], t[b], t[c], t[d]).subs(zero)

    return sp.Matrix(D, D, lambda a, d: sum(A[b, c] * m4(a, b, c, d) for b in range(D) for c in range(D)))


def derived_population_loss(M, Lambda, N):
    """``L(M)`` derived step by step: average over w and x_q, then over the context with the 4th moment."""
    D = Lambda.shape[0]
    B = M * Lambda * M.T  # E_w,xq (y_q − βᵀMx_q)² = tr[(I − Λ̂M) Λ (I − Λ̂M)ᵀ] = trΛ − 2tr(Λ̂MΛ) + tr(Λ̂ B Λ̂)
    E4 = gaussian_fourth_moment(Lambda, B)
    E_hat_B_hat = (1 - sp.Integer(1) / N) * Lambda * B * Lambda + E4 / N  # N(N−1) distinct pairs + N equal
    return Lambda.trace() - 2 * (Lambda * M * Lambda).trace() + E_hat_B_hat.trace()


@claim("ch05-reduction", CH, "symbolic",
       "With the dormant blocks at zero, the (D+1, N+1) entry of merged multi-head linear attention is "
       "Σ_i v_i βᵀU_i x_q and that of separate rank-R attention is Σ_i v_i Σ_r βᵀk_ir q_irᵀ x_q (D = N = 2).", ref="sec-ch05-reduction")
def _reduction():
    return sp.Matrix([merged_reduction_residual(), separate_reduction_residual()])


@claim("ch05-two-layer", CH, "symbolic",
       "Merged multi-head linear attention is a two-layer linear network ŷ = aᵀW_1 z (readout a = (v_i)) on the cubic feature "
       "z = vec(βx_qᵀ).", ref="sec-ch05-reduction")
def _two_layer():
    return two_layer_residual()


@claim("ch05-fourth-moment", CH, "symbolic",
       "For x ~ N(0, Λ): E[xxᵀAxxᵀ] = ΛAΛ + ΛAᵀΛ + tr(AΛ)Λ (D = 2, symbolic Λ and A).", ref="sec-ch05-population")
def _fourth():
    Lam, A = sym_cov(2), matrix_symbols("A", 2, 2, real=True)
    return (gaussian_fourth_moment(Lam, A) - (Lam * A * Lam + Lam * A.T * Lam + (A * Lam).trace() * Lam)).applyfunc(sp.expand)


@claim("ch05-loss", CH, "symbolic",
       "L(M) = trΛ − 2tr(MΛ²) + tr(MΛMᵀΛΓ) with Γ = (1+1/N)Λ + (trΛ/N)I, derived from the data model (D = 2).", ref="sec-ch05-population")
def _loss():
    N = sp.symbols("N", positive=True)
    Lam, M = sym_cov(2), matrix_symbols("M", 2, 2, real=True)
    return sp.expand(derived_population_loss(M, Lam, N) - la.population_loss_expr(M, Lam, N))


@lru_cache(maxsize=None)
def solve_global_minimum(D=2):
    N = sp.symbols("N", positive=True)
    Lam, M = sym_cov(D), matrix_symbols("M", D, D, real=True)
    L = la.population_loss_expr(M, Lam, N)
    sol = sp.solve([sp.diff(L, m) for m in M], list(M), dict=True)
    return N, Lam, M, L, sol


@claim("ch05-global-minimum", CH, "symbolic",
       "∂L/∂M = 0 has the unique solution M* = Γ⁻¹ (D = 2, symbolic Λ), and for diagonal Λ "
       "L* = Σ_d λ_d(1 − 1/c_d) = L(M_D); as N → ∞, M* → Λ⁻¹ and L* → 0.", ref="thm-ch05-global")
def _global():
    N, Lam, M, L, sol = solve_global_minimum()
    res = [len(sol) - 1]
    res += list((M.subs(sol[0]) - la.gamma_expr(Lam, N).inv()).applyfunc(sp.simplify))
    l1, l2 = sp.symbols("lambda_1 lambda_2", positive=True)
    D = sp.diag(l1, l2)
    Lstar = sp.simplify(la.population_loss_expr(la.gamma_expr(D, N).inv(), D, N))
    c = lambda l: 1 + (1 + (l1 + l2) / l) / N
    res.append(sp.simplify(Lstar - (l1 * (1 - 1 / c(l1)) + l2 * (1 - 1 / c(l2)))))
    res += list((la.gamma_expr(D, N).inv().applyfunc(lambda e: sp.limit(e, N, sp.oo)) - D.inv()))
    res.append(sp.limit(Lstar, N, sp.oo))
    return sp.Matrix(res)


@claim("ch05-merged-fixed", CH, "symbolic",
       "For a scalar output the merged flow τẆ_1 = a(Σ_yz − Σ_zz W_1ᵀa)ᵀ, τȧ = W_1(Σ_yz − Σ_zz W_1ᵀa) vanishes "
       "only on {a = 0, W_1Σ_yz = 0} or {W_1ᵀa = Σ_zz⁻¹Σ_yz} (one hidden unit, generic 2×2 Σ_zz).", ref="thm-ch05-merged-time")
def _merged_fixed():
    return merged_fixed_point_residual()


def merged_fixed_point_residual():
    w2, a, b = sp.symbols("w2 a b", real=True)
    s11, s12, s22, c1, c2 = sp.symbols("s11 s12 s22 c1 c2", real=True)
    S, c, W1 = sp.Matrix([[s11, s12], [s12, s22]]), sp.Matrix([c1, c2]), sp.Matrix([[a, b]])
    resid = c - S * W1.T * w2
    eqs = list(w2 * resid) + list(W1 * resid)
    sols = sp.solve(eqs, [w2, a, b], dict=True)
    out = []
    for sol in sols:
        w, W = w2.subs(sol), W1.subs(sol)
        if w == 0:
            out.append(sp.simplify((W * c)[0]))  # the saddle manifold
        else:
            out += list((W.T * w - S.inv() * c).applyfunc(sp.simplify))
    # both branches occur
    kinds = {w2.subs(s) == 0 for s in sols}
    out.append(sp.Integer(0) if kinds == {True, False} else sp.Integer(1))
    return sp.Matrix(out)


def merged_aligned_reduction():
    """Aligned ansatz W_1 = a r ĉᵀ, w_2 = b r (‖r‖ = 1) in the flow with Σ_zz = λ³s I, Σ_yz = λ²vec(I) (D = 2)."""
    D = 2
    lam, N = sp.symbols("lambda N", positive=True)
    a, b, r1 = sp.symbols("a b r_1", real=True)
    r = sp.Matrix([r1, sp.sqrt(1 - r1**2)])
    Lam = lam * sp.eye(D)
    Szz = sp.kronecker_product(Lam * la.gamma_expr(Lam, N), Lam)  # E[Λ̂²] ⊗ Λ
    Syz = (Lam**2).reshape(D * D, 1)
    s = 1 + (1 + D) / N
    alpha, bcoef = lam**2 * sp.sqrt(D), lam**3 * s
    chat = Syz / alpha
    W1, w2 = a * r * chat.T, b * r
    R = Syz - Szz * W1.T * w2
    f1, f2 = w2 * R.T, W1 * R  # τẆ_1, τẇ_2 (paper eq. 8)
    res = list((Szz - bcoef * sp.eye(D * D)).applyfunc(sp.simplify))
    res += list((f1 - (b * (alpha - bcoef * a * b)) * r * chat.T).applyfunc(sp.simplify))
    res += list((f2 - (a * (alpha - bcoef * a * b)) * r).applyfunc(sp.simplify))
    return sp.Matrix(res), (a, b, alpha, bcoef)


@claim("ch05-merged-ode", CH, "symbolic",
       "For Λ = λI, Σ_zz = λ³c I (c = 1 + (1+D)/N) and ‖Σ_yz‖ = λ²√D; on the aligned manifold the layer norms obey "
       "τρ̇_1 = ρ_2 g, τρ̇_2 = ρ_1 g with g = λ²√D − λ³c ρ_1ρ_2, so the balanced product u = ρ_1ρ_2 obeys "
       "τu̇ = 2u(λ²√D − λ³c u).", ref="thm-ch05-merged-time")
def _merged_ode():
    res, _ = merged_aligned_reduction()
    return res


@claim("ch05-merged-dsolve", CH, "symbolic",
       "dsolve of τu̇ = 2u(λ²√D − λ³c u), u(0) = ε², gives φ = u/√D equal to the closed form, and "
       "L(M = φI) = Dλ(1 − 2λφ + λ²cφ²).", ref="thm-ch05-merged-time")
def _merged_dsolve():
    res, data = merged_dsolve_residual()
    return res, data


def merged_dsolve_residual():
    sig, (t, D, N, w0, lam, tau) = la.merged_sigma_expr()
    u = sp.Function("u")
    a, b, X = sp.symbols("a b X", positive=True)  # a = λ²√D = ‖Σ_yz‖, b = λ³s (Σ_zz = b I)
    ode = sp.Eq(tau * u(t).diff(t), 2 * u(t) * (a - b * u(t)))
    sol = sp.dsolve(ode, u(t), ics={u(0): w0**2}, hint="Bernoulli")
    s = 1 + (1 + D) / N
    sigma_derived = sol.rhs.subs({a: lam**2 * sp.sqrt(D), b: lam**3 * s}) / sp.sqrt(D)
    r1 = sp.cancel((sigma_derived - sig).subs(sp.exp(2 * lam**2 * sp.sqrt(D) * t / tau), X))
    # loss along the path for a concrete D (trace needs an explicit matrix)
    S = sp.symbols("sigma", real=True)
    Dn = 3
    L = la.population_loss_expr(S * sp.eye(Dn), lam * sp.eye(Dn), N)
    r2 = sp.simplify(L - Dn * lam * (1 - 2 * lam * S + lam**2 * (1 + sp.Integer(1 + Dn) / N) * S**2))
    return sp.Matrix([r1, r2]), {"ode": ode, "solution": sol, "sigma": sigma_derived}


def _generic_moments(D):
    n = D * D
    S = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"S_{min(i, j)}_{max(i, j)}", real=True))
    C = matrix_symbols("C", D, D, real=True)
    return S, C


def _loss_of(M, S, C):
    D = M.shape[0]
    m = M.reshape(D * D, 1)
    return -2 * (M.T * C).trace() + (m.T * S * m)[0, 0]


@claim("ch05-conserved", CH, "symbolic",
       "Under τθ̇ = −½∂L/∂θ with arbitrary moments, v_i² − ‖U_i‖²_F (merged) and v_i² − ‖k_i‖², ‖k_i‖² − ‖q_i‖² "
       "(separate) are conserved (D = 2, H = 2).", ref="thm-ch05-merged-time")
def _conserved():
    return conservation_residual()


def conservation_residual():
    D = 2
    S, C = _generic_moments(D)
    v = sp.symbols("v1 v2", real=True)
    U = [matrix_symbols(f"U{i}", D, D, real=True) for i in range(2)]
    L = _loss_of(v[0] * U[0] + v[1] * U[1], S, C)
    params = [v[0], v[1], U[0], U[1]]
    flows = gradient_flow(L / 2, params)
    res = [time_derivative(v[0] ** 2 - sum(e**2 for e in U[0]), params, flows)]
    k = [sp.Matrix(sp.symbols(f"k{i}_1:3", real=True)) for i in range(2)]
    q = [sp.Matrix(sp.symbols(f"q{i}_1:3", real=True)) for i in range(2)]
    L = _loss_of(v[0] * k[0] * q[0].T + v[1] * k[1] * q[1].T, S, C)
    params = [v[0], v[1], k[0], k[1], q[0], q[1]]
    flows = gradient_flow(L / 2, params)
    res.append(time_derivative(v[0] ** 2 - (k[0].T * k[0])[0], params, flows))
    res.append(time_derivative((k[0].T * k[0])[0] - (q[0].T * q[0])[0], params, flows))
    return sp.Matrix([sp.expand(r) for r in res])


def separate_symbols(D=3):
    lam = sp.symbols(f"lambda_1:{D + 1}", positive=True)
    N = sp.symbols("N", positive=True)
    Lam = sp.diag(*lam)
    tr = sum(lam)
    c = [1 + (1 + tr / l) / N for l in lam]
    return lam, N, Lam, c


def separate_flow_at(Lam, N, heads):
    """RHS of the separate flow (paper eq. 14: τv̇, τk̇, τq̇) for each head ``(v, k, q)`` (k, q sympy column vectors)."""
    M = sum((v * k * q.T for v, k, q in heads), sp.zeros(*Lam.shape))
    G = Lam**2 - Lam * la.gamma_expr(Lam, N) * M * Lam
    return [((k.T * G * q)[0, 0], v * G * q, v * G.T * k) for v, k, q in heads]


def fixed_point_heads(S, D, c, lam, dormant):
    """Heads realising M(S): one head per d ∈ S with v = (λ_d c_d)⁻¹, k = q = e_d, plus idle heads (v = 0)."""
    e = lambda d: sp.eye(D)[:, d]
    heads = [(1 / (lam[d] * c[d]), e(d), e(d)) for d in S]
    return heads + dormant


@claim("ch05-separate-fixed", CH, "symbolic",
       "(D = 3, diagonal Λ) For every one of the 2³ subsets S, heads with k = q = e_d, v = (λ_d c_d)⁻¹ (d ∈ S) and a "
       "idle head (v = 0, k in span{e_d: d ∈ S} or q in it) make every gradient of the separate flow vanish, and the loss is "
       "trΛ − Σ_{d∈S} λ_d/c_d; points violating C2 or C3 are not fixed.", ref="thm-ch05-fixed")
def _sep_fixed():
    return separate_fixed_residual()


def separate_fixed_residual(D=3):
    lam, N, Lam, c = separate_symbols(D)
    a = sp.Matrix(sp.symbols(f"a1:{D + 1}", real=True))  # an arbitrary vector
    res = []
    for m in range(D + 1):
        for S in combinations(range(D), m):
            span_vec = sum((sp.Symbol(f"g{d}") * sp.eye(D)[:, d] for d in S), sp.zeros(D, 1))
            dormant = [(0, span_vec, a), (0, a, span_vec)]  # C3: k in the span, or q in the span
            heads = fixed_point_heads(S, D, c, lam, dormant)
            for gv, gk, gq in separate_flow_at(Lam, N, heads):
                res += [sp.cancel(gv)] + list(gk.applyfunc(sp.cancel)) + list(gq.applyfunc(sp.cancel))  # rational: cancel decides zero
            M = sum((v * k * q.T for v, k, q in heads), sp.zeros(D, D))
            gap = la.population_loss_expr(M, Lam, N) - (sum(lam) - sum(lam[d] / c[d] for d in S))
            res.append(sp.expand(sp.numer(sp.together(gap))))  # zero iff the numerator expands to zero
    # not fixed: (i) an active head with k ∝ e_1, q ∝ e_2 (violates C2); (ii) an idle head (v = 0) with k = q = e_2 while S = {1}
    e = lambda d: sp.eye(D)[:, d]
    bad1 = separate_flow_at(Lam, N, [(sp.Integer(1), e(0), e(1))])
    bad2 = separate_flow_at(Lam, N, fixed_point_heads((0,), D, c, lam, [(0, e(1), e(1))]))
    nonzero = any(sp.cancel(x) != 0 for x in list(bad1[0][1]) + list(bad1[0][2])) and sp.cancel(bad2[1][0]) != 0
    res.append(sp.Integer(0) if nonzero else sp.Integer(1))
    return sp.Matrix(res)


def head_ode_residual():
    """Ansatz of paper eq. 20 (D = 3, m = 1): head 1 learned, head 2 = v(t) e_2, head 3 zero; flow → head equation."""
    D = 3
    lam, N, Lam, c = separate_symbols(D)
    v = sp.symbols("v", positive=True)
    e = lambda d: sp.eye(D)[:, d]
    v1 = (lam[0] * c[0]) ** sp.Rational(-1, 3)
    heads = [(v1, v1 * e(0), v1 * e(0)), (v, v * e(1), v * e(1)), (0, sp.zeros(D, 1), sp.zeros(D, 1))]
    flows = separate_flow_at(Lam, N, heads)
    rhs = lam[1] ** 2 * v**2 - lam[1] ** 3 * c[1] * v**5
    res = [flows[1][0] - rhs]
    res += list(flows[1][1] - rhs * e(1)) + list(flows[1][2] - rhs * e(1))  # k and q stay v·e_2
    res += [flows[0][0]] + list(flows[0][1]) + list(flows[0][2])  # the learned head stays put
    res += [flows[2][0]] + list(flows[2][1]) + list(flows[2][2])
    # the library's RHS is the same function
    res.append(rhs - head_rhs_expr(v, lam[1], sum(lam), N))
    return sp.Matrix([sp.simplify(r) for r in res])


def head_rhs_expr(v, lam, tr, N):
    return lam**2 * v**2 - lam**3 * (1 + (1 + tr / lam) / N) * v**5


@claim("ch05-head-ode", CH, "symbolic",
       "Substituting the one-head-at-a-time ansatz into the separate flow leaves the ansatz invariant and gives "
       "τv̇ = λ²v² − λ³c v⁵ for the head being learned (D = 3, m = 1).", ref="thm-ch05-head")
def _head_ode():
    return head_ode_residual()


@claim("ch05-implicit", CH, "symbolic",
       "F(ξ) = −1/ξ + ⅙ln[(ξ²+ξ+1)/(1−ξ)²] − (1/√3)arctan((2ξ+1)/√3) has F′ = 1/(ξ²(1−ξ³)), so "
       "t/τ = [F(v/v*) − F(ε/v*)]/(λ²v*) solves the head equation with v*³ = 1/(λc); F(ξ) + 1/ξ → −π/(6√3) as ξ → 0 "
       "(the λ⁻² law: t_½ = τ/(λ²ε) plus an ε-independent term); the loss drop is half complete at ξ³ = 1 − 1/√2.", ref="thm-ch05-head")
def _implicit():
    return implicit_residual()


def implicit_residual():
    F, u = la.implicit_F_expr()
    res = [sp.simplify(sp.diff(F, u) - 1 / (u**2 * (1 - u**3)))]
    # chain rule: with v = v* u, dt/dv = τ/(λ²v*²u²(1 − u³)) = τ/RHS(v)
    lam, c, tau, v = sp.symbols("lambda c tau v", positive=True)
    vs = (lam * c) ** sp.Rational(-1, 3)
    t_of_v = tau * F.subs(u, v / vs) / (lam**2 * vs)
    res.append(sp.simplify(sp.diff(t_of_v, v) * (lam**2 * v**2 - lam**3 * c * v**5) - tau))
    res.append(sp.simplify(sp.limit(F + 1 / u, u, 0) + sp.pi / (6 * sp.sqrt(3))))
    # loss along the head, x = v³: λ − 2λ²x + λ³c x²; halfway between x = 0 and x* = 1/(λc)
    x = sp.symbols("x", positive=True)
    ell = lam - 2 * lam**2 * x + lam**3 * c * x**2
    half = (ell.subs(x, 0) + ell.subs(x, 1 / (lam * c))) / 2
    roots = sp.solve(sp.Eq(ell, half), x)
    res.append(sp.simplify(min(roots, key=lambda r: float(r.subs({lam: 1, c: 1}))) * lam * c - (1 - 1 / sp.sqrt(2))))
    res.append(sp.nsimplify(la.U_MID**3 - (1 - 1 / np.sqrt(2)), tolerance=1e-14))
    return sp.Matrix(res)


# =========================================================================== numeric: statistics
@claim("ch05-moments-isserlis", CH, "numeric",
       "The simulator's population moments (assembled from Isserlis' 4-tensor) equal the closed forms "
       "Σ_zz = ΛΓ ⊗ Λ, E[y_q z] = vec Λ², E y_q² = trΛ.", tol=1e-15,
       tol_reason="both are exact; measured 1.4e-17, floating-point round-off of entries of size ~0.1", ref="sec-ch05-population")
def _moments():
    Lam, _, pm = setting()
    S_th = np.kron(Lam @ la.gamma(Lam, N_CTX), Lam)
    err = max(np.abs(pm.S - S_th).max(), np.abs(pm.C - Lam @ Lam).max(), abs(pm.yy - np.trace(Lam)))
    return err


@lru_cache(maxsize=None)
def monte_carlo(P=40000, seed=0):
    Lam, O, pm = setting()
    seq = at.sample_sequences(Lam, N_CTX, P, seed=seed)
    Mstar = la.global_minimum(Lam, N_CTX)
    rng = np.random.default_rng(seed + 1)
    Ms = np.concatenate([Mstar[None], rng.standard_normal((3, 4, 4)) * 0.5])
    sq = (seq.yq[None] - at.predict_with(Ms, seq)) ** 2  # (E, P)
    emp, se = sq.mean(1), sq.std(1) / np.sqrt(P)
    th = la.population_loss(Ms, Lam, N_CTX)
    return seq, emp, se, th


@claim("ch05-loss-monte-carlo", CH, "numeric",
       "On 40 000 sampled sequences the empirical loss of M* = Γ⁻¹ and of three random M agrees with L(M) "
       "within 4 standard errors.", tol=4.0,
       tol_reason="error is |empirical − theory| in units of the Monte-Carlo standard error; 4 s.e. is a 1e-4 two-sided level", ref="sec-ch05-population")
def _mc():
    _, emp, se, th = monte_carlo()
    return float(np.max(np.abs(emp - th) / se)), {"emp": emp, "se": se, "theory": th}


@claim("ch05-forward-pass", CH, "numeric",
       "The reduced models (merged; separate rank 1 and rank 3) equal a full (D+1)×(N+1) linear-attention forward "
       "pass on sampled sequences, whatever the entries that do not reach the prediction.", tol=1e-13,
       tol_reason="the two computations are algebraically identical; measured 9e-16, round-off of sums of ~N·D products", ref="sec-ch05-reduction")
def _forward():
    Lam, _, _ = setting()
    seq = at.sample_sequences(Lam, N_CTX, 64, seed=5)
    X = at.token_matrix(seq)
    rng = np.random.default_rng(9)
    err = 0.0
    mm = at.MergedAttention(4, 3)
    p = at.merged_random_init(4, 3, 0.7, 2, seed=1)
    full = at.attention_forward(X, *mm.embed(p, 1, rng=rng))[:, -1, -1]
    err = max(err, np.abs(full - mm.predict(p, seq)[1]).max())
    for R in (1, 3):
        ms = at.SeparateAttention(4, 5, R)
        p = at.separate_random_init(4, 5, R, 0.8, 2, seed=R)
        full = at.attention_forward(X, *ms.embed(p, 0, rng=rng))[:, -1, -1]
        err = max(err, np.abs(full - ms.predict(p, seq)[0]).max())
    return err


# =========================================================================== numeric: merged
MERGED_D, MERGED_H, MERGED_W = 4, 8, 1e-2


@lru_cache(maxsize=None)
def merged_run(lr=1e-3, lam=1.0, T=5.0):
    D = MERGED_D
    pm = at.population_moments(lam * np.eye(D), N_CTX)
    model = at.MergedAttention(D, MERGED_H)
    p0 = at.merged_aligned_init(D, MERGED_H, MERGED_W, n_ensemble=2, seed=0)
    t = np.round(np.arange(0, T + 1e-9, 0.01), 10)
    rec = lambda p: {"balance": p["v"] ** 2 - np.sum(p["U"] ** 2, axis=(2, 3))}
    tr = train_gd(model, p0, pm, lr, times=t, rates=model.paper_rates, record=rec)
    sig, L = la.merged_time_course(t, D, N_CTX, MERGED_W, lam=lam)
    return t, tr, L


@claim("ch05-merged-gd", CH, "numeric",
       "GD (dt = 10⁻³) on merged attention (D = 4, N = 31, H = 8, Λ = I, aligned balanced init ε = 10⁻²) follows "
       "the closed form L(t) = D(1 − 2φ + cφ²) (max |ΔL| over t ≤ 5τ; L falls from 4 to 0.56) to 2e-2.", tol=2e-2,
       tol_reason="Euler error O(dt): measured max |ΔL| = 8.0e-3 at dt = 1e-3 and exactly twice that at 2e-3 "
                  "(ch05-merged-gd-order); it is a time lag of ≈ 2e-3 τ on a drop of slope ≈ 4/τ", ref="fig-ch05-merged")
def _merged_gd():
    t, tr, L = merged_run()
    err = np.abs(tr.loss - L[:, None]).max()
    return err, {"t": t, "sim": tr.loss[:, 0], "theory": L, "balance": tr["balance"]}


@claim("ch05-merged-gd-order", CH, "numeric",
       "The GD deviation from the closed-form merged loss is first order in the step: doubling dt doubles it "
       "(ratio 2 within 0.01).",
       tol=1e-2, tol_reason="error is |ratio − 2|, measured 3.8e-4: the O(dt²) remainder at dt = 1e-3 is a few 1e-4 "
                            "of the O(dt) term", ref="fig-ch05-merged")
def _merged_order():
    t, tr1, L = merged_run(1e-3)
    _, tr2, _ = merged_run(2e-3)
    e1 = np.abs(tr1.loss[:, 0] - L).max()
    e2 = np.abs(tr2.loss[:, 0] - L).max()
    return abs(e2 / e1 - 2), {"errors": (e1, e2)}


@claim("ch05-merged-flow", CH, "numeric",
       "The gradient flow of merged attention integrated by solve_ivp (aligned init, Λ = λI for λ = 1 and 1/D) "
       "matches the closed forms φ(t) and L(t) to relative error 1e-7.", tol=1e-7,
       tol_reason="solve_ivp at rtol 1e-10 (measured 4.8e-9); the relative error of L on the final plateau is the binding one", ref="thm-ch05-merged-time")
def _merged_flow():
    err = 0.0
    out = {}
    for lam in (1.0, 1.0 / MERGED_D):
        pm = at.population_moments(lam * np.eye(MERGED_D), N_CTX)
        model = at.MergedAttention(MERGED_D, MERGED_H)
        p0 = at.merged_aligned_init(MERGED_D, MERGED_H, MERGED_W, seed=2)
        tmid = la.merged_midpoint_time(MERGED_D, N_CTX, MERGED_W, lam=lam)
        t = np.linspace(0, 2.5 * tmid, 200)
        tr = integrate_flow(model, p0, pm, t, rates=model.paper_rates,
                            record=lambda p: {"sigma": np.trace(model.product(p), axis1=1, axis2=2) / MERGED_D})
        sig, L = la.merged_time_course(t, MERGED_D, N_CTX, MERGED_W, lam=lam)
        err = max(err, np.max(np.abs(tr.loss[:, 0] / L - 1)), np.max(np.abs(tr["sigma"][:, 0] / sig - 1)))
        out[lam] = (t, tr.loss[:, 0], L)
    return err, out


ESC_W = (1e-2, 1e-3, 1e-4, 1e-5)


@lru_cache(maxsize=None)
def escape_run(dt=0.05):
    """Merged attention on the non-white spectrum (0.4, 0.3, 0.2, 0.1): balanced starts aligned with Σ_yz,
    layer norms ESC_W, all at once."""
    Lam, _, pm = setting()
    D, H = 4, 8
    model = at.MergedAttention(D, H)
    rng = np.random.default_rng(3)
    a = rng.standard_normal(H)
    a /= np.linalg.norm(a)
    chat = Lam @ Lam / np.linalg.norm(Lam @ Lam)
    w = np.array(ESC_W)
    p0 = {"v": w[:, None] * a, "U": w[:, None, None, None] * a[None, :, None, None] * chat}
    T = 1.6 * la.merged_escape_time(Lam, min(ESC_W))
    t = np.round(np.arange(0, T, dt), 10)
    tr = train_gd(model, p0, pm, dt, times=t, rates=model.paper_rates)
    half = 0.5 * (np.trace(Lam) + la.minimum_loss(Lam, N_CTX))
    tmid = np.array([np.interp(-half, -tr.loss[:, e], t) for e in range(len(w))])
    return Lam, t, tr.loss, tmid


@claim("ch05-merged-escape", CH, "numeric",
       "For non-white Λ (spectrum 0.4, 0.3, 0.2, 0.1) the merged model's midpoint time grows like "
       "(τ/‖Λ²‖_F) ln(1/ε): the fitted slope against ln(1/ε) matches 1/‖Λ²‖_F to 1%.", tol=1e-2,
       tol_reason="the offset t_mid − t_esc converges as O(ε²); GD at dt = 0.05 shifts all times alike (measured slope error ~1e-3)", ref="fig-ch05-merged")
def _escape():
    Lam, t, loss, tmid = escape_run()
    x = np.log(1 / np.array(ESC_W))
    slope = np.polyfit(x[1:], tmid[1:], 1)[0]
    pred = 1 / np.linalg.norm(Lam @ Lam)
    esc = np.array([la.merged_escape_time(Lam, w) for w in ESC_W])
    return abs(slope / pred - 1), {"t": t, "loss": loss, "tmid": tmid, "t_esc": esc, "slope": slope, "pred": pred}


# =========================================================================== numeric: separate
CODE_INIT = 1e-2  # the authors' --init for their Fig. 3 (see at.separate_code_init)


@lru_cache(maxsize=None)
def separate_runs(dt=SEP_DT, T=SEP_T, seeds=N_SEEDS, every=4):
    """Population GD of the setting of the paper's Fig. 3 from two initialisations at once (one ensemble): members
    0 … seeds−1 balanced random heads of norm SEP_SCALE, members seeds … 2·seeds−1 the
    initialisation of the authors' code (:func:`theorylib.sim.attention.separate_code_init`)."""
    Lam, O, pm = setting()
    model = at.SeparateAttention(4, H_SEP)
    pb = at.separate_random_init(4, H_SEP, 1, SEP_SCALE, seeds, seed=0)
    pc = at.separate_code_init(4, H_SEP, 1, CODE_INIT, N=N_CTX, n_ensemble=seeds, seed=0)
    p0 = {n: np.concatenate([pb[n], pc[n]]) for n in pb}
    t = np.round(np.arange(0, T + 1e-9, every * dt), 10)

    def rec(p):
        delta = p["v"] ** 2 - np.sum(p["k"] ** 2, axis=(2, 3))
        return {"v": p["v"].copy(), "align": model.alignment(p, O), "M": model.product(p), "delta": delta}

    tr = train_gd(model, p0, pm, dt, times=t, rates=model.paper_rates, record=rec)
    return Lam, O, t, tr


def _members(tr, sel):
    return Trajectory(t=tr.t, steps=tr.steps, loss=tr.loss[:, sel],
                      records={k: v[:, sel] for k, v in tr.records.items()},
                      params={k: v[sel] for k, v in tr.params.items()})


def separate_run():
    """The balanced members of :func:`separate_runs`: ``(Λ, O, t, trajectory)``."""
    Lam, O, t, tr = separate_runs()
    return Lam, O, t, _members(tr, slice(0, N_SEEDS))


def code_init_run():
    """The members of :func:`separate_runs` started from the authors' initialisation."""
    Lam, O, t, tr = separate_runs()
    return Lam, O, t, _members(tr, slice(N_SEEDS, 2 * N_SEEDS))


def drop_midpoints(t, loss, levels):
    """Time at which the loss first falls below the midpoint between L(M_{m−1}) and L(M_m), m = 1 … D
    (columns of ``loss`` are members); NaN where it never does."""
    out = np.full((loss.shape[1], len(levels) - 1), np.nan)
    for m in range(len(levels) - 1):
        below = loss < 0.5 * (levels[m] + levels[m + 1])
        hit = below.any(0)
        out[hit, m] = t[np.argmax(below, axis=0)[hit]]
    return out


def plateau_levels(t, loss, levels):
    """Loss at the flattest point of each plateau: for every level, among times where the loss is within a
    quarter of the neighbouring gaps, the point of smallest |dL/dt| (last point for the final level)."""
    gaps = -np.diff(levels)
    dL = np.abs(np.gradient(loss, t))
    out = np.full(len(levels), np.nan)
    for m, lv in enumerate(levels):
        band = 0.25 * min(gaps[m - 1] if m > 0 else np.inf, gaps[m] if m < len(gaps) else np.inf)
        idx = np.where(np.abs(loss - lv) < band)[0]
        if m == len(levels) - 1:
            out[m] = loss[-1]
        elif len(idx):
            out[m] = loss[idx[np.argmin(dL[idx])]]
    return out


def plateau_dwell(t, loss, levels, frac=0.1):
    """Time the loss spends within ``frac`` of the neighbouring gaps of each level (columns: members)."""
    gaps = -np.diff(levels)
    w = np.gradient(t)
    out = np.zeros((loss.shape[1], len(levels)))
    for m, lv in enumerate(levels):
        band = frac * min(gaps[m - 1] if m > 0 else np.inf, gaps[m] if m < len(gaps) else np.inf)
        out[:, m] = ((np.abs(loss - lv) < band) * w[:, None]).sum(0)
    return out


def _plateau_errors(t, loss, levels):
    sim = np.array([plateau_levels(t, loss[:, e], levels) for e in range(loss.shape[1])])
    return sim, np.abs(sim - levels)


@claim("ch05-separate-plateaus", CH, "numeric",
       "Population GD of separate rank-one attention (D = 4, Λ spectrum 0.4, 0.3, 0.2, 0.1, N = 31, H = 5; "
       "six balanced random starts of norm 0.01, dt = 1) visits all D + 1 fixed points M_0 → … → M_D, and at the "
       "flattest point of each plateau the loss equals L(M_m) to 3e-4.", tol=3e-4,
       tol_reason="the residual is the loss of heads that are not yet aligned or still near zero; it shrinks with the "
                  "init scale (worst run 3.7e-4, 1.4e-4, 1.0e-4 at norms 0.05, 0.02, 0.01). Measured 8.4e-5 in the run "
                  "where two heads share e_2 and at most 2.3e-5 in the other five; fixed points do not depend on dt",
       ref="sec-ch05-separate-gd")
def _plateaus():
    Lam, O, t, tr = separate_run()
    levels = la.fixed_point_losses(SPECTRUM, N_CTX)
    sim, err = _plateau_errors(t, tr.loss, levels)
    e = float(np.max(err)) if np.all(np.isfinite(sim)) else np.inf
    return e, {"t": t, "loss": tr.loss, "levels": levels, "plateaus": sim}


CODE_MIN_DWELL = 100.0


@claim("ch05-code-init-plateaus", CH, "numeric",
       "From the initialisation of the authors' code (six seeds) the loss also passes M_0 → … → M_D, and every "
       "plateau that lasts at least 100 τ equals L(M_m) to 3e-4; only M_1 can be brief (its two neighbouring "
       "drops nearly merge).", tol=3e-4,
       tol_reason="same residual as for the balanced start (heads not yet aligned or still near zero); measured 1.0e-4 on "
                  "the lasting plateaus. A plateau shorter than 100 τ has no flat point to measure",
       ref="sec-ch05-two-inits")
def _code_plateaus():
    Lam, O, t, tr = code_init_run()
    levels = la.fixed_point_losses(SPECTRUM, N_CTX)
    sim, err = _plateau_errors(t, tr.loss, levels)
    dwell = plateau_dwell(t, tr.loss, levels)
    lasting = dwell >= CODE_MIN_DWELL
    lasting[:, -1] = True
    brief = [(e, m) for e, m in zip(*np.where(~lasting))]
    mids = drop_midpoints(t, tr.loss, levels)
    if not np.all(np.isfinite(mids)) or np.any(np.diff(mids, axis=1) <= 0) or any(m != 1 for _, m in brief):
        return np.inf, {"brief": brief}
    return float(np.max(err[lasting])), {"brief": brief, "dwell": dwell, "plateaus": sim}


@claim("ch05-fixed-loss-independent", CH, "numeric",
       "Independent check of the fixed-point losses: GD with only H = m rank-one heads converges to M_m (PCR with m components), "
       "and its final loss equals fixed_point_losses()[m] for m = 1, 2, 3.", tol=1e-12,
       tol_reason="the runs converge to round-off (measured 3e-16); 1e-12 leaves room for platform round-off", ref="thm-ch05-fixed")
def _fixed_independent():
    Lam, O, pm = setting()
    levels = la.fixed_point_losses(SPECTRUM, N_CTX)
    err = 0.0
    finals = []
    for m in (1, 2, 3):
        model = at.SeparateAttention(4, m)
        p0 = at.separate_random_init(4, m, 1, 0.2, 2, seed=10 + m)
        tr = train_gd(model, p0, pm, 0.5, times=[0.0, 4000.0], rates=model.paper_rates)
        finals.append(tr.loss[-1])
        err = max(err, np.abs(tr.loss[-1] - levels[m]).max())
    return err, {"final": finals}


ALIGNED_V0 = np.array([0.04, 0.08, 0.16])


@lru_cache(maxsize=None)
def aligned_gd(dt):
    Lam, O, pm = setting()
    model = at.SeparateAttention(4, 4)
    p0 = at.separate_aligned_init(O, np.repeat(ALIGNED_V0[:, None], 4, 1))
    th = la.separate_drop_time(SPECTRUM[None, :], SPECTRUM.sum(), N_CTX, ALIGNED_V0[:, None])
    t = np.round(np.arange(0, 1.15 * th.max(), dt), 10)
    tr = train_gd(model, p0, pm, dt, times=t, rates=model.paper_rates, record=lambda p: {"v": p["v"].copy()})
    target = la.U_MID * la.head_fixed_point(SPECTRUM, SPECTRUM.sum(), N_CTX)
    x = tr["v"] - target  # (T, E, H)
    i = np.argmax(x > 0, axis=0)
    E, Hh = np.indices(i.shape)
    x0, x1 = x[i - 1, E, Hh], x[i, E, Hh]
    sim = t[i - 1] + dt * (-x0) / (x1 - x0)
    return th, sim, t, tr


@claim("ch05-aligned-drop-gd", CH, "numeric",
       "With heads aligned to the eigenvectors (k = q = ε e_d, v = ε) GD at dt = 0.2 reproduces the drop "
       "midpoint times of the head equation to 2% for all four heads and ε ∈ {0.04, 0.08, 0.16}.", tol=2e-2,
       tol_reason="Euler error O(dt): measured relative error 9.2e-3 at dt = 0.2 (1.8e-2 at dt = 0.4, i.e. first "
                  "order); the exact flow agrees to 1e-4 (ch05-aligned-flow)", ref="fig-ch05-aligned")
def _aligned_gd():
    th, sim, _, _ = aligned_gd(0.2)
    return float(np.abs(sim / th - 1).max()), {"theory": th, "sim": sim}


@claim("ch05-aligned-flow", CH, "numeric",
       "The exact gradient flow (solve_ivp) from the aligned init matches the implicit solution v(t) of the head equation "
       "for every head to 1e-4 relative to v*, i.e. time courses well within 0.1%.", tol=1e-4,
       tol_reason="solve_ivp at rtol 1e-9 on a curve with steep drops; measured 2e-5", ref="thm-ch05-head")
def _aligned_flow():
    Lam, O, pm = setting()
    model = at.SeparateAttention(4, 4)
    p0 = at.separate_aligned_init(O, np.repeat(ALIGNED_V0[:, None], 4, 1))
    th = la.separate_drop_time(SPECTRUM[None, :], SPECTRUM.sum(), N_CTX, ALIGNED_V0[:, None])
    t = np.linspace(0, 1.3 * th.max(), 1500)
    tr = integrate_flow(model, p0, pm, t, rates=model.paper_rates, record=lambda p: {"v": p["v"].copy()},
                        rtol=1e-9, atol=1e-12)
    vs = la.head_fixed_point(SPECTRUM, SPECTRUM.sum(), N_CTX)
    theory = np.stack([np.stack([la.head_strength(t, v0, SPECTRUM[d], SPECTRUM.sum(), N_CTX) for d in range(4)], -1)
                       for v0 in ALIGNED_V0], 1)
    err = np.max(np.abs(tr["v"] - theory) / vs)
    return err, {"t": t, "sim": tr["v"], "theory": theory}


@claim("ch05-drop-time-quadrature", CH, "numeric",
       "separate_drop_time equals the adaptive quadrature of dt = τ dv/(λ²v² − λ³cv⁵) from ε to U_MID·v* "
       "(12 combinations of λ and ε) to 1e-12 relative.", tol=1e-12,
       tol_reason="measured 4e-16: scipy.quad at epsrel 1e-13 after the substitution v = v0/s that removes the 1/v² singularity", ref="thm-ch05-head")
def _quadrature():
    err = 0.0
    tr = SPECTRUM.sum()
    for lam in SPECTRUM:
        for v0 in (1e-3, 1e-2, 0.1):
            vs = float(la.head_fixed_point(lam, tr, N_CTX))
            c = float(la.c_factor(lam, tr, N_CTX))
            f = lambda v: 1 / (lam**2 * v**2 - lam**3 * c * v**5)
            mid = la.U_MID * vs
            # split at 2 v0 for accuracy near the slow start
            val = quad(f, v0, min(2 * v0, mid), epsabs=0, epsrel=1e-13, limit=200)[0]
            if 2 * v0 < mid:
                val += quad(f, 2 * v0, mid, epsabs=0, epsrel=1e-13, limit=200)[0]
            err = max(err, abs(la.separate_drop_time(lam, tr, N_CTX, v0) / val - 1))
    return err


@claim("ch05-lambda-law", CH, "numeric",
       "λ⁻² law: λ²ε t_½/τ → 1 as ε → 0; at ε = 10⁻⁴ it is within 1e-3 of 1 for every eigenvalue "
       "(GD-free: the implicit solution, whose derivation is claim ch05-implicit).", tol=1e-3,
       tol_reason="the correction is v_0[F(U_MID) + π/(6√3)]/v* ≈ 1e-4·O(1)", ref="thm-ch05-head")
def _lambda_law():
    t = la.separate_drop_time(SPECTRUM, SPECTRUM.sum(), N_CTX, 1e-4)
    return float(np.max(np.abs(t * SPECTRUM**2 * 1e-4 - 1)))


def plateau_times(t, loss, levels):
    """Times of the flattest point on each intermediate plateau (m = 1 … D−1) and the final time (m = D)."""
    gaps = -np.diff(levels)
    dL = np.abs(np.gradient(loss, t))
    out = [0.0]
    for m in range(1, len(levels)):
        if m == len(levels) - 1:
            out.append(t[-1])
            continue
        band = 0.25 * min(gaps[m - 1], gaps[m])
        idx = np.where(np.abs(loss - levels[m]) < band)[0]
        out.append(t[idx[np.argmin(dL[idx])]] if len(idx) else np.nan)
    return np.array(out)


def head_events(Lam, O, t, tr):
    """For every member and drop d: the head whose |v| grows most between plateaus d−1 and d."""
    levels = la.fixed_point_losses(SPECTRUM, N_CTX)
    vs = la.head_fixed_point(SPECTRUM, SPECTRUM.sum(), N_CTX)
    v = np.abs(tr["v"])
    out = []
    for e in range(v.shape[1]):
        tp = plateau_times(t, tr.loss[:, e], levels)
        ip = np.searchsorted(t, tp)
        for d in range(4):
            h = int(np.argmax(v[ip[d + 1], e] - v[ip[d], e]))
            out.append((e, d, h, ip[d], ip[d + 1]))
    return vs, v, out


@claim("ch05-head-strength", CH, "numeric",
       "From balanced random init (Λ spectrum 0.4, 0.3, 0.2, 0.1, N = 31, H = 5, norm 0.01), once the head learning e_d has grown to 0.3 v*_d, its |v_i|(t) follows "
       "the head equation started there until the next plateau: max |v_sim − v_ODE|/v* below 7% (drops shared by two "
       "heads, where the one-head equation does not apply, are excluded and counted).", tol=7e-2,
       tol_reason="the head equation is exact only on the aligned manifold; at 0.3 v* the key and query are not yet "
                  "fully aligned, and GD adds an O(dt) error: measured 3.5% at dt = 0.5 and 4.4% at dt = 1 (used)", ref="fig-ch05-separate")
def _head_strength():
    Lam, O, t, tr = separate_run()
    vs, v, events = head_events(Lam, O, t, tr)
    err = 0.0
    curves = []
    excluded = []
    for e, d, h, i_start, i_end in events:
        vv = v[:, e, h]
        if shared(v, e, d, h, i_start, i_end, vs):
            excluded.append((e, d))
            continue
        i0 = i_start + int(np.argmax(vv[i_start:] > 0.3 * vs[d]))
        sel = slice(i0, i_end + 1)
        th = la.head_strength(t[sel] - t[i0], vv[i0], SPECTRUM[d], SPECTRUM.sum(), N_CTX)
        err = max(err, np.max(np.abs(vv[sel] - th)) / vs[d])
        curves.append((e, d, h, t[sel], th))
    return err, {"curves": curves, "excluded": excluded}


def shared(v, e, d, h, i_start, i_end, vs):
    """True if the one-head-at-a-time picture does not apply to drop d of member e: the learning head had
    already grown past 0.3 v*_d before the drop, or another head grew by more than 0.2 v*_d during it."""
    grow = v[i_end, e] - v[i_start, e]
    others = np.delete(grow, h)
    return bool(v[i_start, e, h] > 0.3 * vs[d] or others.max() > 0.2 * vs[d])


@claim("ch05-function-space", CH, "numeric",
       "In function space the six balanced runs with Λ spectrum (0.4, 0.3, 0.2, 0.1) visit the fixed points in order: at the flattest point of plateau m "
       "(m = 1 … D) the model's M equals M_m = Σ_{d≤m} (λ_d c_d)⁻¹ e_d e_dᵀ to ‖M − M_m‖_F/‖M_m‖_F < 3e-2, "
       "and every head that learned e_d alone is aligned with it, |cos(k, e_d)| > 0.99, at the next plateau.", tol=3e-2,
       tol_reason="measured 1.8e-2 at dt = 1, set by the run where two heads share e_2 (slow re-alignment); "
                  "the distance is set by the heads still near zero or not yet aligned and shrinks with the init", ref="sec-ch05-separate-gd")
def _function_space():
    Lam, O, t, tr = separate_run()
    levels = la.fixed_point_losses(SPECTRUM, N_CTX)
    vs, v, events = head_events(Lam, O, t, tr)
    err = 0.0
    for e in range(tr.loss.shape[1]):
        ip = np.searchsorted(t, plateau_times(t, tr.loss[:, e], levels))
        for m in range(1, 5):
            Mm = la.fixed_point(Lam, N_CTX, range(m))
            err = max(err, np.linalg.norm(tr["M"][ip[m], e] - Mm) / np.linalg.norm(Mm))
    worst_cos = min(tr["align"][i1, e, h, d] for e, d, h, i0, i1 in events if not shared(v, e, d, h, i0, i1, vs))
    if worst_cos < 0.99:
        return np.inf, {"worst_cos": worst_cos}
    return err, {"worst_cos": worst_cos}


PCR_N = 400


@lru_cache(maxsize=None)
def pcr_data(P=3000):
    """Separate attention trained at a long context (N = 400); its M on each plateau, applied to sampled sequences."""
    Lam, O, _ = setting()
    pm = at.population_moments(Lam, PCR_N)
    model = at.SeparateAttention(4, H_SEP)
    p0 = at.separate_random_init(4, H_SEP, 1, 0.02, 1, seed=4)
    t = np.round(np.arange(0, 12000 + 1e-9, 4.0), 10)
    tr = train_gd(model, p0, pm, 1.0, times=t, rates=model.paper_rates, record=lambda p: {"M": model.product(p)})
    levels = la.fixed_point_losses(SPECTRUM, PCR_N)
    ip = np.searchsorted(t, plateau_times(t, tr.loss[:, 0], levels))
    Ms = tr["M"][ip[1:], 0]  # plateaus m = 1 … 4
    seq = at.sample_sequences(Lam, PCR_N, P, seed=7)
    pred = at.predict_with(Ms, seq)  # (4, P)
    pcr = np.array([at.pcr_predict(seq, O[:, :k]) for k in range(5)])  # PCR with k = 0 … 4 components
    dist = np.array([[np.mean((pred[m] - pcr[k]) ** 2) / np.mean(pcr[m + 1] ** 2) for k in range(5)] for m in range(4)])
    return dist, pred, pcr, seq


@claim("ch05-pcr", CH, "numeric",
       "On sampled sequences (N = 400), the model at plateau m (m = 1 … 4) predicts like in-context principal-component "
       "regression with the top m eigenvectors of Λ: relative mean squared distance to PCR_m below 0.03, and at "
       "least 5× smaller than to PCR with any other number of components.", tol=0.03,
       tol_reason="the model shrinks component d by 1/c_d and uses Λ where PCR uses the context's Λ̂: both O(1/N), "
                  "(1 + trΛ/λ_d)/N ≤ 2.75% at N = 400", ref="sec-ch05-pcr")
def _pcr():
    dist, *_ = pcr_data()
    err = max(dist[m - 1, m] for m in range(1, 5))
    for m in range(1, 5):
        others = [dist[m - 1, k] for k in range(5) if k != m]
        if min(others) < 5 * dist[m - 1, m]:
            return np.inf, {"dist": dist}
    return err, {"dist": dist}


@lru_cache(maxsize=None)
def finite_sample_run(P=20000, seed=3, dt=1.0, T=12000.0):
    Lam, O, pm = setting()
    seq = at.sample_sequences(Lam, N_CTX, P, seed=seed)
    data = at.moments_from_sequences(seq)
    model = at.SeparateAttention(4, H_SEP)
    p0 = at.separate_random_init(4, H_SEP, 1, SEP_SCALE, 1, seed=0)
    t = np.round(np.arange(0, T + 1e-9, 4 * dt), 10)
    rec = lambda p: {"test": model.loss(p, pm)}
    tr = train_gd(model, p0, data, dt, times=t, rates=model.paper_rates, record=rec)
    # Monte-Carlo standard error of the training loss at each population fixed point M_m
    se = []
    for m in range(5):
        M = la.fixed_point(Lam, N_CTX, range(m))
        sq = (seq.yq - at.predict_with(M[None], seq)[0]) ** 2
        se.append(sq.std() / np.sqrt(seq.P))
    return t, tr, data, np.array(se)


@claim("ch05-finite-sample", CH, "numeric",
       "Trained on P = 20 000 sampled sequences (full batch), the training loss still shows D + 1 plateaus; they are "
       "shifted from L(M_m) by the sampling error of the moments, |shift| ≤ 4 standard errors of a loss estimate.",
       tol=4.0,
       tol_reason="error is the largest plateau shift in units of the Monte-Carlo standard error of the training "
                  "loss at that plateau (std of the squared errors / √P), which is what the shift is made of", ref="fig-ch05-finite")
def _finite():
    t, tr, data, se = finite_sample_run()
    levels = la.fixed_point_losses(SPECTRUM, N_CTX)
    sim = plateau_levels(t, tr.loss[:, 0], levels)
    if not np.all(np.isfinite(sim)):
        return np.inf
    shift = sim - levels
    return float(np.max(np.abs(shift) / se)), {"t": t, "train": tr.loss[:, 0], "test": tr["test"][:, 0],
                                                "plateaus": sim, "levels": levels, "se": se}


# =========================================================================== numeric: rank R
@lru_cache(maxsize=None)
def rank_run():
    D = len(RANK_SPECTRUM)
    Lam, _ = at.covariance_with_spectrum(RANK_SPECTRUM, seed=1)
    pm = at.population_moments(Lam, N_CTX)
    Rmax = max(RANKS)
    model = at.SeparateAttention(D, RANK_H, Rmax)  # rank-R heads are rank-Rmax heads with Rmax − R zero pairs
    ps = []
    for R in RANKS:
        p = at.separate_random_init(D, RANK_H, R, RANK_SCALE, RANK_SEEDS, seed=R)
        k = np.zeros((RANK_SEEDS, RANK_H, Rmax, D))
        q = k.copy()
        k[:, :, :R], q[:, :, :R] = p["k"], p["q"]
        ps.append({"v": p["v"], "k": k, "q": q})
    p0 = {n: np.concatenate([x[n] for x in ps]) for n in ps[0]}
    ts = np.unique(np.round(np.geomspace(RANK_DT, RANK_T, 800) / RANK_DT)) * RANK_DT
    tr = train_gd(model, p0, pm, RANK_DT, times=np.concatenate([[0.0], ts]), rates=model.paper_rates)
    levels = la.fixed_point_losses(RANK_SPECTRUM, N_CTX)
    gaps = -np.diff(levels)
    L = tr.loss[1:]
    w = np.gradient(np.log(ts))
    dwell = np.zeros((len(RANKS), RANK_SEEDS, D))
    for m in range(D):
        band = 0.1 * min(gaps[m], gaps[m - 1] if m else np.inf)
        d = ((np.abs(L - levels[m]) < band) * w[:, None]).sum(0)
        dwell[:, :, m] = d.reshape(len(RANKS), RANK_SEEDS)
    return ts, L, levels, dwell


@claim("ch05-rank-plateaus", CH, "numeric",
       "Rank-R heads (D = 8, H = 9, geometric spectrum λ_d = 0.75^(d−1)) show conspicuous plateaus (seed-mean dwell ≥ 0.15 in "
       "ln t) exactly at m ∈ {0, R, 2R, …} < D: 8, 4, 2, 1 plateaus for R = 1, 2, 4, 8.", tol=0.5,
       tol_reason="error counts the plateaus whose visibility differs from the prediction (an integer; must be 0)", ref="fig-ch05-rank")
def _rank():
    ts, L, levels, dwell = rank_run()
    mean = dwell.mean(1)
    wrong = 0
    for j, R in enumerate(RANKS):
        visible = set(np.where(mean[j] >= DWELL_MIN)[0])
        wrong += len(visible ^ set(la.visible_plateaus(len(RANK_SPECTRUM), R)))
    return float(wrong), {"ts": ts, "loss": L, "levels": levels, "dwell": dwell}


@lru_cache(maxsize=None)
def merged_finite_sample_run(P=20000, seed=11, dt=2e-3, T=5.0):
    """Merged attention (Λ = I, D = 4, H = 8, aligned init w = 10⁻²) trained full-batch on P sampled sequences."""
    D = MERGED_D
    Lam = np.eye(D)
    seq = at.sample_sequences(Lam, N_CTX, P, seed=seed)
    data = at.moments_from_sequences(seq)
    pm = at.population_moments(Lam, N_CTX)
    model = at.MergedAttention(D, MERGED_H)
    p0 = at.merged_aligned_init(D, MERGED_H, MERGED_W, seed=0)
    t = np.round(np.arange(0, T + 1e-9, 0.02), 10)
    tr = train_gd(model, p0, data, dt, times=t, rates=model.paper_rates, record=lambda p: {"test": model.loss(p, pm)})
    sq = (seq.yq - at.predict_with(la.global_minimum(Lam, N_CTX)[None], seq)[0]) ** 2
    return t, tr, sq.std() / np.sqrt(P)


@claim("ch05-merged-finite-sample", CH, "numeric",
       "Merged attention trained on P = 20 000 sampled sequences (Λ = I) still learns in one drop; its final training "
       "loss differs from L* by at most 4 Monte-Carlo standard errors.", tol=4.0,
       tol_reason="error in units of the standard error of the empirical loss at M* (std of squared errors / √P)", ref="fig-ch05-finite")
def _merged_finite():
    t, tr, se = merged_finite_sample_run()
    Lstar = la.minimum_loss(np.eye(MERGED_D), N_CTX)
    _, L = la.merged_time_course(t, MERGED_D, N_CTX, MERGED_W)
    return float(abs(tr.loss[-1, 0] - Lstar) / se), {"t": t, "train": tr.loss[:, 0], "test": tr["test"][:, 0],
                                                      "theory": L, "se": se}


# =========================================================================== unbalanced heads
def unbalanced_head_residual():
    """Head 2 of the ansatz with k = q = κ e_2 and its own v (D = 3, m = 1): the flow keeps the head on its
    direction, conserves δ = v² − κ², and with κ² = v² − δ gives τv̇ = (v² − δ)(λ² − λ³c v(v² − δ))."""
    D = 3
    lam, N, Lam, c = separate_symbols(D)
    v, kap, delta = sp.symbols("v kappa delta", positive=True)
    e = lambda d: sp.eye(D)[:, d]
    v1 = (lam[0] * c[0]) ** sp.Rational(-1, 3)
    heads = [(v1, v1 * e(0), v1 * e(0)), (v, kap * e(1), kap * e(1))]
    flows = separate_flow_at(Lam, N, heads)
    g = lam[1] ** 2 - lam[1] ** 3 * c[1] * v * kap**2  # e_2ᵀ G e_2
    res = [flows[1][0] - kap**2 * g]
    res += list(flows[1][1] - v * kap * g * e(1)) + list(flows[1][2] - v * kap * g * e(1))
    res.append(2 * v * flows[1][0] - 2 * kap * (flows[1][1][1]))  # d(v² − κ²)/dt · τ
    rhs = la.unbalanced_rhs_expr(v, delta, lam[1], sum(lam), N)
    res.append((flows[1][0].subs(kap, sp.sqrt(v**2 - delta)) - rhs))
    res.append(rhs.subs(delta, 0) - head_rhs_expr(v, lam[1], sum(lam), N))
    return sp.Matrix([sp.simplify(r) for r in res])


@claim("ch05-unbalanced-head", CH, "symbolic",
       "A head on an eigenvector with k = q = κe but its own value v conserves δ = v² − κ² and obeys "
       "τv̇ = (v² − δ)(λ² − λ³c v(v² − δ)); for δ = 0 this is the balanced head equation τv̇ = λ²v² − λ³cv⁵ "
       "(D = 3, one head learned).", ref="thm-ch05-unbalanced")
def _unbalanced_head():
    return unbalanced_head_residual()


UNB_PAIRS = ((0.06, 0.06), (0.02, 0.08), (0.08, 0.02))  # (v0, κ0): balanced, value smaller, value larger
UNB_TAU = 2.5


@lru_cache(maxsize=None)
def unbalanced_flow():
    """Exact flow (solve_ivp, τ = 2.5) of four aligned heads, one per eigenvector, for each (v0, κ0)."""
    Lam, O, pm = setting()
    model = at.SeparateAttention(4, 4)
    v0 = np.array([p[0] for p in UNB_PAIRS])
    k0 = np.array([p[1] for p in UNB_PAIRS])
    p = at.separate_aligned_init(O, np.repeat(k0[:, None], 4, 1))  # k = q = κ0 e_d
    p["v"] = np.repeat(v0[:, None], 4, 1)
    tr_ = SPECTRUM.sum()
    th = np.array([[la.unbalanced_drop_time(l, tr_, N_CTX, a, b, UNB_TAU) for l in SPECTRUM] for a, b in UNB_PAIRS])
    t = np.linspace(0, 1.2 * th.max(), 6000)
    rec = lambda q: {"m": q["v"] * np.sum(q["k"] ** 2, axis=(2, 3)), "v": q["v"].copy()}
    traj = integrate_flow(model, p, pm, t, tau=UNB_TAU, rates=model.paper_rates, record=rec, rtol=1e-10, atol=1e-13)
    c = la.c_factor(SPECTRUM, tr_, N_CTX)
    target = (1 - 1 / np.sqrt(2)) / (SPECTRUM * c)  # m = vκ² at the loss midpoint
    m = traj["m"]  # (T, E, H)
    sim = np.array([[_crossing(t, m[:, e, d], target[d]) for d in range(4)] for e in range(len(UNB_PAIRS))])
    return t, traj, th, sim


def _crossing(t, x, level):
    """Time where the increasing series ``x`` crosses ``level``: cubic through the four nearest samples."""
    i = int(np.argmax(x > level))
    sel = slice(max(i - 2, 0), i + 2)
    return float(np.polyval(np.polyfit(x[sel] - level, t[sel], 3), 0.0))


@claim("ch05-unbalanced-drop", CH, "numeric",
       "With time constant τ = 2.5 and Λ with spectrum (0.4, 0.3, 0.2, 0.1), the exact flow of aligned heads started at "
       "(v, κ) = (0.06, 0.06), (0.02, 0.08), (0.08, 0.02) reaches the midpoint of each of its four drops at "
       "the time the unbalanced head equation predicts, to 1e-5 relative (for the balanced start also "
       "separate_drop_time, and at δ = 0 its right-hand side is head_ode_rhs).",
       tol=1e-5,
       tol_reason="solve_ivp at rtol 1e-10 recorded on 6000 times; the midpoint is read off by cubic inverse "
                  "interpolation of the monotone vκ²; measured 2.1e-6 relative",
       ref="thm-ch05-unbalanced")
def _unbalanced_drop():
    t, traj, th, sim = unbalanced_flow()
    bal = la.separate_drop_time(SPECTRUM, SPECTRUM.sum(), N_CTX, UNB_PAIRS[0][0], tau=UNB_TAU)
    # at δ = 0 the unbalanced right-hand side is the library's head_ode_rhs
    vg = np.linspace(0.01, 1.5, 60)[:, None]
    c = la.c_factor(SPECTRUM, SPECTRUM.sum(), N_CTX)
    rhs0 = vg**2 * (SPECTRUM**2 - SPECTRUM**3 * c * vg**3)
    lib = la.head_ode_rhs(vg, SPECTRUM, SPECTRUM.sum(), N_CTX)
    err = max(np.max(np.abs(sim / th - 1)), np.max(np.abs(sim[0] / bal - 1)),
              np.max(np.abs(rhs0 - lib)) / np.max(np.abs(lib)))
    return float(err), {"t": t, "m": traj["m"], "v": traj["v"], "theory": th, "sim": sim, "balanced": bal}


# =========================================================================== the full model on samples
FULL_P = (100, 400, 1600, 6400)
FULL_SEEDS = 3
FULL_DT, FULL_T = 4e-3, 3.5


@lru_cache(maxsize=None)
def full_model_runs():
    """Merged attention (Λ = I, D = 4, H = 8, aligned balanced init w = 10⁻², N = 31) trained on P sampled
    sequences twice: with every block that reaches ŷ_q trained (the full model) and with the value's x-part and
    the key-query's label row held at zero (the reduced model of the theory), on the same sequences."""
    D, H = MERGED_D, MERGED_H
    Lam = np.eye(D)
    seqs = [at.sample_sequences(Lam, N_CTX, P, seed=1000 * j + P) for P in FULL_P for j in range(FULL_SEEDS)]
    data = at.full_moments_from_sequences(seqs)
    E = len(seqs)
    p = at.merged_aligned_init(D, H, MERGED_W, seed=0)
    p0 = at.full_from_merged({k: np.repeat(v, E, 0) for k, v in p.items()})
    t = np.round(np.arange(0, FULL_T + 1e-9, 0.02), 10)
    out = {}
    for name, train_dormant in (("full", True), ("reduced", False)):
        model = at.FullMergedAttention(D, H, train_dormant)
        out[name] = train_gd(model, p0, data, FULL_DT, times=t, rates=model.paper_rates,
                             record=lambda q, m=model: {"dormant": m.dormant_norm(q)})
    half = 0.5 * (np.trace(Lam) + la.minimum_loss(Lam, N_CTX))
    tmid = {k: np.array([np.interp(-half, -tr.loss[:, e], t) for e in range(E)]) for k, tr in out.items()}
    shift = (tmid["full"] / tmid["reduced"] - 1).reshape(len(FULL_P), FULL_SEEDS)
    return t, out, tmid, shift


@claim("ch05-full-model-shift", CH, "numeric",
       "Trained on P sampled sequences with every block free (merged, Λ = I, dormant blocks starting at zero), the "
       "model leaves its plateau earlier than the reduced model on the same sequences; the relative shift of the "
       "drop's midpoint shrinks with P and is below 2% at P = 6400 (mean of three data sets), while at P = 100 it "
       "exceeds 10%.", tol=2e-2,
       tol_reason="error is the mean |shift| at P = 6400, measured 7.4e-3 (data sets 5e-4 … 1.7e-2); the shift is a "
                  "finite-sample effect that falls roughly like 1/P (the noise directions add ~1/P to the growth "
                  "rate), so 2% is the measured value with its seed spread; the check also fails unless the mean "
                  "shift is negative at every P, grows in magnitude as P falls and exceeds 10% at P = 100",
       ref="sec-ch05-full-model")
def _full_shift():
    t, out, tmid, shift = full_model_runs()
    mean = shift.mean(1)
    ok = np.all(mean < 0) and np.all(np.diff(np.abs(mean)) < 0) and abs(mean[0]) > 0.10
    data = {"t": t, "P": np.array(FULL_P), "shift": shift, "tmid": tmid,
            "full": out["full"].loss, "reduced": out["reduced"].loss, "dormant": out["full"]["dormant"]}
    return (float(abs(mean[-1])) if ok else np.inf), data
