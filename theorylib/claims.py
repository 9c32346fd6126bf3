"""The claims registry: every result the book states, with the check that proves it.

A claim is registered with :func:`claim` on a function that returns either

* a sympy expression (or matrix), for ``kind="symbolic"``: the claim holds iff sympy
  simplifies it to exactly zero (the reported error is 0 or 1); or
* a non-negative number (or ``(error, data)``) for ``kind="numeric"``: the claim holds iff
  ``error ≤ tol``.

Chapters call :func:`check` so that the numbers printed in the book are the numbers the
registry verifies; ``python -m theorylib verify`` runs every registered claim and exits
non-zero on any failure. Check modules live in :mod:`theorylib.checks`, one per chapter.

Introduced in Chapter 1.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy as sp

__all__ = ["Claim", "Result", "Report", "claim", "check", "report", "registry", "load_all", "verify",
           "table", "main", "cache_dir"]


@dataclass(frozen=True)
class Claim:
    label: str
    chapter: str
    kind: str
    statement: str
    tol: float
    func: Callable
    tol_reason: str = ""
    ref: str = ""


@dataclass
class Result:
    """Outcome of one check: ``error`` against ``tol``; ``data`` carries arrays for figures."""

    claim: Claim
    error: float
    passed: bool
    seconds: float
    data: dict = field(default_factory=dict)
    cached: bool = False  # reused from the result cache (same library code) rather than recomputed

    @property
    def label(self):
        return self.claim.label

    @property
    def tol(self):
        return self.claim.tol

    def __repr__(self):
        status = "pass" if self.passed else "FAIL"
        return f"<{self.claim.label}: error {self.error:.3g} (tol {self.claim.tol:.3g}) {status}>"


_REGISTRY: dict[str, Claim] = {}


def claim(label: str, chapter: str, kind: str, statement: str, tol: float | None = None,
          tol_reason: str = "", ref: str = ""):
    """Register the decorated zero-argument function as the check of a claim.

    ``statement`` is the one-line claim as a reader would state it; ``ref`` is the label of the
    theorem, section, equation or figure of the book that the claim backs (``thm-...``,
    ``sec-...``, ``eq-...``, ``fig-...``); the Claims page links to it.
    """
    if kind not in ("symbolic", "numeric"):
        raise ValueError("kind must be 'symbolic' or 'numeric'")
    if kind == "numeric" and (tol is None or not tol > 0):
        raise ValueError("a numeric claim needs a positive tolerance")
    if kind == "symbolic":
        tol = 0.0

    def deco(func):
        if label in _REGISTRY and _REGISTRY[label].func.__qualname__ != func.__qualname__:
            raise ValueError(f"claim label {label!r} is registered twice")
        _REGISTRY[label] = Claim(label, chapter, kind, statement, float(tol), func, tol_reason, ref)
        return func

    return deco


def registry() -> dict[str, Claim]:
    """All registered claims (call :func:`load_all` first to include every chapter)."""
    return dict(_REGISTRY)


def load_all():
    """Import every module of :mod:`theorylib.checks` so that all claims are registered."""
    from . import checks

    for mod in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"{checks.__name__}.{mod.name}")
    return registry()


def _evaluate(c: Claim, out):
    data = {}
    if c.kind == "symbolic":
        if isinstance(out, tuple):
            out, data = out
        if isinstance(out, sp.MatrixBase):
            zero = all(sp.simplify(e) == 0 for e in out)
        else:
            zero = sp.simplify(out) == 0
        return (0.0 if zero else 1.0), zero, data
    if isinstance(out, tuple):
        out, data = out
    err = float(out)
    if not np.isfinite(err) or err < 0:
        return err, False, data
    return err, err <= c.tol, data


# ---- the result cache ---------------------------------------------------------------------
# A claim's result depends only on the code that computes it (theorylib's sources) and on the
# numerical libraries; the checks use fixed seeds. So a result is stored under a key made of the
# claim's label, a hash of every source file of theorylib and the versions of numpy, scipy and
# sympy, and reused by every later check of the same claim: `verify`, the chapters run by nbval
# and the book build's Claims page then compute each claim once. Changing any file of the
# library changes the key. THEORYLIB_CACHE=off disables the cache; THEORYLIB_CACHE=<dir> moves it.

_SOURCE_HASH: str | None = None


def _library_hash() -> str:
    global _SOURCE_HASH
    if _SOURCE_HASH is None:
        import hashlib
        from pathlib import Path

        import scipy

        from . import __version__

        h = hashlib.sha256()
        root = Path(__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
        h.update(f"{__version__} numpy {np.__version__} scipy {scipy.__version__} "
                 f"sympy {sp.__version__} python {sys.version_info[:2]}".encode())
        _SOURCE_HASH = h.hexdigest()[:20]
    return _SOURCE_HASH


def cache_dir():
    """Where results are cached (``None`` when ``THEORYLIB_CACHE=off``)."""
    import os
    from pathlib import Path

    setting = os.environ.get("THEORYLIB_CACHE", "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting and setting.lower() not in ("on", "1", "yes", "true"):
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "theorylib" / "claims"


def _cache_path(label: str):
    folder = cache_dir()
    return None if folder is None else folder / _library_hash() / f"{label}.pkl"


def _cache_load(label: str):
    import pickle

    path = _cache_path(label)
    if path is None or not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # a truncated or foreign file is recomputed, never trusted
        return None


def _cache_store(label: str, payload) -> None:
    import os
    import pickle
    import tempfile

    path = _cache_path(label)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: concurrent writers of the same claim cannot corrupt it
    except Exception:  # data that cannot be pickled (or a read-only disk) is simply not cached
        try:
            os.unlink(tmp)
        except Exception:
            pass


def check(label: str, use_cache: bool = True) -> Result:
    """Run one claim's check and return its :class:`Result` (never raises on failure).

    With ``use_cache`` (the default) a result computed before by the same library code is
    reused (see :func:`cache_dir`); a fresh result is always stored for later reuse.
    """
    if label not in _REGISTRY:
        load_all()
    if label not in _REGISTRY:
        raise KeyError(f"no claim labelled {label!r}")
    c = _REGISTRY[label]
    if use_cache:
        hit = _cache_load(label)
        if hit is not None:
            err, ok, seconds, data = hit
            return Result(c, err, bool(ok), seconds, data, cached=True)
    t0 = time.perf_counter()
    try:
        err, ok, data = _evaluate(c, c.func())
    except Exception as exc:  # a check that crashes is a failed claim, reported with its reason
        return Result(c, float("nan"), False, time.perf_counter() - t0,
                      {"exception": f"{type(exc).__name__}: {exc}"})
    seconds = time.perf_counter() - t0
    _cache_store(label, (err, bool(ok), seconds, data))
    return Result(c, err, bool(ok), seconds, data)


def _check_in_worker(args):
    label, use_cache = args
    r = check(label, use_cache)
    return label, r.error, r.passed, r.seconds, r.data, r.cached


def verify(chapter: str | None = None, use_cache: bool = True, jobs: int = 1) -> list[Result]:
    """Run every registered claim (optionally of one chapter), in label order per chapter.

    ``jobs > 1`` runs the checks in that many worker processes (results are identical: every
    check is deterministic and independent of the others).
    """
    load_all()
    claims = sorted(_REGISTRY.values(), key=lambda c: (c.chapter, c.label))
    if chapter is not None:
        claims = [c for c in claims if c.chapter == chapter]
    if jobs <= 1 or len(claims) <= 1:
        return [check(c.label, use_cache) for c in claims]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers inherit the registry already loaded, no re-import per process
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        out = {label: (err, ok, sec, data, cached) for label, err, ok, sec, data, cached in
               pool.map(_check_in_worker, [(c.label, use_cache) for c in claims])}
    return [Result(c, out[c.label][0], bool(out[c.label][1]), out[c.label][2], out[c.label][3],
                   cached=out[c.label][4]) for c in claims]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# Label prefixes of sphinx-proof directives (theorem, proposition, lemma, corollary, ...).
PRF_PREFIXES = ("thm", "prop", "lem", "cor", "def", "rem", "alg", "conj", "ax", "crit", "obs")


def ref_role(ref: str) -> str:
    """The MyST cross-reference to a claim's ``ref`` label (empty string when there is none)."""
    if not ref:
        return ""
    if ref.split("-", 1)[0] in PRF_PREFIXES:
        return f"{{prf:ref}}`{ref}`"
    if ref.startswith("fig-"):
        return f"{{numref}}`{ref}`"
    if ref.startswith("eq-"):
        return f"{{eq}}`{ref}`"
    if ref.startswith("ex-"):
        return f"{{ref}}`{ref}`"
    return f"{{ref}}`{ref}`"


