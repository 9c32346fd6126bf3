"""The fair competitors: GD on the *same population statistics* theorylib trains on, in JAX and numba.

A researcher who knows that these losses depend on the data only through a few moments would not
train on the samples; they would write the moment loss once and compile the step. This module is
that researcher's code, written from the mathematics of each model (not from theorylib's code
paths, so that agreement with theorylib is an independent check):

* **Deep linear chains** ``x ↦ W_L ⋯ W_1 x`` (the two-layer ensemble, the depth-4 learning-rate
  sweep and the fusion networks, whose branch layers are the same chain with a fixed 0/1 mask on
  the weights). With ``Σ_xx = E[x xᵀ]``, ``Σ_yx = E[y xᵀ]`` and ``tr Σ_yy = E‖y‖²``,

      L(W) = ½ tr Σ_yy − ⟨W, Σ_yx⟩ + ½ ⟨W Σ_xx, W⟩,      W = W_L ⋯ W_1,
      ∂L/∂W = W Σ_xx − Σ_yx =: G,
      ∂L/∂W_l = (W_L ⋯ W_{l+1})ᵀ G (W_{l−1} ⋯ W_1)ᵀ      (masked for the fusion branches).

* **Separate rank-one linear attention** (ATTN_S): ``ŷ_q = βᵀ M x_q = ⟨M, z⟩`` with the cubic
  feature ``z = β x_qᵀ``, ``β = (1/N) Σ_n y_n x_n`` and ``M = Σ_i v_i k_i q_iᵀ``. With
  ``S = E[vec z vec zᵀ]`` (row-major vec), ``C = E[y_q z]`` and ``yy = E[y_q²]``,

      L(M) = yy − 2⟨M, C⟩ + vec(M)ᵀ S vec(M)       (the paper's loss, no ½),
      ∂L/∂M = 2 (mat(S vec M) − C) =: G,
      ∂L/∂v_i = k_iᵀ G q_i,   ∂L/∂k_i = v_i G q_i,   ∂L/∂q_i = v_i Gᵀ k_i.

JAX (``jax.jit`` + ``jax.vmap`` over the ensemble + ``jax.lax.scan`` over the steps, float64)
takes the gradient of the loss by automatic differentiation; numba (``@njit``, a loop over the
ensemble members and the steps) uses the gradients written out above. So the two are
independent of each other as well as of theorylib.

Both record the loss at evenly spaced steps ``0, s, 2s, …`` (the benchmark's recording grid)
and return the final parameters. The statistics are computed here with numpy from the samples
(:func:`linear_stats`, :func:`attention_stats`); the benchmark times that reduction as part of
each arm, as it does for theorylib.

Compilation: :func:`jax_chain` / :func:`jax_attention` return an ahead-of-time compiled program
(``jit(...).lower(...).compile()``), and :func:`numba_warmup` compiles the numba kernels, so a
caller can time compilation separately from the steps.
"""
from __future__ import annotations

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numba  # noqa: E402
from numba import njit  # noqa: E402

VERSIONS = {"jax": jax.__version__, "numba": numba.__version__}


