"""Bad input raises a ValueError that names the argument (issue: reliability of theorylib).

Each row is one call that used to hang, return garbage (t = −9e16, NaN, a negative time, a
truncated width) or fail with an obscure error; the ``match`` names the argument and the
condition. A SIGALRM guard turns a regression into a hang into a failure instead.
"""
import signal

import numpy as np
import pytest

from theorylib import _validate as v
from theorylib.sim import attention as sa
from theorylib.sim import bias_free as sb
from theorylib.sim import data, engine, linear
from theorylib.sim import fusion as sf
from theorylib.sim import rich_lazy as sr
from theorylib.theory import bias_free_relu as bf
from theorylib.theory import deep_linear as dl
from theorylib.theory import fusion as fu
from theorylib.theory import linear_attention as la
from theorylib.theory import rich_lazy as rl

nan, inf = np.nan, np.inf
M3, U3, V3 = data.aligned_moments([3.0, 1.0], 3, 3)
NET = linear.DeepLinear((3, 3, 3))
P0 = linear.decoupled_init(U3, V3, (3, 3, 3), 1e-2)
S, s = fu.toy_statistics(2.0, 0.3)
I2 = np.eye(2)

CASES = [
    # engine: hangs and garbage
    ("flow times inf", lambda: engine.integrate_flow(NET, P0, M3, [0, inf]), "times must be finite"),
    ("flow times nan", lambda: engine.integrate_flow(NET, P0, M3, [0, nan]), "times must be finite"),
    ("flow times empty", lambda: engine.integrate_flow(NET, P0, M3, []), "times must not be empty"),
    ("flow times 2-D", lambda: engine.integrate_flow(NET, P0, M3, [[0, 1]]), "times must be 1-D"),
    ("flow rtol 0", lambda: engine.integrate_flow(NET, P0, M3, [0, 1], rtol=0), "rtol must be positive"),
    ("gd times nan", lambda: engine.train_gd(NET, P0, M3, 0.01, times=[nan]), "times must be finite"),
    ("gd times inf", lambda: engine.train_gd(NET, P0, M3, 0.01, times=[inf]), "times must be finite"),
    ("gd times empty", lambda: engine.train_gd(NET, P0, M3, 0.01, times=[]), "must not be empty"),
    ("gd steps empty", lambda: engine.train_gd(NET, P0, M3, 0.01, steps=[]), "must not be empty"),
    ("gd steps float", lambda: engine.train_gd(NET, P0, M3, 0.01, steps=[1.5]), "steps must be non-negative integers"),
    ("gd check_every 0", lambda: engine.train_gd(NET, P0, M3, 0.01, steps=[3], check_every=0), "check_every must be ≥ 1"),
    ("gd check_every 2.5", lambda: engine.train_gd(NET, P0, M3, 0.01, steps=[3], check_every=2.5), "check_every must be an integer"),
    ("gd blowup nan", lambda: engine.train_gd(NET, P0, M3, 0.01, steps=[3], blowup=nan), "blowup must be a positive"),
    ("gd tau array", lambda: engine.train_gd(NET, P0, M3, 0.01, steps=[3], tau=[1, 2]), "tau must be a scalar"),
    ("gd tau nan", lambda: engine.train_gd(NET, P0, M3, 0.01, steps=[3], tau=nan), "tau must be positive"),
    ("steps lr 0", lambda: engine.steps_for_times([1.0], 0.0), "lr must be positive"),
    ("steps nan", lambda: engine.steps_for_times([nan], 0.1), "times must be finite"),
    # data
    ("Moments nan syx", lambda: data.Moments(np.eye(3), [[nan, 0, 0]] * 3, 1.0), "sigma_yx must be finite"),
    ("Moments nan sxx", lambda: data.Moments([[nan]], [[1.0]], 1.0), "sigma_xx must be finite"),
    ("Moments inconsistent", lambda: data.Moments(np.eye(3), np.diag([3.0, 1, 0]), 1.0), "trace_yy = 1 is below"),
    ("Moments empty", lambda: data.Moments(np.zeros((0, 0)), np.zeros((1, 0)), 0.0), "must not be empty"),
    ("samples nan", lambda: data.moments_from_samples([[nan, 1.0]], [[1.0]]), "X must be finite"),
    ("aligned s nan", lambda: data.aligned_moments([1.0, nan], 2, 2), "s must be finite"),
    ("aligned n_in 2.7", lambda: data.aligned_moments([1.0], 2.7, 2), "n_in must be an integer"),
    ("hierarchical 3.5", lambda: data.hierarchical_data(3.5, 2), "n_levels must be an integer"),
    ("orthogonal 2.7", lambda: data.random_orthogonal(2.7, np.random.default_rng(0)), "n must be an integer"),
    # linear
    ("widths 2.7", lambda: linear.DeepLinear((3, 2.7, 3)), "widths must hold whole numbers"),
    ("widths nan", lambda: linear.DeepLinear((3, nan, 3)), "widths must hold whole numbers"),
    ("u0 empty", lambda: linear.decoupled_init(U3, V3, (3, 3, 3), []), "u0 must not be empty"),
    ("u0 nan", lambda: linear.decoupled_init(U3, V3, (3, 3, 3), nan), "u0 must be finite"),
    ("u0 inf", lambda: linear.decoupled_init(U3, V3, (3, 3, 3), inf), "u0 must be finite"),
    ("U not orthogonal", lambda: linear.decoupled_init(2 * U3, V3, (3, 3, 3), 0.1), "U must be orthogonal"),
    ("V wrong size", lambda: linear.decoupled_init(U3, I2, (3, 3, 3), 0.1), r"V must be a square orthogonal matrix of shape \(3, 3\)"),
    ("decoupled widths 2.7", lambda: linear.decoupled_init(U3, V3, (3, 2.7, 3), 0.1), "widths must hold whole numbers"),
    ("decoupled n_ensemble 2.5", lambda: linear.decoupled_init(U3, V3, (3, 3, 3), 0.1, n_ensemble=2.5), "n_ensemble must be an integer"),
    ("random scale nan", lambda: linear.random_init((3, 3), nan), "scale must be positive and finite"),
    ("random scale inf", lambda: linear.random_init((3, 3), inf), "scale must be positive and finite"),
    ("random widths 2.7", lambda: linear.random_init((3, 2.7, 3), 0.1), "widths must hold whole numbers"),
    ("mode_strengths k > size", lambda: linear.mode_strengths(NET.product(P0), U3, V3, k=5), "k must be ≤ 3"),
    ("mode_strengths k 1.5", lambda: linear.mode_strengths(NET.product(P0), U3, V3, k=1.5), "k must be an integer"),
    ("mode_strengths U shape", lambda: linear.mode_strengths(NET.product(P0), I2, V3), r"U must have shape \(3, ·\)"),
    # deep_linear
    ("mode_strength t nan", lambda: dl.mode_strength(nan, 1.0, 0.1), "t must be finite"),
    ("mode_strength shapes", lambda: dl.mode_strength([1, 2], [1, 2, 3], 0.1), r"t \(2,\), s \(3,\)"),
    ("mode_strength before pole", lambda: dl.mode_strength(-10.0, 1.0, 2.0), "before the pole"),
    ("learning_time u < u0", lambda: dl.learning_time(1.0, 0.5, 0.1), "u must lie between u0 and s"),
    ("learning_time above s, u > u0", lambda: dl.learning_time(1.0, 2.0, 3.0), "u must lie between u0 and s"),
    ("deep time u < u0", lambda: dl.deep_learning_time(1.0, 0.5, 0.1, 3), "need u ≥ u0"),
    ("deep time N inf", lambda: dl.deep_learning_time(1.0, 0.1, 0.5, inf), "n_weights must hold whole numbers"),
    ("deep time N 2.7", lambda: dl.deep_learning_time(1.0, 0.1, 0.5, 2.7), "n_weights must hold whole numbers"),
    ("half time tau nan", lambda: dl.half_learning_time(1.0, 0.1, tau=nan), "tau must be positive"),
    # fusion theory
    ("aligned_flow t nan", lambda: fu.aligned_flow([0, nan], 3, 3, S, s, 0.1), "t must be finite"),
    ("aligned_flow t inf", lambda: fu.aligned_flow([0, inf], 3, 3, S, s, 0.1), "t must be finite"),
    ("aligned_flow t empty", lambda: fu.aligned_flow([], 3, 3, S, s, 0.1), "t must not be empty"),
    ("aligned_flow t decreasing", lambda: fu.aligned_flow([1, 0], 3, 3, S, s, 0.1), "t must be non-decreasing"),
    ("aligned_flow u0 nan", lambda: fu.aligned_flow([0, 1], 3, 3, S, s, nan), "u0 must be positive"),
    ("aligned_flow depth 3.5", lambda: fu.aligned_flow([0, 1], 3.5, 3, S, s, 0.1), "depth must be an integer"),
    ("aligned_flow tau 0", lambda: fu.aligned_flow([0, 1], 3, 3, S, s, 0.1, tau=0), "tau must be positive"),
    ("fusion ratio u0 nan", lambda: fu.fusion_time_ratio(4, 3, S, s, 1, nan), "u0 must be finite"),
    ("fusion ratio depth 2.5", lambda: fu.fusion_time_ratio(2.5, 2, S, s, 1, 0.1), "depth must be an integer"),
    ("fusion times tau nan", lambda: fu.fusion_times(4, 3, S, s, 1, 0.1, tau=nan), "tau must be positive"),
    ("fusion times overflow", lambda: fu.fusion_times(4, 4, S, s, 1, 1e-300), "t_A is not representable"),
    ("logistic t nan", lambda: fu.logistic_weight(nan, 1.0, 0.1, 1.0), "t must be finite"),
    ("logistic half tau nan", lambda: fu.logistic_half_time(1.0, 0.1, 1.0, tau=nan), "tau must be positive"),
    ("preference nan", lambda: fu.preference_lines(nan, 1.0), "sigma_a must be positive"),
    ("branch u0 nan", lambda: fu.early_branch_size(0.5, nan, 0.5, 3), "u0 must be positive"),
    ("branch Lf 2.7", lambda: fu.early_branch_size(0.5, 0.1, 0.5, 2.7), "fusion_layer must be an integer"),
    ("d_a 1.5", lambda: fu.unimodal_solution(S, s, 1.5), "d_a must be an integer"),
    # rich_lazy theory
    ("split delta nan", lambda: rl.split_init([1.0, 0], nan), "delta must be finite"),
    ("riccati delta nan", lambda: rl.riccati_nu(1.0, nan, 1.0, 0.0), "delta must be finite"),
    ("blowup delta nan", lambda: rl.riccati_blowup_time(nan, 1.0, 0.0), "delta must be finite"),
    ("mirror delta nan", lambda: rl.mirror_potential([1.0, 0], nan), "delta must be finite"),
    ("drift lr nan", lambda: rl.gd_drift_per_step(1.0, [1.0, 0], [1.0, 0], nan), "lr must be positive"),
    ("balanced s nan", lambda: rl.balanced_solution(1.0, nan, 0.1, 0.0), "s must be finite"),
    ("lazy y shape", lambda: rl.lazy_limit([[1.0, 0]], [1.0, 2.0], [0.0, 0]), r"y must have shape \(1,\)"),
    ("ray beta0 shape", lambda: rl.ray_limit([[1.0, 0]], [1.0], [0.0, 0, 1]), r"beta0 must have shape \(2,\)"),
    ("single neuron a0 tiny", lambda: rl.single_neuron(1.0, 1e-300, [1.0, 0], [1.0, 0]), "too close to 0"),
    ("mu_phi shapes", lambda: rl.mu_phi([1.0], [[1.0, 0]], [1.0, 0, 0]), "beta_star of shape"),
    # bias_free_relu
    ("strength t nan", lambda: bf.function_strength(nan, 1.0, 0.1, 0.0), "t must be finite"),
    ("loss_curve shapes", lambda: bf.loss_curve([1.0], [1.0, 2.0], [0.1, 0.1, 0.1], 0.0), "u0 shape"),
    ("linear_fit non-PSD", lambda: bf.linear_fit(-I2, I2, 1.0), "sigma_xx must be positive semi-definite"),
    ("linear_fit inconsistent", lambda: bf.linear_fit(I2, 2 * I2, 1.0), "trace_yy = 1 is below"),
    ("linear_fit nan", lambda: bf.linear_fit([[nan, 0], [0, 1.0]], I2, 2.0), "sigma_xx must be finite"),
    # linear_attention
    ("subset 0.5", lambda: la.fixed_point_loss([2.0, 1], 10, [0.5]), "subset must hold whole numbers"),
    ("subset 1.7", lambda: la.fixed_point(I2, 10, [1.7]), "subset must hold whole numbers"),
    ("merged t nan", lambda: la.merged_time_course(nan, 2, 10, 0.1), "t must be finite"),
    ("merged D 2.5", lambda: la.merged_time_course(1.0, 2.5, 10, 0.1), "D must be a positive integer"),
    ("head rhs nan", lambda: la.head_ode_rhs(nan, 1.0, 2.0, 10), "v must be finite"),
    ("population M nan", lambda: la.population_loss(np.full((2, 2), nan), I2, 10), "M must be finite"),
    ("c_factor shapes", lambda: la.c_factor([1.0, 2.0], [3.0, 4.0, 5.0], 10), "shapes do not broadcast"),
    # sim constructors and initialisers
    ("attention S non-PSD", lambda: sa.AttentionMoments(-np.eye(4), I2, 1.0), "positive semi-definite"),
    ("attention inconsistent", lambda: sa.AttentionMoments(np.eye(4), 2 * I2, 1.0), "yy = 1 is below"),
    ("attention N inf", lambda: sa.population_moments(I2, inf), "context length"),
    ("merged init H 2.5", lambda: sa.merged_aligned_init(2, 2.5, 0.1), "H must be an integer"),
    ("merged init w inf", lambda: sa.merged_aligned_init(2, 3, inf), "w_init must be positive and finite"),
    ("separate init scale inf", lambda: sa.separate_random_init(2, 3, scale=inf), "scale must be positive and finite"),
    ("separate aligned nan", lambda: sa.separate_aligned_init(I2, [[nan]]), "v0 must be finite"),
    ("separate aligned non-orthogonal", lambda: sa.separate_aligned_init(2 * I2, [0.1]), "eigvecs must be orthogonal"),
    ("fusion net depth 3.5", lambda: sf.FusionNet(1, 1, 3.5, 2, 4), "depth must be an integer"),
    ("fusion init u0 inf", lambda: sf.aligned_init(sf.FusionNet(1, 1, 3, 2, 4), inf), "u0 must be positive and finite"),
    ("fusion init std inf", lambda: sf.gaussian_init(sf.FusionNet(1, 1, 3, 2, 4), inf), "std must be positive and finite"),
    ("fusion mixing nan", lambda: sf.toy_mixing(nan, 0.3), "need r > 0"),
    ("bias-free widths 4.5", lambda: sb.BiasFreeNet((2, 4.5, 1)), "widths must hold whole numbers"),
    ("bias-free init inf", lambda: sb.gaussian_init((2, 4, 1), inf), "scale must be positive and finite"),
    ("bias-free n_ensemble 1.5", lambda: sb.gaussian_init((2, 4, 1), 0.1, n_ensemble=1.5), "n_ensemble must be an integer"),
    ("paired U non-orthogonal", lambda: sb.paired_decoupled_init(2 * I2, I2, 4, 0.1), "U must be orthogonal"),
    ("paired u0 empty", lambda: sb.paired_decoupled_init(I2, I2, 4, []), "u0 must not be empty"),
    ("paired n_hidden 4.5", lambda: sb.paired_decoupled_init(I2, I2, 4.5, 0.1), "n_hidden must be an integer"),
    ("teacher n_half 3.5", lambda: sb.symmetric_teacher_data([1.0], 2, 2, 3.5), "n_half must be an integer"),
    ("parity 2.5", lambda: sb.parity_data(2.5), "n_bits must be an integer"),
    ("sample sums non-PSD", lambda: sr.SampleSums(-I2, [1.0, 0], 1.0), "must be positive semi-definite"),
    ("sample sums inconsistent", lambda: sr.SampleSums(I2, [2.0, 0], 1.0), r"yty \(yᵀy\) = 1 is below"),
]


