"""Tests of theorylib.sim.fusion (Chapter 4): gradients, masks, initialisations, data, measurements.

References: central finite differences of the loss, the sample path against the moment path,
networks trained one by one against the same networks trained as one ensemble.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylib.sim import engine
from theorylib.sim import fusion as fs


def fd_check(net, p, data, n_entries=3, eps=1e-6, seed=0):
    rng = np.random.default_rng(seed)
    g = net.grad(p, data)
    E = p[net.names[0]].shape[0]
    errs = []
    for name in net.names:
        allowed = np.argwhere(np.broadcast_to(net.masks[name], p[name].shape) > 0)
        for idx in allowed[rng.choice(len(allowed), size=min(n_entries, len(allowed)), replace=False)]:
            idx = tuple(idx)
            pp = {k: v.copy() for k, v in p.items()}
            pm = {k: v.copy() for k, v in p.items()}
            pp[name][idx] += eps
            pm[name][idx] -= eps
            fd = (net.loss(pp, data)[idx[0]] - net.loss(pm, data)[idx[0]]) / (2 * eps)
            errs.append(abs(fd - g[name][idx]))
    return max(errs)


@settings(max_examples=15, deadline=None)
@given(depth=st.integers(1, 4), seed=st.integers(0, 1000), d_a=st.integers(1, 3), d_b=st.integers(1, 3))
def test_moment_gradient_matches_finite_differences(depth, seed, d_a, d_b):
    lf = np.arange(1, depth + 1)
    net = fs.FusionNet(d_a, d_b, depth, lf, 3)
    rng = np.random.default_rng(seed)
    p = {n: 0.6 * rng.standard_normal((depth,) + (net.widths[l + 1], net.widths[l])) * net.masks[n] for l, n in enumerate(net.names)}
    A = rng.standard_normal((d_a + d_b, d_a + d_b))
    S, s = A @ A.T, rng.standard_normal(d_a + d_b)
    data = fs.FusionMoments(S, s, float(s @ np.linalg.solve(S, s)) + 5.0)  # consistent E[y²]
    # central differences err by O(eps²·L''') plus round-off O(1e-16·|L|/eps): both grow with
    # the size of the loss and its gradient (a badly conditioned Σ gives |∂L| ~ 10²), so the
    # bound is relative to that scale, not absolute
    scale = 1.0 + max(float(np.abs(g).max()) for g in net.grad(p, data).values())
    scale += float(np.abs(net.loss(p, data)).max())
    assert fd_check(net, p, data, seed=seed) < 1e-6 * scale


@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_relu_sample_gradient_matches_finite_differences(slope):
    net = fs.FusionNet(1, 1, 3, [2, 3], 4, slope=slope)
    rng = np.random.default_rng(1)
    p = {n: rng.standard_normal((2,) + (net.widths[l + 1], net.widths[l])) * net.masks[n] for l, n in enumerate(net.names)}
    data = fs.toy_samples(2.0, 0.3, 64, seed=0)
    assert fd_check(net, p, data) < 1e-6


def test_sample_path_equals_moment_path_for_linear_nets():
    net = fs.FusionNet(1, 1, 3, [1, 2, 3], 4)
    rng = np.random.default_rng(2)
    p = {n: 0.5 * rng.standard_normal((3,) + (net.widths[l + 1], net.widths[l])) * net.masks[n] for l, n in enumerate(net.names)}
    d = fs.toy_samples(1.5, -0.4, 500, seed=3)
    gs, gm = net.grad(p, d), net.grad(p, d.moments())
    assert max(np.abs(gs[k] - gm[k]).max() for k in p) < 1e-12
    assert np.allclose(net.loss(p, d), net.loss(p, d.moments()))
    wa, wb = net.modality_coefficients(p, d)
    WA, WB = net.branch_weights(p)
    assert np.allclose(wa, WA) and np.allclose(wb, WB)


def test_masks_keep_the_branches_separate_under_gd():
    net = fs.FusionNet(2, 3, 4, [1, 2, 3, 4], 5)
    p = fs.gaussian_init(net, 0.3, seed=0)
    tr = engine.train_gd(net, p, fs.FusionMoments(np.eye(5), np.arange(1.0, 6.0), 60.0), 0.01, steps=[0, 200])
    for name in net.names:
        assert np.all(tr.params[name][np.broadcast_to(net.masks[name], tr.params[name].shape) == 0] == 0)


def test_ensemble_over_fusion_layers_equals_separate_runs():
    data = fs.toy_moments(2.0, 0.25)
    lfs = [1, 2, 3, 4]
    net = fs.FusionNet(1, 1, 4, lfs, 3)
    p = fs.aligned_init(net, 0.3, seed=5)
    together = engine.train_gd(net, p, data, 0.01, steps=[300]).params
    for e, lf in enumerate(lfs):
        single = fs.FusionNet(1, 1, 4, lf, 3)
        q = {k: v[e:e + 1].copy() for k, v in p.items()}
        alone = engine.train_gd(single, q, data, 0.01, steps=[300]).params
        for k in p:
            assert np.allclose(alone[k][0], together[k][e], atol=1e-13)


@pytest.mark.parametrize("lf", [1, 2, 3, 4])
def test_aligned_init_is_balanced_rank_one_and_stays_rank_one(lf):
    u0 = 0.2
    net = fs.FusionNet(1, 1, 4, lf, 6)
    p = fs.aligned_init(net, u0, n_ensemble=2, seed=1)
    W = net.product(p)
    assert np.allclose(W, u0**lf * (np.sqrt(2) * u0) ** (4 - lf))
    h = net.hidden
    for l in range(3):
        A, B = p[net.names[l]], p[net.names[l + 1]]
        diff = np.swapaxes(B, 1, 2) @ B - A @ np.swapaxes(A, 1, 2)
        if l + 1 < lf:
            # after a branch layer only the per-branch blocks are conserved (the symmetry is GL(h) × GL(h))
            diff = diff.copy()
            diff[:, :h, h:] = 0
            diff[:, h:, :h] = 0
        assert np.abs(diff).max() < 1e-14
    tr = engine.train_gd(net, p, fs.toy_moments(2.0, 0.4), 0.01, steps=[2000])
    for name in net.names[1:-1]:
        sv = np.linalg.svd(tr.params[name], compute_uv=False)
        assert np.all(sv[:, 2] < 1e-10 * sv[:, 0])  # at most rank two (one per branch), exactly as at init


def test_gaussian_init_numel_scheme_norms():
    net = fs.FusionNet(1, 1, 4, 3, 100)
    p = fs.gaussian_init(net, 0.1, n_ensemble=2, seed=0, scheme="numel")
    W2 = p["W2"][0]  # a branch layer: two blocks of norm ≈ 0.1
    assert abs(np.linalg.norm(W2[:100, :100]) - 0.1) < 0.01
    assert abs(np.linalg.norm(p["W4"][0]) - np.sqrt(2) * 0.1) < 0.03
    with pytest.raises(ValueError):
        fs.gaussian_init(net, 0.1, scheme="xavier")


def test_toy_data_from_the_generative_model():
    m = fs.toy_moments([2.0, 3.0], [0.5, -0.2])
    S = m.sigma[0]
    assert np.isclose(S[0, 0], 4.0) and np.isclose(S[1, 1], 1.0) and np.isclose(S[0, 1] / 2.0, 0.5)
    d = fs.toy_samples(2.0, 0.5, 200_000, seed=0).moments()
    assert np.allclose(d.sigma[0], S, atol=0.05)
    assert np.allclose(d.sigma_yx[0], m.sigma_yx[0], atol=0.08)


def test_multi_samples():
    d, S, w = fs.multi_samples(70, seed=0)
    assert d.X.shape == (70, 100) and np.allclose(np.diag(S)[:50], 3.0) and np.allclose(w, 0.1)


def test_first_crossing_interpolates_and_raises():
    t = np.array([0.0, 1.0, 2.0])
    w = np.array([[0.0, 0.0], [0.4, 1.0], [1.0, 2.0]])
    assert np.allclose(fs.first_crossing(t, w, [0.7, 0.5]), [1.5, 0.5])
    with pytest.raises(ValueError, match="never reach"):
        fs.first_crossing(t, w, 5.0)


def test_input_validation():
    with pytest.raises(ValueError):
        fs.FusionNet(1, 1, 3, 4, 2)
    with pytest.raises(ValueError):
        fs.FusionNet(1, 1, 3, 1, 2, slope=1.5)
    net = fs.FusionNet(1, 1, 2, 2, 2, slope=0.0)
    p = fs.gaussian_init(net, 0.1, n_ensemble=1)
    with pytest.raises(ValueError, match="needs FusionSamples"):
        net.grad(p, fs.toy_moments(2.0, 0.0))
    with pytest.raises(ValueError):
        fs.FusionMoments(np.array([[1.0, 2.0], [2.0, 1.0]]), np.ones(2), 1.0)
    with pytest.raises(ValueError):
        fs.FusionMoments(np.eye(2), np.ones(3), 1.0)
    with pytest.raises(ValueError):
        fs.aligned_init(fs.FusionNet(2, 1, 2, 2, 2), 0.1)
    with pytest.raises(ValueError):
        fs.toy_mixing(1.0, 1.0)
    lin = fs.FusionNet(1, 1, 2, 2, 2)
    with pytest.raises(ValueError, match="inputs"):
        lin.grad(fs.gaussian_init(lin, 0.1, n_ensemble=1), fs.FusionMoments(np.eye(3), np.ones(3), 3.0))


def test_fusion_moments_reject_inconsistent_statistics():
    # E[y²] below the part the best linear predictor explains means a negative minimum loss
    with pytest.raises(ValueError, match=r"e_yy = 1 is below Σ_yx Σ⁺ Σ_xy .*\(3\)"):
        fs.FusionMoments(np.eye(3), np.ones(3), 1.0)
    with pytest.raises(ValueError, match=r"e_yy\[1\] = 0\.5 is below"):
        fs.FusionMoments(np.stack([np.eye(2), np.eye(2)]), np.ones(2), np.array([2.0, 0.5]))
    data = fs.FusionMoments(np.eye(3), np.ones(3), 3.0)  # exactly the fitted part: minimum loss 0
    assert data.e_yy[0] == 3.0


# ---------------------------------------------------------------- the authors' deep widths (Chapter 4)

from theorylib.checks.ch04_fusion_depth import AuthorsDeepFusion  # noqa: E402


@pytest.mark.parametrize("lf", [1, 2, 3, 4])
def test_authors_deep_fusion_gradient_matches_finite_differences(lf):
    net = AuthorsDeepFusion(4, lf, hidden=3)
    p = net.init(1.0, n_ensemble=2, seed=lf)
    data = fs.toy_moments([1.5, 2.0], [0.3, -0.4])
    g = net.grad(p, data)
    rng = np.random.default_rng(0)
    for name, arr in p.items():
        idx = (1,) + tuple(int(rng.integers(0, n)) for n in arr.shape[1:])
        pp = {k: v.copy() for k, v in p.items()}
        pm = {k: v.copy() for k, v in p.items()}
        pp[name][idx] += 1e-6
        pm[name][idx] -= 1e-6
        fd = (net.loss(pp, data)[1] - net.loss(pm, data)[1]) / 2e-6
        assert abs(fd - g[name][idx]) < 1e-7, name


def test_authors_deep_fusion_late_equals_fusion_net():
    # late fusion (L_f = L) has no shared hidden layer, so FusionNet's padding is exact there:
    # the same weights give the same loss and the same gradient in both implementations
    h = 4
    ours = AuthorsDeepFusion(3, 3, hidden=h)
    p = ours.init(0.8, n_ensemble=2, seed=5)
    net = fs.FusionNet(1, 1, 3, 3, h)
    q = {n: np.zeros((2,) + (net.widths[l + 1], net.widths[l])) for l, n in enumerate(net.names)}
    q["W1"][:, :h, :1], q["W1"][:, h:, 1:] = p["A1"], p["B1"]
    q["W2"][:, :h, :h], q["W2"][:, h:, h:] = p["A2"], p["B2"]
    q["W3"] = p["F"].copy()
    data = fs.toy_moments(2.0, 0.5)
    assert np.allclose(ours.loss(p, data), net.loss(q, data), atol=1e-13)
    g, gq = ours.grad(p, data), net.grad(q, data)
    assert np.allclose(g["A2"], gq["W2"][:, :h, :h]) and np.allclose(g["B1"], gq["W1"][:, h:, 1:])
    assert np.allclose(g["F"], gq["W3"])


def test_authors_deep_fusion_init_norms_and_widths():
    net = AuthorsDeepFusion(4, 2, hidden=100)
    assert net.shapes == {"A1": (100, 1), "B1": (100, 1), "F": (100, 200), "S3": (100, 100),
                          "S4": (1, 100)}
    p = net.init(0.1, n_ensemble=20, seed=0)
    norms = {k: np.linalg.norm(v, axis=(1, 2)).mean() for k, v in p.items()}
    assert abs(norms["A1"] - 0.1) < 0.01 and abs(norms["S3"] - 0.1 * np.sqrt(2)) < 0.01
    with pytest.raises(ValueError):
        AuthorsDeepFusion(3, 4)


def test_gd_time_scales_with_tau_in_gradient_flow():
    # the flow at τ = 2 is the τ = 1 flow at half the time (non-whitened toy, correlated)
    net = fs.FusionNet(1, 1, 3, 2, 2)
    p = fs.aligned_init(net, 0.2, n_ensemble=1, seed=1)
    data = fs.toy_moments(2.0, 0.4)
    rec = lambda q: {"W": net.product(q)}
    slow = engine.integrate_flow(net, p, data, [0.0, 2.0, 6.0], tau=2.0, record=rec)
    fast = engine.integrate_flow(net, p, data, [0.0, 1.0, 3.0], tau=1.0, record=rec)
    assert np.allclose(slow["W"], fast["W"], atol=1e-8)
    assert np.abs(slow["W"][-1] - slow["W"][0]).max() > 0.1  # the weights did move


def test_wrong_sign_growth_is_not_vacuous():
    """The sign-caveat check must fail when W_B merely starts negative and never grows that way."""
    from theorylib.checks.ch04_fusion_depth import wrong_sign_growth

    t = np.linspace(0.0, 4.0, 401)
    start_negative = -2e-12 * np.exp(-t) + 1e-9 * t**4  # minimum at t = 0: no wrong-sign growth
    assert not wrong_sign_growth(t, start_negative, 1.7)[3]
    dip = -2e-12 * np.exp(3.0 * t) * (t < 1.7) - 2e-12 * np.exp(3.0 * 1.7) * (t >= 1.7) * np.exp(-(t - 1.7))
    wb0, wb_min, t_min, ok = wrong_sign_growth(t, dip, 1.7)
    assert ok and wb0 == dip[0] and t_min <= 1.7 and wb_min < 50 * wb0
    late = np.where(t < 3.0, -2e-12, -1e-9)  # the minimum comes too late (after 1.5 t_A)
    assert not wrong_sign_growth(t, late, 1.7)[3]
