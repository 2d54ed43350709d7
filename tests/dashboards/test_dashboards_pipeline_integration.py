"""Every panel query on the data the real pipeline produced: the simulated district published over
MQTT, landed by the ingest bridge, computed by the accounting library (the `seeded` fixture).

Queries on meter data and KPIs are read as of the end of the seeded days (2024-03-03 00:00
Beijing); queries on the bridge's own measurements (ingest_stats, ingest_rejects, device_status) as
of now, since the bridge writes those at wall-clock time. A panel whose empty answer means zero
or none (``noValue`` set, e.g. "enterprises yellow" or "failed blocking checks" when there are none)
may return no rows, but its query must
still run without error.
"""
from __future__ import annotations

import pandas as pd
import pytest

from dashboards.generate import build_all
from dashboards.panels import READINGS_FROM
from tests.dashboards import grafana_macros as gm

pytestmark = pytest.mark.integration
BOARDS = build_all()
VARIABLES = {"enterprise": "e01", "industry": ".*", "line": ".*"}
#: the benchmarking board opens on every enterprise (All); the enterprise board on one
ALL_ENTERPRISES = {"ecm-benchmarking"}


def _targets():
    for uid, board in BOARDS.items():
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                yield pytest.param(uid, panel, t, id=f"{uid}:{panel['id']}:{t['refId']}")


@pytest.mark.parametrize("uid,panel,target", list(_targets()))
def test_panel_query_returns_pipeline_data(seeded, uid, panel, target):
    from tests.dashboards.test_dashboards_queries_integration import expected_columns

    if any(m in target["query"] for m in ('"ingest_stats"', '"ingest_rejects"', '"device_status"')):
        now = pd.Timestamp.now(tz="UTC").floor("min") + pd.Timedelta(minutes=1)
    else:
        now = pd.Timestamp(f"{seeded.recent[1] + pd.Timedelta(days=1)}T00:00:00+08:00").tz_convert("UTC")
    client = seeded.stack.client()
    board = BOARDS[uid]
    start, end = gm.panel_range(board, panel, now)
    interval = gm.auto_interval(start, end, panel.get("interval", ""))
    names = {v["name"] for v in board["templating"]["list"]}
    all_values = {v["name"]: v["allValue"] for v in board["templating"]["list"] if v.get("allValue")}
    chosen = {k: v for k, v in VARIABLES.items() if k in names}
    if uid in ALL_ENTERPRISES:
        chosen["enterprise"] = ".*"
    # as deployed, raw readings sit in the "raw" retention policy; the seeded stack keeps them in the default one
    query = target["query"].replace(READINGS_FROM, client.readings_from)
    q = gm.render(query, start=start, end=end, interval=interval, variables=chosen,
                  all_values={k: all_values[k] for k in chosen if chosen[k] == ".*" and k in all_values})
    df = client.query_frame(q)  # raises on an InfluxQL error
    if df.empty and panel.get("fieldConfig", {}).get("defaults", {}).get("noValue"):
        return
    assert not df.empty, f"no rows for {panel['title']!r}: {q}"
    assert df.drop(columns=[c for c in df.columns if c == "time"]).notna().any().any(), q
    for col in expected_columns(target["query"]):
        if col.endswith("_"):
            assert any(c.startswith(col) for c in df.columns), q
        else:
            assert col in df.columns, f"column {col!r} missing from {list(df.columns)}: {q}"