@pytest.fixture
def no_hang():
    def alarm(*_):
        raise TimeoutError("the call hung (more than 20 s)")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("call, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_value_error_naming_the_argument(call, match, no_hang):
    with pytest.raises(ValueError, match=match):
        call()


def test_valid_edge_inputs_still_work():
    # the same functions accept the edges of their domains
    assert engine.train_gd(NET, P0, M3, 0.01, times=[0.0]).t.tolist() == [0.0]
    assert engine.train_gd(NET, P0, M3, 0.01, steps=np.array([0, 2]), check_every=1).steps.tolist() == [0, 2]
    assert np.isfinite(dl.learning_time(1.0, 0.1, 0.1)) and dl.learning_time(1.0, 0.1, 0.1) == 0.0
    assert dl.learning_time(1.0, 3.0, 2.0) > 0  # from above s, downwards
    assert dl.deep_learning_time(1.0, 0.1, 0.1, 3) == 0.0
    assert linear.mode_strengths(NET.product(P0), U3, V3, k=3).shape == (1, 3)
    assert linear.DeepLinear((3.0, 2.0, 3)).widths == (3, 2, 3)  # whole floats are fine
    assert la.fixed_point_loss([2.0, 1.0], 10, [1.0]) == la.fixed_point_loss([2.0, 1.0], 10, [1])
    # mode_strength from above s: fine after the pole, and the fixed point u0 = s at any t
    assert np.isfinite(dl.mode_strength(-0.1, 1.0, 2.0))
    assert dl.mode_strength(-1e4, 1.0, 1.0) == 1.0


def test_integer_validator():
    assert v.integer("n", 3) == 3 and v.integer("n", 3.0) == 3 and v.integer("n", np.int64(4)) == 4
    for bad in (2.7, nan, inf, True, "3", [3]):
        with pytest.raises(ValueError, match="n must be"):
            v.integer("n", bad)
    with pytest.raises(ValueError, match="n must be ≥ 2"):
        v.integer("n", 1, minimum=2)
    with pytest.raises(ValueError, match="n must be ≤ 2"):
        v.integer("n", 3, maximum=2)


def test_matrix_validators():
    v.symmetric_psd("A", np.diag([1.0, 0.0]))
    with pytest.raises(ValueError, match="A must be positive definite"):
        v.symmetric_psd("A", np.diag([1.0, 0.0]), definite=True)
    with pytest.raises(ValueError, match="A must be symmetric"):
        v.symmetric_psd("A", [[1.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"A must be a non-empty square matrix"):
        v.symmetric_psd("A", np.ones((2, 3)))
    v.orthogonal("Q", data.random_orthogonal(4, np.random.default_rng(0)))
    with pytest.raises(ValueError, match=r"Q must be orthogonal"):
        v.orthogonal("Q", [[1.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"x must have shape \(2, ·\)"):
        v.shape("x", np.ones((3, 2)), (2, None))
    with pytest.raises(ValueError, match="is below"):
        v.fitted_part_below("total", 1.0, 2.0)
    v.fitted_part_below("total", 1.0, 1.0 + 1e-12)  # round-off is not an inconsistency


# ---------------------------------------------------------------- every message of deep_linear and engine
# One row per check: the message must start with the argument's name (or state the condition),
# so that a check that names the wrong argument, or none, fails here.

_DL = dict(t=1.0, s=1.0, u0=0.1, tau=1.0)
_LIN = linear.DeepLinear((2, 2))
_P = {"W1": np.full((2, 2, 2), 0.1)}
_M = data.aligned_moments([1.0], 2, 2)[0]

MESSAGES = [
    (lambda: dl.mode_strength(1.0, -1.0, 0.1), r"^s must be positive"),
    (lambda: dl.mode_strength(1.0, 1.0, -0.1), r"^u0 must be positive"),
    (lambda: dl.mode_strength(1.0, 1.0, 0.1, tau=0), r"^tau must be positive"),
    (lambda: dl.mode_strength(inf, 1.0, 0.1), r"^t must be finite"),
    (lambda: dl.mode_strength([1.0, 2.0], 1.0, 0.1, tau=[1.0, 2.0, 3.0]), r"t \(2,\), s \(\), u0 \(\), tau \(3,\)"),
    (lambda: dl.mode_strength(1.0, [1.0, 2.0], [0.1, 0.2, 0.3]), r"t \(\), s \(2,\), u0 \(3,\), tau \(\)"),
    (lambda: dl.mode_strength(-1.0, 1.0, 2.0), r"^t is before the pole"),
    (lambda: dl.learning_time(-1.0, 0.1, 0.5), r"^s must be positive"),
    (lambda: dl.learning_time(1.0, -0.1, 0.5), r"^u0 must be positive"),
    (lambda: dl.learning_time(1.0, 0.1, -0.5), r"^u must be positive"),
    (lambda: dl.learning_time(1.0, 0.1, 0.5, tau=-1), r"^tau must be positive"),
    (lambda: dl.learning_time([1.0, 2.0], [0.1, 0.2, 0.3], 0.5), r"s \(2,\), u0 \(3,\), u \(\), tau \(\)"),
    (lambda: dl.learning_time(1.0, 0.1, 1.0), r"^u0 and u must lie strictly on the same side of s"),
    (lambda: dl.learning_time(1.0, 0.5, 0.2), r"^u must lie between u0 and s"),
    (lambda: dl.half_learning_time(-1.0, 0.1), r"^s must be positive"),
    (lambda: dl.half_learning_time(1.0, -0.1), r"^u0 must be positive"),
    (lambda: dl.half_learning_time(1.0, 0.6), r"^the half-learning time needs u0 < s/2"),
    (lambda: dl.gd_first_order_error(1.0, -1.0, 0.1), r"^s must be positive"),
    (lambda: dl.gd_first_order_error(1.0, 1.0, -0.1), r"^u0 must be positive"),
    (lambda: dl.gd_first_order_error(nan, 1.0, 0.1), r"^t must be finite"),
    (lambda: dl.gd_first_order_error(-1.0, 1.0, 0.1), r"^t must be non-negative"),
    (lambda: dl.unbalanced_limit(-1.0, 1.0, 1.0), r"^s must be positive"),
    (lambda: dl.unbalanced_limit(1.0, nan, 1.0), r"^a0 and b0 must be finite"),
    (lambda: dl.unbalanced_limit(1.0, 1.0, inf), r"^a0 and b0 must be finite"),
    (lambda: dl.unbalanced_limit(1.0, [1.0, 2.0], [1.0, 2.0, 3.0]), r"s \(\), a0 \(2,\), b0 \(3,\)"),
    (lambda: dl.deep_learning_time(-1.0, 0.1, 0.5, 3), r"^s must be positive"),
    (lambda: dl.deep_learning_time(1.0, -0.1, 0.5, 3), r"^u0 must be positive"),
    (lambda: dl.deep_learning_time(1.0, 0.1, -0.5, 3), r"^u must be positive"),
    (lambda: dl.deep_learning_time(1.0, 0.1, 0.5, 3, tau=0.0), r"^tau must be positive"),
    (lambda: dl.deep_learning_time(1.0, 0.1, 0.5, 0), r"^n_weights entries must be ≥ 1"),
    (lambda: dl.deep_learning_time(1.0, 0.1, 0.5, [2, 3, 4], tau=[1.0, 2.0]), r"s \(\), u0 \(\), u \(\), n_weights \(3,\), tau \(2,\)"),
    (lambda: dl.deep_learning_time(1.0, 1.0, 0.5, 3), r"^need 0 < u0 < s and 0 < u < s"),
    (lambda: dl.deep_learning_time(1.0, 0.1, 1.0, 3), r"^need 0 < u0 < s and 0 < u < s"),
    (lambda: dl.deep_learning_time(1.0, 0.1, 1.5, 3), r"^need 0 < u0 < s and 0 < u < s"),
    (lambda: dl.deep_learning_time(1.0, 1.5, 0.5, 3), r"^need 0 < u0 < s and 0 < u < s"),
    # engine
    (lambda: engine.train_gd(_LIN, {}, _M, 0.1, steps=[1]), r"^params is empty"),
    (lambda: engine.train_gd(_LIN, {"W1": 1.0}, _M, 0.1, steps=[1]), r"^parameter 'W1' needs a leading ensemble axis"),
    (lambda: engine.train_gd(_LIN, {"W1": np.full((1, 2, 2), nan)}, _M, 0.1, steps=[1]), r"^parameter 'W1' has non-finite"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[1], rates={"W2": 1.0}), r"^rates given for unknown parameters \['W2'\]"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[1], rates={"W1": [1.0, 2.0, 3.0]}), r"^rate of 'W1' must be a scalar or have shape \(2,\)"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[1], rates={"W1": [1.0, -2.0]}), r"^rate of 'W1' must be positive and finite"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[1], rates={"W1": inf}), r"^rate of 'W1' must be positive and finite"),
    (lambda: engine.train_gd(_LIN, _P, _M, [0.1, 0.2, 0.3], steps=[1]), r"^lr must be a scalar or have shape \(2,\)"),
    (lambda: engine.train_gd(_LIN, _P, _M, [0.1, -0.2], steps=[1]), r"^lr must be positive and finite"),
    (lambda: engine.train_gd(_LIN, _P, _M, nan, steps=[1]), r"^lr must be positive and finite"),
    (lambda: engine.train_gd(_LIN, _P, _M, [0.1, 0.2], times=[0.1]), r"^recording by `times` needs a scalar lr"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, times=[0.1], steps=[1]), r"^give exactly one of `times` or `steps`"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[-1]), r"^steps must be non-negative integers"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[3, 1]), r"^recording times/steps must be non-decreasing"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[1], tau=0.0), r"^tau must be positive"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[1], check_every=0), r"^check_every must be ≥ 1"),
    (lambda: engine.train_gd(_LIN, _P, _M, 0.1, steps=[1], blowup=0.0), r"^blowup must be a positive number"),
    (lambda: engine.steps_for_times([0.1], -0.1), r"^lr must be positive"),
    (lambda: engine.steps_for_times([0.1], 0.1, tau=-1.0), r"^tau must be positive"),
    (lambda: engine.steps_for_times([nan], 0.1), r"^times must be finite"),
    (lambda: engine.steps_for_times([-0.1], 0.1), r"^times must be non-negative"),
    (lambda: engine.steps_for_times([0.15], 0.1), r"^times must be multiples of lr = 0.1"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, [0.0, 1.0], tau=-1.0), r"^tau must be positive"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, [0.0, 1.0], rtol=-1.0), r"^rtol must be positive"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, [0.0, 1.0], atol=0.0), r"^atol must be positive"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, [0.0, nan]), r"^times must be finite"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, []), r"^times must not be empty"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, [[0.0, 1.0]]), r"^times must be 1-D"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, [-1.0, 1.0]), r"^times must be non-negative"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, [1.0, 0.5]), r"^times must be non-decreasing"),
    (lambda: engine.integrate_flow(_LIN, _P, _M, [0.0, 1.0], rates={"W1": 0.0}), r"^rate of 'W1' must be positive"),
]


