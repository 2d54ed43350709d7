"""The silent-meter rule's queries run against a real InfluxDB (raw retention policy, as in
compose) and Grafana's expression chain (reduce → math → threshold) is applied to the result:
a meter whose newest reading was received 74 h before the platform's newest fires; 71 h and
1 h do not. The rule is read from the provisioning file Grafana loads."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.ops.helpers import client_for, start_influx

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _rule() -> dict:
    doc = yaml.safe_load((ROOT / "dashboards/provisioning/alerting/ecm-alerts.yaml").read_text(encoding="utf-8"))
    return next(r for g in doc["groups"] for r in g["rules"] if r["uid"] == "ecm-meter-silent")


def _series(client, item: dict) -> dict[tuple, list[float]]:
    """Run one Grafana InfluxQL query item: $timeFilter becomes the item's relative range."""
    q = item["model"]["query"].replace("$timeFilter", f"time > now() - {item['relativeTimeRange']['from']}s")
    df = client.query_frame(q)
    if df.empty:
        return {}
    tags = [c for c in ("enterprise", "meter") if c in df.columns]
    val = [c for c in df.columns if c not in ("time", *tags)][0]
    if not tags:
        return {(): df[val].tolist()}
    return {k: g[val].tolist() for k, g in df.groupby(tags)}


def evaluate(rule: dict, client) -> set[tuple]:
    """Grafana's server-side expressions for this rule: reduce(last, dropNN), math with a
    label-less operand applied to every series, threshold; returns the firing label sets."""
    results: dict[str, dict[tuple, float]] = {}
    for item in rule["data"]:
        m = item["model"]
        if item["datasourceUid"] != "__expr__":
            results[item["refId"]] = _series(client, item)
        elif m["type"] == "reduce":
            assert m["reducer"] == "last" and m["settings"]["mode"] == "dropNN"
            src = results[m["expression"]]
            results[item["refId"]] = {k: [x for x in v if x is not None and x == x][-1] for k, v in src.items()
                                      if any(x is not None and x == x for x in v)}
        elif m["type"] == "math":
            refs = re.findall(r"\$(\w+)", m["expression"])
            keys = set().union(*(set(results[r]) for r in refs)) - {()}
            out = {}
            for k in keys:
                env = {r: results[r].get(k, results[r].get(())) for r in refs}
                if any(v is None for v in env.values()):
                    continue
                out[k] = eval(re.sub(r"\$(\w+)", r"\1", m["expression"]), {}, env)  # noqa: S307 (test-only arithmetic)
            results[item["refId"]] = out
        elif m["type"] == "threshold":
            ev = m["conditions"][0]["evaluator"]
            assert ev["type"] == "gt"
            results[item["refId"]] = {k: float(v > ev["params"][0]) for k, v in results[m["expression"]].items()}
    return {k for k, v in results[rule["condition"]].items() if v}


def test_meter_silent_72h_fires(tmp_path):
    from ecm.registry import get_registry

    svc = start_influx(tmp_path, "silent", get_registry())
    try:
        client = client_for(svc)   # readings routed to the "raw" policy, as in compose
        now = pd.Timestamp.now(tz="UTC").floor("min")
        last_seen = {("e01", "e01_elec_main"): 74, ("e01", "e01_l1_elec"): 1, ("e02", "e02_elec_main"): 71}
        rows = []
        for (ent, meter), hours in last_seen.items():
            for extra in (48, 24, 0):      # a few earlier readings, then the last one
                t = now - pd.Timedelta(hours=hours + extra)
                rows.append({"time": t, "enterprise": ent, "meter": meter, "quantity": "energy_kwh",
                             "energy_kwh": 100.0 + extra, "received_ms": int(t.value // 1_000_000) + 1500})
        client.write_frame(pd.DataFrame(rows), "readings", ["enterprise", "meter", "quantity"])
        assert client.query_frame("SELECT count(received_ms) FROM readings").empty   # all in "raw"
        rule = _rule()
        assert '"raw"."readings"' in rule["data"][0]["model"]["query"]
        assert evaluate(rule, client) == {("e01", "e01_elec_main")}
        # the meter reports again: the alert resolves
        client.write_frame(pd.DataFrame([{**rows[2], "time": now, "received_ms": int(now.value // 1_000_000)}]),
                           "readings", ["enterprise", "meter", "quantity"])
        assert evaluate(rule, client) == set()
    finally:
        svc.stop()
