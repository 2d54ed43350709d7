"""``InfluxClient.query_frame`` on a real InfluxDB: one frame from every series of a GROUP BY answer,
each row with its own series' tags, each column's dtype inferred over all its rows (as an ungrouped
query of the same points gives), and answers spanning measurements or differing in columns."""
from __future__ import annotations

import numpy as np
import pandas as pd


def _points(client) -> pd.DataFrame:
    t = pd.date_range("2026-01-01", periods=6, freq="1h", tz="UTC")
    frame = pd.DataFrame({
        "time": t.append(t),
        "enterprise": ["e01"] * 6 + ["e02"] * 6,
        "meter": ["m1", "m2"] * 6,
        # e02 never has `gas`: with a frame per series, that column came out as object
        "gas": [1.5, 2.0, np.nan, 4.25, 5.0, 6.0] + [np.nan] * 6,
        "n": np.arange(12, dtype="int64"),
        "flag": ["a", "b", "c", "d", "e", "f"] * 2,
    })
    client.write_frame(frame, "qf_probe", ["enterprise", "meter"])
    client.write_frame(frame.assign(other=1.0)[["time", "enterprise", "meter", "other"]], "qf_other",
                       ["enterprise", "meter"])
    return frame


def test_group_by_star_is_one_frame_with_each_series_tags(stack):
    client = stack.client()
    src = _points(client)
    got = client.query_frame('SELECT * FROM "qf_probe" GROUP BY *')
    assert list(got.columns) == ["time", "enterprise", "meter", "flag", "gas", "n"]
    assert len(got) == 12
    assert got["gas"].dtype == "float64" and got["n"].dtype == "int64"
    flat = client.query_frame('SELECT * FROM "qf_probe"')
    key = ["time", "enterprise", "meter"]
    a = got.sort_values(key).reset_index(drop=True)
    b = flat.sort_values(key).reset_index(drop=True)[list(got.columns)]
    pd.testing.assert_frame_equal(a, b)
    want = src.sort_values(key).reset_index(drop=True)
    assert a["n"].tolist() == want["n"].tolist()   # each row kept its own series' tags
    np.testing.assert_array_equal(a["gas"].to_numpy(), want["gas"].to_numpy())


def test_several_measurements_and_differing_columns(stack):
    client = stack.client()
    _points(client)
    both = client.query_frame('SELECT * FROM "qf_probe", "qf_other" GROUP BY *')
    assert sorted(both["measurement"].unique()) == ["qf_other", "qf_probe"]
    assert (both["measurement"] == "qf_other").sum() == 12
    assert both.loc[both["measurement"] == "qf_other", "gas"].isna().all()
    assert both.loc[both["measurement"] == "qf_probe", "n"].notna().all()
    one_tag = client.query_frame('SELECT sum("n") FROM "qf_probe" GROUP BY "enterprise"')
    assert dict(zip(one_tag["enterprise"], one_tag["sum"])) == {"e01": 15, "e02": 51}
    assert client.query_frame('SELECT * FROM "qf_nothing"').empty