def _fmt_error(r: Result) -> str:
    if r.claim.kind == "symbolic":
        return "0 (sympy)" if r.passed else "nonzero"
    return f"{r.error:.1e}"


def _fmt_tol_value(tol: float) -> str:
    """The tolerance with as few digits as show it exactly (2.5e-3 is not printed as 2e-03)."""
    for digits in range(17):
        text = f"{tol:.{digits}e}"
        if float(text) == tol:
            return text
    return repr(tol)


def _fmt_tol(r: Result) -> str:
    return "exact" if r.claim.kind == "symbolic" else _fmt_tol_value(r.claim.tol)


def table(results: list[Result], fmt: str = "text") -> str:
    """The verification table as plain text, or as MyST Markdown for the Claims page.

    The Markdown form has one section per chapter and, per claim, its statement, a link to the
    theorem or section it backs, the achieved error, the tolerance and the reason for it.
    """
    if fmt == "markdown":
        out = []
        for chapter in sorted({r.claim.chapter for r in results}):
            rows = [r for r in results if r.claim.chapter == chapter]
            n_pass = sum(r.passed for r in rows)
            out.append(f"### Chapter {int(chapter[2:])}" if chapter[2:].isdigit() else f"### {chapter}")
            out.append(f"{n_pass} of {len(rows)} claims pass.\n")
            out.append("| claim | backs | error | tolerance | why this tolerance | result |")
            out.append("|---|---|---|---|---|---|")
            for r in rows:
                c = r.claim
                reason = c.tol_reason or ("sympy proves the identity exactly" if c.kind == "symbolic" else "")
                out.append("| " + " | ".join([
                    f"{_md_escape(c.statement)} (`{c.label}`)", ref_role(c.ref), _fmt_error(r),
                    _fmt_tol(r), _md_escape(reason), "pass" if r.passed else "**FAIL**"]) + " |")
            out.append("")
        return "\n".join(out)
    rows = [
        (r.claim.label, r.claim.chapter, r.claim.kind, f"{r.error:.2e}",
         _fmt_tol_value(r.claim.tol) if r.claim.tol else "exact", "pass" if r.passed else "FAIL",
         f"{r.seconds:.2f}")
        for r in results
    ]
    head = ("label", "chapter", "kind", "error", "tolerance", "result", "seconds")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths))
    return "\n".join([line(head), line(tuple("-" * w for w in widths))] + [line(r) for r in rows])


