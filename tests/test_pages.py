"""What readers and instructors rely on, checked on the sources (no build needed).

- Every chapter notebook (``chapters/NN_*.ipynb``, whichever exist) has exercises, each with a
  solution in a dropdown, and ends with a "Cite this chapter" section whose BibTeX entry has the
  stable key ``sld2026-chNN``, the book's title, the chapter's number and title, and the book's
  version (the one in ``CITATION.cff``).
- ``CITATION.cff`` is valid Citation File Format 1.2.0 (checked against the schema below).
- The book is configured to work offline and to be run by readers: MathJax served locally,
  repository and launch buttons, and the reference pages in the table of contents.
- The Edition 1 reader standard, from the notebooks: the "In this chapter" opening box with its
  four items, the closing sections in order (Exercises, Summary linking to theorems, References,
  Cite this chapter), no drafting text (spec, issue #, session, "we could not", "not available
  to us") on any page, and at most 150 visible code lines of at most 88 characters.

A chapter that lacks an exercise or the cite block FAILS here (it is not skipped).
The built pages are checked in ``tests/browser`` after the build.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
REPO_URL = "https://github.com/solvable-learning-dynamics/solvable-learning-dynamics"
BOOK_TITLE = "Solvable Learning Dynamics"
BOOK_AUTHOR = "The Solvable Learning Dynamics authors"


def load_cff() -> dict:
    """CITATION.cff as the CFF tools read it: YAML turns an unquoted ``2026-11-23`` into a date,
    which the format means as the string (its own examples leave dates unquoted)."""
    def strings(value):
        if isinstance(value, dict):
            return {k: strings(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strings(v) for v in value]
        return value.isoformat() if hasattr(value, "isoformat") else value
    return strings(yaml.safe_load((ROOT / "CITATION.cff").read_text()))


def markdown_of(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "\n\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                       for c in nb["cells"] if c["cell_type"] == "markdown")


def chapter_number(path: Path) -> int:
    return int(path.name[:2])


# ---------------------------------------------------------------------------------------------
# MyST directives: ":::{name} argument" or "```{name} argument", then ":key: value" options.
DIRECTIVE = re.compile(
    r"^(?P<fence>:{3,}|`{3,})\{(?P<name>exercise|solution(?:-start)?)\}[ \t]*(?P<arg>[^\n]*)\n"
    r"(?P<opts>(?:[ \t]*:[\w-]+:[^\n]*\n)*)", re.M)


def directives(text: str, name: str) -> list[dict]:
    found = []
    for m in DIRECTIVE.finditer(text):
        # the gated form ```{solution-start} ... ```{solution-end} (its code runs) counts as a solution
        if m.group("name").removesuffix("-start") != name:
            continue
        opts = dict(re.findall(r"^[ \t]*:([\w-]+):[ \t]*(.*?)[ \t]*$", m.group("opts"), re.M))
        found.append({"arg": m.group("arg").strip(), **opts})
    return found


def check_exercises(text: str, nn: int) -> list[str]:
    """Problems with the exercises of a chapter's markdown (empty list: fine)."""
    problems = []
    exercises = directives(text, "exercise")
    solutions = directives(text, "solution")
    if not exercises:
        return ["no {exercise} directive (an 'Exercises' section with at least one exercise "
                "and its solution in a dropdown is part of the chapter standard)"]
    labels = [e.get("label") for e in exercises]
    prefix = f"ex-ch{nn:02d}-"
    for label in labels:
        if not label:
            problems.append("an {exercise} has no :label: (its solution must refer to it)")
        elif not label.startswith(prefix):
            problems.append(f"exercise label {label!r} should start with {prefix!r}")
    solved = {}
    for sol in solutions:
        solved.setdefault(sol["arg"], []).append(sol)
        if sol["arg"] not in labels:
            problems.append(f"solution refers to {sol['arg']!r}, which is no exercise label here")
    for label in filter(None, labels):
        sols = solved.get(label)
        if not sols:
            problems.append(f"exercise {label!r} has no {{solution}}")
        elif not any("dropdown" in s.get("class", "").split() for s in sols):
            problems.append(f"the solution of {label!r} is not in a dropdown (:class: dropdown)")
    return problems


