"""Closed forms keep their accuracy at the edges of their domain, against independent
high-precision references (mpmath): regimes where a difference of nearly equal numbers, or a
clamp against overflow, used to cost most or all of the digits."""
import mpmath as mp
import numpy as np
import pytest

from theorylib.theory import deep_linear as dl
from theorylib.theory import linear_attention as la
from theorylib.theory import rich_lazy as rl

mp.mp.dps = 40


@pytest.mark.parametrize("a0", [1e3, 1e4, 1e5, 1e150])
def test_unbalanced_limit_keeps_the_small_factor_when_the_imbalance_is_large(a0):
    # the limit of τȧ = b(s − ab), τḃ = a(s − ab) from (a0, 0): ab = s and a² − b² = a0²
    a, b = dl.unbalanced_limit(1.0, a0, 0.0)
    assert abs(a * b - 1.0) < 1e-14
    big = mp.sqrt((mp.mpf(a0) ** 2 + mp.sqrt(mp.mpf(a0) ** 4 + 4)) / 2)
    assert abs(a - float(big)) <= 1e-15 * a and abs(b - float(1 / big)) <= 1e-15 * b
    b2, a2 = dl.unbalanced_limit(1.0, 0.0, a0)  # the mirror image: b carries the imbalance
    assert (a2, b2) == (a, b)


def _balanced_exact(t, s, mu0, phi0):
    S0 = mp.atanh(phi0)
    S = s * t + S0
    C = s * (mp.cosh(2 * S0) + 1) / mu0 - 2 * S0 - mp.sinh(2 * S0)
    return s * (mp.cosh(2 * S) + 1) / (2 * S + mp.sinh(2 * S) + C)


@pytest.mark.parametrize("s, mu0, phi0", [(1.0, 0.5, 0.0), (1.0, 1e-300, 0.0), (2.0, 1e-3, -0.9),
                                          (0.3, 5.0, 0.99), (1.0, 1e-308, 0.5)])
def test_balanced_solution_far_past_the_overflow_of_cosh(s, mu0, phi0):
    # 2S far beyond 700 (where cosh overflows) and tiny μ0: the closed form must still be
    # exact, and μ → s
    t = np.array([0.0, 1e-8, 0.5, 3.0, 352.0, 1e5, 1e300, 1e305, 1e307])
    mu, _ = rl.balanced_solution(t, s, mu0, phi0)
    ref = np.array([float(_balanced_exact(mp.mpf(x), mp.mpf(s), mp.mpf(mu0), mp.mpf(phi0)))
                    for x in t])
    np.testing.assert_allclose(mu, ref, rtol=1e-12)
    assert mu[-1] == pytest.approx(s, rel=1e-14)


def _neuron_flow(t, a0, w0, beta):
    # ȧ = −w·(aw − β*), ẇ = −a(aw − β*): the whitened single neuron, to 40 digits
    def f(_, y):
        res = [y[0] * y[1 + i] - beta[i] for i in range(len(beta))]
        return [-sum(y[1 + i] * res[i] for i in range(len(beta)))] + [-y[0] * r for r in res]

    sol = mp.odefun(f, 0, [mp.mpf(a0)] + [mp.mpf(x) for x in w0])(mp.mpf(t))
    return float(sol[0]), np.array([float(x) for x in sol[1:]])


@pytest.mark.parametrize("s", [1e-3, 1e-9, 1e-14])
@pytest.mark.parametrize("a0, w0", [(1.2, (0.6, 0.0)), (0.3, (1.5, 0.2))], ids=["delta>0", "delta<0"])
def test_single_neuron_when_the_target_is_far_smaller_than_the_imbalance(s, a0, w0):
    a, w = rl.single_neuron(np.array([2.0]), a0, np.array(w0), np.array([s, 0.0]))
    a_ref, w_ref = _neuron_flow(2.0, a0, w0, [s, 0.0])
    assert abs(a[0] - a_ref) <= 1e-14 * abs(a_ref)
    np.testing.assert_allclose(w[0], w_ref, rtol=1e-13, atol=1e-300)


def _unbalanced_big(s, a0, b0):
    c = mp.mpf(a0) ** 2 - mp.mpf(b0) ** 2
    return mp.sqrt((abs(c) + mp.sqrt(c * c + 4 * mp.mpf(s) ** 2)) / 2)


