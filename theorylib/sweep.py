"""Sweeps: grids of hyper-parameters × seeds, in-process or on a Dask cluster.

A sweep calls one *task function* at every point of a Cartesian grid of hyper-parameters,
for every seed, and collects the results in grid order::

    from theorylib.sweep import sweep

    def final_loss(lr, width, seed):            # module-level, deterministic given its arguments
        ...
        return {"loss": loss_array}

    res = sweep(final_loss, {"lr": [0.01, 0.02], "width": [4, 8]}, seeds=range(5))
    res["loss"]          # ndarray (2, 2, 5, ...): grid axes in the order given, then seeds

Two ways to spend the seeds:

* ``seeds_per_task=1`` (default): one call per (point, seed), ``fn(**point, seed=s)``.
* ``seeds_per_task=None``: one call per point with **all** seeds, ``fn(**point, seeds=array)``,
  returning arrays with a leading axis of length ``len(seeds)``. This is the fast path for
  theorylib models, whose engine trains an ensemble along a leading axis: the seeds become
  the ensemble and the Python overhead is paid once per point, not once per seed.

Execution: in this process by default, or on a Dask cluster when a ``dask.distributed``
``Client`` is passed (``dask`` is imported only then). Results are identical either way:
every task is a pure function of its arguments (the seed fixes all randomness, via
``np.random.default_rng(seed)``), results are put back in grid order whatever order the
tasks finish in, and nothing depends on which worker ran what. The task function must be
importable on the workers (a module-level function of an installed module such as
``theorylib``), or registered with ``cloudpickle.register_pickle_by_value``.

A one-line progress bar is written to ``stderr`` (``progress=False`` silences it).

Introduced for the benchmarks and the parameter sweeps of the chapters (issue 7).
"""
from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = ["SweepResult", "grid_points", "sweep"]


def grid_points(grid: Mapping[str, Sequence]) -> tuple[list[dict], tuple[int, ...]]:
    """Cartesian product of a grid in row-major order (the last key varies fastest).

    Parameters
    ----------
    grid : dict
        ``name -> non-empty sequence of values``; names must be valid Python identifiers
        (they become keyword arguments) and may not be ``seed`` or ``seeds``.

    Returns
    -------
    points : list of dict
        One ``{name: value}`` per grid point.
    shape : tuple of int
        The grid's shape, ``tuple(len(values) for values in grid.values())``.

    Raises
    ------
    ValueError
        If the grid is not a mapping, a name is not an identifier or is reserved, or a
        value list is empty or not a sequence.
    """
    if not isinstance(grid, Mapping):
        raise ValueError(f"grid must be a mapping name -> values; got {type(grid).__name__}")
    names = list(grid)
    values = []
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid names must be Python identifiers; got {name!r}")
        if name in ("seed", "seeds"):
            raise ValueError(f"{name!r} is reserved: pass seeds with the `seeds` argument")
        v = grid[name]
        if isinstance(v, (str, bytes)) or not hasattr(v, "__len__"):
            raise ValueError(f"grid[{name!r}] must be a sequence of values; got {v!r}")
        v = list(v)
        if not v:
            raise ValueError(f"grid[{name!r}] is empty")
        values.append(v)
    shape = tuple(len(v) for v in values)
    points = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    return points, shape


