"""数据接入 / Ingest and data health: throughput, rejects, spool, latency, offline devices, quarantine.

Devices: hours since the last reading per meter; a gap of more than 3 working days must be chased
up (national monitoring rule). InfluxQL has no working-day calendar, so the table flags red at
72 h of silence, which is never later than 3 working days.
"""
from __future__ import annotations

from dashboards import panels as P
from ecm import schema as S

UID = "ecm-ingest-health"
ST, RJ, RD = P.ident(S.MEAS_INGEST_STATS), P.ident(S.MEAS_INGEST_REJECTS), P.READINGS_FROM
WORKER = P.ident(S.TAG_WORKER)


def _rate(field: str) -> str:
    """Per-second rate between consecutive stats points of each worker (a restart resets the
    cumulative counter; non_negative_derivative drops that one negative step)."""
    return (f"SELECT non_negative_derivative({P.ident(field)}, 1s) FROM {ST} WHERE $timeFilter "
            f"GROUP BY {WORKER}")


def _offline_h() -> str:
    """Hours since each meter's last reading, at the end of the dashboard range ($__to, epoch ms)."""
    return (f'SELECT (${{__to}} - last({P.ident(S.F_RECEIVED_MS)})) / 3600000 AS "offline_h" FROM {RD} '
            f"WHERE $timeFilter GROUP BY {P.ident(S.TAG_ENTERPRISE)}, {P.ident(S.TAG_METER)}")


def _throughput() -> list[dict]:
    msgs = P.timeseries(1, P.title("消息速率", "messages/s"),
                        [P.target(_rate(S.F_MESSAGES_TOTAL), "A", alias="消息 messages $tag_worker"),
                         P.target(_rate(S.F_POINTS_WRITTEN_TOTAL), "B", alias="写入点 points $tag_worker")],
                        P.grid(0, 0, 8, 8), unit="reqps", interval="1m", time_from="24h")
    rejects = P.timeseries(
        2, P.title("按原因的拒收", "rejects by reason"),
        [P.target(f"SELECT count({P.ident(S.F_TOPIC)}) FROM {RJ} WHERE $timeFilter GROUP BY time($__interval), "
                  f"{P.ident(S.TAG_REASON)} fill(none) {P.GROUP_TZ}", alias=f"$tag_{S.TAG_REASON}")],
        P.grid(8, 0, 8, 8), draw="bars", stack=True, interval="1m", decimals=0)
    return [msgs, rejects]


