"""Assemble the source tree of the PDF build in _build/pdf_src from the HTML build.

The PDF reuses the notebooks the HTML build executed (_build/jupyter_execute), so nothing is
executed twice: every chapter, the Claims page and the status page are copied there with their
outputs and the PDF build runs with execution off. The differences from the website are only
those of print:
- the introduction's sections are unnumbered, so Chapter 1 is chapter 1 and its figures and
  equations carry the same numbers as on the website (tests/test_pdf.py compares them);
- figures are SVG on the website; for LaTeX they are converted to PDF (vector) by rsvg-convert;
- XeLaTeX with a Unicode font, because the prose uses Greek letters (τ, η, Σ) outside maths.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
EXECUTED = BUILD / "jupyter_execute"
OUT = BUILD / "pdf_src"

COPY = ["_toc.yml", "intro.md", "references.bib", "CITATION.cff", "_ext", "_static", "api",
        "chapters", "theorylib"]

PREAMBLE = r"""
% The introduction is front matter: its sections are not numbered chapters, so the chapters,
% figures and equations are numbered as on the website. Numbering is switched back on just
% before Chapter 1 (a raw LaTeX cell that tools/pdf_src.py puts at the top of that notebook).
\setcounter{secnumdepth}{-1}
% Greek letters and the transpose sign typed as Unicode (in prose, code and maths alike):
% the text font has them, the maths fonts do not, so each becomes its maths command.
\usepackage{newunicodechar}
\newunicodechar{α}{\ensuremath{\alpha}}
\newunicodechar{β}{\ensuremath{\beta}}
\newunicodechar{γ}{\ensuremath{\gamma}}
\newunicodechar{δ}{\ensuremath{\delta}}
\newunicodechar{ε}{\ensuremath{\varepsilon}}
\newunicodechar{ζ}{\ensuremath{\zeta}}
\newunicodechar{η}{\ensuremath{\eta}}
\newunicodechar{θ}{\ensuremath{\theta}}
\newunicodechar{κ}{\ensuremath{\kappa}}
\newunicodechar{λ}{\ensuremath{\lambda}}
\newunicodechar{μ}{\ensuremath{\mu}}
\newunicodechar{ν}{\ensuremath{\nu}}
\newunicodechar{ξ}{\ensuremath{\xi}}
\newunicodechar{π}{\ensuremath{\pi}}
\newunicodechar{ρ}{\ensuremath{\rho}}
\newunicodechar{σ}{\ensuremath{\sigma}}
\newunicodechar{τ}{\ensuremath{\tau}}
\newunicodechar{φ}{\ensuremath{\varphi}}
\newunicodechar{χ}{\ensuremath{\chi}}
\newunicodechar{ψ}{\ensuremath{\psi}}
\newunicodechar{ω}{\ensuremath{\omega}}
\newunicodechar{Γ}{\ensuremath{\Gamma}}
\newunicodechar{Δ}{\ensuremath{\Delta}}
\newunicodechar{Θ}{\ensuremath{\Theta}}
\newunicodechar{Λ}{\ensuremath{\Lambda}}
\newunicodechar{Ξ}{\ensuremath{\Xi}}
\newunicodechar{Π}{\ensuremath{\Pi}}
\newunicodechar{Σ}{\ensuremath{\Sigma}}
\newunicodechar{Φ}{\ensuremath{\Phi}}
\newunicodechar{Ψ}{\ensuremath{\Psi}}
\newunicodechar{Ω}{\ensuremath{\Omega}}
\newunicodechar{ᵀ}{\ensuremath{^{\top}}}
% the claim tables have no caption (nor a number on the website): where a table breaks, its
% foot and its next head say only "continued", not "Table 2.1 - continued from previous page"
\renewcommand{\sphinxtablecontinued}[1]{\textit{continued}}
% running foot: "Chapter N. " and the chapter's title up to its colon (the long titles ran into
% the page number on even pages)
\makeatletter
\def\sld@short#1:#2\@nil{#1}
\renewcommand{\chaptermark}[1]{\markboth{\@chapapp\ \thechapter.\ \sld@short#1:\@nil}{}}
\makeatother
% code in a font that has the modifier letters and subscripts the code comments use
\setmonofont{DejaVu Sans Mono}[Scale=0.85]
"""


NUMBERING_ON = "```{raw} latex\n\\setcounter{secnumdepth}{1}\n```"
# The reference pages (Run it yourself, Claims, ...) are unnumbered on the website: in the
# PDF they are appendices A, B, ... instead of chapters 7, 8, ...
APPENDIX = "```{raw} latex\n\\appendix\n```"
# Column widths (percent) for the claim tables: without them LaTeX sets a long table's
# columns to their natural width and the statements run off the page.
CLAIM_TABLE_WIDTHS = {
    "| claim | error | tolerance | result |": "64 13 13 10",
    "| claim | backs | error | tolerance | why this tolerance | result |": "34 12 10 9 28 7",
}


def widen_tables(markdown: str) -> str:
    """Wrap each claim table (a pipe table) in a ``{table}`` directive with column widths."""
    lines, out, i = markdown.split("\n"), [], 0
    while i < len(lines):
        widths = CLAIM_TABLE_WIDTHS.get(lines[i].strip())
        if widths is None:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            j += 1
        # The Claims page's tables run over several pages: longtable continues them on the
        # next page. The chapters' short tables stay tabular (a longtable beside a pending
        # figure can lose the figure).
        options = [f":widths: {widths}"] + ([":class: longtable"] if len(widths.split()) == 6 else [])
        out += ["````{table}"] + options + [""] + lines[i:j] + ["````"]
        i = j
    return "\n".join(out)


def restore_glue(executed: Path, target: Path, first_chapter: bool = False) -> None:
    """Copy an executed notebook, putting back the glue values the HTML build extracted.

    myst-nb moves the values that cells ``glue``d into ``NAME.glue.json`` beside the executed
    notebook; with execution off they must be outputs of a cell again for ``{glue:text}`` to
    find them. They go into one removed cell at the top.
    """
    nb = nbformat.read(executed, as_version=4)
    glue_file = executed.with_suffix(".glue.json")
    if glue_file.exists():
        outputs = []
        for key, out in json.loads(glue_file.read_text()).items():
            prefix = out.get("metadata", {}).get("scrapbook", {}).get("mime_prefix", "")
            out = dict(out, data={prefix + mime: value for mime, value in out["data"].items()})
            outputs.append(nbformat.from_dict(out))
        cell = nbformat.v4.new_code_cell("# glue values of the executed chapter", outputs=outputs,
                                         metadata={"tags": ["remove-cell"]})
        cell.execution_count = 0
        nb.cells.insert(0, cell)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/markdown" in data:
                data["text/markdown"] = widen_tables(data["text/markdown"])
    if first_chapter:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(NUMBERING_ON))
    nbformat.write(nb, target)


def main() -> int:
    if not (EXECUTED / "chapters").is_dir():
        print("no executed notebooks in _build/jupyter_execute: run bash tools/book.sh first",
              file=sys.stderr)
        return 1
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, OUT / name, ignore=shutil.ignore_patterns("__pycache__", "_build"))
        elif src.exists():
            shutil.copy2(src, OUT / name)
    # executed notebooks replace the sources; MyST-markdown notebooks (claims, status) too
    executed = sorted((EXECUTED / "chapters").glob("*.ipynb"))
    chapters = [nb for nb in executed if nb.name[:2].isdigit()]
    for nb in executed:
        target = OUT / "chapters" / nb.name
        restore_glue(nb, target, first_chapter=bool(chapters) and nb == chapters[0])
        md = target.with_suffix(".md")
        if md.exists():
            md.unlink()
    # the first page of the Reference part starts the appendices
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    reference = [part for part in toc["parts"] if not part.get("numbered")]
    if reference:
        first = OUT / reference[0]["chapters"][0]["file"]
        page = first.with_suffix(".md")
        if page.exists():
            text = page.read_text()
            head = ""
            if text.startswith("---\n"):  # keep a YAML front matter first
                end = text.index("\n---\n", 4) + 5
                head, text = text[:end], text[end:]
            page.write_text(head + APPENDIX + "\n\n" + text)
        elif first.with_suffix(".ipynb").exists():
            nb_path = first.with_suffix(".ipynb")
            nb = nbformat.read(nb_path, as_version=4)
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(APPENDIX))
            nbformat.write(nb, nb_path)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    config["latex"] = {"latex_engine": "xelatex", "use_jupyterbook_latex": False,
                       "latex_documents": {"targetname": "book.tex"}}
    sphinx = config.setdefault("sphinx", {})
    sphinx.setdefault("extra_extensions", []).append("sphinxcontrib.rsvgconverter")
    conf = sphinx.setdefault("config", {})
    conf["nb_mime_priority_overrides"] = [["latex", "image/svg+xml", 15]]
    # no index at the back: the API pages would fill it, and xindy is one more TeX package
    conf["latex_elements"] = {"preamble": PREAMBLE, "papersize": "a4paper",
                              "figure_align": "htbp", "makeindex": "", "printindex": ""}
    conf["latex_domain_indices"] = False
    conf["latex_show_urls"] = "no"
    (OUT / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    print(f"PDF sources in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
