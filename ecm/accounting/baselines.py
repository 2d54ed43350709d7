"""Energy baselines (EnB), EnPIs, CUSUM drift detection and verified savings per measure.

Implements ISO 50006:2014 / GB/T 36713-2018 (energy baseline and energy performance indicators)
with the model rules of the US DOE EnPI tool and ASHRAE Guideline 14-2014, and savings as
IPMVP (EVO 10000-1:2022) option C avoided energy. Pure: frames in, ``(frame, issues)`` out.

* **Model** (per line and per enterprise): ordinary least squares of daily (or weekly) energy
  ``energy_tce`` on output (one regressor per line for an enterprise: the product mix), plus any
  relevant variables given (ambient temperature, raw-material moisture, kiln hours). It is fitted
  on *production days* (output ≥ ``IDLE_OUTPUT_FRAC`` × the baseline median); idle days
  (shutdown, kiln re-heating without output) are expected at the baseline's idle-day mean.
* **Validity gates** (a model failing any of them is reported with the reasons and the scope
  falls back to a ratio EnPI, Σ energy ÷ Σ output of the baseline, labelled ``ratio_fallback``):
  - R² ≥ 0.5, every regressor's p-value < 0.1 and the model F-test p < 0.1 — US DOE EnPI tool
    (v6 user manual, "model validity": R² ≥ 0.5, p ≤ 0.10);
  - CV(RMSE) and NMBE (both with n − p degrees of freedom) within ASHRAE Guideline 14-2014 limits:
    monthly CV ≤ 15 %, |NMBE| ≤ 5 %; hourly CV ≤ 30 %, |NMBE| ≤ 10 % (§5.3.2.4, calibration
    criteria). The Guideline has no daily or weekly row; this project applies the sub-monthly
    (hourly) limits to daily and weekly models (``ASHRAE14_LIMITS``);
  - coverage: the baseline period needs ≥ 90 % of its days with published (non data-insufficient)
    data, the KPIs' completeness rule.
* **CUSUM** (ISO 50006 Annex, GB/T 36713 §6): ``cusum_tce`` = Σ (actual − expected) from the day
  after the baseline period. Drift detection is Page's two-sided tabular CUSUM on residuals in
  units of their long-run standard deviation σ_L = RMSE · √((1 + ρ)/(1 − ρ)) (ρ: lag-1
  autocorrelation of the baseline residuals, so an AR(1) noise gives unit variance per day in the
  long run): S⁺ = max(0, S⁺ + z − k), S⁻ = max(0, S⁻ − z − k), alarm at S > h, then reset
  (k = ``CUSUM_K``, h = ``CUSUM_H``; Montgomery, *Statistical Quality Control*, §9.1). A
  registered measure, a non-routine adjustment or an alarm restarts detection: the next
  ``RELEARN_DAYS`` learn the new level (Σ actual ÷ Σ expected), then detection resumes, so a
  continuing drift raises one alarm per episode. An alarm is the issue ``ecm.baseline.drift``.
  k = 1 σ_L, h = 10 σ_L and 120 days were chosen on the simulated fleet (kilns whose unit energy
  rises up to ~1 % between shutdowns): no alarm on lines without drift over 2023-2026 while a
  1 %/month loss is found in ~3 months.
* **Savings** per measure (IPMVP option C, avoided energy): a model fitted on the 12 months
  before the measure (or the measure's own baseline period) predicts the reporting period from
  the measure's date to the day before the next measure on the same scope (or the last day);
  savings = Σ (expected + non-routine adjustments − actual). Uncertainty is ASHRAE Guideline
  14-2014 Annex B fractional savings uncertainty::

      U = t(1−α/2, n′ − p) · 1.26 · CV · √((n/n′)(1 + 2/n′)/m) · Σ expected,   n′ = n (1 − ρ)/(1 + ρ)

  at 68 % and 90 % confidence, on 30-day sums of the residuals (n, m: baseline and reporting
  30-day blocks; the formula and its 1.26 factor were derived for monthly data, and daily kiln
  residuals are long-range dependent). Baseline stability: when the 30-day residuals of the
  measure's model over the ≥ 1.5 years before it show a significant trend (ageing), the baseline
  is extrapolated with that trend and the trend's uncertainty is added in quadrature (a routine
  adjustment, issue ``ecm.baseline.trend_adjusted``). ``significant`` = U68 < 50 % of the savings (the Guideline's
  acceptance criterion). tCO₂ = tce saved × the enterprise's tCO₂/tce in the reporting period.
  Savings roll up to enterprise and district as sums; uncertainties add in quadrature
  (independent measures).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy import stats

from ecm.accounting.issues import Issue

R2_MIN = 0.5                   # DOE EnPI tool
P_MAX = 0.1                    # DOE EnPI tool (each regressor and the model F-test)
#: resolution -> (max CV(RMSE), max |NMBE|), ASHRAE Guideline 14-2014 (daily/weekly: hourly row, project rule)
ASHRAE14_LIMITS = {"monthly": (0.15, 0.05), "weekly": (0.30, 0.10), "daily": (0.30, 0.10), "hourly": (0.30, 0.10)}
MIN_COVERAGE_FRAC = 0.9        # same rule as the KPIs (national completeness rule, 90 %)
IDLE_OUTPUT_FRAC = 0.05        # production day: output ≥ 5 % of the baseline median
CUSUM_K = 1.0                  # slack, in σ_L (tolerates slow kiln fouling cycles of ~1 σ_L)
CUSUM_H = 10.0                 # decision interval, in σ_L: P(false alarm) ≈ 0.35 % per scope-year (iid normal, 2000 simulated years)
RELEARN_DAYS = 120             # after a measure, adjustment or alarm: days to learn the new level
ASHRAE_FSU_FACTOR = 1.26       # ASHRAE 14-2014 Annex B empirical correction
CONFIDENCES = (0.68, 0.90)
SIGNIFICANT_FSU68 = 0.5        # ASHRAE 14: savings uncertainty < 50 % of savings at 68 %
DEFAULT_BASELINE = (date(2022, 1, 1), date(2022, 12, 31))   # base year of the 2023-2027 targets

MODEL_COLUMNS = ["scope", "scope_id", "enterprise", "line", "purpose", "baseline_start", "baseline_end",
                 "model_kind", "valid", "reasons", "regressors", "coef", "p_values", "r2", "cv_rmse", "nmbe",
                 "rho", "n", "n_idle", "p", "rmse_tce", "sigma_long_tce", "idle_mean_tce", "mean_tce",
                 "ratio_tce_per_unit", "coverage_frac"]


@dataclass
class Model:
    """A fitted baseline of one scope. ``kind``: ``regression`` or ``ratio_fallback``."""

    scope: str
    scope_id: str
    enterprise: str
    line: str
    regressors: list[str]
    kind: str = "regression"
    valid: bool = False
    reasons: list[str] = field(default_factory=list)
    coef: np.ndarray = field(default_factory=lambda: np.zeros(0))   # intercept first
    p_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    r2: float = math.nan
    cv_rmse: float = math.nan
    nmbe: float = math.nan
    rho: float = 0.0
    n: int = 0
    n_idle: int = 0
    p: int = 0
    rmse: float = math.nan
    sigma_long: float = math.nan
    idle_mean: float = 0.0
    mean: float = math.nan
    ratio: float = math.nan
    coverage: float = 0.0
    prod_threshold: float = 0.0
    start: date | None = None
    end: date | None = None
    purpose: str = "enpi"

    def expected(self, X: np.ndarray, production: np.ndarray) -> np.ndarray:
        """Expected energy (tce) for regressor rows ``X`` (no intercept column)."""
        if self.kind == "regression":
            pred = self.coef[0] + X @ self.coef[1:]
        else:
            pred = self.ratio * X.sum(axis=1) if X.shape[1] else np.full(len(X), self.mean)
        return np.where(production, pred, self.idle_mean)

    def row(self) -> dict:
        return {"scope": self.scope, "scope_id": self.scope_id, "enterprise": self.enterprise, "line": self.line,
                "purpose": self.purpose, "baseline_start": self.start, "baseline_end": self.end,
                "model_kind": self.kind, "valid": self.valid, "reasons": "; ".join(self.reasons),
                "regressors": ",".join(self.regressors), "coef": [float(c) for c in self.coef],
                "p_values": [float(v) for v in self.p_values], "r2": self.r2, "cv_rmse": self.cv_rmse,
                "nmbe": self.nmbe, "rho": self.rho, "n": self.n, "n_idle": self.n_idle, "p": self.p,
                "rmse_tce": self.rmse, "sigma_long_tce": self.sigma_long, "idle_mean_tce": self.idle_mean,
                "mean_tce": self.mean, "ratio_tce_per_unit": self.ratio, "coverage_frac": self.coverage}


_MODEL_DATES = ("start", "end")


def model_to_json(m: Model) -> str:
    """A fitted model as JSON, floats exact (``repr``), so that a stored fit reused the next night
    predicts exactly what refitting the unchanged baseline period would."""
    import json

    d = dict(vars(m))
    d["coef"], d["p_values"] = [float(x) for x in m.coef], [float(x) for x in m.p_values]
    for k in _MODEL_DATES:
        d[k] = d[k].isoformat() if d[k] is not None else None
    return json.dumps(d)


def model_from_json(text: str) -> Model:
    import json

    d = json.loads(text)
    d["coef"], d["p_values"] = np.array(d["coef"], float), np.array(d["p_values"], float)
    for k in _MODEL_DATES:
        d[k] = date.fromisoformat(d[k]) if d[k] else None
    return Model(**d)


# -- statistics (numpy) --------------------------------------------------------------------------
@dataclass(frozen=True)
class OLS:
    coef: np.ndarray
    se: np.ndarray
    t: np.ndarray
    p_values: np.ndarray
    r2: float
    f_pvalue: float
    sse: float
    n: int
    p: int
    resid: np.ndarray


def ols(X: np.ndarray, y: np.ndarray) -> OLS:
    """OLS of ``y`` on ``[1, X]``: coefficients (intercept first), standard errors, two-sided
    t-test p-values, R², the F-test p-value of all slopes, and residuals."""
    X = np.asarray(X, float).reshape(len(y), -1)
    y = np.asarray(y, float)
    A = np.column_stack([np.ones(len(y)), X])
    n, p = A.shape
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    sse = float(resid @ resid)
    dof = n - p
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 0 else math.nan
    if dof > 0:
        s2 = sse / dof
        cov = s2 * np.linalg.pinv(A.T @ A)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(se > 0, coef / se, np.inf)
        pv = 2 * stats.t.sf(np.abs(t), dof)
        k = p - 1
        if k > 0 and sse > 0 and sst > sse:
            f = ((sst - sse) / k) / (sse / dof)
            fp = float(stats.f.sf(f, k, dof))
        else:
            fp = 0.0 if k > 0 and sse == 0 else math.nan
    else:
        se = t = pv = np.full(p, math.nan)
        fp = math.nan
    return OLS(coef, se, t, pv, r2, fp, sse, n, p, resid)


def lag1_autocorr(resid: np.ndarray) -> float:
    """Lag-1 autocorrelation of residuals in time order (ASHRAE 14 Annex B, ρ)."""
    r = np.asarray(resid, float)
    if len(r) < 3:
        return 0.0
    d = r - r.mean()
    den = float(d @ d)
    return float((d[1:] @ d[:-1]) / den) if den > 0 else 0.0


def fractional_savings_uncertainty(cv_rmse: float, n: int, p: int, rho: float, m: int, frac_saved: float,
                                   confidence: float) -> float:
    """ASHRAE Guideline 14-2014 Annex B: ΔE_save/E_save = t·1.26·CV·√((n/n′)(1+2/n′)/m) / F,
    n′ = n(1−ρ)/(1+ρ) (ρ ≤ 0 → n′ = n), t with n′ − p degrees of freedom."""
    rho = max(float(rho), 0.0)
    n_eff = n * (1 - rho) / (1 + rho)
    if m <= 0 or n_eff - p <= 0 or frac_saved == 0 or not np.isfinite(cv_rmse):
        return math.inf
    t = float(stats.t.ppf(0.5 + confidence / 2, n_eff - p))
    return abs(t * ASHRAE_FSU_FACTOR * cv_rmse * math.sqrt((n / n_eff) * (1 + 2 / n_eff) / m) / frac_saved)


def drift_detection_days(excess_tce: np.ndarray, sigma_long: float, k: float = CUSUM_K, h: float = CUSUM_H) -> int | None:
    """Days until a noise-free upward CUSUM of the known excess (tce/day) crosses h (1-based), or
    None: the number of days a drift needs to be detected at this threshold."""
    s = 0.0
    for i, x in enumerate(np.asarray(excess_tce, float) / sigma_long):
        s = max(0.0, s + x - k)
        if s > h:
            return i + 1
    return None


# -- frames -> model inputs ------------------------------------------------------------------------
def scope_series(line_daily: pd.DataFrame, lines: pd.DataFrame, extra: list[str] | tuple = ()) -> dict[tuple, pd.DataFrame]:
    """Per scope (``("line", id)`` and ``("enterprise", id)``) a daily frame indexed by ``day``:
    ``energy_tce``, one ``x:<regressor>`` column per regressor, ``completeness_frac``.

    ``line_daily``: ``day`` (date), ``enterprise``, ``line``, ``energy_tce``, ``output`` (the
    line's output in its unit) and the ``extra`` variable columns when given. An enterprise's
    regressors are its lines' outputs (product mix) and energy is the sum of its lines'; a day
    counts only when every line of the enterprise is present."""
    out: dict[tuple, pd.DataFrame] = {}
    if line_daily.empty:
        return out
    extra = [c for c in extra if c in line_daily.columns]
    ld = line_daily.copy()
    if "completeness_frac" not in ld:
        ld["completeness_frac"] = 1.0
    # one wide (day × line) array per column, then plain numpy slices per scope (no groupby of frames)
    cols = ["energy_tce", "output", *extra, "completeness_frac"]
    ld = ld.drop_duplicates(["day", "line"], keep="last")
    wide = ld.set_index(["day", "line"])[cols].astype(float).unstack("line").sort_index()
    days = wide.index.to_numpy()
    lids_all = list(wide["energy_tce"].columns)
    arr = {c: wide[c].to_numpy() for c in cols}
    names = {"energy_tce": "energy_tce", "output": "x:output", **{c: f"x:{c}" for c in extra},
             "completeness_frac": "completeness_frac"}
    ok = ~np.isnan(arr["energy_tce"]) & ~np.isnan(arr["output"])
    pos = {lid: i for i, lid in enumerate(lids_all)}
    for lid in sorted(lids_all):
        i = pos[lid]
        m = ok[:, i]
        out[("line", lid)] = pd.DataFrame({names[c]: arr[c][m, i] for c in cols},
                                          index=pd.Index(days[m], name="day"))
    ent_lines = lines.groupby("enterprise")["line"].apply(list).to_dict() if len(lines) else {}
    for ent, lids in sorted(ent_lines.items()):
        if not lids or any(lid not in pos for lid in lids):
            continue
        idx = [pos[lid] for lid in lids]
        m = ok[:, idx].all(axis=1)
        f = {"energy_tce": sum(arr["energy_tce"][m, i] for i in idx)}
        for lid, i in zip(lids, idx):
            f[f"x:output_{lid}"] = arr["output"][m, i]
        f["completeness_frac"] = sum(arr["completeness_frac"][m, i] for i in idx) / len(idx)
        out[("enterprise", ent)] = pd.DataFrame(f, index=pd.Index(days[m], name="day"))
    return out


def _weekly(f: pd.DataFrame) -> pd.DataFrame:
    days = pd.to_datetime(pd.Series(f.index, index=f.index))
    week = days.dt.to_period("W-SUN").dt.start_time.dt.date
    g = f.groupby(week.to_numpy())
    w = g.sum(numeric_only=True)
    w["completeness_frac"] = g["completeness_frac"].mean() * g.size() / 7.0
    return w[g.size() == 7]


def fit_model(series: pd.DataFrame, scope: tuple, enterprise: str, start: date, end: date, *,
              resolution: str = "daily", purpose: str = "enpi") -> Model:
    """Fit one scope's baseline over [start, end] and apply the gates (see module doc)."""
    kind, sid = scope
    xcols = [c for c in series.columns if c.startswith("x:")]
    m = Model(kind, sid, enterprise, sid if kind == "line" else "", [c[2:] for c in xcols], start=start, end=end,
              purpose=purpose)
    b = series[(series.index >= start) & (series.index <= end)]
    n_days = (end - start).days + 1
    if resolution == "weekly":
        b = _weekly(b)
        n_days = n_days // 7
    m.coverage = len(b) / n_days if n_days > 0 else 0.0
    if m.coverage < MIN_COVERAGE_FRAC:
        m.reasons.append(f"coverage {m.coverage:.0%} < {MIN_COVERAGE_FRAC:.0%} of the baseline period (data_insufficient)")
    if b.empty:
        m.kind = "none"
        m.reasons.append("no baseline data")
        return m
    X = b[xcols].to_numpy(float)
    y = b["energy_tce"].to_numpy(float)
    tot = X.sum(axis=1)
    med = float(np.median(tot[tot > 0])) if (tot > 0).any() else 0.0
    m.prod_threshold = IDLE_OUTPUT_FRAC * med
    prod = tot >= m.prod_threshold if med > 0 else np.zeros(len(tot), bool)
    m.n, m.n_idle, m.p = int(prod.sum()), int((~prod).sum()), len(xcols) + 1
    m.idle_mean = float(y[~prod].mean()) if (~prod).any() else 0.0
    Xp, yp = X[prod], y[prod]
    m.mean = float(yp.mean()) if len(yp) else math.nan
    m.ratio = float(yp.sum() / Xp.sum()) if len(yp) and Xp.sum() > 0 else math.nan
    if m.n < m.p + 3:
        m.reasons.append(f"{m.n} production points < {m.p + 3} needed")
        m.kind = "ratio_fallback" if np.isfinite(m.ratio) else "none"
        return m
    fit = ols(Xp, yp)
    cv_max, nmbe_max = ASHRAE14_LIMITS[resolution]
    dof = m.n - m.p
    m.coef, m.p_values, m.r2 = fit.coef, fit.p_values, fit.r2
    m.rmse = math.sqrt(fit.sse / dof)
    m.cv_rmse = m.rmse / m.mean if m.mean else math.inf
    m.nmbe = float(fit.resid.sum()) / (dof * m.mean) if m.mean else math.inf
    m.rho = lag1_autocorr(fit.resid)
    if not (m.r2 >= R2_MIN):
        m.reasons.append(f"R² {m.r2:.2f} < {R2_MIN} (DOE EnPI)")
    for name, pv in zip(m.regressors, fit.p_values[1:]):
        if not (pv < P_MAX):
            m.reasons.append(f"p({name}) {pv:.3f} ≥ {P_MAX} (DOE EnPI)")
    if not (fit.f_pvalue < P_MAX):
        m.reasons.append(f"model F-test p {fit.f_pvalue:.3f} ≥ {P_MAX} (DOE EnPI)")
    if not (m.cv_rmse <= cv_max):
        m.reasons.append(f"CV(RMSE) {m.cv_rmse:.1%} > {cv_max:.0%} (ASHRAE 14, {resolution})")
    if not (abs(m.nmbe) <= nmbe_max):
        m.reasons.append(f"NMBE {m.nmbe:.2%} outside ±{nmbe_max:.0%} (ASHRAE 14, {resolution})")
    m.valid = not m.reasons
    if not m.valid:  # ratio EnPI: residual statistics of the fallback
        m.kind = "ratio_fallback"
        res = yp - m.ratio * Xp.sum(axis=1)
        m.p = 1
        m.rmse = math.sqrt(float(res @ res) / max(m.n - 1, 1))
        m.cv_rmse = m.rmse / m.mean if m.mean else math.inf
        m.nmbe = float(res.sum()) / (max(m.n - 1, 1) * m.mean) if m.mean else math.inf
        m.rho = lag1_autocorr(res)
    rho = min(max(m.rho, 0.0), 0.95)
    m.sigma_long = m.rmse * math.sqrt((1 + rho) / (1 - rho))
    return m


def _X(f: pd.DataFrame, model: Model) -> tuple[np.ndarray, np.ndarray]:
    cols = [f"x:{r}" for r in model.regressors]
    X = np.column_stack([f[c].to_numpy(float) for c in cols]) if cols else np.zeros((len(f), 0))
    return X, X.sum(axis=1) >= model.prod_threshold if model.prod_threshold > 0 else X.sum(axis=1) > 0


def _adjustment(f: pd.DataFrame, adjustments: list[dict], scope: tuple, enterprise: str) -> tuple[np.ndarray, np.ndarray]:
    """(scale, delta tce/day) per day of ``f`` from non-routine adjustments for this scope."""
    scale, delta = np.ones(len(f)), np.zeros(len(f))
    days = np.array(f.index)
    for a in adjustments or []:
        if not _applies(a, scope, enterprise):
            continue
        d0 = _as_date(a["date"])
        d1 = _as_date(a["end"]) if a.get("end") else date.max
        sel = (days >= d0) & (days <= d1)
        scale[sel] *= float(a.get("scale", 1.0) or 1.0)
        delta[sel] += float(a.get("tce_per_day", 0.0) or 0.0)
    return scale, delta


def _applies(entry: dict, scope: tuple, enterprise: str) -> bool:
    kind, sid = scope
    if entry.get("enterprise") and entry["enterprise"] != enterprise:
        return False
    line = entry.get("line") or ""
    # an enterprise scope sums its lines: every entry of the enterprise applies to it
    return True if kind == "enterprise" else (line == sid or not line)


def _as_date(v) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


# -- baseline per scope: expected, CUSUM, drift ----------------------------------------------------------
def baseline_daily(series: dict[tuple, pd.DataFrame], enterprise_of: dict[str, str], *,
                   baseline: tuple[date, date] = DEFAULT_BASELINE, measures: list[dict] | None = None,
                   adjustments: list[dict] | None = None, k: float | None = None, h: float | None = None,
                   relearn_days: int | None = None, states: dict | None = None, since: date | None = None,
                   state_day: date | None = None, states_out: dict | None = None,
                   fits: dict | None = None, fits_out: dict | None = None,
                   ) -> tuple[pd.DataFrame, pd.DataFrame, list[Issue]]:
    """Expected energy, CUSUM and drift detection per scope-day.

    ``series`` from :func:`scope_series`; ``enterprise_of``: scope id → enterprise. Returns
    ``(daily, models, issues)``: ``daily`` columns ``day, scope, scope_id, enterprise, line,
    energy_tce, expected_tce, residual_tce, cusum_tce, drift_up, drift_down, drift_alarm (int),
    production (int), model_kind, valid (int), completeness_frac``; ``models`` (MODEL_COLUMNS). Issues:
    ``ecm.baseline.model_invalid`` (fallback used, reasons), ``ecm.baseline.data_insufficient``
    (no model), ``ecm.baseline.drift`` (one per alarm).

    Incremental use (a nightly run): with ``states`` (scope → :class:`DetectState` at the end of
    ``since`` − 1) only the days from ``since`` are computed, continuing the CUSUM and detection
    (the series must still hold the baseline period to fit the model); a scope with a model but
    no state raises :class:`MissingState`. With ``state_day`` and ``states_out`` the state at the
    end of ``state_day`` is stored into ``states_out`` for the next run.

    ``fits``: scope → :class:`Model` fitted earlier on the same baseline period and the same data
    (a nightly run: the baseline period is not refitted, and its data need not be in ``series``);
    a scope in ``fits`` without days in ``series`` still gets its model row and carries its state.
    ``fits_out`` receives every model used, for the next run."""
    rows, models, issues = [], [], []
    b0, b1 = baseline
    k = CUSUM_K if k is None else k
    h = CUSUM_H if h is None else h
    relearn_days = RELEARN_DAYS if relearn_days is None else relearn_days
    fits = {sc: m for sc, m in (fits or {}).items() if (m.start, m.end) == (b0, b1)}
    for scope in sorted(set(series) | set(fits)):
        ent = enterprise_of.get(scope[1], scope[1])
        model = fits.get(scope)
        if model is None:
            model = fit_model(series[scope], scope, ent, b0, b1)
        f = series.get(scope)
        if f is None:
            f = pd.DataFrame(columns=["energy_tce", *(f"x:{r}" for r in model.regressors), "completeness_frac"],
                             dtype=float)
        if fits_out is not None:
            fits_out[scope] = model
        models.append(model.row())
        if model.kind == "none":
            issues.append(Issue("ecm.baseline.data_insufficient", f"no baseline for {scope[0]} {scope[1]}: "
                                + "; ".join(model.reasons), {"scope": scope[0], "scope_id": scope[1]}))
            continue
        if not model.valid:
            issues.append(Issue("ecm.baseline.model_invalid", f"{scope[0]} {scope[1]}: regression rejected ("
                                + "; ".join(model.reasons) + "); ratio EnPI fallback used",
                                {"scope": scope[0], "scope_id": scope[1], "reasons": model.reasons}))
        st0 = None
        if states is not None:
            st0 = states.get(scope)
            if st0 is None:
                raise MissingState(scope)
            f = f[f.index >= since]
        X, prod = _X(f, model)
        scale, delta = _adjustment(f, adjustments, scope, ent)
        exp = model.expected(X, prod) * scale + delta
        y = f["energy_tce"].to_numpy(float)
        res = y - exp
        days = np.array(f.index)
        after = days > b1
        if st0 is None:
            cusum = np.where(after, np.cumsum(np.where(after, res, 0.0)), np.nan)
        else:
            cusum = cusum_continue(res, after, st0.cusum)
        restarts = sorted({_as_date(e["date"]) for e in (measures or []) + (adjustments or [])
                           if _applies(e, scope, ent) and _as_date(e["date"]) > b1})
        det = (model.sigma_long, restarts, k, h, relearn_days)
        cut = int(sum(1 for d in days if d <= state_day)) if state_day is not None else len(days)
        u1, d1, a1, s1 = detect_cusum(days[:cut], y[:cut], exp[:cut], (prod & after)[:cut], *det, state=st0)
        u2, d2, a2, _ = detect_cusum(days[cut:], y[cut:], exp[cut:], (prod & after)[cut:], *det, state=s1)
        up, down, alarm = np.concatenate([u1, u2]), np.concatenate([d1, d2]), np.concatenate([a1, a2])
        if states_out is not None and state_day is not None:
            done = after[:cut]
            s1.cusum = float(cusum[:cut][done][-1]) if done.any() else (st0.cusum if st0 is not None else 0.0)
            states_out[scope] = s1
        for i in np.flatnonzero(alarm):
            direction = "up" if up[i] > h else "down"
            issues.append(Issue("ecm.baseline.drift",
                                f"{scope[0]} {scope[1]}: energy drifted {direction} from its baseline past "
                                f"h = {h:g} σ (CUSUM, k = {k:g} σ) on {days[i]}",
                                {"scope": scope[0], "scope_id": scope[1], "enterprise": ent, "day": days[i].isoformat(),
                                 "direction": direction, "sigma_long_tce": model.sigma_long}))
        if not len(days):
            continue
        n_ = len(days)
        rows.append({
            "day": days, "scope": np.full(n_, scope[0], object), "scope_id": np.full(n_, scope[1], object),
            "enterprise": np.full(n_, ent, object), "line": np.full(n_, scope[1] if scope[0] == "line" else "", object),
            "energy_tce": y, "expected_tce": exp,
            "residual_tce": res, "cusum_tce": cusum, "drift_up": up, "drift_down": down,
            "drift_alarm": alarm.astype(int), "production": prod.astype(int),
            "model_kind": np.full(n_, model.kind, object), "valid": np.full(n_, int(model.valid)),
            "completeness_frac": f["completeness_frac"].to_numpy(float)})
    daily = pd.DataFrame({c: np.concatenate([r[c] for r in rows]) for c in rows[0]}) if rows else pd.DataFrame()
    return daily, pd.DataFrame(models, columns=MODEL_COLUMNS), issues


def _detect(days, y, exp, mask, sigma, restarts, k, h, relearn_days):
    """Two-sided tabular CUSUM on (y − level·exp)/σ over ``mask`` days; restarts pause detection
    for ``relearn_days`` and re-estimate the level. Returns (S⁺, S⁻, alarm)."""
    up, down, alarm, _ = detect_cusum(days, y, exp, mask, sigma, restarts, k, h, relearn_days)
    return up, down, alarm


@dataclass
class DetectState:
    """Where :func:`detect_cusum` stopped, so that a later run can continue from the next day
    with the same results as one pass over the whole history (incremental nightly runs).

    ``last_day``: the last day processed (restarts on or before it were applied); ``sp``/``sn``:
    S⁺/S⁻; ``level``: the learnt level (actual ÷ expected) detection compares with;
    ``learn_until``: while relearning, the first day detection resumes, with the running sums
    ``learn_y``/``learn_e``; ``cusum``: Σ (actual − expected) so far (for :func:`cusum_continue`)."""

    last_day: date | None = None
    sp: float = 0.0
    sn: float = 0.0
    level: float = 1.0
    learn_until: date | None = None
    learn_y: float = 0.0
    learn_e: float = 0.0
    cusum: float = 0.0


class MissingState(KeyError):
    """An incremental :func:`baseline_daily` found a scope without a carried state (run in full)."""


def detect_cusum(days, y, exp, mask, sigma, restarts, k, h, relearn_days,
                 state: DetectState | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, DetectState]:
    """:func:`_detect` continuing from ``state`` (None: a fresh start). ``days`` must all be after
    ``state.last_day``; restarts on or before it are taken as already applied. Returns
    (S⁺, S⁻, alarm, the state after the last day) — a history cut anywhere and run in two calls
    gives the same arrays as one call."""
    n = len(days)
    up, down, alarm = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool)
    st = DetectState() if state is None else DetectState(**vars(state))
    if not np.isfinite(sigma) or sigma <= 0:
        if n:
            st.last_day = days[-1]
        return up, down, alarm, st
    sp, sn, level = st.sp, st.sn, st.level
    learn_until, learn_y, learn_e = st.learn_until, st.learn_y, st.learn_e
    days, y, exp, mask = list(days), np.asarray(y, float).tolist(), np.asarray(exp, float).tolist(), list(mask)
    r_iter = iter([r for r in restarts if st.last_day is None or r > st.last_day])
    nxt = next(r_iter, None)
    for i in range(n):
        d = days[i]
        while nxt is not None and d >= nxt:
            learn_until, learn_y, learn_e, sp, sn = nxt + timedelta(days=relearn_days), 0.0, 0.0, 0.0, 0.0
            nxt = next(r_iter, None)
        if not mask[i]:
            continue
        if learn_until is not None and d < learn_until:
            learn_y += y[i]
            learn_e += exp[i]
            continue
        if learn_until is not None:
            level = learn_y / learn_e if learn_e > 0 else 1.0
            learn_until = None
        z = (y[i] - level * exp[i]) / sigma
        sp, sn = max(0.0, sp + z - k), max(0.0, sn - z - k)
        up[i], down[i] = sp, sn
        if sp > h or sn > h:  # one alarm per episode: the drifted level becomes the new normal
            alarm[i] = True
            learn_until, learn_y, learn_e, sp, sn = d + timedelta(days=relearn_days), 0.0, 0.0, 0.0, 0.0
    if n:
        st.last_day = days[-1]
    st.sp, st.sn, st.level, st.learn_until, st.learn_y, st.learn_e = sp, sn, level, learn_until, learn_y, learn_e
    return up, down, alarm, st


