"""ecm.lineproto against influxdb_client's DataFrame serializer (byte for byte, many frames), the
cases where that serializer writes lines InfluxDB misreads (by hand), and a round trip of hostile
strings through a real InfluxDB."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from influxdb_client.client.write.dataframe_serializer import data_frame_to_list_of_points
from influxdb_client.client.write_api import PointSettings

from ecm.lineproto import frame_lines

#: strings that need escaping somewhere: spaces, commas, '=', quotes, backslashes, tabs/newlines, CJK
HOSTILE = ["plain", "with space", "a,b", "k=v", 'say "hi"', "back\\slash", "trail\\", "tab\there", "new\nline",
           "cr\rx", "电表 一号", "=,= ,", "\\\"", "é", "x ,y", "#hash", "1.5", "nan"]
#: tag values for a tag column that also holds NaN (the reference escapes those as string fields,
#: so hostile characters there are compared by hand below, not here)
SAFE = ["e01", "m-1.2", "电表", "A_b:c", "x/y"]


def reference(frame, measurement, tags, precision):
    return data_frame_to_list_of_points(frame, PointSettings(), precision=precision,
                                        data_frame_measurement_name=measurement,
                                        data_frame_tag_columns=list(tags))


def _times(rng, n, naive):
    # sub-millisecond parts, before and after 1970, microsecond-only and second-only stamps
    base = rng.integers(-2 * 10**17, 2 * 10**18, size=n)
    kind = rng.integers(0, 3)
    if kind == 1:
        base = base // 1000 * 1000
    elif kind == 2:
        base = base // 10**9 * 10**9
    idx = pd.DatetimeIndex(pd.to_datetime(base, unit="ns"))
    return idx if naive else idx.tz_localize("UTC")


def _frame(rng) -> tuple[pd.DataFrame, list[str]]:
    n = int(rng.integers(1, 40))
    cols: dict = {}
    tags: list[str] = []
    for j in range(int(rng.integers(0, 4))):
        name = str(rng.choice(["enterprise", "meter", "quantity", "tag with space", "t,=x", "电", "z"])) + str(j)
        if rng.random() < 0.4:   # a tag column holding NaN and empty strings: plain values
            vals = rng.choice(SAFE + ["", None], size=n).tolist()
            if None not in vals:
                vals[0] = None
        else:
            vals = rng.choice(HOSTILE, size=n).tolist()
        cols[name] = pd.Series(vals, dtype=str if rng.random() < 0.5 else object)
        tags.append(name)
    first_nan = False
    names = sorted(rng.choice(["v", "a_f", "n", "x y", "k=,", "值", "b", "flags", "f2", "C"],
                              size=int(rng.integers(1, 6)), replace=False).tolist())
    for j, name in enumerate(names):
        kind = rng.choice(["f64", "f32", "i64", "i32", "u16", "bool", "str", "objstr"])
        nan_mode = rng.choice(["none", "some", "all"], p=[0.5, 0.4, 0.1])
        if kind in ("f64", "f32"):
            v = rng.choice([rng.normal(0, 1e6, n), rng.random(n) * 1e-6, rng.integers(-5, 5, n).astype(float),
                            rng.normal(0, 1, n) * 10.0 ** rng.integers(-20, 20, n)])
            v = v.astype("float32" if kind == "f32" else "float64")
            if nan_mode != "none":
                v[rng.random(n) < (1.0 if nan_mode == "all" else 0.4)] = np.nan
            s = pd.Series(v)
        elif kind in ("i64", "i32", "u16"):
            s = pd.Series(rng.integers(0 if kind == "u16" else -10**6, 10**6, n).astype(
                {"i64": "int64", "i32": "int32", "u16": "uint16"}[kind]))
            nan_mode = "none"
        elif kind == "bool":
            s = pd.Series(rng.random(n) < 0.5)
            nan_mode = "none"
        else:
            vals = rng.choice(HOSTILE, size=n).tolist()
            if nan_mode != "none":
                vals = [None if (nan_mode == "all" or rng.random() < 0.4) else x for x in vals]
            s = pd.Series(vals, dtype=str if kind == "str" else object)
        if j == 0 and bool(s.isna().any()):
            first_nan = True
        cols[name] = s
    # the reference strips the comma left by a missing first field with a regular expression that
    # matches inside string fields holding " ,x" (and misses keys starting with a non-alphanumeric):
    # those frames are compared by hand below
    if first_nan:
        if "值" in cols and len(names) > 1:
            del cols["值"]
        for name in names:
            if name not in cols:
                continue
            elif cols[name].dtype.kind not in "biuf":
                cols[name] = cols[name].replace("x ,y", "x y")
    frame = pd.DataFrame(cols)
    frame.index = _times(rng, n, naive=rng.random() < 0.3)
    return frame, tags


@pytest.mark.parametrize("precision", ["ns", "us", "ms", "s"])
def test_equal_to_influxdb_client_byte_for_byte(precision):
    rng = np.random.default_rng({"ns": 1, "us": 2, "ms": 3, "s": 4}[precision])
    n_lines = 0
    for _ in range(150):
        frame, tags = _frame(rng)
        ref = reference(frame, "readings", tags, precision)
        got = frame_lines(frame, "readings", tags, precision=precision)
        assert got == ref, (frame.dtypes.to_dict(), tags)
        n_lines += len(ref)
    assert n_lines > 1000


def test_measurement_escaping_and_large_numbers():
    frame = pd.DataFrame({"m": ["a b"], "v": [1e16], "w": [1e-5], "i": [np.iinfo("int64").max]},
                         index=pd.to_datetime(["2026-03-10T00:00:00.000999999Z"]))
    ref = reference(frame, "my meas,x", ["m"], "ms")
    assert frame_lines(frame, "my meas,x", ["m"], precision="ms") == ref
    # .000999999 s: the reference divides float(ns) (1773100800000999999 → ...001000192) by 1e6 → ...001
    assert ref == [r"my\ meas\,x,m=a\ b i=9223372036854775807i,v=1e+16,w=1e-05 1773100800001"]


def test_tag_column_with_nan_is_escaped_as_tags():
    # the reference escapes a tag column holding NaN as a string field: 'a b' stays unescaped
    # and the line would end its tag set there
    idx = pd.to_datetime([0, 1000], unit="ms", utc=True)
    frame = pd.DataFrame({"t": ["a b,c=d", None], "v": [1.0, 2.0]}, index=idx)
    assert reference(frame, "m", ["t"], "ms")[0] == "m,t=a b,c=d v=1.0 0"
    assert frame_lines(frame, "m", ["t"], precision="ms") == [r"m,t=a\ b\,c\=d v=1.0 0", "m v=2.0 1000"]


def test_empty_tag_without_nan_is_omitted():
    idx = pd.to_datetime([0, 1000], unit="ms", utc=True)
    frame = pd.DataFrame({"t": ["", "x"], "v": [1, 2]}, index=idx)
    assert reference(frame, "m", ["t"], "ms")[0] == "m,t=nan v=1i 0"     # the reference's 'nan'
    assert frame_lines(frame, "m", ["t"], precision="ms") == ["m v=1i 0", "m,t=x v=2i 1000"]


def test_missing_first_field_never_touches_a_string_field():
    idx = pd.to_datetime([0, 1000, 2000], unit="ms", utc=True)
    frame = pd.DataFrame({"a": [np.nan, 1.5, np.nan], "s": ["x ,y", "x ,y", None]}, index=idx)
    # the reference's regex cuts the comma inside "x ,y" and leaves the line's leading one
    assert reference(frame, "m", [], "ms") == ['m ,s="x y" 0', 'm a=1.5,s="x y" 1000']
    assert frame_lines(frame, "m", [], precision="ms") == ['m s="x ,y" 0', 'm a=1.5,s="x ,y" 1000']
    # a key starting with a non-ASCII letter keeps the reference's leading comma
    frame = pd.DataFrame({"a": [np.nan, 1.5], "é": [1.0, 2.0]}, index=idx[:2])
    assert reference(frame, "m", [], "ms") == ["m ,é=1.0 0", "m a=1.5,é=2.0 1000"]
    assert frame_lines(frame, "m", [], precision="ms") == ["m é=1.0 0", "m a=1.5,é=2.0 1000"]


def test_many_fields_with_nan_patterns():
    # more fields than one 64-bit pattern word (kpi_monthly writes ~80 columns)
    rng = np.random.default_rng(7)
    n, k = 300, 150
    cols = {f"f{j:03d}": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)) for j in range(k)}
    cols["s"] = pd.Series(rng.choice(["a", "b c", None], size=n), dtype=str)
    frame = pd.DataFrame(cols, index=pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC"))
    frame.iloc[5, :] = np.nan    # a row without any field
    frame["e"] = "e01"
    got = frame_lines(frame, "kpi", ["e"], precision="ms")
    assert got == reference(frame, "kpi", ["e"], "ms") and len(got) == n - 1


def test_nullable_extension_dtypes():
    idx = pd.to_datetime([0, 1000, 2000], unit="ms", utc=True)
    frame = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": pd.array([1.5, None, 2.0], dtype="Float64"),
                          "c": pd.array([True, None, False], dtype="boolean")}, index=idx)
    assert frame_lines(frame, "m", [], precision="ms") == reference(frame, "m", [], "ms") == [
        "m a=1i,b=1.5,c=True 0", "m a=3i,b=2.0,c=False 2000"]


def test_rows_without_fields_are_dropped_and_nan_fields_omitted():
    idx = pd.to_datetime([0, 60_000, 120_000], unit="ms", utc=True)
    frame = pd.DataFrame({"meter": ["m1", "m2", "m3"], "a": [np.nan, 2.0, np.nan], "b": [np.nan, np.nan, 3.25]},
                         index=idx)
    got = frame_lines(frame, "readings", ["meter"], precision="s")
    assert got == reference(frame, "readings", ["meter"], "s") == ["readings,meter=m2 a=2.0 60", "readings,meter=m3 b=3.25 120"]


def test_hostile_strings_round_trip_through_influxdb(stack):
    """Written by ``InfluxClient.write_frame`` (this serializer), read back unchanged."""
    client = stack.client()
    vals = [h for h in HOSTILE if "\n" not in h and "\r" not in h and "\t" not in h and not h.endswith("\\")]
    n = len(vals)
    frame = pd.DataFrame({
        "time": pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC"),
        "tagx": vals, "tagy": [None if i % 3 == 0 else v for i, v in enumerate(reversed(vals))],
        "s": [v + "\\" if i % 2 else v for i, v in enumerate(vals)],
        "v": [np.nan if i % 4 == 0 else i / 3 for i in range(n)], "k": np.arange(n, dtype="int64"),
    })
    assert client.write_frame(frame, "lp_roundtrip", ["tagx", "tagy"]) == n
    back = client.query_frame('SELECT * FROM "lp_roundtrip"').sort_values("time").reset_index(drop=True)
    assert back["tagx"].tolist() == vals
    assert back["tagy"].fillna("").tolist() == ["" if i % 3 == 0 else v for i, v in enumerate(reversed(vals))]
    assert back["s"].tolist() == frame["s"].tolist()
    assert back["k"].tolist() == list(range(n))
    np.testing.assert_array_equal(back["v"].to_numpy(dtype=float), frame["v"].to_numpy())