@pytest.mark.parametrize("call, match", MESSAGES, ids=[f"msg{i}" for i in range(len(MESSAGES))])
def test_each_check_names_its_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unbalanced_limit_reads_integers_as_floats():
    # a0 = 4e9 as a Python int: squaring in int64 would overflow
    a, b = dl.unbalanced_limit(1.0, 4_000_000_000, 1)
    a_f, b_f = dl.unbalanced_limit(1.0, 4e9, 1.0)
    assert a == a_f and b == b_f and np.isfinite(a)


def test_repeated_times_are_recorded_twice():
    tr = engine.integrate_flow(NET, P0, M3, [0.0, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(tr.loss[1], tr.loss[2])
    W = fu.aligned_flow([0.0, 1.0, 1.0, 2.0], 3, 3, S, s, 0.1)
    np.testing.assert_array_equal(W[1], W[2])
    np.testing.assert_array_equal(W[[0, 1, 3]], fu.aligned_flow([0.0, 1.0, 2.0], 3, 3, S, s, 0.1))


def _cut(params, name):
    """The same parameters with one weight's last column dropped (a wrong shape)."""
    return {k: (p[..., :-1] if k == name else p) for k, p in params.items()}


def _fusion_case():
    net = sf.FusionNet(1, 1, 3, 2, 4)
    return net, sf.aligned_init(net, 0.1), sf.toy_moments(2.0, 0.3), net.names[0]


def _biased_case():
    from theorylib.sim import biased as sbi
    net = sbi.BiasedLinear((2, 3, 1))
    p = sbi.biased_random_init((2, 3, 1), 0.1, n_ensemble=2, seed=0)
    X = np.random.default_rng(0).standard_normal((20, 2))
    return net, p, sbi.Samples(X, X[:, :1] - X[:, 1:]), "W1"


def _relu_case():
    net = sr.TwoLayerReLU()
    p = sr.relu_init(4, 2, 1.0, 0.0, n_ensemble=2, seed=0)
    X = np.random.default_rng(0).standard_normal((10, 2))
    return net, p, (X, X[:, 0]), "W"


@pytest.mark.parametrize("case", [lambda: (NET, P0, M3, "W1"), _fusion_case, _biased_case,
                                  _relu_case], ids=["deep-linear", "fusion", "biased", "relu"])
def test_train_gd_names_a_parameter_of_the_wrong_shape(case):
    # the engine evaluates the loss first: it must check shapes, not fail inside matmul
    net, params, moments, name = case()
    with pytest.raises(ValueError, match=rf"{name}|need W"):
        engine.train_gd(net, _cut(params, name), moments, 0.01, steps=[0, 3])