def cusum_continue(residual: np.ndarray, after: np.ndarray, start: float = 0.0) -> np.ndarray:
    """Σ residual over the ``after`` days (NaN before), continuing from ``start`` (the last stored
    ``cusum_tce``); sequential like ``np.cumsum`` over the whole history, so results are equal."""
    r = np.where(after, np.asarray(residual, float), 0.0)
    c = np.cumsum(np.concatenate([[float(start)], r]))[1:]
    return np.where(after, c, np.nan)


# -- savings per measure ---------------------------------------------------------------------------------
SAVINGS_COLUMNS = ["level", "measure", "enterprise", "line", "date", "kind", "description", "baseline_start",
                   "baseline_end", "reporting_start", "reporting_end", "days", "model_kind", "valid", "r2",
                   "cv_rmse", "trend_per_year", "expected_tce", "actual_tce", "adjustment_tce", "savings_tce", "savings_frac",
                   "fsu68", "fsu90", "u68_tce", "u90_tce", "low90_tce", "high90_tce", "co2_per_tce",
                   "savings_co2_t", "u90_co2_t", "significant"]


def _co2_ratio(co2, ent: str, d0: date, d1: date) -> float:
    """tCO₂ per tce of an enterprise: a fixed figure, Σ co2_t ÷ Σ energy_tce over [d0, d1] of a
    daily frame (``day``, ``enterprise``, ``energy_tce``, ``co2_t``), or ``co2(ent, d0, d1)``."""
    if callable(co2):
        return float(co2(ent, d0, d1))
    if isinstance(co2, pd.DataFrame):
        g = co2[(co2["enterprise"] == ent) & (co2["day"] >= d0) & (co2["day"] <= d1)]
        tce = g["energy_tce"].sum()
        return float(g["co2_t"].sum() / tce) if tce > 0 else math.nan
    return float(co2.get(ent, math.nan))