class Report:
    """The results of a few claims, shown in a chapter as a short table (not a repr).

    Index it by label for the numbers (``rep["ch01-gd-mode-strength"].error``). Displayed in a
    notebook it renders as Markdown: claim, error, tolerance, result.
    """

    def __init__(self, results: list[Result]):
        self.results = list(results)
        self._by_label = {r.label: r for r in self.results}

    def __getitem__(self, label: str) -> Result:
        return self._by_label[label]

    def __iter__(self):
        return iter(self.results)

    def __len__(self):
        return len(self.results)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def _repr_markdown_(self) -> str:
        lines = ["| claim | error | tolerance | result |", "|---|---|---|---|"]
        for r in self.results:
            lines.append(f"| {_md_escape(r.claim.statement)} | {_fmt_error(r)} | {_fmt_tol(r)} | "
                         f"{'pass' if r.passed else '**FAIL**'} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return "\n".join(
            f"{'pass' if r.passed else 'FAIL'}  {r.label}: error {_fmt_error(r)} "
            f"(tolerance {_fmt_tol(r)})" for r in self.results)

    __repr__ = __str__


def report(*labels: str) -> Report:
    """Check the named claims and return them as a :class:`Report`.

    Raises ``AssertionError`` naming every failing claim, so a chapter cell that calls it
    fails when a claim does (a notebook run by nbval or the book build then fails too).
    """
    if not labels:
        raise ValueError("report() needs at least one claim label")
    rep = Report([check(label) for label in labels])
    failed = [f"{r.label} ({r.data['exception']})" if "exception" in r.data else
              f"{r.label} (error {r.error:.3g} > tolerance {r.tol:.3g})" for r in rep if not r.passed]
    if failed:
        raise AssertionError("claims failed: " + "; ".join(failed))
    return rep


def main(argv=None) -> int:
    """``python -m theorylib verify [chapter] [--no-cache] [-j N]``."""
    import argparse
    import os

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "verify":
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="python -m theorylib verify",
                                     description="Run the book's registered claims and print the table.")
    parser.add_argument("chapter", nargs="?", help="one chapter, e.g. ch01 (default: all)")
    parser.add_argument("--no-cache", action="store_true",
                        help="recompute every claim instead of reusing cached results "
                             "(fresh results are still stored for the chapters to reuse)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: the number of CPUs)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    t0 = time.perf_counter()
    results = verify(args.chapter, use_cache=not args.no_cache, jobs=args.jobs)
    wall = time.perf_counter() - t0
    print(table(results))
    failed = [r for r in results if not r.passed]
    for r in failed:
        if "exception" in r.data:
            print(f"{r.label}: the check raised {r.data['exception']}")
    n_cached = sum(r.cached for r in results)
    print(f"\n{len(results)} claims in {wall:.1f} s ({n_cached} from the cache, {args.jobs} workers)")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0
