"""enterprise_monthly points written before the rename carry value added at current prices as
``value_added_10k_cny``; InfluxDB 1.x cannot rename a field, so both loaders (the monthly pipeline
and the stats_monthly DQ suite) read either name, the new one winning where a point has both."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ecm import quality
from ecm.pipeline import monthly
from ecm.stats import stats_to_frame, validate_stats

pytestmark = pytest.mark.integration
MAY_MS = 1556640000000  # 2019-05-01 00:00 Asia/Shanghai (no other test writes 2019)


def test_loaders_read_points_of_either_field_name_integration(stack):
    client = stack.client()
    client.write_lines([  # written by the pre-rename bridge / import
        f"enterprise_monthly,enterprise=e01 output_value_10k_cny=400.0,value_added_10k_cny=100.0,deflator_index=0.8 {MAY_MS}",
        f"enterprise_monthly,enterprise=e03 output_value_10k_cny=900.0,value_added_10k_cny=299.0,deflator_index=1.2 {MAY_MS}",
    ])
    # after the rename: e02 new; e03 re-imported over its old point (the old field stays on the point)
    csv = pd.DataFrame({"enterprise": ["e02", "e03"], "month": ["2019-05", "2019-05"],
                        "output_value_10k_cny": [800.0, 900.0], "value_added_current_10k_cny": [200.0, 300.0],
                        "deflator_index": [1.0, 1.2]})
    valid, rejected = validate_stats(csv, {"e01", "e02", "e03"})
    assert rejected.empty
    client.write_frame(stats_to_frame(valid), "enterprise_monthly", ["enterprise"])
    raw = client.query_frame("SELECT * FROM enterprise_monthly WHERE enterprise = 'e03' AND time = 1556640000000ms")
    assert (raw["value_added_10k_cny"].iloc[0], raw["value_added_current_10k_cny"].iloc[0]) == (299.0, 300.0)

    stats, issues = monthly.load_stats(client, date(2019, 5, 1), date(2019, 5, 31))
    got = stats.set_index("enterprise").sort_index()
    assert issues == []
    assert got["value_added_current_10k_cny"].tolist() == [100.0, 200.0, 300.0]
    # 2022 comparable prices = current ÷ deflator: 100/0.8, 200/1.0, 300/1.2
    assert got["value_added_10k_cny"].tolist() == pytest.approx([125.0, 200.0, 250.0])

    dq = quality.load_stats(client, date(2019, 5, 1)).set_index("enterprise").sort_index()
    assert "value_added_10k_cny" not in dq.columns
    assert dq.loc[["e01", "e02", "e03"], "value_added_current_10k_cny"].tolist() == [100.0, 200.0, 300.0]
