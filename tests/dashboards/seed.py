"""Demo points for the dashboard query tests, written exactly as docs/contracts.md §2/§2.1 describe.

``seed_demo_points(client)`` stands in for the session fixture that runs simulator + ingest + DAGs;
swap it for that fixture when it exists. Points are relative to the current hour so that Grafana's
relative panel ranges (24h, 7d, 30d) find them. Returns the reference "now" (UTC).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm import schema as S
from ecm.registry import get_registry

TZ = "Asia/Shanghai"
N_MONTHS, N_DAYS = 15, 60
STATUS_CYCLE = (0, 2, 1, 0, 3)            # e01 green, e02 red, e03 yellow, e04 green, e05 data_insufficient
SILENT_METER = "e03_elec_main"          # last reading 4 days ago: flagged offline > 72 h
CARRIER_TCE = {"electricity": 1.2, "natural_gas": 3.0, "coal": 2.0, "lpg": 0.5, "diesel": 0.1,
               "steam": 0.4, "heat": 0.3, "pv_generation": -0.2, "waste_heat": -0.1}


def unit_of(industry: str, output_unit: str) -> str:
    if output_unit == "m2":
        return "kgce_per_m2"
    if output_unit == "pcs":
        return "kgce_per_pcs"
    return "kwh_per_t" if industry == "cement" else "kgce_per_t"


def _months(now: pd.Timestamp) -> list[pd.Timestamp]:
    first = now.tz_convert(TZ).tz_localize(None).to_period("M").to_timestamp()
    return [(first - pd.DateOffset(months=i)).tz_localize(TZ).tz_convert("UTC") for i in range(N_MONTHS)][::-1]


def _days(now: pd.Timestamp) -> list[pd.Timestamp]:
    today = now.tz_convert(TZ).normalize()
    return [(today - pd.Timedelta(days=i)).tz_convert("UTC") for i in range(1, N_DAYS + 1)][::-1]


def _kpi_monthly(reg, months) -> pd.DataFrame:
    rows = []
    for k, ent in enumerate([S.DISTRICT, *reg.enterprise_ids]):
        level = 0 if ent == S.DISTRICT else STATUS_CYCLE[(k - 1) % len(STATUS_CYCLE)]
        for i, t in enumerate(months):
            idx = 1.0 - 0.004 * i - (0.02 if level == 0 else -0.01 * level)
            rows.append({"time": t, S.TAG_ENTERPRISE: ent, S.F_ENERGY_TCE: 1000.0 + 10 * k + i,
                         S.F_ENERGY_TCE_GENERATION: 1200.0 + i, S.F_CO2_T: 2500.0 + 5 * i,
                         S.F_VALUE_ADDED_10K_CNY: 4000.0, S.F_VALUE_ADDED_CURRENT_10K_CNY: 4100.0,
                         S.F_INTENSITY: 0.25 * idx, S.F_CO2_INTENSITY: 0.6 * idx, S.F_YTD_INTENSITY: 0.25 * idx,
                         S.F_YTD_CHANGE_FRAC: -0.03 + 0.02 * level, S.F_CUMULATIVE_INDEX: idx,
                         S.F_PATH_INDEX: 1.0 - 0.005 * i, S.F_REQUIRED_RATE_FRAC: 0.025 + 0.01 * level,
                         S.F_STATUS: S.STATUS_LEVELS[level], S.F_STATUS_LEVEL: level,
                         S.F_COMPLETENESS_FRAC: 0.5 if level == 3 else 0.98, S.F_FACTOR_TABLE_VERSION: "demo",
                         # issue #12 fields (docs/contracts.md §2.1): window, LMDI effects, CO2 target
                         S.F_YTD_WINDOW_ZH: f"1–{t.tz_convert(TZ).month}月", S.F_YTD_WINDOW_EN: "Jan–",
                         S.F_STRUCTURE_EFFECT_VS_BASE: 0.97, S.F_INTENSITY_EFFECT_VS_BASE: idx / 0.97,
                         S.F_FIXED_WEIGHT_INDEX_VS_BASE: idx / 0.97, S.F_CO2_INDEX_FIXED: 0.95 - 0.002 * i,
                         S.F_CO2_REFERENCE_INDEX: 0.96, S.F_CO2_STATUS_LEVEL: level, S.F_CO2_STATUS: S.STATUS_LEVELS[level]})
    return pd.DataFrame(rows)


def _daily(reg, days) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    energy, kpi, lines = [], [], []
    carriers_of = {e.id: sorted({m.carrier for m in e.meters if m.kind == "counter" and m.carrier != "output"})
                   for e in reg.enterprises}
    for k, e in enumerate(reg.enterprises):
        for j, t in enumerate(days):
            total = 0.0
            for c in carriers_of[e.id]:
                tce = CARRIER_TCE[c] * (1 + 0.1 * k) * (1 + 0.05 * np.sin(j))
                total += tce
                energy.append({"time": t, S.TAG_ENTERPRISE: e.id, S.TAG_CARRIER: c, S.F_ENERGY_TCE: tce,
                               S.F_ENERGY_TCE_GENERATION: tce * 1.1, S.F_CO2_T: tce * 2.5, S.F_INCLUDED: 1,
                               S.F_COMPLETENESS_FRAC: 0.99, S.F_FACTOR_TABLE_VERSION: "demo"})
            compl = 0.6 if (k == 4 and j % 7 == 0) else 0.99
            kpi.append({"time": t, S.TAG_ENTERPRISE: e.id, S.F_ENERGY_TCE: total, S.F_ENERGY_TCE_GENERATION: total * 1.1,
                        S.F_CO2_T: total * 2.5, S.F_COMPLETENESS_FRAC: compl,
                        S.F_DATA_STATUS: "ok" if compl >= 0.9 else "data_insufficient", S.F_FACTOR_TABLE_VERSION: "demo"})
            for ln in e.lines:
                unit = unit_of(e.industry, ln.output_unit)
                lines.append({"time": t, S.TAG_ENTERPRISE: e.id, S.TAG_LINE: ln.id, S.TAG_PRODUCT_CLASS: ln.product_class,
                              f"output_{ln.output_unit}": ln.capacity.value * 0.8, S.F_ENERGY_TCE: total * 0.8,
                              S.P_UNIT_ENERGY + unit: 5.0 + 0.1 * k + 0.2 * np.cos(j),
                              S.F_COMPLETENESS_FRAC: 0.99, S.F_FACTOR_TABLE_VERSION: "demo"})
    return pd.DataFrame(energy), pd.DataFrame(kpi), pd.DataFrame(lines)


def _benchmarks(reg, months) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    frames, caps = [], []
    classes = list(S.CLASSIFICATION_LEVELS.items())
    for k, e in enumerate(reg.enterprises):
        for n, ln in enumerate(e.lines):
            unit = unit_of(e.industry, ln.output_unit)
            level, cls = classes[(k + n) % 3]
            rows = [{"time": t, S.TAG_ENTERPRISE: e.id, S.TAG_LINE: ln.id, S.TAG_INDUSTRY: e.industry,
                     S.TAG_PRODUCT_CLASS: ln.product_class, S.P_UNIT_ENERGY_12M + unit: 5.0 + 0.5 * level,
                     S.P_UNIT_ENERGY_YTD + unit: 5.1 + 0.5 * level, S.P_BENCHMARK + unit: 5.0,
                     S.P_BASELINE + unit: 6.0, S.F_CLASSIFICATION: cls, S.F_CLASSIFICATION_LEVEL: level,
                     S.F_GB_GRADE: "2", S.F_GAP_TO_BENCHMARK_PCT: 10.0 * level, S.F_GAP_TO_BASELINE_PCT: 8.0 * level - 8,
                     S.F_CAPACITY_PER_DAY: ln.capacity.value, S.F_COMPLETENESS_FRAC: 0.98,
                     S.F_FACTOR_TABLE_VERSION: "demo"} for t in months[-3:]]
            frames.append(pd.DataFrame(rows))
    for ind in sorted({e.industry for e in reg.enterprises if e.lines} | {S.INDUSTRY_ALL}):
        for t in months[-3:]:
            caps.append({"time": t, S.TAG_INDUSTRY: ind, S.F_BENCHMARK_SHARE_FRAC: 0.22,
                         S.F_BASELINE_SHARE_FRAC: 0.85, S.F_CAPACITY_TOTAL: 1e5, S.F_N_LINES: 3,
                         S.F_FACTOR_TABLE_VERSION: "demo"})
    return frames, pd.DataFrame(caps)


def _live(reg, now) -> dict[str, list[pd.DataFrame]]:
    out: dict[str, list[pd.DataFrame]] = {"readings": [], "device_status": [], "dq": []}
    hours = pd.date_range(now - pd.Timedelta(hours=47), now, freq="h")
    for e in reg.enterprises:
        for m in e.meters:
            q = m.quantity
            ts = hours - pd.Timedelta(days=4) if m.id == SILENT_METER else hours
            if m.kind == "gauge":
                ts = pd.date_range(now - pd.Timedelta(hours=23), now, freq="5min")
            out["readings"].append(pd.DataFrame({
                "time": ts, S.TAG_ENTERPRISE: e.id, S.TAG_METER: m.id, S.TAG_QUANTITY: q,
                q: np.arange(len(ts), dtype=float) * 10 + 1000.0,
                S.F_RECEIVED_MS: (ts.as_unit("ms").asi8 + 800).astype("int64")}))
            online = 0 if m.id == SILENT_METER else 1
            out["device_status"].append(pd.DataFrame([{
                "time": now - pd.Timedelta(days=4 if online == 0 else 1), S.TAG_ENTERPRISE: e.id, S.TAG_METER: m.id,
                S.F_ONLINE: online, S.F_STATE: "online" if online else "offline"}]))
        for j, (exp, sev) in enumerate((("completeness_ge_90pct", "block"), ("counter_monotonic", "warn"))):
            day = (now - pd.Timedelta(days=1)).tz_convert(TZ).normalize()
            out["dq"].append(pd.DataFrame([{
                "time": day.tz_convert("UTC"), "suite": "readings_daily", "expectation": exp, S.TAG_ENTERPRISE: e.id,
                S.TAG_SEVERITY: sev, S.F_SUCCESS: int(e.id != "e05" or j), S.F_OBSERVED: "0.97",
                S.F_OBSERVED_VALUE: 0.97, S.F_PERIOD: day.strftime("%Y-%m-%d")}]))
        day = (now - pd.Timedelta(days=1)).tz_convert(TZ).normalize()
        if e.id == "e01":   # one accounting issue (docs/contracts.md §2.1: accounting suites add subject, blocking)
            out["dq"].append(pd.DataFrame([{
                "time": day.tz_convert("UTC"), "suite": S.SUITE_ACCOUNTING_DAILY, "expectation": "ecm.counters.reset_detected",
                S.TAG_ENTERPRISE: e.id, S.TAG_SEVERITY: "warn", S.F_SUCCESS: 0,
                S.F_OBSERVED: "counter e01_elec_main restarted at 12345 (meter replaced)", S.F_SUBJECT: "e01_elec_main",
                S.F_BLOCKING: 0, S.F_PERIOD: day.strftime("%Y-%m-%d")}]))
    return out


def _ingest(now) -> tuple[pd.DataFrame, pd.DataFrame]:
    ts = pd.date_range(now - pd.Timedelta(hours=23), now, freq="1min")
    stats = []
    for w, worker in enumerate(("ingest-1", "ingest-2")):
        n = np.arange(len(ts))
        stats.append(pd.DataFrame({
            "time": ts, S.TAG_WORKER: worker, S.F_MESSAGES_TOTAL: (n * 600 + w).astype("int64"),
            S.F_POINTS_WRITTEN_TOTAL: (n * 900).astype("int64"), S.F_REJECTS_TOTAL: (n // 10).astype("int64"),
            S.F_SPOOL_BYTES: (n % 50 * 1000).astype("int64"), S.F_SPOOL_USED_FRAC: (n % 50) / 1000.0,
            S.F_LATENCY_P50_MS: 20.0 + w, S.F_LATENCY_P99_MS: 80.0 + (n % 7), S.F_WRITE_LATENCY_P99_MS: 150.0 + (n % 13)}))
    reasons = ("ts_too_old", "bad_json", "unknown_meter", "quantity_mismatch")
    rj = pd.DataFrame([{"time": now - pd.Timedelta(minutes=37 * i), S.TAG_REASON: reasons[i % 4],
                        S.F_ENTERPRISE_CLAIMED: "e02", S.F_TOPIC: "ecm/v1/e02/e02_elec_main/reading",
                        S.F_DETAIL: f"demo reject {i}", S.F_PAYLOAD: '{"ts": 0}'} for i in range(30)])
    return pd.concat(stats, ignore_index=True), rj


def seed_demo_points(client, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """Write the demo points; returns the reference time (UTC, floored to the minute)."""
    now = (now or pd.Timestamp.now(tz="UTC")).floor("min")
    reg = get_registry()
    months, days = _months(now), _days(now)
    client.write_frame(_kpi_monthly(reg, months), S.MEAS_KPI_MONTHLY, [S.TAG_ENTERPRISE])
    energy, kpi, lines = _daily(reg, days)
    client.write_frame(energy, S.MEAS_ENERGY_DAILY, [S.TAG_ENTERPRISE, S.TAG_CARRIER])
    client.write_frame(kpi, S.MEAS_KPI_DAILY, [S.TAG_ENTERPRISE])
    for _, part in lines.groupby(S.TAG_LINE):
        client.write_frame(part.dropna(axis=1, how="all"), S.MEAS_LINE_DAILY,
                           [S.TAG_ENTERPRISE, S.TAG_LINE, S.TAG_PRODUCT_CLASS])
    bms, caps = _benchmarks(reg, months)
    for bm in bms:
        client.write_frame(bm, S.MEAS_BENCHMARK_MONTHLY,
                           [S.TAG_ENTERPRISE, S.TAG_LINE, S.TAG_INDUSTRY, S.TAG_PRODUCT_CLASS])
    client.write_frame(caps, S.MEAS_CAPACITY_SHARE_MONTHLY, [S.TAG_INDUSTRY])
    live = _live(reg, now)
    for df in live["readings"]:
        client.write_frame(df, S.MEAS_READINGS, [S.TAG_ENTERPRISE, S.TAG_METER, S.TAG_QUANTITY])
    client.write_frame(pd.concat(live["device_status"], ignore_index=True), S.MEAS_DEVICE_STATUS,
                       [S.TAG_ENTERPRISE, S.TAG_METER])
    client.write_frame(pd.concat(live["dq"], ignore_index=True), S.MEAS_DQ_RESULT,
                       [S.TAG_SUITE, S.TAG_EXPECTATION, S.TAG_ENTERPRISE, S.TAG_SEVERITY])
    stats, rejects = _ingest(now)
    client.write_frame(stats, S.MEAS_INGEST_STATS, [S.TAG_WORKER])
    client.write_frame(rejects, S.MEAS_INGEST_REJECTS, [S.TAG_REASON])
    return now
