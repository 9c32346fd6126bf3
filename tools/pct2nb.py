"""Convert a percent-format script (``# %%`` code cells, ``# %% [markdown]`` cells) into a
notebook without outputs. A development convenience for writing chapters; the committed
``.ipynb`` is the source of truth.

Usage: python tools/pct2nb.py chapter.py chapters/NN_topic.ipynb

A code cell may start with ``# mystnb: {...json...}`` to attach MyST-NB metadata
(e.g. a numbered figure caption) and ``# tags: a,b`` for cell tags.
"""
import json
import re
import sys

import nbformat


def convert(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    chunks = re.split(r"^# %%(.*)$", text, flags=re.M)
    for head, body in zip(chunks[1::2], chunks[2::2]):
        body = body.strip("\n")
        if "[markdown]" in head:
            lines = [re.sub(r"^# ?", "", l) for l in body.split("\n")]
            nb.cells.append(nbformat.v4.new_markdown_cell("\n".join(lines).strip("\n")))
            continue
        meta = {}
        lines = body.split("\n")
        while lines and (lines[0].startswith("# mystnb:") or lines[0].startswith("# tags:")):
            first = lines.pop(0)
            if first.startswith("# mystnb:"):
                meta["mystnb"] = json.loads(first[len("# mystnb:"):])
            else:
                meta["tags"] = [t.strip() for t in first[len("# tags:"):].split(",") if t.strip()]
        cell = nbformat.v4.new_code_cell("\n".join(lines).strip("\n"))
        cell.metadata.update(meta)
        nb.cells.append(cell)
    for cell in nb.cells:  # stable ids keep diffs small across regenerations
        cell.pop("id", None)
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    nbformat.write(convert(open(src).read()), dst)