class _Progress:
    """A dependency-free one-line progress bar on stderr."""

    def __init__(self, total: int, enabled: bool, label: str = "sweep", width: int = 30):
        self.total, self.enabled, self.label, self.width = total, enabled, label, width
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0
        if enabled:
            self._draw(force=True)

    def _draw(self, force=False):
        now = time.perf_counter()
        if not force and now - self._last < 0.1 and self.done < self.total:
            return  # at most ten redraws a second
        self._last = now
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(self.width * frac))
        elapsed = now - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
            f" {elapsed:6.1f}s elapsed, eta {eta:5.1f}s "
        )
        sys.stderr.flush()

    def update(self, n: int = 1):
        self.done += n
        if self.enabled:
            self._draw()

    def close(self):
        if self.enabled:
            self._draw(force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


def _call(fn, point, seed_kw, seed_val):
    """Run one task; the only function shipped to Dask workers besides ``fn`` itself."""
    return fn(**point, **{seed_kw: seed_val})


@dataclass
class SweepResult:
    """Results of :func:`sweep` in grid order.

    Attributes
    ----------
    names : list of str
        Grid parameter names (the grid's axes, in order).
    values : list of list
        The values along each axis.
    seeds : ndarray (S,)
        The seeds.
    results : list
        One entry per grid point (row-major) and seed: ``results[i_point * S + i_seed]``.
        With ``seeds_per_task=None`` each entry is that seed's slice of the task's output.
    """

    names: list
    values: list
    seeds: np.ndarray
    results: list = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """``grid shape + (n_seeds,)``."""
        return tuple(len(v) for v in self.values) + (len(self.seeds),)

    def points(self) -> list[dict]:
        """The grid points (without seeds), row-major."""
        return [dict(zip(self.names, c)) for c in itertools.product(*self.values)]

    def __getitem__(self, key: str) -> np.ndarray:
        """Stack result ``key`` (results must be mappings) into ``shape + value shape``."""
        try:
            vals = [np.asarray(r[key]) for r in self.results]
        except (KeyError, TypeError, IndexError) as e:
            raise KeyError(f"result key {key!r} is not in every result") from e
        return np.stack(vals).reshape(self.shape + vals[0].shape)

    def array(self) -> np.ndarray:
        """Stack plain (array or scalar) results into ``shape + value shape``."""
        vals = [np.asarray(r) for r in self.results]
        return np.stack(vals).reshape(self.shape + vals[0].shape)


def _split_seeds(out, n_seeds):
    """Split a vectorised task's output (leading axis = seeds) into one result per seed."""
    if isinstance(out, Mapping):
        arrs = {k: np.asarray(v) for k, v in out.items()}
        for k, v in arrs.items():
            if v.ndim == 0 or v.shape[0] != n_seeds:
                raise ValueError(
                    f"with seeds_per_task=None, result {k!r} needs a leading axis of length {n_seeds}; got shape {v.shape}"
                )
        return [{k: v[j] for k, v in arrs.items()} for j in range(n_seeds)]
    arr = np.asarray(out)
    if arr.ndim == 0 or arr.shape[0] != n_seeds:
        raise ValueError(f"with seeds_per_task=None, the result needs a leading axis of length {n_seeds}; got shape {arr.shape}")
    return [arr[j] for j in range(n_seeds)]


def sweep(
    fn: Callable[..., Any],
    grid: Mapping[str, Sequence],
    seeds=(0,),
    *,
    seeds_per_task: int | None = 1,
    client=None,
    progress: bool = True,
    label: str = "sweep",
) -> SweepResult:
    """Run ``fn`` over a grid of hyper-parameters × seeds; in-process, or on Dask if given a client.

    Parameters
    ----------
    fn : callable
        ``fn(**point, seed=int)`` (``seeds_per_task=1``) or ``fn(**point, seeds=ndarray)``
        (``seeds_per_task=None``; must return arrays, or a dict of arrays, whose leading axis
        runs over the seeds). Must be deterministic given its arguments.
    grid : dict
        ``name -> sequence of values`` (see :func:`grid_points`); ``{}`` is a single point.
    seeds : sequence of int
        Seeds (non-negative integers, no duplicates).
    seeds_per_task : {1, None}
        One task per (point, seed), or one task per point with all seeds.
    client : dask.distributed.Client, optional
        Run the tasks on this cluster; results are gathered back in grid order.
    progress : bool
        Draw a progress bar on stderr.
    label : str
        Text in front of the progress bar.

    Returns
    -------
    SweepResult
        ``res[key]`` stacks a result key into ``grid shape + (n_seeds,) + value shape``.

    Raises
    ------
    ValueError
        On a bad grid, bad seeds or ``seeds_per_task``, a ``client`` without ``submit``,
        or a vectorised result without the seeds axis.
    Exception
        Whatever ``fn`` raises, with a note naming the grid point and seed.
    """
    if not callable(fn):
        raise ValueError("fn must be callable")
    if len(grid) == 0:
        points, shape = [{}], ()
    else:
        points, shape = grid_points(grid)
    seeds_arr = np.asarray(list(seeds))
    if seeds_arr.ndim != 1 or seeds_arr.size == 0:
        raise ValueError("seeds must be a non-empty sequence of integers")
    if seeds_arr.dtype.kind not in "iu" or np.any(seeds_arr < 0):
        raise ValueError(f"seeds must be non-negative integers; got {list(seeds)!r}")
    if len(np.unique(seeds_arr)) != len(seeds_arr):
        raise ValueError("seeds must not repeat (repeated seeds give identical runs)")
    if seeds_per_task not in (1, None):
        raise ValueError(f"seeds_per_task must be 1 or None; got {seeds_per_task!r}")
    if client is not None and not hasattr(client, "submit"):
        raise ValueError("client must be a dask.distributed.Client (an object with .submit)")

    n_seeds = len(seeds_arr)
    if seeds_per_task == 1:
        tasks = [(p, "seed", int(s)) for p in points for s in seeds_arr]
    else:
        tasks = [(p, "seeds", seeds_arr.copy()) for p in points]

    bar = _Progress(len(tasks), progress, label)
    outs: list = [None] * len(tasks)

    def annotate(e, j):
        p, kw, s = tasks[j]
        if hasattr(e, "add_note"):
            e.add_note(f"in sweep task {j}: point {p}, {kw}={s if kw == 'seed' else list(s)}")
        return e

    try:
        if client is None:
            for j, (p, kw, s) in enumerate(tasks):
                try:
                    outs[j] = _call(fn, p, kw, s)
                except Exception as e:
                    raise annotate(e, j)
                bar.update()
        else:
            from distributed import as_completed  # imported only when a cluster is used

            futures = [client.submit(_call, fn, p, kw, s, pure=False) for (p, kw, s) in tasks]
            index = {f.key: j for j, f in enumerate(futures)}
            try:
                for fut in as_completed(futures):
                    j = index[fut.key]
                    try:
                        outs[j] = fut.result()
                    except Exception as e:
                        raise annotate(e, j)
                    bar.update()
            finally:
                for f in futures:
                    f.release()
    finally:
        bar.close()

    if seeds_per_task == 1:
        results = outs
    else:
        results = [r for out in outs for r in _split_seeds(out, n_seeds)]
    names = list(grid)
    values = [list(grid[n]) for n in names]
    return SweepResult(names=names, values=values, seeds=seeds_arr, results=results)
