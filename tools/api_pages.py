"""Write the API reference pages (api/*.md), one per public module of theorylib.

Run after adding a module: ``python tools/api_pages.py``. tests/test_api_pages.py fails when a
public module of theorylib.theory or theorylib.sim has no page, so the reference cannot fall
behind the library. The pages only hold autodoc directives: the text is the docstrings.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
from sld_api import public_modules  # noqa: E402

# Modules outside theory/sim that a reader of the chapters also calls.
EXTRA = ["theorylib.claims", "theorylib.checks", "theorylib.symbolic", "theorylib.plotting", "theorylib.sweep"]


def first_line(modname: str) -> str:
    doc = importlib.import_module(modname).__doc__ or ""
    return doc.strip().split("\n")[0].rstrip(".")


def page(modname: str) -> str:
    return (f"# `{modname}`\n\n"
            "```{eval-rst}\n"
            f".. automodule:: {modname}\n"
            "   :members:\n"
            "   :show-inheritance:\n"
            "```\n")


def package_page(modname: str) -> str:
    # the package's docstring only: its names are documented in the submodules' pages
    return f"# `{modname}`\n\n```{{eval-rst}}\n.. automodule:: {modname}\n```\n"


PACKAGE_PAGES = ["theorylib.theory", "theorylib.sim"]


def main() -> None:
    out = ROOT / "api"
    out.mkdir(exist_ok=True)
    modules = PACKAGE_PAGES + public_modules() + EXTRA
    for old in out.glob("theorylib.*.md"):
        if old.stem not in modules:
            old.unlink()
    for modname in modules:
        text = package_page(modname) if modname in PACKAGE_PAGES else page(modname)
        (out / f"{modname}.md").write_text(text)
    rows = "\n".join(f"| {{doc}}`{m} <{m}>` | {first_line(m)} |" for m in modules)
    (out / "index.md").write_text(f"""# API reference

`theorylib` is the library the chapters run on, usable on its own. Its two halves never meet:
`theorylib.theory` holds the closed forms (each function names the theorem it implements and
links to it; each theorem of the book links back to its functions), and `theorylib.sim` the
models, data sets and the gradient-descent and gradient-flow engine, which never use a closed
form. Only `theorylib.checks` (the claims) and the chapters compare the two.

| module | what it holds |
|---|---|
{rows}
""")


if __name__ == "__main__":
    main()
