"""Tests of theorylib.sim.attention (Chapter 5): the reduced models against a full attention forward pass,
moments, gradients, conservation laws, time convention and error paths."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from theorylib.sim import attention as at
from theorylib.sim.engine import integrate_flow, train_gd


def cov(D, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((D, D))
    return A @ A.T / D + 0.2 * np.eye(D)


@pytest.mark.parametrize("R", [1, 2, 3])
def test_separate_reduced_equals_full_forward_pass(R):
    D, N, H = 3, 7, 4
    seq = at.sample_sequences(cov(D), N, 40, seed=1)
    model = at.SeparateAttention(D, H, R)
    p = at.separate_random_init(D, H, R, 0.9, 3, seed=2)
    X = at.token_matrix(seq)
    for member in range(3):
        full = at.attention_forward(X, *model.embed(p, member, rng=np.random.default_rng(member)))
        assert np.allclose(full[:, -1, -1], model.predict(p, seq)[member], atol=1e-12)
        # the residual stream: every other entry of the output is X plus the attention update, the
        # prediction slot starts at 0
        assert np.all(X[:, -1, -1] == 0)


def test_merged_reduced_equals_full_forward_pass():
    D, N, H = 4, 9, 3
    seq = at.sample_sequences(cov(D, 3), N, 30, seed=4)
    model = at.MergedAttention(D, H)
    p = at.merged_random_init(D, H, 0.8, 2, seed=5)
    X = at.token_matrix(seq)
    full = at.attention_forward(X, *model.embed(p, 1, rng=np.random.default_rng(7)))
    assert np.allclose(full[:, -1, -1], model.predict(p, seq)[1], atol=1e-12)


def test_merged_is_two_layer_network_on_cubic_feature():
    D, H = 3, 4
    seq = at.sample_sequences(cov(D), 5, 20, seed=1)
    model = at.MergedAttention(D, H)
    p = at.merged_random_init(D, H, 1.0, 1, seed=1)
    z = at.cubic_features(seq)
    W1 = p["U"][0].reshape(H, D * D)
    assert np.allclose(z @ W1.T @ p["v"][0], model.predict(p, seq)[0], atol=1e-12)


def test_token_matrix_layout():
    seq = at.sample_sequences(np.eye(2), 3, 2, seed=0)
    X = at.token_matrix(seq)
    assert X.shape == (2, 3, 4)
    assert np.allclose(X[:, :2, :3], np.swapaxes(seq.x, 1, 2)) and np.allclose(X[:, 2, :3], seq.y)
    assert np.allclose(X[:, :2, 3], seq.xq) and np.all(X[:, 2, 3] == 0)


def test_empirical_moments_give_the_sample_mse():
    """Full-batch training loss = mean squared error of the reduced model on the samples, exactly."""
    D = 3
    seq = at.sample_sequences(cov(D), 6, 500, seed=3)
    data = at.moments_from_sequences(seq)
    model = at.SeparateAttention(D, 3, 2)
    p = at.separate_random_init(D, 3, 2, 0.7, 4, seed=1)
    mse = np.mean((seq.yq - model.predict(p, seq)) ** 2, axis=1)
    assert np.allclose(model.loss(p, data), mse, rtol=1e-10)


def test_population_moments_match_monte_carlo():
    D, N = 3, 5
    Lam = cov(D, 2)
    pm = at.population_moments(Lam, N)
    seq = at.sample_sequences(Lam, N, 100_000, seed=9)
    z = at.cubic_features(seq)
    assert np.allclose(np.kron(*pm.kron), pm.S)
    # E[y_q z] and E[zzᵀ] within a few Monte-Carlo standard errors
    yz = z * seq.yq[:, None]
    se = yz.std(0) / np.sqrt(seq.P)
    assert np.all(np.abs(yz.mean(0) - pm.C.ravel()) < 5 * se)
    zz = np.einsum("pi,pj->pij", z[:, :4], z[:, :4])
    se = zz.std(0) / np.sqrt(seq.P)
    assert np.all(np.abs(zz.mean(0) - pm.S[:4, :4]) < 5 * se)
    assert abs(np.mean(seq.yq**2) - pm.yy) < 5 * np.std(seq.yq**2) / np.sqrt(seq.P)


def _finite_diff(model, p, data, eps=1e-6):
    out = {}
    for name, arr in p.items():
        g = np.zeros_like(arr)
        it = np.nditer(arr[0], flags=["multi_index"])
        for _ in it:
            idx = (slice(None),) + it.multi_index
            plus = {k: v.copy() for k, v in p.items()}
            minus = {k: v.copy() for k, v in p.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            g[idx] = (model.loss(plus, data) - model.loss(minus, data)) / (2 * eps)
        out[name] = g
    return out


@pytest.mark.parametrize("kind", ["merged", "separate", "rank2"])
@pytest.mark.parametrize("population", [True, False])
def test_gradients_match_finite_differences(kind, population):
    D = 3
    Lam = cov(D, 4)
    data = at.population_moments(Lam, 7) if population else at.moments_from_sequences(at.sample_sequences(Lam, 7, 300, seed=1))
    if kind == "merged":
        model, p = at.MergedAttention(D, 2), at.merged_random_init(D, 2, 0.6, 2, seed=3)
    else:
        R = 1 if kind == "separate" else 2
        model, p = at.SeparateAttention(D, 2, R), at.separate_random_init(D, 2, R, 0.6, 2, seed=3)
    g = model.grad(p, data)
    fd = _finite_diff(model, p, data)
    for name in p:
        assert np.allclose(g[name], fd[name], atol=1e-6), name


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), scale=st.floats(0.1, 0.8))
def test_flow_conserves_balances(seed, scale):
    """v² − ‖k‖², ‖k‖² − ‖q‖² (separate) and v² − ‖U‖² (merged) are constant along the exact flow."""
    D = 3
    Lam = cov(D, seed)
    pm = at.population_moments(Lam, 5)
    rng = np.random.default_rng(seed)
    ms = at.SeparateAttention(D, 3)
    p = {"v": scale * rng.standard_normal((1, 3)), "k": scale * rng.standard_normal((1, 3, 1, D)),
         "q": scale * rng.standard_normal((1, 3, 1, D))}
    rec = lambda p: {"a": p["v"] ** 2 - np.sum(p["k"] ** 2, axis=(2, 3)),
                     "b": np.sum(p["k"] ** 2, axis=(2, 3)) - np.sum(p["q"] ** 2, axis=(2, 3))}
    tr = integrate_flow(ms, p, pm, [0, 2, 5], rates=ms.paper_rates, record=rec)
    assert np.allclose(tr["a"], tr["a"][0], atol=1e-8) and np.allclose(tr["b"], tr["b"][0], atol=1e-8)
    mm = at.MergedAttention(D, 2)
    p = at.merged_random_init(D, 2, scale, 1, seed=seed)
    rec = lambda p: {"a": p["v"] ** 2 - np.sum(p["U"] ** 2, axis=(2, 3))}
    tr = integrate_flow(mm, p, pm, [0, 2, 5], rates=mm.paper_rates, record=rec)
    assert np.allclose(tr["a"], tr["a"][0], atol=1e-8)


def test_zero_pairs_stay_zero():
    """A rank-R head embedded in a rank-R' > R model: the extra key/query pairs have zero gradient."""
    D, H = 3, 2
    model = at.SeparateAttention(D, H, 3)
    p = at.separate_random_init(D, H, 3, 0.5, 1, seed=1)
    p["k"][:, :, 2] = 0
    p["q"][:, :, 2] = 0
    g = model.grad(p, at.population_moments(cov(D), 4))
    assert np.all(g["k"][:, :, 2] == 0) and np.all(g["q"][:, :, 2] == 0)


