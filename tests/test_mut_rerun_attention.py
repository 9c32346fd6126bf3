"""Tests for the survivors of theorylib/sim/attention.py left after tests/test_mut_full_attention.py
(mutmut 3.8.1, full run); the per-survivor notes are in tools/mutation/full_rerun_attention.md.

Of the 59 survivors only ``AttentionMoments.__post_init__`` 132 (the Kronecker-factor check
compared with numpy's default ``rtol = 1e-5`` instead of the stated purely absolute tolerance
``1e-10 · max(1, max|S|)``) can be told apart through the public API with a documented property;
the 11 numba-only ``SeparateAttention._compiled_stepper`` mutants are killed in the compiled-backend
environment by ``test_mut_full_attention.py::test_compiled_stepper_takes_the_numpy_steps``, and the
rest are equivalent or differ only in the last bits / the pseudo-random stream (see the notes).
Only numpy, pytest and theorylib are imported.
"""

import numpy as np

from _asserts import raises
from theorylib.sim import attention as at


A = np.array([[2.0, 0.5], [0.5, 1.0]])
B = np.array([[1.0, 0.3], [0.3, 2.0]])


def test_kron_factors_off_by_a_relative_1e_8_are_rejected():
    # S = A ⊗ B exactly (entries up to 4); factors A(1 + 1e-8) reproduce it only to 4e-8 absolute,
    # far above the stated tolerance 1e-10 · max(1, max|S|) = 4e-10 (numpy's default rtol 1e-5
    # would accept them)
    S = np.kron(A, B)
    assert np.abs(S).max() == 4.0
    with raises("kron factors do not reproduce S"):
        at.AttentionMoments(S, np.zeros((2, 2)), 1.0, kron=(A * (1 + 1e-8), B))
    with raises("kron factors do not reproduce S"):
        at.AttentionMoments(S, np.zeros((2, 2)), 1.0, kron=(A, B * (1 - 1e-8)))
    # the exact factors, and factors off by 1e-12 relative (4e-12 absolute, inside), are accepted
    m = at.AttentionMoments(S, np.zeros((2, 2)), 1.0, kron=(A, B))
    np.testing.assert_array_equal(m.kron[0], A)
    at.AttentionMoments(S, np.zeros((2, 2)), 1.0, kron=(A * (1 + 1e-12), B))


def test_kron_tolerance_is_absolute_on_the_diagonal_too():
    # S = diag(1 + 1e-7, 1, 1, 1) is symmetric PSD but not I ⊗ I: the mismatch 1e-7 sits on a
    # diagonal entry of size 1, where a relative tolerance of 1e-5 would hide it
    S = np.eye(4)
    S[0, 0] = 1 + 1e-7
    with raises("kron factors do not reproduce S"):
        at.AttentionMoments(S, np.zeros((2, 2)), 1.0, kron=(np.eye(2), np.eye(2)))
    # the same at scale 1e6: 1e6·(1 + 1e-9) is off by 1e-3 > 1e-10 · 1e6 = 1e-4
    S = 1e6 * np.eye(4)
    S[3, 3] = 1e6 * (1 + 1e-9)
    with raises("kron factors do not reproduce S"):
        at.AttentionMoments(S, np.zeros((2, 2)), 1.0, kron=(1e3 * np.eye(2), 1e3 * np.eye(2)))
    # ... while 1e6·(1 + 1e-11) (off by 1e-5 < 1e-4) is round-off and accepted
    S[3, 3] = 1e6 * (1 + 1e-11)
    m = at.AttentionMoments(S, np.zeros((2, 2)), 1.0, kron=(1e3 * np.eye(2), 1e3 * np.eye(2)))
    # and the fast product then is A M Bᵀ = 1e6 M (the factors, not S, are used)
    M = np.arange(8.0).reshape(2, 2, 2)
    np.testing.assert_array_equal(m.apply_S(M), 1e6 * M)
