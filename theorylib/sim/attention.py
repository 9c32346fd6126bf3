"""Multi-head linear attention trained on in-context linear regression (Chapter 5).

Sequences: tokens ``x_1 … x_N, x_q ~ N(0, Λ)``, a task ``w ~ N(0, I)`` per sequence and labels
``y_n = wᵀx_n``; the input matrix has columns ``(x_n, y_n)`` and a last column ``(x_q, 0)``.
Linear attention (with the ``1/N`` of Zhang, Singh, Latham & Saxe 2025) predicts the bottom-right
entry of ``X + Σ_i (1/N) W^V_i X (Xᵀ W^{KQ}_i X)``. With the dormant blocks at zero (they stay
zero) every model computes

    ŷ_q = βᵀ M x_q,   β = (1/N) Σ_n y_n x_n,

with ``M = Σ_i v_i U_i`` (merged, :class:`MergedAttention`) or ``M = Σ_i v_i Σ_r k_{ir} q_{ir}ᵀ``
(separate, rank ``R``, :class:`SeparateAttention`). ``ŷ_q`` is linear in the cubic feature
``z = vec(β x_qᵀ)`` (row-major), so the loss ``L = E(y_q − ŷ_q)²`` (no ½, the paper's convention)
depends on the data only through ``S = E[zzᵀ]``, ``C = E[y_q β x_qᵀ]`` and ``E[y_q²]``:
:class:`AttentionMoments`. They come either from sampled sequences
(:func:`moments_from_sequences`; full-batch GD on the empirical MSE is then *exactly* GD on
these moments) or from the Gaussian model itself (:func:`population_moments`, computed from
Isserlis' theorem as a 4-tensor, not from any closed form of the chapter).

Time convention: the paper's flow is ``τ θ̇ = −½ ∂L/∂θ``. ``grad`` returns ``∂L/∂θ``; pass
``rates=model.paper_rates`` to :func:`theorylib.sim.engine.train_gd` (step ``τ Δθ = −η·½ ∂L/∂θ``)
so that its ``t = ηk`` is the paper's time. Plain GD on L with step ``η``,
``θ ← θ − η ∂L/∂θ``, is the Euler scheme with time step ``2ητ``: it reaches ``t = 2ηkτ``.

Introduced in Chapter 5 (linear attention). Never uses a closed form.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as _v
from .data import random_orthogonal

__all__ = [
    "AttentionMoments",
    "Sequences",
    "population_moments",
    "sample_sequences",
    "cubic_features",
    "moments_from_sequences",
    "token_matrix",
    "attention_forward",
    "MergedAttention",
    "SeparateAttention",
    "merged_aligned_init",
    "merged_random_init",
    "separate_random_init",
    "separate_aligned_init",
    "predict_with",
    "pcr_predict",
    "covariance_with_spectrum",
    "separate_code_init",
    "FullMoments",
    "full_features",
    "full_moments_from_sequences",
    "FullMergedAttention",
    "full_from_merged",
]


# --------------------------------------------------------------------------- data
def _covariance(Lambda):
    L = np.asarray(Lambda, dtype=float)
    if L.ndim != 2 or L.shape[0] != L.shape[1]:
        raise ValueError(f"Lambda must be a square matrix; got shape {L.shape}")
    if not np.all(np.isfinite(L)) or not np.allclose(L, L.T, rtol=0.0, atol=1e-12 * max(1.0, np.abs(L).max())):
        raise ValueError("Lambda must be finite and symmetric")
    if np.linalg.eigvalsh(L).min() <= 0:
        raise ValueError("Lambda must be positive definite")
    return L


def _context(N):
    if not np.isfinite(N) or int(N) != N or N < 1:
        raise ValueError(f"the context length N must be a positive integer; got {N}")
    return int(N)


@dataclass(frozen=True)
class AttentionMoments:
    """Statistics of the cubic feature ``z = vec(β x_qᵀ)`` (row-major) that fix the loss.

    ``L(M) = yy − 2⟨M, C⟩ + vec(M)ᵀ S vec(M)``.

    Attributes
    ----------
    S : ndarray (D², D²)
        ``E[z zᵀ]``.
    C : ndarray (D, D)
        ``E[y_q β x_qᵀ]`` (``= mat E[y_q z]``).
    yy : float
        ``E[y_q²]``.
    kron : tuple (A, B) or None
        If given, ``S = A ⊗ B`` (row-major), used for the fast product ``mat(S vec M) = A M Bᵀ``.
    """

    S: np.ndarray
    C: np.ndarray
    yy: float
    kron: tuple | None = None

    def __post_init__(self):
        S = np.asarray(self.S, dtype=float)
        C = np.asarray(self.C, dtype=float)
        if C.ndim != 2 or C.shape[0] != C.shape[1]:
            raise ValueError(f"C must be square (D, D); got {C.shape}")
        D = C.shape[0]
        if S.shape != (D * D, D * D):
            raise ValueError(f"S must have shape ({D * D}, {D * D}); got {S.shape}")
        if not np.all(np.isfinite(S)) or not np.all(np.isfinite(C)) or not np.isfinite(self.yy):
            raise ValueError("moments must be finite")
        if not np.allclose(S, S.T, rtol=0.0, atol=1e-10 * max(1.0, np.abs(S).max())):
            raise ValueError("S must be symmetric")
        if np.linalg.eigvalsh(0.5 * (S + S.T)).min() < -1e-10 * max(1.0, np.abs(S).max()):
            raise ValueError("S = E[z zᵀ] must be positive semi-definite")
        if self.yy < 0:
            raise ValueError("yy must be non-negative")
        _v.fitted_part_below("yy", self.yy, _v.explained(0.5 * (S + S.T), C.reshape(1, -1)),
                             "vec(C)ᵀ S⁺ vec(C) (the part the best M explains)")
        kron = self.kron
        if kron is not None:
            A, B = (np.asarray(m, dtype=float) for m in kron)
            if A.shape != (D, D) or B.shape != (D, D):
                raise ValueError("Kronecker factors must be (D, D)")
            if not np.allclose(np.kron(A, B), S, rtol=0.0, atol=1e-10 * max(1.0, np.abs(S).max())):
                raise ValueError("kron factors do not reproduce S")
            kron = (A, B)
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "C", C)
        object.__setattr__(self, "yy", float(self.yy))
        object.__setattr__(self, "kron", kron)
        object.__setattr__(self, "_b_symmetric", kron is not None and bool(np.array_equal(kron[1], kron[1].T)))

    @property
    def D(self) -> int:
        return self.C.shape[0]

    def apply_S(self, M):
        """``mat(S vec M)`` for ``M`` of shape (E, D, D)."""
        if self.kron is not None:
            A, B = self.kron
            return A @ M @ B.T if not self._b_symmetric else A @ M @ B
        E = M.shape[0]
        D = self.D
        return (M.reshape(E, D * D) @ self.S).reshape(E, D, D)


def population_moments(Lambda, N) -> AttentionMoments:
    """Exact moments of the Gaussian sequence model (P → ∞), via Isserlis' theorem.

    ``E[ββᵀ]_{ac} = (1/N²) Σ_{n,m} E[(x_n·x_m) x_{na} x_{mc}]`` is assembled from the Gaussian
    4-tensor ``E[x_a x_b x_c x_d] = Λ_abΛ_cd + Λ_acΛ_bd + Λ_adΛ_bc`` (the ``N`` diagonal terms) and
    ``(Λ²)_{ac}`` (the ``N(N−1)`` off-diagonal ones); then ``S = E[ββᵀ] ⊗ Λ``, ``C = Λ·Λ`` and
    ``E[y_q²] = tr Λ``.

    Parameters
    ----------
    Lambda : ndarray (D, D)
        Token covariance, symmetric positive definite.
    N : int
        Context length.
    """
    L = _covariance(Lambda)
    N = _context(N)
    T4 = np.einsum("ab,cd->abcd", L, L) + np.einsum("ac,bd->abcd", L, L) + np.einsum("ad,bc->abcd", L, L)
    diag = np.einsum("bbac->ac", T4)  # E[|x|² x_a x_c]
    Ebb = (N * (N - 1) * (L @ L) + N * diag) / N**2
    return AttentionMoments(np.kron(Ebb, L), L @ L, float(np.trace(L)), kron=(Ebb, L))


def covariance_with_spectrum(eigenvalues, seed=0, rotate=True):
    """``Λ = O diag(λ) Oᵀ`` with a Haar-random rotation ``O`` (identity if ``rotate=False``).

    Returns
    -------
    Lambda : ndarray (D, D)
    O : ndarray (D, D)
        Eigenvectors in the columns, ordered as ``eigenvalues``.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or np.any(lam <= 0) or not np.all(np.isfinite(lam)):
        raise ValueError("eigenvalues must be a 1-D array of positive numbers")
    O = random_orthogonal(len(lam), np.random.default_rng(seed)) if rotate else np.eye(len(lam))
    return (O * lam) @ O.T, O


