"""Full-batch gradient descent and gradient flow for ensembles of models.

A *model* is any object with two methods acting on a parameter dictionary whose
arrays carry a leading ensemble axis ``E`` (seeds or hyper-parameters trained at once):

* ``loss(params, data) -> ndarray (E,)``
* ``grad(params, data) -> dict`` of the same shapes as ``params``

and optionally ``stability_bound(data) -> float``, an estimate of the largest stable
step size (``2 / λ_max`` of the loss Hessian at the global minimum), used only to
word the error raised when GD diverges.

**Backends.** ``train_gd`` runs a plain-numpy loop (``backend="numpy"``, the reference; it needs
nothing but numpy) or, for models that provide one, a fused compiled kernel
(``backend="numba"``, ``theorylib.sim._compiled`` (private)): ``model._compiled_stepper(params, data,
factor)`` returns an object whose ``advance`` takes all steps between two recordings at once,
or None when the model/data combination has no kernel. ``"auto"`` (the default, overridden by
the environment variable ``THEORYLIB_BACKEND``) uses the kernel when numba is importable and
the model has one, else numpy. Both backends take the same steps, check for divergence at the
same steps and call ``record`` at the same steps; they agree to rounding (~1e-15 relative), and
each is bit-for-bit deterministic on its own.

Time convention: gradient flow ``τ dθ/dt = -∂L/∂θ``; GD with step ``η`` is its Euler
discretisation with time step ``η``, ``τ(θ_{k+1} − θ_k) = −η ∂L/∂θ``, so step ``k`` is at time
``t = η k`` (for the default ``τ = 1`` this is the book's ``t = ηk/τ``; for ``τ ≠ 1`` only
``t = ηk`` makes GD follow the flow of the same τ). Layer-wise learning rates enter as
per-parameter multipliers ``rates[name]``: ``τ dθ/dt = -rates[name] ∂L/∂θ``.

Introduced in Chapter 1 (deep linear networks).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
from scipy.integrate import solve_ivp

from .. import _validate as _v

__all__ = ["DivergenceError", "Trajectory", "train_gd", "integrate_flow", "steps_for_times",
           "backend_for"]

BACKENDS = ("numpy", "numba", "auto")
_numba_ok = None  # None: not looked for yet; then True or the ImportError's text


def _numba_status():
    """True if numba imports, else the reason (imported on first need, never with theorylib)."""
    global _numba_ok
    if _numba_ok is None:
        try:
            import numba  # noqa: F401
            _numba_ok = True
        except ImportError as err:  # not installed, or broken against this numpy
            _numba_ok = str(err) or "numba is not installed"
    return _numba_ok


def _backend(backend):
    if backend is None:
        env = os.environ.get("THEORYLIB_BACKEND", "auto")
        if env.strip().lower() not in BACKENDS:
            raise ValueError(f"THEORYLIB_BACKEND must be one of {', '.join(BACKENDS)}; got {env!r}")
        return env.strip().lower()
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} (or None); got {backend!r}")
    return backend


def _compiled_stepper(model, params, data, factor, backend):
    """The model's fused kernel, or None for the numpy loop (see the module docstring)."""
    if backend == "numpy":
        return None
    hook = getattr(model, "_compiled_stepper", None)
    if hook is None and backend == "auto":
        return None
    status = _numba_status()
    if status is not True:
        if backend == "auto":
            return None
        raise ImportError(f"backend='numba' needs numba ({status}); install it (pip install numba) "
                          "or use backend='numpy'")
    stepper = hook(params, data, factor) if hook is not None else None
    if stepper is None and backend == "numba":
        raise ValueError(f"backend='numba': no compiled kernel for {type(model).__name__} on "
                         f"{type(data).__name__}; use backend='numpy' (or 'auto')")
    return stepper


class DivergenceError(ArithmeticError):
    """Raised when gradient descent diverges (non-finite or exploding loss)."""


@dataclass
class Trajectory:
    """Recorded quantities of an ensemble run.

    Attributes
    ----------
    t : ndarray (T,)
        Times ``η k`` (GD, whose update is ``θ ← θ − (η/τ)·rate·∂L/∂θ``) or the requested
        times (flow).
    steps : ndarray (T,) or None
        GD step indices (None for gradient flow).
    loss : ndarray (T, E)
        Loss of every ensemble member at each recorded time.
    records : dict
        ``name -> ndarray (T, E, ...)`` from the user's ``record`` function.
    params : dict
        Final parameters.
    """

    t: np.ndarray
    steps: np.ndarray | None
    loss: np.ndarray
    records: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def __getitem__(self, name):
        return self.records[name]


