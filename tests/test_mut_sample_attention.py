"""Tests that kill mutants of theorylib/sim/attention.py which a sampled mutmut run (600 mutants drawn
uniformly at random, mutmut 3.8.1) found surviving. Which test kills which mutant, and why the others are
equivalent, is in tools/mutation/sample_attention.md.
"""

import numpy as np
import pytest

from _asserts import raises
from theorylib.sim import attention as at
from test_attention_sim import cov


# --------------------------------------------------------------------------- AttentionMoments
def test_moments_store_float_arrays_whatever_the_input_type():
    # integer statistics are accepted and stored as floats, like C
    m = at.AttentionMoments(np.eye(4, dtype=int), np.zeros((2, 2), dtype=int), 1)
    assert m.S.dtype == np.float64 and m.C.dtype == np.float64 and type(m.yy) is float
    # a small integer type must not overflow in the checks: S = 100 I is positive definite
    S8 = (100 * np.eye(4)).astype(np.int8)
    m8 = at.AttentionMoments(S8, np.zeros((2, 2)), 1.0)
    assert m8.S.dtype == np.float64 and np.array_equal(m8.S, 100 * np.eye(4))
    M = np.arange(4.0).reshape(1, 2, 2)
    np.testing.assert_allclose(m8.apply_S(M), 100 * M)


def test_moments_shape_message_names_both_sizes():
    with raises("S must have shape (4, 4); got (3, 3)"):
        at.AttentionMoments(np.eye(3), np.eye(2), 1.0)
    with raises("S must have shape (9, 9); got (4, 4)"):
        at.AttentionMoments(np.eye(4), np.eye(3), 1.0)


def test_moments_inconsistent_yy_message_names_the_explained_part():
    # S = I, C = 2I: the best M explains vec(C)ᵀ vec(C) = 8 > yy = 1
    with raises("yy = 1 is below vec(C)ᵀ S⁺ vec(C) (the part the best M explains) (8): the statistics "
                "are inconsistent (they would give a negative minimum loss)"):
        at.AttentionMoments(np.eye(4), 2 * np.eye(2), 1.0)


def test_kron_factors_are_stored_as_a_tuple_of_float_arrays():
    A = [[2.0, 0.5], [0.5, 1.0]]
    B_sym = np.array([[1.0, 0.3], [0.3, 2.0]])
    S = np.kron(A, B_sym)
    # B symmetric only to round-off (as population_moments gets from a Λ symmetric to 1e-12): the
    # moments keep it and apply_S uses the general product A M Bᵀ
    B = (B_sym + np.array([[0.0, 1e-14], [0.0, 0.0]])).tolist()
    m = at.AttentionMoments(S, np.zeros((2, 2)), 1.0, kron=[A, B])
    assert isinstance(m.kron, tuple) and len(m.kron) == 2
    assert all(isinstance(f, np.ndarray) and f.dtype == np.float64 and f.shape == (2, 2) for f in m.kron)
    np.testing.assert_array_equal(m.kron[0], A)
    M = np.random.default_rng(0).standard_normal((3, 2, 2))
    dense = (M.reshape(3, 4) @ S).reshape(3, 2, 2)
    np.testing.assert_allclose(m.apply_S(M), dense, atol=1e-12)
    np.testing.assert_allclose(m.apply_S(M), at.AttentionMoments(S, np.zeros((2, 2)), 1.0).apply_S(M), atol=1e-12)


# --------------------------------------------------------------------------- embeddings
def test_embeddings_without_rng_have_zero_dormant_blocks_and_reproduce_the_prediction():
    D, N, H, R = 3, 6, 2, 2
    seq = at.sample_sequences(cov(D, 1), N, 25, seed=3)
    X = at.token_matrix(seq)

    merged = at.MergedAttention(D, H)
    pm = at.merged_random_init(D, H, 0.7, 2, seed=4)
    WV, WK, WKQ = merged.embed(pm, member=1)
    assert np.all(WV[:, :D, :] == 0) and np.all(WKQ[:, :, D] == 0)  # "zeros if None"
    out = at.attention_forward(X, WV, WK, WKQ)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[:, -1, -1], merged.predict(pm, seq)[1], atol=1e-12)
    # with the dormant blocks at zero only the prediction row changes: the x-rows stay X
    np.testing.assert_array_equal(out[:, :D, :], X[:, :D, :])

    sep = at.SeparateAttention(D, H, R)
    ps = at.separate_random_init(D, H, R, 0.8, 2, seed=5)
    WV, WK, WQ = sep.embed(ps, member=0)
    assert np.all(WV[:, :D, :] == 0) and np.all(WQ[:, :, D] == 0) and np.all(WK[:, :, D] == 0)
    out = at.attention_forward(X, WV, WK, WQ)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[:, -1, -1], sep.predict(ps, seq)[0], atol=1e-12)
    np.testing.assert_array_equal(out[:, :D, :], X[:, :D, :])


