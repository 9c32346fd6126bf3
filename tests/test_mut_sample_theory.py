"""Tests that kill mutants of ``theorylib/theory`` which a sampled mutmut run (600 mutants drawn
uniformly, mutmut 3.8.1) found surviving: ``rich_lazy``, ``fusion``, ``linear_attention``,
``bias_free_relu``, ``deep_linear`` and ``optimal_constant``. The notes, including the
equivalent mutants and why they are equivalent, are in ``tools/mutation/sample_theory.md``.

Every value is compared with a reference computed here by other means: ``solve_ivp`` of the
differential equation a closed form solves, invariants of the flow, a limit the docstring
states, the closed form a docstring gives for a special case, or a hand-computed small case.
Error checks assert that the message names the argument. Small sizes: the file runs in seconds.
"""
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from theorylib.theory import bias_free_relu as bfr
from theorylib.theory import deep_linear as dl
from theorylib.theory import fusion as fu
from theorylib.theory import linear_attention as la
from theorylib.theory import optimal_constant as oc
from theorylib.theory import rich_lazy as rl


# --------------------------------------------------------------------------- rich_lazy (Chapter 2)
def test_dexp_ratio_takes_its_zero_rate_limit_without_forming_0_over_0():
    # (e^{xt} − 1)/x → t as x → 0; at x = 0 exactly the helper must not divide 0 by 0
    t = np.array([0.5, 2.0, 7.0])
    with np.errstate(all="raise"):
        np.testing.assert_allclose(rl._dexp_ratio(0.0, t), t, rtol=1e-15)
        np.testing.assert_allclose(rl._dexp_ratio(np.zeros(3), t), t, rtol=1e-15)


def _whitened_flow(t, a0, w0, bs):
    """ȧ = −w·(β − β*), ẇ = −a(β − β*), β = a w (½‖Xβ − y‖² with XᵀX = I), plain DOP853."""
    def rhs(_t, z):
        a, w = z[0], z[1:]
        g = a * w - bs
        return np.r_[-(w @ g), -a * g]

    sol = solve_ivp(rhs, (0.0, t[-1]), np.r_[a0, w0], t_eval=t, method="DOP853", rtol=1e-13, atol=1e-15)
    return sol.y[0]


def test_single_neuron_readout_when_omega_rounds_to_delta():
    # s = ‖β*‖ = 3e-9 ≪ δ = 1.08: 4s² is below half an ulp of δ², so Ω = √(δ² + 4s²) is δ in
    # floating point, while 1 − r = −2ν₀/Ω ≈ −2.8e-9 is not zero (the branch Ω ≤ δ of the integral)
    a0, w0, bs = 1.2, np.array([0.6, 0.0]), np.array([3e-9, 0.0])
    t = np.array([0.25, 0.5, 1.0])
    a, _ = rl.single_neuron(t, a0, w0, bs)
    np.testing.assert_allclose(a, _whitened_flow(t, a0, w0, bs), rtol=1e-12, atol=0)


def test_implicit_bias_rank_check_is_scale_invariant():
    # three samples, the third the sum of the first two: linearly dependent at any scale
    X = np.array([[1.0, 2.0, 3.0, 0.5], [0.3, 0.1, 0.7, 0.2], [1.3, 2.1, 3.7, 0.7]])
    for scale in (1.0, 1e6):
        with pytest.raises(ValueError, match="full row rank"):
            rl.lazy_limit(scale * X, np.ones(3), np.zeros(4))
        with pytest.raises(ValueError, match="full row rank"):
            rl.implicit_bias_limit(scale * X, np.ones(3), 1.0, np.full(4, 0.1))


def test_ray_limit_names_beta0_when_it_is_not_finite():
    X = np.array([[1.0, 0.0, 2.0]])
    with pytest.raises(ValueError, match="^beta0 must be finite$"):
        rl.ray_limit(X, [1.0], [1.0, np.nan, 0.0])


# --------------------------------------------------------------------------- fusion (Chapter 4)
def test_late_fusion_tie_within_the_rounding_tolerance_is_accepted():
    # ‖Σ_yxA‖ short of ‖Σ_yxB‖ by a relative 1e-12 (the tolerance for a tie): A and B are
    # learned together, the ratio is 1 + (Σ_yxA − Σ_yxB)/c_B = 1 − 1e-12/(1 − ρ) + O(1e-24)
    rho = 0.5
    sigma = np.array([[1.0, rho], [rho, 1.0]])
    ratio = fu.late_fusion_time_ratio(sigma, [1 - 1e-12, 1.0], 1)
    assert ratio == pytest.approx(1 - 1e-12 / (1 - rho), abs=1e-15)


