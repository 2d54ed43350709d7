"""Substitute Grafana macros and template variables in InfluxQL as Grafana's InfluxDB datasource does.

# grafana macros
- ``$timeFilter`` → ``time >= <from>ms and time <= <to>ms`` (epoch ms, Grafana's exact rendering)
- ``$__interval`` → the auto interval for the range (range / max data points, rounded to a "nice"
  interval, never below the panel's ``interval``), e.g. ``1h``
- ``${__from}`` / ``$__from`` / ``${__to}`` / ``$__to`` → epoch ms of the range
- ``$var`` / ``${var}`` → the variable's value, regex-escaped inside ``/.../`` (single value),
  ``(a|b)`` for several values, or the variable's ``allValue`` for All
The range is the dashboard's ``time`` or the panel's ``timeFrom`` (relative to ``to``), as in Grafana.
"""
from __future__ import annotations

import re

import pandas as pd

_UNITS = {"s": "s", "m": "min", "h": "h", "d": "D", "w": "W"}
_NICE = [("1s", 1), ("5s", 5), ("10s", 10), ("30s", 30), ("1m", 60), ("5m", 300), ("10m", 600),
         ("30m", 1800), ("1h", 3600), ("3h", 10800), ("6h", 21600), ("12h", 43200), ("1d", 86400),
         ("7d", 604800), ("30d", 2592000)]
MAX_DATA_POINTS = 1000
TZ = "Asia/Shanghai"


def _duration(text: str) -> pd.Timedelta:
    m = re.fullmatch(r"(\d+)([smhdwMy])", text)
    if not m:
        raise ValueError(f"unsupported duration {text!r}")
    n, u = int(m.group(1)), m.group(2)
    if u == "M":
        return pd.Timedelta(days=30 * n)
    if u == "y":
        return pd.Timedelta(days=365 * n)
    return pd.Timedelta(f"{n}{_UNITS[u]}")


def resolve_time(expr: str, to: pd.Timestamp) -> pd.Timestamp:
    """``now``, ``now-90d``, ``now/y``, ``now-3y/y`` relative to ``to`` (Asia/Shanghai rounding)."""
    m = re.fullmatch(r"now(?:-(\d+[smhdwMy]))?(?:/([dMy]))?", expr)
    if not m:
        raise ValueError(f"unsupported time {expr!r}")
    t = to - (_duration(m.group(1)) if m.group(1) else pd.Timedelta(0))
    if m.group(2):
        local = t.tz_convert(TZ).tz_localize(None)
        start = {"d": local.normalize(), "M": local.to_period("M").to_timestamp(),
                 "y": local.to_period("Y").to_timestamp()}[m.group(2)]
        t = start.tz_localize(TZ).tz_convert("UTC")
    return t


def panel_range(dashboard: dict, panel: dict, to: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Time range Grafana queries for ``panel``: its ``timeFrom`` override, else the dashboard's."""
    tf = panel.get("timeFrom")
    if tf:
        return (resolve_time(tf, to) if tf.startswith("now") else to - _duration(tf)), to
    return resolve_time(dashboard["time"]["from"], to), to


def auto_interval(start: pd.Timestamp, end: pd.Timestamp, min_interval: str = "") -> str:
    """Grafana's $__interval: range / max data points rounded up to a nice step, at least ``min_interval``."""
    raw_s = (end - start).total_seconds() / MAX_DATA_POINTS
    nice = next((text for text, secs in _NICE if secs >= raw_s), _NICE[-1][0])
    if min_interval and _duration(min_interval) > _duration(nice):
        return min_interval
    return nice


def _regex_value(values: list[str], all_value: str | None) -> str:
    if all_value is not None:
        return all_value
    esc = [re.sub(r"([\\/^$.|?*+()\[\]{}])", r"\\\1", v) for v in values]
    return esc[0] if len(esc) == 1 else "(" + "|".join(esc) + ")"


def render(query: str, *, start: pd.Timestamp, end: pd.Timestamp, interval: str,
           variables: dict[str, list[str] | str] | None = None, all_values: dict[str, str] | None = None) -> str:
    """The query text Grafana sends to InfluxDB for this range, interval and variable selection."""
    f_ms, t_ms = int(start.value // 1_000_000), int(end.value // 1_000_000)
    q = query.replace("$timeFilter", f"time >= {f_ms}ms and time <= {t_ms}ms")
    q = q.replace("$__interval_ms", str(int(_duration(interval).total_seconds() * 1000)))
    q = q.replace("$__interval", interval)
    for name, ms in (("__from", f_ms), ("__to", t_ms)):
        q = q.replace("${" + name + "}", str(ms)).replace("$" + name, str(ms))
    all_values = all_values or {}
    for name, value in (variables or {}).items():
        values = [value] if isinstance(value, str) else list(value)
        text = _regex_value(values, all_values.get(name))
        q = q.replace("${" + name + "}", text)
        q = re.sub(r"\$" + re.escape(name) + r"(?![A-Za-z0-9_])", lambda _m: text, q)
    leftover = re.findall(r"\$\{?[A-Za-z_][A-Za-z0-9_]*", q)
    if leftover:
        raise ValueError(f"unsubstituted Grafana variables {leftover} in {q}")
    return q
