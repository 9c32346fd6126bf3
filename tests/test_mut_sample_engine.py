"""Tests that kill mutants of sim/engine.py, sim/data.py and sim/linear.py that a sampled
mutmut run (600 random mutants) found surviving; see tools/mutation/sample_engine.md.

The compiled-backend driver of ``train_gd`` (the loop that hands every segment between two
recordings to ``stepper.advance``) is exercised here without numba: a model whose
``_compiled_stepper`` hook returns a plain-numpy stepper that takes the same GD steps, with
the engine told that numba imports (``engine._numba_ok = True``). Only the test of
``DeepLinear._compiled_stepper`` itself needs numba and is skipped without it.
"""
import re

import numpy as np
import pytest

from theorylib import sim
from theorylib.sim import data as sd
from theorylib.sim import engine
from theorylib.sim.linear import DeepLinear, random_init


class _Quadratic:
    """``L(w) = ½‖w − c‖²`` per member (params ``{"w": (E, d)}``, data ``c`` of shape (d,)):
    GD with step η gives ``w_k = c + (1 − η)^k (w_0 − c)`` exactly."""

    def loss(self, params, data):
        return 0.5 * np.sum((params["w"] - data) ** 2, axis=1)

    def grad(self, params, data):
        return {"w": params["w"] - data}


class _LoopStepper:
    """A stand-in for a compiled kernel: the numpy GD step, driven through the stepper
    protocol (``params`` updated in place, ``initial_loss()``, ``advance(n, chk, scale)``
    returning the losses at the in-segment steps ``chk``). It logs the checks it was asked for."""

    def __init__(self, model, params, data, factor):
        self.model, self.data, self.factor = model, data, factor
        self.params = {n: np.array(p, dtype=float, copy=True) for n, p in params.items()}
        self.segments = []  # (first absolute step, n_steps, chk) of every advance call
        self.k = 0

    def initial_loss(self):
        return self.model.loss(self.params, self.data)

    def advance(self, n_steps, chk, scale):
        chk = [int(c) for c in chk]
        self.segments.append((self.k, int(n_steps), chk))
        out = np.full((len(chk), len(scale)), np.nan)
        j = 0
        for s in range(1, int(n_steps) + 1):
            g = self.model.grad(self.params, self.data)
            for n in self.params:
                self.params[n] -= self.factor[n] * g[n]
            while j < len(chk) and chk[j] == s:
                out[j] = self.model.loss(self.params, self.data)
                j += 1
        self.k += int(n_steps)
        return out


class _QuadraticWithKernel(_Quadratic):
    def __init__(self):
        self.steppers = []

    def _compiled_stepper(self, params, data, factor):
        st = _LoopStepper(self, params, data, factor)
        self.steppers.append(st)
        return st


_C = np.array([1.0, -2.0])
_W0 = np.array([[0.0, 0.0], [3.0, 1.0]])  # E = 2 members


def _closed_form(k, lr):
    return _C + (1.0 - lr) ** np.asarray(k)[:, None, None] * (_W0 - _C)


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("THEORYLIB_BACKEND", raising=False)
    return monkeypatch


# ------------------------------------------------------------------ backend selection
def test_explicit_backends_are_accepted_and_reported(no_env):
    """Each name in BACKENDS is a valid ``backend`` (train_gd and backend_for take it)."""
    net = DeepLinear((2, 3, 2))
    p = random_init(net.widths, 0.3, n_ensemble=2, seed=0)
    data = sd.aligned_moments([2.0, 1.0], 2, 2)[0]
    no_env.setattr(engine, "_numba_ok", "simulated: numba is absent")
    ref = sim.train_gd(net, p, data, 0.05, steps=[0, 4], backend=None)
    for backend in ("numpy", "auto"):
        tr = sim.train_gd(net, p, data, 0.05, steps=[0, 4], backend=backend)
        np.testing.assert_array_equal(tr.loss, ref.loss)
        assert engine.backend_for(net, p, data, backend=backend) == "numpy"
    assert engine.backend_for(net, p, data) == "numpy"