def test_paper_time_convention():
    """With rates ½, one engine step of size dt is θ − dt·½∂L/∂θ, i.e. Euler for τθ̇ = −½∂L/∂θ."""
    D = 2
    model = at.SeparateAttention(D, 2)
    p = at.separate_random_init(D, 2, 1, 0.5, 1, seed=0)
    data = at.population_moments(cov(D), 3)
    g = model.grad(p, data)
    tr = train_gd(model, p, data, 0.1, steps=[1], rates=model.paper_rates)
    for name in p:
        assert np.allclose(tr.params[name], p[name] - 0.1 * 0.5 * g[name])


def test_aligned_inits():
    p = at.merged_aligned_init(4, 8, 0.1, n_ensemble=3, seed=1)
    M = at.MergedAttention(4, 8).product(p)
    assert np.allclose(M, 0.01 * np.eye(4) / 2)
    assert np.allclose(np.linalg.norm(p["v"], axis=1), 0.1)
    assert np.allclose(np.sqrt(np.sum(p["U"] ** 2, axis=(1, 2, 3))), 0.1)
    O = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0]
    ps = at.separate_aligned_init(O, [0.1, 0.2], H=3)
    Ms = at.SeparateAttention(3, 3).product(ps)[0]
    assert np.allclose(Ms, O[:, :2] @ np.diag([0.1**3, 0.2**3]) @ O[:, :2].T)
    pr = at.separate_random_init(3, 4, 2, 0.05, 2, seed=0)
    assert np.allclose(np.abs(pr["v"]), 0.05) and np.allclose(np.linalg.norm(pr["k"], axis=-1), 0.05)