def test_weakly_driven_B_late_fusion_ratio_matches_the_closed_form():
    # |c_B| = 1.5e-12 is small but not zero: B is learned, after a very long unimodal phase.
    # fusion_time_ratio integrates t_A by quadrature; its Notes give, for L_f = L ≥ 3,
    # 1 + (1 − k)Σ_yxA/(c_B(1 − u0^{L−2})) with k = Σ_yxB/Σ_yxA
    rho = 0.5
    sigma = np.array([[1.0, rho], [rho, 1.0]])
    sa, sb = 1.0, rho + 1.5e-12
    c = sb - rho * sa / 1.0  # c_B = Σ_yxB − (Σ_yxA/Σ_A) Σ_AB
    assert 1.4e-12 < c < 1.6e-12
    k = sb / sa
    for L, u0 in ((3, 0.1), (4, 1e-3)):
        want = 1 + (1 - k) * sa / (c * (1 - u0 ** (L - 2)))
        assert fu.fusion_time_ratio(L, L, sigma, [sa, sb], 1, u0) == pytest.approx(want, rel=1e-9)
    assert fu.late_fusion_time_ratio(sigma, [sa, sb], 1) == pytest.approx(1 + (sa - sb) / c, rel=1e-12)


def test_aligned_flow_names_fusion_layer_when_it_is_not_an_integer():
    sigma = np.array([[1.0, 0.5], [0.5, 1.0]])
    with pytest.raises(ValueError, match=r"^fusion_layer must be an integer; got 1\.5$"):
        fu.aligned_flow([0.0, 1.0], 3, 1.5, sigma, [1.0, 0.5], 0.1)


# --------------------------------------------------------------------------- linear_attention (Chapter 5)
def test_fixed_points_of_an_integer_covariance():
    # Λ = [[2, 1], [1, 2]] given as integers: eigenvalues 3, 1, eigenvectors (1, ±1)/√2, tr Λ = 4
    Lam = np.array([[2, 1], [1, 2]])
    N = 3
    e1 = np.array([1.0, 1.0]) / np.sqrt(2)
    c1 = 1 + (1 + 4 / 3) / N
    np.testing.assert_allclose(la.fixed_point(Lam, N, [0]), np.outer(e1, e1) / (3 * c1), rtol=1e-13)
    # the full set is the global minimum M* = Γ⁻¹, Γ = (1 + 1/N)Λ + (tr Λ/N) I
    Gamma = (1 + 1 / N) * Lam + 4 / N * np.eye(2)
    np.testing.assert_allclose(la.fixed_point(Lam, N, [0, 1]), np.linalg.inv(Gamma), rtol=1e-13)


# --------------------------------------------------------------------------- bias_free_relu (Chapter 3)
def test_function_strength_with_a_decimal_u0_solves_the_rescaled_mode_ode():
    # ũ(t) = u_lin(kt; s, k u0): k τ-scaled logistic, τ dũ/dt = 2k ũ(s − ũ), ũ(0) = k u0
    s, alpha, tau = 2.0, 0.0, 1.5
    k = (1 + alpha) / 2
    t = np.array([0.0, 1.0, 3.0, 6.0])
    sol = solve_ivp(lambda _t, u: 2 * k * u * (s - u) / tau, (0, t[-1]), [k * 0.01], t_eval=t,
                    method="DOP853", rtol=1e-12, atol=1e-14)
    for u0 in (0.01, Decimal("0.01")):
        np.testing.assert_allclose(bfr.function_strength(t, s, u0, alpha, tau), sol.y[0], rtol=1e-9)


# --------------------------------------------------------------------------- deep_linear (Chapter 1)
def test_mode_strength_for_any_size_of_2st_over_tau():
    # with τ = 1e-300, 2st/τ overflows to −inf at t = −1e10; the solution is still defined:
    # u0 = s is a fixed point, and for u0 < s the logistic tends to 0 as t → −∞
    with np.errstate(over="ignore"):
        assert dl.mode_strength(-1e10, 1.0, 1.0, tau=1e-300) == 1.0
        assert dl.mode_strength(-1e10, 1.5, 1.0, tau=1e-300) == pytest.approx(0.0, abs=1e-300)
        np.testing.assert_array_equal(dl.mode_strength([-1e10, 0.0], 1.5, 1.0, tau=1e-300), [0.0, 1.0])


