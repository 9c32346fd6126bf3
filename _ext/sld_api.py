"""Two-way links between the chapters and the API reference of ``theorylib``.

1. In docstrings (read by ``sphinx.ext.autodoc``), a book label written as ``thm-ch01-sigmoid``
   (in double back-quotes) becomes a link: ``prf:ref`` for theorems, propositions, lemmas and
   corollaries, ``ref`` for sections, ``eq`` for equations and ``numref`` for figures. A label
   that does not exist is an undefined reference, so the ``-W`` build fails when a docstring
   names a theorem the book no longer has.
2. Every theorem-like box of a chapter that some public function's docstring names gets a last
   line, "In theorylib: f, g", linking to those functions' entries in the API reference.

The functions are found by importing every public module of ``theorylib.theory`` and
``theorylib.sim`` and reading the docstrings of the names in their ``__all__``.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGES = ("theorylib.theory", "theorylib.sim")
PRF = ("thm", "prop", "lem", "cor", "def", "rem")
LABEL_RE = re.compile(r"``((?:thm|prop|lem|cor|def|rem|sec|eq|fig)-ch\d\d[A-Za-z0-9-]*)``")


def public_modules() -> list[str]:
    """Dotted names of the public modules of theorylib.theory and theorylib.sim."""
    names = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        for mod in pkgutil.iter_modules(pkg.__path__):
            if not mod.name.startswith("_"):
                names.append(f"{package}.{mod.name}")
    return names


def public_objects():
    """(module, name, object) for every name in each public module's ``__all__``."""
    for modname in public_modules():
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", []):
            yield modname, name, getattr(module, name)


def label_map() -> dict[str, list[str]]:
    """Book label -> the fully qualified public functions whose docstrings name it."""
    found: dict[str, list[str]] = {}
    for modname, name, obj in public_objects():
        for label in LABEL_RE.findall(inspect.getdoc(obj) or ""):
            found.setdefault(label, []).append(f"{modname}.{name}")
    return found


class book_label(nodes.Inline, nodes.TextElement):
    """A book label named in a docstring, resolved once every chapter has been read."""


def book_label_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [book_label(text, text, target=text)], []


# "Theorem ``thm-...``": the link already reads "Theorem 1.4", so the word is dropped.
KIND_RE = re.compile(r"\b(?:Theorem|Lemma|Proposition|Corollary|Definition|Remark)\s+(?=``(?:thm|prop|lem|cor|def|rem)-)")


def link_labels(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        line = KIND_RE.sub("", line)
        lines[i] = LABEL_RE.sub(lambda m: f":sld-label:`{m.group(1)}`", line)


class ResolveBookLabels(SphinxPostTransform):
    """Turn docstring labels into the book's own cross-references (before they are resolved).

    At this stage every document has been read, so a label the book does not define can stay
    plain text (tests/test_api_pages.py names such drift) instead of failing the build.
    """

    # before sphinx's ReferencesResolver (10), and before the LaTeX builder's
    # MathReferenceTransform (5), which turns the equation references made here into the
    # \ref{equation:...} that the PDF's equation labels answer to ("??" otherwise)
    default_priority = 4

    def run(self, **kwargs):
        env = self.env
        proofs = getattr(env, "proof_list", {})
        std = env.domaindata["std"]
        for node in list(self.document.findall(book_label)):
            target = node["target"]
            prefix = target.split("-", 1)[0]
            if prefix in PRF and target in proofs:
                domain, reftype = "prf", "ref"
            elif prefix == "sec" and target in std["labels"]:
                domain, reftype = "std", "ref"
            elif prefix == "fig" and target in std["labels"]:
                domain, reftype = "std", "numref"
            elif prefix == "eq" and target in env.domaindata["math"]["objects"]:
                domain, reftype = "math", "eq"
            else:
                logger.info(f"[sld_api] a docstring names {target!r}, which the book does not define")
                node.replace_self(nodes.literal(text=target))
                continue
            xref = addnodes.pending_xref("", refdomain=domain, reftype=reftype, reftarget=target,
                                         refexplicit=False, refwarn=True,
                                         refdoc=env.docname)
            xref += nodes.inline(text=target)
            node.replace_self(xref)


class ExerciseRefsAcrossPagesInLatex(SphinxPostTransform):
    """References to an exercise from another page (the Claims page) in the PDF.

    In LaTeX sphinx-exercise labels an exercise ``exercise:<label>`` and rewrites the
    references on the exercise's own page to it, but a reference from another page still
    points at ``<page>:<label>``, which LaTeX does not define (it prints "??"). The LaTeX
    writer turns a reference URI ``%<a>#<b>`` into the label ``<a>:<b>``, so such references
    get the URI ``%exercise#<label>``; their text ("Exercise 2.2") is already resolved."""

    default_priority = 21  # after the references are resolved (10)
    formats = ("latex",)

    def run(self, **kwargs):
        from sphinx_exercise.nodes import exercise_enumerable_node

        registry = getattr(self.env, "sphinx_exercise_registry", {})
        for node in self.document.findall(nodes.reference):
            uri = node.get("refuri", "")
            if not uri.startswith("%") or "#" not in uri:
                continue
            label = uri.rsplit("#", 1)[1]
            target = registry.get(label)
            if target and isinstance(target.get("node"), exercise_enumerable_node):
                node["refuri"] = f"%exercise#{label}"


def add_implementations(app, doctree):
    env = app.env
    if not env.docname.startswith("chapters/"):
        return
    implementations = app.env.sld_label_map
    for node in doctree.findall(lambda n: isinstance(n, nodes.Element) and n.get("realtype")):
        label = node.get("label", "")
        targets = implementations.get(label)
        if not targets:
            continue
        para = nodes.paragraph(classes=["sld-implemented-by"])
        para += nodes.emphasis(text="In theorylib: ")
        for k, target in enumerate(targets):
            if k:
                para += nodes.Text(", ")
            short = target.split("theorylib.", 1)[1]
            xref = addnodes.pending_xref("", refdomain="py", reftype="obj", reftarget=target,
                                         refexplicit=True, refwarn=True, refdoc=env.docname)
            xref += nodes.literal(text=short)
            para += xref
        content = [c for c in node.children if isinstance(c, nodes.section)]
        (content[-1] if content else node).append(para)


def builder_inited(app):
    app.env.sld_label_map = label_map()


def setup(app):
    app.connect("builder-inited", builder_inited)
    app.connect("autodoc-process-docstring", link_labels)
    app.connect("doctree-read", add_implementations)
    app.add_node(book_label)
    app.add_role("sld-label", book_label_role)
    app.add_post_transform(ResolveBookLabels)
    app.add_post_transform(ExerciseRefsAcrossPagesInLatex)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
