"""Numerics: models, data sets, and the GD / gradient-flow engine. Never uses a closed form."""
from .data import Moments, aligned_moments, hierarchical_data, moments_from_samples, random_orthogonal  # noqa: F401
from .engine import DivergenceError, Trajectory, integrate_flow, steps_for_times, train_gd  # noqa: F401
from .linear import DeepLinear, decoupled_init, mode_strengths, random_init  # noqa: F401