def test_merged_embedding_with_rng_fills_the_dormant_blocks_with_finite_random_numbers():
    D, H = 2, 3
    seq = at.sample_sequences(np.eye(D), 4, 10, seed=0)
    model = at.MergedAttention(D, H)
    p = at.merged_random_init(D, H, 0.5, 1, seed=2)
    WV, WK, WKQ = model.embed(p, rng=np.random.default_rng(9))
    assert np.all(np.isfinite(WV)) and np.all(WV[:, :D, :] != 0)
    out = at.attention_forward(at.token_matrix(seq), WV, WK, WKQ)
    assert np.all(np.isfinite(out))  # the x-rows of the output are perturbed but finite
    np.testing.assert_allclose(out[:, -1, -1], model.predict(p, seq)[0], atol=1e-12)


# --------------------------------------------------------------------------- initialisations
@pytest.mark.parametrize("init", [
    lambda H: at.merged_aligned_init(3, H, 0.1),
    lambda H: at.merged_random_init(3, H, 0.1),
])
def test_merged_inits_reject_zero_heads_naming_H(init):
    with raises("H must be ≥ 1; got 0"):
        init(0)


def test_merged_random_init_defaults_are_one_member_and_seed_zero():
    p = at.merged_random_init(3, 2, 0.4)
    q = at.merged_random_init(3, 2, 0.4, n_ensemble=1, seed=0)
    assert p["v"].shape == (1, 2) and p["U"].shape == (1, 2, 3, 3)
    assert all(np.array_equal(p[n], q[n]) for n in ("v", "U"))
    assert not np.allclose(at.merged_random_init(3, 2, 0.4, seed=1)["U"], p["U"])


def test_separate_aligned_init_checks_H_by_name():
    E = np.eye(3)
    with raises("H must be ≥ 1; got 0"):
        at.separate_aligned_init(E, [0.1], H=0)
    with raises("H must be ≥ 1; got -2"):
        at.separate_aligned_init(E, [0.1], H=-2)
    with raises("H must be an integer; got 1.5"):
        at.separate_aligned_init(E, [0.1], H=1.5)
    p = at.separate_aligned_init(E, [0.1, 0.2], H=3)  # extra heads start at zero
    assert p["v"].shape == (1, 3) and p["v"][0, 2] == 0


# --------------------------------------------------------------------------- the full model
def test_full_model_with_scalar_tokens_matches_the_merged_model():
    D, H = 1, 2  # D = 1 (scalar tokens) is a valid size
    model = at.FullMergedAttention(D, H)
    assert (model.D, model.H) == (1, 2)
    seq = at.sample_sequences([[1.5]], 5, 12, seed=1)
    p = at.merged_random_init(D, H, 0.6, 1, seed=3)
    full = at.full_from_merged(p)
    np.testing.assert_allclose(model.predict(full, seq), at.MergedAttention(D, H).predict(p, seq)[0], atol=1e-12)
    out = at.attention_forward(at.token_matrix(seq), *model.embed(full))
    np.testing.assert_allclose(out[:, -1, -1], model.predict(full, seq), atol=1e-12)


def test_dormant_norm_is_the_norm_of_the_value_x_part_and_key_query_label_row():
    E, H, D = 3, 2, 3
    model = at.FullMergedAttention(D, H)
    p = at.full_from_merged(at.merged_random_init(D, H, 0.5, E, seed=2))
    assert np.array_equal(model.dormant_norm(p), np.zeros(E))  # reduced parameters: nothing dormant
    rng = np.random.default_rng(4)
    vx = 3.0 * rng.standard_normal((E, H, D))  # v⃗_i, the x-part of the value's last row
    ux = 3.0 * rng.standard_normal((E, H, D))  # u⃗_i, the label row of W^KQ's first D columns
    p["b"][:, :, :D] = vx
    p["A"][:, :, D, :] = ux
    expected = [np.linalg.norm(np.concatenate([vx[e].ravel(), ux[e].ravel()])) for e in range(E)]
    np.testing.assert_allclose(model.dormant_norm(p), expected, rtol=1e-13)
    # only the label row of A: a hand value, 3-4-5 (and the reduced blocks do not count)
    q = {"b": np.zeros((1, 1, 3)), "A": np.zeros((1, 1, 3, 2))}
    q["b"][0, 0, 2] = 7.0  # the value scalar v_i is not dormant
    q["A"][0, 0, :2, :] = 5.0  # U_i is not dormant
    q["A"][0, 0, 2, :] = [3.0, 4.0]
    np.testing.assert_allclose(at.FullMergedAttention(2, 1).dormant_norm(q), [5.0], rtol=1e-15)