def _check_params(params: Mapping[str, np.ndarray], copy: bool = True) -> tuple[dict, int]:
    """Float arrays with a common ensemble axis; ``copy=False`` may return the caller's own
    arrays, for a caller that only reads them (a compiled run packs them into its buffer)."""
    if not params:
        raise ValueError("params is empty")
    out = {}
    sizes = set()
    for name, p in params.items():
        p = np.array(p, dtype=float, copy=True) if copy else np.asarray(p, dtype=float)
        if p.ndim < 1:
            raise ValueError(f"parameter {name!r} needs a leading ensemble axis; got a scalar")
        if not np.all(np.isfinite(p)):
            raise ValueError(f"parameter {name!r} has non-finite entries")
        sizes.add(p.shape[0])
        out[name] = p
    if len(sizes) != 1:
        raise ValueError(f"parameters disagree on the ensemble size: {sorted(sizes)}")
    return out, sizes.pop()


def _rates(rates, params, n_ens):
    """Per-parameter multipliers broadcastable against each parameter array."""
    out = {}
    rates = {} if rates is None else dict(rates)
    unknown = set(rates) - set(params)
    if unknown:
        raise ValueError(f"rates given for unknown parameters {sorted(unknown)}")
    for name, p in params.items():
        r = np.asarray(rates.get(name, 1.0), dtype=float)
        if r.ndim == 0:
            pass
        elif r.shape == (n_ens,):
            r = r.reshape((n_ens,) + (1,) * (p.ndim - 1))
        else:
            raise ValueError(f"rate of {name!r} must be a scalar or have shape ({n_ens},); got {r.shape}")
        if np.any(r <= 0) or not np.all(np.isfinite(r)):
            raise ValueError(f"rate of {name!r} must be positive and finite")
        out[name] = r
    return out


def _store_record(recs, i, n_rows, out):
    """Store recording ``i`` of ``record``'s output in ``recs`` (name -> array of ``n_rows`` rows).

    Every recording must return the same names with the same shapes: the rows are allocated at the
    first one, so a name returned only later, or missing later, would leave rows of uninitialised
    memory, and a changed shape would be broadcast into the row or fail inside numpy.
    """
    if not isinstance(out, Mapping):
        raise ValueError(f"record must return a dict of arrays; got {type(out).__name__}")
    if i == 0:
        for key, val in out.items():
            val = np.asarray(val)
            recs[key] = np.empty((n_rows,) + val.shape, dtype=val.dtype)
    elif set(out) != set(recs):
        raise ValueError(f"record returned the names {sorted(out)} at recording {i}, "
                         f"but {sorted(recs)} at the first; it must return the same names every time")
    for key, val in out.items():
        val = np.asarray(val)
        if val.shape != recs[key].shape[1:]:
            raise ValueError(f"record[{key!r}] has shape {val.shape} at recording {i}, "
                             f"but {recs[key].shape[1:]} at the first; it must keep its shape")
        recs[key][i] = val


def steps_for_times(times, lr, tau=1.0):
    """Step indices ``k = t / η`` for requested times; they must fall on whole steps.

    One GD step ``τ(θ_{k+1} − θ_k) = −η ∂L/∂θ`` advances the flow ``τθ̇ = −∂L/∂θ`` by time ``η``
    whatever τ is (``tau`` is validated and kept for the signature).

    Raises
    ------
    ValueError
        If a time is not finite, negative or not (to 1e-6 relative) a whole number of steps,
        or if ``lr`` or ``tau`` is not a positive number.
    """
    lr = _v.positive_scalar("lr", lr)
    tau = _v.positive_scalar("tau", tau)
    times = np.atleast_1d(_v.times("times", times, allow_empty=True))  # finite and ≥ 0
    k = times / lr
    kr = np.rint(k)
    if np.any(np.abs(k - kr) > 1e-6 * np.maximum(1.0, k)):
        raise ValueError(f"times must be multiples of lr = {lr:g} to be recorded by GD")
    return kr.astype(np.int64)