def test_pcr_full_rank_is_least_squares_and_zero_components_is_zero():
    D = 3
    seq = at.sample_sequences(cov(D), 10, 50, seed=2)
    O = np.linalg.qr(np.random.default_rng(1).standard_normal((D, D)))[0]
    Lhat = np.einsum("pnd,pne->pde", seq.x, seq.x) / seq.N
    w_ls = np.linalg.solve(Lhat, seq.beta[..., None])[..., 0]
    assert np.allclose(at.pcr_predict(seq, O), np.einsum("pd,pd->p", w_ls, seq.xq))
    assert np.all(at.pcr_predict(seq, O[:, :0]) == 0)


def test_whitened_tasks():
    seq = at.sample_sequences(np.eye(3), 4, 200, seed=0, whiten_tasks=True)
    assert np.allclose(seq.w.mean(0), 0, atol=1e-12) and np.allclose(seq.w.T @ seq.w / 200, np.eye(3))


def test_covariance_with_spectrum():
    Lam, O = at.covariance_with_spectrum([3.0, 2.0, 1.0], seed=2)
    assert np.allclose(Lam @ O, O * np.array([3.0, 2.0, 1.0]))


@pytest.mark.parametrize("call", [
    lambda: at.population_moments(np.array([[1.0, 0.5], [0.0, 1.0]]), 3),
    lambda: at.population_moments(np.eye(2), 0),
    lambda: at.population_moments(np.eye(2), 2.5),
    lambda: at.sample_sequences(np.eye(2), 3, 0),
    lambda: at.sample_sequences(np.eye(3), 3, 2, whiten_tasks=True),
    lambda: at.SeparateAttention(2, 0),
    lambda: at.MergedAttention(2, 1).loss({"v": np.zeros((1, 2)), "U": np.zeros((1, 2, 2, 2))}, at.population_moments(np.eye(2), 3)),
    lambda: at.SeparateAttention(3, 1).grad(at.separate_random_init(3, 1, 1, 0.1), at.population_moments(np.eye(2), 3)),
    lambda: at.SeparateAttention(2, 1).grad(at.separate_random_init(2, 1, 1, 0.1), "not moments"),
    lambda: at.AttentionMoments(np.eye(3), np.eye(2), 1.0),
    lambda: at.AttentionMoments(np.eye(4), np.eye(2), -1.0),
    lambda: at.AttentionMoments(np.eye(4), np.eye(2), 1.0, kron=(np.eye(2), 2 * np.eye(2))),
    lambda: at.separate_random_init(2, 1, 1, 0.0),
    lambda: at.merged_aligned_init(2, 2, -1.0),
    lambda: at.separate_aligned_init(np.eye(2), [0.1, 0.1, 0.1]),
    lambda: at.pcr_predict(at.sample_sequences(np.eye(2), 3, 2), np.eye(3)),
    lambda: at.attention_forward(np.zeros((2, 3)), np.zeros((1, 3, 3)), np.zeros((1, 1, 3)), np.zeros((1, 1, 3))),
    lambda: at.covariance_with_spectrum([1.0, -1.0]),
])
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


# --------------------------------------------------------------------------- the full model, the code init
def _full_params(D, H, scale, seed):
    rng = np.random.default_rng(seed)
    return {"b": scale * rng.standard_normal((1, H, D + 1)), "A": scale * rng.standard_normal((1, H, D + 1, D))}


def test_full_merged_equals_attention_forward_and_sample_mse():
    D, N, H = 3, 6, 2
    seq = at.sample_sequences(cov(D, 2), N, 40, seed=3)
    model = at.FullMergedAttention(D, H)
    p = _full_params(D, H, 0.7, 1)  # every block nonzero, dormant ones included
    full = at.attention_forward(at.token_matrix(seq), *model.embed(p))[:, -1, -1]
    assert np.allclose(full, model.predict(p, seq), atol=1e-12)
    data = at.full_moments_from_sequences([seq])
    assert np.isclose(model.loss(p, data)[0], np.mean((seq.yq - full) ** 2), rtol=1e-12)


