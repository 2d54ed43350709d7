"""Every panel query and template-variable query of every board, run against the real InfluxDB.

Macros and variables are substituted as Grafana does (tests/dashboards/grafana_macros.py), over
the panel's own time range; each target must return rows with the columns its SELECT names.
"""
from __future__ import annotations

import re

import pandas as pd
import pytest

from dashboards.generate import build_all
from ecm import schema as S
from tests.dashboards import grafana_macros as gm
from tests.dashboards.seed import seed_demo_points

pytestmark = pytest.mark.integration
BOARDS = build_all()
VARIABLES = {"enterprise": "e01", "industry": ".*", "line": ".*"}   # a chosen enterprise; industry, line = All
#: the benchmarking board opens on every enterprise (All); the enterprise board on one
ALL_ENTERPRISES = {"ecm-benchmarking"}


def _chosen(uid: str, board: dict) -> tuple[dict, dict]:
    """(variables, allValues) as Grafana substitutes them on this board."""
    names = {v["name"] for v in board["templating"]["list"]}
    chosen = {k: v for k, v in VARIABLES.items() if k in names}
    if uid in ALL_ENTERPRISES:
        chosen["enterprise"] = ".*"
    all_values = {v["name"]: v["allValue"] for v in board["templating"]["list"] if v.get("allValue")}
    return chosen, {k: all_values[k] for k in chosen if chosen[k] == ".*" and k in all_values}


@pytest.fixture(scope="module")
def demo_db(stack):
    """(client, reference now) on a database laid out as compose deploys it: its own database on the
    session's InfluxDB, raw readings routed to the "raw" retention policy (ECM_INFLUX_RAW_RP=raw)."""
    import dataclasses

    from ecm.influx import InfluxClient
    from ecm.retention import RP_RAW, ensure_retention

    admin = stack.client("admin")
    client = InfluxClient(dataclasses.replace(admin.cfg, db="ecm_dashboards_compose", raw_rp=RP_RAW))
    client.create_database()
    ensure_retention(admin, client.cfg.db, 400)
    now = seed_demo_points(client)
    assert client.query_frame(f"SELECT count({S.F_RECEIVED_MS}) FROM {S.MEAS_READINGS}").empty  # all in "raw"
    return client, now + pd.Timedelta(minutes=1)


def _targets():
    for uid, board in BOARDS.items():
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                yield pytest.param(uid, panel, t, id=f"{uid}:{panel['id']}:{t['refId']}")


def expected_columns(query: str) -> list[str]:
    """Aliases (AS "x") and GROUP BY tags of the outer statement; regex selections as ``fn_`` prefixes."""
    outer = re.sub(r"\(SELECT .*\)", "()", query)
    cols = re.findall(r'AS "([^"]+)"', outer)
    cols += [f"{fn}_{pat}" for fn, pat in re.findall(r"(\w+)\(/\^\(?([a-z_]+)", outer)]
    group = re.search(r"GROUP BY (.*?)(?: fill\(| tz\(| ORDER| LIMIT|$)", outer)
    if group:
        cols += [g.strip().strip('"') for g in group.group(1).split(",") if not g.strip().startswith("time(")]
    return cols


@pytest.mark.parametrize("uid,panel,target", list(_targets()))
def test_panel_query_returns_data(demo_db, uid, panel, target):
    client, now = demo_db
    board = BOARDS[uid]
    start, end = gm.panel_range(board, panel, now)
    interval = gm.auto_interval(start, end, panel.get("interval", ""))
    chosen, all_values = _chosen(uid, board)
    q = gm.render(target["query"], start=start, end=end, interval=interval, variables=chosen, all_values=all_values)
    df = client.query_frame(q)
    assert not df.empty, f"no rows for {panel['title']!r}: {q}"
    values = df.drop(columns=[c for c in df.columns if c == "time"])
    assert values.notna().any().any(), f"all values null: {q}"
    for col in expected_columns(target["query"]):
        if col.endswith("_"):
            assert any(c.startswith(col) for c in df.columns), f"no {col}* column in {list(df.columns)}: {q}"
        else:
            assert col in df.columns, f"column {col!r} missing from {list(df.columns)}: {q}"


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_template_variable_queries_return_values(demo_db, uid):
    client, now = demo_db
    board = BOARDS[uid]
    chosen, all_values = _chosen(uid, board)
    for var in board["templating"]["list"]:
        if var["type"] == "custom":
            continue  # registry-backed: checked against InfluxDB below
        q = gm.render(var["query"], start=now - pd.Timedelta(days=1), end=now, interval="1h",
                      variables={k: v for k, v in chosen.items() if k != var["name"]}, all_values=all_values)
        df = client.query_frame(q)
        assert not df.empty and "value" in df.columns, q
        if var["name"] == "line":
            assert "e01_l1" in set(df["value"]) and all(v.startswith("e") for v in df["value"])