@pytest.mark.parametrize("s, a0, b0", [(1.0, 1e200, 2e200), (1.0, -2e200, 1e200), (1e300, 1e200, 3e200),
                                       (1.0, 1e308, -1.7e308), (1.0, 1e200, 1e200), (2.0, -1e300, -1e300)],
                         ids=["b-larger", "a-larger-negative", "huge-s", "near-float-max",
                              "balanced-huge", "balanced-negative"])
def test_unbalanced_limit_for_starts_whose_squares_overflow(s, a0, b0):
    # a0² − b0² overflows (inf, or inf − inf) from ~1e154 on, while the end point is representable
    w, a = (float(x) for x in dl.unbalanced_limit(s, a0, b0))
    big = _unbalanced_big(s, a0, b0)
    small = mp.mpf(s) / big
    w_ref, a_ref = (big, small) if abs(a0) >= abs(b0) else (small, big)
    sign = np.sign(a0) if abs(a0) >= abs(b0) else np.sign(b0)
    assert abs(w - sign * float(w_ref)) <= 4e-16 * float(w_ref)
    assert abs(a - sign * float(a_ref)) <= 4e-16 * float(a_ref)
    assert dl.unbalanced_limit(1.0, 1e200, -1e200) == (0.0, 0.0)  # the saddle's manifold


def _learning_time_exact(s, u0, u, tau=1.0):
    s, u0, u = mp.mpf(s), mp.mpf(u0), mp.mpf(u)
    return mp.mpf(tau) / (2 * s) * mp.log(u * (s - u0) / (u0 * (s - u)))


@pytest.mark.parametrize("s, u0, u", [(3e-200, 1e-200, 2e-200), (1e10, 1e-320, 5e9), (1e300, 1e-300, 1e299),
                                      (1.0, 3.0, 2.0), (1e-160, 1e-170, 5e-161), (1.0, 1e-3, 0.5)],
                         ids=["all-tiny", "u0-subnormal", "huge-range", "from-above", "products-underflow",
                              "ordinary"])
def test_learning_time_where_its_products_under_or_overflow(s, u0, u):
    # (u0 − s)(u − s) and u0(s − u) underflow below ~1e-154: the time must still be right
    t = float(dl.learning_time(s, u0, u))
    ref = float(_learning_time_exact(s, u0, u))
    assert abs(t - ref) <= 1e-14 * abs(ref)
    if u < s:  # the L = 2 chain is the same mode
        assert abs(float(dl.deep_learning_time(s, u0, u, 2)) - ref) <= 1e-14 * abs(ref)


def test_deep_learning_time_when_u0_over_s_underflows():
    # u0/s = 1e-330 underflows to 0, but (u0/s)^(1/3) = 1e-110 does not. The reference is a
    # 40-digit quadrature of dt = τ du / (L u^(2 − 2/L) (s − u)) in x = ln u (smooth over the
    # 750 decades). The root (u0/s)^(1/3) is exp of an argument near −253: ~253 ulp relative
    s, u0, u, L = 1e10, 1e-320, 5e9, 3
    g = lambda x: mp.exp(x) / (L * mp.exp(x) ** (2 - mp.mpf(2) / L) * (s - mp.exp(x)))
    ref = mp.quad(g, mp.linspace(mp.log(mp.mpf(u0)), mp.log(mp.mpf(u)), 16))
    assert abs(float(dl.deep_learning_time(s, u0, u, L)) - float(ref)) <= 1e-13 * float(ref)
    with pytest.raises(ValueError, match="^the learning time is not representable as a finite float"):
        dl.deep_learning_time(1.0, 1e-320, 0.5, 100)  # ~ u0^(2/L − 1) ≈ 1e313: beyond the float range


def test_mode_strength_at_t0_for_a_huge_singular_value():
    # 2·s overflows for s > 9e307, but at t = 0 the exponent is 0 and u(0) = u0
    assert float(dl.mode_strength(0.0, 9e307, 1.0)) == 1.0
    assert abs(float(dl.mode_strength(0.0, 1.7e308, 1e300)) - 1e300) <= 2.3e-16 * 1e300  # 1 ulp