def test_unknown_backend_is_rejected_naming_the_argument(no_env):
    net = DeepLinear((2, 2))
    p = random_init(net.widths, 0.3, n_ensemble=1, seed=0)
    data = sd.aligned_moments([1.0], 2, 2)[0]
    msg = r"^backend must be one of numpy, numba, auto \(or None\); got 'fast'$"
    with pytest.raises(ValueError, match=msg):
        sim.train_gd(net, p, data, 0.05, steps=[3], backend="fast")
    with pytest.raises(ValueError, match=msg):
        engine.backend_for(net, p, data, backend="fast")
    with pytest.raises(ValueError, match=r"^backend must be one of .*; got 1$"):
        sim.train_gd(net, p, data, 0.05, steps=[3], backend=1)


def test_explicit_backend_overrides_the_environment(no_env):
    """``THEORYLIB_BACKEND`` is read only for ``backend=None``."""
    net = DeepLinear((2, 3, 2))
    p = random_init(net.widths, 0.3, n_ensemble=2, seed=1)
    data = sd.aligned_moments([2.0, 1.0], 2, 2)[0]
    no_env.setattr(engine, "_numba_ok", "simulated: numba is absent")
    no_env.setenv("THEORYLIB_BACKEND", "numba")
    with pytest.raises(ImportError, match=r"^backend='numba' needs numba \(simulated"):
        sim.train_gd(net, p, data, 0.05, steps=[3])
    tr = sim.train_gd(net, p, data, 0.05, steps=[3], backend="numpy")
    assert np.all(np.isfinite(tr.loss))
    assert engine.backend_for(net, p, data, backend="numpy") == "numpy"
    no_env.setenv("THEORYLIB_BACKEND", "numpy")
    with pytest.raises(ImportError, match=r"^backend='numba' needs numba"):
        sim.train_gd(net, p, data, 0.05, steps=[3], backend="numba")
    with pytest.raises(ImportError, match=r"^backend='numba' needs numba"):
        engine.backend_for(net, p, data, backend="numba")


def test_backend_for_reports_a_models_kernel(no_env):
    model = _QuadraticWithKernel()
    no_env.setattr(engine, "_numba_ok", True)
    assert engine.backend_for(model, {"w": _W0}, _C, backend="auto") == "numba"
    assert engine.backend_for(model, {"w": _W0}, _C, backend="numba") == "numba"
    assert engine.backend_for(model, {"w": _W0}, _C, backend="numpy") == "numpy"
    assert engine.backend_for(_Quadratic(), {"w": _W0}, _C, backend="auto") == "numpy"
    no_env.setattr(engine, "_numba_ok", "simulated: numba is absent")
    assert engine.backend_for(model, {"w": _W0}, _C, backend="auto") == "numpy"


# ------------------------------------------------------------------ the compiled driver
def test_compiled_driver_checks_and_records_at_the_numpy_loops_steps(no_env):
    """A kernel is asked for all steps up to the next recording, with the loss at every
    multiple of check_every and at the recorded step (no empty and no repeated check), and the
    run equals the numpy loop and the closed form."""
    lr, steps = 0.01, [0, 3, 3, 7, 50, 120]
    no_env.setattr(engine, "_numba_ok", True)
    model = _QuadraticWithKernel()
    rec = lambda p: {"w": p["w"].copy()}
    before = _W0.copy()
    tr = sim.train_gd(model, {"w": _W0}, _C, lr, steps=steps, check_every=50, record=rec,
                      backend="numba")
    ref = sim.train_gd(_Quadratic(), {"w": _W0}, _C, lr, steps=steps, check_every=50,
                       record=rec, backend="numpy")
    np.testing.assert_array_equal(_W0, before)
    (st,) = model.steppers
    assert st.segments == [(0, 3, [3]), (3, 4, [4]), (7, 43, [43]), (50, 70, [50, 70])]
    np.testing.assert_array_equal(tr.loss, ref.loss)
    np.testing.assert_array_equal(tr["w"], ref["w"])
    np.testing.assert_array_equal(tr.params["w"], ref.params["w"])
    np.testing.assert_allclose(tr["w"], _closed_form(steps, lr), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tr.loss, 0.5 * np.sum((tr["w"] - _C) ** 2, axis=2), rtol=1e-14)
    np.testing.assert_array_equal(tr.t, np.array(steps) * lr)


