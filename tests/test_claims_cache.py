"""The claims' result cache and parallel verification (theorylib.claims).

A cached result must be reused only for the same library code, a crashing check must be a
failed claim (not a crash of ``verify``), and ``jobs > 1`` must give the same table as one process.
"""
import numpy as np
import pytest

from theorylib import claims

CALLS = {"n": 0}


@claims.claim("zz-cache-counted", "chzz", "numeric", "A test claim that counts its calls.", tol=1.0,
              tol_reason="test")
def _counted():
    CALLS["n"] += 1
    return 0.25, {"x": np.arange(3.0)}


@claims.claim("zz-cache-raises", "chzz", "numeric", "A test claim whose check crashes.", tol=1.0,
              tol_reason="test")
def _raises():
    raise ValueError("bad input inside the check")


@claims.claim("zz-cache-symbolic", "chzz", "symbolic", "A test identity.")
def _symbolic():
    import sympy as sp
    x = sp.symbols("x")
    return sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORYLIB_CACHE", str(tmp_path / "cache"))
    CALLS["n"] = 0


def test_second_check_is_served_from_the_cache():
    first = claims.check("zz-cache-counted")
    second = claims.check("zz-cache-counted")
    assert CALLS["n"] == 1 and not first.cached and second.cached
    assert second.error == first.error == 0.25 and second.passed
    np.testing.assert_array_equal(second.data["x"], first.data["x"])


def test_no_cache_recomputes_and_refreshes():
    claims.check("zz-cache-counted")
    fresh = claims.check("zz-cache-counted", use_cache=False)
    assert CALLS["n"] == 2 and not fresh.cached


def test_changed_library_code_is_a_cache_miss(monkeypatch):
    claims.check("zz-cache-counted")
    monkeypatch.setattr(claims, "_SOURCE_HASH", "another-library-version")
    assert not claims.check("zz-cache-counted").cached and CALLS["n"] == 2


def test_cache_off(monkeypatch):
    monkeypatch.setenv("THEORYLIB_CACHE", "off")
    assert claims.cache_dir() is None
    claims.check("zz-cache-counted")
    assert not claims.check("zz-cache-counted").cached and CALLS["n"] == 2


def test_corrupt_cache_file_is_recomputed():
    claims.check("zz-cache-counted")
    path = claims._cache_path("zz-cache-counted")
    path.write_bytes(b"not a pickle")
    again = claims.check("zz-cache-counted")
    assert not again.cached and again.error == 0.25


def test_a_crashing_check_is_a_failed_claim_with_its_reason():
    r = claims.check("zz-cache-raises")
    assert not r.passed and "bad input inside the check" in r.data["exception"]
    with pytest.raises(AssertionError, match="bad input inside the check"):
        claims.report("zz-cache-raises")


def test_parallel_verify_equals_serial():
    serial = claims.verify("chzz", use_cache=False, jobs=1)
    parallel = claims.verify("chzz", use_cache=False, jobs=2)
    assert [r.label for r in serial] == [r.label for r in parallel]
    for a, b in zip(serial, parallel):
        assert a.passed == b.passed
        assert (np.isnan(a.error) and np.isnan(b.error)) or a.error == b.error


def test_report_shows_a_table_not_a_repr():
    rep = claims.report("zz-cache-counted", "zz-cache-symbolic")
    md = rep._repr_markdown_()
    assert md.startswith("| claim |") and "A test claim that counts its calls." in md
    assert "0 (sympy)" in md and "<" not in md
    assert rep["zz-cache-counted"].error == 0.25


@claims.claim("zz-cache-two-digit-tol", "chzz", "numeric", "A claim with a two-digit tolerance.",
              tol=2.5e-3, tol_reason="test")
def _two_digit():
    return 2.4e-3, {}


def test_tables_print_a_tolerance_exactly():
    # 2.5e-3 printed to one digit reads "2e-03", a tighter bound than the claim checks
    rep = claims.report("zz-cache-two-digit-tol", "zz-cache-counted")
    md = rep._repr_markdown_()
    assert "| 2.5e-03 |" in md and "| 1e+00 |" in md
    text = claims.table(list(rep.results))
    assert "2.5e-03" in text and "2e-03" not in text.replace("2.5e-03", "")
    markdown = claims.table(list(rep.results), fmt="markdown")
    assert "| 2.5e-03 |" in markdown
