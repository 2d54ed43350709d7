"""Pure report model, figures and revisions diff: synthetic ReportData, no servers."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ecm.report import figures as F
from ecm.bench.report import bench_data
from ecm.report.model import build_district, build_enterprise, build_models, monthly_summary, ranking
from ecm.report.render import make_env, render_html

DAY = date(2024, 3, 5)


@pytest.fixture(scope="module")
def data():
    return bench_data(12, DAY)  # s011, s012 are data-insufficient


def test_insufficient_enterprise_withholds_figures(data):
    s = monthly_summary(data, "s012")
    assert s["data_insufficient"] and s["status"] == "data_insufficient"
    assert all(s[f] is None for f in ("energy_tce", "cumulative_index", "ytd_intensity_tce_per_10k_cny"))
    m = build_enterprise(data, "s012")
    assert m["daily"]["energy_tce"] is None and m["mix"] == [] and m["lines_today"] == []
    assert any(a["kind"] == "data_insufficient" for a in m["actions"])
    html = render_html(make_env(), m, {"number": 1, "changes": []}, {})
    assert "数据不足" in html and "figures are withheld" in html


def test_summary_takes_store_values_unchanged(data):
    row = data.kpi_monthly[(data.kpi_monthly.enterprise == "s001") & (data.kpi_monthly.month == "2024-03")].iloc[0]
    s = monthly_summary(data, "s001")
    assert s["cumulative_index"] == row["cumulative_index"] and s["energy_tce"] == row["energy_tce"]
    assert s["on_track"] == (row["cumulative_index"] <= row["path_index"])
    assert s["gap_index"] == row["cumulative_index"] - row["path_index"]


def test_ranking_order_red_first_insufficient_last_unranked(data):
    rank = ranking(data)
    order = {2: 0, 1: 1, 0: 2, 3: 3}
    levels = [order[r["status_level"]] for r in rank]
    assert levels == sorted(levels)
    assert [r["key"] for r in rank[-2:]] == sorted(["s011", "s012"]) and rank[-1]["rank"] is None
    for a, b in zip(rank, rank[1:]):
        if a["status_level"] == b["status_level"] < 3:
            assert a["gap_index"] >= b["gap_index"]


def test_actions_name_red_enterprises_and_bad_lines(data):
    m = build_district(data)
    red = {r["key"] for r in m["ranking"] if r["status"] == "red"}
    worse = {ln["key"] for ln in m["lines"] if ln["classification"] == "worse_than_baseline"}
    assert red and worse
    keys = {a["key"] for a in m["actions"]}
    assert {f"status.red.{e}" for e in red} <= keys
    assert {f"line.worse_than_baseline.{ln}" for ln in worse} <= keys
    assert m["counts"]["n_red"] == len(red) and m["counts"]["n_data_insufficient"] == 2
    sev = [a["severity"] for a in m["actions"]]
    assert sev == sorted(sev, key=["high", "medium", "low"].index)


def test_district_daily_sums_ok_enterprises(data):
    m = build_district(data)
    kd = data.kpi_daily[(data.kpi_daily.day_cst == "2024-03-05") & (data.kpi_daily.data_status == "ok")]
    assert m["daily"]["energy_tce"] == pytest.approx(kd["energy_tce"].sum(), rel=1e-12)
    assert m["daily"]["n_enterprises_ok"] == 10


def test_figures_are_deterministic_and_diff_names_changes(data):
    models = build_models(data)
    a, b = F.dumps(models), F.dumps(build_models(data))
    assert a == b
    rows = F.flatten(models)
    assert F.figures_csv(rows) == F.figures_csv(F.flatten(build_models(data)))
    hit = [r for r in rows if r["report"] == "district" and r["section"] == "summary" and r["figure"] == "on_track"]
    assert len(hit) == 1 and hit[0]["value"] in (0, 1)
    changed = [dict(r) for r in rows]
    for r in changed:
        if r["report"] == "s001" and r["section"] == "summary" and r["figure"] == "energy_tce":
            r["value"] = r["value"] + 1.0
    diff = F.diff_figures(rows, changed)
    assert [(d["report"], d["figure"]) for d in diff] == [("s001", "energy_tce")]
    assert diff[0]["new"] == diff[0]["old"] + 1.0 and diff[0]["unit"] == "tce"
    assert F.diff_figures(rows, rows) == []


def test_figures_csv_has_no_nan_and_exact_floats():
    rows = [{"report": "d", "section": "s", "entity": "x", "figure": "energy_tce", "value": 0.1 + 0.2, "unit": "tce"},
            {"report": "d", "section": "s", "entity": "x", "figure": "co2_t", "value": None, "unit": "tCO2"}]
    text = F.figures_csv(rows).decode("utf-8-sig")
    assert "0.30000000000000004" in text and "nan" not in text.lower()


def test_email_off_by_default_and_message_names_report(data, tmp_path):
    from ecm.report.email import maybe_send, message_parts, recipients
    from ecm.report.writer import publish
    from ecm.settings import Settings

    assert recipients("") == [] and recipients("a@x.cn; b@y.cn,") == ["a@x.cn", "b@y.cn"]
    res = publish({"district": build_district(data)}, day=DAY, out_dir=tmp_path)
    assert maybe_send(res.path, Settings()) is False  # ECM_REPORT_EMAIL_TO empty: nothing sent
    subject, body, files = message_parts(res.path)
    assert "合成测试区" in subject and DAY.isoformat() in subject and "rev" not in subject
    assert files[0].endswith("district.pdf") and all(Path(f).exists() for f in files)


def test_district_summary_names_the_window_the_mix_and_the_co2_target(data):
    """Issue #12: the header states the YTD window (1–2月 / Jan–Feb), the summary carries the structure vs
    efficiency sentence and the CO₂ index with its status, all as stored in kpi_monthly."""
    km = data.kpi_monthly.copy()
    sel = (km.enterprise == "_district") & (km.month == "2024-03")
    assert sel.sum() == 1
    km.loc[sel, ["ytd_window_zh", "ytd_window_en", "mix_explanation_zh", "mix_explanation_en", "energy_co2_status",
                 "co2_label_zh", "co2_label_en"]] = ["1–2月", "Jan–Feb", "降幅主要来自结构变化", "mostly a shift in mix", "red",
                                                     "能源活动二氧化碳", "energy-related CO₂"]
    km.loc[sel, ["energy_co2_index_fixed_vintage", "co2_reference_index", "structure_effect_vs_base"]] = [0.9712, 0.9237,
                                                                                                        0.9031]
    d = type(data)(**{**data.__dict__, "kpi_monthly": km})
    s = monthly_summary(d, "_district")
    assert s["ytd_window_en"] == "Jan–Feb" and s["structure_effect_vs_base"] == pytest.approx(0.9031)
    html = render_html(make_env(), build_district(d), {"number": 1, "changes": []}, {})
    assert "year to date：2024年1–2月" in html and "(Jan–Feb 2024)" in html   # the window, with its year
    assert "降幅主要来自结构变化" in html and "mostly a shift in mix" in html
    assert "能源活动二氧化碳强度指数" in html and "0.971" in html and "0.924" in html
