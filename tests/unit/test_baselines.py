"""ecm.accounting.baselines on hand-built series, checked against statsmodels and by hand."""
from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from ecm.accounting import baselines as bl

D0 = date(2022, 1, 1)


def _series(n_days: int, energy, output, start: date = D0) -> pd.DataFrame:
    idx = [start + timedelta(days=i) for i in range(n_days)]
    return pd.DataFrame({"energy_tce": np.asarray(energy, float), "x:output": np.asarray(output, float),
                         "completeness_frac": 1.0}, index=idx)


def _noise(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, n)


def test_ols_matches_statsmodels():
    x = np.linspace(100, 200, 40) + 10 * np.sin(np.arange(40))
    z = np.cos(np.arange(40) / 3.0)
    y = 5 + 0.3 * x + 2 * z + _noise(40)
    X = np.column_stack([x, z])
    got = bl.ols(X, y)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    np.testing.assert_allclose(got.coef, ref.params, rtol=1e-9)
    np.testing.assert_allclose(got.se, ref.bse, rtol=1e-9)
    np.testing.assert_allclose(got.p_values, ref.pvalues, rtol=1e-6, atol=1e-12)
    assert got.r2 == pytest.approx(ref.rsquared, rel=1e-12)
    assert got.f_pvalue == pytest.approx(ref.f_pvalue, rel=1e-6)


def test_lag1_autocorr_by_hand():
    r = np.array([1.0, -1.0, 1.0, -1.0])
    # mean 0; Σ r_t r_{t-1} = -3; Σ r² = 4
    assert bl.lag1_autocorr(r) == pytest.approx(-0.75)


def test_gates_and_statistics_by_hand():
    """y = 10 + 0.1 x + e on 365 days; CV(RMSE) and NMBE with n − p, as ASHRAE 14 defines them."""
    n = 365
    x = 800 + 200 * np.sin(np.arange(n) * 2 * np.pi / 365) + 30 * _noise(n, 1)
    y = 10 + 0.1 * x + 2 * _noise(n, 2)
    m = bl.fit_model(_series(n, y, x), ("line", "l1"), "e1", D0, date(2022, 12, 31))
    ref = sm.OLS(y, sm.add_constant(x)).fit()
    assert m.kind == "regression" and m.valid, m.reasons
    rmse = math.sqrt((ref.resid ** 2).sum() / (n - 2))
    assert m.rmse == pytest.approx(rmse)
    assert m.cv_rmse == pytest.approx(rmse / y.mean())
    assert m.nmbe == pytest.approx(ref.resid.sum() / ((n - 2) * y.mean()), abs=1e-12)
    assert m.r2 == pytest.approx(ref.rsquared)
    assert m.coverage == 1.0 and m.n == n and m.n_idle == 0


def test_weak_model_falls_back_to_ratio_with_reasons():
    n = 365
    x = 1000 + _noise(n, 3)             # output nearly constant: energy not explained
    y = 100 + 20 * _noise(n, 4)
    m = bl.fit_model(_series(n, y, x), ("line", "l1"), "e1", D0, date(2022, 12, 31))
    assert m.kind == "ratio_fallback" and not m.valid
    text = "; ".join(m.reasons)
    assert "R²" in text and "p(output)" in text
    assert m.ratio == pytest.approx(y.sum() / x.sum())
    exp = m.expected(np.array([[500.0]]), np.array([True]))
    assert exp[0] == pytest.approx(500 * y.sum() / x.sum())


def test_cv_gate_fails_noisy_model():
    n = 365
    x = 500 + 400 * (np.arange(n) % 2)
    y = 0.2 * x + 0.4 * 0.2 * x.mean() * _noise(n, 5)   # CV ≈ 40 % > 30 %
    m = bl.fit_model(_series(n, y, x), ("line", "l1"), "e1", D0, date(2022, 12, 31))
    assert any("CV(RMSE)" in r for r in m.reasons) and m.kind == "ratio_fallback"


def test_coverage_gate():
    n = 300   # 300 of 365 baseline days = 82 % < 90 %
    x = 800 + 100 * _noise(n, 6)
    y = 10 + 0.1 * x + _noise(n, 8)
    m = bl.fit_model(_series(n, y, x), ("line", "l1"), "e1", D0, date(2022, 12, 31))
    assert not m.valid and any("coverage 82%" in r for r in m.reasons)


