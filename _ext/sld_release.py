"""The book's release metadata in one place (CITATION.cff), and the ways to report an error.

1. ``cite-chapter`` directive: the "Cite this chapter" BibTeX entry of a chapter, built from
   CITATION.cff (version, release date, DOI once there is one) and the chapter's own number and
   title. No chapter holds a copy of the version to edit by hand.
2. A "whole book (PDF)" entry in every page's download menu (tools/pdf.sh writes the file).
3. The theme's "Open issue" button, and a "Report an error" line at the end of every chapter,
   open the erratum form (.github/ISSUE_TEMPLATE/erratum.yml) with the page and the version
   filled in, instead of an issue whose body reads "Your issue content here."
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlencode

import yaml
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parent.parent
ERRATUM_FORM = "erratum.yml"


def release() -> dict:
    """Version, release date, DOI, title, authors and URL from CITATION.cff."""
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    authors = " and ".join(a.get("name") or f"{a.get('family-names', '')}, {a.get('given-names', '')}"
                           for a in cff["authors"])
    return {
        "version": str(cff["version"]),
        "date": str(cff.get("date-released", "")),
        "year": str(cff.get("date-released", ""))[:4] or "2026",
        "doi": cff.get("doi", ""),
        "title": cff["title"],
        "authors": authors,
        "url": cff.get("url") or cff.get("repository-code", ""),
        "repository": cff.get("repository-code", ""),
    }


def chapter_bibtex(number: int, title: str, rel: dict | None = None) -> str:
    rel = rel or release()
    fields = [
        ("title", title),
        ("booktitle", rel["title"]),
        ("author", "{" + rel["authors"] + "}" if rel["authors"].startswith("The ") else rel["authors"]),
        ("chapter", str(number)),
        ("year", rel["year"]),
        ("version", rel["version"]),
    ]
    if rel["doi"]:
        fields.append(("doi", rel["doi"]))
    fields.append(("url", rel["url"]))
    width = max(len(k) for k, _ in fields)
    body = ",\n".join(f"  {k.ljust(width)} = {{{v}}}" for k, v in fields)
    return f"@incollection{{sld{rel['year']}-ch{number:02d},\n{body}\n}}"


def erratum_url(pagename: str, rel: dict | None = None) -> str:
    rel = rel or release()
    query = urlencode({"template": ERRATUM_FORM, "title": f"Erratum: {pagename}",
                       "page": f"{pagename}.html", "version": rel["version"]}, quote_via=quote)
    return f"{rel['repository']}/issues/new?{query}"


class CiteChapter(SphinxDirective):
    """``{cite-chapter}``: the chapter's BibTeX entry, from its file name and title."""

    has_content = False

    def run(self):
        m = re.match(r"chapters/(\d\d)_", self.env.docname)
        if not m:
            raise self.error("cite-chapter is for chapter pages (chapters/NN_topic)")
        title_node = self.state.document.next_node(nodes.title)
        title = title_node.astext() if title_node is not None else self.env.docname
        code = chapter_bibtex(int(m.group(1)), title)
        block = nodes.literal_block(code, code, language="bibtex")
        return [block]


def report_link(app, doctree):
    docname = app.env.docname
    if not re.match(r"chapters/\d\d_", docname):
        return
    para = nodes.paragraph(classes=["sld-report-error"])
    para += nodes.Text("Found an error on this page? ")
    para += nodes.reference("", "Report it", refuri=erratum_url(docname))
    para += nodes.Text(" (the form asks for the theorem, equation or figure, what is wrong and "
                       "what it should be).")
    sections = [s for s in doctree.children if isinstance(s, nodes.section)]
    (sections[0] if sections else doctree).append(para)


def _retarget(buttons, url):
    for button in buttons:
        if isinstance(button, dict):
            if "/issues/new" in str(button.get("url", "")):
                button["url"] = url
                button["tooltip"] = "Report an error on this page"
                button["text"] = "Report an error"
            _retarget(button.get("buttons", []), url)


def _add_pdf(buttons, url) -> bool:
    for button in buttons:
        if isinstance(button, dict) and button.get("label") == "download-buttons":
            button.setdefault("buttons", []).append({
                "type": "link", "url": url, "text": ".pdf (whole book)",
                "tooltip": "Download the whole book as one PDF", "icon": "fas fa-file-pdf",
                "label": "download-book-pdf-button"})
            return True
    return False


def issue_button(app, pagename, templatename, context, doctree):
    buttons = context.get("header_buttons", [])
    _retarget(buttons, erratum_url(pagename))
    # tools/pdf.sh puts the whole book at _static/book.pdf of the website
    if "pathto" in context:
        _add_pdf(buttons, context["pathto"]("_static/book.pdf", 1))


def setup(app):
    app.add_directive("cite-chapter", CiteChapter)
    app.connect("doctree-read", report_link)
    # after sphinx-book-theme's add_source_buttons (priority 501)
    app.connect("html-page-context", issue_button, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