@dataclass(frozen=True)
class Sequences:
    """Sampled sequences: context ``x`` (P, N, D), labels ``y`` (P, N), query ``xq`` (P, D),
    its label ``yq`` (P,) and the tasks ``w`` (P, D)."""

    x: np.ndarray
    y: np.ndarray
    xq: np.ndarray
    yq: np.ndarray
    w: np.ndarray

    @property
    def N(self) -> int:
        return self.x.shape[1]

    @property
    def P(self) -> int:
        return self.x.shape[0]

    @property
    def beta(self):
        """``β = (1/N) Σ_n y_n x_n``, shape (P, D)."""
        return np.einsum("pn,pnd->pd", self.y, self.x) / self.N


def sample_sequences(Lambda, N, P, seed=0, whiten_tasks=False) -> Sequences:
    """Draw ``P`` sequences of ``N`` labelled tokens and a query.

    Parameters
    ----------
    whiten_tasks : bool
        If True, the tasks ``w`` are whitened across the set (exact zero mean, identity
        covariance), as in the authors' code; this removes part of the finite-P error.
    """
    L = _covariance(Lambda)
    N = _context(N)
    if int(P) != P or P < 1:
        raise ValueError("P must be a positive integer")
    P = int(P)
    D = L.shape[0]
    if whiten_tasks and P <= D:
        raise ValueError("whitening the tasks needs P > D")
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(L)
    tokens = rng.standard_normal((P, N + 1, D)) @ chol.T
    w = rng.standard_normal((P, D))
    if whiten_tasks:
        w = w - w.mean(0)
        cov = w.T @ w / P
        w = w @ np.linalg.inv(np.linalg.cholesky(cov)).T
    x, xq = tokens[:, :N], tokens[:, N]
    return Sequences(x, np.einsum("pnd,pd->pn", x, w), xq, np.einsum("pd,pd->p", xq, w), w)


