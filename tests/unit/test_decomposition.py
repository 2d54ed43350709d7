"""LMDI-I (Ang 2005, multiplicative) on a hand-built three-enterprise district."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from ecm.accounting.decomposition import explain_mix, lmdi_intensity

# A, B ceramics; C cement.       base (2022)        YTD
#                                 E     VA   I       E     VA   I
# A                               300   100  3.0     240   80   3.0
# B                               100   100  1.0     108   120  0.9
# C                               200   100  2.0     200   110  1.818182
# district                        600   300  2.0     548   310  1.767742   total ratio 0.883871
FRAME = pd.DataFrame({
    "enterprise": ["A", "B", "C"], "industry": ["ceramics", "ceramics", "cement"],
    "energy_tce_base": [300.0, 100.0, 200.0], "value_added_10k_cny_base": [100.0, 100.0, 100.0],
    "energy_tce_cur": [240.0, 108.0, 200.0], "value_added_10k_cny_cur": [80.0, 120.0, 110.0],
    "data_status": ["ok", "ok", "ok"]})


def test_three_enterprise_lmdi_by_hand():
    out, issues = lmdi_intensity(FRAME)
    r = out.iloc[0]
    # e_i = E_i / VA: base 1.0, 0.333333, 0.666667; YTD 240/310 = 0.774194, 108/310 = 0.348387, 200/310 = 0.645161
    # L(I1, I0) = (1.767742 - 2) / ln(1.767742 / 2) = 1.881482
    # L(e1, e0): A 0.882286, B 0.340805, C 0.655855 -> w = 0.468931, 0.181136, 0.348584
    L = lambda a, b: (a - b) / (math.log(a) - math.log(b))
    w = {"A": L(240 / 310, 1.0) / L(548 / 310, 2.0), "B": L(108 / 310, 1 / 3) / L(548 / 310, 2.0),
         "C": L(200 / 310, 2 / 3) / L(548 / 310, 2.0)}
    assert (w["A"], w["B"], w["C"]) == pytest.approx((0.468931, 0.181136, 0.348584), abs=1e-6)
    # industry mix: ceramics 200/300 -> 200/310, cement 100/300 -> 110/310
    # ln D_ind = (wA + wB) ln((200/310)/(200/300)) + wC ln((110/310)/(100/300)) -> D_ind = 1.000478
    # within ceramics: A 100/200 -> 80/200, B 100/200 -> 120/200; C stays 1
    # ln D_within = wA ln(0.8) + wB ln(1.2) -> D_within = 0.930890
    # intensity: A 3.0 -> 3.0, B 1.0 -> 0.9, C 2.0 -> 1.818182
    # ln D_int = wB ln(0.9) + wC ln(1/1.1) -> D_int = 0.949036
    assert r["total_ratio"] == pytest.approx(548 / 310 / 2.0, abs=1e-12)                 # 0.883871
    assert r["structure_industry_effect"] == pytest.approx(1.000478, abs=1e-6)
    assert r["structure_within_industry_effect"] == pytest.approx(0.930890, abs=1e-6)
    assert r["structure_effect"] == pytest.approx(0.931335, abs=1e-6)
    assert r["intensity_effect"] == pytest.approx(0.949036, abs=1e-6)
    assert r["structure_effect"] * r["intensity_effect"] == pytest.approx(r["total_ratio"], abs=1e-9)
    assert (r["structure_industry_effect"] * r["structure_within_industry_effect"]
            == pytest.approx(r["structure_effect"], abs=1e-12))
    # fixed 2022 weights: (1/3)(3.0 + 0.9 + 1.818182) / 2.0 = 0.953030
    assert r["fixed_weight_index"] == pytest.approx(0.953030, abs=1e-6)
    assert r["comparison"] == "cur_vs_base" and r["n_members"] == 3 and issues == []


def test_prior_year_comparison_and_bad_input():
    f = FRAME.assign(energy_tce_prev=[250.0, 110.0, 205.0], value_added_10k_cny_prev=[90.0, 110.0, 105.0])
    out, _ = lmdi_intensity(f, period0="prev")
    r = out.iloc[0]
    # prev: 565 / 305 = 1.852459; YTD 1.767742 -> ratio 0.954267
    assert r["total_ratio"] == pytest.approx((548 / 310) / (565 / 305), abs=1e-12)
    assert r["structure_effect"] * r["intensity_effect"] == pytest.approx(r["total_ratio"], abs=1e-9)
    # identical periods: every effect exactly 1
    same = FRAME.assign(energy_tce_cur=FRAME["energy_tce_base"], value_added_10k_cny_cur=FRAME["value_added_10k_cny_base"])
    s, _ = lmdi_intensity(same)
    assert s[["total_ratio", "structure_effect", "intensity_effect"]].iloc[0].tolist() == pytest.approx([1, 1, 1])
    bad = FRAME.copy()
    bad.loc[1, "value_added_10k_cny_cur"] = 0.0
    b, issues = lmdi_intensity(bad)
    assert math.isnan(b["intensity_effect"].iloc[0]) and issues[0].blocking
    # a data_insufficient member is not part of the comparable set
    part = FRAME.assign(data_status=["ok", "ok", "data_insufficient"])
    p, _ = lmdi_intensity(part)
    assert p["n_members"].iloc[0] == 2 and p["total_ratio"].iloc[0] == pytest.approx((348 / 200) / 2.0)


def test_sentence_for_green_district_with_red_enterprises():
    # the audit's case: district 0.853 against a path of 0.895, 16 of 20 red, 0.9445 at 2022 weights
    s = explain_mix(status="green", cumulative_index=0.853, path_index=0.895, structure_effect=0.903,
                    intensity_effect=0.9445, fixed_weight_index=0.9445, n_red=16, n_enterprises=20)
    zh, en = s.split(" / ", 1)
    assert "20家企业中16家为红色" in zh and "结构效应0.903" in zh and "0.945" in zh and "落后于路径" in zh
    assert "16 of 20 enterprises are red" in en and "shift in mix" in en and "behind the path" in en
    assert "most of the fall" in en      # |ln 0.903| = 0.102 > |ln 0.9445| = 0.057
    plain = explain_mix(status="red", cumulative_index=0.95, path_index=0.895, structure_effect=1.01,
                        intensity_effect=0.94, fixed_weight_index=0.95, n_red=3, n_enterprises=20, lang="en")
    assert plain.startswith("The district index 0.950") and "structure effect 1.010" in plain
    assert explain_mix(status="data_insufficient", cumulative_index=0.9, path_index=0.9, structure_effect=1,
                       intensity_effect=1, fixed_weight_index=1, n_red=0, n_enterprises=1) == ""