def test_unbalanced_limit_of_exact_rational_starts():
    # first-layer start w0 = 1/2, readout start a0 = 3/2, s = 2: the flow conserves a² − w² = 2,
    # ends on aw = s, and neither factor crosses zero (δ > 0 and both start positive)
    for w0, a0, s in ((Fraction(1, 2), Fraction(3, 2), Fraction(2)), (0.5, 1.5, 2.0)):
        w_inf, a_inf = dl.unbalanced_limit(s, w0, a0)
        assert w_inf > 0 and a_inf > 0
        assert float(w_inf * a_inf) == pytest.approx(2.0, rel=1e-14)
        assert float(a_inf**2 - w_inf**2) == pytest.approx(2.0, rel=1e-14)


# --------------------------------------------------------------------------- optimal_constant (Chapter 6)
def test_bias_trajectory_default_time_constant_is_one():
    # τ ḃ₂ = ȳ − b₂ with the library's default τ = 1
    ybar, b0 = np.array([0.7, -1.2]), np.array([0.0, 0.5])
    t = np.array([0.0, 0.3, 1.0, 2.5])
    sol = solve_ivp(lambda _t, b: ybar - b, (0, t[-1]), b0, t_eval=t, method="DOP853", rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(oc.bias_trajectory(t, ybar, b0), sol.y.T, rtol=1e-10, atol=1e-12)


# =========================================================================== second sample
# The following tests are for the second sample (current code, seed 0, 600 of 13,346 mutants):
# survivors in fusion and linear_attention (optimal_constant's two are equivalent; see the notes).


# --------------------------------------------------------------------------- fusion (Chapter 4)
def test_fusion_statistics_errors_give_their_whole_message():
    # every public function of Chapter 4 checks (Σ, Σ_yx) first: non-finite, then not positive definite
    with pytest.raises(ValueError, match=r"^sigma and sigma_yx must be finite$"):
        fu.unimodal_solution([[1.0, np.nan], [np.nan, 1.0]], [1.0, 0.5], 1)
    with pytest.raises(ValueError, match=r"^sigma and sigma_yx must be finite$"):
        fu.residual_drive(np.eye(2), [1.0, np.inf], 1)
    # symmetric with eigenvalues 3 and -1
    with pytest.raises(ValueError, match=r"^sigma must be positive definite$"):
        fu.unimodal_solution([[1.0, 2.0], [2.0, 1.0]], [1.0, 0.5], 1)


def test_early_fusion_has_no_lag_even_at_the_largest_time_constant():
    # L_f = 1: no unimodal phase, t_B − t_A = 0 (docstring) whatever τ; t_A = τ ∫_{u0}^1 du/(Σ_yxA v(u)),
    # v = √(u² + u_B²), u_B = u0 + k(u − u0), k = sign(c_B)Σ_yxB/|Σ_yxA|; here dt/du = 1/(Σ_yxA v) by solve_ivp.
    # With ρ = 0.8, Σ_yx = (1, 0.5): c_B = 0.5 − 0.8 = −0.3, so k = −0.5 and 1 − k = 1.5; at τ = 1.5e308
    # τ(1 − k) is beyond the float range, but the lag is still exactly 0 and t_A ≈ 1.2e307 is finite
    rho, sa, sb, u0 = 0.8, 1.0, 0.5, 0.9
    sigma = np.array([[1.0, rho], [rho, 1.0]])
    k = np.sign(sb - rho * sa) * sb / sa
    ref = solve_ivp(lambda u, _t: [1.0 / (sa * np.hypot(u, u0 + k * (u - u0)))], (u0, 1.0), [0.0],
                    method="DOP853", rtol=1e-13, atol=1e-15).y[0, -1]
    for tau in (1.0, 3.0, 1.5e308):
        t_a, lag = fu.fusion_times(2, 1, sigma, [sa, sb], 1, u0, tau=tau)
        assert t_a == pytest.approx(tau * ref, rel=1e-10)
        assert lag == 0.0


# --------------------------------------------------------------------------- linear_attention (Chapter 5)
def test_fixed_point_losses_with_a_fractional_context_length():
    # N = Fraction(3) is a number ≥ 1 like 3 or 3.0. Λ = diag(3, 1), tr Λ = 4: c_d = 1 + (1 + 4/λ_d)/3,
    # so c = 16/9 and 8/3, drops λ/c = 27/16 and 3/8: losses 4, 37/16, 31/16 (the last the global minimum)
    want = [4.0, 37 / 16, 31 / 16]
    for N in (3, 3.0, Fraction(3)):
        np.testing.assert_allclose(la.fixed_point_losses([1.0, 3.0], N), want, rtol=1e-14)
        assert la.minimum_loss(np.diag([3.0, 1.0]), N) == pytest.approx(31 / 16, rel=1e-14)
