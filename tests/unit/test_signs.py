"""Signs (issue #12 §7): the required rate reads as 'must fall' or 'headroom' with a colour that means it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ecm.accounting.intensity import path_status
from ecm.accounting.signs import grafana_required_rate, required_rate_display, status_action
from ecm.factors import load_factors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def t():
    return load_factors(ROOT / "config/factors.yaml").targets


def test_required_rate_words_and_colours(t):
    # plan rate p = 1 - 0.87 ** 0.2 = 0.027468; yellow up to 2p = 0.054936
    f = pd.DataFrame({"required_annual_rate_frac": [-0.342, 0.02, -0.02, -0.027468, -0.04, -0.06, float("nan")]})
    out, _ = required_rate_display(f, t)
    assert out["required_rate_colour"].tolist() == ["red", "green", "green", "green", "yellow", "red", "grey"]
    assert out["required_rate_kind"].tolist() == ["must_fall", "headroom", "must_fall", "must_fall", "must_fall",
                                                  "must_fall", "none"]
    assert out["required_rate_text_en"].iloc[0] == "must fall 34.2 %/yr"
    assert out["required_rate_text_en"].iloc[1] == "headroom 2.0 %/yr"
    assert out["required_rate_text_zh"].iloc[0] == "须年均下降 34.2%" and out["required_rate_text_zh"].iloc[1].startswith("余量")


def _panel_colour(value: float, cfg: dict) -> str:
    """How Grafana picks a stat colour: the last step whose value <= the number; range mappings first."""
    for m in cfg["mappings"]:
        o = m["options"]
        if o["from"] <= value <= o["to"]:
            return o["result"]["color"] + "|" + o["result"]["text"]
    colour = None
    for step in cfg["thresholds"]["steps"]:
        if step["value"] is None or value >= step["value"]:
            colour = step["color"]
    return colour


def test_grafana_thresholds_match_the_rule(t):
    cfg = grafana_required_rate(t)
    assert _panel_colour(-0.342, cfg) == "#c62828"                 # red: steep
    assert _panel_colour(0.02, cfg) == "#2e7d32|余量 headroom"      # headroom, green
    assert _panel_colour(-0.02, cfg) == "#2e7d32"
    assert _panel_colour(-0.04, cfg) == "#f9a825"


def test_red_only_from_a_year_on_year_rise_says_so(t):
    # 2026 path 0.894572 (d_p 0.105428). a: index 0.89 (ahead) but +1.2 % y-o-y -> red, yoy only;
    # b: index 0.95 (shortfall 0.055 > 0.0105) and rising -> both; c: index 0.95 falling -> shortfall only
    f = pd.DataFrame({"enterprise": ["a", "b", "c", "d"], "cumulative_index": [0.89, 0.95, 0.95, 0.88],
                      "ytd_change_frac": [0.012, 0.03, -0.01, -0.02]})
    st, _ = path_status(f, year=2026, **t.path_kwargs(), yellow_tolerance_frac=t.yellow_tolerance_frac)
    assert st["status"].tolist() == ["red", "red", "red", "green"]
    out, _ = status_action(st, t)
    assert out["red_reason"].tolist() == ["yoy_rise_only", "path_shortfall_and_yoy_rise", "path_shortfall", ""]
    assert "red only because of the rise" in out["action_en"].iloc[0] and "同比上升1.2%" in out["action_zh"].iloc[0]
    # c: (0.87 / 0.95) ** (1 / 1) - 1 = -0.084211 -> must fall 8.4 %/yr
    assert "must fall 8.4 %/yr" in out["action_en"].iloc[2]
    assert out["action_en"].iloc[3].startswith("On or ahead")
