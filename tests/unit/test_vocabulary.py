"""One vocabulary: measurement names and status/classification values are declared once, in
ecm.schema, and every other module imports them (a rename is one edit plus a contract change)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import ecm.schema as S

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["ecm", "dashboards", "dags"]
MEASUREMENTS = sorted(v for k, v in vars(S).items() if k.startswith("MEAS_"))
STATUS_WORDS = sorted({*(s.value for s in S.Status), *(c.value for c in S.Classification),
                       *(d.value for d in S.DataStatus)} - {"ok"})
#: green/yellow/red double as Grafana colour names in the boards' thresholds: checked in ecm/ only
COLOUR_NAMES = {"green", "yellow", "red"}
QUERY = re.compile(r"\b(?:FROM|INTO|MEASUREMENT)\s+\"?(" + "|".join(MEASUREMENTS) + r")\b\"?", re.I)


def _exempt(tree: ast.AST) -> set[int]:
    """Docstrings, dict keys and subscripts (field names such as ``summary["data_insufficient"]``)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
        elif isinstance(node, ast.Dict):
            ids.update(id(k) for k in node.keys if k is not None)
        elif isinstance(node, ast.Subscript):
            ids.add(id(node.slice))
    return ids


def _violations() -> list[str]:
    out = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == ROOT / "ecm" / "schema.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            exempt = _exempt(tree)
            words = set(STATUS_WORDS) - (COLOUR_NAMES if top == "dashboards" else set())
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in exempt:
                    continue
                v = node.value
                m = QUERY.search(v)
                hit = v if (v in MEASUREMENTS or v in words) else (m.group(1) if m else None)
                if hit:
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {hit!r}")
    return out


def test_no_measurement_or_status_literal_outside_schema():
    assert _violations() == []