@pytest.mark.parametrize("s, u0, u", [(1e-20, 1.0, 0.5), (1e-300, 1e-10, 5e-11), (1e-12, 1.0, 0.5),
                                      (5e-324, 1.0, 0.5), (1e-3, 2.0, 1.0), (1.0, 1e-5, 0.5),
                                      (1.0, 1e-200, 0.5), (3.0, 10.0, 3.0000001)])
def test_learning_time_from_above_when_s_is_far_below_u(s, u0, u):
    # u0 > u > s with s ≪ u: the log's argument u(s − u0)/(u0(s − u)) is 1 + O(s/u), so
    # ln(ratio) rounded to 0 (0.0 instead of 0.5 at s = 1e-20) or kept only a few digits
    # (0.5000445 against 0.50000000000075 at s = 1e-12), and s = 5e-324 was a false
    # "not representable" error; as s → 0, t → (τ/2)(1/u − 1/u0)
    with mp.workdps(700):
        S, U0, U = mp.mpf(s), mp.mpf(u0), mp.mpf(u)
        ref = mp.log1p(S * (U - U0) / (U0 * (S - U))) / (2 * S)
        want = float(ref)
    assert dl.learning_time(s, u0, u) == pytest.approx(want, rel=1e-14, abs=0)


def _deep_time_exact(s, u0, u, L):
    # τ = 1: ∫ dv / (L v^{2−2/L} (s − v)) from u0 to u, written over w = v − u0 ∈ [0, u − u0] so
    # that mpmath integrates on a short interval without cancelling u0
    with mp.workdps(50):
        S, U0, D, L = mp.mpf(s), mp.mpf(u0), mp.mpf(u) - mp.mpf(u0), mp.mpf(L)
        return mp.quad(lambda w: 1 / (L * (U0 + w) ** (2 - 2 / L) * (S - U0 - w)), [0, D])


@pytest.mark.parametrize("L", [1, 2, 3, 5])
@pytest.mark.parametrize("s, u0, u", [(1.0, 0.1, 0.1 + 1e-9), (1.0, 0.5, 0.5 + 1e-12), (2.0, 1.0, 1.0 + 1e-10),
                                      (1.0, 0.1, 0.104), (1.0, 0.9, 0.9 + 1e-9)])
def test_deep_learning_time_for_u_close_to_u0(s, u0, u, L):
    # F(q1) − F(q0) cancels for u ≈ u0: the relative error was 1.1e-4 at u − u0 = 1e-12 (L = 2)
    want = float(_deep_time_exact(s, u0, u, L))
    assert float(dl.deep_learning_time(s, u0, u, L)) == pytest.approx(want, rel=1e-14, abs=0)


def _deep_time_to_near_s(s, u0, u, L):
    # τ = 1, as mpmath quadrature split geometrically towards v = s, where the integrand has its
    # logarithmic singularity (u0 ≥ s/2 here)
    with mp.workdps(50):
        S, U0, U, Lm = mp.mpf(s), mp.mpf(u0), mp.mpf(u), mp.mpf(L)
        pts = [U0] + [S - (S - U0) * mp.mpf(10) ** -k for k in range(1, 17) if S - (S - U0) * mp.mpf(10) ** -k < U]
        return mp.quad(lambda v: 1 / (Lm * v ** (2 - 2 / Lm) * (S - v)), pts + [U])


@pytest.mark.parametrize("L", [1, 2, 3, 9, 17, 40])
@pytest.mark.parametrize("s, u0, u", [(1.0, 0.5, 1 - 1e-14), (1.0, 0.5, 1 - 1e-12), (1.0, 0.6, 0.999999),
                                      (3.0, 1.5, 2.9999999)])
def test_deep_learning_time_close_to_s(s, u0, u, L):
    # scipy's hyp2f1 loses its digits as q^L → 1: at u = 1 − 1e-14 the time was 1.0e15 instead
    # of 3.66 (L = 9), or a false "not representable" error (L = 1); L = 2 was 4e-6 off at
    # u = 1 − 1e-12, where learning_time is exact
    want = float(_deep_time_to_near_s(s, u0, u, L))
    assert float(dl.deep_learning_time(s, u0, u, L)) == pytest.approx(want, rel=1e-14, abs=0)
    if L == 2:
        assert float(dl.learning_time(s, u0, u)) == pytest.approx(want, rel=1e-14, abs=0)