def _spool_latency() -> list[dict]:
    spool = P.timeseries(
        3, P.title("本地缓存占用", "spool depth", "% of ECM_INGEST_SPOOL_MAX_MB"),
        [P.target(f"SELECT max({P.ident(S.F_SPOOL_USED_FRAC)}) FROM {ST} WHERE $timeFilter "
                  f"GROUP BY time($__interval), {WORKER} fill(none) {P.GROUP_TZ}", alias="$tag_worker")],
        P.grid(16, 0, 8, 8), unit="percentunit", interval="1m", min_=0, time_from="24h",
        th=P.thresholds((None, "green"), (S.SPOOL_ALARM_FRAC, "red")),
        desc="Alarm at 80%: InfluxDB is down or slower than the inflow.")
    spool["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] = {"mode": "line+area"}
    latency = P.timeseries(
        4, P.title("接入延迟", "ingest latency: receive → stored p50/p99, /write p99", "ms"),
        [P.target(f"SELECT max({P.ident(f)}) AS {P.ident(f)} FROM {ST} WHERE $timeFilter "
                  f"GROUP BY time($__interval) fill(none) {P.GROUP_TZ}", ref, alias="$col")
         for ref, f in (("A", S.F_LATENCY_P50_MS), ("B", S.F_LATENCY_P99_MS), ("C", S.F_WRITE_LATENCY_P99_MS))],
        P.grid(0, 8, 12, 8), unit="ms", interval="1m", time_from="24h")
    per_ent = P.timeseries(
        5, P.title("各企业读数量", "readings per enterprise"),
        [P.target(f"SELECT count({P.ident(S.F_RECEIVED_MS)}) FROM {RD} WHERE $timeFilter GROUP BY time($__interval), "
                  f"{P.ident(S.TAG_ENTERPRISE)} fill(0) {P.GROUP_TZ}", alias=f"$tag_{S.TAG_ENTERPRISE}")],
        P.grid(12, 8, 12, 8), interval="1h", draw="bars", stack=True, decimals=0, time_from="7d",
        desc="A gap in an enterprise's bars is missing data; see the devices table.")
    return [spool, latency, per_ent]


def _devices() -> list[dict]:
    n_off = P.stat(
        6, P.title("离线超72小时设备", "devices silent > 72 h (3 working days rule)"),
        [P.target(f'SELECT count("offline_h") FROM ({_offline_h()}) WHERE "offline_h" > {S.OFFLINE_FLAG_H}')],
        P.grid(0, 16, 6, 9), time_from="30d", no_value="0", decimals=0,
        th=P.thresholds((None, "green"), (1, "red")))
    table = P.table(
        7, P.title("设备最后上报", "devices by last reading", "offline > 3 个工作日 flagged red"),
        [P.target(_offline_h(), "A", fmt="table"),
         P.target(f"SELECT last({P.ident(S.F_ONLINE)}) AS {P.ident(S.F_ONLINE)} FROM {P.ident(S.MEAS_DEVICE_STATUS)} "
                  f"WHERE $timeFilter GROUP BY {P.ident(S.TAG_ENTERPRISE)}, {P.ident(S.TAG_METER)}", "B", fmt="table")],
        P.grid(6, 16, 18, 9), time_from="30d", sort_by=[{"displayName": "离线小时 offline h", "desc": True}],
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {"excludeByName": {"Time": True, "Time 1": True, "Time 2": True},
                                                        "renameByName": {"offline_h": "离线小时 offline h",
                                                                         S.F_ONLINE: "状态 status",
                                                                         S.TAG_ENTERPRISE: "企业 enterprise",
                                                                         S.TAG_METER: "表计 meter"}}}],
        overrides=[P.override("byName", "离线小时 offline h", [
            P.prop("decimals", 1), P.cell_color(),
            P.prop("thresholds", P.thresholds((None, "green"), (1, "yellow"), (S.OFFLINE_FLAG_H, "red")))]),
            P.override("byName", "状态 status", [P.prop("mappings", [{"type": "value", "options": {
                "1": {"text": "在线 online", "color": "green", "index": 0},
                "0": {"text": "离线 offline", "color": "red", "index": 1}}}]), P.cell_color()]),
            P.override("byName", "企业 enterprise", [P.prop("mappings", P.enterprise_mappings())])],
        desc="Hours since the last reading (receive time) and the last retained status, per meter, over 30 days.")
    return [n_off, table]


def _quarantine() -> list[dict]:
    sel = ", ".join(P.ident(f) for f in (S.TAG_REASON, S.F_ENTERPRISE_CLAIMED, S.F_TOPIC, S.F_DETAIL, S.F_PAYLOAD))
    return [P.table(8, P.title("隔离样本", "quarantine samples (latest 50)"),
                    [P.target(f"SELECT {sel} FROM {RJ} WHERE $timeFilter ORDER BY time DESC LIMIT 50", fmt="table")],
                    P.grid(0, 25, 24, 10), time_from="7d",
                    overrides=[P.override("byName", S.F_PAYLOAD, [P.prop("custom.inspect", True)])])]


def build() -> dict:
    panels = _throughput() + _spool_latency() + _devices() + _quarantine()
    return P.dashboard(UID, "数据接入 / Ingest and data health", panels, tags=["ingest"], time_from="now-24h",
                       refresh="1m", links=P.board_links(),
                       description="Ingest throughput, rejects, spool, latency, offline devices, quarantine.")
