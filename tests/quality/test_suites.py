"""The suite JSON files are loadable GX 1.x suites with the metadata the runner relies on."""
from __future__ import annotations

import json

import pytest

from ecm.quality import EXPECTATIONS_DIR, load_suite

SUITES = ["readings_daily", "aggregates_daily", "stats_monthly"]


@pytest.mark.parametrize("name", SUITES)
def test_suite_loads_and_carries_severity_and_rule(name):
    doc = json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    names = [e["meta"]["name"] for e in doc["expectations"]]
    assert len(names) == len(set(names))
    for e in doc["expectations"]:
        assert e["meta"]["severity"] in {"block", "warn"}
        assert e["meta"]["rule_source"]
        assert e["severity"] == {"block": "critical", "warn": "warning"}[e["meta"]["severity"]]
    suite = load_suite(name)
    assert len(suite.expectations) == len(names)
    assert f"`{name}.json`" in (EXPECTATIONS_DIR / "README.md").read_text(encoding="utf-8")


def test_national_rules_are_encoded():
    r = json.loads((EXPECTATIONS_DIR / "readings_daily.json").read_text())
    comp = next(e for e in r["expectations"] if e["meta"]["name"] == "completeness_ge_90pct")
    assert comp["kwargs"]["min_value"] == 0.9 and comp["meta"]["severity"] == "block"
    a = json.loads((EXPECTATIONS_DIR / "aggregates_daily.json").read_text())
    dev = next(e for e in a["expectations"] if e["meta"]["name"] == "daily_sum_vs_monthly_within_5pct")
    assert dev["kwargs"]["max_value"] == 0.05