def test_compiled_driver_single_segment_shorter_than_check_every(no_env):
    no_env.setattr(engine, "_numba_ok", True)
    model = _QuadraticWithKernel()
    tr = sim.train_gd(model, {"w": _W0}, _C, 0.1, steps=[5], backend="auto")
    assert model.steppers[0].segments == [(0, 5, [5])]
    np.testing.assert_allclose(tr.params["w"], _closed_form([5], 0.1)[0], rtol=1e-13)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_deep_linear_kernel_packs_the_given_parameters():
    """DeepLinear._compiled_stepper builds its kernel from the parameters it is given."""
    pytest.importorskip("numba")
    net = DeepLinear((3, 4, 2))
    p = random_init(net.widths, 0.4, n_ensemble=2, seed=3)
    data = sd.aligned_moments([2.0, 0.5], 3, 2, seed=1)[0]
    factor = {name: 0.01 for name in p}
    st = net._compiled_stepper(p, data, factor)
    for name in p:
        np.testing.assert_array_equal(st.params[name], p[name])
    np.testing.assert_allclose(st.initial_loss(), net.loss(p, data), rtol=1e-12)


# ------------------------------------------------------------------ the numpy loop
def test_record_is_called_once_per_recorded_entry(no_env):
    """``record`` runs once for each entry of ``steps`` (repeats included), never more."""
    calls = []

    def rec(p):
        calls.append(p["w"].copy())
        if len(calls) > 5:
            raise AssertionError("record called more often than there are recordings")
        return {"w": p["w"].copy()}

    steps = [0, 2, 2, 5, 9]
    tr = sim.train_gd(_Quadratic(), {"w": _W0}, _C, 0.1, steps=steps, record=rec,
                      backend="numpy")
    assert len(calls) == 5
    np.testing.assert_allclose(tr["w"], _closed_form(steps, 0.1), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(tr.loss, 0.5 * np.sum((tr["w"] - _C) ** 2, axis=2), rtol=1e-14)


class _UndefinedAtStart:
    """A loss that is NaN at w = 0 and 15 elsewhere; the gradient −1 moves w off 0."""

    def loss(self, params, data):
        return np.where(params["w"][:, 0] == 0.0, np.nan, 15.0)

    def grad(self, params, data):
        return {"w": -np.ones_like(params["w"])}


def test_nan_initial_loss_counts_as_one_in_the_blowup_threshold(no_env):
    """The threshold ``blowup × max(loss_0, 1)`` takes a NaN loss_0 as 1, i.e. ``blowup``."""
    p = {"w": np.zeros((1, 1))}
    with pytest.raises(sim.DivergenceError, match="diverged at step 1 "):
        sim.train_gd(_UndefinedAtStart(), p, None, 0.1, steps=[1], blowup=10.0, backend="numpy")
    tr = sim.train_gd(_UndefinedAtStart(), p, None, 0.1, steps=[1], blowup=15.0, backend="numpy")
    np.testing.assert_array_equal(tr.loss, [[15.0]])


# ------------------------------------------------------------------ data
def test_asymmetric_sigma_xx_message():
    with pytest.raises(ValueError, match="^sigma_xx must be symmetric$"):
        sd.Moments(np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros((1, 2)), 0.0)


def test_aligned_moments_default_seed_is_zero():
    """The default draw is ``seed=0``: U then V from ``default_rng(0)``."""
    m, U, V = sd.aligned_moments([2.0, 1.0], 3, 4)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(U, sd.random_orthogonal(4, rng))
    np.testing.assert_array_equal(V, sd.random_orthogonal(3, rng))
    m0, U0, _ = sd.aligned_moments([2.0, 1.0], 3, 4, seed=0)
    np.testing.assert_array_equal(m.sigma_yx, m0.sigma_yx)
    assert not np.allclose(U, sd.aligned_moments([2.0, 1.0], 3, 4, seed=1)[1])


# ================================================================== second sample
# The following tests are for the second sampled run (current code, seed 0, 600 of 13,346
# mutants); see the second table of tools/mutation/sample_engine.md.
def test_blowup_at_or_below_one_is_a_valid_relative_threshold(no_env):
    """Any positive ``blowup`` is accepted; the run diverges once the loss exceeds
    ``blowup × max(loss_0, 1)``, checked only at recorded steps and multiples of check_every."""
    lr = 0.1  # on the quadratic the loss is (1 − η)^{2k} loss_0 = 0.81^k loss_0
    ref = sim.train_gd(_Quadratic(), {"w": _W0}, _C, lr, steps=[0, 4, 30], backend="numpy")
    for blowup in (1.0, 0.5):
        tr = sim.train_gd(_Quadratic(), {"w": _W0}, _C, lr, steps=[0, 4, 30], blowup=blowup,
                          backend="numpy")
        np.testing.assert_array_equal(tr.loss, ref.loss)
    # loss_0 = (2.5, 6.5) > 1: with blowup = 0.5 the threshold is half the initial loss, and
    # 0.81^3 = 0.531 is above it at step 3, while 0.81^4 = 0.430 is below it at step 4
    with pytest.raises(sim.DivergenceError, match="^gradient descent diverged at step 3 "):
        sim.train_gd(_Quadratic(), {"w": _W0}, _C, lr, steps=[3], blowup=0.5, backend="numpy")
    tr = sim.train_gd(_Quadratic(), {"w": _W0}, _C, lr, steps=[4], blowup=0.5, backend="numpy")
    np.testing.assert_allclose(tr.loss[0], 0.81**4 * np.array([2.5, 6.5]), rtol=1e-13)
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match=r"^blowup must be a positive number; got "):
            sim.train_gd(_Quadratic(), {"w": _W0}, _C, lr, steps=[1], blowup=bad, backend="numpy")


