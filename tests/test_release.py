"""Release metadata is kept in one place and in step: CITATION.cff, CHANGELOG.md, .zenodo.json.

The chapters' "Cite this chapter" entries and the erratum links are generated from
CITATION.cff by _ext/sld_release.py; these tests check that generation and the agreement of
the three files, so a release cannot be half-made.
"""
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
import sld_release  # noqa: E402

CFF = yaml.safe_load((ROOT / "CITATION.cff").read_text())
ZENODO = json.loads((ROOT / ".zenodo.json").read_text())
CHANGELOG = (ROOT / "CHANGELOG.md").read_text()
RELEASES = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d\d-\d\d)$", CHANGELOG, re.M)


def test_changelog_has_unreleased_then_releases_newest_first():
    assert re.search(r"^## \[Unreleased\]$", CHANGELOG, re.M)
    versions = [tuple(map(int, v.split("."))) for v, _ in RELEASES]
    assert versions and versions == sorted(versions, reverse=True)


def test_citation_zenodo_and_changelog_name_the_same_release():
    latest, date = RELEASES[0]
    assert str(CFF["version"]) == latest == ZENODO["version"]
    assert str(CFF["date-released"]) == date == ZENODO["publication_date"]
    assert str(CFF["preferred-citation"]["version"]) == latest
    if "doi" in CFF:
        assert ZENODO.get("doi", CFF["doi"]) == CFF["doi"]


def test_chapter_bibtex_comes_from_citation_cff():
    entry = sld_release.chapter_bibtex(3, "Some chapter")
    assert entry.startswith("@incollection{sld2026-ch03,")
    assert f"version   = {{{CFF['version']}}}" in entry
    assert "chapter   = {3}" in entry and "title     = {Some chapter}" in entry
    assert ("doi" in entry) == bool(CFF.get("doi"))
    with_doi = sld_release.chapter_bibtex(3, "T", dict(sld_release.release(), doi="10.5281/zenodo.1"))
    assert "doi       = {10.5281/zenodo.1}" in with_doi


def test_erratum_link_opens_the_form_with_page_and_version():
    url = sld_release.erratum_url("chapters/02_rich_lazy")
    assert url.startswith(CFF["repository-code"] + "/issues/new?")
    assert "template=erratum.yml" in url and "page=chapters%2F02_rich_lazy.html" in url
    assert f"version={CFF['version']}" in url
    form = yaml.safe_load((ROOT / ".github" / "ISSUE_TEMPLATE" / "erratum.yml").read_text())
    ids = {field.get("id") for field in form["body"]}
    assert {"page", "location", "wrong", "should", "version"} <= ids
