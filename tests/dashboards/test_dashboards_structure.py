"""Dashboard JSON structure, layout and provisioning, without Grafana."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from dashboards import generate
from ecm import schema as S

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "dashboards" / "generated"
PROV = ROOT / "dashboards" / "provisioning"
FILES = sorted(GEN.glob("*.json"))
BOARDS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in FILES}
DS_UID = yaml.safe_load((PROV / "datasources" / "influxdb.yaml").read_text())["datasources"][0]["uid"]
GRAFANA_MACROS = {"timeFilter", "__interval", "__interval_ms", "__from", "__to"}
MEASUREMENTS = {v for k, v in vars(S).items() if k.startswith("MEAS_")}


def panels(board):
    return board["panels"]


def test_committed_json_matches_generators():
    assert generate.diff() == [], "run `python -m dashboards.generate` and commit dashboards/generated/"


def test_check_detects_a_stale_file(tmp_path):
    for p in FILES:
        (tmp_path / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    board = json.loads((tmp_path / FILES[0].name).read_text(encoding="utf-8"))
    board["title"] += " edited"
    (tmp_path / FILES[0].name).write_text(json.dumps(board), encoding="utf-8")
    (tmp_path / "extra.json").write_text("{}", encoding="utf-8")
    assert generate.diff(tmp_path) == sorted([FILES[0].name, "extra.json"])


def test_four_boards_with_unique_uids_and_titles():
    assert len(BOARDS) == 4
    uids = [b["uid"] for b in BOARDS.values()]
    assert len(set(uids)) == 4 and all(f"{b['uid']}.json" == n for n, b in BOARDS.items())
    assert len({b["title"] for b in BOARDS.values()}) == 4
    assert {"区县总览", "企业详情", "能效对标", "数据接入"} == {b["title"].split(" / ")[0] for b in BOARDS.values()}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_structure(name):
    b = BOARDS[name]
    assert b["schemaVersion"] == 39 and b["timezone"] == "Asia/Shanghai"
    ids = [p["id"] for p in panels(b)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    var_names = {v["name"] for v in b["templating"]["list"]}
    for p in panels(b):
        assert p["datasource"]["uid"] == DS_UID and p["datasource"]["type"] == "influxdb"
        assert re.search(r"[\u4e00-\u9fff]", p["title"]) and " / " in p["title"], f"bilingual title: {p['title']}"
        refs = [t["refId"] for t in p["targets"]]
        assert p["targets"] and len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["datasource"]["uid"] == DS_UID and t["rawQuery"] is True
            q = t["query"]
            assert "$timeFilter" in q, f"no $timeFilter: {q}"
            assert "now()" not in q, "ranges come from Grafana, not now()"
            meas = set(re.findall(r'FROM "([a-z_]+)"', q))
            assert meas and meas <= MEASUREMENTS, f"unknown measurement in {q}"
            if "GROUP BY time(" in q:
                assert "tz('Asia/Shanghai')" in q, f"day buckets must be Beijing days: {q}"
            used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", q)) - GRAFANA_MACROS
            assert used <= var_names, f"undefined variable(s) {used - var_names} in {q}"
        x, w = p["gridPos"]["x"], p["gridPos"]["w"]
        assert 0 <= x and x + w <= 24


def test_template_variables():
    ent = BOARDS["ecm-enterprise-detail.json"]["templating"]["list"]
    assert [v["name"] for v in ent] == ["enterprise"]
    assert ent[0]["query"].startswith(f'SHOW TAG VALUES FROM "{S.MEAS_KPI_MONTHLY}" WITH KEY = "enterprise"')
    assert ent[0]["datasource"]["uid"] == DS_UID and not ent[0]["multi"]
    for p in panels(BOARDS["ecm-enterprise-detail.json"]):
        for t in p["targets"]:
            assert '"enterprise" =~ /^$enterprise$/' in t["query"], "every panel follows the chosen enterprise"


def test_district_overview_answers_on_track_and_who_is_not_at_the_top():
    """Five-second read: status, path index, red/yellow count on the first row; path chart and status
    table directly below; nothing else above them."""
    b = BOARDS["ecm-district-overview.json"]
    by_title = {p["title"].split(" / ")[1].split(" (")[0]: p for p in panels(b)}
    top = [p for p in panels(b) if p["gridPos"]["y"] == 0]
    assert {"district status", "cumulative index vs path", "enterprises red, yellow"} <= {
        p["title"].split(" / ")[1].split(" (")[0] for p in top}
    status = by_title["district status"]
    assert status["gridPos"]["x"] == 0 and status["type"] == "stat"
    path, table = by_title["unit value-added energy vs 13% path"], by_title["enterprise status"]
    assert path["type"] == "timeseries" and table["type"] == "table"
    first_below = min(p["gridPos"]["y"] for p in panels(b) if p["gridPos"]["y"] > 0)
    assert path["gridPos"]["y"] == table["gridPos"]["y"] == first_below
    rest = [p for p in panels(b) if p not in top and p not in (path, table)]
    assert all(p["gridPos"]["y"] >= path["gridPos"]["y"] + path["gridPos"]["h"] for p in rest)
    assert S.F_PATH_INDEX in path["targets"][0]["query"] and S.F_CUMULATIVE_INDEX in path["targets"][0]["query"]
    assert table["options"]["sortBy"][0]["desc"] is True, "worst status first"


def test_overview_covers_the_issue_panels():
    text = json.dumps(BOARDS["ecm-district-overview.json"], ensure_ascii=False)
    for needle in (S.F_BENCHMARK_SHARE_FRAC, S.F_BASELINE_SHARE_FRAC, S.F_CO2_INTENSITY, S.F_CO2_T,
                   S.F_COMPLETENESS_FRAC, S.F_REQUIRED_RATE_FRAC, "tce/万元", "tCO2", "年累计", "本月"):
        assert needle in text, needle


def test_units_are_bilingual_in_titles():
    titles = [p["title"] for b in BOARDS.values() for p in panels(b)]
    for unit in ("tce", "tce/万元", "kgce/m²", "tCO2"):
        assert any(unit in t for t in titles), unit


def test_provisioning_files():
    ds = yaml.safe_load((PROV / "datasources" / "influxdb.yaml").read_text())["datasources"][0]
    assert ds["type"] == "influxdb" and ds["jsonData"]["version"] == "InfluxQL"
    assert ds["jsonData"]["dbName"] == "${ECM_INFLUX_DB}" and "password" in ds["secureJsonData"]
    prov = yaml.safe_load((PROV / "dashboards" / "ecm.yaml").read_text())["providers"][0]
    assert prov["type"] == "file" and prov["options"]["path"] == "/var/lib/grafana/dashboards"


def test_alert_rules():
    doc = yaml.safe_load((PROV / "alerting" / "ecm-alerts.yaml").read_text())
    rules = {r["uid"]: r for g in doc["groups"] for r in g["rules"]}
    assert set(rules) == {"ecm-enterprise-red", "ecm-device-offline"}
    for r in rules.values():
        a = r["data"][0]
        assert a["datasourceUid"] == DS_UID and "$timeFilter" in a["model"]["query"]
        assert r["condition"] == r["data"][-1]["refId"]
    red = rules["ecm-enterprise-red"]
    assert S.F_STATUS_LEVEL in red["data"][0]["model"]["query"]
    assert red["data"][2]["model"]["conditions"][0]["evaluator"] == {"type": "within_range", "params": [1.5, 2.5]}
    off = rules["ecm-device-offline"]
    assert S.MEAS_DEVICE_STATUS in off["data"][0]["model"]["query"] and off["for"] == "72h"
