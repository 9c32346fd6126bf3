"""The compiled backend of train_gd (theorylib.sim._compiled, numba) against the numpy loop.

Skipped where numba is not installed (the book's environment); CI runs it in the benchmark
environment. Each kernel must reproduce the numpy trajectory to rounding on random problems
(τ ≠ 1, per-member step sizes, unequal layer rates, several depths, E = 1 and E > 1), be
bit-for-bit repeatable, and raise the same DivergenceError as the loop.
"""
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

from theorylib.sim import attention as att  # noqa: E402
from theorylib.sim import engine, fusion  # noqa: E402
from theorylib.sim.data import moments_from_samples  # noqa: E402
from theorylib.sim.linear import DeepLinear, ScalarChains, random_init  # noqa: E402

TOL = 1e-12


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-300))


def _agree(a, b):
    assert a.loss.shape == b.loss.shape
    assert _rel(a.loss, b.loss) <= TOL
    assert set(a.params) == set(b.params)
    for name in a.params:
        assert b.params[name].shape == a.params[name].shape
        assert b.params[name].flags.c_contiguous
        assert _rel(a.params[name], b.params[name]) <= TOL, name
    assert set(a.records) == set(b.records)
    for key in a.records:
        assert _rel(a.records[key], b.records[key]) <= TOL, key
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.t, b.t)


def _both(model, init, data, lr, **kw):
    before = {name: np.array(p, copy=True) for name, p in init.items()}
    a = engine.train_gd(model, init, data, lr, backend="numpy", **kw)
    b = engine.train_gd(model, init, data, lr, backend="numba", **kw)
    _agree(a, b)
    for name, p in init.items():  # neither backend writes into the caller's arrays
        np.testing.assert_array_equal(p, before[name])
        assert not np.shares_memory(a.params[name], p) and not np.shares_memory(b.params[name], p)
    return a, b


