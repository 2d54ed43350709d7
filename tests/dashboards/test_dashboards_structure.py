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
    """The data panels (row headers excluded)."""
    return [p for p in board["panels"] if p["type"] != "row"]


def rows(board):
    return [p for p in board["panels"] if p["type"] == "row"]


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
    for r in rows(b):
        assert r["gridPos"]["w"] == 24 and r["gridPos"]["x"] == 0 and not r["collapsed"]
        assert re.search(r"[\u4e00-\u9fff]", r["title"]) and " / " in r["title"], f"bilingual row: {r['title']}"
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
            meas = set(re.findall(r'FROM (?:"raw"\.)?"([a-z_]+)"', q))
            assert set(re.findall(r'"raw"\."([a-z_]+)"', q)) <= {"readings"}, f"only raw readings sit in \"raw\": {q}"
            assert meas and meas <= MEASUREMENTS, f"unknown measurement in {q}"
            if "GROUP BY time(" in q:
                assert "tz('Asia/Shanghai')" in q, f"day buckets must be Beijing days: {q}"
            used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", q)) - GRAFANA_MACROS
            assert used <= var_names, f"undefined variable(s) {used - var_names} in {q}"
        x, w = p["gridPos"]["x"], p["gridPos"]["w"]
        assert 0 <= x and x + w <= 24


def test_enterprise_variable_shows_names_and_passes_ids():
    """``e01 渝荣陶瓷`` is shown, ``e01`` is passed: a custom variable built from the registry."""
    from ecm.registry import get_registry

    reg = get_registry()
    ent = BOARDS["ecm-enterprise-detail.json"]["templating"]["list"]
    assert [v["name"] for v in ent] == ["enterprise"]
    var = ent[0]
    assert var["type"] == "custom" and not var["multi"]
    pairs = [tuple(x.strip() for x in item.split(" : ")) for item in var["query"].split(",")]
    assert [v for _, v in pairs] == reg.enterprise_ids
    assert ("e01 渝荣陶瓷", "e01") in pairs, "short name without 有限公司"
    assert all(text.startswith(value + " ") and len(text) > len(value) + 1 for text, value in pairs)
    assert [(o["text"], o["value"]) for o in var["options"]] == pairs
    assert var["current"]["value"] == "e01"
    for p in panels(BOARDS["ecm-enterprise-detail.json"]):
        for t in p["targets"]:
            assert '"enterprise" =~ /^$enterprise$/' in t["query"], "every panel follows the chosen enterprise"
    bm = {v["name"]: v for v in BOARDS["ecm-benchmarking.json"]["templating"]["list"]}
    assert set(bm) == {"industry", "enterprise", "line"}
    assert bm["enterprise"]["query"] == var["query"] and bm["enterprise"]["allValue"] == ".*"
    assert "$enterprise" in bm["line"]["query"], "the line list follows the chosen enterprise"


def _links(panel):
    fc = panel.get("fieldConfig", {})
    yield from fc.get("defaults", {}).get("links", [])
    for o in fc.get("overrides", []):
        for pr in o["properties"]:
            if pr["id"] == "links":
                yield from pr["value"]


def test_every_data_link_resolves_to_a_board_and_its_variables():
    by_uid = {b["uid"]: b for b in BOARDS.values()}
    n = 0
    for b in BOARDS.values():
        own_vars = {v["name"] for v in b["templating"]["list"]}
        for p in panels(b):
            for link in _links(p):
                n += 1
                m = re.fullmatch(r"/d/([a-z0-9-]+)/([a-z0-9-]+)\?(.*)", link["url"])
                assert m and m.group(1) == m.group(2), link["url"]
                target = by_uid.get(m.group(1))
                assert target, f"{p['title']}: link to unknown board {m.group(1)}"
                target_vars = {v["name"] for v in target["templating"]["list"]}
                params = m.group(3).split("&")
                assert "${__url_time_range}" in params, f"{p['title']}: the link must carry the time range"
                passed = [re.fullmatch(r"var-([a-z_]+)=(.+)", q) for q in params if q.startswith("var-")]
                kept = [re.fullmatch(r"\$\{([a-z_]+):queryparam\}", q) for q in params if q.startswith("${") and
                        q != "${__url_time_range}"]
                assert all(passed) and all(kept), link["url"]
                names = {x.group(1) for x in passed} | {x.group(1) for x in kept}
                assert names and names <= target_vars, f"{link['url']}: {names - target_vars} not on {target['uid']}"
                assert {x.group(1) for x in kept} <= own_vars, f"{link['url']} passes a variable this board lacks"
                for x in passed:
                    value = x.group(2)
                    assert value in ("${__value.raw}", "${__field.labels.line}") or value.startswith("$"), value
    assert n >= 6