# --------------------------------------------------------------------------- statistics
def linear_stats(X, Y):
    """``Σ_xx = XᵀX/P`` (D, D), ``Σ_yx = YᵀX/P`` (n_out, D), ``E‖y‖²`` of samples X (P, D), Y (P, n_out)."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    P = X.shape[0]
    return X.T @ X / P, Y.T @ X / P, float(np.sum(Y * Y) / P)


def attention_stats(x, y, xq, yq):
    """``S`` (D², D²), ``C`` (D, D), ``yy`` of sequences: tokens x (P, N, D), labels y (P, N),
    queries xq (P, D), query labels yq (P,)."""
    P, N, D = x.shape
    beta = np.einsum("pn,pnd->pd", y, x) / N
    z = (beta[:, :, None] * xq[:, None, :]).reshape(P, D * D)  # row-major vec(β x_qᵀ)
    return z.T @ z / P, (z.T @ yq / P).reshape(D, D), float(yq @ yq / P)


def record_grid(rec):
    """``(segment length, number of segments)`` of an evenly spaced grid ``0, s, 2s, …``."""
    rec = np.asarray(rec)
    if rec[0] != 0 or len(rec) < 2 or np.any(np.diff(rec) != rec[1] - rec[0]) or rec[1] <= 0:
        raise ValueError("the recording steps must be 0, s, 2s, ... (evenly spaced, from 0)")
    return int(rec[1] - rec[0]), len(rec) - 1


# --------------------------------------------------------------------------- JAX
def _chain_product(Ws):
    W = Ws[0]
    for V in Ws[1:]:
        W = V @ W
    return W


def _gd_scan(loss, params, eta, seg, n_seg, masks=None):
    """GD on ``loss`` over a tuple of arrays: ``n_seg`` segments of ``seg`` steps (inner and
    outer ``lax.scan``), the loss recorded at the start and after every segment. ``masks``
    (a tuple like ``params``) zeroes the gradient of absent connections."""
    grad = jax.grad(loss)

    def step(p, _):
        g = grad(p)
        if masks is not None:
            g = tuple(gl * ml for gl, ml in zip(g, masks))
        return tuple(a - eta * gl for a, gl in zip(p, g)), None

    def segment(p, _):
        p, _ = jax.lax.scan(step, p, None, length=seg)
        return p, loss(p)

    end, losses = jax.lax.scan(segment, params, None, length=n_seg)
    return end, jnp.concatenate([loss(params)[None], losses])


def jax_chain(init, masks, lr, stats, rec):
    """Compiled JAX program for GD on a deep linear chain, one member per ``vmap`` lane.

    ``init``: list of (E, n_{l+1}, n_l) arrays; ``masks``: None or a list of (E, n_{l+1}, n_l)
    0/1 arrays; ``lr``: (E,); ``stats``: ``(Σ_xx, Σ_yx, tr Σ_yy)`` (only their shapes are used:
    the statistics are arguments of the compiled program, so the timed run includes handing
    them over). Returns ``(compiled, args)``: ``compiled(*args, Σ_xx, Σ_yx, tr Σ_yy)`` gives
    ``(final weights, losses (n_rec, E))``.
    """
    seg, n_seg = record_grid(rec)
    use_mask = masks is not None

    def member(Ws, ms, eta, Sxx, Syx, tyy):
        def loss(Ws):
            W = _chain_product(Ws)
            return 0.5 * tyy - jnp.sum(W * Syx) + 0.5 * jnp.sum((W @ Sxx) * W)

        return _gd_scan(loss, Ws, eta, seg, n_seg, ms if use_mask else None)

    fn = jax.jit(jax.vmap(member, in_axes=(0, 0 if use_mask else None, 0, None, None, None), out_axes=(0, 1)))
    Ws = tuple(jnp.asarray(W, dtype=jnp.float64) for W in init)
    ms = tuple(jnp.asarray(m, dtype=jnp.float64) for m in masks) if use_mask else None
    args = (Ws, ms, jnp.asarray(lr, dtype=jnp.float64))
    st = (jnp.asarray(stats[0]), jnp.asarray(stats[1]), jnp.float64(stats[2]))
    return fn.lower(*args, *st).compile(), args


def jax_attention(v, k, q, lr, stats, rec):
    """Compiled JAX program for GD on separate rank-one attention; ``v`` (E, H), ``k``, ``q``
    (E, H, D); ``stats = (S, C, yy)`` (shapes only, as in :func:`jax_chain`)."""
    seg, n_seg = record_grid(rec)
    D = stats[1].shape[0]

    def member(p, eta, S, C, yy):
        def loss(p):
            v, k, q = p
            M = (k * v[:, None]).T @ q  # Σ_i v_i k_i q_iᵀ
            SM = (S @ M.reshape(D * D)).reshape(D, D)
            return yy - 2.0 * jnp.sum(M * C) + jnp.sum(M * SM)

        return _gd_scan(loss, p, eta, seg, n_seg)

    fn = jax.jit(jax.vmap(member, in_axes=(0, None, None, None, None), out_axes=(0, 1)))
    args = (tuple(jnp.asarray(a, dtype=jnp.float64) for a in (v, k, q)), jnp.float64(lr))
    st = (jnp.asarray(stats[0]), jnp.asarray(stats[1]), jnp.float64(stats[2]))
    return fn.lower(*args, *st).compile(), args


def jax_run(compiled, args, stats):
    """Run a compiled program on the statistics; returns numpy ``(final params, losses)``."""
    final, losses = compiled(*args, jnp.asarray(stats[0]), jnp.asarray(stats[1]), jnp.float64(stats[2]))
    losses = np.asarray(jax.block_until_ready(losses))
    return [np.asarray(a) for a in final], losses


# --------------------------------------------------------------------------- numba
# Every matrix product goes through _mm with C-contiguous operands (transposes are copied by
# _tr), so numba compiles one BLAS binding instead of one per layout combination; that keeps
# the one-off compile time of the kernels to seconds on a loaded 2-core machine.
@njit(cache=False)
def _tr(A):
    n, m = A.shape
    out = np.empty((m, n))
    for i in range(n):
        for j in range(m):
            out[j, i] = A[i, j]
    return out


@njit(cache=False)
def _mm(A, B):
    return np.dot(A, B)


@njit(cache=False)
def _view(buf, off, r, c):
    """The (r, c) matrix stored row-major in the flat buffer ``buf`` from ``off`` (a view)."""
    return buf[off:off + r * c].reshape((r, c))


@njit(cache=False)
def _nb_chain(Wf, shapes, offs, Mf, use_mask, lr, Sxx, Syx, tyy, seg, n_seg, losses):
    """GD on every member of a deep linear chain, member by member (Wf modified in place).

    Member e's layer l is the (shapes[l, 0], shapes[l, 1]) matrix at offs[l] of the row Wf[e]
    (flat buffers instead of lists of arrays, and loops instead of array expressions: numba
    compiles them in a fraction of the time; the products are BLAS calls through _mm).
    """
    L = shapes.shape[0]
    E = Wf.shape[0]
    n0 = shapes[0, 1]
    no = shapes[L - 1, 0]
    # prefixes P_l = W_l ⋯ W_1, each (n_{l+1}, n_0), in one flat scratch buffer
    poffs = np.zeros(L, dtype=np.int64)
    for l in range(1, L):
        poffs[l] = poffs[l - 1] + shapes[l - 1, 0] * n0
    pb = np.empty(poffs[L - 1] + shapes[L - 1, 0] * n0)
    for e in range(E):
        w = Wf[e].copy()
        eta = lr[e]
        for r in range(n_seg + 1):
            if r > 0:
                for _ in range(seg):
                    for j in range(shapes[0, 0] * n0):
                        pb[j] = w[offs[0] + j]
                    for l in range(1, L):
                        P = _mm(_view(w, offs[l], shapes[l, 0], shapes[l, 1]), _view(pb, poffs[l - 1], shapes[l - 1, 0], n0))
                        Pv = _view(pb, poffs[l], shapes[l, 0], n0)
                        for a in range(shapes[l, 0]):
                            for b in range(n0):
                                Pv[a, b] = P[a, b]
                    G = _mm(_view(pb, poffs[L - 1], no, n0), Sxx)  # ∂L/∂W = W Σ_xx − Σ_yx
                    for a in range(no):
                        for b in range(n0):
                            G[a, b] -= Syx[a, b]
                    # backward: BtG = (W_L ⋯ W_{l+1})ᵀ G; ∂L/∂W_l = BtG P_{l−1}ᵀ
                    BtG = G
                    for l in range(L - 1, -1, -1):
                        Wl = _view(w, offs[l], shapes[l, 0], shapes[l, 1])
                        if l > 0:
                            g = _mm(BtG, _tr(_view(pb, poffs[l - 1], shapes[l - 1, 0], n0)))
                            BtG = _mm(_tr(Wl), BtG)  # from the old W_l, before its update
                        else:
                            g = BtG
                        o = offs[l]
                        c = shapes[l, 1]
                        for a in range(shapes[l, 0]):
                            for b in range(c):
                                if use_mask:
                                    w[o + a * c + b] -= eta * g[a, b] * Mf[e, o + a * c + b]
                                else:
                                    w[o + a * c + b] -= eta * g[a, b]
            W = _view(w, offs[0], shapes[0, 0], n0)
            for l in range(1, L):
                W = _mm(_view(w, offs[l], shapes[l, 0], shapes[l, 1]), W)
            WS = _mm(W, Sxx)
            acc = 0.5 * tyy
            for a in range(no):
                for b in range(n0):
                    acc += W[a, b] * (0.5 * WS[a, b] - Syx[a, b])
            losses[r, e] = acc
        for j in range(w.shape[0]):
            Wf[e, j] = w[j]


@njit(cache=False)
def _nb_attention(v, k, q, lr, S, C, yy, seg, n_seg, losses):
    """GD on separate rank-one attention, member by member (v, k, q modified in place).
    D is small (4): plain loops, no BLAS."""
    E, H = v.shape
    D = C.shape[0]
    M = np.empty((D, D))
    SM = np.empty((D, D))
    G = np.empty((D, D))
    Gq = np.empty(D)
    Gk = np.empty(D)
    for e in range(E):
        ve, ke, qe = v[e], k[e], q[e]  # views: updated in place
        for r in range(n_seg + 1):
            n_steps = seg if r > 0 else 0
            for it in range(n_steps + 1):
                for a in range(D):
                    for b in range(D):
                        M[a, b] = 0.0
                for i in range(H):
                    for a in range(D):
                        for b in range(D):
                            M[a, b] += ve[i] * ke[i, a] * qe[i, b]
                for a in range(D):  # mat(S vec M), row-major vec
                    for b in range(D):
                        acc = 0.0
                        for c in range(D):
                            for d in range(D):
                                acc += S[a * D + b, c * D + d] * M[c, d]
                        SM[a, b] = acc
                if it == n_steps:  # the loss at the recorded step, no update
                    acc = yy
                    for a in range(D):
                        for b in range(D):
                            acc += M[a, b] * (SM[a, b] - 2.0 * C[a, b])
                    losses[r, e] = acc
                    break
                for a in range(D):
                    for b in range(D):
                        G[a, b] = 2.0 * (SM[a, b] - C[a, b])
                for i in range(H):
                    gv = 0.0
                    for a in range(D):
                        Gq[a] = 0.0
                        Gk[a] = 0.0
                        for b in range(D):
                            Gq[a] += G[a, b] * qe[i, b]
                            Gk[a] += G[b, a] * ke[i, b]
                        gv += ke[i, a] * Gq[a]
                    vi = ve[i]
                    for a in range(D):
                        ke[i, a] -= lr * vi * Gq[a]
                        qe[i, a] -= lr * vi * Gk[a]
                    ve[i] = vi - lr * gv


def numba_chain(init, masks, lr, stats, rec):
    """GD on a deep linear chain with numba; returns ``(final weights, losses (n_rec, E))``."""
    seg, n_seg = record_grid(rec)
    Sxx, Syx, tyy = stats
    E = init[0].shape[0]
    shapes = np.array([W.shape[1:] for W in init], dtype=np.int64)
    sizes = shapes[:, 0] * shapes[:, 1]
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    Wf = np.ascontiguousarray(np.concatenate([np.reshape(W, (E, -1)) for W in init], axis=1), dtype=np.float64)
    if masks is None:
        Mf, use = np.ones((1, 1)), False
    else:
        Mf, use = np.ascontiguousarray(np.concatenate([np.reshape(m, (E, -1)) for m in masks], axis=1), dtype=np.float64), True
    losses = np.empty((n_seg + 1, E))
    _nb_chain(Wf, shapes, offs, Mf, use, np.ascontiguousarray(lr, dtype=np.float64), np.ascontiguousarray(Sxx),
              np.ascontiguousarray(Syx), float(tyy), seg, n_seg, losses)
    final = [Wf[:, o:o + n].reshape((E,) + tuple(sh)) for o, n, sh in zip(offs, sizes, shapes)]
    return final, losses


def numba_attention(v, k, q, lr, stats, rec):
    """GD on separate rank-one attention with numba; returns ``([v, k, q], losses (n_rec, E))``."""
    seg, n_seg = record_grid(rec)
    S, C, yy = stats
    v, k, q = (np.array(a, dtype=np.float64, order="C") for a in (v, k, q))
    losses = np.empty((n_seg + 1, v.shape[0]))
    _nb_attention(v, k, q, float(lr), np.ascontiguousarray(S), np.ascontiguousarray(C), float(yy), seg, n_seg, losses)
    return [v, k, q], losses


def numba_warmup():
    """Compile the numba kernels (on tiny inputs of the benchmark's types: numba compiles per
    type, not per size, so this is all the compilation the timed runs need)."""
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((1, 2, 2)) for _ in range(2)]
    st = linear_stats(rng.standard_normal((4, 2)), rng.standard_normal((4, 2)))
    numba_chain(init, None, np.ones(1), st, [0, 1])
    numba_chain(init, [np.ones((1, 2, 2))] * 2, np.ones(1), st, [0, 1])
    D = 2
    sa = (np.eye(D * D), np.zeros((D, D)), 0.0)
    numba_attention(np.ones((1, 1)), np.ones((1, 1, D)), np.ones((1, 1, D)), 0.1, sa, [0, 1])