def test_deep_learning_time_when_its_prefactor_overflows():
    # τ s^{2/L−2} = 3e242 · 1e66.7 overflows although the time, 6.9575912182919297e307, does not
    got = float(dl.deep_learning_time(1e-50, 0.5e-50, 0.53e-50, 3, 3e242))
    assert got == pytest.approx(6.9575912182919297e307, rel=1e-13)
    ref = 3e242 * float(_deep_time_exact(1.0, 0.5, 0.53, 3)) * 1e-50 ** (2 / 3 - 2)
    assert got == pytest.approx(ref, rel=1e-13)


@pytest.mark.parametrize("s, a0, b0", [(1.0, 1e11, 99999999999.99998), (1.0, 3.0, 2.9999999999),
                                       (1e308, 1.0, 0.0), (1e308, 1e200, 3e200), (2.0, -7.5, 7.5000001)])
def test_unbalanced_limit_for_nearly_balanced_starts_and_huge_s(s, a0, b0):
    # a0² − b0² cancelled for nearly balanced starts (at a0 = 1e11 the end point was 1448.15
    # instead of 1746.93) and 2s overflowed for s ≳ 9e307 (a false error)
    with mp.workdps(60):
        S, A, B = mp.mpf(s), mp.mpf(a0), mp.mpf(b0)
        c = A * A - B * B
        big = mp.sqrt((abs(c) + mp.sqrt(c * c + 4 * S * S)) / 2)
        want_big, want_small = float(big), float(S / big)
    w, a = (float(x) for x in dl.unbalanced_limit(s, a0, b0))
    big_got, small_got = (abs(w), abs(a)) if abs(a0) >= abs(b0) else (abs(a), abs(w))
    assert big_got == pytest.approx(want_big, rel=1e-14, abs=0)
    assert small_got == pytest.approx(want_small, rel=1e-14, abs=0)


@pytest.mark.parametrize("t, s, u0", [(-30.0, 1.0, 1 - 2**-30), (-5.0, 1.0, 1 + 2**-40), (40.0, 2.0, 2 - 2**-35)])
def test_mode_strength_from_just_beside_s(t, s, u0):
    # s/u0 − 1 rounded for u0 within a few ulps·2^k of s (9.3e-10 relative error at the first case);
    # (s − u0)/u0 is exact there
    with mp.workdps(50):
        T, S, U0 = mp.mpf(t), mp.mpf(s), mp.mpf(u0)
        want = float(S / (1 + (S - U0) / U0 * mp.exp(-2 * S * T)))
    assert float(dl.mode_strength(t, s, u0)) == pytest.approx(want, rel=1e-14, abs=0)


def _drop_time_exact(lam, tr, N, v0, k0):
    # τ = 1; over x = ln(κ²/κ0²), with v = v0 √(1 + (κ0/v0)²(e^x − 1)): bisection for the midpoint
    # v κ² = (1 − 1/√2)/(λc), then mpmath quadrature on decades towards x = 0
    with mp.workdps(25):
        lam, tr, N, v0, k0 = map(mp.mpf, (lam, tr, N, v0, k0))
        c = 1 + (1 + tr / lam) / N
        target = (1 - 1 / mp.sqrt(2)) / (lam * c)
        v = lambda x: v0 * mp.sqrt(1 + (k0 / v0) ** 2 * mp.expm1(x))
        lo, hi = mp.mpf(0), mp.log(target / (v0 * k0**2))
        for _ in range(90):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if v(mid) * k0**2 * mp.exp(mid) > target else (mid, hi)
        xm = (lo + hi) / 2
        f = lambda x: 1 / (2 * v(x) * lam**2 * (1 - lam * c * v(x) * k0**2 * mp.exp(x)))
        return mp.quad(f, [mp.mpf(0)] + [xm * mp.mpf(10) ** -j for j in range(24, 0, -1)] + [xm])


