"""Tests that kill survivors of sim/engine.py from the full mutation run (mutmut 3.8.1).

Every expectation is an independent computation (GD on ``L = 1/2 |w - c|^2`` has the closed
form ``w_k = c + (1 - eta)^k (w_0 - c)``, its flow ``w(t) = c + exp(-rate t / tau)(w_0 - c)``),
a documented behaviour, or a full anchored error message. The compiled-backend driver is run
without numba through the plain-numpy stand-in kernel of ``test_mut_sample_engine`` with
``engine._numba_ok`` set to True; the numba import itself is simulated through ``sys.modules``
and ``sys.meta_path`` (all restored by ``monkeypatch``).
"""
import sys
import types
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy.integrate import RK45

from theorylib import sim
from theorylib.sim import engine

from test_mut_sample_engine import _C, _W0, _closed_form, _LoopStepper, _Quadratic, \
    _QuadraticWithKernel

TAU = "\u03c4"  # the message's Greek letters, kept out of this file's source as escapes
TAIL = ". Reduce lr (and keep lr\u00b7\u03bb_max \u2272 0.01 for tight theory overlays)."


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("THEORYLIB_BACKEND", raising=False)
    return monkeypatch


class _BoundedQuadratic(_Quadratic):
    """The quadratic with its Hessian I: the stability bound 2 / lambda_max is 2."""

    def stability_bound(self, data):
        return 2.0


class _BoundedQuadraticWithKernel(_QuadraticWithKernel, _BoundedQuadratic):
    pass


class _KernelOnlyForArrays(_Quadratic):
    """A model with a kernel hook that has no kernel for some data (returns None), and that
    builds its stepper from the factor it is given, like a real kernel packs its buffer."""

    def __init__(self):
        self.seen = []

    def _compiled_stepper(self, params, data, factor):
        self.seen.append({n: p.dtype for n, p in params.items()})
        if not isinstance(data, np.ndarray):
            return None
        return _LoopStepper(self, params, data, {n: float(np.max(factor[n])) for n in params})


class _PackInPlace(_Quadratic):
    """A kernel builder that reuses (overwrites) the arrays it is handed as its buffer."""

    def _compiled_stepper(self, params, data, factor):
        for p in params.values():
            p[...] = -99.0
        return _LoopStepper(self, params, data, factor)


_D = np.array([[1.0, 0.0]])  # one member, w_0 - c = e_1: loss_0 = 1/2


def _diverging_loss(k, factor):
    """Loss of the quadratic after k GD steps of effective step ``factor`` from w_0 - c = e_1."""
    return 0.5 * (1.0 - factor) ** (2 * k)


# ------------------------------------------------------------------ backend selection
def test_bad_environment_backend_message(env):
    env.setenv("THEORYLIB_BACKEND", "fast")
    with pytest.raises(ValueError,
                       match=r"^THEORYLIB_BACKEND must be one of numpy, numba, auto; got 'fast'$"):
        engine.backend_for(_Quadratic(), {"w": _W0}, _C)


def test_environment_backend_is_case_and_space_insensitive(env):
    env.setattr(engine, "_numba_ok", True)
    env.setenv("THEORYLIB_BACKEND", " NumPy ")
    assert engine.backend_for(_QuadraticWithKernel(), {"w": _W0}, _C) == "numpy"


def test_numba_without_a_hook_names_model_and_data(env):
    env.setattr(engine, "_numba_ok", True)
    msg = (r"^backend='numba': no compiled kernel for _Quadratic on ndarray; "
           r"use backend='numpy' \(or 'auto'\)$")
    with pytest.raises(ValueError, match=msg):
        sim.train_gd(_Quadratic(), {"w": _W0}, _C, 0.1, steps=[3], backend="numba")
    with pytest.raises(ValueError, match=msg):
        engine.backend_for(_Quadratic(), {"w": _W0}, _C, backend="numba")


def test_hook_without_kernel_for_this_data(env):
    """A hook returning None means numpy under 'auto' and an error under 'numba'."""
    env.setattr(engine, "_numba_ok", True)
    model = _KernelOnlyForArrays()
    data = list(_C)  # not an ndarray: no kernel
    tr = sim.train_gd(model, {"w": _W0}, data, 0.1, steps=[4], backend="auto")
    np.testing.assert_allclose(tr.params["w"], _closed_form([4], 0.1)[0], rtol=1e-13)
    assert engine.backend_for(model, {"w": _W0}, data, backend="auto") == "numpy"
    msg = (r"^backend='numba': no compiled kernel for _KernelOnlyForArrays on list; "
           r"use backend='numpy' \(or 'auto'\)$")
    with pytest.raises(ValueError, match=msg):
        sim.train_gd(model, {"w": _W0}, data, 0.1, steps=[4], backend="numba")