def _divergence_message(model, data, lr, step, loss, tau=1.0):
    bound = None
    if hasattr(model, "stability_bound"):
        try:
            bound = model.stability_bound(data)
        except Exception:  # the bound only words the message; never mask the divergence
            bound = None
    msg = f"gradient descent diverged at step {step} (loss = {loss:.3g}) with step size lr = {np.max(lr):g}"
    if tau != 1:
        msg += f" (τ = {tau:g}: each step moves θ by (lr/τ)·∂L/∂θ, lr/τ = {np.max(lr) / tau:g})"
    if bound is not None and np.isfinite(bound):
        msg += f"; the stability bound 2/λ_max(Hessian) at the global minimum is ≈ {bound:.3g}"
        if tau != 1:
            msg += " (for lr/τ)"
    return msg + ". Reduce lr (and keep lr·λ_max ≲ 0.01 for tight theory overlays)."


def backend_for(model, params, data, backend=None) -> str:
    """``"numba"`` or ``"numpy"``: the backend :func:`train_gd` would use for these arguments
    (``backend`` as in :func:`train_gd`; None reads ``THEORYLIB_BACKEND``). Builds the kernel's
    stepper once to find out, so it also reports a model/data without a kernel as numpy."""
    params, _ = _check_params(params)
    factor = {name: 1.0 for name in params}
    return "numpy" if _compiled_stepper(model, params, data, factor, _backend(backend)) is None \
        else "numba"


