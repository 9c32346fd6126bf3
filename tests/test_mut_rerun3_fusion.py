"""Tests that kill survivors of the rewritten ``fusion_times`` / ``_log_fusion_times`` /
``fusion_time_ratio`` of theory/fusion.py (mutmut 3.8.1); see tools/mutation/rerun3_fusion.md.

Expectations are independent of the implementation:

* ``t_A`` is a 20-digit ``mpmath`` quadrature of the integral written in ``fusion_times``'
  docstring (``u_B(u)`` from the closed forms in ``early_branch_size``'s docstring), the lag is
  the docstring's closed form, and ``c_B = Sigma_yxB - Sigma_BA Sigma_yxA / Sigma_AA`` is
  hand-derived for two scalar modalities;
* for ``L_f = L`` the ratio is the closed form ``1 + (1 - k) Sigma_yxA / (c_B (1 - u0^(L-2)))``
  of ``fusion_time_ratio``'s Notes;
* a time below the float range must be reported as unrepresentable (``ValueError``), not
  returned as 0, and an overflowing ratio must raise without a stray overflow warning, with the
  documented estimate ``ratio ~ e^x`` in the message.
"""
import re
import warnings

import mpmath as mp
import numpy as np
import pytest

from theorylib.theory import fusion as fu

RHO = 0.3
S = np.array([[1.0, RHO], [RHO, 1.0]])


def _c_b(sa, sb, rho=RHO):
    """Residual drive of B once A has its unimodal weight sa/Sigma_AA (Sigma_AA = Sigma_BB = 1)."""
    return sb - rho * sa


def _log_ratio_minus_one_reference(L, Lf, sa, sb, u0, dps=20):
    """ln((t_B - t_A)/t_A) from an mpmath quadrature of t_A (tau = 1) and the closed-form lag."""
    with mp.workdps(dps):
        sa_, sb_, u0_ = mp.mpf(sa), mp.mpf(sb), mp.mpf(u0)
        c = mp.mpf(sb) - mp.mpf(RHO) * sa_
        k = mp.sign(c) * sb_ / abs(sa_)
        w_uni = abs(sa_)  # |Sigma_yxA| / Sigma_AA with Sigma_AA = 1

        def u_b(u):
            if Lf == 1:
                return u0_ + k * (u - u0_)
            if Lf == 2:
                return u0_ * (u / u0_) ** k
            p = 2 - Lf
            return (u0_**p + k * (u**p - u0_**p)) ** (mp.mpf(1) / p)

        def integrand_y(y):  # u = u0 e^y, du = u dy
            u = u0_ * mp.exp(y)
            return u / (abs(sa_) * u ** (Lf - 1) * (u**2 + u_b(u) ** 2) ** (mp.mpf(L - Lf) / 2))

        Y = -mp.log(u0_)
        pts = [mp.mpf(0)] + [mp.mpf(e) for e in ("1e-4", "1e-3", "3e-3", "1e-2", "3e-2", "0.1") if mp.mpf(e) < Y] + [Y]
        t_a = mp.quad(integrand_y, pts)
        if Lf == 2:
            lag = (1 - k) * Y / (c * w_uni ** (1 - mp.mpf(2) / L))
        else:
            lag = (1 - k) * u0_ ** (2 - Lf) / ((Lf - 2) * c * w_uni ** (1 - mp.mpf(Lf) / L))
        return float(mp.log(lag / t_a))


# ---------------------------------------------------------------- very deep branches


def test_ratio_for_a_very_deep_pre_fusion_part_matches_the_quadrature():
    # L - L_f = 7000: the integrand's peak 2^-(L-L_f)/2 underflows, so it must be rescaled by
    # exactly that value; u0 ~ 1/sqrt(2) keeps (t_B - t_A)/t_A ~ (sqrt(2) u0)^(L-L_f) visible.
    L, Lf, u0 = 7002, 2, 0.707
    sa, sb = 2.0, 1.0
    got = fu.fusion_time_ratio(L, Lf, S, np.array([sa, sb]), 1, u0)
    ref = _log_ratio_minus_one_reference(L, Lf, sa, sb, u0)
    assert np.isfinite(got) and got > 1.0
    assert np.log(got - 1.0) == pytest.approx(ref, abs=1e-8)


def test_late_fusion_ratio_for_very_deep_networks_is_the_closed_form():
    # L_f = L = 1100 (> 1024 layers): the docstring's closed form, no quadrature needed.
    sa, sb, u0 = 2.0, 1.0, 0.5
    L = 1100
    c = _c_b(sa, sb)
    k = sb / sa
    expected = 1.0 + (1.0 - k) * sa / (c * (1.0 - u0 ** (L - 2)))
    got = fu.fusion_time_ratio(L, L, S, np.array([sa, sb]), 1, u0)
    assert got == pytest.approx(expected, rel=1e-10, abs=0)


# ---------------------------------------------------------------- underflow of the lag


def test_a_lag_below_the_float_range_is_reported_not_returned_as_zero():
    # L = L_f = 2, u0 just below 1, nearly tied drives (1 - k ~ 1e-15) and tau = 1e-300:
    # t_A = tau ln(1/u0) / Sigma_yxA ~ 1e-316 is a (subnormal) float, but
    # t_B - t_A = tau (1 - k) ln(1/u0) / c_B ~ 1e-331 is a positive time below the float range.
    sa, sb = 1.0, 1.0 - 1e-15
    u0 = float(np.nextafter(1.0, 0.0))
    tau = 1e-300
    log_ta = float(mp.log(-mp.log(mp.mpf(u0)) / sa) + mp.log(mp.mpf(tau)))
    expo = f"{log_ta:.4g}"
    assert expo == "-727.5"
    msg = (r"^t_B − t_A is not representable as a finite float: t_A ≈ e\^" + re.escape(expo)
           + r" for u0 = 1 \(fusion_time_ratio still works at any u0\)$")
    with pytest.raises(ValueError, match=msg):
        fu.fusion_times(2, 2, S, np.array([sa, sb]), 1, u0, tau=tau)
    # the same setup at an ordinary tau gives the finite, positive times of the docstring
    t_a, lag = fu.fusion_times(2, 2, S, np.array([sa, sb]), 1, u0)
    Y = float(-mp.log(mp.mpf(u0)))
    assert t_a == pytest.approx(Y / sa, rel=1e-9, abs=0)
    one_minus_k = float(1 - mp.mpf(sb) / mp.mpf(sa))
    assert lag == pytest.approx(one_minus_k * Y / _c_b(sa, sb), rel=1e-6, abs=0)


# ---------------------------------------------------------------- overflow of the ratio


def test_an_overflowing_ratio_raises_cleanly_with_its_logarithm_in_the_message():
    # L - L_f = 2100 and u0 near 1: t_A ~ 2^-1050 (1 - u0) while the lag is O(1), so the ratio
    # ~ e^735 is beyond the float range.
    L, Lf, u0 = 2103, 3, 0.999
    sa, sb = 2.0, 1.0
    ref = _log_ratio_minus_one_reference(L, Lf, sa, sb, u0)
    assert ref > 710.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=r"^t_B/t_A is not representable as a finite float: "
                                             r"the ratio is ≈ e\^(\S+)$") as info:
            fu.fusion_time_ratio(L, Lf, S, np.array([sa, sb]), 1, u0)
    overflow = [w for w in caught if issubclass(w.category, RuntimeWarning) and "overflow" in str(w.message)]
    assert overflow == []
    shown = float(re.search(r"e\^(\S+)$", str(info.value)).group(1))
    assert shown == pytest.approx(ref, abs=0.06)
