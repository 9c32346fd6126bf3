"""Closed forms, one module per chapter. Never imports :mod:`theorylib.sim`.

- :mod:`~theorylib.theory.deep_linear` (Chapter 1): Saxe et al.'s mode dynamics.
- :mod:`~theorylib.theory.rich_lazy` (Chapter 2): the single neuron with layer-wise rates.
- :mod:`~theorylib.theory.bias_free_relu` (Chapter 3): bias-free (leaky) ReLU networks.
- :mod:`~theorylib.theory.fusion` (Chapter 4): multimodal fusion depth.
- :mod:`~theorylib.theory.linear_attention` (Chapter 5): in-context learning in linear attention.
"""
from . import bias_free_relu, deep_linear, fusion, linear_attention, rich_lazy  # noqa: F401
from . import optimal_constant  # noqa: F401  (Chapter 6: the optimal constant solution)
