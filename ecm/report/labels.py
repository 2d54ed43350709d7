"""Bilingual labels, status colours and units of the report (one place, no logic)."""
from __future__ import annotations

from ecm.schema import DISTRICT, Classification, Status, target_words, targets  # noqa: F401  (re-exported)


def benchmark_share_goal_frac() -> float:
    """Goal share of capacity at the benchmark level (标杆), from config/factors.yaml ``targets``."""
    return targets().benchmark_share_goal_frac


def path_decline_pct():
    """Cumulative intensity decline of the target path, percent (13 for 2022→2027), from config."""
    return target_words()["path_pct"]


STATUS = {s.value: (s.zh, s.en, s.colour) for s in Status}            # status -> (zh, en, colour)
CLASSIFICATION = {c.value: (c.zh, c.en) for c in Classification}       # classification -> (zh, en)

CARRIER = {
    "electricity": ("电力", "electricity"), "natural_gas": ("天然气", "natural gas"),
    "coal": ("煤炭", "coal"), "lpg": ("液化石油气", "LPG"), "diesel": ("柴油", "diesel"),
    "steam": ("蒸汽", "steam"), "heat": ("热力", "heat"), "pv_generation": ("光伏发电", "PV"),
    "waste_heat": ("余热", "waste heat"),
}

INDUSTRY = {
    "all": ("全部", "all"), "building_ceramics": ("建筑陶瓷", "building ceramics"),
    "sanitary_ceramics": ("卫生陶瓷", "sanitary ceramics"), "daily_ceramics": ("日用陶瓷", "daily ceramics"),
    "cement": ("水泥", "cement"), "brick": ("砖瓦", "brick"), "other": ("其他", "other"),
}

#: unit suffix of unit product energy -> display unit
UNIT_ENERGY = {"kgce_per_m2": "kgce/m²", "kgce_per_t": "kgce/t", "kwh_per_t": "kWh/t",
               "kgce_per_pcs": "kgce/件", "kgce_per_10k_bricks": "kgce/万块"}

#: figure name -> unit written beside it in figures.csv
UNITS = {
    "energy_tce": "tce", "energy_tce_generation": "tce", "co2_t": "tCO2",
    "value_added_10k_cny": "10k CNY (2022 prices)", "intensity_tce_per_10k_cny": "tce/10k CNY",
    "ytd_intensity_tce_per_10k_cny": "tce/10k CNY", "co2_intensity_t_per_10k_cny": "tCO2/10k CNY",
    "cumulative_index": "2022=1", "path_index": "2022=1", "gap_index": "2022=1",
    "capacity_total": "capacity/day", "capacity_per_day": "capacity/day",
}


def unit_of(figure: str) -> str:
    """Unit of a figure name following the platform vocabulary (``_frac``, ``_pct``, ``n_``)."""
    if figure in UNITS:
        return UNITS[figure]
    if figure.endswith("_frac"):
        return "fraction"
    if figure.endswith("_pct"):
        return "%"
    if figure.startswith("n_") or figure in ("rank", "status_level", "classification_level", "success"):
        return "count"
    for suffix, unit in UNIT_ENERGY.items():
        if figure.endswith(suffix):
            return unit
    return ""


def rate_to_2027(rate_frac: float | None) -> tuple[str, str]:
    """(zh, en) wording of ``kpi_monthly.required_annual_rate_frac`` (signed annual intensity change
    still needed to reach the end-year target): a negative rate is a decline still required, a positive
    one is headroom."""
    if rate_frac is None:
        return "—", "—"
    pct = f"{abs(rate_frac) * 100:.1f}%"
    if rate_frac <= 0:
        return f"仍需年均下降 {pct}", f"{pct} annual decline still required"
    return f"年均可上升 {pct} 仍可达标", f"{pct} annual rise would still meet the target"