def test_backend_for_hands_the_kernel_builder_data_and_float_params(env):
    """backend_for builds the stepper from the given data (a kernel for arrays only) and from
    float parameters even when integers are given."""
    env.setattr(engine, "_numba_ok", True)
    model = _KernelOnlyForArrays()
    assert engine.backend_for(model, {"w": np.array([[0, 0], [3, 1]])}, _C) == "numba"
    assert engine.backend_for(model, {"w": _W0}, list(_C)) == "numpy"
    assert [s["w"] for s in model.seen] == [np.dtype(float), np.dtype(float)]


def test_backend_for_leaves_the_callers_parameters_alone(env):
    env.setattr(engine, "_numba_ok", True)
    w = _W0.copy()
    assert engine.backend_for(_PackInPlace(), {"w": w}, _C) == "numba"
    np.testing.assert_array_equal(w, _W0)


def test_auto_on_a_model_without_hook_does_not_look_for_numba(env):
    """numba is imported on first need; a model without a kernel never needs it."""
    env.setattr(engine, "_numba_ok", None)
    env.setitem(sys.modules, "numba", None)  # an import would fail and be remembered
    tr = sim.train_gd(_Quadratic(), {"w": _W0}, _C, 0.1, steps=[2], backend="auto")
    np.testing.assert_allclose(tr.params["w"], _closed_form([2], 0.1)[0], rtol=1e-13)
    assert engine.backend_for(_Quadratic(), {"w": _W0}, _C, backend="auto") == "numpy"
    assert engine._numba_ok is None


def test_numba_importable_selects_the_kernel(env):
    env.setattr(engine, "_numba_ok", None)
    env.setitem(sys.modules, "numba", types.ModuleType("numba"))
    assert engine.backend_for(_QuadraticWithKernel(), {"w": _W0}, _C, backend="auto") == "numba"
    assert engine._numba_status() is True


def test_missing_numba_message_carries_the_import_error(env):
    env.setattr(engine, "_numba_ok", None)
    env.setitem(sys.modules, "numba", None)
    with pytest.raises(ImportError) as err:
        sim.train_gd(_QuadraticWithKernel(), {"w": _W0}, _C, 0.1, steps=[1], backend="numba")
    reason = str(engine._numba_status())
    assert "numba" in reason and reason != "numba is not installed"
    assert str(err.value) == (f"backend='numba' needs numba ({reason}); install it "
                              "(pip install numba) or use backend='numpy'")
    # and 'auto' falls back to numpy
    assert engine.backend_for(_QuadraticWithKernel(), {"w": _W0}, _C, backend="auto") == "numpy"


class _SilentFailure:
    """A meta-path finder whose import of numba fails with an empty ImportError."""

    def find_spec(self, name, path=None, target=None):
        if name == "numba":
            raise ImportError()
        return None


def test_missing_numba_with_a_silent_import_error(env):
    env.setattr(engine, "_numba_ok", None)
    env.delitem(sys.modules, "numba", raising=False)
    env.setattr(sys, "meta_path", [_SilentFailure()] + sys.meta_path)
    msg = (r"^backend='numba' needs numba \(numba is not installed\); install it "
           r"\(pip install numba\) or use backend='numpy'$")
    with pytest.raises(ImportError, match=msg):
        engine.backend_for(_QuadraticWithKernel(), {"w": _W0}, _C, backend="numba")


# ------------------------------------------------------------------ divergence
def test_divergence_message_default_check_every_and_bound(env):
    """lr = 3 on a Hessian I: |w - c| doubles each step; the first check (default every 50
    steps) sees 1/2 * 4^50 and the message quotes it, lr and the bound 2."""
    with pytest.raises(engine.DivergenceError) as err:
        sim.train_gd(_BoundedQuadratic(), {"w": _C + _D}, _C, 3.0, steps=[100], backend="numpy")
    loss = _diverging_loss(50, 3.0)
    expected = (f"gradient descent diverged at step 50 (loss = {loss:.3g}) with step size lr = 3"
                "; the stability bound 2/\u03bb_max(Hessian) at the global minimum is \u2248 2"
                + TAIL)
    assert str(err.value) == expected


def test_divergence_message_with_tau(env):
    """tau = 2, lr = 6: the same effective step 3; the message explains lr / tau."""
    with pytest.raises(engine.DivergenceError) as err:
        sim.train_gd(_BoundedQuadratic(), {"w": _C + _D}, _C, 6.0, tau=2.0, steps=[20],
                     backend="numpy")
    loss = _diverging_loss(20, 3.0)
    expected = (f"gradient descent diverged at step 20 (loss = {loss:.3g}) with step size lr = 6"
                f" ({TAU} = 2: each step moves \u03b8 by (lr/{TAU})\u00b7\u2202L/\u2202\u03b8, "
                f"lr/{TAU} = 3); the stability bound 2/\u03bb_max(Hessian) at the global minimum "
                f"is \u2248 2 (for lr/{TAU})" + TAIL)
    assert str(err.value) == expected


