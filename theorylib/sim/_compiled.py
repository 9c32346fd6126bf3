"""Optional compiled backend of :func:`theorylib.sim.engine.train_gd`: fused numba kernels.

This module imports numba at its top, so nothing imports it unless numba is installed and a
run asked for it (``train_gd(..., backend="numba")`` or ``"auto"``); ``import theorylib`` never
does. The plain-numpy loop of the engine stays the reference, and the kernels here compute the
same GD steps with a different evaluation order, so the two agree to rounding (~1e-15), not bit
for bit; each backend on its own is bit-for-bit deterministic (one fixed operation order).

Why it is faster than a numpy step: one kernel call takes every GD step between two recordings
of the whole ensemble, member by member, so the Python overhead (~20 µs per step in the numpy
loop) is paid once per recording, a member's parameters and products stay in cache for all of
its steps, and every update is done in place without temporaries. Each model's kernel also
does less than a generic chain-rule step:

* the forward products of step k+1 are computed right after the update of step k and kept, so
  the loss at a divergence check or a recording is a by-product (no extra forward pass);
* the backward pass of a layer reads each row of the weight once, both for the next back-
  propagated factor and for the update of that row;
* fusion networks (one output) have rank-one layer gradients ``b_l r_lᵀ``; they are applied
  row by row and only inside the unmasked blocks, never as a dense masked matrix.

``fastmath`` allows re-association (so LLVM can vectorise the sums) and contraction into FMA;
it never assumes finite values, so the divergence checks see infinities and NaNs.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

# no 'nnan'/'ninf': the divergence check must see non-finite losses
_FAST = {"reassoc", "contract", "nsz"}
_u = np.uint64

__all__ = ["deep_linear", "fusion_linear", "separate_attention"]

ensure_blas()  # numba's BLAS binding (scipy's), which _gemm calls like np.dot does
_CHAR = ir.IntType(8)
_VOIDP = ir.IntType(8).as_pointer()
_N, _T = ord("n"), ord("t")


@intrinsic
def _gemm(typingctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Column-major BLAS dgemm ``c ← alpha·op(a)·op(b) + beta·c`` through numba's own binding
    (numba_xxgemm, the one np.dot uses): np.dot has no alpha/beta, and with them a GD update
    ``W ← W − f·B Pᵀ`` is one call without a gradient buffer or an elementwise pass."""
    sig = types.void(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.IntType(32), [_CHAR, _CHAR, _CHAR, intp, intp, intp, _VOIDP,
                                                _VOIDP, intp, _VOIDP, intp, _VOIDP, _VOIDP, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        tys = signature.args

        def data(j):
            arr = context.make_array(tys[j])(context, builder, args[j])
            return builder.bitcast(arr.data, _VOIDP)

        def num(j):
            return context.cast(builder, args[j], tys[j], types.intp)

        def slot(j):
            val = context.cast(builder, args[j], tys[j], types.float64)
            return builder.bitcast(cgutils.alloca_once_value(builder, val), _VOIDP)

        builder.call(fn, (ir.Constant(_CHAR, ord("d")), builder.trunc(args[0], _CHAR),
                          builder.trunc(args[1], _CHAR), num(2), num(3), num(4), slot(5), data(6),
                          num(7), data(8), num(9), slot(10), data(11), num(12)))
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _mm(A, B, C):
    """C ← A B for row-major (C-contiguous) matrices (as column-major: Cᵀ = Bᵀ Aᵀ)."""
    m, k = A.shape
    n = B.shape[1]
    _gemm(_N, _N, n, m, k, 1.0, B, n, A, k, 0.0, C, n)


@njit(cache=True)
def _mm_tn(A, B, C):
    """C ← Aᵀ B (A is k × m, B is k × n, row-major)."""
    k, m = A.shape
    n = B.shape[1]
    _gemm(_N, _T, n, m, k, 1.0, B, n, A, m, 0.0, C, n)


@njit(cache=True)
def _sub_abt(W, f, A, B):
    """W ← W − f·A Bᵀ (A is m × k, B is n × k, row-major): the GD update of a layer."""
    m, k = A.shape
    n = B.shape[0]
    _gemm(_T, _N, n, m, k, -f, B, k, A, k, 1.0, W, n)


# --------------------------------------------------------------------------- packing
class _Stepper:
    """GD segments of one model on packed parameters (``advance``), with ``params`` a dict of
    views into the packed buffer, so the engine's records and final parameters see every step.

    ``run(buf, n_steps, chk, scale, out, init)`` is the model's kernel; ``chk`` are the steps
    (within the segment; 0 only for the initial loss) at which it evaluates the loss into
    ``out[j, e]``."""

    def __init__(self, params, names, run, factors):
        E = params[names[0]].shape[0]
        sizes = [params[n][0].size for n in names]
        offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.buf = np.empty((E, int(offs[-1])))
        self.params = {}
        for j, n in enumerate(names):
            self.buf[:, offs[j]:offs[j + 1]] = params[n].reshape(E, -1)
            self.params[n] = self.buf[:, offs[j]:offs[j + 1]].reshape(params[n].shape)
        for n in params:  # parameters a kernel does not read (none today) keep their arrays
            self.params.setdefault(n, params[n])
        self.offs = offs
        # η·rate/τ of every (member, parameter): the same numbers the numpy loop multiplies by
        self.F = np.empty((E, len(names)))
        for j, n in enumerate(names):
            f = np.asarray(factors[n], dtype=float)
            self.F[:, j] = np.broadcast_to(f, (E,) + (1,) * (params[n].ndim - 1)).reshape(E)
        self._run = run
        self._init = True

    def initial_loss(self):
        """The loss of every member at the packed parameters (step 0), from the kernel's own
        forward pass, which the first ``advance`` then reuses instead of repeating it."""
        E = self.buf.shape[0]
        out = np.empty((1, E))
        self._run(self.buf, 0, np.zeros(1, dtype=np.int64), np.full(E, np.inf), out, self._init)
        self._init = False
        return out[0]

    def advance(self, n_steps, chk, scale):
        """Take ``n_steps`` GD steps; return the losses (len(chk), E) at the steps ``chk``."""
        out = np.empty((len(chk), self.buf.shape[0]))
        self._run(self.buf, int(n_steps), np.ascontiguousarray(chk, dtype=np.int64),
                  np.ascontiguousarray(scale, dtype=float), out, self._init)
        self._init = False
        return out


@njit(cache=True)
def _diverged(out, j, e, loss, scale):
    """Store member e's loss at check j; True if it diverged (non-finite or above its bound),
    after which the kernel stops that member and the engine raises at the earliest such check."""
    out[j, e] = loss
    return not np.isfinite(loss) or loss > scale[e]


# --------------------------------------------------------------------------- deep linear
@njit(cache=True)
def _mat(buf, off, r, c):
    """The (r, c) row-major matrix stored in the flat buffer ``buf`` from ``off`` (a view)."""
    return buf[off:off + r * c].reshape((r, c))


@njit(cache=True)
def _chain_forward(Ws, Ps, WS, Sxx):
    """P_l = W_l ⋯ W_1 (n_{l+1} × n_0) into Ps[l] (Ps[0] = W_1), then W Σ_xx into WS."""
    Ps[0][:, :] = Ws[0]
    for l in range(1, len(Ws)):
        _mm(Ws[l], Ps[l - 1], Ps[l])
    _mm(Ps[len(Ws) - 1], Sxx, WS)


@njit(cache=True)
def _add(s, c, x):
    """Neumaier's compensated summation: (sum, correction) after adding x."""
    t = s + x
    if abs(s) >= abs(x):
        c += (s - t) + x
    else:
        c += (x - t) + s
    return t, c


@njit(cache=True)
def _chain_loss(st, no, n0, poffs, L, Syx, tyy):
    Wt = _mat(st, poffs[L - 1], no, n0)
    WS = _mat(st, poffs[L], no, n0)
    # compensated sums: the loss is a small difference of large terms near the minimum
    a = 0.0
    ca = 0.0
    b = 0.0
    cb = 0.0
    for o in range(no):
        for j in range(n0):
            a, ca = _add(a, ca, Wt[o, j] * Syx[o, j])
            b, cb = _add(b, cb, WS[o, j] * Wt[o, j])
    return 0.5 * tyy - (a + ca) + 0.5 * (b + cb)


@njit(cache=True)
def _chain_update(Ws, Ps, WS, f, Syx, Bs):
    """One GD step from the kept forward products: ∂L/∂W_l = B_l P_{l−1}ᵀ with B_L = G =
    WΣ_xx − Σ_yx and B_{l−1} = W_lᵀ B_l (from the old W_l). Products are BLAS calls on views
    made once per call (no copies, no allocation); transposes are free (BLAS flags), and the
    update is the product itself (beta = 1), with no gradient buffer."""
    L = len(Ws)
    B = Bs[L - 1]
    no, n0 = WS.shape
    for o in range(no):
        for a in range(n0):
            B[o, a] = WS[o, a] - Syx[o, a]
    for l in range(L - 1, -1, -1):
        W = Ws[l]
        r, c = W.shape
        fl = f[l]
        B = Bs[l]
        if l == 0:
            for i in range(r):
                for j in range(c):
                    W[i, j] -= fl * B[i, j]
            break
        _mm_tn(W, B, Bs[l - 1])  # before W_l changes
        _sub_abt(W, fl, B, Ps[l - 1])


@njit(cache=True)
def _chain_run(Wf, shapes, offs, poffs, state, F, Sxx, Syx, tyy, n_steps, chk, scale, out, init):
    E = Wf.shape[0]
    L = shapes.shape[0]
    n0 = shapes[0, 1]
    no = shapes[L - 1, 0]
    wmax = 1
    for l in range(L):
        wmax = max(wmax, shapes[l, 0], shapes[l, 1])
    # B_l lives in buffer (L − 1 − l) mod 2: B_{l−1} is written while B_l is read
    bufs = (np.empty(wmax * n0), np.empty(wmax * n0))
    Bs = [_mat(bufs[(L - 1 - l) % 2], 0, shapes[l, 0], n0) for l in range(L)]
    for e in range(E):
        w = Wf[e]
        st = state[e]
        Ws = [_mat(w, offs[l], shapes[l, 0], shapes[l, 1]) for l in range(L)]
        Ps = [_mat(st, poffs[l], shapes[l, 0], n0) for l in range(L)]
        WS = _mat(st, poffs[L], no, n0)
        if init:
            _chain_forward(Ws, Ps, WS, Sxx)
        j = 0
        if chk.shape[0] > 0 and chk[0] == 0:  # step 0: the loss of the products just formed
            out[0, e] = _chain_loss(st, no, n0, poffs, L, Syx, tyy)
            j = 1
        for s in range(1, n_steps + 1):
            _chain_update(Ws, Ps, WS, F[e], Syx, Bs)
            _chain_forward(Ws, Ps, WS, Sxx)
            if j < chk.shape[0] and chk[j] == s:
                j += 1
                if _diverged(out, j - 1, e, _chain_loss(st, no, n0, poffs, L, Syx, tyy), scale):
                    break
        out[j:, e] = np.nan  # checks after a divergence are not reached


@njit(cache=True)
def _two_layer_run(Wf, n0, nh, no, state, F, Sxx, Syx, tyy, n_steps, chk, scale, out, init):
    """_chain_run for two layers (the book's most common network), with every matrix view made
    once per member instead of once per step (a view costs ~50 ns: a tenth of a 16×16 step)."""
    E = Wf.shape[0]
    G = np.empty((no, n0))
    B1 = np.empty((nh, n0))
    lo = np.array([0, no * n0], dtype=np.int64)  # where _chain_loss finds W and W Σ_xx
    for e in range(E):
        w = Wf[e]
        W1 = _mat(w, 0, nh, n0)
        W2 = _mat(w, nh * n0, no, nh)
        st = state[e]
        W = _mat(st, 0, no, n0)
        WS = _mat(st, no * n0, no, n0)
        f1, f2 = F[e, 0], F[e, 1]
        if init:
            _mm(W2, W1, W)
            _mm(W, Sxx, WS)
        j = 0
        if chk.shape[0] > 0 and chk[0] == 0:
            out[0, e] = _chain_loss(st, no, n0, lo, 1, Syx, tyy)
            j = 1
        for s in range(1, n_steps + 1):
            for o in range(no):
                for a in range(n0):
                    G[o, a] = WS[o, a] - Syx[o, a]
            _mm_tn(W2, G, B1)  # before W2 changes
            _sub_abt(W2, f2, G, W1)
            for i in range(nh):
                for a in range(n0):
                    W1[i, a] -= f1 * B1[i, a]
            _mm(W2, W1, W)
            _mm(W, Sxx, WS)
            if j < chk.shape[0] and chk[j] == s:
                j += 1
                if _diverged(out, j - 1, e, _chain_loss(st, no, n0, lo, 1, Syx, tyy), scale):
                    break
        out[j:, e] = np.nan  # checks after a divergence are not reached


def deep_linear(model, params, data, factor):
    """Stepper for :class:`~theorylib.sim.linear.DeepLinear` on ``Moments``."""
    names = model.names
    E = params[names[0]].shape[0]
    w = model.widths
    shapes = np.array([(w[l + 1], w[l]) for l in range(model.n_layers)], dtype=np.int64)
    n0, no = w[0], w[-1]
    poffs = np.concatenate([[0], np.cumsum([w[l + 1] * n0 for l in range(model.n_layers)])])
    poffs = poffs.astype(np.int64)
    state = np.empty((E, int(poffs[-1]) + no * n0))
    Sxx = np.ascontiguousarray(data.sigma_xx, dtype=float)
    Syx = np.ascontiguousarray(data.sigma_yx, dtype=float)
    tyy = float(data.trace_yy)
    stepper = _Stepper(params, names, None, factor)
    offs = stepper.offs[:-1].copy()

    def run(buf, n_steps, chk, scale, out, init):
        if model.n_layers == 2:  # the state is laid out alike: W = P_1 at 0, W Σ_xx after it
            _two_layer_run(buf, n0, w[1], no, state, stepper.F, Sxx, Syx, tyy, n_steps, chk,
                           scale, out, init)
        else:
            _chain_run(buf, shapes, offs, poffs, state, stepper.F, Sxx, Syx, tyy, n_steps, chk,
                       scale, out, init)

    stepper._run = run
    return stepper


# --------------------------------------------------------------------------- attention
@njit(cache=True, fastmath=_FAST, inline="always")
def _att_forward(v, k, q, H, R, D, S, M, SM):
    """M = Σ_i v_i Σ_r k_ir q_irᵀ and mat(S vec M) (row-major vec); k, q are (H·R, D) views
    of one member's packed parameters [v (H), k (H·R·D), q (H·R·D)]."""
    for a in range(D):
        for b in range(D):
            M[a, b] = 0.0
    for i in range(H):
        vi = v[i]
        for r in range(R):
            ir = i * R + r
            for a in range(D):
                x = k[ir, a] * vi
                for b in range(D):
                    M[a, b] += x * q[ir, b]
    DD = D * D
    Mf = M.reshape(DD)
    SMf = SM.reshape(DD)
    for j in range(DD):
        SMf[j] = 0.0
    for i in range(DD):
        x = Mf[i]
        for j in range(DD):
            SMf[j] += x * S[i, j]


@njit(cache=True)
def _att_loss(M, SM, C, yy, D):
    acc = 0.0
    cc = 0.0
    for a in range(D):
        for b in range(D):
            acc, cc = _add(acc, cc, M[a, b] * (SM[a, b] - 2.0 * C[a, b]))
    return yy + (acc + cc)


@njit(cache=True, fastmath=_FAST, inline="always")
def _att_update(v, k, q, f, H, R, D, C, SM, G, Gq, Gk):
    """One GD step of L = yy − 2⟨M, C⟩ + vec Mᵀ S vec M with G = C − mat(S vec M):
    ∂L/∂v_i = −2 Σ_r k_irᵀ G q_ir, ∂L/∂k_ir = −2 v_i G q_ir, ∂L/∂q_ir = −2 v_i Gᵀ k_ir.
    A head's gradient reads only that head and G, so it is updated as soon as it is known."""
    fv, fk, fq = f[0], f[1], f[2]
    for a in range(D):
        for b in range(D):
            G[a, b] = C[a, b] - SM[a, b]
    for i in range(H):
        vv = -2.0 * v[i]
        gv = 0.0
        for r in range(R):
            ir = i * R + r
            for b in range(D):
                Gk[b] = 0.0
            for a in range(D):
                acc = 0.0
                ka = k[ir, a]
                for b in range(D):
                    acc += G[a, b] * q[ir, b]
                    Gk[b] += ka * G[a, b]
                Gq[a] = acc
                gv += ka * acc
            for a in range(D):
                k[ir, a] -= fk * (vv * Gq[a])
                q[ir, a] -= fq * (vv * Gk[a])
        v[i] -= fv * (-2.0 * gv)


@njit(cache=True)
def _att_run(buf, H, R, D, state, F, S, C, yy, n_steps, chk, scale, out, init):
    E = buf.shape[0]
    G = np.empty((D, D))
    Gq = np.empty(D)
    Gk = np.empty(D)
    HR = H * R
    for e in range(E):
        p = buf[e]
        v = p[:H]
        k = _mat(p, H, HR, D)
        q = _mat(p, H + HR * D, HR, D)
        M = state[e, 0]
        SM = state[e, 1]
        if init:
            _att_forward(v, k, q, H, R, D, S, M, SM)
        j = 0
        if chk.shape[0] > 0 and chk[0] == 0:
            out[0, e] = _att_loss(M, SM, C, yy, D)
            j = 1
        for s in range(1, n_steps + 1):
            if D == 4:  # the book's D: a literal size lets LLVM unroll the D-loops completely
                _att_update(v, k, q, F[e], H, R, 4, C, SM, G, Gq, Gk)
                _att_forward(v, k, q, H, R, 4, S, M, SM)
            else:
                _att_update(v, k, q, F[e], H, R, D, C, SM, G, Gq, Gk)
                _att_forward(v, k, q, H, R, D, S, M, SM)
            if j < chk.shape[0] and chk[j] == s:
                j += 1
                if _diverged(out, j - 1, e, _att_loss(M, SM, C, yy, D), scale):
                    break
        out[j:, e] = np.nan  # checks after a divergence are not reached


def separate_attention(model, params, data, factor):
    """Stepper for :class:`~theorylib.sim.attention.SeparateAttention` on ``AttentionMoments``."""
    E = params["v"].shape[0]
    D = model.D
    if data.kron is not None:  # the numpy path multiplies by A M Bᵀ = mat((A ⊗ B) vec M)
        A, B = data.kron
        S = np.ascontiguousarray(np.kron(A, B).T)
    else:  # the numpy path computes vec(M) S, i.e. Sᵀ vec M
        S = np.ascontiguousarray(data.S, dtype=float)
    C = np.ascontiguousarray(data.C, dtype=float)
    yy = float(data.yy)
    state = np.empty((E, 2, D, D))
    stepper = _Stepper(params, ("v", "k", "q"), None, factor)

    def run(buf, n_steps, chk, scale, out, init):
        _att_run(buf, model.H, model.R, D, state, stepper.F, S, C, yy, n_steps, chk, scale, out,
                 init)

    stepper._run = run
    return stepper


# --------------------------------------------------------------------------- fusion
@njit(cache=True, inline="always")
def _cols(i, c, is_branch, h, cut):
    """The columns [c0, c1) that row i of a c-column layer reads: all of them, or, in a branch
    layer, only its own modality's block (rows below h are branch A, columns below cut)."""
    if is_branch:
        return (0, cut) if i < h else (cut, c)
    return 0, c


@njit(cache=True, fastmath=_FAST)
def _fus_forward(w, st, shapes, offs, poffs, branch, cuts, h, S):
    """Transposed prefixes Pt_l = (W_l ⋯ W_1)ᵀ (D × n_{l+1}) at st[poffs[l]:] and ws = W^tot S
    at st[poffs[L]:]. A branch layer's rows read only their own block's columns."""
    L = shapes.shape[0]
    D = shapes[0, 1]
    r0 = shapes[0, 0]
    W0 = _mat(w, offs[0], r0, D)
    P = _mat(st, poffs[0], D, r0)
    for i in range(r0):
        for a in range(D):
            P[a, i] = W0[i, a]
    for l in range(1, L):
        r, c = shapes[l, 0], shapes[l, 1]
        W = _mat(w, offs[l], r, c)
        Pp = _mat(st, poffs[l - 1], D, c)
        P = _mat(st, poffs[l], D, r)
        for i in range(r):
            c0, c1 = _cols(i, c, branch[l], h, cuts[l])
            for a in range(D):
                acc = 0.0
                for k in range(c0, c1):
                    acc += W[i, k] * Pp[a, k]
                P[a, i] = acc
    Wt = _mat(st, poffs[L - 1], D, 1)
    for a in range(D):
        acc = 0.0
        for b in range(D):
            acc += Wt[b, 0] * S[b, a]
        st[poffs[L] + a] = acc


@njit(cache=True, fastmath=_FAST)
def _fus_step(w, st, f, shapes, offs, poffs, voffs, branch, cuts, h, syx, S, R, bv, rv):
    """One GD step in two passes over the weights. With one output, ∂L/∂W_l = −b_l r_lᵀ
    (rank one) with b_l = (W_L ⋯ W_{l+1})ᵀ and r_l = (W_{l−1} ⋯ W_1) R, R = Σ_yx − W^tot Σ.
    Pass 1 (top-down, old weights, read only) forms every b_l; pass 2 (bottom-up) updates a
    row of W_l and at once takes its product with the new prefix below, which is the next
    step's forward pass (so the row is in cache for both). Masked blocks are never touched.
    Flat indices cast to unsigned (_u): with a signed index from a runtime range start numba
    must handle negative indices, and that branch stops LLVM from vectorising the loop."""
    L = shapes.shape[0]
    D = shapes[0, 1]
    pL = poffs[L]
    for a in range(D):
        R[a] = syx[a] - st[_u(pL + a)]
    # r_l from the old prefixes, before pass 2 overwrites them
    for j in range(D):
        rv[voffs[0] + j] = R[j]
    for l in range(1, L):
        c = shapes[l, 1]
        o = voffs[l]
        pp = poffs[l - 1]
        for j in range(c):
            rv[_u(o + j)] = 0.0
        for a in range(D):
            x = R[a]
            for j in range(c):
                rv[_u(o + j)] += x * st[_u(pp + a * c + j)]
    bv[voffs[L]] = 1.0  # b_{L}: the scalar output
    for l in range(L - 1, 0, -1):
        r, c = shapes[l, 0], shapes[l, 1]
        ob = voffs[l]
        obu = voffs[l + 1]
        ow = offs[l]
        cut = cuts[l]
        for j in range(c):
            bv[_u(ob + j)] = 0.0
        for i in range(r):
            c0, c1 = _cols(i, c, branch[l], h, cut)
            x = bv[_u(obu + i)]
            row = ow + i * c
            for j in range(c0, c1):
                bv[_u(ob + j)] += x * w[_u(row + j)]
    for l in range(L):
        r, c = shapes[l, 0], shapes[l, 1]
        fl = f[l]
        ov = voffs[l]
        obu = voffs[l + 1]
        ow = offs[l]
        pl = poffs[l]
        pp = poffs[l - 1] if l > 0 else 0
        cut = cuts[l]
        for i in range(r):
            c0, c1 = _cols(i, c, branch[l], h, cut)
            fb = fl * bv[_u(obu + i)]
            row = ow + i * c
            for j in range(c0, c1):
                w[_u(row + j)] += fb * rv[_u(ov + j)]
            if l == 0:
                for a in range(D):
                    st[_u(pl + a * r + i)] = w[_u(row + a)]
            else:
                for a in range(D):
                    acc = 0.0
                    pa = pp + a * c
                    for k in range(c0, c1):
                        acc += w[_u(row + k)] * st[_u(pa + k)]
                    st[_u(pl + a * r + i)] = acc
    pw = poffs[L - 1]
    for a in range(D):
        acc = 0.0
        for b in range(D):
            acc += st[_u(pw + b)] * S[b, a]
        st[_u(pL + a)] = acc


@njit(cache=True)
def _fus_loss(st, poffs, L, D, syx, eyy):
    Wt = _mat(st, poffs[L - 1], D, 1)
    a = 0.0
    ca = 0.0
    b = 0.0
    cb = 0.0
    for j in range(D):
        a, ca = _add(a, ca, Wt[j, 0] * syx[j])
        b, cb = _add(b, cb, Wt[j, 0] * st[poffs[L] + j])
    return 0.5 * eyy - (a + ca) + 0.5 * (b + cb)


@njit(cache=True)
def _fus_run(Wf, shapes, offs, poffs, branch, cuts, h, state, F, S, syx, eyy, n_steps, chk, scale,
             out, init):
    E = Wf.shape[0]
    L = shapes.shape[0]
    D = shapes[0, 1]
    # voffs[l]: offset of the length-n_l vectors r_l (input side of W_l) and b_{l-1}
    voffs = np.zeros(L + 1, dtype=np.int64)
    for l in range(L):
        voffs[l + 1] = voffs[l] + shapes[l, 1]
    R = np.empty(D)
    rv = np.empty(voffs[L] + 1)
    bv = np.empty(voffs[L] + 1)
    for e in range(E):
        w = Wf[e]
        st = state[e]
        Se = S[e if S.shape[0] > 1 else 0]
        se = syx[e if syx.shape[0] > 1 else 0]
        ee = eyy[e if eyy.shape[0] > 1 else 0]
        if init:
            _fus_forward(w, st, shapes, offs, poffs, branch[e], cuts, h, Se)
        j = 0
        if chk.shape[0] > 0 and chk[0] == 0:
            out[0, e] = _fus_loss(st, poffs, L, D, se, ee)
            j = 1
        for s in range(1, n_steps + 1):
            _fus_step(w, st, F[e], shapes, offs, poffs, voffs, branch[e], cuts, h, se, Se, R, bv,
                      rv)
            if j < chk.shape[0] and chk[j] == s:
                j += 1
                if _diverged(out, j - 1, e, _fus_loss(st, poffs, L, D, se, ee), scale):
                    break
        out[j:, e] = np.nan  # checks after a divergence are not reached


def fusion_linear(model, params, data, factor):
    """Stepper for a linear :class:`~theorylib.sim.fusion.FusionNet` on ``FusionMoments``
    (masked weights must be zero, as the architecture's initialisations make them)."""
    names = model.names
    E = params[names[0]].shape[0]
    w = model.widths
    L = model.depth
    D = w[0]
    shapes = np.array([(w[l + 1], w[l]) for l in range(L)], dtype=np.int64)
    poffs = np.concatenate([[0], np.cumsum([D * w[l + 1] for l in range(L)])]).astype(np.int64)
    state = np.empty((E, int(poffs[-1]) + D))
    lf = np.broadcast_to(model.fusion_layer, (E,))
    branch = np.ascontiguousarray(np.arange(1, L + 1)[None, :] < lf[:, None])
    cuts = np.array([model.d_a] + [model.hidden] * (L - 1), dtype=np.int64)
    S = np.ascontiguousarray(data.sigma, dtype=float)
    syx = np.ascontiguousarray(data.sigma_yx, dtype=float)
    eyy = np.ascontiguousarray(data.e_yy, dtype=float)
    stepper = _Stepper(params, names, None, factor)
    offs = stepper.offs[:-1].copy()
    h = int(model.hidden)

    def run(buf, n_steps, chk, scale, out, init):
        _fus_run(buf, shapes, offs, poffs, branch, cuts, h, state, stepper.F, S, syx, eyy,
                 n_steps, chk, scale, out, init)

    stepper._run = run
    return stepper