# ---------------------------------------------------------------------------------------------
def bibtex_fields(entry: str) -> tuple[str, str, dict]:
    """Parse one BibTeX entry '@type{key, field = {value}, ...}' with nested braces."""
    m = re.match(r"\s*@(\w+)\s*\{\s*([^,\s]+)\s*,", entry)
    if not m:
        raise ValueError("not a BibTeX entry: " + entry[:60])
    kind, key, pos, fields = m.group(1).lower(), m.group(2), m.end(), {}
    field = re.compile(r"\s*(\w+)\s*=\s*")
    while True:
        f = field.match(entry, pos)
        if not f:
            break
        name, pos = f.group(1).lower(), f.end()
        if entry[pos] == "{":
            depth, start = 0, pos
            while True:
                depth += {"{": 1, "}": -1}.get(entry[pos], 0)
                pos += 1
                if depth == 0:
                    break
            value = entry[start + 1:pos - 1]
        else:
            v = re.match(r'"([^"]*)"|(\w+)', entry[pos:])
            value, pos = v.group(1) if v.group(1) is not None else v.group(2), pos + v.end()
        fields[name] = value
        pos = re.match(r"\s*,?", entry[pos:]).end() + pos
    if not entry[pos:].strip().startswith("}"):
        raise ValueError(f"could not parse BibTeX entry after: {entry[pos:pos + 60]!r}")
    return kind, key, fields


def check_cite_block(text: str, nn: int, cff: dict, entry=None) -> list[str]:
    """Problems with the 'Cite this chapter' section of a chapter's markdown.

    The section holds the ``{cite-chapter}`` directive (``_ext/sld_release.py``), which writes
    the BibTeX entry from CITATION.cff at build time, so no chapter holds a copy of the version
    to edit by hand. ``entry(nn, title)`` gives that entry (default: the extension's own); its
    fields are checked here as a reader would cite them."""
    headings = re.findall(r"^(#{1,2}) +(.+?)\s*$", text, re.M)
    titles = [t for level, t in headings if level == "#"]
    sections = [t for level, t in headings if level == "##"]
    if "Cite this chapter" not in sections:
        return ["no '## Cite this chapter' section"]
    problems = []
    if sections[-1] != "Cite this chapter":
        problems.append(f"'Cite this chapter' must be the last section (found {sections[-1]!r} after it)")
    section = text.split("## Cite this chapter", 1)[1]
    if re.search(r"^```bibtex", section, re.M):
        problems.append("a hand-written ```bibtex block: use the {cite-chapter} directive, which "
                        "takes the version and DOI from CITATION.cff")
    directives = re.findall(r"^```\{cite-chapter\}[ \t]*\n```", section, re.M)
    if len(directives) != 1:
        return problems + ["'Cite this chapter' needs exactly one {cite-chapter} directive "
                           f"(found {len(directives)})"]
    if not titles:
        return problems + ["the chapter has no '# Title' heading"]
    entry = entry or _cite_entry
    try:
        kind, key, f = bibtex_fields(entry(nn, " ".join(titles[0].split())))
    except ValueError as err:
        return problems + [str(err)]
    pref = cff.get("preferred-citation", {})
    expected = {
        "booktitle": BOOK_TITLE,
        "author": "{" + BOOK_AUTHOR + "}",
        "chapter": str(nn),
        "year": str(pref.get("year")),
        "version": str(cff.get("version")),
        "url": REPO_URL,
    }
    if cff.get("doi"):
        expected["doi"] = str(cff["doi"])
    if kind != "incollection":
        problems.append(f"entry type is @{kind}, expected @incollection")
    if key != f"sld2026-ch{nn:02d}":
        problems.append(f"BibTeX key is {key!r}, expected 'sld2026-ch{nn:02d}' (stable label)")
    for name, value in expected.items():
        if f.get(name) != value:
            problems.append(f"BibTeX field {name} = {f.get(name)!r}, expected {value!r}")
    if " ".join(f.get("title", "").split()) != " ".join(titles[0].split()):
        problems.append(f"BibTeX title {f.get('title')!r} differs from the chapter title {titles[0]!r}")
    if "{cite" not in section.split("```", 2)[-1]:
        problems.append("after the BibTeX block, ask readers to also cite the original paper(s) "
                        "with {cite}`...`")
    return problems