def _linear_problem(widths, seed, P=400, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((P, widths[0])) * rng.uniform(0.5, 1.5, widths[0])
    n_out = widths[-1]
    Y = X @ rng.standard_normal((widths[0], n_out)) + noise * rng.standard_normal((P, n_out))
    return moments_from_samples(X, Y), rng


@pytest.mark.parametrize("widths,E", [((3, 4, 2), 1), ((5, 6, 5), 4), ((4, 7, 6, 5, 3), 3),
                                      ((6, 5), 2), ((2, 3, 3, 3, 3, 2), 5), ((40, 60, 30), 2)])
def test_deep_linear_matches_numpy(widths, E):
    data, rng = _linear_problem(widths, seed=len(widths) + E)
    model = DeepLinear(widths)
    init = random_init(widths, 0.3, n_ensemble=E, seed=E)
    lr = rng.uniform(0.01, 0.03, E)
    L = len(widths) - 1
    rates = {"W1": 0.7, f"W{L}": rng.uniform(0.5, 1.5, E)}
    steps = np.array([0, 0, 7, 50, 51, 120, 120, 300])
    _both(model, init, data, lr, steps=steps, tau=1.3, rates=rates, check_every=13,
          record=lambda p: {"W": model.product(p), "n1": np.sum(p["W1"] ** 2, axis=(1, 2))})


def test_deep_linear_times_and_scalar_lr():
    data, _ = _linear_problem((4, 5, 3), seed=2)
    model = DeepLinear((4, 5, 3))
    init = random_init((4, 5, 3), 0.2, n_ensemble=3, seed=1)
    a, b = _both(model, init, data, 0.02, times=[0.0, 0.5, 2.0, 6.0])
    assert a.params["W1"] is not init["W1"] and not np.shares_memory(b.params["W1"], init["W1"])


@pytest.mark.parametrize("D,H,R,E,population", [(4, 5, 1, 6, False), (3, 2, 2, 1, True),
                                                (2, 3, 1, 4, False)])
def test_separate_attention_matches_numpy(D, H, R, E, population):
    Lam, _ = att.covariance_with_spectrum(np.linspace(0.4, 0.1, D), seed=D)
    if population:
        data = att.population_moments(Lam, 7)
    else:
        data = att.moments_from_sequences(att.sample_sequences(Lam, 9, 600, seed=E))
    model = att.SeparateAttention(D, H, R)
    init = att.separate_random_init(D, H, R, scale=0.2, n_ensemble=E, seed=3)
    rng = np.random.default_rng(E)
    rates = {"v": 0.5, "k": rng.uniform(0.3, 0.6, E), "q": 0.5}
    _both(model, init, data, rng.uniform(0.05, 0.2, E), steps=np.arange(0, 801, 40), tau=0.8,
          rates=rates, record=lambda p: {"M": model.product(p)})


def _fusion_data(net, E, shared, rng):
    D = net.n_in

    def one():
        X = rng.standard_normal((300, D)) * rng.uniform(0.5, 2.0, D)
        return fusion.FusionSamples(X, X @ rng.standard_normal(D) + 0.3 * rng.standard_normal(300))

    if shared:
        return one().moments()
    ms = [one().moments() for _ in range(E)]
    return fusion.FusionMoments(np.stack([m.sigma[0] for m in ms]),
                                np.stack([m.sigma_yx[0] for m in ms]),
                                np.array([m.e_yy[0] for m in ms]))


@pytest.mark.parametrize("da,db,depth,hidden,lfs,shared", [
    (1, 1, 4, 10, [1, 2, 3, 4, 1, 2, 3, 4], True), (2, 3, 3, 5, [1, 2, 3], False),
    (1, 2, 1, 4, [1], True), (2, 1, 2, 6, [2], True), (3, 2, 5, 4, [1, 3, 5, 2, 4], False)])
def test_fusion_matches_numpy(da, db, depth, hidden, lfs, shared):
    rng = np.random.default_rng(depth * 10 + hidden)
    net = fusion.FusionNet(da, db, depth, lfs, hidden)
    E = len(lfs) if len(lfs) > 1 else 3
    data = _fusion_data(net, E, shared, rng)
    init = fusion.gaussian_init(net, 0.5, n_ensemble=E, seed=5, scheme="numel")
    rates = {"W1": rng.uniform(0.5, 1.5, E), net.names[-1]: 0.8}
    _both(net, init, data, rng.uniform(0.01, 0.04, E), steps=np.arange(0, 401, 25), tau=1.2,
          rates=rates, record=lambda p: {"w": net.product(p)})


def test_fusion_nonzero_masked_weights_fall_back():
    net = fusion.FusionNet(1, 1, 3, [3], 4)
    init = fusion.gaussian_init(net, 0.5, n_ensemble=2, seed=1)
    init["W2"][:, 0, -1] = 0.1  # a weight the architecture masks: only the numpy loop keeps it
    data = fusion.toy_moments(2.0, 0.5)
    params = engine._check_params(init)[0]
    assert net._compiled_stepper(params, data, {n: 0.01 for n in init}) is None
    with pytest.raises(ValueError, match="FusionNet"):
        engine.train_gd(net, init, data, 0.01, steps=[0, 5], backend="numba")
    a = engine.train_gd(net, init, data, 0.01, steps=[0, 5], backend="numpy")
    b = engine.train_gd(net, init, data, 0.01, steps=[0, 5], backend="auto")
    np.testing.assert_array_equal(a.loss, b.loss)


def test_repeatable_bit_for_bit():
    data, rng = _linear_problem((5, 8, 8, 4), seed=9)
    model = DeepLinear((5, 8, 8, 4))
    init = random_init((5, 8, 8, 4), 0.3, n_ensemble=4, seed=2)
    runs = [engine.train_gd(model, init, data, 0.02, steps=[0, 30, 200], backend="numba")
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    for n in init:
        np.testing.assert_array_equal(runs[0].params[n], runs[1].params[n])
    net = fusion.FusionNet(1, 1, 3, [1, 2, 3], 6)
    fi = fusion.gaussian_init(net, 0.5, seed=1, scheme="numel")
    fr = [engine.train_gd(net, fi, fusion.toy_moments(2.0, 0.5), 0.03, steps=[0, 100],
                          backend="numba") for _ in range(2)]
    for n in fi:
        np.testing.assert_array_equal(fr[0].params[n], fr[1].params[n])


def _message_shape(msg):
    return re.sub(r"[-+0-9.e]+(?:inf|nan)?|inf|nan", "#", msg)


@pytest.mark.parametrize("tau", [1.0, 2.0])
def test_divergence_same_error(tau):
    data, _ = _linear_problem((3, 4, 2), seed=1)
    model = DeepLinear((3, 4, 2))
    init = random_init((3, 4, 2), 0.5, n_ensemble=3, seed=0)
    lr = np.array([0.01, 3.0 * tau, 0.02])
    msgs = []
    for backend in ("numpy", "numba"):
        with pytest.raises(engine.DivergenceError) as err:
            engine.train_gd(model, init, data, lr, steps=[0, 40, 400], tau=tau, backend=backend)
        msgs.append(str(err.value))
    assert _message_shape(msgs[0]) == _message_shape(msgs[1])
    step = [re.search(r"at step (\d+)", m).group(1) for m in msgs]
    assert step[0] == step[1]
    assert "stability bound" in msgs[1] and "lr = " in msgs[1]


def test_divergence_attention_and_fusion():
    Lam, _ = att.covariance_with_spectrum([0.4, 0.2], seed=0)
    data = att.population_moments(Lam, 5)
    model = att.SeparateAttention(2, 2)
    init = att.separate_random_init(2, 2, scale=1.0, n_ensemble=2, seed=0)
    for backend in ("numpy", "numba"):
        with pytest.raises(engine.DivergenceError, match="at step"):
            engine.train_gd(model, init, data, 50.0, steps=[0, 500], backend=backend)
    net = fusion.FusionNet(1, 1, 3, [1, 3], 4)
    fi = fusion.gaussian_init(net, 1.0, seed=0)
    msgs = []
    for backend in ("numpy", "numba"):
        with pytest.raises(engine.DivergenceError) as err:
            engine.train_gd(net, fi, fusion.toy_moments(2.0, 0.5), 5.0, steps=[0, 300],
                            backend=backend)
        msgs.append(str(err.value))
    assert _message_shape(msgs[0]) == _message_shape(msgs[1])


def test_unsupported_model_raises_and_auto_falls_back():
    chains = ScalarChains([1, 2, 3])
    data, _ = _linear_problem((1, 1), seed=0)
    init = {"a": np.full((3, 3), 0.5)}
    with pytest.raises(ValueError, match="ScalarChains"):
        engine.train_gd(chains, init, data, 0.1, steps=[0, 10], backend="numba")
    a = engine.train_gd(chains, init, data, 0.1, steps=[0, 10], backend="numpy")
    b = engine.train_gd(chains, init, data, 0.1, steps=[0, 10], backend="auto")
    np.testing.assert_array_equal(a.loss, b.loss)
    with pytest.raises(ValueError, match="backend"):
        engine.train_gd(chains, init, data, 0.1, steps=[0, 10], backend="jax")


def test_environment_variable(monkeypatch):
    data, _ = _linear_problem((3, 4, 2), seed=3)
    model = DeepLinear((3, 4, 2))
    init = random_init((3, 4, 2), 0.3, n_ensemble=2, seed=0)
    used = []
    hook = DeepLinear._compiled_stepper

    def spy(self, *args):  # the numpy backend never asks the model for its kernel
        used.append(True)
        return hook(self, *args)

    monkeypatch.setattr(DeepLinear, "_compiled_stepper", spy)

    def compiled(**kw):
        used.clear()
        engine.train_gd(model, init, data, 0.02, steps=[0, 30], **kw)
        return bool(used)

    monkeypatch.delenv("THEORYLIB_BACKEND", raising=False)
    assert compiled()  # the default is "auto", and numba is installed here
    for env, want in (("numpy", False), ("numba", True), ("auto", True), (" NumPy ", False)):
        monkeypatch.setenv("THEORYLIB_BACKEND", env)
        assert compiled() is want, env
    monkeypatch.setenv("THEORYLIB_BACKEND", "numba")
    assert compiled(backend="numpy") is False  # an explicit argument wins over the environment
    monkeypatch.setenv("THEORYLIB_BACKEND", "fast")
    with pytest.raises(ValueError, match="THEORYLIB_BACKEND"):
        compiled()


def test_import_does_not_load_numba():
    code = "import sys, theorylib, theorylib.sim; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