def test_enterprise_variable_names_every_enterprise_in_influxdb(demo_db):
    """The enterprise variable shows ``e01 渝荣陶瓷`` and passes ``e01``; every enterprise that has KPI rows
    in the real InfluxDB is on its list, and the district row is not."""
    client, _ = demo_db
    var = next(v for v in BOARDS["ecm-enterprise-detail"]["templating"]["list"] if v["name"] == "enterprise")
    shown = {o["value"]: o["text"] for o in var["options"]}
    df = client.query_frame(f'SHOW TAG VALUES FROM "{S.MEAS_KPI_MONTHLY}" WITH KEY = "{S.TAG_ENTERPRISE}"')
    in_db = set(df["value"]) - {S.DISTRICT}
    assert in_db and in_db <= set(shown) and S.DISTRICT not in shown
    assert shown["e01"] == "e01 渝荣陶瓷" and shown["e02"].startswith("e02 ") and len(shown["e02"]) > 4


def _annotations():
    for uid, board in BOARDS.items():
        for a in board["annotations"]["list"]:
            if not a.get("builtIn") and a["datasource"]["type"] == "influxdb":
                yield pytest.param(uid, a, id=f"{uid}:{a['name'].split(' / ')[1]}")


@pytest.mark.parametrize("uid,anno", list(_annotations()))
def test_annotation_queries_mark_seeded_events(demo_db, uid, anno):
    """Data-insufficient days (e05 has some), failed checks (e05's blocking one) and counter resets (e01's
    accounting issue) come back with the annotation's text column."""
    client, now = demo_db
    board = BOARDS[uid]
    chosen, all_values = _chosen(uid, board)
    who = "e01" if "counter" in anno["query"] else "e05"   # e01: a counter reset; e05: insufficient days
    if "enterprise" in chosen:
        chosen["enterprise"] = who
    start, end = gm.panel_range(board, {}, now)
    q = gm.render(anno["query"], start=start - pd.Timedelta(days=60), end=end, interval="1h", variables=chosen,
                  all_values=all_values)
    df = client.query_frame(q)
    assert not df.empty and anno["textColumn"] in df.columns, q
    assert (df.get("enterprise", pd.Series([who])) == who).all()


def test_district_rows_show_the_seeded_red_enterprise(demo_db):
    """The status table query really ranks: e02 is demo_db red and must come back as level 2."""
    client, now = demo_db
    board = BOARDS["ecm-district-overview"]
    panel = next(p for p in board["panels"] if p["type"] == "table")
    start, end = gm.panel_range(board, panel, now)
    df = client.query_frame(gm.render(panel["targets"][0]["query"], start=start, end=end, interval="1h"))
    levels = df.set_index("enterprise")["status_level"]
    assert levels["e02"] == 2 and levels["e01"] == 0 and "_district" not in levels.index


def test_offline_device_is_flagged(demo_db):
    """The silent meter (last reading 4 days ago) is the only one past the 72 h flag."""
    client, now = demo_db
    board = BOARDS["ecm-ingest-health"]
    table = next(p for p in board["panels"] if p["type"] == "table" and len(p["targets"]) == 2)
    start, end = gm.panel_range(board, table, now)
    df = client.query_frame(gm.render(table["targets"][0]["query"], start=start, end=end, interval="1h"))
    flagged = set(df.loc[df["offline_h"] > 72, "meter"])
    assert flagged == {"e03_elec_main"}
