"""``InfluxClient.delete_range`` deletes only what must disappear: an empty range is not sent to
the server as a DELETE (1.x visits every shard for it); a range with points is cleared, and a tag
filter keeps the other series."""
from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.integration
M = "ops_delete_probe"


def test_delete_range_skips_empty_ranges_and_clears_full_ones(stack):
    client = stack.client()
    t = pd.Timestamp("2021-03-01T00:00:00Z")
    client.write_frame(pd.DataFrame({"time": [t, t + pd.Timedelta(hours=1)], "enterprise": ["e01", "e02"],
                                     "v": [1.0, 2.0]}), M, ["enterprise"])
    assert client.delete_range(M, t - pd.Timedelta(days=30), t) is False          # nothing there: no DELETE
    assert client.delete_range("ops_no_such_measurement", t, t + pd.Timedelta(days=1)) is False
    assert len(client.query_frame(f"SELECT v FROM {M}")) == 2
    assert client.delete_range(M, t, t + pd.Timedelta(days=1), tags={"enterprise": ["e01"]}) is True
    left = client.query_frame(f"SELECT v FROM {M} GROUP BY enterprise")
    assert left["enterprise"].tolist() == ["e02"] and left["v"].tolist() == [2.0]
    assert client.delete_range(M, t, t + pd.Timedelta(days=1)) is True
    assert client.query_frame(f"SELECT v FROM {M}").empty
