"""The only module that speaks HTTP to InfluxDB.

It uses the v1 HTTP API alone (``/write`` with line protocol, ``/query`` with InfluxQL),
the one pair that InfluxDB 1.x, 2.x (v1 compatibility + DBRP mapping) and 3.x all accept.
Line protocol comes from ``influxdb_client``'s maintained serializer (``Point``) or, for frames,
``ecm.lineproto`` (the lines of its DataFrame serializer, built column by column); its HTTP client is not used because its v2 endpoints answer 404
on 1.6 and cannot query 3.x.

Authentication: a token (``Authorization: Token ...``) when ``ECM_INFLUX_TOKEN`` is set, otherwise
v1 user/password as HTTP Basic auth (accepted by 1.x and by the 2.x/3.x v1 compatibility API).
Credentials never travel in the URL, so they cannot appear in an error, a log line or a proxy log.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import msgspec
import numpy as np
import pandas as pd
import requests

from ecm.errors import InfluxError, InfluxUnreachableError
from ecm.schema import MEAS_READINGS

log = logging.getLogger("ecm.influx")

RETRY_STATUS = {500, 502, 503, 504}
READINGS = MEAS_READINGS
_READINGS_PREFIXES = (f"{READINGS},".encode(), f"{READINGS} ".encode())


def describe_connection_error(exc: Exception) -> str:
    """A few words for a failed connection (never the request URL, which carries credentials)."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = str(exc)
    for needle, words in (("Connection refused", "connection refused"), ("Name or service not known", "host not found"),
                          ("nodename nor servname", "host not found"), ("No route to host", "no route to host"),
                          ("Network is unreachable", "network unreachable"), ("Connection reset", "connection reset")):
        if needle in text:
            return words
    return type(exc).__name__


def quote_ident(name: str) -> str:
    """Quote an InfluxQL identifier (measurement, field, tag key)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    """Quote an InfluxQL string literal (tag value in WHERE)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def time_literal(ts: pd.Timestamp) -> str:
    """An RFC 3339 UTC literal for an InfluxQL WHERE time clause."""
    ts = pd.Timestamp(ts)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return "'" + ts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z'"


@dataclass(frozen=True)
class InfluxConfig:
    url: str
    db: str
    user: str = ""
    password: str = ""
    token: str = ""
    timeout_s: float = 30.0
    batch_points: int = 5000
    retries: int = 5
    raw_rp: str = ""          #: retention policy of ``readings`` ("" = the default policy)