def test_idle_days_expected_at_idle_mean():
    n = 365
    x = 800 + 100 * _noise(n, 9)
    x[30:40] = 0.0
    y = 10 + 0.1 * x + _noise(n, 10)
    y[30:40] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    m = bl.fit_model(_series(n, y, x), ("line", "l1"), "e1", D0, date(2022, 12, 31))
    assert m.n_idle == 10 and m.idle_mean == pytest.approx(5.5)
    ref = sm.OLS(np.delete(y, range(30, 40)), sm.add_constant(np.delete(x, range(30, 40)))).fit()
    np.testing.assert_allclose(m.coef, ref.params, rtol=1e-9)


def test_weekly_resolution_sums_weeks():
    n = 364
    x = 800 + 100 * _noise(n, 11)
    y = 10 + 0.1 * x + _noise(n, 12)
    start = date(2022, 1, 3)  # a Monday: 52 whole weeks
    m = bl.fit_model(_series(n, y, x, start), ("line", "l1"), "e1", start, start + timedelta(days=n - 1),
                     resolution="weekly")
    ref = sm.OLS(y.reshape(52, 7).sum(1), sm.add_constant(x.reshape(52, 7).sum(1))).fit()
    np.testing.assert_allclose(m.coef, ref.params, rtol=1e-9)
    assert m.n == 52


def test_fsu_by_hand():
    # t(0.95, 97) · 1.26 · 0.1 · sqrt((100/100)(1 + 2/100)/50) / 0.2, no autocorrelation
    from scipy import stats

    t = stats.t.ppf(0.95, 98)
    want = t * 1.26 * 0.1 * math.sqrt(1.02 / 50) / 0.2
    assert bl.fractional_savings_uncertainty(0.1, 100, 2, 0.0, 50, 0.2, 0.90) == pytest.approx(want)
    # ρ = 0.5 → n' = 100/3
    ne = 100 / 3
    t2 = stats.t.ppf(0.84, ne - 2)
    want2 = t2 * 1.26 * 0.1 * math.sqrt((100 / ne) * (1 + 2 / ne) / 50) / 0.2
    assert bl.fractional_savings_uncertainty(0.1, 100, 2, 0.5, 50, 0.2, 0.68) == pytest.approx(want2)


def test_drift_detection_days_by_hand():
    # excess 1σ per day, k = 0.5: S = 0.5, 1.0, ... > 10 after 21 days
    assert bl.drift_detection_days(np.ones(100), 1.0, k=0.5) == 21
    assert bl.drift_detection_days(np.full(100, 0.4), 1.0, k=0.5) is None
    # ramp 0.1 s σ on day s, k = 1, h = 10: S_T = Σ_{s=11..T} (0.1 s − 1); S_23 = 9.1, S_24 = 10.5
    assert bl.drift_detection_days(0.1 * np.arange(1, 100), 1.0, k=1.0, h=10.0) == 24


def _two_years(step_day: int | None = None, step: float = 0.0, drift_per_day: float = 0.0, seed: int = 20):
    n = 730
    x = 800 + 150 * np.sin(np.arange(n) * 2 * np.pi / 365) + 40 * _noise(n, seed)
    e = 10 + 0.1 * x
    y = e * (1 + 0.02 * _noise(n, seed + 1))
    if step_day is not None:
        y[step_day:] -= step * e[step_day:]
    if drift_per_day:
        y[400:] += drift_per_day * np.arange(n - 400) * e.mean()
    return _series(n, y, x), e


def test_no_drift_no_alarm_and_cusum_starts_after_baseline():
    s, _ = _two_years()
    daily, models, issues = bl.baseline_daily({("line", "l1"): s}, {"l1": "e1"})
    assert not [i for i in issues if i.name == "ecm.baseline.drift"]
    d = daily.set_index("day")
    assert d.loc[date(2022, 12, 31), "cusum_tce"] != d.loc[date(2022, 12, 31), "cusum_tce"]  # NaN in baseline
    first = d.loc[date(2023, 1, 1)]
    assert first["cusum_tce"] == pytest.approx(first["energy_tce"] - first["expected_tce"])
    assert models.iloc[0]["valid"]


def test_drift_raises_issue_within_implied_days():
    rate = 0.02 / 30.4375          # 2 %/month of mean energy
    s, e = _two_years(drift_per_day=rate)
    daily, models, issues = bl.baseline_daily({("line", "l1"): s}, {"l1": "e1"})
    drift = [i for i in issues if i.name == "ecm.baseline.drift"]
    assert drift and drift[0].evidence["direction"] == "up"
    sigma = models.iloc[0]["sigma_long_tce"]
    implied = bl.drift_detection_days(rate * np.arange(330) * e.mean(), sigma)
    got = (date.fromisoformat(drift[0].evidence["day"]) - (D0 + timedelta(days=400))).days + 1
    assert 0 < got <= implied + 20, (got, implied)


