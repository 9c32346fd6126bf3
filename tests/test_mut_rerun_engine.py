"""Tests that kill survivors of sim/engine.py left by the full mutation run after
``tests/test_mut_full_engine.py`` (mutmut 3.8.1); see tools/mutation/full_rerun_engine.md.

Expectations are independent computations: GD on ``L = 1/2 |w - c|^2`` has the closed form
``w_k = c + (1 - eta)^k (w_0 - c)``, evaluated here without the engine. Four of the survivors
make a loop of ``train_gd`` run forever; the runs that would hang are made under a wall-clock
limit (``SIGALRM``, restored afterwards), so that such a mutant fails the test instead of
hanging it. The compiled-backend driver is run without numba through a closed-form stand-in
kernel, with ``engine._numba_ok`` set to True by ``monkeypatch``. Nothing here needs numba.
"""
import numpy as np
import pytest

from _wallclock import needs_alarm, time_limit
from theorylib import sim
from theorylib.sim import engine

_C = np.array([1.0, -2.0])
_W0 = np.array([[0.0, 0.0], [3.0, 1.0]])  # E = 2 members
_LR = 0.1
_LIMIT_S = 4.0  # each guarded run takes milliseconds; a mutant's endless loop is cut here

@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("THEORYLIB_BACKEND", raising=False)
    return monkeypatch


class _Quadratic:
    """``L(w) = 1/2 |w - c|^2`` per member (params ``{"w": (E, d)}``, data ``c``)."""

    def loss(self, params, data):
        return 0.5 * np.sum((params["w"] - data) ** 2, axis=1)

    def grad(self, params, data):
        return {"w": params["w"] - data}


class _ClosedFormStepper:
    """A stand-in kernel for the quadratic: ``advance(n, chk, scale)`` moves the parameters (in
    place, as the compiled kernels' packed buffers) by the closed form of n GD steps and returns
    the loss at the in-segment steps ``chk``. Logs (first step, n_steps) of every segment."""

    def __init__(self, params, data, factor):
        self.c = np.asarray(data, dtype=float)
        self.f = float(np.max(factor["w"]))
        self.params = {"w": np.array(params["w"], dtype=float, copy=True)}
        self.segments = []
        self.k = 0

    def _loss(self, w):
        return 0.5 * np.sum((w - self.c) ** 2, axis=1)

    def initial_loss(self):
        return self._loss(self.params["w"])

    def advance(self, n_steps, chk, scale):
        w = self.params["w"]
        out = np.array([self._loss(self.c + (1.0 - self.f) ** int(s) * (w - self.c))
                        for s in chk])
        w[...] = self.c + (1.0 - self.f) ** int(n_steps) * (w - self.c)
        self.segments.append((self.k, int(n_steps)))
        self.k += int(n_steps)
        return out


class _QuadraticWithKernel(_Quadratic):
    def __init__(self):
        self.steppers = []

    def _compiled_stepper(self, params, data, factor):
        st = _ClosedFormStepper(params, data, factor)
        self.steppers.append(st)
        return st


def _closed_form_w(steps, lr=_LR):
    return _C + (1.0 - lr) ** np.asarray(steps, dtype=float)[:, None, None] * (_W0 - _C)


def _closed_form_loss(steps, lr=_LR):
    return 0.5 * np.sum((_closed_form_w(steps, lr) - _C) ** 2, axis=2)


def _record_w(params):
    return {"w": params["w"].copy()}


def _check_run(tr, steps):
    np.testing.assert_array_equal(tr.steps, steps)
    np.testing.assert_allclose(tr.t, np.asarray(steps) * _LR, rtol=1e-15)
    np.testing.assert_allclose(tr.loss, _closed_form_loss(steps), rtol=1e-12)
    np.testing.assert_allclose(tr["w"], _closed_form_w(steps), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tr.params["w"], _closed_form_w(steps)[-1], rtol=1e-12,
                               atol=1e-15)


# ------------------------------------------------------------------ runs that must end
@needs_alarm
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_two_recordings_at_step_zero(env, backend):
    """Step 0 recorded twice, then step 3: rows 0 and 1 are the initial loss and parameters."""
    env.setattr(engine, "_numba_ok", True)
    model = _QuadraticWithKernel()
    steps = [0, 0, 3]
    with time_limit(_LIMIT_S):
        tr = sim.train_gd(model, {"w": _W0}, _C, _LR, steps=steps, record=_record_w,
                          backend=backend)
    assert [st.segments for st in model.steppers] == ([[(0, 3)]] if backend == "numba" else [])
    _check_run(tr, steps)


@needs_alarm
@pytest.mark.parametrize("steps", [[0, 3], [2, 3, 3], [1, 4, 60, 60, 61]],
                         ids=["from-0", "repeated-last", "past-a-check"])
def test_numpy_loop_records_every_step_and_ends(env, steps):
    with time_limit(_LIMIT_S):
        tr = sim.train_gd(_Quadratic(), {"w": _W0}, _C, _LR, steps=steps, record=_record_w,
                          check_every=50, backend="numpy")
    _check_run(tr, steps)


@needs_alarm
@pytest.mark.parametrize("steps", [[5, 10], [0, 5, 5, 10]], ids=["two-segments", "with-zero"])
def test_compiled_driver_records_every_segment_and_ends(env, steps):
    env.setattr(engine, "_numba_ok", True)
    model = _QuadraticWithKernel()
    with time_limit(_LIMIT_S):
        tr = sim.train_gd(model, {"w": _W0}, _C, _LR, steps=steps, record=_record_w,
                          backend="numba")
    (st,) = model.steppers
    assert st.segments == [(0, 5), (5, 5)]
    _check_run(tr, steps)


# ------------------------------------------------------------------ records
def test_record_changing_shape_at_step_zero_is_an_error(env):
    """``Trajectory.records`` holds one (T, E, ...) array per name, so ``record`` must return
    the same shape at every recording: a value of shape (E,) first and (E, E) next (E = 2,
    both at step 0) is rejected, not broadcast over the other rows."""
    calls = []

    def record(params):
        calls.append(None)
        return {"a": np.zeros(2) if len(calls) == 1 else np.ones((2, 2))}

    msg = (r"^record\['a'\] has shape \(2, 2\) at recording 1, but \(2,\) at the first; "
           r"it must keep its shape$")
    with pytest.raises(ValueError, match=msg):
        sim.train_gd(_Quadratic(), {"w": _W0}, _C, _LR, steps=[0, 0], record=record,
                     backend="numpy")
    assert len(calls) == 2
