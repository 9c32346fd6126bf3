"""Tests for theorylib.sweep: grid order, seeds, vectorised seeds, errors, and the Dask path.

The Dask test starts a two-worker LocalCluster (separate processes) and checks that the
numbers are *bit-for-bit* identical to the in-process run.
"""
import sys

import numpy as np
import pytest

from theorylib.sim import DeepLinear, aligned_moments, random_init, train_gd
from theorylib.sweep import SweepResult, grid_points, sweep


def gd_run(lr, scale, seed):
    """A real theorylib task: a two-layer linear network from small random init, one seed."""
    data, _, _ = aligned_moments([3.0, 1.0], 3, 3, seed=0)
    model = DeepLinear((3, 4, 3))
    params = random_init((3, 4, 3), scale, n_ensemble=1, seed=seed)
    traj = train_gd(model, params, data, lr, steps=np.array([0, 100, 200]))
    return {"loss": traj.loss[:, 0], "W": model.product(traj.params)[0]}


def gd_run_seeds(lr, scale, seeds):
    """The same task, vectorised: all seeds as one ensemble (the fast path)."""
    data, _, _ = aligned_moments([3.0, 1.0], 3, 3, seed=0)
    model = DeepLinear((3, 4, 3))
    inits = [random_init((3, 4, 3), scale, n_ensemble=1, seed=int(s)) for s in seeds]
    params = {k: np.concatenate([p[k] for p in inits]) for k in inits[0]}
    traj = train_gd(model, params, data, lr, steps=np.array([0, 100, 200]))
    return {"loss": traj.loss.T, "W": model.product(traj.params)}


def affine(a, b, seed):
    return a * 10 + b + 0.5 * seed


def failing(a, seed):
    if a == 2:
        raise ArithmeticError("boom")
    return a


def test_grid_points_row_major():
    points, shape = grid_points({"a": [1, 2], "b": ["x", "y", "z"]})
    assert shape == (2, 3)
    assert points[0] == {"a": 1, "b": "x"} and points[1] == {"a": 1, "b": "y"} and points[3] == {"a": 2, "b": "x"}


def test_sweep_order_and_shape():
    res = sweep(affine, {"a": [1, 2, 3], "b": [0.0, 0.25]}, seeds=[0, 4], progress=False)
    assert isinstance(res, SweepResult)
    arr = res.array()
    assert arr.shape == (3, 2, 2) == res.shape
    a, b, s = np.meshgrid([1, 2, 3], [0.0, 0.25], [0, 4], indexing="ij")
    np.testing.assert_array_equal(arr, a * 10 + b + 0.5 * s)
    assert res.points()[1] == {"a": 1, "b": 0.25}


def test_empty_grid_is_one_point():
    res = sweep(lambda seed: seed * 2, {}, seeds=[1, 2, 3], progress=False)
    np.testing.assert_array_equal(res.array(), [2, 4, 6])


def test_progress_bar_goes_to_stderr(capsys):
    sweep(affine, {"a": [1], "b": [2]}, seeds=[0, 1, 2], label="mysweep")
    err = capsys.readouterr().err
    assert "mysweep" in err and "3/3" in err


def test_vectorised_seeds_match_per_seed_runs():
    grid = {"lr": [0.05, 0.1], "scale": [1e-3]}
    one = sweep(gd_run, grid, seeds=range(3), progress=False)
    vec = sweep(gd_run_seeds, grid, seeds=range(3), seeds_per_task=None, progress=False)
    assert one["loss"].shape == vec["loss"].shape == (2, 1, 3, 3)
    assert one["W"].shape == (2, 1, 3, 3, 3)
    # batched matmul may round differently from single matmuls; the runs are the same runs
    np.testing.assert_allclose(vec["loss"], one["loss"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(vec["W"], one["W"], rtol=1e-10, atol=1e-13)
    # and the sweep did real work: the larger step size learns faster
    assert np.all(one["loss"][1, 0, :, 1] < one["loss"][0, 0, :, 1])


def test_errors():
    with pytest.raises(ValueError, match="identifier"):
        sweep(affine, {"not valid": [1]}, progress=False)
    with pytest.raises(ValueError, match="reserved"):
        sweep(affine, {"seed": [1]}, progress=False)
    with pytest.raises(ValueError, match="empty"):
        sweep(affine, {"a": []}, progress=False)
    with pytest.raises(ValueError, match="sequence"):
        sweep(affine, {"a": 3}, progress=False)
    with pytest.raises(ValueError, match="repeat"):
        sweep(affine, {"a": [1], "b": [1]}, seeds=[1, 1], progress=False)
    with pytest.raises(ValueError, match="non-negative integers"):
        sweep(affine, {"a": [1], "b": [1]}, seeds=[0.5], progress=False)
    with pytest.raises(ValueError, match="seeds_per_task"):
        sweep(affine, {"a": [1], "b": [1]}, seeds_per_task=2, progress=False)
    with pytest.raises(ValueError, match="client"):
        sweep(affine, {"a": [1], "b": [1]}, client=object(), progress=False)
    with pytest.raises(ValueError, match="leading axis"):
        sweep(lambda a, seeds: 1.0, {"a": [1]}, seeds=[0, 1], seeds_per_task=None, progress=False)
    with pytest.raises(KeyError):
        sweep(affine, {"a": [1], "b": [1]}, progress=False)["loss"]


def test_task_error_names_the_point():
    with pytest.raises(ArithmeticError, match="boom") as info:
        sweep(failing, {"a": [1, 2, 3]}, seeds=[7], progress=False)
    notes = getattr(info.value, "__notes__", [])
    if sys.version_info >= (3, 11):
        assert any("'a': 2" in n and "seed=7" in n for n in notes)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    # the workers cannot import this test module; ship its functions by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_dask_localcluster_gives_identical_numbers(dask_client):
    grid = {"lr": [0.05, 0.1], "scale": [1e-3, 1e-2]}
    local = sweep(gd_run, grid, seeds=range(3), progress=False)
    remote = sweep(gd_run, grid, seeds=range(3), client=dask_client, progress=False)
    # bit-for-bit: same tasks, same inputs, results put back in grid order
    np.testing.assert_array_equal(remote["loss"], local["loss"])
    np.testing.assert_array_equal(remote["W"], local["W"])
    # the vectorised path too
    local_v = sweep(gd_run_seeds, grid, seeds=range(3), seeds_per_task=None, progress=False)
    remote_v = sweep(gd_run_seeds, grid, seeds=range(3), seeds_per_task=None, client=dask_client, progress=False)
    np.testing.assert_array_equal(remote_v["loss"], local_v["loss"])
    np.testing.assert_array_equal(remote_v["W"], local_v["W"])


def test_dask_task_error_propagates(dask_client):
    with pytest.raises(ArithmeticError, match="boom"):
        sweep(failing, {"a": [1, 2]}, seeds=[0], client=dask_client, progress=False)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(
    a=st.lists(st.integers(-5, 5), min_size=1, max_size=4),
    b=st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=3),
    seeds=st.lists(st.integers(0, 50), min_size=1, max_size=4, unique=True),
)
def test_property_every_cell_holds_its_own_point(a, b, seeds):
    """Whatever the grid, cell [i, j, k] is fn at (a[i], b[j], seeds[k]) (row-major, seeds last)."""
    res = sweep(affine, {"a": a, "b": b}, seeds=seeds, progress=False)
    expect = np.array([[[affine(x, y, s) for s in seeds] for y in b] for x in a])
    np.testing.assert_array_equal(res.array(), expect)
