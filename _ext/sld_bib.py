"""Author-year citations with a/b disambiguation, and a bibliography in the same style.

The in-text citations use sphinxcontrib-bibtex's ``author_year`` referencing style
(``bibtex_reference_style``): ``{cite:t}`` gives "Zhang et al. [2024]", ``{cite:p}``
"[Zhang et al., 2024]". Two different papers can then look the same ("Zhang et al. [2024]" for
``zhang2024unimodal`` and ``zhang2024trained``). This extension

1. finds, once the bibliography files are parsed (``builder-inited``), every group of entries
   whose *author part* of the label (``Zhang et al.``; ``Baldi and Hornik``; ``Saxe``) and year
   coincide, orders each group by the full author list and then the title (biblatex's
   name-year-title order), and appends ``a``, ``b``, ... to the year of each member. The year
   field itself carries the suffix, so the in-text citation, its tooltip and the bibliography
   entry all say 2024a; the original year is kept in the field ``sld_year``. Nothing in
   ``references.bib`` is edited by hand, and a new colliding entry gets its letter by itself.
2. registers the pybtex formatting style ``sld_author_year`` (``bibtex_default_style``): the
   ``plain`` entry format, with author-year labels ("Zhang et al., 2024a") instead of numbers,
   sorted by author, year and suffix, so the bibliography reads in the same style as the text.

tests/browser/test_built_pages.py checks that each in-text label resolves to exactly one
bibliography entry.
"""
from __future__ import annotations

import string
from collections import defaultdict

import pybtex.plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from sphinx.util import logging

logger = logging.getLogger(__name__)

STYLE = "sld_author_year"
ORIGINAL_YEAR = "sld_year"


def _plain(latex: str) -> str:
    """A name or title as plain text (``Jo{\\~a}o`` -> ``João``, braces dropped)."""
    try:
        return Text.from_latex(latex).render_as("text")
    except Exception:  # a malformed field should not stop the build
        return latex.replace("{", "").replace("}", "")


def _surnames(entry) -> list[str]:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    return [_plain(" ".join(p.prelast_names + p.last_names)) for p in persons]


def author_part(entry) -> str:
    """The author part of the label, as the author_year referencing style writes it."""
    names = _surnames(entry)
    if not names:
        return _plain(entry.fields.get("title", entry.key))
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def _full_names(entry) -> tuple:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    return tuple(_plain(str(p)).lower() for p in persons)


def original_year(entry) -> str:
    return entry.fields.get(ORIGINAL_YEAR) or entry.fields.get("year", "")


def year_suffixes(entries) -> dict[str, str]:
    """Key -> suffix ('' when the author-year label is unique, else 'a', 'b', ...)."""
    groups = defaultdict(list)
    for entry in entries:
        groups[(author_part(entry), original_year(entry))].append(entry)
    suffixes = {}
    for group in groups.values():
        if len(group) == 1:
            suffixes[group[0].key] = ""
            continue
        group.sort(key=lambda e: (_full_names(e), _plain(e.fields.get("title", "")).lower(),
                                  e.key))
        for i, entry in enumerate(group):
            suffixes[entry.key] = string.ascii_lowercase[i] if i < 26 else f"{i}"
    return suffixes


def disambiguate(bibliography_data) -> list[tuple[str, str]]:
    """Append the suffixes to the year fields (idempotent); return the changed (key, year)."""
    entries = list(bibliography_data.entries.values())
    suffixes = year_suffixes(entries)
    changed = []
    for entry in entries:
        if not original_year(entry):
            continue
        year = original_year(entry) + suffixes[entry.key]
        if suffixes[entry.key]:
            entry.fields[ORIGINAL_YEAR] = original_year(entry)
            changed.append((entry.key, year))
        elif ORIGINAL_YEAR in entry.fields:
            del entry.fields[ORIGINAL_YEAR]
        entry.fields["year"] = year
    return changed


class LabelStyle(BaseLabelStyle):
    """"Zhang et al., 2024a": the author part and the (suffixed) year."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            year = entry.fields.get("year", "n.d.")
            yield f"{author_part(entry)}, {year}"


class SortingStyle(BaseSortingStyle):
    """By author part of the label, then year with its suffix, then title."""

    def sorting_key(self, entry):
        return (author_part(entry).lower(), entry.fields.get("year", ""),
                _plain(entry.fields.get("title", "")).lower())


class Style(UnsrtStyle):
    default_label_style = LabelStyle
    default_sorting_style = SortingStyle


def on_builder_inited(app) -> None:
    domain = app.env.get_domain("cite")
    changed = disambiguate(domain.bibdata.data)
    if changed:
        logger.info("[sld_bib] author-year labels disambiguated: "
                    + ", ".join(f"{k} -> {y}" for k, y in changed))


def setup(app):
    pybtex.plugin.register_plugin("pybtex.style.formatting", STYLE, Style)
    # after sphinxcontrib-bibtex has parsed (or reloaded) the .bib files at builder-inited
    app.connect("builder-inited", on_builder_inited, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
