"""The API reference covers the library: a page per public module, every public name documented.

The pages (api/*.md) are written by tools/api_pages.py; autodoc fills them from the docstrings
at build time. These tests fail when a module is added without its page, when a public name
has no docstring, or when a docstring names a book label in a form the build cannot link.
"""
import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
from sld_api import LABEL_RE, public_modules, public_objects  # noqa: E402


@pytest.mark.parametrize("modname", public_modules())
def test_every_public_module_has_a_page(modname):
    page = ROOT / "api" / f"{modname}.md"
    assert page.is_file(), f"no API page for {modname}: run python tools/api_pages.py"
    assert f".. automodule:: {modname}" in page.read_text()


def test_index_lists_every_page():
    index = (ROOT / "api" / "index.md").read_text()
    for page in (ROOT / "api").glob("theorylib.*.md"):
        assert f"<{page.stem}>" in index, f"{page.stem} missing from api/index.md"


@pytest.mark.parametrize("modname,name,obj", list(public_objects()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_public_name_has_a_docstring(modname, name, obj):
    doc = inspect.getdoc(obj)
    assert doc and len(doc.split()) >= 3, f"{modname}.{name} has no docstring"


def test_theory_functions_name_the_result_they_implement():
    # A closed form without a link to its theorem cannot be found from the book.
    for modname in [m for m in public_modules() if ".theory." in m]:
        module = importlib.import_module(modname)
        labelled = [n for n in module.__all__
                    if LABEL_RE.search(inspect.getdoc(getattr(module, n)) or "")]
        assert labelled, f"no function of {modname} names a theorem label"


def test_docstring_labels_exist_in_the_chapters():
    labels = set()
    for nb in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"):
        text = nb.read_text()
        labels |= set(re.findall(r":label: ([A-Za-z0-9-]+)", text))
        labels |= set(re.findall(r"\(((?:sec|eq|fig)-ch\d\d[A-Za-z0-9-]*)\)=", text))
        labels |= set(re.findall(r"\$\$ \((eq-ch\d\d[A-Za-z0-9-]*)\)", text))
        labels |= set(re.findall(r'"name": "(fig-ch\d\d[A-Za-z0-9-]*)"', text))
    missing = sorted({label for _, _, obj in public_objects()
                      for label in LABEL_RE.findall(inspect.getdoc(obj) or "")} - labels)
    assert not missing, f"docstrings name labels the chapters do not define: {missing}"
