"""Structure vs efficiency: multiplicative LMDI-I decomposition of the district intensity change.

Method: Ang, B.W. (2005) "The LMDI approach to decomposition analysis: a practical guide", Energy
Policy 33, 867–871, multiplicative LMDI-I, applied to the aggregate-intensity identity

    I = E / VA = Σ_i e_i,   e_i = E_i / VA = S_j · s_ij · I_i
    S_j  = VA_j / VA        (industry share of district value added)
    s_ij = VA_i / VA_j      (enterprise share within its industry)
    I_i  = E_i / VA_i       (enterprise intensity)

between period 0 (the base year 2022, or the prior year) and period 1 (the year to date), over the
SAME enterprise set (同口径, :mod:`ecm.accounting.comparable`). With the logarithmic mean
L(a, b) = (a − b) / (ln a − ln b), L(a, a) = a, and weights w_i = L(e_i¹, e_i⁰) / L(I¹, I⁰):

    D_x = exp(Σ_i w_i · ln(x_i¹ / x_i⁰))   for x in (S_j, s_ij, I_i)

and D_total = I¹ / I⁰ = D_industry_mix · D_within_industry_mix · D_intensity exactly (LMDI-I is a
perfect decomposition: Σ_i w_i ln(e_i¹/e_i⁰) = ln(I¹/I⁰)). The structure effect across
enterprises is D_structure = D_industry_mix · D_within_industry_mix. Values and energies must be
positive in both periods (LMDI has no logarithm of zero); an enterprise entering or leaving is
already excluded by the same-set rule.

``fixed_weight_index`` is the plain reading of the intensity effect: Σ_i (VA_i⁰/VA⁰) I_i¹ / I⁰, the
index had value-added weights stayed at period 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecm.accounting.issues import Issue
from ecm.schema import Status

GREEN, YELLOW, RED = Status.GREEN.value, Status.YELLOW.value, Status.RED.value
EFFECT_COLUMNS = ["comparison", "n_members", "intensity_0_tce_per_10k_cny", "intensity_1_tce_per_10k_cny",
                  "total_ratio", "structure_effect", "structure_industry_effect",
                  "structure_within_industry_effect", "intensity_effect", "fixed_weight_index"]


def _logmean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (np.log(a) - np.log(b))
    return np.where(np.isclose(a, b, rtol=1e-15, atol=0.0), a, out)


def lmdi_intensity(frame: pd.DataFrame, *, period0: str = "base", period1: str = "cur",
                   industry_col: str = "industry") -> tuple[pd.DataFrame, list[Issue]]:
    """Multiplicative LMDI-I decomposition of Σ E / Σ VA from ``period0`` to ``period1``.

    Input: one row per enterprise of the comparable set (the caller keeps only ``data_status`` ok
    rows of :func:`ecm.accounting.comparable.comparable_spans`; rows with another data_status are
    dropped here too): ``enterprise``, ``industry``, ``energy_tce_<p>``,
    ``value_added_10k_cny_<p>`` (2022 comparable prices) for p in (period0, period1).

    Output: one row — ``comparison`` (``"cur_vs_base"``), ``n_members``, ``intensity_0_…``,
    ``intensity_1_…``, ``total_ratio`` (I¹/I⁰), ``structure_effect`` (enterprise mix) =
    ``structure_industry_effect`` × ``structure_within_industry_effect``, ``intensity_effect``,
    ``fixed_weight_index``. total_ratio = structure_effect × intensity_effect to rounding (1e-12).
    A member with a non-positive or missing value → all effects NaN, blocking issue.
    """
    df = frame
    if "data_status" in df:
        df = df[df["data_status"] == "ok"]
    e0, e1 = (pd.to_numeric(df[f"energy_tce_{p}"], errors="coerce").to_numpy(float) for p in (period0, period1))
    v0, v1 = (pd.to_numeric(df[f"value_added_10k_cny_{p}"], errors="coerce").to_numpy(float) for p in (period0, period1))
    row = {"comparison": f"{period1}_vs_{period0}", "n_members": len(df)}
    bad = ~((e0 > 0) & (e1 > 0) & (v0 > 0) & (v1 > 0))
    if len(df) == 0 or bad.any():
        row.update({c: np.nan for c in EFFECT_COLUMNS[2:]})
        issues = [Issue("ecm.decomposition.input_not_positive",
                        "LMDI needs positive energy and value added in both periods for every member",
                        {"enterprises": df.loc[bad, "enterprise"].tolist() if len(df) else [],
                         "comparison": row["comparison"]}, blocking=True)]
        return pd.DataFrame([row])[EFFECT_COLUMNS], issues
    ind = df[industry_col].astype(str).to_numpy()
    V0, V1 = v0.sum(), v1.sum()
    I0, I1 = e0.sum() / V0, e1.sum() / V1
    vj0 = pd.Series(v0).groupby(ind).transform("sum").to_numpy()
    vj1 = pd.Series(v1).groupby(ind).transform("sum").to_numpy()
    # LMDI-I weights on the intensity identity I = Σ e_i (Ang 2005, multiplicative form)
    w = _logmean(e1 / V1, e0 / V0) / _logmean(np.array([I1]), np.array([I0]))[0]
    ln_ind = float(np.sum(w * np.log((vj1 / V1) / (vj0 / V0))))
    ln_within = float(np.sum(w * np.log((v1 / vj1) / (v0 / vj0))))
    ln_int = float(np.sum(w * np.log((e1 / v1) / (e0 / v0))))
    row.update({
        "intensity_0_tce_per_10k_cny": I0, "intensity_1_tce_per_10k_cny": I1, "total_ratio": I1 / I0,
        "structure_effect": float(np.exp(ln_ind + ln_within)), "structure_industry_effect": float(np.exp(ln_ind)),
        "structure_within_industry_effect": float(np.exp(ln_within)), "intensity_effect": float(np.exp(ln_int)),
        "fixed_weight_index": float(np.sum((v0 / V0) * (e1 / v1)) / I0),
    })
    return pd.DataFrame([row])[EFFECT_COLUMNS], []


def explain_mix(*, status: str, cumulative_index: float, path_index: float, structure_effect: float,
                intensity_effect: float, fixed_weight_index: float, n_red: int, n_enterprises: int,
                lang: str = "both") -> str:
    """One plain sentence (Chinese, English, or ``"中文 / English"``) explaining the district index.

    Inputs: the district's ``status`` and ``cumulative_index`` (vs 2022), the year's
    ``path_index``, the ``cur_vs_base`` row of :func:`lmdi_intensity` (``structure_effect``,
    ``intensity_effect``, ``fixed_weight_index``), and how many enterprises are red.
    When the district is green or yellow while enterprises are red and the mix effect is below 1,
    the sentence says the district meets its path because value added shifted towards
    low-intensity enterprises, and what the index would be at 2022 weights. Otherwise it states the
    two effects. Returns "" when an input is NaN or the status is not a colour.
    """
    vals = (cumulative_index, path_index, structure_effect, intensity_effect, fixed_weight_index)
    if status not in (GREEN, YELLOW, RED) or any(pd.isna(v) for v in vals):
        return ""
    ci, pi, s, t, fw = vals
    behind_zh = "，落后于路径" if fw > pi else ""
    behind_en = ", behind the path" if fw > pi else ""
    if status in (GREEN, YELLOW) and n_red > 0 and s < 1.0:
        main = abs(np.log(s)) > abs(np.log(t))
        zh = (f"区县指数{ci:.3f}（2022年=1，路径{pi:.3f}）{'达标' if status == GREEN else '接近路径'}，"
              f"但{n_enterprises}家企业中{n_red}家为红色：降幅{'主要' if main else '部分'}来自结构变化"
              f"（低能耗企业增加值占比上升，结构效应{s:.3f}），企业自身能效的强度效应为{t:.3f}；"
              f"若按2022年增加值权重计算，指数为{fw:.3f}{behind_zh}。")
        en = (f"The district index is {ci:.3f} (2022 = 1; path {pi:.3f}) while {n_red} of {n_enterprises} "
              f"enterprises are red because {'most' if main else 'part'} of the fall comes from a shift in mix "
              f"towards low-intensity enterprises (structure effect {s:.3f}), not from the enterprises' own "
              f"efficiency (intensity effect {t:.3f}); at 2022 value-added weights the index would be {fw:.3f}"
              f"{behind_en}.")
    else:
        zh = (f"区县指数{ci:.3f}（2022年=1，路径{pi:.3f}）= 结构效应{s:.3f} × 强度效应{t:.3f}；"
              f"按2022年增加值权重计算为{fw:.3f}。")
        en = (f"The district index {ci:.3f} (2022 = 1; path {pi:.3f}) = structure effect {s:.3f} × intensity "
              f"effect {t:.3f}; at 2022 value-added weights it would be {fw:.3f}.")
    return {"zh": zh, "en": en}.get(lang, f"{zh} / {en}")