def _cite_entry(nn: int, title: str) -> str:
    sys.path.insert(0, str(ROOT / "_ext"))
    import sld_release
    return sld_release.chapter_bibtex(nn, title)


# ---------------------------------------------------------------------------------------------
# The Edition 1 reader standard, read from the notebooks (no build): an opening box, a summary
# linking to the theorems, the closing sections in order, no drafting text, short visible code.
OPENING_ITEMS = ("You will learn", "Builds on", "Install", "Run time")
CLOSING_ORDER = ("Exercises", "Summary", "References", "Cite this chapter")
MAX_CODE_LINES = 150
MAX_LINE_CHARS = 88
HIDDEN_TAGS = {"remove-input", "remove-cell", "hide-input"}
#: Words about how a page was written, not about the mathematics (issue 12): a reader cannot
#: know what "the spec" or "the session" is.
DRAFTING = [
    (re.compile(r"\bspecs?\b", re.I), "spec/specs"),
    (re.compile(r"\bissue\s*#", re.I), "issue #"),
    (re.compile(r"\bwe could not\b", re.I), "we could not"),
    (re.compile(r"\bnot available to us\b", re.I), "not available to us"),
    (re.compile(r"\bsessions?\b", re.I), "session"),
]
PAGES = sorted([*(ROOT / "chapters").glob("*.md"), ROOT / "intro.md"])


