"""Line protocol for a DataFrame, column by column: the lines of ``influxdb_client``'s DataFrame
serializer, built with array operations instead of one Python call per row.

``influxdb_client.client.write.dataframe_serializer.data_frame_to_list_of_points`` evaluates one
f-string per row (plus a regular expression per row when the first field column has a NaN): at
city scale that per-row work was 60 % of a direct seeding's samples. :func:`frame_lines` returns
the same lines, in the same order, for the same frame (a ``DatetimeIndex`` is the timestamp,
``tag_columns`` are tags, every other column a field):

* measurement, tag keys, field keys and tag values escaped with ``influxdb_client``'s own
  translation tables (``_ESCAPE_MEASUREMENT``, ``_ESCAPE_KEY``); string fields quoted and escaped
  with ``_ESCAPE_STRING``;
* tags and fields in the order of their sorted column names;
* numeric fields formatted as ``str()`` of the Python scalar the reference formats (so ``0.1``,
  ``1e-05``, ``True``), integers with ``i``; NaN/None fields omitted; rows without a field dropped;
* timestamps as the reference computes them (``int(ns / 1e6)`` for ``ms``: float division, then
  truncation).

String columns are escaped once per distinct value, and the series key (measurement and tags)
once per distinct tag set (a frame of 1 M readings has a few thousand meters); each row is then
one ``str.format`` call, in C, of a template per pattern of missing fields, with the Python scalars
the reference formats (``format(x, "")`` is ``str(x)`` for floats, ints and bools).

Where the reference writes something InfluxDB would misread, this module follows the line-protocol
spec instead (tests/unit/test_lineproto.py shows each case by hand and by a round trip):

* a tag column holding a NaN: the reference escapes its values as string fields (quotes and
  backslashes, not spaces, commas or ``=``); here tag values are always escaped as tag values;
* an empty-string tag in a column without NaN: the reference writes ``key=nan``; here it is omitted;
* the leading comma left when a row's first field is NaN is removed by a regular expression that
  can instead take a comma out of a string field holding ``" ,x"``, or keep it when the next field
  key starts with a non-alphanumeric character; here fields are joined, so no comma to remove.

Every other frame gives byte-for-byte the reference's lines (the test compares many frames).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from influxdb_client.client.write.point import _ESCAPE_KEY, _ESCAPE_MEASUREMENT, _ESCAPE_STRING

#: timestamp divisors of the reference (``int(value / 1e3)`` etc.; ``ns`` is the integer itself)
_DIVISOR = {"us": 1e3, "ms": 1e6, "s": 1e9}
_FAST_KINDS = "biuf"      # numpy bool, int, uint, float: formatted by ``format`` from ``tolist()``


def _brace(text: str) -> str:
    """``text`` as a literal inside a ``str.format`` template."""
    return text.replace("{", "{{").replace("}", "}}")


def _strings(s: pd.Series, table: dict) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(codes, texts, missing) of a string-like column: ``texts[codes[i]]`` is ``str(value)``
    translated by ``table``, computed once per distinct value; ``missing`` where NaN/None."""
    missing = s.isna().to_numpy()
    if pd.api.types.is_string_dtype(s.dtype) and (
            s.dtype != object or pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")):
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        texts = [str(u).translate(table) for u in uniques] + [""]
        return np.where(codes < 0, len(texts) - 1, codes), texts, missing
    # other dtypes (mixed objects, categoricals, datetimes): the very objects the reference iterates
    texts = [str(v).translate(table) for v in s]
    return np.arange(len(texts)), texts, missing


def frame_lines(frame: pd.DataFrame, measurement: str, tag_columns: Sequence[str], *,
                precision: str = "ns") -> list[str]:
    """Line-protocol lines of ``frame`` (timestamps from its ``DatetimeIndex``; naive = UTC)."""
    n = len(frame)
    if n == 0:
        return []
    idx = frame.index
    if isinstance(idx, pd.PeriodIndex):
        idx = idx.to_timestamp()
    idx = pd.DatetimeIndex(idx)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    ns = idx.as_unit("ns").asi8
    precision = str(getattr(precision, "value", precision))
    if precision in _DIVISOR:
        ns = (ns.astype(np.float64) / _DIVISOR[precision]).astype(np.int64)

    tags = set(tag_columns)
    meas = str(measurement).translate(_ESCAPE_MEASUREMENT)
    tag_parts, fields = [], []
    for i, key in sorted(enumerate(frame.columns), key=lambda c: c[1]):
        s = frame.iloc[:, i]
        k = str(key).translate(_ESCAPE_KEY)
        if key in tags:
            codes, texts, missing = _strings(s, _ESCAPE_KEY)
            texts = [("," + k + "=" + t) if t else "" for t in texts]    # empty and NaN tags: omitted
            tag_parts.append((codes, texts))
        elif isinstance(s.dtype, np.dtype) and s.dtype.kind in _FAST_KINDS:
            suffix = "i" if s.dtype.kind in "iu" else ""
            fields.append((_brace(k) + "={}" + suffix, s.to_numpy(), s.isna().to_numpy()))
        elif issubclass(s.dtype.type, (np.integer, np.floating, np.bool_)):
            # nullable extension dtypes (Int64, Float64, boolean): the reference's own scalars
            suffix = "i" if issubclass(s.dtype.type, np.integer) else ""
            vals = np.empty(n, dtype=object)
            vals[:] = list(s)
            fields.append((_brace(k) + "={}" + suffix, vals, s.isna().to_numpy()))
        else:
            codes, texts, missing = _strings(s, _ESCAPE_STRING)
            fields.append((_brace(k) + '="{}"', np.array(texts, dtype=object)[codes], missing))
    if not fields:
        return []

    # the series key (measurement and tag set), built once per distinct tag combination
    if tag_parts:
        combined = np.zeros(n, dtype=np.int64)
        for codes, texts in tag_parts:
            combined = combined * len(texts) + codes
        if np.prod([float(len(t)) for _, t in tag_parts]) >= 2.0 ** 62:   # no overflow: per-row strings
            combined = np.array(["|".join(map(str, row)) for row in zip(*(c for c, _ in tag_parts))], dtype=object)
        inverse, uniq = pd.factorize(combined)
        first = np.empty(len(uniq), dtype=np.int64)
        first[inverse[::-1]] = np.arange(n - 1, -1, -1)
        keys = [meas + "".join(texts[codes[j]] for codes, texts in tag_parts) for j in first]
        heads = np.array(keys, dtype=object)[inverse]
    else:
        heads = np.full(n, meas, dtype=object)

    # one template per pattern of missing fields (usually one): str.format of the Python scalars
    # the reference formats, in C, one call per row
    maybe = [j for j, f in enumerate(fields) if f[2].any()]
    if maybe:
        codes = []   # the pattern as int64 words of 62 fields each
        for g in range(0, len(maybe), 62):
            word = np.zeros(n, dtype=np.int64)
            for b, j in enumerate(maybe[g:g + 62]):
                word |= fields[j][2].astype(np.int64) << b
            codes.append(word)
        if len(codes) == 1:
            group, _ = pd.factorize(codes[0])
        else:
            group = pd.DataFrame(codes).T.groupby(list(range(len(codes))), sort=False).ngroup().to_numpy()
        n_groups = int(group.max()) + 1
    else:
        group, n_groups = None, 1
    out = np.empty(n, dtype=object)
    keep = np.ones(n, dtype=bool)
    if n_groups > 1:   # each pattern's rows, in frame order, by one stable sort (not a scan per pattern)
        order = np.argsort(group, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=n_groups))])
    for g in range(n_groups):
        rows = None if n_groups == 1 else order[bounds[g]:bounds[g + 1]]
        r0 = 0 if rows is None else rows[0]
        present = [f for f in fields if not f[2][r0]]
        if not present:
            keep[rows if rows is not None else slice(None)] = False
            continue
        template = "{} " + ",".join(t for t, _, _ in present) + " {}"
        cols = [heads if rows is None else heads[rows]]
        cols += [(v if rows is None else v[rows]).tolist() for _, v, _ in present]
        cols.append((ns if rows is None else ns[rows]).tolist())
        lines = list(map(template.format, *cols))
        if rows is None:
            return lines
        out[rows] = lines
    return out[keep].tolist()
