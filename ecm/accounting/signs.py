"""Signs and words of the path figures (issue #12 §7): required rate and the action text.

``required_annual_rate_frac`` is signed (:func:`ecm.accounting.intensity.required_annual_rate`):
−0.03 means intensity must fall 3 % a year from now to 2027; +0.02 means the 2027 index is already
reached with 2 %/yr to spare (headroom). It is shown in words with a colour that means what it
says (project rule, relative to the plan's own annual rate p = 1 − 0.87 ** (1/5) = 2.747 %/yr):

* ≥ 0                      → "headroom x %/yr" (余量), green;
* must fall ≤ p            → "must fall x %/yr", green (no steeper than the plan);
* must fall ≤ 2 p          → yellow (steeper than the plan, still within reach);
* must fall > 2 p          → red (steep: e13's −34.2 %/yr);
* NaN (no year left / no index) → no text, grey.

Action text for a red status: when the cumulative position is within the yellow tolerance of the
path and the red comes only from a year-on-year rise (the 晴雨表 rule "intensity rising → red"),
the text says so, so a reader does not hunt for a path shortfall that is not there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.accounting.intensity import path_annual_change_frac
from ecm.accounting.issues import Issue
from ecm.schema import Status

GREEN, YELLOW, RED = Status.GREEN.value, Status.YELLOW.value, Status.RED.value
EPS = 1e-9
STEEP_MULTIPLE = 2.0
COLOUR_HEX = {GREEN: "#2e7d32", YELLOW: "#f9a825", RED: "#c62828", "grey": "#9e9e9e"}


def required_rate_display(frame: pd.DataFrame, targets, *, steep_multiple: float = STEEP_MULTIPLE
                          ) -> tuple[pd.DataFrame, list[Issue]]:
    """Words and colour for ``required_annual_rate_frac``.

    Input: ``required_annual_rate_frac`` (signed fraction); ``targets`` = ``FactorTable.targets``.
    Output adds ``required_rate_kind`` (must_fall | headroom | none), ``required_rate_colour``
    (green | yellow | red | grey), ``required_rate_pct`` (absolute value, percent, 1 dp),
    ``required_rate_text_zh`` ("须年均下降 34.2%" / "余量：年均可升 2.0%"),
    ``required_rate_text_en`` ("must fall 34.2 %/yr" / "headroom 2.0 %/yr").
    """
    out = frame.copy()
    r = pd.to_numeric(out["required_annual_rate_frac"], errors="coerce")
    p = -path_annual_change_frac(**targets.path_kwargs())          # 0.02747
    fall = -r
    na = r.isna()
    kind = np.select([na, r >= -EPS], ["none", "headroom"], default="must_fall")
    colour = np.select([na, r >= -EPS, fall <= p + EPS, fall <= steep_multiple * p + EPS],
                       ["grey", GREEN, GREEN, YELLOW], default=RED)
    pct = (r.abs() * 100).round(1)
    out["required_rate_kind"] = kind
    out["required_rate_colour"] = colour
    out["required_rate_pct"] = pct
    txt = [("", "") if k == "none" else (f"余量：年均可升 {v:.1f}%", f"headroom {v:.1f} %/yr") if k == "headroom"
           else (f"须年均下降 {v:.1f}%", f"must fall {v:.1f} %/yr") for k, v in zip(kind, pct)]
    out["required_rate_text_zh"] = [z for z, _ in txt]
    out["required_rate_text_en"] = [e for _, e in txt]
    return out, []


def grafana_required_rate(targets, *, steep_multiple: float = STEEP_MULTIPLE) -> dict:
    """Stat-panel ``thresholds`` (absolute, ascending) and ``mappings`` implementing the colours above
    for a panel showing ``required_annual_rate_frac`` as a fraction: red below −2p, yellow from −2p,
    green from −p; values ≥ 0 get the text "余量 headroom"."""
    p = -path_annual_change_frac(**targets.path_kwargs())
    return {
        "thresholds": {"mode": "absolute", "steps": [
            {"color": COLOUR_HEX[RED], "value": None},
            {"color": COLOUR_HEX[YELLOW], "value": round(-steep_multiple * p, 6)},
            {"color": COLOUR_HEX[GREEN], "value": round(-p, 6)}]},
        "mappings": [{"type": "range", "options": {"from": 0, "to": 1e9, "result": {
            "text": "余量 headroom", "color": COLOUR_HEX[GREEN]}}}],
    }


def status_action(frame: pd.DataFrame, targets) -> tuple[pd.DataFrame, list[Issue]]:
    """Why a status is red, and what to do, in words.

    Input: ``status``, ``ytd_change_frac``, ``shortfall_frac``, ``path_index`` (from
    :func:`ecm.accounting.intensity.path_status`), optionally ``required_annual_rate_frac``.
    Output adds ``red_reason`` (yoy_rise_only | path_shortfall | path_shortfall_and_yoy_rise | "")
    and ``action_zh`` / ``action_en``. yoy_rise_only = red while the shortfall is within the yellow
    tolerance (≤ 10 % of the path decline) and intensity rose year on year.
    """
    out = frame.copy()
    r = pd.to_numeric(out["ytd_change_frac"], errors="coerce")
    sf = pd.to_numeric(out["shortfall_frac"], errors="coerce")
    d_p = 1.0 - pd.to_numeric(out["path_index"], errors="coerce")
    red = out["status"] == RED
    rise = r > EPS
    on_path = sf <= targets.yellow_tolerance_frac * d_p + EPS
    out["red_reason"] = np.select([red & rise & on_path, red & rise, red],
                                  ["yoy_rise_only", "path_shortfall_and_yoy_rise", "path_shortfall"], default="")
    req = (pd.to_numeric(out["required_annual_rate_frac"], errors="coerce") if "required_annual_rate_frac" in out
           else pd.Series(np.nan, index=out.index))
    zh, en = [], []
    for reason, status, rr, q in zip(out["red_reason"], out["status"], r, req):
        rise_pct = f"{rr * 100:.1f}" if pd.notna(rr) else "?"
        fall = f"{-q * 100:.1f}" if pd.notna(q) and q < 0 else None
        if reason == "yoy_rise_only":
            zh.append(f"累计进度在目标路径范围内，但今年以来单位增加值能耗同比上升{rise_pct}%：红色仅因同比上升，"
                      "请查明原因（产量下降、窑炉启停、计量异常）并扭转上升。")
            en.append(f"Cumulative progress is within the path, but intensity rose {rise_pct} % year on year: red only "
                      "because of the rise; find its cause (lower output, kiln restarts, metering faults) and reverse it.")
        elif reason:
            extra_zh = f"，须年均下降{fall}%才能在目标年达标" if fall else ""
            extra_en = f"; it must fall {fall} %/yr to reach the target year" if fall else ""
            both = reason == "path_shortfall_and_yoy_rise"
            zh.append("落后于目标路径" + (f"且同比上升{rise_pct}%" if both else "") + extra_zh + "。")
            en.append("Behind the target path" + (f" and up {rise_pct} % year on year" if both else "") + extra_en + ".")
        elif status == YELLOW:
            zh.append("接近目标路径（差距在路径降幅的10%以内），需保持降幅。")
            en.append("Close to the path (shortfall within 10 % of the path decline): keep the decline going.")
        elif status == GREEN:
            zh.append("达到目标路径。")
            en.append("On or ahead of the target path.")
        else:
            zh.append("")
            en.append("")
    out["action_zh"], out["action_en"] = zh, en
    return out, []
