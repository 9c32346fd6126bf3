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
           "table", "main"]


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


def check(label: str) -> Result:
    """Run one claim's check and return its :class:`Result` (never raises on failure)."""
    if label not in _REGISTRY:
        load_all()
    if label not in _REGISTRY:
        raise KeyError(f"no claim labelled {label!r}")
    c = _REGISTRY[label]
    t0 = time.perf_counter()
    err, ok, data = _evaluate(c, c.func())
    return Result(c, err, bool(ok), time.perf_counter() - t0, data)


def verify(chapter: str | None = None) -> list[Result]:
    """Run every registered claim (optionally of one chapter), in label order per chapter."""
    load_all()
    claims = sorted(_REGISTRY.values(), key=lambda c: (c.chapter, c.label))
    if chapter is not None:
        claims = [c for c in claims if c.chapter == chapter]
    return [check(c.label) for c in claims]


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


def _fmt_tol(r: Result) -> str:
    return "exact" if r.claim.kind == "symbolic" else f"{r.claim.tol:.0e}"


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
         f"{r.claim.tol:.0e}" if r.claim.tol else "exact", "pass" if r.passed else "FAIL",
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
    failed = [f"{r.label} (error {r.error:.3g} > tolerance {r.tol:.3g})" for r in rep if not r.passed]
    if failed:
        raise AssertionError("claims failed: " + "; ".join(failed))
    return rep


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "verify":
        argv = argv[1:]
    chapter = argv[0] if argv else None
    results = verify(chapter)
    print(table(results))
    failed = [r for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0
