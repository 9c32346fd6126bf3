"""Numerics: models, data sets, and the GD / gradient-flow engine. Never uses a closed form.

Chapter models live in submodules: :mod:`~theorylib.sim.linear` (Chapter 1),
:mod:`~theorylib.sim.rich_lazy` (2), :mod:`~theorylib.sim.bias_free` (3),
:mod:`~theorylib.sim.fusion` (4) and :mod:`~theorylib.sim.attention` (5).
"""
from . import attention, bias_free, fusion, rich_lazy  # noqa: F401
from . import biased  # noqa: F401  (Chapter 6: networks with bias terms)
from .data import Moments, aligned_moments, hierarchical_data, moments_from_samples, random_orthogonal  # noqa: F401
from .engine import DivergenceError, Trajectory, integrate_flow, steps_for_times, train_gd  # noqa: F401
from .linear import DeepLinear, decoupled_init, mode_strengths, random_init  # noqa: F401
