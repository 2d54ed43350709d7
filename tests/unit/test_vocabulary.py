"""One vocabulary: measurement names and status/classification values are declared once, in
ecm.schema, and every other module imports them (a rename is one edit plus a contract change).
Value added at current prices is ``value_added_current_10k_cny``; its pre-rename name
``value_added_10k_cny`` (now: 2022 comparable prices) may not reappear on the current-price side."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import ecm.schema as S

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["ecm", "dashboards", "dags", "ingest", "sim_devices", "gateway"]
MEASUREMENTS = sorted(v for k, v in vars(S).items() if k.startswith("MEAS_"))
STATUS_WORDS = sorted({*(s.value for s in S.Status), *(c.value for c in S.Classification),
                       *(d.value for d in S.DataStatus)} - {"ok"})
#: green/yellow/red double as Grafana colour names in the boards' thresholds: checked in ecm/ only
COLOUR_NAMES = {"green", "yellow", "red"}
QUERY = re.compile(r"\b(?:FROM|INTO|MEASUREMENT)\s+\"?(" + "|".join(MEASUREMENTS) + r")\b\"?", re.I)


def _exempt(tree: ast.AST) -> set[int]:
    """Docstrings, dict keys, subscripts and ``in`` tests (field and JSON keys such as
    ``summary["data_insufficient"]`` or the wire's ``"readings" in doc``)."""
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
        elif isinstance(node, ast.Compare) and all(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            ids.add(id(node.left))
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


# -- value added: the current-price side never says value_added_10k_cny --------------------------
OLD_CURRENT = re.compile(r"\bvalue_added_10k_cny\b")
#: where value added is at current prices: the wire, the simulator, the gateway, the import and the
#: stats DQ frame; plus any module that reads or writes enterprise_monthly (found below)
CURRENT_PRICE_SIDE = ["ingest", "sim_devices", "gateway", "ecm/stats.py", "ecm/cli/stats.py", "ecm/cli/sim.py",
                      "ecm/quality_frames.py"]
TOUCHES_STATS = re.compile(r"MEAS_ENTERPRISE_MONTHLY|from ecm\.stats import|stats_topic")


def _old_name_violations() -> list[str]:
    files = set()
    for top in CURRENT_PRICE_SIDE:
        p = ROOT / top
        files.update(p.rglob("*.py") if p.is_dir() else [p] if p.exists() else [])
    for top in SCANNED:
        files.update(p for p in (ROOT / top).rglob("*.py") if TOUCHES_STATS.search(p.read_text(encoding="utf-8")))
    files.discard(ROOT / "ecm" / "schema.py")  # declares the deprecated alias once
    out = []
    for path in sorted(files):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        exempt = _exempt(tree) - {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys if k}
        exempt -= {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in exempt
                    and OLD_CURRENT.search(node.value)):
                out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    for path in sorted((ROOT / "expectations").glob("stats_*.json")):
        if OLD_CURRENT.search(path.read_text(encoding="utf-8")):
            out.append(f"{path.relative_to(ROOT)}: value_added_10k_cny")
    return out


def test_old_current_price_name_only_behind_the_alias():
    """Outside docstrings, the deprecated name is reachable only as
    ``ecm.schema.F_VALUE_ADDED_CURRENT_DEPRECATED`` (ecm.stats alias handling); modules on the
    current-price side use ``F_VALUE_ADDED_CURRENT_10K_CNY`` and, for 2022 prices, ``F_VALUE_ADDED_10K_CNY``."""
    assert _old_name_violations() == []


def test_old_name_check_catches_a_retyped_field(tmp_path):
    """The check itself: a stats publisher retyping the old key is caught."""
    (tmp_path / "ingest").mkdir()
    (tmp_path / "ingest" / "pub.py").write_text('P = {"value_added_10k_cny": 1.0}\n'
                                                'Q = d["value_added_10k_cny"]\n', encoding="utf-8")
    (tmp_path / "expectations").mkdir()
    globals()["ROOT"], saved = tmp_path, ROOT
    try:
        assert _old_name_violations() == ["ingest/pub.py:1: 'value_added_10k_cny'",
                                          "ingest/pub.py:2: 'value_added_10k_cny'"]
    finally:
        globals()["ROOT"] = saved
