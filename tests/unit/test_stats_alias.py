"""Value added at current prices is ``value_added_current_10k_cny`` (ecm.schema: an unqualified
``value_added_*`` is at 2022 comparable prices). The CSV import still accepts the pre-rename column
``value_added_10k_cny`` as a deprecated alias, and stored points of either name read back alike."""
from __future__ import annotations

import math

import pandas as pd

from ecm import schema as S
from ecm.stats import ALIAS_CONFLICT, coalesce_stored, stats_to_frame, validate_stats

ENTS = {"e01", "e02", "e03"}


def test_names_follow_the_one_rule():
    assert S.F_VALUE_ADDED_10K_CNY == "value_added_10k_cny"             # 2022 comparable prices
    assert S.F_VALUE_ADDED_CURRENT_10K_CNY == "value_added_current_10k_cny"
    assert S.ENTERPRISE_MONTHLY_FIELDS == ("output_value_10k_cny", "value_added_current_10k_cny", "deflator_index")
    assert S.F_VALUE_ADDED_CURRENT_DEPRECATED not in S.ENTERPRISE_MONTHLY_FIELDS


def test_csv_with_the_new_header():
    df = pd.DataFrame({"enterprise": ["e01"], "month": ["2024-03"], "output_value_10k_cny": [5230.5],
                       "value_added_current_10k_cny": [1450.2], "deflator_index": [1.031]})
    valid, rejected = validate_stats(df, ENTS)
    assert len(valid) == 1 and rejected.empty
    assert list(stats_to_frame(valid).columns) == ["time", "enterprise", "output_value_10k_cny",
                                                   "value_added_current_10k_cny", "deflator_index"]


def test_csv_with_the_deprecated_header_is_stored_under_the_new_name():
    df = pd.DataFrame({"enterprise": ["e01"], "month": ["2024-03"], "output_value_10k_cny": [5230.5],
                       "value_added_10k_cny": [1450.2], "deflator_index": [1.031]})
    valid, rejected = validate_stats(df, ENTS)
    assert rejected.empty
    frame = stats_to_frame(valid)
    assert "value_added_10k_cny" not in frame.columns and frame["value_added_current_10k_cny"].tolist() == [1450.2]


def test_csv_with_both_columns_rejects_only_rows_where_they_differ():
    nan = float("nan")
    df = pd.DataFrame({"enterprise": ["e01", "e02", "e03"], "month": ["2024-03"] * 3,
                       "output_value_10k_cny": [10.0, 10.0, 10.0],
                       "value_added_current_10k_cny": [4.0, 4.0, nan],   # e03: only the alias given
                       "value_added_10k_cny": [4.0, 3.9, 2.0], "deflator_index": [1.0, 1.0, 1.0]})
    valid, rejected = validate_stats(df, ENTS)
    assert valid["enterprise"].tolist() == ["e01", "e03"]
    assert valid["value_added_current_10k_cny"].tolist() == [4.0, 2.0]
    assert rejected[["enterprise", "reason"]].values.tolist() == [["e02", ALIAS_CONFLICT]]


def test_coalesce_stored_prefers_the_new_field():
    """Rows as InfluxDB returns them: e01 written before the rename (old field only), e02 after,
    e03 re-imported after the rename over an old point (InfluxDB merges the fields: both present)."""
    nan = float("nan")
    df = pd.DataFrame({"enterprise": ["e01", "e02", "e03"], "value_added_current_10k_cny": [nan, 200.0, 300.0],
                       "value_added_10k_cny": [100.0, nan, 299.0], "deflator_index": [1.0, 1.0, 1.0]})
    out = coalesce_stored(df)
    assert sorted(out.columns) == ["deflator_index", "enterprise", "value_added_current_10k_cny"]
    assert out["value_added_current_10k_cny"].tolist() == [100.0, 200.0, 300.0]
    only_old = coalesce_stored(df.drop(columns="value_added_current_10k_cny"))
    assert only_old["value_added_current_10k_cny"].iloc[0] == 100.0 and math.isnan(only_old["value_added_current_10k_cny"].iloc[1])
    only_new = coalesce_stored(df.drop(columns="value_added_10k_cny"))
    assert only_new["value_added_current_10k_cny"].iloc[1:].tolist() == [200.0, 300.0]