def cubic_features(seq: Sequences):
    """``z = vec(β x_qᵀ)`` (row-major), shape (P, D²): entries cubic in the tokens, ``y_n x_n x_q``."""
    return np.einsum("pa,pb->pab", seq.beta, seq.xq).reshape(seq.P, -1)


def moments_from_sequences(seq: Sequences) -> AttentionMoments:
    """Empirical ``S``, ``C``, ``E y_q²`` of a sampled set; full-batch GD on the training MSE
    of the reduced model equals GD on these moments exactly."""
    z = cubic_features(seq)
    P, D = seq.P, seq.xq.shape[1]
    S = z.T @ z / P
    S = 0.5 * (S + S.T)
    return AttentionMoments(S, (z.T @ seq.yq / P).reshape(D, D), float(seq.yq @ seq.yq / P))


def token_matrix(seq: Sequences):
    """Input matrices ``X`` of shape (P, D+1, N+1): columns ``(x_n; y_n)`` and ``(x_q; 0)``."""
    top = np.concatenate([seq.x, seq.xq[:, None, :]], axis=1)  # (P, N+1, D)
    bottom = np.concatenate([seq.y, np.zeros((seq.P, 1))], axis=1)  # (P, N+1)
    return np.concatenate([top, bottom[:, :, None]], axis=2).transpose(0, 2, 1)


