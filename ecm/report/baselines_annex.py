"""Report annex: verified savings per measure with its uncertainty band, baselines and drift alarms.

``load_annex_data(client, day, enterprise=None)`` reads what ``ecm_baselines`` wrote for the
day (``measure_savings``, ``baseline_model``, and the ``baseline_daily`` drift alarms of the
last ``alarm_days``); ``annex_model`` shapes it; ``render_annex_html`` returns a self-contained
bilingual HTML fragment (a ``<section>``) that the district or enterprise report can include.
"""
from __future__ import annotations

import math
from datetime import date, timedelta

import jinja2
import pandas as pd

from ecm.influx import time_literal
from ecm.periods import TZ, day_bounds_utc
from ecm.schema import MEAS_BASELINE_DAILY, MEAS_BASELINE_MODEL, MEAS_MEASURE_SAVINGS

KIND_ZH = {"regression": "回归基线 regression", "ratio_fallback": "比值基线（回退）ratio EnPI (fallback)",
           "none": "无基线 none"}

_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""
<section class="annex baselines">
<h2>附录：能源基线与节能量核定 / Annex: energy baselines and verified savings</h2>
<p>截至 {{ day }}。节能量按 IPMVP 选项 C（避免能耗）计算，不确定度按 ASHRAE Guideline 14 分数节能不确定度（68 % 与 90 % 置信）。
As of {{ day }}. Savings are IPMVP option C avoided energy; uncertainty is the ASHRAE Guideline 14
fractional savings uncertainty (68 % and 90 % confidence).</p>
<table>
<thead><tr><th>措施 measure</th><th>企业/产线 enterprise/line</th><th>实施日期 since</th><th>基线 model</th>
<th>节能量 savings (吨标准煤 tce)</th><th>90 % 区间 band (tce)</th><th>减排 CO₂ (吨 t)</th><th>显著 significant</th></tr></thead>
<tbody>
{% for r in measures %}
<tr><td>{{ r.measure }} {{ r.description }}</td><td>{{ r.enterprise }}{% if r.line %} / {{ r.line }}{% endif %}</td>
<td>{{ r.since }}</td><td>{{ r.model }}</td><td>{{ r.savings }}</td><td>{{ r.band }}</td><td>{{ r.co2 }}</td>
<td>{{ "是 yes" if r.significant else "否 no (±≥50 %)" }}</td></tr>
{% endfor %}
{% for r in rollups %}
<tr class="total"><td colspan="4">{{ r.label }}</td><td>{{ r.savings }}</td><td>{{ r.band }}</td><td>{{ r.co2 }}</td><td></td></tr>
{% endfor %}
</tbody></table>
{% if invalid %}
<h3>未通过检验的基线 / Baselines failing the validity gates</h3>
<ul>{% for m in invalid %}<li>{{ m.scope }} {{ m.id }}: {{ m.reasons }} → {{ m.kind }}</li>{% endfor %}</ul>
{% endif %}
<h3>能效漂移告警 / Drift alarms (ecm.baseline.drift, last {{ alarm_days }} days)</h3>
{% if alarms %}<ul>{% for a in alarms %}<li>{{ a.day }} {{ a.scope }} {{ a.id }}: 能耗持续高于/低于基线 energy drifted from its baseline (CUSUM)</li>{% endfor %}</ul>
{% else %}<p>无 none.</p>{% endif %}
</section>
""")


def _num(v, spec: str = ",.1f") -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def load_annex_data(client, day: date, enterprise: str | None = None, alarm_days: int = 31) -> dict[str, pd.DataFrame]:
    """Frames ``savings``, ``models`` (the day's) and ``alarms`` (drift alarms of the last days)."""
    d0, d1 = day_bounds_utc(day)
    ent = f" AND enterprise = '{enterprise}'" if enterprise else ""
    at = f"time >= {time_literal(d0)} AND time < {time_literal(d1)}"
    savings = client.query_frame(f"SELECT * FROM {MEAS_MEASURE_SAVINGS} WHERE {at}{ent} GROUP BY level, enterprise, measure")
    models = client.query_frame(f"SELECT * FROM {MEAS_BASELINE_MODEL} WHERE {at}{ent} AND purpose = 'enpi' "
                                "GROUP BY enterprise, scope, line")
    a0, _ = day_bounds_utc(day - timedelta(days=alarm_days - 1))
    alarms = client.query_frame(f"SELECT drift_alarm FROM {MEAS_BASELINE_DAILY} WHERE time >= {time_literal(a0)} "
                                f"AND time < {time_literal(d1)} AND drift_alarm = 1{ent} GROUP BY enterprise, scope, line")
    return {"savings": savings, "models": models, "alarms": alarms, "day": day, "alarm_days": alarm_days}


def annex_model(data: dict) -> dict:
    """Plain dicts for the template (numbers formatted once, here)."""
    s = data["savings"]
    measures, rollups = [], []
    if len(s):
        for r in s[s["level"] == "measure"].sort_values(["enterprise", "measure"]).to_dict("records"):
            measures.append({"measure": r["measure"], "description": r.get("description") or "",
                             "enterprise": r["enterprise"], "line": r.get("line") if isinstance(r.get("line"), str) else "",
                             "since": r.get("measure_date", ""), "model": KIND_ZH.get(r.get("model_kind"), r.get("model_kind")),
                             "savings": _num(r.get("savings_tce")),
                             "band": f"{_num(r.get('low90_tce'))} … {_num(r.get('high90_tce'))}",
                             "co2": _num(r.get("savings_co2_t")), "significant": r.get("significant") == 1})
        for r in s[s["level"] != "measure"].sort_values(["level", "enterprise"]).to_dict("records"):
            label = "全区合计 district total" if r["level"] == "district" else f"企业合计 enterprise total {r['enterprise']}"
            rollups.append({"label": label, "savings": _num(r.get("savings_tce")),
                            "band": f"{_num(r.get('low90_tce'))} … {_num(r.get('high90_tce'))}",
                            "co2": _num(r.get("savings_co2_t"))})
    m = data["models"]
    invalid = []
    if len(m):
        for r in m[m["valid"] != 1].to_dict("records"):
            scope_id = r.get("line") if r.get("scope") == "line" else r.get("enterprise")
            invalid.append({"scope": r.get("scope"), "id": scope_id, "reasons": r.get("reasons", ""),
                            "kind": KIND_ZH.get(r.get("model_kind"), r.get("model_kind"))})
    a = data["alarms"]
    alarms = []
    if len(a):
        a = a.assign(day=a["time"].dt.tz_convert(TZ).dt.date.astype(str))
        for r in a.sort_values("day").to_dict("records"):
            alarms.append({"day": r["day"], "scope": r.get("scope"),
                           "id": r.get("line") if r.get("scope") == "line" else r.get("enterprise")})
    return {"day": data["day"].isoformat(), "measures": measures, "rollups": rollups, "invalid": invalid,
            "alarms": alarms, "alarm_days": data["alarm_days"]}


def render_annex_html(model: dict) -> str:
    """The annex as an HTML ``<section>`` fragment."""
    return _TEMPLATE.render(**model)