BLOCK_DAYS = 30                # savings uncertainty on 30-day sums (the Guideline's monthly setting)
TREND_MIN_BLOCKS = 18          # baseline-stability test needs ≥ 18 blocks (1.5 years) before the measure


def _overlaps(a: dict, b: dict) -> bool:
    """Two measures act on the same scope: same enterprise and the same line or either enterprise-wide."""
    if a["enterprise"] != b["enterprise"]:
        return False
    la, lb = a.get("line") or "", b.get("line") or ""
    return not la or not lb or la == lb


def _reporting_end(ms: dict, measures: list[dict], last_day: date) -> date:
    """A measure's reporting period ends the day before the next measure on the same scope
    (IPMVP: savings of one measure are not mixed with the next one's), else at ``last_day``."""
    d = _as_date(ms["date"])
    nxt = [_as_date(m["date"]) for m in measures if m["id"] != ms["id"] and _overlaps(m, ms) and _as_date(m["date"]) > d]
    return min([last_day, *(x - timedelta(days=1) for x in nxt)])


def _blocks(f: pd.DataFrame, model: Model, d0: date, d1: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(residual, expected, start day index) sums per whole ``BLOCK_DAYS`` block of [d0, d1]."""
    w = f[(f.index >= d0) & (f.index <= d1)]
    if w.empty:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    X, prod = _X(w, model)
    e = model.expected(X, prod)
    k = np.array([(x - d0).days // BLOCK_DAYS for x in w.index])
    full = np.bincount(k) == BLOCK_DAYS
    r_b = np.bincount(k, weights=w["energy_tce"].to_numpy(float) - e)[full]
    e_b = np.bincount(k, weights=e)[full]
    return r_b, e_b, np.flatnonzero(full) * BLOCK_DAYS


def block_uncertainty_terms(f: pd.DataFrame, model: Model, b0: date, b1: date) -> tuple | None:
    """The baseline part of the ASHRAE 14 Annex B savings uncertainty, on 30-day blocks of
    [b0, b1]: ``(CV_b, n, n′, p)``, or None when it cannot be computed (n − p < 2, Σ expected ≤ 0,
    n′ ≤ p). It depends only on the baseline period, so a nightly run carries it."""
    r_b, e_b, _ = _blocks(f, model, b0, b1)
    n, p = len(r_b), model.p
    if n - p < 2 or e_b.mean() <= 0:
        return None
    cv = math.sqrt(float(r_b @ r_b) / (n - p)) / float(e_b.mean())
    rho = max(lag1_autocorr(r_b), 0.0)        # ASHRAE 14 Annex B: n′ = n (1 − ρ)/(1 + ρ)
    ne = n * (1 - rho) / (1 + rho)
    if ne - p <= 0:
        return None
    return cv, n, ne, p


def block_uncertainty(terms: tuple | None, expected_total: float, m_days: int, confidence: float) -> float:
    """ASHRAE Guideline 14-2014 Annex B: U = t(1−α/2, n′ − p)·1.26·CV_b·√((n/n′)(1+2/n′)/m)·Σ expected,
    m = reporting days / 30 (``terms`` from :func:`block_uncertainty_terms`; None → ∞)."""
    if terms is None:
        return math.inf
    cv, n, ne, p = terms
    t = float(stats.t.ppf(0.5 + confidence / 2, ne - p))
    return t * ASHRAE_FSU_FACTOR * cv * math.sqrt((n / ne) * (1 + 2 / ne) / (m_days / BLOCK_DAYS)) * expected_total


def block_savings_uncertainty(f: pd.DataFrame, model: Model, b0: date, b1: date, expected_total: float,
                              m_days: int, confidence: float) -> float:
    """ASHRAE 14 Annex B savings uncertainty (tce) with the baseline residuals summed over 30-day
    blocks: U = t·1.26·CV_b·√((n/n′)(1+2/n′)/m)·Σ expected, n blocks, m = reporting days / 30.
    The Guideline's formula and its 1.26 factor were derived for monthly data; daily residuals of
    kilns are long-range dependent (fouling since the last shutdown, seasons), which lag-1 ρ of
    daily data misses and 30-day sums capture."""
    return block_uncertainty(block_uncertainty_terms(f, model, b0, b1), expected_total, m_days, confidence)


def baseline_trend(f: pd.DataFrame, model: Model, w0: date, w1: date) -> dict:
    """Baseline stability: OLS of the 30-day residual fraction (Σ residual ÷ Σ expected) on time
    (years) over [w0, w1]; significant when ≥ TREND_MIN_BLOCKS blocks and |t| > t(0.95, n′ − 2),
    n′ adjusted for lag-1 autocorrelation. Returns a, b (per year), cov (ρ-inflated), t, n, dof,
    t0 (day of τ = 0) and ``significant``."""
    out = {"significant": False, "a": 0.0, "b": 0.0, "t": 0.0, "n": 0, "dof": 1.0, "t0": w0,
           "cov": np.zeros((2, 2))}
    r_b, e_b, k = _blocks(f, model, w0, w1)
    n = len(r_b)
    out["n"] = n
    if n < TREND_MIN_BLOCKS:
        return out
    tau = (k + BLOCK_DAYS / 2) / 365.25
    fit = ols(tau[:, None], r_b / e_b)
    rho = max(lag1_autocorr(fit.resid), 0.0)
    ne = n * (1 - rho) / (1 + rho)
    A = np.column_stack([np.ones(n), tau])
    cov = fit.sse / (n - 2) * np.linalg.pinv(A.T @ A) * (n / ne)
    se_b = math.sqrt(cov[1, 1])
    t = fit.coef[1] / se_b if se_b > 0 else 0.0
    dof = max(ne - 2, 1.0)
    out.update(a=float(fit.coef[0]), b=float(fit.coef[1]), cov=cov, t=float(t), dof=dof,
               significant=bool(abs(t) > stats.t.ppf(0.95, dof)))
    return out


@dataclass
class SavingsCarry:
    """What a measure's savings need from its reporting days up to ``last_day`` (a nightly run's
    state day), so that the next run adds only the days after it. IPMVP option C avoided energy
    is a sum over days, so Σ expected (with the baseline-stability trend factor), Σ actual and
    Σ non-routine adjustment add up; the measure's model, its trend (a, b, covariance, fitted on the
    residuals before the measure) and the baseline part of the ASHRAE 14 Annex B uncertainty
    (``terms``: CV_b, n, n′, p of the 30-day blocks of the baseline period) depend only on data
    before the measure. ``tau``: Σ τ of the summed days (for the trend uncertainty at mean τ);
    ``co2_t``/``co2_tce``: Σ tCO₂ and Σ tce of the enterprise's daily frame over them."""

    model: Model
    b0: date
    b1: date
    trend: dict
    terms: tuple | None
    last_day: date
    days: int = 0
    expected: float = 0.0
    actual: float = 0.0
    adjustment: float = 0.0
    tau: float = 0.0
    co2_t: float = 0.0
    co2_tce: float = 0.0

    def to_json(self) -> str:
        import json

        tr = dict(self.trend)
        if "cov" in tr:
            tr["cov"] = np.asarray(tr["cov"], float).tolist()
        if "t0" in tr:
            tr["t0"] = tr["t0"].isoformat()
        d = {k: v for k, v in vars(self).items() if k not in ("model", "trend")}
        d.update(model=model_to_json(self.model), trend=tr, b0=self.b0.isoformat(), b1=self.b1.isoformat(),
                 last_day=self.last_day.isoformat(), terms=list(self.terms) if self.terms is not None else None)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> SavingsCarry:
        import json

        d = json.loads(text)
        tr = d["trend"]
        if "cov" in tr:
            tr["cov"] = np.array(tr["cov"], float)
        if "t0" in tr:
            tr["t0"] = date.fromisoformat(tr["t0"])
        d.update(model=model_from_json(d["model"]), b0=date.fromisoformat(d["b0"]), b1=date.fromisoformat(d["b1"]),
                 last_day=date.fromisoformat(d["last_day"]), terms=tuple(d["terms"]) if d["terms"] is not None else None)
        return cls(**d)