def attention_forward(X, WV, WK, WQ, N=None):
    """Full multi-head linear attention ``X + Σ_i (1/N) W^V_i X (W^K_i X)ᵀ (W^Q_i X)``.

    Parameters
    ----------
    X : ndarray (P, D+1, N+1)
    WV : ndarray (H, D+1, D+1)
    WK, WQ : ndarray (H, R, D+1)
        Keys and queries of rank ``R``; for a merged head use ``WK = I`` (R = D+1) and
        ``WQ = W^{KQ}`` so that ``W^Kᵀ W^Q = W^{KQ}``.
    N : int, optional
        The normaliser; defaults to the number of labelled tokens ``X.shape[2] − 1``.

    Returns
    -------
    ndarray (P, D+1, N+1); the prediction is ``out[:, -1, -1]``.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 3:
        raise ValueError("X must have shape (P, D+1, N+1)")
    N = X.shape[2] - 1 if N is None else N
    if N < 1:
        raise ValueError("need at least one labelled token")
    WV, WK, WQ = (np.asarray(a, dtype=float) for a in (WV, WK, WQ))
    if WV.ndim != 3 or WK.ndim != 3 or WQ.shape != WK.shape or WV.shape[1:] != (X.shape[1],) * 2 or WK.shape[2] != X.shape[1]:
        raise ValueError("weight shapes do not match X")
    keys = np.einsum("hrd,pdn->phrn", WK, X)
    queries = np.einsum("hrd,pdn->phrn", WQ, X)
    scores = np.einsum("phrn,phrm->phnm", keys, queries)  # (P, H, N+1, N+1)
    values = np.einsum("hde,pen->phdn", WV, X)
    return X + np.einsum("phdn,phnm->pdm", values, scores) / N


def predict_with(M, seq: Sequences):
    """``ŷ_q = βᵀ M x_q`` for each ``M`` in (E, D, D) and each sequence: shape (E, P)."""
    M = np.asarray(M, dtype=float)
    return np.einsum("pa,eab,pb->ep", seq.beta, M, seq.xq)


def pcr_predict(seq: Sequences, components):
    """In-context principal-component regression with the given components.

    Regress the context labels on the projections ``Eᵀx_n`` (least squares,
    ``ŵ = E (Eᵀ Λ̂ E)⁻¹ Eᵀ β``) and predict ``ŵᵀ x_q``.

    Parameters
    ----------
    components : ndarray (D, m)
        Orthonormal directions (e.g. the top-m eigenvectors of Λ); ``m = 0`` predicts 0.
    """
    Em = np.asarray(components, dtype=float)
    if Em.ndim != 2 or Em.shape[0] != seq.xq.shape[1]:
        raise ValueError("components must have shape (D, m)")
    if Em.shape[1] == 0:
        return np.zeros(seq.P)
    proj = seq.x @ Em  # (P, N, m)
    gram = np.einsum("pni,pnj->pij", proj, proj) / seq.N
    rhs = np.einsum("pni,pn->pi", proj, seq.y) / seq.N
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    return np.einsum("pi,pi->p", coef, seq.xq @ Em)


# --------------------------------------------------------------------------- models
class _Attention:
    D: int
    H: int
    names: tuple

    @property
    def paper_rates(self):
        """Rates ½ for every parameter: with them ``train_gd`` follows ``τθ̇ = −½∂L/∂θ`` in paper time."""
        return {n: 0.5 for n in self.names}

    def _check_data(self, data):
        if not isinstance(data, AttentionMoments):
            raise ValueError("data must be AttentionMoments (population_moments or moments_from_sequences)")
        if data.D != self.D:
            raise ValueError(f"data has D = {data.D}; the model expects {self.D}")

    def loss(self, params, data: AttentionMoments):
        """``L = E(y_q − βᵀMx_q)²`` (no ½), shape (E,)."""
        self._check_data(data)
        M = self.product(params)
        return data.yy + np.sum(M * (data.apply_S(M) - 2.0 * data.C), axis=(1, 2))

    def residual(self, params, data):
        """``G = −½ ∂L/∂M = C − mat(S vec M)``, shape (E, D, D)."""
        M = self.product(params)
        return data.C - data.apply_S(M)

    def predict(self, params, seq: Sequences):
        """Reduced-model predictions ``βᵀ M x_q``, shape (E, P)."""
        return predict_with(self.product(params), seq)

    def stability_bound(self, data):
        """Rough ``2/λ_max``: curvature ``2 λ_max(S) ‖∂M/∂θ‖²`` with ``‖∂M/∂θ‖² ≲ 3`` at unit scale."""
        lam = np.linalg.eigvalsh(data.S).max()
        return 2.0 / (6.0 * lam) if lam > 0 else np.inf


class MergedAttention(_Attention):
    """``H`` merged heads: parameters ``v`` (E, H) and ``U`` (E, H, D, D); ``M = Σ_i v_i U_i``.

    Equivalently a two-layer linear network ``ŷ = w_2ᵀ W_1 z`` with ``w_2 = v`` and the rows of
    ``W_1`` the row-major ``vec(U_i)``.
    """

    names = ("v", "U")

    def __init__(self, D, H):
        if int(D) != D or int(H) != H or D < 1 or H < 1:
            raise ValueError("D and H must be positive integers")
        self.D, self.H = int(D), int(H)

    def _check(self, params):
        v, U = params["v"], params["U"]
        if v.ndim != 2 or v.shape[1] != self.H or U.shape != (v.shape[0], self.H, self.D, self.D):
            raise ValueError(f"need v (E, {self.H}) and U (E, {self.H}, {self.D}, {self.D}); got {v.shape}, {U.shape}")

    def product(self, params):
        self._check(params)
        return np.einsum("eh,ehab->eab", params["v"], params["U"])

    def grad(self, params, data: AttentionMoments):
        self._check_data(data)
        G = self.residual(params, data)
        return {
            "v": -2.0 * np.einsum("ehab,eab->eh", params["U"], G),
            "U": -2.0 * params["v"][:, :, None, None] * G[:, None],
        }

    def embed(self, params, member=0, rng=None):
        """Full ``(W^V_i, W^K_i, W^Q_i)`` of one ensemble member for :func:`attention_forward`.

        The blocks that do not reach the prediction (``*`` in the paper) are filled with random
        numbers from ``rng`` (zeros if None) to show that they do not matter.
        """
        v, U = params["v"][member], params["U"][member]
        H, D = self.H, self.D
        rnd = (lambda *s: rng.standard_normal(s)) if rng is not None else (lambda *s: np.zeros(s))
        WV = np.zeros((H, D + 1, D + 1))
        WV[:, :D, :] = rnd(H, D, D + 1)
        WV[:, D, D] = v
        WKQ = np.zeros((H, D + 1, D + 1))
        WKQ[:, :D, :D] = U
        WKQ[:, :, D] = rnd(H, D + 1)
        WK = np.broadcast_to(np.eye(D + 1), (H, D + 1, D + 1)).copy()
        return WV, WK, WKQ


class SeparateAttention(_Attention):
    """``H`` heads with separate rank-``R`` keys and queries: ``v`` (E, H), ``k``, ``q`` (E, H, R, D);
    ``M = Σ_i v_i Σ_r k_{ir} q_{ir}ᵀ``. Rank one (``R = 1``) is the paper's ATTN_S.

    The population gradient costs a few (D×D) matrix products per step, vectorised over the
    ensemble axis.
    """

    names = ("v", "k", "q")

    def __init__(self, D, H, R=1):
        if any(int(a) != a or a < 1 for a in (D, H, R)):
            raise ValueError("D, H and R must be positive integers")
        self.D, self.H, self.R = int(D), int(H), int(R)

    def _check(self, params):
        v, k, q = params["v"], params["k"], params["q"]
        shape = (v.shape[0], self.H, self.R, self.D) if v.ndim == 2 else None
        if v.ndim != 2 or v.shape[1] != self.H or k.shape != shape or q.shape != shape:
            raise ValueError(
                f"need v (E, {self.H}), k and q (E, {self.H}, {self.R}, {self.D}); got {v.shape}, {k.shape}, {q.shape}"
            )

    def product(self, params):
        self._check(params)
        v, k, q = params["v"], params["k"], params["q"]
        E = v.shape[0]
        kv = (k * v[:, :, None, None]).reshape(E, -1, self.D)
        return np.swapaxes(kv, 1, 2) @ q.reshape(E, -1, self.D)

    def grad(self, params, data: AttentionMoments):
        self._check_data(data)
        v, k, q = params["v"], params["k"], params["q"]
        E = v.shape[0]
        G = self.residual(params, data)
        kf = k.reshape(E, -1, self.D)
        qf = q.reshape(E, -1, self.D)
        Gq = (qf @ np.swapaxes(G, 1, 2)).reshape(k.shape)  # G q_ir
        Gk = (kf @ G).reshape(k.shape)  # Gᵀ k_ir
        vv = -2.0 * v[:, :, None, None]
        return {"v": -2.0 * np.sum(k * Gq, axis=(2, 3)), "k": vv * Gq, "q": vv * Gk}

    def _compiled_stepper(self, params, data, factor):
        """The fused GD kernel of the compiled backend (engine.train_gd), None without one."""
        if not isinstance(data, AttentionMoments):
            return None
        self._check_data(data)
        self._check(params)
        from . import _compiled  # imports numba: only when the engine asks for it

        return _compiled.separate_attention(self, params, data, factor)

    def embed(self, params, member=0, rng=None):
        """Full ``(W^V_i, W^K_i, W^Q_i)`` of one member; ``W^K_i, W^Q_i`` are R×(D+1) with rows
        ``(k_{ir}ᵀ, 0)`` and ``(q_{ir}ᵀ, *)``; irrelevant entries random if ``rng`` is given."""
        v, k, q = params["v"][member], params["k"][member], params["q"][member]
        H, R, D = self.H, self.R, self.D
        rnd = (lambda *s: rng.standard_normal(s)) if rng is not None else (lambda *s: np.zeros(s))
        WV = np.zeros((H, D + 1, D + 1))
        WV[:, :D, :] = rnd(H, D, D + 1)
        WV[:, D, D] = v
        WK = np.zeros((H, R, D + 1))
        WK[:, :, :D] = k
        WQ = np.zeros((H, R, D + 1))
        WQ[:, :, :D] = q
        WQ[:, :, D] = rnd(H, R)
        return WV, WK, WQ

    def strengths(self, params):
        """``|v_i|`` (E, H): equal to ``‖k_i‖ = ‖q_i‖`` for balanced rank-one heads."""
        return np.abs(params["v"])

    def alignment(self, params, eigvecs):
        """``|⟨k_{i1}, e_d⟩| / ‖k_{i1}‖`` for the first key of every head: (E, H, D)."""
        k = params["k"][:, :, 0, :]
        proj = np.abs(k @ np.asarray(eigvecs, dtype=float))
        return proj / np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), 1e-300)


# --------------------------------------------------------------------------- initialisations
def _ens(n):
    if int(n) != n or n < 1:
        raise ValueError("n_ensemble must be a positive integer")
    return int(n)


def merged_aligned_init(D, H, w_init, n_ensemble=1, seed=0):
    """Aligned, balanced merged init: ``v = w a``, ``U_i = w a_i I/√D`` with a random unit ``a ∈ R^H``;
    both layers have norm ``w`` (``‖v‖ = ‖W_1‖_F = w``) and ``M = w² I/√D``."""
    w_init = _v.positive_scalar("w_init", w_init)
    D, H = _v.integer("D", D, minimum=1), _v.integer("H", H, minimum=1)
    E = _ens(n_ensemble)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((E, H))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    v = w_init * a
    U = w_init * a[:, :, None, None] * np.eye(D) / np.sqrt(D)
    return {"v": v, "U": U}


def merged_random_init(D, H, scale, n_ensemble=1, seed=0):
    """I.i.d. ``N(0, scale²)`` entries of ``v`` and ``U``."""
    scale = _v.positive_scalar("scale", scale)
    D, H = _v.integer("D", D, minimum=1), _v.integer("H", H, minimum=1)
    E = _ens(n_ensemble)
    rng = np.random.default_rng(seed)
    return {"v": scale * rng.standard_normal((E, H)), "U": scale * rng.standard_normal((E, H, D, D))}


def separate_random_init(D, H, R=1, scale=1e-2, n_ensemble=1, seed=0):
    """Random separate-head init: every ``k_{ir}``, ``q_{ir}`` a random direction of norm ``scale``,
    ``v_i = ±scale`` (so rank-one heads start balanced, ``|v| = ‖k‖ = ‖q‖``)."""
    scale = _v.positive_scalar("scale", scale)
    D, H, R = (_v.integer(n, x, minimum=1) for n, x in (("D", D), ("H", H), ("R", R)))
    E = _ens(n_ensemble)
    rng = np.random.default_rng(seed)

    def directions():
        a = rng.standard_normal((E, H, R, D))
        return scale * a / np.linalg.norm(a, axis=-1, keepdims=True)

    k, q = directions(), directions()
    v = scale * rng.choice([-1.0, 1.0], size=(E, H))
    return {"v": v, "k": k, "q": q}


def separate_aligned_init(eigvecs, v0, H=None):
    """Rank-one heads on the eigenvectors: head ``d`` has ``k = q = v0_d e_d`` and ``v = v0_d``.

    Parameters
    ----------
    eigvecs : ndarray (D, D)
        Columns ``e_d``.
    v0 : ndarray (E, m) or (m,)
        Initial scales of the first ``m ≤ D`` heads (> 0); further heads (up to ``H``) are zero.
    """
    Evec = _v.orthogonal("eigvecs", eigvecs)
    D = Evec.shape[0]
    v0 = np.atleast_2d(_v.finite("v0", v0))
    if v0.ndim != 2 or v0.size == 0:
        raise ValueError(f"v0 must have shape (m,) or (E, m) with m ≥ 1; got {np.shape(v0)}")
    E, m = v0.shape
    H = m if H is None else _v.integer("H", H, minimum=1)
    if m > min(D, H) or np.any(v0 <= 0):
        raise ValueError("need 0 < v0 and at most min(D, H) aligned heads")
    v = np.zeros((E, H))
    v[:, :m] = v0
    k = np.zeros((E, H, 1, D))
    k[:, :m, 0, :] = v0[:, :, None] * Evec.T[None, :m, :]
    return {"v": v, "k": k, "q": k.copy()}


def separate_code_init(D, H, R=1, init=1e-2, N=None, n_ensemble=1, seed=0):
    """The initialisation of the authors' code (``Attention_Separate`` in yedizhang/linattn-icl, as
    of the paper, 2025), expressed in this module's convention.

    Each head has its own key and query layers, ``R × (D+1)`` matrices with i.i.d. entries of
    standard deviation ``init/√(R(D+1))``, and its own value layer, ``(D+1) × (D+1)`` with entries
    of standard deviation ``init``; then the key's label column and the x-part of the value's
    label row are set to zero. The code has no ``1/N`` in the attention, so a code weight ``θ'``
    acts like ``θ = N^{1/3} θ'`` here (the three factors of a head share the factor ``N``); with
    ``N=None`` no conversion is made. (A later, vectorised version of the code stacks the heads
    and divides by the square root of the stacked matrices' sizes instead.)

    Returns
    -------
    dict with ``v`` (E, H) of standard deviation ``s·init`` and ``k``, ``q`` (E, H, R, D) with
    entries of standard deviation ``s·init/√(R(D+1))``, ``s = N^{1/3}`` (or 1). The heads start
    unbalanced: ``v_i² − ‖k_i‖²`` is random, of order ``s²·init²``.
    """
    if any(int(a) != a or a < 1 for a in (D, H, R)):
        raise ValueError("D, H and R must be positive integers")
    if not (np.isfinite(init) and init > 0):
        raise ValueError(f"init must be positive and finite; got {init}")
    s = 1.0 if N is None else float(_context(N)) ** (1.0 / 3.0)
    E = _ens(n_ensemble)
    rng = np.random.default_rng(seed)
    D, H, R = int(D), int(H), int(R)
    std_kq = s * init / np.sqrt(R * (D + 1))
    k = std_kq * rng.standard_normal((E, H, R, D))
    q = std_kq * rng.standard_normal((E, H, R, D))
    v = s * init * rng.standard_normal((E, H))
    return {"v": v, "k": k, "q": q}


# --------------------------------------------------------------------------- the full model
@dataclass(frozen=True)
class FullMoments:
    """Statistics of the full feature ``Z_abc = Ĉ_ab x_qc`` with ``Ĉ = X Xᵀ/N`` (all ``N + 1``
    columns of ``X``, the query's included), one data set per ensemble member.

    Every block of a merged head that can reach the prediction is a factor of ``ŷ_q = ⟨T, Z⟩``,
    ``T = Σ_i b_i ⊗ A_i``, so the full model's training loss is ``yy − 2⟨T, C⟩ + vec(T)ᵀ S vec(T)``.

    Attributes
    ----------
    S : ndarray (E, n, n), ``n = (D+1)² D``
    C : ndarray (E, n)
    yy : ndarray (E,)
    """

    S: np.ndarray
    C: np.ndarray
    yy: np.ndarray

    @property
    def D(self) -> int:
        n = self.C.shape[1]
        D = int(round(n ** (1.0 / 3.0)))
        while (D + 1) ** 2 * D > n:
            D -= 1
        while (D + 1) ** 2 * D < n:
            D += 1
        return D


def full_features(seq: Sequences):
    """``Z = vec(Ĉ ⊗ x_q)`` (row-major over ``a, b, c``), shape (P, (D+1)² D), with
    ``Ĉ = X Xᵀ/N`` computed from the token matrix (query column included)."""
    X = token_matrix(seq)
    Chat = X @ np.swapaxes(X, 1, 2) / seq.N  # (P, D+1, D+1)
    return np.einsum("pab,pc->pabc", Chat, seq.xq).reshape(seq.P, -1)


def full_moments_from_sequences(seqs) -> FullMoments:
    """Empirical :class:`FullMoments` of one or several sampled sets (one per ensemble member)."""
    seqs = [seqs] if isinstance(seqs, Sequences) else list(seqs)
    if not seqs:
        raise ValueError("need at least one set of sequences")
    S, C, yy = [], [], []
    for seq in seqs:
        Z = full_features(seq)
        S.append(Z.T @ Z / seq.P)
        C.append(Z.T @ seq.yq / seq.P)
        yy.append(seq.yq @ seq.yq / seq.P)
    n = {s.shape for s in S}
    if len(n) != 1:
        raise ValueError("all sets must have the same token dimension")
    return FullMoments(np.stack(S), np.stack(C), np.array(yy))


class FullMergedAttention:
    """Merged heads with *every* block that reaches ``ŷ_q`` trained, on per-member data sets.

    Head ``i`` contributes ``b_iᵀ Ĉ A_i x_q``: ``b_i = (v⃗_i, v_i)`` is the last row of ``W^V_i``
    (its x-part ``v⃗_i`` and the value scalar) and ``A_i = [U_i; u⃗_iᵀ]`` the first ``D`` columns of
    ``W^{KQ}_i``. Parameters ``b`` (E, H, D+1) and ``A`` (E, H, D+1, D). The reduced model
    :class:`MergedAttention` is the restriction ``v⃗_i = u⃗_i = 0``; with ``train_dormant=False``
    the gradients of those two blocks are set to zero, so that restriction is trained on the same
    data (and equals :class:`MergedAttention` on :func:`moments_from_sequences`).
    """

    names = ("b", "A")

    def __init__(self, D, H, train_dormant=True):
        if int(D) != D or int(H) != H or D < 1 or H < 1:
            raise ValueError("D and H must be positive integers")
        self.D, self.H, self.train_dormant = int(D), int(H), bool(train_dormant)

    @property
    def paper_rates(self):
        """Rates ½: with them ``train_gd`` follows ``τθ̇ = −½∂L/∂θ`` in paper time."""
        return {n: 0.5 for n in self.names}

    def _check(self, params, data=None):
        b, A = params["b"], params["A"]
        D, H = self.D, self.H
        if b.ndim != 3 or b.shape[1:] != (H, D + 1) or A.shape != (b.shape[0], H, D + 1, D):
            raise ValueError(f"need b (E, {H}, {D + 1}) and A (E, {H}, {D + 1}, {D}); got {b.shape}, {A.shape}")
        if data is not None:
            if not isinstance(data, FullMoments):
                raise ValueError("data must be FullMoments (full_moments_from_sequences)")
            if data.C.shape != (b.shape[0], (D + 1) ** 2 * D):
                raise ValueError(f"data must hold one set per member with n = {(D + 1) ** 2 * D}")

    def tensor(self, params):
        """``T = Σ_i b_i ⊗ A_i``, shape (E, D+1, D+1, D)."""
        self._check(params)
        return np.einsum("eha,ehbc->eabc", params["b"], params["A"])

    def loss(self, params, data: FullMoments):
        self._check(params, data)
        T = self.tensor(params).reshape(params["b"].shape[0], -1)
        ST = np.einsum("eij,ej->ei", data.S, T)
        return data.yy + np.sum(T * (ST - 2.0 * data.C), axis=1)

    def grad(self, params, data: FullMoments):
        self._check(params, data)
        E, D = params["b"].shape[0], self.D
        T = self.tensor(params).reshape(E, -1)
        G = (data.C - np.einsum("eij,ej->ei", data.S, T)).reshape(E, D + 1, D + 1, D)  # −½ ∂L/∂T
        gb = -2.0 * np.einsum("eabc,ehbc->eha", G, params["A"])
        gA = -2.0 * np.einsum("eabc,eha->ehbc", G, params["b"])
        if not self.train_dormant:
            gb[:, :, :D] = 0.0  # the value's x-part
            gA[:, :, D, :] = 0.0  # the key-query's label row
        return {"b": gb, "A": gA}

    def predict(self, params, seq: Sequences, member=0):
        """``ŷ_q`` of one member on sampled sequences, shape (P,)."""
        T = self.tensor(params)[member].reshape(-1)
        return full_features(seq) @ T

    def dormant_norm(self, params):
        """``‖(v⃗_i, u⃗_i)_i‖``: the size of the blocks that the population gradient leaves at zero, (E,)."""
        D = self.D
        return np.sqrt(np.sum(params["b"][:, :, :D] ** 2, axis=(1, 2)) + np.sum(params["A"][:, :, D, :] ** 2, axis=(1, 2)))

    def embed(self, params, member=0):
        """``(W^V_i, W^K_i, W^Q_i)`` for :func:`attention_forward` (``W^K = I``, ``W^Q = W^{KQ}``)."""
        b, A = params["b"][member], params["A"][member]
        H, D = self.H, self.D
        WV = np.zeros((H, D + 1, D + 1))
        WV[:, D, :] = b
        WKQ = np.zeros((H, D + 1, D + 1))
        WKQ[:, :, :D] = A
        WK = np.broadcast_to(np.eye(D + 1), (H, D + 1, D + 1)).copy()
        return WV, WK, WKQ


def full_from_merged(params):
    """Embed reduced merged parameters (``v``, ``U``) as :class:`FullMergedAttention` parameters with
    the dormant blocks at zero."""
    v, U = np.asarray(params["v"], dtype=float), np.asarray(params["U"], dtype=float)
    E, H, D, _ = U.shape
    b = np.zeros((E, H, D + 1))
    b[:, :, D] = v
    A = np.zeros((E, H, D + 1, D))
    A[:, :, :D, :] = U
    return {"b": b, "A": A}
