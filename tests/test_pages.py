"""What readers and instructors rely on, checked on the sources (no build needed).

- Every chapter notebook (``chapters/NN_*.ipynb``, whichever exist) has exercises, each with a
  solution in a dropdown, and ends with a "Cite this chapter" section whose BibTeX entry has the
  stable key ``sld2026-chNN``, the book's title, the chapter's number and title, and the book's
  version (the one in ``CITATION.cff``).
- ``CITATION.cff`` is valid Citation File Format 1.2.0 (checked against the schema below).
- The book is configured to work offline and to be run by readers: MathJax served locally,
  repository and launch buttons, and the reference pages in the table of contents.

A chapter that lacks an exercise or the cite block FAILS here (it is not skipped).
The built pages are checked in ``tests/browser`` after the build.
"""
from __future__ import annotations

import json
import re
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
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


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


def check_cite_block(text: str, nn: int, cff: dict) -> list[str]:
    """Problems with the 'Cite this chapter' section of a chapter's markdown."""
    headings = re.findall(r"^(#{1,2}) +(.+?)\s*$", text, re.M)
    titles = [t for level, t in headings if level == "#"]
    sections = [t for level, t in headings if level == "##"]
    if "Cite this chapter" not in sections:
        return ["no '## Cite this chapter' section"]
    problems = []
    if sections[-1] != "Cite this chapter":
        problems.append(f"'Cite this chapter' must be the last section (found {sections[-1]!r} after it)")
    section = text.split("## Cite this chapter", 1)[1]
    blocks = re.findall(r"^```bibtex[ \t]*\n(.*?)^```", section, re.M | re.S)
    if len(blocks) != 1:
        return problems + [f"'Cite this chapter' needs exactly one ```bibtex block (found {len(blocks)})"]
    try:
        kind, key, f = bibtex_fields(blocks[0])
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
    if kind != "incollection":
        problems.append(f"entry type is @{kind}, expected @incollection")
    if key != f"sld2026-ch{nn:02d}":
        problems.append(f"BibTeX key is {key!r}, expected 'sld2026-ch{nn:02d}' (stable label)")
    for name, value in expected.items():
        if f.get(name) != value:
            problems.append(f"BibTeX field {name} = {f.get(name)!r}, expected {value!r}")
    if not titles:
        problems.append("the chapter has no '# Title' heading")
    elif " ".join(f.get("title", "").split()) != " ".join(titles[0].split()):
        problems.append(f"BibTeX title {f.get('title')!r} differs from the chapter title {titles[0]!r}")
    if "{cite" not in section.split("```", 2)[-1]:
        problems.append("after the BibTeX block, ask readers to also cite the original paper(s) "
                        "with {cite}`...`")
    return problems


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

```bibtex
@incollection{sld2026-ch07,
  title     = {A title},
  booktitle = {Solvable Learning Dynamics},
  author    = {{The Solvable Learning Dynamics authors}},
  chapter   = {7},
  year      = {2026},
  version   = {0.1.0},
  url       = {https://github.com/solvable-learning-dynamics/solvable-learning-dynamics}
}
```

Please also cite {cite}`saxe2014exact`.
"""
CFF_STUB = {"version": "0.1.0", "preferred-citation": {"year": 2026}}


def test_checks_accept_the_briefing_format():
    assert check_exercises(GOOD, 7) == []
    assert check_cite_block(GOOD, 7, CFF_STUB) == []


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


@pytest.mark.parametrize("broken, message", [
    (GOOD.replace("## Cite this chapter", "## How to cite"), "no '## Cite this chapter'"),
    (GOOD + "\n## Appendix\n", "must be the last section"),
    (GOOD.replace("sld2026-ch07", "sld2026-ch7"), "stable label"),
    (GOOD.replace("{0.1.0}", "{0.0.9}"), "version"),
    (GOOD.replace("{7}", "{8}"), "chapter"),
    (GOOD.replace("title     = {A title}", "title     = {Another}"), "differs from the chapter"),
    (GOOD.replace("{Solvable Learning Dynamics}", "{SLD}"), "booktitle"),
    (GOOD.replace("@incollection", "@misc"), "@incollection"),
    (GOOD.replace("Please also cite {cite}`saxe2014exact`.", ""), "also cite"),
    (GOOD.replace("```bibtex", "```text"), "exactly one ```bibtex"),
])
def test_cite_check_catches(broken, message):
    problems = check_cite_block(broken, 7, CFF_STUB)
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
