"""Pure: every number of the report models as long rows, and the changes between two revisions.

A figure row: ``report`` (``district`` or enterprise id), ``section``, ``entity`` (row key),
``figure`` (field name in the platform vocabulary), ``value`` (float or string), ``unit``.
"""
from __future__ import annotations

import csv
import io
import json

from ecm.report.labels import unit_of

#: descriptive fields that are not figures
SKIP = {"key", "name_zh", "name_en", "text_zh", "text_en", "scope", "day", "month", "industry",
        "district_name_zh", "product_class", "unit", "output_unit", "suite", "expectation", "enterprise",
        "severity", "kind", "basis", "factor_table_versions"}
COLUMNS = ["report", "section", "entity", "figure", "value", "unit"]


def _scalar(v) -> bool:
    return v is None or isinstance(v, (int, float, str)) and not isinstance(v, bool)


def flatten_model(report: str, model: dict) -> list[dict]:
    """Long rows of one model; booleans are written as 0/1 (e.g. ``on_track``)."""
    rows = []

    def add(section, entity, rec):
        for k in sorted(rec):
            v = rec[k]
            if k in SKIP or isinstance(v, (dict, list)):
                continue
            if isinstance(v, bool):
                v = int(v)
            if _scalar(v):
                rows.append({"report": report, "section": section, "entity": entity, "figure": k,
                             "value": v, "unit": unit_of(k)})

    for section in sorted(model):
        val = model[section]
        if isinstance(val, dict):
            add(section, model["key"], val)
            for sub, lst in sorted(val.items()):
                if isinstance(lst, list):
                    for rec in lst:
                        add(f"{section}.{sub}", rec.get("key", ""), rec)
        elif isinstance(val, list) and val and isinstance(val[0], dict):
            for rec in val:
                add(section, rec.get("key", ""), rec)
    return rows


def flatten(models: dict[str, dict]) -> list[dict]:
    """Rows of all models, in a stable order."""
    return [r for name in sorted(models) for r in flatten_model(name, models[name])]


def figures_csv(rows: list[dict]) -> bytes:
    """CSV bytes (UTF-8 with BOM for Excel, LF line ends); floats written with repr (exact, deterministic)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        v = r["value"]
        w.writerow([r["report"], r["section"], r["entity"], r["figure"],
                    "" if v is None else (repr(float(v)) if isinstance(v, float) else v), r["unit"]])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def table_csv(rows: list[dict], columns: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (repr(r[c]) if isinstance(r.get(c), float) else r[c]) for c in columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def dumps(obj) -> bytes:
    """Canonical JSON bytes: sorted keys, no NaN, UTF-8, trailing newline."""
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1, allow_nan=False) + "\n").encode("utf-8")


def diff_figures(old: list[dict], new: list[dict]) -> list[dict]:
    """Figures whose value changed, appeared or disappeared: ``{report, section, entity, figure, unit, old, new}``."""
    key = lambda r: (r["report"], r["section"], str(r["entity"]), r["figure"])  # noqa: E731
    o, n = {key(r): r for r in old}, {key(r): r for r in new}
    out = []
    for k in sorted(set(o) | set(n)):
        ov, nv = (o[k]["value"] if k in o else None), (n[k]["value"] if k in n else None)
        if ov != nv:
            unit = (n.get(k) or o.get(k))["unit"]
            out.append({"report": k[0], "section": k[1], "entity": k[2], "figure": k[3], "unit": unit,
                        "old": ov, "new": nv})
    return out
