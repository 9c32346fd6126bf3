"""Small fixes to the HTML pages of the book (loaded through ``sphinx.local_extensions``).

1. Let the notebooks' kernels draw inline. The kernels that execute the chapters inherit this
process's environment; with ``MPLBACKEND=Agg`` (which ``.ci/run`` exports for the tests, and
which some shells set) ``plt.show()`` draws nothing, so every such figure silently disappears
from the website and its ``{numref}`` becomes an undefined label. The variable is removed for
the build, so that ipykernel picks its inline backend.

2. Remove duplicated inline ``<script>`` blocks. With Sphinx 7.4, an inline script that an
extension adds after the HTML builder has started (sphinx-thebe and sphinx-togglebutton add
theirs at ``env-before-read-docs``) reaches the page twice: the application passes the builder
``filename=None`` while the builder's registry copy has ``filename=''``, so its de-duplication
does not see that they are the same. sphinx-thebe's block declares ``const THEBE_JS_URL``, and
declaring it twice is a ``SyntaxError`` in the reader's console on every page
(found by tests/browser/test_browser.py).
"""
from __future__ import annotations

import os

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _key(script) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # the builder restores its own list after each page


def inline_figures(app, config) -> None:
    backend = os.environ.pop("MPLBACKEND", None)
    if backend and "inline" not in backend:
        logger.info(f"[sld_html] MPLBACKEND={backend} unset for the notebook kernels "
                    "(figures are drawn inline)")
    elif backend:
        os.environ["MPLBACKEND"] = backend


def setup(app):
    app.connect("config-inited", inline_figures)
    # run after the other extensions' html-page-context handlers have added their files
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