def test_drill_down_district_to_enterprise_to_line():
    def targets_of(name):
        return {re.match(r"/d/([a-z0-9-]+)/", link["url"]).group(1)
                for p in panels(BOARDS[name]) for link in _links(p)}
    assert "ecm-enterprise-detail" in targets_of("ecm-district-overview.json")
    assert "ecm-benchmarking" in targets_of("ecm-enterprise-detail.json")
    assert "ecm-enterprise-detail" in targets_of("ecm-benchmarking.json")
    status = next(p for p in panels(BOARDS["ecm-district-overview.json"]) if "enterprise status" in p["title"])
    ent_col = next(o for o in status["fieldConfig"]["overrides"] if o["matcher"]["options"] == "企业 enterprise")
    link = next(pr["value"][0] for pr in ent_col["properties"] if pr["id"] == "links")
    assert "var-enterprise=${__value.raw}" in link["url"]


QUESTIONS = ("Are we on the 13% path?", "Is capacity at 标杆/基准?", "Is CO₂ falling faster than society?",
             "Can we trust the data?")


def _en(title: str) -> str:
    return title.split(" / ")[1].split(" (")[0]


def test_district_overview_top_row_then_one_row_per_question():
    """Top row: status, index vs path, capacity shares vs goals, CO₂, coverage, each with a unit; then the
    four question rows in order, each holding panels."""
    b = BOARDS["ecm-district-overview.json"]
    top = sorted((p for p in panels(b) if p["gridPos"]["y"] == 0), key=lambda p: p["gridPos"]["x"])
    assert [_en(p["title"]) for p in top] == [
        "district status", "intensity index vs 13% path", "capacity at 标杆, goal 30%",
        "capacity at 基准, goal 100%", "CO₂ intensity, 3 years", "data coverage"]
    assert sum(p["gridPos"]["w"] for p in top) == 24
    assert top[0]["fieldConfig"]["defaults"]["mappings"], "status shows words, not a level number"
    for p in top[1:]:
        unit = p["fieldConfig"]["defaults"]["unit"]
        assert unit and unit != "none", f"{p['title']} has no unit"
    assert top[1]["fieldConfig"]["defaults"]["unit"] == "suffix: (2022=1)"
    assert top[2]["fieldConfig"]["defaults"]["unit"] == top[3]["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert top[4]["fieldConfig"]["defaults"]["unit"] == "suffix: tCO₂/万元"
    assert S.F_PATH_INDEX in top[1]["targets"][0]["query"] and S.F_CUMULATIVE_INDEX in top[1]["targets"][0]["query"]
    rs = rows(b)
    assert [_en(r["title"]) for r in rs] == list(QUESTIONS)
    ys = [r["gridPos"]["y"] for r in rs] + [10 ** 6]
    for r, y0, y1 in zip(rs, ys, ys[1:]):
        inside = [p for p in panels(b) if y0 < p["gridPos"]["y"] < y1]
        assert inside, f"row {r['title']} is empty"
    path_row = [p for p in panels(b) if ys[0] < p["gridPos"]["y"] < ys[1]]
    assert {"unit value-added energy vs 13% path", "enterprise status"} <= {_en(p["title"]) for p in path_row}
    table = next(p for p in path_row if p["type"] == "table")
    assert table["options"]["sortBy"][0]["desc"] is True, "worst status first"


def test_enterprise_board_top_row_and_rows():
    b = BOARDS["ecm-enterprise-detail.json"]
    top = [p for p in panels(b) if p["gridPos"]["y"] == 0]
    assert len(top) == 5 and sum(p["gridPos"]["w"] for p in top) == 24
    assert all(p["fieldConfig"]["defaults"]["unit"] for p in top)
    assert len(rows(b)) == 3 and _en(rows(b)[-1]["title"]) == "Can we trust the data?"


QUANTITY = re.compile(r"tce|co2|intensity|_per_|unit_energy|benchmark_|baseline_")


def _quantity_fields(query: str) -> set[str]:
    fields = {v for k, v in vars(S).items() if k.startswith("F_") and isinstance(v, str)}
    named = set(re.findall(r'"([a-z0-9_]+)"', query)) & fields
    regex = {f"/{pat}/" for pat in re.findall(r"\(/\^\(?([a-z_|]+)\)?/\)", query)}
    # a status level (e.g. energy_co2_status_level) is a code mapped to words, not a quantity
    return {f for f in named | regex if QUANTITY.search(f) and not f.endswith("_status_level")}


def test_no_quantity_is_shown_with_unit_none():
    """tce, tCO₂ and intensity fields carry a unit: the panel's, or an override on that field."""
    checked = 0
    for b in BOARDS.values():
        for p in panels(b):
            fc = p["fieldConfig"]
            unit_overrides = [o for o in fc["overrides"] if any(pr["id"] == "unit" for pr in o["properties"])]
            for t in p["targets"]:
                for field in _quantity_fields(t["query"]):
                    checked += 1
                    if fc["defaults"].get("unit") not in (None, "", "none"):
                        continue
                    assert unit_overrides, f"{p['title']}: {field} shown with unit none"
    assert checked >= 20


def test_units_are_grafana_ids_or_suffixes():
    known = {"none", "percentunit", "percent", "kwatt", "reqps", "ms", "s", "bytes", "decbytes", "short", "string",
             "h", "dtdurations"}
    for b in BOARDS.values():
        for p in panels(b):
            fc = p["fieldConfig"]
            units = [fc["defaults"].get("unit", "none")] + [pr["value"] for o in fc["overrides"]
                                                           for pr in o["properties"] if pr["id"] == "unit"]
            for u in units:
                assert u in known or u.startswith("suffix:"), f"{p['title']}: unit {u!r}"
            if re.search(r"\btce\b|tCO|tce/万元", p["title"]):
                assert any(u.startswith("suffix:") for u in units), f"{p['title']}: unit only in the title"


def test_annotations_mark_insufficient_days_and_counter_events():
    for name in ("ecm-district-overview.json", "ecm-enterprise-detail.json"):
        annos = BOARDS[name]["annotations"]["list"]
        queries = [a.get("query", "") for a in annos]
        assert any(S.MEAS_KPI_DAILY in q and "data_insufficient" in q for q in queries)
        assert any(S.MEAS_DQ_RESULT in q and "counter" in q for q in queries)
        reg = [a for a in annos if a["datasource"]["uid"] == "-- Grafana --" and not a.get("builtIn")]
        assert len(reg) == 1 and reg[0]["target"]["tags"][0] == "ecm-registry"
        if name == "ecm-enterprise-detail.json":
            assert reg[0]["target"]["tags"] == ["ecm-registry", "$enterprise"] and not reg[0]["target"]["matchAny"]
        for a in annos:
            if a.get("builtIn") or a in reg:
                continue
            assert a["datasource"]["uid"] == DS_UID and "$timeFilter" in a["query"] and a["textColumn"]
            assert re.search(r"[\u4e00-\u9fff]", a["name"]) and " / " in a["name"]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_generated_json_parses_with_grafana_foundation_sdk(name):
    """grafana-foundation-sdk's Dashboard model (generated from Grafana's schema) reads every board back:
    panels, rows, units, links and variables survive the round trip."""
    from grafana_foundation_sdk.models import dashboard as gd

    b = BOARDS[name]
    model = gd.Dashboard.from_json(b)
    assert model.uid == b["uid"] and model.title == b["title"]
    assert len(model.panels) == len(b["panels"])
    for got, want in zip(model.panels, b["panels"]):
        if want["type"] == "row":
            assert isinstance(got, gd.RowPanel) and got.title == want["title"]
            continue
        assert isinstance(got, gd.Panel) and got.type_val == want["type"] and got.title == want["title"]
        assert got.field_config.defaults.unit == want["fieldConfig"]["defaults"]["unit"]
        links = got.field_config.defaults.links or []
        assert len(links) == len(want["fieldConfig"]["defaults"].get("links", []))
    assert [v.name for v in model.templating.list_val] == [v["name"] for v in b["templating"]["list"]]
    assert len(model.annotations.list_val) == len(b["annotations"]["list"])


def test_overview_covers_the_issue_panels():
    text = json.dumps(BOARDS["ecm-district-overview.json"], ensure_ascii=False)
    for needle in (S.F_BENCHMARK_SHARE_FRAC, S.F_BASELINE_SHARE_FRAC, S.F_CO2_INTENSITY, S.F_CO2_T,
                   S.F_COMPLETENESS_FRAC, S.F_REQUIRED_RATE_FRAC, "tce/万元", "tCO₂", "年累计", "本月"):
        assert needle in text, needle


def test_units_are_bilingual_in_titles():
    titles = [p["title"] for b in BOARDS.values() for p in panels(b)]
    for unit in ("tce", "tce/万元", "kgce/m²", "tCO₂"):
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
    assert set(rules) == {"ecm-enterprise-red", "ecm-device-offline", "ecm-meter-silent"}  # silent: tests/ops
    for r in rules.values():
        a = r["data"][0]
        assert a["datasourceUid"] == DS_UID and "$timeFilter" in a["model"]["query"]
        assert r["condition"] == r["data"][-1]["refId"]
    red = rules["ecm-enterprise-red"]
    assert S.F_STATUS_LEVEL in red["data"][0]["model"]["query"]
    assert red["data"][2]["model"]["conditions"][0]["evaluator"] == {"type": "within_range", "params": [1.5, 2.5]}
    off = rules["ecm-device-offline"]
    assert S.MEAS_DEVICE_STATUS in off["data"][0]["model"]["query"] and off["for"] == "72h"


def test_required_rate_reads_red_when_steep_and_headroom_when_positive():
    """required_annual_rate_frac is signed (issue #12 §7): e13's −0.342 (must fall 34.2 %/yr) renders red,
    the district's +0.02 renders as headroom, in the district and enterprise stat panels (and the table)."""
    from dashboards.panels import grafana_colour
    from ecm.accounting.signs import COLOUR_HEX

    found = 0
    for uid in ("ecm-district-overview.json", "ecm-enterprise-detail.json"):
        for p in panels(BOARDS[uid]):
            if p["type"] != "stat" or not any(f'"{S.F_REQUIRED_RATE_FRAC}"' in t["query"] for t in p["targets"]):
                continue
            found += 1
            d = p["fieldConfig"]["defaults"]
            assert grafana_colour(d, -0.342) == (COLOUR_HEX["red"], None), p["title"]
            assert grafana_colour(d, 0.02) == (COLOUR_HEX["green"], "余量 headroom"), p["title"]
            # the plan's own rate (2.747 %/yr) is not steep; twice it is yellow
            assert grafana_colour(d, -0.02)[0] == COLOUR_HEX["green"]
            assert grafana_colour(d, -0.04)[0] == COLOUR_HEX["yellow"]
    assert found == 2
    table = next(p for p in panels(BOARDS["ecm-district-overview.json"]) if p["type"] == "table"
                 and any(f'"{S.F_REQUIRED_RATE_FRAC}"' in t["query"] for t in p["targets"]))
    rate = next(o for o in table["fieldConfig"]["overrides"] if "需年变化" in o["matcher"]["options"])
    props = {pr["id"]: pr["value"] for pr in rate["properties"]}
    cfg = {"thresholds": props["thresholds"], "mappings": props["mappings"]}
    assert grafana_colour(cfg, -0.342)[0] == COLOUR_HEX["red"] and grafana_colour(cfg, 0.02)[1] == "余量 headroom"