class _CountingQuadratic(_Quadratic):
    def __init__(self):
        self.n_grad = 0

    def grad(self, params, data):
        self.n_grad += 1
        return super().grad(params, data)


def test_flow_budget_message_and_count():
    """``max_evals`` bounds the gradient evaluations; exceeding it raises the documented advice."""
    model = _CountingQuadratic()
    msg = (r"^gradient-flow integration used more than max_evals=3 gradient evaluations and "
           r"reached only t = (\S+) of 2: the flow is stiff or slides along a kink of the "
           r"activation \(a pre-activation held at 0\)\. Record to an earlier time, loosen "
           r"rtol/atol, raise max_evals, or use train_gd\.$")
    with pytest.raises(ValueError, match=msg) as err:
        sim.integrate_flow(model, {"w": _W0}, _C, [0.0, 2.0], max_evals=3)
    assert model.n_grad == 3
    assert 0.0 <= float(re.match(msg, str(err.value)).group(1)) < 2.0
    # with enough evaluations the same flow follows w(t) = c + e^{−t} (w_0 − c)
    tr = sim.integrate_flow(_Quadratic(), {"w": _W0}, _C, [0.0, 2.0])
    np.testing.assert_allclose(tr.params["w"], _C + np.exp(-2.0) * (_W0 - _C), rtol=1e-8)


def test_deep_linear_kernel_hook_checks_parameters_and_data_first():
    """Like loss and grad, the kernel hook validates the shapes before it builds (or imports)
    a kernel, so the errors are the same with or without numba; non-Moments data has no kernel."""
    net = DeepLinear((3, 4, 2))
    p = random_init(net.widths, 0.4, n_ensemble=2, seed=3)
    data = sd.aligned_moments([2.0, 0.5], 3, 2, seed=1)[0]
    factor = {name: 0.01 for name in p}
    bad = dict(p, W2=p["W2"][:, :, :3])
    with pytest.raises(ValueError, match=r"^W2 has shape \(2, 3\); expected \(2, 4\)$"):
        net.loss(bad, data)
    with pytest.raises(ValueError, match=r"^W2 has shape \(2, 3\); expected \(2, 4\)$"):
        net._compiled_stepper(bad, data, factor)
    other = sd.aligned_moments([1.0], 2, 2)[0]
    with pytest.raises(ValueError, match=r"^data has n_in=2, n_out=2; network expects 3 and 2$"):
        net._compiled_stepper(p, other, factor)
    assert net._compiled_stepper(p, None, factor) is None


def test_scalar_chains_data_size_message():
    from theorylib.sim.linear import ScalarChains

    c = ScalarChains([1, 2])
    two = sd.Moments(np.eye(2), np.zeros((1, 2)), 1.0)
    with pytest.raises(ValueError, match=r"^ScalarChains needs 1×1 moments \(one input, one output\)$"):
        c.loss({"a": np.ones((2, 2))}, two)
