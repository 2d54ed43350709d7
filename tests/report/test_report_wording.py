"""Periods, units and names as the reader reads them: pure functions and the rendered HTML, no servers."""
from __future__ import annotations

from datetime import date

import pytest

from ecm.report import charts as C
from ecm.report import wording as W
from ecm.report.names import enterprise_label, line_label, short_name_zh


@pytest.mark.parametrize("through,zh,en", [
    (date(2026, 10, 31), "2026年1–10月", "Jan–Oct 2026"),
    (date(2026, 1, 31), "2026年1月", "Jan 2026"),
    (date(2024, 2, 29), "2024年1–2月", "Jan–Feb 2024"),          # leap-year February ends on the 29th
    (date(2023, 2, 28), "2023年1–2月", "Jan–Feb 2023"),
    (date(2026, 11, 14), "2026年1月1日–11月14日", "1 Jan–14 Nov 2026"),  # a window ending mid-month in days
    (date(2024, 2, 28), "2024年1月1日–2月28日", "1 Jan–28 Feb 2024"),
])
def test_ytd_window_in_words(through, zh, en):
    assert W.ytd_window(through) == (zh, en)


def test_month_to_date_and_cutoff():
    assert W.month_to_date(date(2026, 11, 28)) == ("11月1–28日", "1–28 Nov")
    assert W.month_to_date(date(2026, 11, 30)) is None           # the month is complete
    assert W.month_to_date(date(2026, 12, 1)) == ("12月1日", "1 Dec")
    assert W.cutoff(date(2026, 11, 28)) == ("2026-11-28 24:00（北京时间）", "2026-11-28 24:00 Beijing time")
    assert W.month_label("2026-11", True) == "2026-11*" and W.month_label("2026-10", False) == "2026-10"


def test_short_names_and_line_labels():
    assert short_name_zh("渝荣陶瓷有限公司") == "渝荣陶瓷"
    assert short_name_zh("重庆某某股份有限公司") == "重庆某某"
    assert short_name_zh("荣昌陶器厂") == "荣昌陶器厂"
    assert short_name_zh("有限公司") == "有限公司"               # never shortened to nothing
    assert enterprise_label("e01", "渝荣陶瓷有限公司") == "e01 渝荣陶瓷"
    assert line_label("棠香建材有限公司", "粉磨线") != line_label("渝西水泥粉磨有限公司", "粉磨线")


@pytest.fixture(scope="module")
def demo_like():
    """The default district's registry with synthetic KPIs for 2026-11-28 (value added for November not in
    yet, so the year to date ends 2026-10-31, as in the demo)."""
    from ecm.registry import get_registry
    from ecm.report.data import ReportData, add_period_columns, registry_frames
    from ecm.report.synthetic import synthetic_kpis

    day = date(2026, 11, 28)
    reg = get_registry()
    ents, lines = registry_frames(reg)
    f = {k: add_period_columns(v) for k, v in synthetic_kpis(day, ents, lines, insufficient=("e19",)).items()}
    return ReportData(day=day, district_name_zh=reg.district.name_zh, district_name_en=reg.district.name_en,
                      enterprises=ents, lines=lines, kpi_monthly=f["kpi_monthly"], kpi_daily=f["kpi_daily"],
                      energy_daily=f["energy_daily"], line_daily=f["line_daily"],
                      benchmark_monthly=f["benchmark_monthly"], capacity_share_monthly=f["capacity_share_monthly"],
                      dq_result=f["dq_result"])


def test_line_chart_labels_are_unique_and_name_the_enterprise(demo_like):
    from ecm.report.model import build_district

    m = build_district(demo_like)
    names = [ln["name_zh"] for ln in m["lines"]]
    assert len(names) > len(set(names)), "the registry has same-named lines in different enterprises"
    rows = C.chart_lines(m["lines"])
    labels = C.line_labels(rows)
    assert len(labels) == len(set(labels)) == len(rows) >= 10
    for ln, label in zip(rows, labels):
        assert label.startswith(ln["enterprise_short_zh"] + " ") and "有限公司" not in label


def test_period_partial_month_and_largest_gaps(demo_like):
    from ecm.report.model import build_district, build_enterprise

    m = build_district(demo_like)
    p = m["period"]
    assert p["ytd_through"] == "2026-10-31" and p["ytd_window_zh"] == "2026年1–10月" and p["month_partial"]
    assert [t["key"] for t in m["trend"] if t["partial"]] == ["2026-11"]
    gaps = m["largest_gaps"]
    worse = sorted((ln["gap_to_baseline_pct"] for ln in m["lines"] if ln["classification"] == "worse_than_baseline"),
                   reverse=True)
    assert [g["gap_to_baseline_pct"] for g in gaps] == worse[:3] and len(gaps) == min(3, len(worse))
    e = build_enterprise(demo_like, "e19")
    assert e["dq_days"]["n_days"] == 28 and e["dq_days"]["n_days_ok"] == 0 and len(e["dq_days"]["days"]) == 28
    ok = build_enterprise(demo_like, "e01")
    assert ok["dq_days"]["n_days_ok"] == 28 and ok["dq_days"]["days"] == []


def test_html_units_written_out_and_value_added_not_shown_complete(demo_like):
    import re

    from ecm.report.model import build_district
    from ecm.report.render import make_env, render_html

    html = render_html(make_env(), build_district(demo_like), {"number": 1, "changes": []}, {})
    page1 = html[:html.index('<div class="annex">')]
    assert "吨标准煤 (tce)" in page1 and "吨标准煤/万元 (tce/万元)" in page1 and "万元 (10⁴ 元)" in page1
    assert "2026年1–10月" in page1 and "2026-11-28 24:00" in page1 and "本月至今（11月1–28日，未完）" in page1
    row = re.search(r"<tr><td>工业增加值.*?</tr>", page1, re.S).group(0)
    assert "未报 not yet reported" in row and "%" not in row, row
    assert '<span class="u">tce/万元</span>' in html, "units never wrap inside"
