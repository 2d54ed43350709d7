"""Alert provisioning (dashboards/alerts.py rules, ecm.alerting contact points and policies)
checked against Grafana's file-provisioning format for alerting (apiVersion 1: ``groups``,
``contactPoints``, ``policies``; Grafana docs "Use configuration files to provision alerting
resources"), and wired to the compose environment."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import yaml

from ecm import alerting

ROOT = Path(__file__).resolve().parents[2]
PROV = ROOT / "dashboards" / "provisioning"
DURATION = re.compile(r"^\d+(ms|s|m|h|d|w)$")
UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
ENV_REF = re.compile(r"\$\{(\w+)\}")
#: required settings of the integrations used (Grafana's notifier validation)
REQUIRED = {"email": {"addresses"}, "wecom": {"url"}, "dingding": {"url"}}
STATES_NODATA = {"OK", "NoData", "Alerting", "KeepLast"}
STATES_ERR = {"OK", "Error", "Alerting", "KeepLast"}
MATCH_OPS = {"=", "!=", "=~", "!~"}


def _rules_doc() -> dict:
    return yaml.safe_load((PROV / "alerting" / "ecm-alerts.yaml").read_text(encoding="utf-8"))


def validate_rules(doc: dict, datasource_uids: set[str]) -> list[str]:
    errors = []
    if doc.get("apiVersion") != 1:
        errors.append("apiVersion must be 1")
    uids, names = set(), set()
    for g in doc.get("groups", []):
        for key in ("orgId", "name", "folder", "interval", "rules"):
            if key not in g:
                errors.append(f"group {g.get('name')}: missing {key}")
        if "/" in g["folder"] or "\\" in g["folder"]:
            errors.append(f"group {g['name']}: folder {g['folder']!r} contains a path separator")
        if not DURATION.match(g["interval"]):
            errors.append(f"group {g['name']}: interval {g['interval']!r}")
        if (g["folder"], g["name"]) in names:
            errors.append(f"duplicate group {g['name']}")
        names.add((g["folder"], g["name"]))
        for r in g["rules"]:
            uid = r.get("uid", "")
            if not UID.match(uid) or uid in uids:
                errors.append(f"rule uid {uid!r} invalid or duplicate")
            uids.add(uid)
            refs = [d["refId"] for d in r["data"]]
            if len(set(refs)) != len(refs) or r["condition"] not in refs:
                errors.append(f"{uid}: refIds {refs}, condition {r['condition']}")
            if not DURATION.match(r["for"]):
                errors.append(f"{uid}: for {r['for']!r}")
            if r["noDataState"] not in STATES_NODATA or r["execErrState"] not in STATES_ERR:
                errors.append(f"{uid}: states")
            if r.get("labels", {}).get("severity") not in alerting.SEVERITIES:
                errors.append(f"{uid}: severity label {r.get('labels', {}).get('severity')!r} is not routed")
            for d in r["data"]:
                m = d["model"]
                if d["datasourceUid"] == "__expr__":
                    used = set(re.findall(r"\$(\w+)", m["expression"])) if m["type"] == "math" else {m["expression"]}
                    if not used <= set(refs) - {d["refId"]}:
                        errors.append(f"{uid}/{d['refId']}: expression refers to {used}")
                    if m["type"] not in {"math", "reduce", "threshold", "resample", "classic_conditions"}:
                        errors.append(f"{uid}/{d['refId']}: type {m['type']}")
                elif d["datasourceUid"] not in datasource_uids:
                    errors.append(f"{uid}/{d['refId']}: datasource {d['datasourceUid']} not provisioned")
                elif "$timeFilter" not in m["query"] or d["relativeTimeRange"]["from"] <= 0:
                    errors.append(f"{uid}/{d['refId']}: query without $timeFilter or time range")
    return errors


def validate_notifications(doc: dict) -> list[str]:
    errors = []
    if doc.get("apiVersion") != 1:
        errors.append("apiVersion must be 1")
    points, uids = set(), set()
    for cp in doc.get("contactPoints", []):
        if cp["name"] in points or "/" in cp["name"]:
            errors.append(f"contact point {cp['name']!r}")
        points.add(cp["name"])
        if not cp.get("receivers"):
            errors.append(f"{cp['name']}: no receivers")
        for rc in cp["receivers"]:
            if not UID.match(rc["uid"]) or rc["uid"] in uids:
                errors.append(f"receiver uid {rc['uid']!r}")
            uids.add(rc["uid"])
            if rc["type"] not in REQUIRED:
                errors.append(f"{rc['uid']}: type {rc['type']}")
            elif not REQUIRED[rc["type"]] <= {k for k, v in rc["settings"].items() if v}:
                errors.append(f"{rc['uid']}: missing {REQUIRED[rc['type']]}")
            for v in rc["settings"].values():
                if isinstance(v, str) and re.search(r"https?://", v):
                    errors.append(f"{rc['uid']}: a literal URL in the file")

    def walk(node, top=False):
        if node.get("receiver") not in points:
            errors.append(f"policy receiver {node.get('receiver')!r} is not a contact point")
        if top and "object_matchers" in node:
            errors.append("the root policy must not match")
        for m in node.get("object_matchers", []):
            if len(m) != 3 or m[1] not in MATCH_OPS:
                errors.append(f"matcher {m}")
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in node and not DURATION.match(node[key]):
                errors.append(f"{key} {node[key]!r}")
        for child in node.get("routes", []):
            walk(child)

    pols = doc.get("policies", [])
    if len(pols) != 1:
        errors.append("exactly one policy tree per org")
    for p in pols:
        walk(p, top=True)
    return errors


def _route(doc: dict, labels: dict) -> str:
    """Contact point an alert with ``labels`` reaches (first matching route, as Grafana's
    default continue=false routing does; only = matchers are used here)."""
    root = doc["policies"][0]
    for r in root.get("routes", []):
        if all(labels.get(k) == v for k, op, v in r["object_matchers"]):
            return r["receiver"]
    return root["receiver"]


def test_rules_file_is_current_and_valid():
    from dashboards import generate
    from dashboards.panels import DATASOURCE_UID

    assert generate.diff() == [], "run python -m dashboards.generate"
    ds = yaml.safe_load((PROV / "datasources" / "influxdb.yaml").read_text())["datasources"]
    doc = _rules_doc()
    assert validate_rules(doc, {d["uid"] for d in ds}) == []
    assert DATASOURCE_UID in {d["uid"] for d in ds}
    rules = {r["uid"]: r for g in doc["groups"] for r in g["rules"]}
    assert {"ecm-enterprise-red", "ecm-device-offline", "ecm-meter-silent"} <= set(rules)


def test_validator_catches_what_grafana_refuses():
    doc = _rules_doc()
    bad = yaml.safe_load(yaml.safe_dump(doc))
    bad["groups"][0]["folder"] = "ECM 能耗监测 / Energy monitoring"     # the old nested-path name
    bad["groups"][0]["rules"][0]["condition"] = "Z"
    bad["groups"][1]["rules"][0]["labels"].pop("severity")
    errs = validate_rules(bad, {"ecm-influx"})
    assert any("path separator" in e for e in errs) and any("condition Z" in e for e in errs)
    assert any("is not routed" in e for e in errs)
    n = alerting.build({"email"})
    n["policies"][0]["routes"][0]["receiver"] = "nobody"
    n["contactPoints"][0]["receivers"][0]["settings"]["addresses"] = ""
    errs = validate_notifications(n)
    assert any("nobody" in e for e in errs) and any("missing {'addresses'}" in e for e in errs)


def test_folder_has_no_slash_and_is_the_boards_folder():
    from dashboards.alerts import FOLDER

    prov = yaml.safe_load((PROV / "dashboards" / "ecm.yaml").read_text(encoding="utf-8"))["providers"][0]
    assert "/" not in FOLDER and prov["folder"] == FOLDER
    assert {g["folder"] for g in _rules_doc()["groups"]} == {FOLDER}


@pytest.mark.parametrize("channels", [set(c) for n in (1, 2, 3) for c in itertools.combinations(alerting.CHANNELS, n)])
def test_notifications_for_every_channel_combination(channels):
    doc = yaml.safe_load(alerting.render(channels))
    assert validate_notifications(doc) == []
    used = {m for cp in doc["contactPoints"] for rc in cp["receivers"] for m in ENV_REF.findall(str(rc["settings"]))}
    assert used == {alerting.ENV[c] for c in channels}
    by_type = {cp["name"]: {rc["type"] for rc in cp["receivers"]} for cp in doc["contactPoints"]}
    grafana_type = {"email": "email", "wecom": "wecom", "dingtalk": "dingding"}
    # critical reaches every configured channel; warning e-mail + WeCom when either exists
    assert by_type[_route(doc, {"severity": "critical"})] == {grafana_type[c] for c in channels}
    want_warning = {grafana_type[c] for c in ("email", "wecom") if c in channels} or \
        {grafana_type[c] for c in channels}
    assert by_type[_route(doc, {"severity": "warning"})] == want_warning
    for r in (r for g in _rules_doc()["groups"] for r in g["rules"]):
        target = _route(doc, r["labels"])
        assert target == alerting.CONTACT_POINT[r["labels"]["severity"]]


def test_no_channel_means_no_file_and_a_warning(tmp_path, capsys):
    assert alerting.build(set()) is None
    (tmp_path / alerting.FILE_NAME).write_text("stale")
    assert alerting.main([str(tmp_path)]) == 0
    assert not (tmp_path / alerting.FILE_NAME).exists() and "reach nobody" in capsys.readouterr().err
    assert alerting.main([str(tmp_path), "--email", "--dingtalk"]) == 0
    doc = yaml.safe_load((tmp_path / alerting.FILE_NAME).read_text())
    assert validate_notifications(doc) == []


def test_compose_passes_every_referenced_variable():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    grafana = doc["services"]["grafana"]["environment"]
    init = doc["services"]["ecm-init"]["environment"]
    for var in alerting.ENV.values():
        assert var in grafana and var in init
    for key in ("GF_SMTP_ENABLED", "GF_SMTP_HOST", "GF_SMTP_USER", "GF_SMTP_PASSWORD", "GF_SMTP_FROM_ADDRESS"):
        assert key in grafana
    script = (ROOT / "compose" / "ecm-init.sh").read_text()
    assert "python -m ecm.alerting /grafana-alerting" in script
    for c, var in alerting.ENV.items():
        assert f'"${{{var}:-}}" ] && echo --{c}' in script
    text = (ROOT / "compose" / "init.py").read_text()
    assert all(f'"{v}": ""' in text for v in alerting.ENV.values())