def test_divergence_message_with_tau_and_no_bound(env):
    with pytest.raises(engine.DivergenceError) as err:
        sim.train_gd(_Quadratic(), {"w": _C + _D}, _C, 1.5, tau=0.5, steps=[20], backend="numpy")
    loss = _diverging_loss(20, 3.0)
    expected = (f"gradient descent diverged at step 20 (loss = {loss:.3g}) with step size "
                f"lr = 1.5 ({TAU} = 0.5: each step moves \u03b8 by (lr/{TAU})\u00b7\u2202L/\u2202\u03b8,"
                f" lr/{TAU} = 3)" + TAIL)
    assert str(err.value) == expected


def test_default_blowup_is_one_million(env):
    """One step to a loss of 1e6 + 1/2 (from 1/2): above blowup * max(loss_0, 1) = 1e6."""
    lr = 1.0 + np.sqrt(2.0 * (1e6 + 0.5))
    assert 1e6 < _diverging_loss(1, lr) < 1e6 + 1
    with pytest.raises(engine.DivergenceError, match=r"^gradient descent diverged at step 1 "):
        sim.train_gd(_Quadratic(), {"w": _C + _D}, _C, lr, steps=[1], backend="numpy")


def test_overflow_on_the_way_to_divergence_raises_no_warning(env):
    """lr = 1e100: w overflows to inf then nan within a few steps; that is reported as a
    DivergenceError and numpy's overflow/invalid warnings are not emitted."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(engine.DivergenceError, match=r"^gradient descent diverged at step 50 "
                                                         r"\(loss = inf\)"):
            sim.train_gd(_Quadratic(), {"w": _C + _D}, _C, 1e100, steps=[60], backend="numpy")


def test_compiled_driver_reports_divergence_like_the_loop(env):
    """Through a kernel the divergence is caught at the same step (the first multiple of
    check_every after a recording at step 3) with the same message, finite loss included."""
    env.setattr(engine, "_numba_ok", True)
    kw = dict(steps=[3, 120], check_every=50)
    with pytest.raises(engine.DivergenceError) as ref:
        sim.train_gd(_BoundedQuadratic(), {"w": _C + _D}, _C, 3.0, backend="numpy", **kw)
    with pytest.raises(engine.DivergenceError) as got:
        sim.train_gd(_BoundedQuadraticWithKernel(), {"w": _C + _D}, _C, 3.0, backend="numba",
                     **kw)
    loss = _diverging_loss(50, 3.0)
    assert np.isfinite(loss)
    assert str(got.value) == str(ref.value)
    assert str(got.value).startswith(f"gradient descent diverged at step 50 (loss = {loss:.3g}) ")


# ------------------------------------------------------------------ the compiled driver
def test_compiled_driver_checks_every_multiple_and_each_recording(env):
    """Each segment is checked at the multiples of check_every inside it and at its end."""
    env.setattr(engine, "_numba_ok", True)
    model = _QuadraticWithKernel()
    steps = [3, 101, 199, 250]
    tr = sim.train_gd(model, {"w": _W0}, _C, 0.001, steps=steps, check_every=50,
                      backend="numba")
    (st,) = model.steppers
    absolute = [[a + c for c in chk] for a, _, chk in st.segments]
    assert absolute == [[3], [50, 100, 101], [150, 199], [200, 250]]
    np.testing.assert_allclose(tr.params["w"], _closed_form([250], 0.001)[0], rtol=1e-12)


def test_numba_backend_runs_a_single_step_through_the_kernel(env):
    env.setattr(engine, "_numba_ok", True)
    model = _QuadraticWithKernel()
    tr = sim.train_gd(model, {"w": _W0}, _C, 0.1, steps=[1], backend="numba")
    assert [s.segments for s in model.steppers] == [[(0, 1, [1])]]
    np.testing.assert_allclose(tr.params["w"], _closed_form([1], 0.1)[0], rtol=1e-14)


def test_zero_step_run_builds_no_kernel(env):
    """Recording only step 0 takes no step: nothing to compile, initial loss and parameters."""
    env.setattr(engine, "_numba_ok", True)
    model = _QuadraticWithKernel()
    tr = sim.train_gd(model, {"w": _W0}, _C, 0.1, steps=[0, 0], backend="auto")
    assert model.steppers == []
    np.testing.assert_array_equal(tr.params["w"], _W0)
    np.testing.assert_allclose(tr.loss, [0.5 * np.sum((_W0 - _C) ** 2, axis=1)] * 2)


# ------------------------------------------------------------------ argument types
def test_integer_parameters_and_fraction_step_sizes(env):
    w0 = np.array([[0, 0], [3, 1]])  # integers, equal to _W0
    tr = sim.train_gd(_Quadratic(), {"w": w0}, _C, Fraction(1, 10), steps=[0, 5],
                      rates={"w": Fraction(1, 2)}, backend="numpy")
    np.testing.assert_allclose(tr.params["w"], _closed_form([5], 0.05)[0], rtol=1e-13)
    np.testing.assert_allclose(tr.t, [0.0, 0.5])
    np.testing.assert_array_equal(w0, [[0, 0], [3, 1]])


def test_flow_with_integer_parameters_and_fraction_rate(env):
    w0 = np.array([[0, 0], [3, 1]])
    t = np.array([0.0, 0.5, 2.0])
    tr = sim.integrate_flow(_Quadratic(), {"w": w0}, _C, t, tau=2.0, rates={"w": Fraction(1, 2)})
    want = _C + np.exp(-0.25 * t)[:, None, None] * (_W0 - _C)
    np.testing.assert_allclose(tr.params["w"], want[-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tr.loss, 0.5 * np.sum((want - _C) ** 2, axis=2), rtol=1e-9)


# ------------------------------------------------------------------ steps_for_times
def test_steps_for_times_empty_and_integer(env):
    out = engine.steps_for_times([], 0.1)
    assert out.shape == (0,) and out.dtype.kind == "i"
    out = engine.steps_for_times([0.0, 0.5, 0.75], 0.25)
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out, [0, 2, 3])
    tr = sim.train_gd(_Quadratic(), {"w": _W0}, _C, 0.25, times=[0.5], backend="numpy")
    assert tr.steps.dtype.kind == "i"


def test_train_gd_with_no_time_names_the_problem(env):
    msg = r"^times/steps must not be empty: give at least one time at which to record$"
    with pytest.raises(ValueError, match=msg):
        sim.train_gd(_Quadratic(), {"w": _W0}, _C, 0.1, times=[], backend="numpy")


@pytest.mark.parametrize("k, ok", [
    (1e-6, True),  # exactly at the tolerance (1e-6 of a step below one step)
    (1.5e-6, False),  # beyond it
    (1.0 + 1.5e-6, False),  # beyond 1e-6 relative of one step
    (1000.0 + 1e-4, True),  # 1e-7 relative of 1000 steps
])
def test_steps_for_times_tolerance(k, ok):
    if ok:
        assert engine.steps_for_times([k], 1.0)[0] == round(k)
        assert engine.steps_for_times([k * 0.01], 0.01)[0] == round(k)
    else:
        with pytest.raises(ValueError, match=r"^times must be multiples of lr = 1 to be "
                                             r"recorded by GD$"):
            engine.steps_for_times([k], 1.0)


# ------------------------------------------------------------------ integrate_flow
def test_flow_max_evals_must_be_at_least_one():
    with pytest.raises(ValueError, match=r"^max_evals must be \u2265 1; got 0$"):
        sim.integrate_flow(_Quadratic(), {"w": _W0}, _C, [1.0], max_evals=0)


def test_flow_budget_of_one_evaluation_names_the_last_time():
    msg = (r"^gradient-flow integration used more than max_evals=1 gradient evaluations and "
           r"reached only t = \S+ of 2: the flow is stiff")
    with pytest.raises(ValueError, match=msg):
        sim.integrate_flow(_Quadratic(), {"w": _W0}, _C, [0.0, 0.5, 2.0], max_evals=1)


class _SpyRK45(RK45):
    used = 0

    def __init__(self, *args, **kwargs):
        type(self).used += 1
        super().__init__(*args, **kwargs)


class _FailingRK45(RK45):
    def _step_impl(self):
        return False, "simulated failure"


def test_flow_uses_the_given_method():
    _SpyRK45.used = 0
    tr = sim.integrate_flow(_Quadratic(), {"w": _W0}, _C, [1.0], method=_SpyRK45)
    assert _SpyRK45.used == 1
    np.testing.assert_allclose(tr.params["w"], _C + np.exp(-1.0) * (_W0 - _C), rtol=1e-8)


def test_flow_reports_integrator_failure():
    with pytest.raises(ValueError, match=r"^gradient-flow integration failed: simulated failure$"):
        sim.integrate_flow(_Quadratic(), {"w": _W0}, _C, [1.0], method=_FailingRK45)
