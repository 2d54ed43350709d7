"""January rule (issue #12 §3): no colour for a January-only YTD; the first colour covers 1–2月."""
from __future__ import annotations

import pandas as pd

from ecm.accounting.january import NOT_RATED, january_rule, ytd_window_label


def test_january_gets_no_colour_february_covers_jan_feb():
    f = pd.DataFrame({"enterprise": ["_district", "_district", "e01", "e02", "_district"],
                      "ytd_through": ["2024-01-31", "2024-02-29", "2024-01-31", "2024-01-31", "2026-10-31"],
                      "status": ["red", "green", "green", "data_insufficient", "yellow"],
                      "status_level": [2, 0, 0, 3, 1]})
    out, issues = january_rule(f)
    assert out["status"].tolist() == [NOT_RATED, "green", NOT_RATED, "data_insufficient", "yellow"]
    assert out["status_level"].tolist() == [4, 0, 4, 3, 1]
    assert out["rated"].tolist() == [False, True, False, False, True]
    assert out["ytd_window_zh"].tolist() == ["1月", "1–2月", "1月", "1月", "1–10月"]
    assert out["ytd_window_en"].tolist() == ["Jan", "Jan–Feb", "Jan", "Jan", "Jan–Oct"]
    assert "1–2月" in out["status_note_zh"].iloc[0] and "Jan–Feb" in out["status_note_en"].iloc[1]
    assert out["status_note_en"].iloc[4] == ""
    assert [i.name for i in issues] == ["ecm.status.january_not_rated"] and issues[0].evidence["rows"] == 2


def test_window_label_mid_month():
    assert ytd_window_label("2026-11-15") == ("1月1日–11月15日", "1 Jan–15 Nov")
    assert ytd_window_label("2025-02-28") == ("1–2月", "Jan–Feb")
    assert ytd_window_label("2024-02-28") == ("1月1日–2月28日", "1 Jan–28 Feb")   # leap year: 29 Feb ends the month