class InfluxClient:
    """Thin v1-API client: ``query_frame`` and ``write_lines``/``write_points``/``write_frame``."""

    def __init__(self, cfg: InfluxConfig):
        self.cfg = cfg
        self._session = requests.Session()
        if cfg.token:
            self._session.headers["Authorization"] = f"Token {cfg.token}"
        elif cfg.user:
            self._session.auth = (cfg.user, cfg.password)

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_settings(cls, role: str = "service") -> "InfluxClient":
        """Client for the configured server; ``role`` is ``service`` or ``admin`` (local secrets)."""
        from ecm.settings import get_settings

        s = get_settings()
        user, password = s.influx_user, s.influx_password
        if not s.influx_token and not user:
            from ecm.secrets import load_secrets

            sec = load_secrets(s.state_path)
            creds = sec.get("influx", {}).get(role)
            if creds:
                user, password = creds["user"], creds["password"]
        return cls(InfluxConfig(
            url=s.influx_url, db=s.influx_db, user=user, password=password, token=s.influx_token,
            timeout_s=s.influx_timeout_s, batch_points=s.influx_write_batch_points, retries=s.influx_write_retries,
            raw_rp=s.influx_raw_rp,
        ))

    def _params(self, **extra) -> dict:
        """Query parameters (never credentials: they go in the Authorization header)."""
        return dict(extra)

    # -- low level ----------------------------------------------------------------
    def ping(self) -> bool:
        try:
            r = self._session.get(self.cfg.url + "/ping", timeout=min(self.cfg.timeout_s, 5))
            return r.status_code == 204
        except requests.RequestException:
            return False

    def _request(self, method: str, path: str, *, params: dict, data=None, stream=False, retries: int | None = None):
        retries = self.cfg.retries if retries is None else retries
        delay = 0.2
        for attempt in range(retries + 1):
            try:
                r = self._session.request(method, self.cfg.url + path, params=params, data=data,
                                          timeout=self.cfg.timeout_s, stream=stream)
            except requests.RequestException as exc:
                err: Exception = exc
                status = None
            else:
                if r.status_code not in RETRY_STATUS:
                    return r
                err, status = InfluxError(f"{path}: HTTP {r.status_code}: {r.text[:200]}"), r.status_code
            if attempt == retries:
                if status is None:
                    raise InfluxUnreachableError(
                        f"cannot reach InfluxDB at {self.cfg.url} ({describe_connection_error(err)}, "
                        f"{retries + 1} attempts)") from None
                raise InfluxError(f"InfluxDB at {self.cfg.url} answered {path} with HTTP {status} "
                                  f"({retries + 1} attempts)") from None
            # a retry that later succeeds is routine: INFO, so a default (WARNING) run stays quiet;
            # the final failure reaches the caller as one error
            log.info("influx_retry", extra={"path": path, "attempt": attempt + 1, "status": status,
                                            "error": describe_connection_error(err) if status is None else str(err)[:200]})
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    # -- retention routing (ecm.retention) ----------------------------------------
    @property
    def readings_from(self) -> str:
        """The InfluxQL source of raw readings: ``"raw"."readings"`` when they have their own
        retention policy, else ``readings`` (the default policy)."""
        if self.cfg.raw_rp:
            return f"{quote_ident(self.cfg.raw_rp)}.{quote_ident(READINGS)}"
        return READINGS

    def _split_raw(self, body: bytes) -> list[tuple[str, bytes]]:
        """[(rp, body)]: ``readings`` lines go to the raw policy, the rest to the default one."""
        if not self.cfg.raw_rp:
            return [("", body)]
        lines = body.split(b"\n")
        raw = [ln for ln in lines if ln.startswith(_READINGS_PREFIXES)]
        if len(raw) == len(lines):
            return [(self.cfg.raw_rp, body)]
        rest = [ln for ln in lines if ln and not ln.startswith(_READINGS_PREFIXES)]
        return [(rp, b"\n".join(part)) for rp, part in ((self.cfg.raw_rp, raw), ("", rest)) if part]

    def _write_params(self, db: str | None, precision: str, rp: str) -> dict:
        p = self._params(db=db or self.cfg.db, precision=precision)
        if rp:
            p["rp"] = rp
        return p

    # -- writes -------------------------------------------------------------------
    def write_lines(self, lines: Sequence[str] | Iterable[str], *, precision: str = "ms",
                    db: str | None = None, retries: int | None = None) -> int:
        """Write line-protocol lines in chunks; retry 5xx and connection errors with backoff.

        Returns the number of lines written. A 4xx answer (bad point) raises InfluxError with
        InfluxDB's message and is not retried.
        """
        lines = list(lines)
        n = 0
        for i in range(0, len(lines), self.cfg.batch_points):
            chunk = lines[i:i + self.cfg.batch_points]
            body = "\n".join(chunk).encode("utf-8")
            for rp, part in self._split_raw(body):
                r = self._request("POST", "/write", params=self._write_params(db, precision, rp), data=part,
                                  retries=retries)
                if r.status_code != 204:
                    raise InfluxError(f"/write rejected: HTTP {r.status_code}: {r.text[:300]}")
            n += len(chunk)
        return n

    def write_body(self, body: bytes, *, precision: str = "ms", db: str | None = None,
                   retries: int | None = None) -> tuple[int, str]:
        """POST one prepared line-protocol body (no chunking); return (HTTP status, response text).

        Connection errors and 5xx are retried ``retries`` times and then raise InfluxError; any other
        status (204 ok, 4xx bad point/auth) is returned for the caller to decide.
        """
        for rp, part in self._split_raw(body):
            r = self._request("POST", "/write", params=self._write_params(db, precision, rp), data=part,
                              retries=retries)
            if r.status_code != 204:
                break
        return r.status_code, (r.text[:500] if r.status_code != 204 else "")

    def write_points(self, points, *, precision: str = "ms", **kw) -> int:
        """Write ``influxdb_client.Point`` objects (serialised with their own escaping)."""
        return self.write_lines([p.to_line_protocol(precision=precision) if hasattr(p, "to_line_protocol") else p
                                 for p in points], precision=precision, **kw)

    def write_frame(self, df: pd.DataFrame, measurement: str, tag_columns: Sequence[str], *,
                    time_column: str = "time", precision: str = "ms", **kw) -> int:
        """Write a DataFrame: ``time_column`` (tz-aware) is the timestamp, ``tag_columns`` are tags,
        all other columns are fields (NaN fields are omitted; rows with no field are dropped)."""
        from ecm.lineproto import frame_lines

        if df.empty:
            return 0
        frame = df.set_index(pd.DatetimeIndex(pd.to_datetime(df[time_column], utc=True))).drop(columns=[time_column])
        field_cols = [c for c in frame.columns if c not in tag_columns]
        frame = frame.dropna(subset=field_cols, how="all")
        if frame.empty:
            return 0
        lines = frame_lines(frame, measurement, tag_columns, precision=precision)
        return self.write_lines(lines, precision=precision, **kw)

    # -- queries ------------------------------------------------------------------
    def query_raw(self, influxql: str, *, db: str | None = None, method: str | None = None,
                  chunk_size: int = 10000) -> Iterator[dict]:
        """Yield each statement result (``{"statement_id", "series"}``), streaming chunked answers."""
        is_write = influxql.lstrip().upper().startswith(("CREATE", "DROP", "GRANT", "REVOKE", "ALTER", "SET", "DELETE"))
        m = method or ("POST" if is_write else "GET")
        params = self._params(q=influxql, db=db or self.cfg.db, epoch="ms", chunked="true", chunk_size=chunk_size)
        r = self._request(m, "/query", params=params, stream=True)
        if r.status_code >= 400:
            raise InfluxError(f"query failed: HTTP {r.status_code}: {r.text[:300]}")
        # large reads: chunked answers are one JSON line per chunk (~1 MB at 10k rows); the default
        # 512-byte read size re-joins and re-splits the pending line per read (quadratic in its length)
        for raw in r.iter_lines(chunk_size=1 << 20):
            if not raw:
                continue
            doc = _decode_json(raw)
            if "error" in doc:
                raise InfluxError(f"query failed: {doc['error']}")
            for res in doc.get("results", []):
                if "error" in res:
                    raise InfluxError(f"query failed: {res['error']}: {influxql[:200]}")
                yield res

    def query_frame(self, influxql: str, *, db: str | None = None, tz: str | None = None) -> pd.DataFrame:
        """Run one InfluxQL statement and return a DataFrame.

        Columns: ``time`` (tz-aware; UTC, or ``tz`` when given), the series' GROUP BY tags,
        ``measurement`` when the statement spans several, then the selected columns.
        """
        series = [s for res in self.query_raw(influxql, db=db) for s in (res.get("series") or [])]
        if not series:
            return pd.DataFrame()
        # one frame from the rows of all series with the same columns (a GROUP BY * answer is
        # thousands of small series: a frame per series and a concat cost ~1 ms each)
        by_columns: dict[tuple, list[dict]] = {}
        for s in series:
            by_columns.setdefault(tuple(s["columns"]), []).append(s)
        tagsets = sorted({k for s in series for k in (s.get("tags") or {})})
        several = len({s.get("name") for s in series}) > 1
        frames = [_rows_frame(list(cols), group, tagsets, several) for cols, group in by_columns.items()]
        df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        if "time" in df.columns and pd.api.types.is_numeric_dtype(df["time"]):
            df["time"] = pd.to_datetime(df["time"], unit="ms", utc=True)
            if tz:
                df["time"] = df["time"].dt.tz_convert(tz)
        order = ["time"] + list(tagsets) + [c for c in df.columns if c != "time" and c not in tagsets]
        return df[[c for c in order if c in df.columns]]

    def execute(self, influxql: str, *, db: str | None = None) -> None:
        """Run a statement for its effect (CREATE, DROP, DELETE ...)."""
        for _ in self.query_raw(influxql, db=db, method="POST"):
            pass

    #: skip a DELETE whose range holds no point (see :meth:`delete_range`); benchmarks turn it off
    skip_empty_deletes = True

    def delete_range(self, measurement: str, start: pd.Timestamp, end: pd.Timestamp,
                     tags: dict[str, list[str]] | None = None) -> bool:
        """Delete points of ``measurement`` with ``start <= time < end`` (optionally only series whose
        tags match). Used before re-writing a derived partition so that rows that disappear (a line,
        a carrier, an enterprise now ``data_insufficient``) do not linger. InfluxQL DELETE works on
        1.x; on 2.x/3.x the partition overwrite relies on identical series being rewritten.

        Delete only what must disappear: a range without any point (a first import, a backfill of
        new days) is left alone. That check reads one point from the shards overlapping the range;
        InfluxDB 1.x's DELETE visits every shard of the database, so on a growing database the
        skipped DELETEs are what keeps a history import flat. Returns whether a DELETE ran."""
        cond = f"time >= {time_literal(start)} AND time < {time_literal(end)}"
        for k, values in (tags or {}).items():
            cond += " AND (" + " OR ".join(f"{quote_ident(k)} = {quote_str(v)}" for v in values) + ")"
        if self.skip_empty_deletes:
            probe = self.query_frame(f"SELECT * FROM {quote_ident(measurement)} WHERE {cond} LIMIT 1")
            if probe.empty:
                return False
        self.execute(f"DELETE FROM {quote_ident(measurement)} WHERE {cond}")
        return True

    # -- bootstrap ----------------------------------------------------------------
    def create_database(self, db: str | None = None) -> None:
        """1.x: CREATE DATABASE (idempotent). On 2.x/3.x create the bucket/database with their tools."""
        self.execute(f"CREATE DATABASE {quote_ident(db or self.cfg.db)}", db="")


#: JSON answers decoded in C (msgspec, the bridge's decoder too): the same values as json.loads
_decode_json = msgspec.json.Decoder().decode

#: dtype of tag columns: what pandas infers for a column of strings
_TAG_DTYPE = pd.Series(["x"]).dtype


def _rows_frame(columns: list[str], series: list[dict], tagsets: list[str], several: bool) -> pd.DataFrame:
    """The rows of ``series`` (same columns) in one frame, each with its series' tags (NaN when the
    series lacks one) and, for answers spanning measurements, its ``measurement``."""
    rows = series[0]["values"] if len(series) == 1 else [row for s in series for row in s["values"]]
    df = pd.DataFrame(rows, columns=columns)
    lengths = np.fromiter((len(s["values"]) for s in series), dtype=np.int64, count=len(series))
    per_series = {k: [(s.get("tags") or {}).get(k, np.nan) for s in series] for k in tagsets}
    if several:
        per_series["measurement"] = [s.get("name") for s in series]
    for k, vals in per_series.items():
        df[k] = pd.Series(np.repeat(np.array(vals, dtype=object), lengths)).astype(_TAG_DTYPE)
    return df