@pytest.mark.parametrize("args", [(0.25, 1.0, 2.0, 1.0, 2**-26), (1.0, 2.0, 4.0, 0.1, 1e-8), (1.0, 1.0, 1.0, 1.0, 2**-30),
                                  (2.0, 5.0, 10.0, 0.05, 1e-30), (1.0, 2.0, 4.0, 1e-6, 0.3), (0.5, 3.0, 2.0, 1e-8, 1.0),
                                  (1.0, 2.0, 4.0, 0.3, 0.2)])
def test_unbalanced_drop_time_far_from_balance_and_at_the_float_range(args):
    # v² − δ cancelled for κ0 ≪ v0 (281.69 instead of 279.92 at κ0 = 2^-26; false errors from
    # κ0 = 2^-30), λ³ overflowed (OverflowError above λ ≈ 5.6e102) and 1/v² for v0 ≲ 1e-154
    want = float(_drop_time_exact(*args))
    assert la.unbalanced_drop_time(*args) == pytest.approx(want, rel=1e-13, abs=0)


@pytest.mark.parametrize("args", [(1e110, 1e110, 1.0, 1e-200), (1e100, 1e100, 1.0, 1e-300), (1.0, 1.0, 1.0, 1e-160)])
def test_balanced_drop_time_at_the_ends_of_the_float_range(args):
    # v0 = κ0: the documented equality with separate_drop_time (a different algorithm); λ³
    # overflowed (an OverflowError) and 1/v² a false error here
    lam, tr, N, v0 = args
    want = float(la.separate_drop_time(lam, tr, N, v0))
    assert la.unbalanced_drop_time(lam, tr, N, v0, v0) == pytest.approx(want, rel=1e-13, abs=0)


def test_head_strength_while_v_is_below_1e_300():
    # for ξ = v/v* ≪ 1, F(ξ) = −1/ξ + const + O(ξ), so v(t) = 1/(1/v0 − λ²t/τ); the bisection used to
    # evaluate F at a clip of 1e-300 instead of at its midpoint and returned ~v0 (1.0e-301)
    got = la.head_strength(5e300, 1e-301, 1.0, 1.0, 1.0)
    assert float(got) == pytest.approx(2e-301, rel=1e-14, abs=0)


def test_merged_time_course_at_a_balanced_start_is_shaped_like_t():
    # √D/w² = λs (D = 4, N = 5, w = 1, λ = 1: s = 2): σ = 1/(λs) for every t, as arrays like t
    sigma, loss = la.merged_time_course([0.0, 1.0, 2.0], 4, 5, 1.0)
    assert np.shape(sigma) == np.shape(loss) == (3,)
    np.testing.assert_array_equal(sigma, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(loss, [2.0, 2.0, 2.0])  # Dλ(1 − 2λσ + λ²sσ²) = 4(1 − 1 + 0.5)


@pytest.mark.parametrize("readout", [1e-305, 1e-295, 1e-250, 1e-170])
def test_split_function_for_tiny_readouts(readout):
    # β0 = a0 w0 with a0² − w0² = δ = −1: a0 ≈ readout and w0 ≈ 1; brentq's absolute xtol = 1e-300
    # gave a0 = 1.14e-305 for 1e-305 (δ = −0.77) and was 4e-7 off at 1e-295
    from theorylib.sim import rich_lazy as sr
    with mp.workdps(60):
        B = mp.mpf(readout)
        a2 = 2 * B * B / (1 + mp.sqrt(1 + 4 * B * B))  # a² − B²/a² = −1 solved for a², stably
        want_a = float(mp.sqrt(a2))
    got = sr.split_function([readout], -1.0)
    assert float(got["a"][0]) == pytest.approx(want_a, rel=1e-14, abs=0)
    assert float(got["w"][0][0]) == pytest.approx(float(B / mp.sqrt(a2)), rel=1e-14, abs=0)


def test_scalar_arguments_give_scalars():
    # the chapters round these (round(t, 2)): a 0-d array has no __round__
    for t in (dl.learning_time(3.0, 1e-3, 1.5), dl.half_learning_time(1.0, 0.002),
              dl.deep_learning_time(1.0, 0.1, 0.5, 3), dl.deep_learning_time(1.0, 0.1, 0.9, 2)):
        assert np.ndim(t) == 0 and not isinstance(t, np.ndarray)
        assert round(t, 2) == round(float(t), 2)