def test_measure_restarts_detection_and_savings_in_band():
    s, e = _two_years(step_day=500, step=0.10)
    measures = [{"id": "m1", "enterprise": "e1", "line": "l1", "date": (D0 + timedelta(days=500)).isoformat(),
                 "kind": "motor", "description": "motors"}]
    daily, _, issues = bl.baseline_daily({("line", "l1"): s}, {"l1": "e1"}, measures=measures)
    assert not [i for i in issues if i.name == "ecm.baseline.drift"], issues
    sav, iss = bl.measure_savings({("line", "l1"): s}, measures, last_day=D0 + timedelta(days=729),
                                  co2_per_tce={"e1": 2.5})
    row = sav[sav["level"] == "measure"].iloc[0]
    true = 0.10 * e[500:].sum()
    assert row["low90_tce"] <= true <= row["high90_tce"], row
    assert row["savings_co2_t"] == pytest.approx(row["savings_tce"] * 2.5)
    assert row["significant"] and row["valid"]
    assert row["baseline_start"] == D0 + timedelta(days=135) and row["baseline_end"] == D0 + timedelta(days=499)
    dist = sav[sav["level"] == "district"].iloc[0]
    assert dist["savings_tce"] == pytest.approx(row["savings_tce"]) and dist["u90_tce"] == pytest.approx(row["u90_tce"])


def test_non_routine_adjustment_applied():
    s, e = _two_years(step_day=500, step=0.10)
    # a line extension adds 5 tce/day from day 600 on: the adjusted baseline carries it
    s = s.copy()
    s.iloc[600:, 0] += 5.0
    m = [{"id": "m1", "enterprise": "e1", "line": "l1", "date": (D0 + timedelta(days=500)).isoformat()}]
    adj = [{"enterprise": "e1", "line": "l1", "date": (D0 + timedelta(days=600)).isoformat(), "tce_per_day": 5.0,
            "note": "kiln extension"}]
    plain, _ = bl.measure_savings({("line", "l1"): s}, m, last_day=D0 + timedelta(days=729))
    adjusted, _ = bl.measure_savings({("line", "l1"): s}, m, last_day=D0 + timedelta(days=729), adjustments=adj)
    a, p = adjusted.iloc[0], plain.iloc[0]
    assert a["adjustment_tce"] == pytest.approx(5.0 * 130)
    assert a["savings_tce"] - p["savings_tce"] == pytest.approx(5.0 * 130)


def test_rollup_quadrature():
    df = pd.DataFrame([{"level": "measure", "measure": "a", "enterprise": "e1", "days": 10, "expected_tce": 100.0,
                        "actual_tce": 90.0, "adjustment_tce": 0.0, "savings_tce": 10.0, "u68_tce": 3.0,
                        "u90_tce": 3.0, "savings_co2_t": 25.0, "u90_co2_t": 1.0},
                       {"level": "measure", "measure": "b", "enterprise": "e2", "days": 20, "expected_tce": 50.0,
                        "actual_tce": 45.0, "adjustment_tce": 0.0, "savings_tce": 5.0, "u68_tce": 4.0,
                        "u90_tce": 4.0, "savings_co2_t": 10.0, "u90_co2_t": 1.0}], columns=bl.SAVINGS_COLUMNS)
    out = bl._rollup(df)
    d = out[out["level"] == "district"].iloc[0]
    assert d["savings_tce"] == 15.0 and d["u90_tce"] == pytest.approx(5.0) and d["savings_co2_t"] == 35.0
    assert len(out[out["level"] == "enterprise"]) == 2


def test_scope_series_builds_enterprise_mix():
    days = [D0, D0 + timedelta(days=1)]
    ld = pd.DataFrame({"day": days * 2, "enterprise": "e1", "line": ["a", "a", "b", "b"],
                       "energy_tce": [1.0, 2.0, 3.0, 4.0], "output": [10.0, 20.0, 30.0, 40.0]})
    lines = pd.DataFrame({"line": ["a", "b"], "enterprise": ["e1", "e1"]})
    s = bl.scope_series(ld, lines)
    ent = s[("enterprise", "e1")]
    assert list(ent["energy_tce"]) == [4.0, 6.0]
    assert list(ent.columns[:3]) == ["energy_tce", "x:output_a", "x:output_b"]
    assert list(s[("line", "b")]["x:output"]) == [30.0, 40.0]