def cells_of(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source_of(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def check_opening(text: str) -> list[str]:
    """The "In this chapter" box, before the first section, with its four items."""
    m = re.search(r"^(?P<fence>:{3,}|`{3,})\{admonition\}[ \t]+In this chapter[ \t]*\n"
                  r"(?P<body>.*?)^(?P=fence)[ \t]*$", text, re.M | re.S)
    if not m:
        return ["no opening box ':::{admonition} In this chapter' (with :class: tip)"]
    problems = []
    first_section = re.search(r"^## ", text, re.M)
    if first_section and first_section.start() < m.start():
        problems.append("the 'In this chapter' box must come before the first section")
    for item in OPENING_ITEMS:
        if not re.search(rf"^\s*[-*] \*\*{re.escape(item)}:?\*\*", m.group("body"), re.M):
            problems.append(f"the 'In this chapter' box has no '- **{item}:**' item")
    return problems


def sections(text: str) -> list[str]:
    return [t.strip() for t in re.findall(r"^## +(.+?)\s*$", text, re.M)]


def section_text(text: str, title: str) -> str | None:
    m = re.search(rf"^## +{re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return m.group(1) if m else None


def check_closing(text: str) -> list[str]:
    """## Exercises, ## Summary (linking to theorems), ## References, ## Cite this chapter."""
    problems = []
    found = sections(text)
    for title in CLOSING_ORDER:
        if title not in found:
            problems.append(f"no '## {title}' section")
    order = [t for t in found if t in CLOSING_ORDER]
    if order != [t for t in CLOSING_ORDER if t in found]:
        problems.append(f"closing sections in the order {order}, expected {list(CLOSING_ORDER)}")
    summary = section_text(text, "Summary")
    if summary is not None and "{prf:ref}" not in summary:
        problems.append("the Summary links to no theorem ({prf:ref}`thm-...`)")
    return problems


def drafting_text(text: str) -> list[str]:
    found = []
    for pattern, name in DRAFTING:
        for m in pattern.finditer(text):
            context = " ".join(text[max(m.start() - 40, 0):m.end() + 40].split())
            found.append(f"drafting text ({name}): ...{context}...")
    return found


def page_text_of_notebook(path: Path) -> str:
    """What a reader can read on the chapter's page: the markdown, the code that is not
    removed, and the text outputs."""
    parts = []
    for cell in cells_of(path):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] == "markdown":
            parts.append(source_of(cell))
            continue
        if cell["cell_type"] != "code" or "remove-cell" in tags:
            continue
        if "remove-input" not in tags:
            parts.append(source_of(cell))
        if "remove-output" in tags:
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = out.get("text", "")
                parts.append("".join(text) if isinstance(text, list) else text)
            data = out.get("data", {})
            for mime in ("text/markdown", "text/html", "text/plain"):
                if mime in data:
                    value = data[mime]
                    parts.append("".join(value) if isinstance(value, list) else value)
                    break
    return "\n\n".join(parts)


def visible_code(path: Path) -> list[str]:
    """Code lines shown without a click: code cells not tagged remove-input, remove-cell or
    hide-input, outside the gated solutions ({solution-start} ... {solution-end} dropdowns)."""
    lines, in_solution = [], False
    for cell in cells_of(path):
        src = source_of(cell)
        if cell["cell_type"] == "markdown":
            if re.search(r"^(:{3,}|`{3,})\{solution-start\}", src, re.M):
                in_solution = True
            if re.search(r"^(:{3,}|`{3,})\{solution-end\}", src, re.M):
                in_solution = False
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] != "code" or tags & HIDDEN_TAGS or in_solution:
            continue
        if src.strip():
            lines += src.rstrip("\n").split("\n")
    return lines


def check_visible_code(path: Path) -> list[str]:
    lines = visible_code(path)
    problems = []
    if len(lines) > MAX_CODE_LINES:
        problems.append(f"{len(lines)} visible code lines (at most {MAX_CODE_LINES}; hide "
                        "plotting, set-up, glue and claim checks: remove-input / hide-input)")
    long_lines = [line for line in lines if len(line) > MAX_LINE_CHARS]
    if long_lines:
        problems.append(f"{len(long_lines)} visible code lines over {MAX_LINE_CHARS} "
                        f"characters, e.g. {long_lines[0].strip()[:70]!r}")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_opens_with_in_this_chapter_box(path):
    problems = check_opening(markdown_of(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_closes_with_exercises_summary_references(path):
    problems = check_closing(markdown_of(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", CHAPTERS + PAGES, ids=[p.stem for p in CHAPTERS + PAGES])
def test_no_drafting_text(path):
    text = page_text_of_notebook(path) if path.suffix == ".ipynb" else path.read_text()
    problems = drafting_text(text)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_visible_code_is_short(path):
    problems = check_visible_code(path)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


OPENING = """# A title

One paragraph.

:::{admonition} In this chapter
:class: tip
- **You will learn:** something.
- **Builds on:** {doc}`01_deep_linear`.
- **Install:** `pip install -r requirements.txt`; runs on a CPU.
- **Run time:** about 10 s on a 2-core laptop.
:::

## Setup

## Exercises

## Summary

- A result ({prf:ref}`thm-ch07-a`).

## References

## Cite this chapter
"""


def test_reader_standard_checks_accept_the_briefing_format():
    assert check_opening(OPENING) == []
    assert check_closing(OPENING) == []
    assert drafting_text(OPENING) == []


@pytest.mark.parametrize("broken, check, message", [
    (OPENING.replace("In this chapter", "Overview"), check_opening, "no opening box"),
    (OPENING.replace("- **Run time:** about 10 s on a 2-core laptop.\n", ""), check_opening,
     "'- **Run time:**'"),
    (OPENING.replace("One paragraph.", "## Intro"), check_opening, "before the first section"),
    (OPENING.replace("## Summary", "## Recap"), check_closing, "no '## Summary'"),
    (OPENING.replace("({prf:ref}`thm-ch07-a`)", ""), check_closing, "links to no theorem"),
    (OPENING.replace("## Exercises\n\n## Summary", "## Summary\n\n## Exercises"), check_closing,
     "in the order"),
    (OPENING + "\nThe spec of this chapter says so.", drafting_text, "spec/specs"),
    (OPENING + "\nWe could not re-run it here.", drafting_text, "we could not"),
    (OPENING + "\nThe full text was not available to us.", drafting_text, "not available"),
    (OPENING + "\nSee issue #12.", drafting_text, "issue #"),
    (OPENING + "\nIn an earlier session.", drafting_text, "session"),
])
def test_reader_standard_checks_catch(broken, check, message):
    problems = check(broken)
    assert any(message in p for p in problems), problems


def test_visible_code_count(tmp_path):
    def cell(kind, src, tags=()):
        return {"cell_type": kind, "source": src, "metadata": {"tags": list(tags)},
                **({"outputs": []} if kind == "code" else {})}
    nb = {"cells": [
        cell("code", "a = 1\nb = 2\n"),
        cell("code", "plot()\n", ["remove-input"]),
        cell("code", "setup()\n", ["hide-input"]),
        cell("code", "x" * 89),
        cell("markdown", "```{solution-start} ex-ch07-one\n:class: dropdown\n```\n"),
        cell("code", "solution = 3\n"),
        cell("markdown", "```{solution-end}\n```\n"),
        cell("code", "c = 3"),
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "07_x.ipynb"
    path.write_text(json.dumps(nb))
    assert visible_code(path) == ["a = 1", "b = 2", "x" * 89, "c = 3"]
    assert any("over 88 characters" in p for p in check_visible_code(path))


# ---------------------------------------------------------------------------------------------
def test_there_are_chapters():
    assert CHAPTERS, "no chapter notebooks chapters/NN_*.ipynb"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_has_exercises_with_dropdown_solutions(path):
    problems = check_exercises(markdown_of(path), chapter_number(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_ends_with_cite_block(path):
    problems = check_cite_block(markdown_of(path), chapter_number(path), load_cff())
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


GOOD = """# A title

:::{exercise}
:label: ex-ch07-one
Do it.
:::

:::{solution} ex-ch07-one
:class: dropdown
Done.
:::

## Cite this chapter

```{cite-chapter}
```

Please also cite {cite}`saxe2014exact`.
"""
CFF_STUB = {"version": "0.1.0", "preferred-citation": {"year": 2026}}
STUB_ENTRY = """@incollection{sld2026-ch07,
  title     = {A title},
  booktitle = {Solvable Learning Dynamics},
  author    = {{The Solvable Learning Dynamics authors}},
  chapter   = {7},
  year      = {2026},
  version   = {0.1.0},
  url       = {https://github.com/solvable-learning-dynamics/solvable-learning-dynamics}
}"""


def stub_entry(nn, title, text=STUB_ENTRY):
    return text


def test_checks_accept_the_briefing_format():
    assert check_exercises(GOOD, 7) == []
    assert check_cite_block(GOOD, 7, CFF_STUB, stub_entry) == []
    # the extension's own entry for the same chapter passes too
    assert check_cite_block(GOOD, 7, {**CFF_STUB, "version": load_cff()["version"]}) == []


@pytest.mark.parametrize("broken, message", [
    (GOOD.replace(":class: dropdown\n", ""), "not in a dropdown"),
    (GOOD.replace(":::{solution} ex-ch07-one", ":::{note}"), "has no {solution}"),
    (GOOD + ":::{solution} ex-ch07-two\n:class: dropdown\nx\n:::\n", "solution refers to"),
    (re.sub(r":::\{exercise\}.*?:::\n", "", GOOD, flags=re.S), "no {exercise} directive"),
    (GOOD.replace("ex-ch07-one", "ex-one"), "should start with 'ex-ch07-'"),
])
def test_exercise_check_catches(broken, message):
    problems = check_exercises(broken, 7)
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize("broken, entry, message", [
    (GOOD.replace("## Cite this chapter", "## How to cite"), STUB_ENTRY, "no '## Cite this chapter'"),
    (GOOD + "\n## Appendix\n", STUB_ENTRY, "must be the last section"),
    (GOOD, STUB_ENTRY.replace("sld2026-ch07", "sld2026-ch7"), "stable label"),
    (GOOD, STUB_ENTRY.replace("{0.1.0}", "{0.0.9}"), "version"),
    (GOOD, STUB_ENTRY.replace("{7}", "{8}"), "chapter"),
    (GOOD, STUB_ENTRY.replace("{A title}", "{Another}"), "differs from the chapter"),
    (GOOD, STUB_ENTRY.replace("{Solvable Learning Dynamics}", "{SLD}"), "booktitle"),
    (GOOD, STUB_ENTRY.replace("@incollection", "@misc"), "@incollection"),
    (GOOD.replace("Please also cite {cite}`saxe2014exact`.", ""), STUB_ENTRY, "also cite"),
    (GOOD.replace("```{cite-chapter}", "```{note}"), STUB_ENTRY, "exactly one {cite-chapter}"),
    (GOOD.replace("```{cite-chapter}\n```", "```bibtex\n@misc{x,\n}\n```\n\n```{cite-chapter}\n```"),
     STUB_ENTRY, "hand-written"),
])
def test_cite_check_catches(broken, entry, message):
    problems = check_cite_block(broken, 7, CFF_STUB, lambda nn, title: entry)
    assert any(message in p for p in problems), problems


# ---------------------------------------------------------------------------------------------
# Citation File Format 1.2.0: the parts of its schema that a CITATION.cff of a book uses, written
# from the specification (https://citation-file-format.github.io): the required keys, the
# allowed keys (the format rejects unknown ones), authors as persons or entities, and the
# preferred citation as a reference of a known type.
_URL = {"type": "string", "pattern": r"^(https|http|ftp|sftp)://.+"}
_DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_ENTITY_OR_PERSON_KEYS = ["address", "affiliation", "alias", "city", "country", "email", "fax",
                          "orcid", "post-code", "region", "tel", "website"]
_PERSON = {"type": "object", "additionalProperties": False, "minProperties": 1,
           "properties": {k: {"type": "string"} for k in
                          _ENTITY_OR_PERSON_KEYS + ["family-names", "given-names",
                                                    "name-particle", "name-suffix"]}}
_ENTITY = {"type": "object", "additionalProperties": False, "required": ["name"],
           "properties": {k: {"type": "string"} for k in
                          _ENTITY_OR_PERSON_KEYS + ["name", "date-end", "date-start",
                                                    "location"]}}
_AUTHORS = {"type": "array", "minItems": 1, "items": {"oneOf": [_PERSON, _ENTITY]}}
_VERSION = {"type": ["string", "number"], "minLength": 1}
_REFERENCE_TYPES = [
    "art", "article", "audiovisual", "bill", "blog", "book", "catalogue", "conference",
    "conference-paper", "data", "database", "dictionary", "edited-work", "encyclopedia",
    "film-broadcast", "generic", "government-document", "grant", "hearing", "historical-work",
    "legal-case", "legal-rule", "magazine-article", "manual", "map", "multimedia", "music",
    "newspaper-article", "pamphlet", "patent", "personal-communication", "proceedings", "report",
    "serial", "slides", "software", "software-code", "software-container",
    "software-executable", "software-virtual-machine", "sound-recording", "standard", "statute",
    "thesis", "unpublished", "video", "website"]
_REFERENCE_KEYS = [
    "abbreviation", "abstract", "collection-doi", "collection-title", "collection-type",
    "commit", "conference", "contact", "copyright", "data-type", "database",
    "database-provider", "date-accessed", "date-downloaded", "date-published", "date-released",
    "department", "doi", "edition", "editors", "editors-series", "end", "entry", "filename",
    "format", "identifiers", "institution", "isbn", "issn", "issue", "issue-date",
    "issue-title", "journal", "keywords", "languages", "license", "license-url", "loc-end",
    "loc-start", "location", "medium", "month", "nihmsid", "notes", "number",
    "number-volumes", "pages", "patent-states", "pmcid", "publisher", "recipients",
    "repository", "repository-artifact", "repository-code", "scope", "section", "senders",
    "start", "status", "term", "thesis-type", "translators", "volume", "volume-title",
    "year", "year-original"]
CFF_1_2_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cff-version", "message", "title", "authors"],
    "properties": {
        "cff-version": {"type": "string", "const": "1.2.0"},
        "message": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "authors": _AUTHORS,
        "abstract": {"type": "string", "minLength": 1},
        "commit": {"type": "string"},
        "contact": _AUTHORS,
        "date-released": _DATE,
        "doi": {"type": "string", "pattern": r"^10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-\.\(\)\[\]\\]+$"},
        "identifiers": {"type": "array"},
        "keywords": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "license": {"type": ["string", "array"]},
        "license-url": _URL,
        "preferred-citation": {"$ref": "#/definitions/reference"},
        "references": {"type": "array", "items": {"$ref": "#/definitions/reference"}},
        "repository": _URL,
        "repository-artifact": _URL,
        "repository-code": _URL,
        "type": {"enum": ["software", "dataset"]},
        "url": _URL,
        "version": _VERSION,
    },
    "definitions": {
        "reference": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "title", "authors"],
            "properties": {
                **{k: {} for k in _REFERENCE_KEYS},
                "type": {"enum": _REFERENCE_TYPES},
                "title": {"type": "string", "minLength": 1},
                "authors": _AUTHORS,
                "publisher": _ENTITY,
                "url": _URL,
                "repository-code": _URL,
                "version": _VERSION,
                "year": {"type": "integer"},
                "date-released": _DATE,
                "date-published": _DATE,
            },
        },
    },
}
# SPDX identifiers a book like this one may use (the format takes any SPDX id).
SPDX_LICENSES = {"MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "CC-BY-4.0",
                 "CC-BY-SA-4.0", "GPL-3.0-or-later", "GPL-3.0-only"}


def validate_cff(data: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(CFF_1_2_SCHEMA)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in validator.iter_errors(data)]
    licenses = data.get("license", [])
    for lic in [licenses] if isinstance(licenses, str) else licenses:
        if lic not in SPDX_LICENSES:
            problems.append(f"license {lic!r} is not an SPDX identifier this test knows")
    return problems


def test_citation_cff_is_valid_cff_1_2():
    assert (ROOT / "CITATION.cff").is_file(), "CITATION.cff missing at the repository root"
    problems = validate_cff(load_cff())
    assert not problems, "CITATION.cff:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("authors"), "'authors' is a required property"),
    (lambda d: d.update({"cff-version": "1.1.0"}), "'1.2.0' was expected"),
    (lambda d: d.update({"titel": "typo"}), "Additional properties"),
    (lambda d: d.update({"authors": [{"nome": "x"}]}), "is not valid under any"),
    (lambda d: d["preferred-citation"].update({"type": "chapter-ish"}), "is not one of"),
    (lambda d: d.update({"repository-code": "github.com/x"}), "does not match"),
    (lambda d: d.update({"license": "MIT License"}), "SPDX"),
])
def test_cff_validation_catches(change, message):
    data = load_cff()
    change(data)
    problems = validate_cff(data)
    assert any(message in p for p in problems), problems


def test_citation_cff_matches_the_book():
    cff = load_cff()
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version\s*=\s*"([^"]+)"', pyproject, re.M).group(1)
    assert str(cff["version"]) == version, "CITATION.cff and pyproject.toml disagree on the version"
    assert cff["title"] == BOOK_TITLE == cff["preferred-citation"]["title"]
    assert cff["repository-code"] == REPO_URL
    assert cff["authors"] == [{"name": BOOK_AUTHOR}]
    bib = (ROOT / "references.bib").read_text()
    entry = re.search(r"@\w+\{sld2026,.*?\n\}", bib, re.S)
    assert entry, "references.bib has no sld2026 entry (the book itself, cited in intro.md)"
    _, _, fields = bibtex_fields(entry.group(0))
    assert fields["title"] == BOOK_TITLE and fields["url"] == REPO_URL
    assert fields["year"] == str(cff["preferred-citation"]["year"])


# ---------------------------------------------------------------------------------------------
def test_book_config_offline_and_runnable():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config["sphinx"]
    assert "sphinx-mathjax-offline" in sphinx["extra_extensions"], \
        "MathJax must be served from the site (sphinx-mathjax-offline), not a CDN"
    assert "mathjax_path" not in sphinx.get("config", {}), "mathjax_path would override the local copy"
    pins = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^sphinx-mathjax-offline==\S+$", pins, re.M), "pin sphinx-mathjax-offline"
    repo = config["repository"]
    assert repo["url"] == REPO_URL and repo["branch"] == "main"
    launch = config["launch_buttons"]
    assert launch["binderhub_url"] == "https://mybinder.org"
    assert launch["colab_url"] == "https://colab.research.google.com"
    assert config.get("html", {}).get("use_download_button", True) is not False


def test_reference_pages_in_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    reference = next(p for p in toc["parts"] if p.get("caption") == "Reference")
    files = [c.get("file") for c in reference["chapters"]]
    for page in ("chapters/run_it_yourself", "chapters/claims", "chapters/status",
                 "chapters/bibliography"):
        assert page in files, f"{page} missing from the Reference part of _toc.yml"
    assert abs(files.index("chapters/status") - files.index("chapters/claims")) == 1, \
        "the status page belongs next to the claims page"
    status = (ROOT / "chapters" / "status.md").read_text()
    assert "{nb-exec-table}" in status
