"""axe-core (the npm package pinned in package.json, installed by ``npm ci``) run in a page.

The script is injected through the test's own CDP connection (``Runtime.evaluate`` of
``node_modules/axe-core/axe.min.js``), so no extra browser driver is needed and the page loads
nothing from the network. Only violations of impact *serious* or *critical* fail the test.

Rules switched off, and why (each one is a property of the page that is not a barrier):
(none so far: a theme violation is fixed in ``_static/sld.css`` or ``_ext`` instead.)
"""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")

#: rule id -> why it is off (also listed in the module docstring)
DISABLED_RULES: dict[str, str] = {}


def axe_source() -> str | None:
    return AXE_JS.read_text() if AXE_JS.is_file() else None


def run_axe(page, source: str) -> list[dict]:
    """Every violation axe finds in the loaded page: id, impact, help, nodes (targets)."""
    page.evaluate(source + "\n;true")
    options = {"resultTypes": ["violations"],
               "rules": {rule: {"enabled": False} for rule in DISABLED_RULES}}
    result = page.evaluate(f"""(async () => {{
        const r = await axe.run(document, {json.dumps(options)});
        return r.violations.map(v => ({{id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({{target: n.target.join(' '),
                                       html: n.html.slice(0, 160),
                                       summary: (n.failureSummary || '').slice(0, 300)}}))}}));
    }})()""", timeout=120)
    return result or []


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in FAILING_IMPACTS]


def describe(v: dict, max_nodes: int = 3) -> str:
    nodes = "; ".join(n["target"] for n in v["nodes"][:max_nodes])
    more = f" (+{len(v['nodes']) - max_nodes} more)" if len(v["nodes"]) > max_nodes else ""
    return f"axe {v['impact']} {v['id']}: {v['help']} — {len(v['nodes'])} element(s): {nodes}{more}"