def test_reporting_period_ends_before_the_next_measure_on_the_scope():
    ms = [{"id": "a", "enterprise": "e1", "line": "l1", "date": "2023-06-01"},
          {"id": "b", "enterprise": "e1", "line": "l1", "date": "2024-09-01"},
          {"id": "c", "enterprise": "e1", "line": "l2", "date": "2024-01-01"},
          {"id": "d", "enterprise": "e1", "line": None, "date": "2025-01-01"}]
    last = date(2026, 8, 31)
    assert bl._reporting_end(ms[0], ms, last) == date(2024, 8, 31)   # b is next on l1; c is on another line
    assert bl._reporting_end(ms[2], ms, last) == date(2024, 12, 31)
    assert bl._reporting_end(ms[3], ms, last) == last


def test_block_uncertainty_by_hand():
    """Residuals +1/−1 tce alternating per 30-day block, 12 blocks: CV_b = √(12/10)/mean block energy."""
    from scipy import stats

    n = 360
    x = np.full(n, 100.0)
    x[::2] = 120.0                          # output varies so the slope is identified
    sign = np.where((np.arange(n) // 30) % 2 == 0, 1.0, -1.0)
    y = 5 + 0.1 * x + sign / 30.0          # +1 / −1 tce summed over each block
    f = _series(n, y, x)
    m = bl.fit_model(f, ("line", "l1"), "e1", D0, D0 + timedelta(days=n - 1))
    r_b, e_b, _ = bl._blocks(f, m, D0, D0 + timedelta(days=n - 1))
    assert len(r_b) == 12
    np.testing.assert_allclose(np.abs(r_b), 1.0, rtol=1e-6)
    cv = math.sqrt(12 / 10) / e_b.mean()
    # ρ of +1,−1,... is negative → n′ = n; t(0.95, 10)
    want = stats.t.ppf(0.95, 10) * 1.26 * cv * math.sqrt((1 + 2 / 12) / 6) * 1000.0
    got = bl.block_savings_uncertainty(f, m, D0, D0 + timedelta(days=n - 1), 1000.0, 180, 0.90)
    assert got == pytest.approx(want, rel=1e-6)


def test_baseline_trend_found_only_when_there_is_one():
    n = 3 * 365
    x = 800 + 100 * np.sin(np.arange(n) * 2 * np.pi / 365) + 30 * _noise(n, 30)
    e = 10 + 0.1 * x
    aged = e * (1 + 0.02 * np.arange(n) / 365.25) * (1 + 0.01 * _noise(n, 31))
    flat = e * (1 + 0.01 * _noise(n, 31))
    last = D0 + timedelta(days=n - 1)
    for y, want in ((aged, True), (flat, False)):
        f = _series(n, y, x)
        m = bl.fit_model(f, ("line", "l1"), "e1", last - timedelta(days=364), last)
        tr = bl.baseline_trend(f, m, D0, last)
        assert tr["significant"] is want and tr["n"] == 36
        if want:
            assert tr["b"] == pytest.approx(0.02 / 1.03, abs=0.003)   # 2 %/yr of the level at mid-baseline


def test_enterprise_scope_pauses_for_a_line_measure():
    s, e = _two_years(step_day=500, step=0.10)
    series = {("line", "l1"): s, ("enterprise", "e1"): s}
    measures = [{"id": "m1", "enterprise": "e1", "line": "l1", "date": (D0 + timedelta(days=500)).isoformat()}]
    _, _, issues = bl.baseline_daily(series, {"l1": "e1", "e1": "e1"}, measures=measures)
    assert not [i for i in issues if i.name == "ecm.baseline.drift"]


@pytest.mark.parametrize("cut", [1, 200, 365, 400, 520, 521, 660, 700, 820, 899])
def test_detection_continued_from_state_equals_one_pass(cut):
    """The incremental nightly run's core: detection (S⁺, S⁻, alarms, relearning after a restart
    or an alarm) and the CUSUM, cut at any day and continued from the carried state, give exactly
    the arrays of one pass over the whole history."""
    rng = np.random.default_rng(11)
    n = 900
    days = [D0 + timedelta(days=i) for i in range(n)]
    exp = 10.0 + rng.normal(0, 0.5, n)
    # a 1.5 %/month drift from day 450 (raises alarms, each followed by relearning) plus noise
    y = exp * (1 + np.where(np.arange(n) > 450, 0.0005 * (np.arange(n) - 450), 0.0)) + rng.normal(0, 0.3, n)
    mask = rng.random(n) > 0.05  # idle days
    after = np.arange(n) >= 365
    mask &= after
    # a restart inside a data gap is applied on the next day with data, in both runs
    restarts = [D0 + timedelta(days=400), D0 + timedelta(days=521)]
    keep = np.ones(n, bool)
    keep[518:523] = False
    days = [d for d, k_ in zip(days, keep) if k_]
    exp, y, mask, after = exp[keep], y[keep], mask[keep], after[keep]
    args = (0.3, restarts, 1.0, 10.0, 120)
    up, down, alarm, _ = bl.detect_cusum(days, y, exp, mask, *args)
    assert alarm.sum() >= 2 and np.isnan(up).sum() > 200   # the case exercises alarms and relearning
    np.testing.assert_array_equal(bl._detect(days, y, exp, mask, *args)[0], up)
    c = min(cut, len(days))
    u1, d1, a1, st = bl.detect_cusum(days[:c], y[:c], exp[:c], mask[:c], *args)
    if c in (660, 820):   # cut while detecting against a relearnt level, with S⁺ > 0
        assert st.learn_until is None and st.level > 1.02 and st.sp > 0
    u2, d2, a2, _ = bl.detect_cusum(days[c:], y[c:], exp[c:], mask[c:], *args, state=st)
    np.testing.assert_array_equal(np.concatenate([u1, u2]), up)
    np.testing.assert_array_equal(np.concatenate([d1, d2]), down)
    np.testing.assert_array_equal(np.concatenate([a1, a2]), alarm)
    res = y - exp
    whole = np.where(after, np.cumsum(np.where(after, res, 0.0)), np.nan)   # as baseline_daily computes it
    first = bl.cusum_continue(res[:c], after[:c])
    start = np.nan_to_num(first[after[:c]][-1]) if after[:c].any() else 0.0
    np.testing.assert_array_equal(np.concatenate([first, bl.cusum_continue(res[c:], after[c:], start)]), whole)


@pytest.mark.parametrize("cut_day", [380, 470, 560, 700])
def test_incremental_baseline_daily_equals_the_full_run(cut_day):
    """A nightly run that carries yesterday's stored state (``states_out`` of the previous run)
    and computes only the days from ``since`` gives the full run's rows for those days: expected,
    residual, CUSUM, S⁺/S⁻ and alarms — across a measure's relearning and a drift alarm."""
    s, _ = _two_years(drift_per_day=0.02 / 30.4375)
    s2, _ = _two_years(step_day=500, step=0.10, seed=31)
    series = {("line", "l1"): s, ("line", "l2"): s2}
    kw = {"measures": [{"id": "m1", "enterprise": "e2", "line": "l2", "date": D0 + timedelta(days=500)}],
          "adjustments": [{"enterprise": "e1", "line": "l1", "date": D0 + timedelta(days=600), "end": None,
                           "note": "kiln added", "tce_per_day": 0.5, "scale": 1.0}]}
    enterprise_of = {"l1": "e1", "l2": "e2"}
    full, _, issues = bl.baseline_daily(series, enterprise_of, **kw)
    assert [i for i in issues if i.name == "ecm.baseline.drift"]   # an alarm and its relearning are in the case
    state_day = D0 + timedelta(days=cut_day)
    states: dict = {}
    prev, _, _ = bl.baseline_daily(series, enterprise_of, state_day=state_day, states_out=states, **kw)
    pd.testing.assert_frame_equal(prev, full)   # asking for the state changes nothing
    since = state_day + timedelta(days=1)
    inc, _, _ = bl.baseline_daily(series, enterprise_of, states=states, since=since, **kw)
    want = full[full["day"] >= since].reset_index(drop=True)
    assert len(inc) == len(want) > 0
    pd.testing.assert_frame_equal(inc, want, check_exact=True)
    with pytest.raises(bl.MissingState):
        bl.baseline_daily(series, enterprise_of, states={("line", "l1"): states[("line", "l1")]}, since=since, **kw)


def _ageing_then_measure(n: int = 900, measure_day: int = 600, seed: int = 5):
    """Energy ageing 4 %/year before a measure that saves 10 % from ``measure_day``."""
    x = 800 + 150 * np.sin(np.arange(n) * 2 * np.pi / 365) + 40 * _noise(n, seed)
    e = (10 + 0.1 * x) * (1 + 0.04 * np.arange(n) / 365.25)
    y = e * (1 + 0.01 * _noise(n, seed + 1))
    y[measure_day:] -= 0.10 * e[measure_day:]
    return _series(n, y, x)


@pytest.mark.parametrize("cut", [610, 700, 790, 880])
def test_carried_savings_equal_the_full_run(cut):
    """IPMVP option C sums carried to the state day (Σ expected with the ASHRAE-14 trend factor,
    Σ actual, Σ adjustment, days, Σ τ, tCO₂ sums) plus the new days give the full run's row; the
    model, trend and the Annex B baseline terms are taken from the carry, not refitted. A measure
    that started after the state day gets no carry (its baseline still has rewritable days)."""
    s = _ageing_then_measure()
    last = D0 + timedelta(days=899)
    measures = [{"id": "m1", "enterprise": "e1", "line": "l1", "date": D0 + timedelta(days=600), "kind": "kiln",
                 "description": "kiln"},
                {"id": "m2", "enterprise": "e1", "line": None, "date": D0 + timedelta(days=850), "kind": "lights",
                 "description": "lights"}]
    adj = [{"enterprise": "e1", "line": "l1", "date": D0 + timedelta(days=760), "end": D0 + timedelta(days=800),
            "tce_per_day": 3.0, "scale": 1.1, "note": "extension"}]
    days = list(s.index)
    co2 = pd.DataFrame({"day": days, "enterprise": "e1", "energy_tce": s["energy_tce"].to_numpy(),
                        "co2_t": 2.0 + np.arange(len(days)) % 7 * s["energy_tce"].to_numpy() / 10})
    series = {("line", "l1"): s, ("enterprise", "e1"): s}
    full, full_iss = bl.measure_savings(series, measures, last_day=last, adjustments=adj, co2_per_tce=co2)
    assert full.loc[0, "trend_per_year"] > 0.02     # the ageing was found and extrapolated
    state_day = D0 + timedelta(days=cut)
    carries: dict = {}
    prev, _ = bl.measure_savings(series, measures, last_day=last - timedelta(days=1), adjustments=adj,
                                 co2_per_tce=co2, state_day=state_day, carries_out=carries)
    assert set(carries) == ({"m1", "m2"} if cut >= 850 else {"m1"})
    carries = {k: bl.SavingsCarry.from_json(c.to_json()) for k, c in carries.items()}   # as stored
    c = carries["m1"]
    assert c.days == min(cut, 849) - 600 + 1 and c.last_day == state_day   # m1 reports until m2
    new = {sc: f[f.index > state_day] for sc, f in series.items()}
    if cut < 850:   # m2 has no carry: it needs its whole history
        new[("enterprise", "e1")] = s
    inc, inc_iss = bl.measure_savings(new, measures, last_day=last, adjustments=adj, co2_per_tce=co2[co2["day"] > state_day]
                                      if cut >= 850 else co2, carries=carries)
    pd.testing.assert_frame_equal(inc, full, check_exact=False, rtol=1e-10)
    assert [i.message for i in inc_iss] == [i.message for i in full_iss]


def test_stored_fit_reused_gives_the_refitted_rows():
    """A nightly run with the stored models (JSON, exact floats) and only the rewritten days gives
    the rows and model rows of the run that refits the baseline period; a scope without new days
    keeps its model row and carries its state."""
    s, _ = _two_years(drift_per_day=0.02 / 30.4375)
    s2, _ = _two_years(seed=31)
    series = {("line", "l1"): s, ("line", "l2"): s2}
    enterprise_of = {"l1": "e1", "l2": "e2"}
    state_day = D0 + timedelta(days=600)
    states, fits = {}, {}
    bl.baseline_daily(series, enterprise_of, state_day=state_day, states_out=states, fits_out=fits)
    fits = {sc: bl.model_from_json(bl.model_to_json(m)) for sc, m in fits.items()}
    full, full_models, _ = bl.baseline_daily(series, enterprise_of)
    since = state_day + timedelta(days=1)
    new = {("line", "l1"): s[s.index >= since]}       # l2 has no day after the state day
    out: dict = {}
    inc, inc_models, _ = bl.baseline_daily(new, enterprise_of, states=states, since=since, fits=fits,
                                           state_day=since, states_out=out)
    want = full[(full["day"] >= since) & (full["scope_id"] == "l1")].reset_index(drop=True)
    pd.testing.assert_frame_equal(inc, want, check_exact=True)
    pd.testing.assert_frame_equal(inc_models, full_models, check_exact=True)
    assert out[("line", "l2")] == states[("line", "l2")]