def train_gd(
    model,
    params: Mapping[str, np.ndarray],
    data,
    lr,
    *,
    times=None,
    steps=None,
    tau: float = 1.0,
    rates: Mapping[str, float] | None = None,
    record: Callable[[dict], dict] | None = None,
    check_every: int = 50,
    blowup: float = 1e6,
    backend: str | None = None,
) -> Trajectory:
    """Train an ensemble with full-batch gradient descent ``θ ← θ − (η/τ)·rate·∂L/∂θ``.

    This is the Euler step of ``τθ̇ = −rate·∂L/∂θ`` with time step η: step ``k`` is recorded at
    ``t = ηk``, where it approximates :func:`integrate_flow` with the same τ to ``O(η/τ)``.

    Parameters
    ----------
    model : object
        Provides ``loss`` and ``grad`` (see module docstring).
    params : dict of ndarray
        Initial parameters, each with leading ensemble axis ``E``. Not modified.
    data : object
        Whatever the model reads (e.g. :class:`theorylib.sim.data.Moments`).
    lr : float or ndarray (E,)
        Step size η (per ensemble member if an array).
    times : array_like, optional
        Times ``t = η k`` at which to record (needs a scalar ``lr``).
    steps : array_like of int, optional
        Step indices at which to record (alternative to ``times``).
    tau : float
        Time constant τ of the flow that GD discretises.
    rates : dict, optional
        Per-parameter rate multipliers (layer-wise learning rates).
    record : callable, optional
        ``record(params) -> dict of ndarray (E, ...)``, evaluated at each recorded step; it must
        return the same names with the same shapes every time (else ``ValueError``).
    check_every : int
        Steps between divergence checks (besides every recorded step).
    blowup : float
        The run is declared divergent when the loss exceeds ``blowup × max(loss_0, 1)``.
    backend : {"auto", "numpy", "numba"} or None
        ``"numpy"``: the plain-numpy loop. ``"numba"``: the model's compiled kernel (all steps
        between two recordings in one call). ``"auto"``: the kernel if numba imports and the
        model/data have one, else numpy. None (default): the environment variable
        ``THEORYLIB_BACKEND``, else ``"auto"``. Results agree to rounding (~1e-15).

    Returns
    -------
    Trajectory

    Raises
    ------
    ValueError
        On non-positive step size or τ, bad shapes, empty or non-finite ``times``/``steps``,
        unrecordable times, ``check_every`` not a positive integer, ``blowup`` not positive,
        an unknown backend, ``backend="numba"`` for a model/data without a kernel, or a
        ``record`` that changes the names or shapes it returns.
    ImportError
        For ``backend="numba"`` when numba cannot be imported.
    DivergenceError
        When the loss becomes non-finite or explodes; the message names the step size and,
        if the model provides one, the stability bound.
    """
    backend = _backend(backend)
    # not yet copied: a compiled run copies the parameters into its packed buffer anyway
    params, n_ens = _check_params(params, copy=False)
    tau = _v.positive_scalar("tau", tau)
    check_every = _v.integer("check_every", check_every, minimum=1)
    if not float(blowup) > 0:
        raise ValueError(f"blowup must be a positive number; got {blowup}")
    lr_arr = np.asarray(lr, dtype=float)
    if lr_arr.ndim == 0:
        lr_scalar = True
    elif lr_arr.shape == (n_ens,):
        lr_scalar = False
    else:
        raise ValueError(f"lr must be a scalar or have shape ({n_ens},); got {lr_arr.shape}")
    if np.any(lr_arr <= 0) or not np.all(np.isfinite(lr_arr)):
        raise ValueError(f"lr must be positive and finite; got {lr}")
    if (times is None) == (steps is None):
        raise ValueError("give exactly one of `times` or `steps`")
    if times is not None:
        if not lr_scalar:
            raise ValueError("recording by `times` needs a scalar lr; use `steps` for per-member step sizes")
        rec_steps = steps_for_times(times, float(lr_arr), tau)
    else:
        rec_steps = np.atleast_1d(np.asarray(steps))
        if rec_steps.size and (rec_steps.dtype.kind not in "iu" or np.any(rec_steps < 0)):
            raise ValueError("steps must be non-negative integers")
    if rec_steps.size == 0:
        raise ValueError("times/steps must not be empty: give at least one time at which to record")
    if np.any(np.diff(rec_steps) < 0):
        raise ValueError("recording times/steps must be non-decreasing")
    rate = _rates(rates, params, n_ens)
    # the effective multiplier η·rate/τ per parameter, broadcast over the ensemble axis
    factor = {}
    for name, p in params.items():
        l = lr_arr if lr_scalar else lr_arr.reshape((n_ens,) + (1,) * (p.ndim - 1))
        factor[name] = l * rate[name] / tau

    n_rec = len(rec_steps)
    losses = np.empty((n_rec, n_ens))
    recs: dict[str, np.ndarray] = {}
    last = int(rec_steps[-1])
    stepper = _compiled_stepper(model, params, data, factor, backend) if last > 0 else None
    if stepper is not None:
        params = stepper.params  # views of the kernel's packed buffer, updated in place
        loss0 = stepper.initial_loss()
    else:
        params = {name: p.copy() for name, p in params.items()}  # the caller's stay untouched
        loss0 = model.loss(params, data)
    scale = blowup * np.maximum(np.nan_to_num(loss0, nan=1.0), 1.0)

    def store(i, cur_loss):
        losses[i] = cur_loss
        if record is not None:
            _store_record(recs, i, n_rec, record(params))

    def check(step, cur_loss):
        bad = ~np.isfinite(cur_loss) | (cur_loss > scale)
        if np.any(bad):
            raise DivergenceError(_divergence_message(model, data, lr_arr, step, float(np.max(np.where(np.isfinite(cur_loss), cur_loss, np.inf))), tau))

    k = 0
    i = 0
    while i < n_rec and rec_steps[i] == 0:
        store(i, loss0)
        i += 1
    if stepper is not None:
        while k < last:
            target = int(rec_steps[i])
            # the numpy loop's checks: every multiple of check_every, and every recorded step
            chk = np.arange((k // check_every + 1) * check_every, target + 1, check_every)
            if chk.size == 0 or chk[-1] != target:
                chk = np.append(chk, target)
            cur = stepper.advance(target - k, chk - k, scale)
            if not np.all(np.isfinite(cur) & (cur <= scale)):
                for j in range(len(chk)):  # the earliest failing check raises, as in the loop
                    check(int(chk[j]), cur[j])
            k = target
            while i < n_rec and rec_steps[i] == k:
                store(i, cur[-1])
                i += 1
        params = {name: np.ascontiguousarray(p) for name, p in params.items()}
    # overflow on the way to divergence is expected; check() turns it into a DivergenceError
    with np.errstate(over="ignore", invalid="ignore"):
        while k < last:  # the numpy loop (a compiled run has reached `last` already)
            g = model.grad(params, data)
            for name in params:
                params[name] -= factor[name] * g[name]
            k += 1
            at_record = i < n_rec and rec_steps[i] == k
            if at_record or k % check_every == 0:
                cur = model.loss(params, data)
                check(k, cur)
                while i < n_rec and rec_steps[i] == k:
                    store(i, cur)
                    i += 1
    t = rec_steps * (float(lr_arr) if lr_scalar else np.nan)
    return Trajectory(t=t, steps=rec_steps, loss=losses, records=recs, params=params)


class _FlowBudgetExceeded(Exception):
    def __init__(self, t):
        super().__init__(t)
        self.t = float(t)


def integrate_flow(
    model,
    params: Mapping[str, np.ndarray],
    data,
    times,
    *,
    tau: float = 1.0,
    rates: Mapping[str, float] | None = None,
    record: Callable[[dict], dict] | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    method: str = "DOP853",
    max_evals: int = 400_000,
) -> Trajectory:
    """Integrate the gradient flow ``τ dθ/dt = -rate·∂L/∂θ`` with ``scipy.integrate.solve_ivp``.

    The whole ensemble is one ODE system (members are independent; the step-size control is
    shared, which only makes the tolerance hold for every member at once).

    Parameters
    ----------
    model, params, data, tau, rates, record
        As in :func:`train_gd`.
    times : array_like
        Non-decreasing times ``t ≥ 0`` at which to record (``t[0]`` may be 0).
    rtol, atol : float
        Tolerances passed to ``solve_ivp``.
    method : str
        ``solve_ivp`` method; DOP853 suits the smooth, non-stiff flows of this book.
    max_evals : int
        Most gradient evaluations allowed (the book's flows need at most a few ten thousand).
        A flow through a kink of a piecewise-linear activation can *slide* along it (a
        pre-activation pinned at zero); an adaptive integrator then shrinks its step without
        end, and this budget turns that hang into an error.

    Returns
    -------
    Trajectory
        With ``steps = None``.

    Raises
    ------
    ValueError
        On bad times (empty, not finite, negative or decreasing) or τ, non-positive tolerances,
        or if the integrator fails (message from ``solve_ivp``) or exceeds ``max_evals``, or
        if ``record`` changes the names or shapes it returns.
    """
    params, n_ens = _check_params(params)
    max_evals = _v.integer("max_evals", max_evals, minimum=1)
    tau = _v.positive_scalar("tau", tau)
    rtol = _v.positive_scalar("rtol", rtol)
    atol = _v.positive_scalar("atol", atol)
    times = np.atleast_1d(_v.times("times", times, nondecreasing=True))  # finite, ≥ 0, sorted
    if times.ndim != 1:
        raise ValueError(f"times must be 1-D; got shape {times.shape}")
    rate = _rates(rates, params, n_ens)
    names = list(params)
    shapes = [params[n].shape for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.cumsum([0] + sizes)

    def unpack(y):
        return {n: y[offsets[j]:offsets[j + 1]].reshape(shapes[j]) for j, n in enumerate(names)}

    n_evals = 0

    def rhs(t, y):
        nonlocal n_evals
        n_evals += 1
        if n_evals > max_evals:
            raise _FlowBudgetExceeded(t)
        g = model.grad(unpack(y), data)
        return np.concatenate([(-rate[n] * g[n] / tau).ravel() for n in names])

    y0 = np.concatenate([params[n].ravel() for n in names])
    # solve_ivp needs strictly increasing t_eval: repeated times are solved once and copied
    t_eval, back = np.unique(times, return_inverse=True)
    try:
        sol = solve_ivp(rhs, (0.0, float(times[-1])), y0, t_eval=t_eval, method=method,
                        rtol=rtol, atol=atol)
    except _FlowBudgetExceeded as stop:
        raise ValueError(
            f"gradient-flow integration used more than max_evals={max_evals} gradient "
            f"evaluations and reached only t = {stop.t:.6g} of {float(times[-1]):.6g}: the flow "
            "is stiff or slides along a kink of the activation (a pre-activation held at 0). "
            "Record to an earlier time, loosen rtol/atol, raise max_evals, or use train_gd."
        ) from None
    if not sol.success:
        raise ValueError(f"gradient-flow integration failed: {sol.message}")
    ys = sol.y[:, back.ravel()]
    losses = np.empty((len(times), n_ens))
    recs: dict[str, np.ndarray] = {}
    for i in range(len(times)):
        p = unpack(ys[:, i])
        losses[i] = model.loss(p, data)
        if record is not None:
            _store_record(recs, i, len(times), record(p))
    final = {n: v.copy() for n, v in unpack(ys[:, -1]).items()}
    return Trajectory(t=times, steps=None, loss=losses, records=recs, params=final)