def test_full_merged_with_frozen_dormant_blocks_is_the_reduced_model():
    D, N, H = 3, 5, 3
    seq = at.sample_sequences(cov(D, 4), N, 60, seed=5)
    reduced = at.MergedAttention(D, H)
    p = at.merged_random_init(D, H, 0.6, 1, seed=6)
    frozen = at.FullMergedAttention(D, H, train_dormant=False)
    pf = at.full_from_merged(p)
    data, md = at.full_moments_from_sequences([seq]), at.moments_from_sequences(seq)
    assert np.allclose(frozen.loss(pf, data), reduced.loss(p, md), rtol=1e-12)
    gf, gr = frozen.grad(pf, data), reduced.grad(p, md)
    assert np.allclose(gf["b"][:, :, D], gr["v"], atol=1e-12) and np.allclose(gf["A"][:, :, :D], gr["U"], atol=1e-12)
    assert np.all(gf["b"][:, :, :D] == 0) and np.all(gf["A"][:, :, D] == 0)
    # the trained full model moves the dormant blocks: their gradient on a sample is not zero
    g = at.FullMergedAttention(D, H).grad(pf, data)
    assert np.abs(g["b"][:, :, :D]).max() > 1e-3


def test_full_merged_gradient_matches_finite_differences():
    D, N, H = 2, 4, 2
    seq = at.sample_sequences(cov(D, 1), N, 30, seed=2)
    model = at.FullMergedAttention(D, H)
    data = at.full_moments_from_sequences([seq])
    p = _full_params(D, H, 0.5, 3)
    g = model.grad(p, data)
    for name in ("b", "A"):
        flat = p[name].reshape(-1)
        for j in range(flat.size):
            hi, lo = {k: v.copy() for k, v in p.items()}, {k: v.copy() for k, v in p.items()}
            hi[name].reshape(-1)[j] += 1e-6
            lo[name].reshape(-1)[j] -= 1e-6
            fd = (model.loss(hi, data) - model.loss(lo, data))[0] / 2e-6
            assert np.isclose(fd, g[name].reshape(-1)[j], rtol=1e-5, atol=1e-7)


def test_dormant_gradient_shrinks_like_one_over_root_P():
    """At the reduced model's start the dormant blocks' sample gradient is sampling noise, ~P^{-1/2}."""
    D, H, N = 3, 2, 8
    p = at.full_from_merged(at.merged_random_init(D, H, 0.5, 1, seed=1))
    model = at.FullMergedAttention(D, H)
    sizes = []
    for P in (500, 8000):
        data = at.full_moments_from_sequences([at.sample_sequences(np.eye(D), N, P, seed=s) for s in range(6)])
        E = data.C.shape[0]
        g = model.grad({k: np.repeat(v, E, 0) for k, v in p.items()}, data)
        sizes.append(np.sqrt(np.mean(g["b"][:, :, :D] ** 2) + np.mean(g["A"][:, :, D] ** 2)))
    assert 2.0 < sizes[0] / sizes[1] < 8.0  # √16 = 4


def test_code_init_scales_and_convention():
    D, H, R, init, N = 4, 5, 1, 0.01, 31
    p = at.separate_code_init(D, H, R, init, N=N, n_ensemble=4000, seed=0)
    s = N ** (1 / 3)
    assert np.isclose(p["k"].std(), s * init / np.sqrt(R * (D + 1)), rtol=0.02)
    assert np.isclose(p["q"].std(), s * init / np.sqrt(R * (D + 1)), rtol=0.02)
    assert np.isclose(p["v"].std(), s * init, rtol=0.03)
    # the same draw without conversion, run as the code runs it (no 1/N), gives the same prediction
    p_code = at.separate_code_init(D, H, R, init, n_ensemble=2, seed=1)
    p_here = at.separate_code_init(D, H, R, init, N=N, n_ensemble=2, seed=1)
    seq = at.sample_sequences(cov(D), N, 30, seed=0)
    model = at.SeparateAttention(D, H, R)
    assert np.allclose(N * model.predict(p_code, seq), model.predict(p_here, seq), rtol=1e-12)
    with pytest.raises(ValueError):
        at.separate_code_init(D, H, R, -1.0)


@pytest.mark.parametrize("call", [
    lambda: at.FullMergedAttention(2.5, 2),
    lambda: at.full_moments_from_sequences([]),
    lambda: at.FullMergedAttention(2, 2).loss({"b": np.zeros((1, 2, 3)), "A": np.zeros((1, 2, 3, 2))},
                                              at.population_moments(np.eye(2), 3)),
    lambda: at.FullMergedAttention(2, 2).loss({"b": np.zeros((1, 2, 2)), "A": np.zeros((1, 2, 3, 2))}, None),
])
def test_full_model_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()