def _co2_sums(co2: tuple, d0: date, d1: date) -> tuple[float, float]:
    """Σ tCO₂, Σ tce over [d0, d1] of one enterprise's ``(days, co2_t, energy_tce)`` arrays."""
    days, c, e = co2
    sel = (days >= d0) & (days <= d1)
    return float(c[sel].sum()), float(e[sel].sum())


def measure_savings(series: dict[tuple, pd.DataFrame], measures: list[dict], *, last_day: date,
                    adjustments: list[dict] | None = None, co2_per_tce: dict[str, float] | pd.DataFrame | None = None,
                    baseline_days: int = 365, carries: dict | None = None, state_day: date | None = None,
                    carries_out: dict | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """Avoided energy per measure from its date to the next measure on the same scope (or
    ``last_day``), with ASHRAE 14 uncertainty and the baseline-stability trend; roll-ups.

    ``measures``: dicts with ``id``, ``enterprise``, ``date``, optional ``line`` (None: the whole
    enterprise), ``kind``, ``description``, ``baseline_start``/``baseline_end`` (default: the
    ``baseline_days`` before the measure). ``co2_per_tce``: enterprise → tCO₂ per tce, or a daily
    frame (``day, enterprise, energy_tce, co2_t``) whose ratio over each reporting period is used. Rows: ``level`` = ``measure``, ``enterprise`` or ``district``.

    Incremental use (a nightly run): a measure with a :class:`SavingsCarry` in ``carries`` (id →
    carry) is not refitted; only its reporting days after the carry's ``last_day`` are read from
    ``series`` and added to the carried sums (a daily ``co2_per_tce`` frame then needs only those
    days too). A measure without one is computed from its series in full. With ``state_day`` and
    ``carries_out`` the carry at the end of ``state_day`` of each measure whose baseline period ends
    by then is stored for the next run (a measure with baseline days after it is refitted each run:
    late data may still change them)."""
    rows, issues = [], []
    co2_per_tce = {} if co2_per_tce is None else co2_per_tce
    co2_of = {}
    if isinstance(co2_per_tce, pd.DataFrame):   # per enterprise once, not a scan of the frame per measure
        co2_of = {e: g for e, g in co2_per_tce.groupby("enterprise", sort=False)}
        co2_arr = {e: (g["day"].to_numpy(object), g["co2_t"].to_numpy(float), g["energy_tce"].to_numpy(float))
                   for e, g in co2_of.items()}
        co2_arr[None] = (np.zeros(0, object), np.zeros(0), np.zeros(0))
    for ms in sorted(measures or [], key=lambda m: (str(m["date"]), m["id"])):
        ent, line = ms["enterprise"], ms.get("line") or ""
        scope = ("line", line) if line else ("enterprise", ent)
        d = _as_date(ms["date"])
        f = series.get(scope)
        base = {"level": "measure", "measure": ms["id"], "enterprise": ent, "line": line, "date": d,
                "kind": ms.get("kind", ""), "description": ms.get("description", "")}
        b1 = _as_date(ms["baseline_end"]) if ms.get("baseline_end") else d - timedelta(days=1)
        b0 = _as_date(ms["baseline_start"]) if ms.get("baseline_start") else b1 - timedelta(days=baseline_days - 1)
        c = (carries or {}).get(ms["id"])
        if c is not None and ((c.b0, c.b1) != (b0, b1) or c.last_day >= last_day or c.b1 > c.last_day):
            c = None
        if c is None and (f is None or d > last_day):
            issues.append(Issue("ecm.baseline.savings_unavailable", f"measure {ms['id']}: no data for "
                                f"{scope[0]} {scope[1]} or not started by {last_day}", {"measure": ms["id"]}))
            continue
        if f is None:   # carried, no new day
            f = pd.DataFrame(columns=["energy_tce", *(f"x:{r}" for r in c.model.regressors)], dtype=float)
        model = fit_model(f, scope, ent, b0, b1, purpose=f"measure:{ms['id']}") if c is None else c.model
        if model.kind == "none" or model.coverage < MIN_COVERAGE_FRAC:
            issues.append(Issue("ecm.baseline.savings_data_insufficient", f"measure {ms['id']}: baseline "
                                f"{b0}..{b1} unusable: " + "; ".join(model.reasons), {"measure": ms["id"]}))
            rows.append({**base, "baseline_start": b0, "baseline_end": b1, "model_kind": "none", "valid": False})
            if carries_out is not None and state_day is not None and b1 <= state_day:
                carries_out[ms["id"]] = SavingsCarry(model, b0, b1, {}, None, state_day)
            continue
        if not model.valid:
            issues.append(Issue("ecm.baseline.model_invalid", f"measure {ms['id']}: regression rejected ("
                                + "; ".join(model.reasons) + "); ratio EnPI fallback used",
                                {"measure": ms["id"], "reasons": model.reasons}))
        r_end = _reporting_end(ms, measures, last_day)
        r0 = d if c is None else max(d, c.last_day + timedelta(days=1))
        r = f[(f.index >= r0) & (f.index <= r_end)]
        X, prod = _X(r, model)
        exp = model.expected(X, prod)
        if c is None:
            # baseline stability (pre-measure trend of the residuals, ISO 50015 / IPMVP routine adjustment)
            prev = max([_as_date(m["date"]) + timedelta(days=RELEARN_DAYS) for m in measures
                        if m["id"] != ms["id"] and _overlaps(m, ms) and _as_date(m["date"]) < d], default=date.min)
            trend = baseline_trend(f, model, max(prev, f.index.min()), b1)
            terms = block_uncertainty_terms(f, model, b0, b1)   # ASHRAE 14 Annex B, baseline part
            c0 = SavingsCarry(model, b0, b1, trend, terms, d - timedelta(days=1))
        else:
            trend, terms, c0 = c.trend, c.terms, c
        u_trend = {cf: 0.0 for cf in CONFIDENCES}
        tau = np.zeros(len(r))
        days = c0.days + len(r)
        if trend["significant"]:
            tau = np.array([(x - trend["t0"]).days / 365.25 for x in r.index], float)
            exp = exp * (1 + trend["a"] + trend["b"] * tau)
        scale, delta = _adjustment(r, [a for a in adjustments or [] if _as_date(a["date"]) >= d], scope, ent)
        adj = exp * (scale - 1) + delta
        y = r["energy_tce"].to_numpy(float)
        # IPMVP option C: Σ over the reporting days (the carried days' sums plus the new days')
        e_tot, a_tot, adj_tot = c0.expected + float(exp.sum()), c0.actual + float(y.sum()), c0.adjustment + float(adj.sum())
        if trend["significant"]:   # trend uncertainty at the reporting period's mean τ, added in quadrature
            tm = (c0.tau + float(tau.sum())) / days if days else 0.0
            cov = trend["cov"]
            se = math.sqrt(max(cov[0, 0] + 2 * tm * cov[0, 1] + tm * tm * cov[1, 1], 0.0))
            u_trend = {cf: float(stats.t.ppf(0.5 + cf / 2, trend["dof"])) * se * e_tot for cf in CONFIDENCES}
            issues.append(Issue("ecm.baseline.trend_adjusted",
                                f"measure {ms['id']}: the energy performance drifted {trend['b']:+.2%}/year before the "
                                f"measure (t = {trend['t']:.1f}, {trend['n']} 30-day blocks); the baseline is extrapolated "
                                "with that trend and its uncertainty", {"measure": ms["id"], "per_year": trend["b"]}))
        sav = e_tot + adj_tot - a_tot
        frac = sav / (e_tot + adj_tot) if e_tot + adj_tot else math.nan
        u = {cf: math.hypot(block_uncertainty(terms, e_tot + adj_tot, days, cf), u_trend[cf]) for cf in CONFIDENCES}
        fsu = {cf: u[cf] / abs(sav) if sav else math.inf for cf in CONFIDENCES}
        co2 = co2_of.get(ent, co2_per_tce.iloc[:0]) if isinstance(co2_per_tce, pd.DataFrame) else co2_per_tce
        co2_new = (0.0, 0.0)
        if c is None:
            cpt = _co2_ratio(co2, ent, d, r_end)
        elif isinstance(co2, pd.DataFrame):
            co2_new = _co2_sums(co2_arr.get(ent, co2_arr[None]), r0, r_end)
            tce = c.co2_tce + co2_new[1]
            cpt = (c.co2_t + co2_new[0]) / tce if tce > 0 else math.nan
        else:
            cpt = _co2_ratio(co2, ent, d, r_end)
        # a carry only when the measure's baseline lies wholly in the carried (final) days
        if carries_out is not None and state_day is not None and b1 <= state_day:
            sel = np.array([x <= state_day for x in r.index], bool)
            k1 = sel.sum()
            co2_old = _co2_sums(co2_arr.get(ent, co2_arr[None]), r0, min(state_day, r_end)) \
                if isinstance(co2, pd.DataFrame) else (0.0, 0.0)
            carries_out[ms["id"]] = SavingsCarry(
                model, b0, b1, trend, terms, state_day, days=int(c0.days + k1), expected=c0.expected + float(exp[sel].sum()),
                actual=c0.actual + float(y[sel].sum()), adjustment=c0.adjustment + float(adj[sel].sum()),
                tau=c0.tau + float(tau[sel].sum()), co2_t=c0.co2_t + co2_old[0], co2_tce=c0.co2_tce + co2_old[1])
        rows.append({**base, "baseline_start": b0, "baseline_end": b1, "reporting_start": d,
                     "reporting_end": r_end, "days": days, "model_kind": model.kind, "valid": model.valid,
                     "r2": model.r2, "cv_rmse": model.cv_rmse, "trend_per_year": trend["b"] if trend["significant"] else 0.0,
                     "expected_tce": e_tot, "actual_tce": a_tot,
                     "adjustment_tce": adj_tot, "savings_tce": sav, "savings_frac": frac, "fsu68": fsu[0.68],
                     "fsu90": fsu[0.90], "u68_tce": u[0.68], "u90_tce": u[0.90], "low90_tce": sav - u[0.90],
                     "high90_tce": sav + u[0.90], "co2_per_tce": cpt, "savings_co2_t": sav * cpt,
                     "u90_co2_t": u[0.90] * cpt, "significant": bool(fsu[0.68] < SIGNIFICANT_FSU68)})
        if not fsu[0.68] < SIGNIFICANT_FSU68:
            issues.append(Issue("ecm.baseline.savings_not_significant",
                                f"measure {ms['id']}: savings {sav:.1f} tce ± {u[0.68]:.1f} (68 %) — uncertainty "
                                "≥ 50 % of the savings (ASHRAE 14)", {"measure": ms["id"]}))
    df = pd.DataFrame(rows, columns=SAVINGS_COLUMNS)
    return _rollup(df), issues


def _rollup(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[df["savings_tce"].notna()]
    if ok.empty:
        return df

    def agg(g: pd.DataFrame, level: str, ent: str) -> dict:
        sav = g["savings_tce"].sum()
        row = {"level": level, "measure": "", "enterprise": ent, "line": "", "days": int(g["days"].max()),
               "expected_tce": g["expected_tce"].sum(), "actual_tce": g["actual_tce"].sum(),
               "adjustment_tce": g["adjustment_tce"].sum(), "savings_tce": sav,
               "u68_tce": math.sqrt((g["u68_tce"] ** 2).sum()), "u90_tce": math.sqrt((g["u90_tce"] ** 2).sum()),
               "savings_co2_t": g["savings_co2_t"].sum(min_count=1),
               "u90_co2_t": math.sqrt((g["u90_co2_t"] ** 2).sum()) if g["u90_co2_t"].notna().all() else math.nan}
        row["low90_tce"], row["high90_tce"] = sav - row["u90_tce"], sav + row["u90_tce"]
        row["fsu68"] = row["u68_tce"] / abs(sav) if sav else math.inf
        row["fsu90"] = row["u90_tce"] / abs(sav) if sav else math.inf
        row["significant"] = bool(row["fsu68"] < SIGNIFICANT_FSU68)
        row["savings_frac"] = sav / (row["expected_tce"] + row["adjustment_tce"])
        return row

    extra = [agg(g, "enterprise", ent) for ent, g in ok.groupby("enterprise", sort=True)]
    extra.append(agg(ok, "district", "_district"))
    return pd.concat([df, pd.DataFrame(extra)], ignore_index=True)[SAVINGS_COLUMNS]
