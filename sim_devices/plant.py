"""One enterprise's physical model: hourly consumption and production of every meter.

Pure: ``EnterpriseSim(enterprise, cfg, seed).hourly(n_days)`` returns, for each counter meter,
an array ``[n_days, 24]`` of the quantity consumed or produced in each Beijing hour (in the
meter's unit: kWh, m³, t, kg, GJ, m², pcs, ...), from the simulator epoch (calendar.EPOCH_DAY).
Gauges get their hourly mean (kW, °C). Nothing here depends on the simulated window.

Line energy per hour (meter unit), see kiln.py:
``per_unit * eff * (fixed_frac * P_ref * on * (1 + startup_extra * startup) + (1 - fixed_frac) * P_day * on / Σon)``
with output rate ``P = capacity/24 * load * on_output``. ``eff`` = drift since last shutdown ×
ageing × dated retrofit factors. elec_main (purchased grid kWh) = Σ line electricity (sub-meters
and unmetered) + rest-of-plant base load − PV self-generation, never below zero (export is not
metered by the import register).
"""
from __future__ import annotations

from datetime import date

import numpy as np

from ecm.registry import Enterprise
from sim_devices import rng
from sim_devices.calendar import (SCHEDULES, CalendarParams, day_index, order_load, shutdown_mask,
                                  workday_mask)
from sim_devices.fleet import AUX_RE
from sim_devices.kiln import drift_factor, kiln_days
from sim_devices.pv import pv_hourly

#: hourly noise (fraction, triangular) of output and energy, daily noise (fraction) of energy
HOURLY_NOISE = 0.06
DAILY_NOISE = 0.025
OFFICE = np.array([0] * 8 + [1] * 10 + [0] * 6, dtype=float)
DAYS_PER_MONTH = 365.25 / 12


def retrofit_list(enterprise_id: str, cfg: dict) -> list[dict]:
    """The enterprise's retrofits, each with an ``id`` (given, else ``{enterprise}_r{n}``)."""
    return [{**r, "id": r.get("id") or f"{enterprise_id}_r{i + 1}"} for i, r in enumerate(cfg.get("retrofits", []))]


def _didx(value) -> int:
    return day_index(date.fromisoformat(str(value)))


class EnterpriseSim:
    """Hourly model of one enterprise. ``cfg`` is ``fleet.enterprise_config(enterprise.id)``."""

    def __init__(self, enterprise: Enterprise, cfg: dict, seed: int, *, drifts=(), without: frozenset | set = frozenset()):
        """``drifts``: (line, fraction per month, first day) efficiency-loss faults (faults.py);
        ``without``: retrofit ids left out (the counterfactual of those measures)."""
        self.ent, self.cfg, self.seed = enterprise, cfg, int(seed)
        self.cal = CalendarParams.from_dict(cfg.get("calendar", {}))
        self.drifts = list(drifts)
        self.without = set(without)

    def retrofits(self) -> list[dict]:
        """The retrofits in force (ids: ``id`` or ``{enterprise}_r{n}``), minus ``without``."""
        return [r for r in retrofit_list(self.ent.id, self.cfg) if r["id"] not in self.without]

    def key(self, *names) -> int:
        return rng.key_of(self.seed, self.ent.id, *names)

    # -- building blocks -------------------------------------------------------------------
    def _noise(self, name: str, n_days: int, sigma: float) -> np.ndarray:
        flat = np.arange(n_days * 24).reshape(n_days, 24)
        return 1.0 + sigma * rng.tri(self.key(name, "h"), flat) * 2.45  # std ≈ sigma

    def _eff(self, meter_id: str, off: np.ndarray, drift: float, aging: float, line_id: str | None = None) -> np.ndarray:
        n = len(off)
        years = (np.arange(n) - _didx("2022-01-01")) / 365.25
        eff = drift_factor(off, drift) * (1 + aging * np.clip(years, 0, None))
        for lid, rate, start in self.drifts:  # efficiency-loss fault: + rate per month since start
            if lid == line_id:
                eff = eff * (1 + rate * np.clip(np.arange(n) - _didx(start), 0, None) / DAYS_PER_MONTH)
        for r in self.retrofits():
            f = (r.get("scale") or {}).get(meter_id)
            if f is not None:
                eff = eff * np.where(np.arange(n) >= _didx(r["date"]), f, 1.0)
        return eff

    def _line_hourly(self, n: int, line_id: str | None, lcfg: dict, cap_h: float, off, work, load):
        """(output [n,24] per hour, {meter or '_unmetered_elec': [n,24]}) for one line or the plant."""
        proc = ((~off) & work)[:, None] * SCHEDULES[lcfg.get("process", "continuous")][None, :]
        kind = lcfg.get("kiln", "none")
        if kind == "continuous":
            kd = kiln_days(off, lcfg.get("ramp_up_days", 3), lcfg.get("ramp_down_days", 1))
            kiln_on = np.repeat(kd.heat_frac[:, None], 24, axis=1)
            out_on, startup = np.repeat(kd.output_frac[:, None], 24, axis=1), kd.startup
        else:
            kiln_on, out_on, startup = proc, proc, np.zeros(n)
        lkey = line_id or "plant"
        P = cap_h * load[:, None] * out_on * self._noise(f"{lkey}/output", n, 0.03)
        P_day = P.sum(axis=1)
        P_ref = cap_h * lcfg.get("ref_load", 0.85)
        res = {}
        specs = dict(lcfg.get("meters", {}))
        if lcfg.get("unmetered_elec"):
            specs["_unmetered_elec"] = {"follows": "process", **lcfg["unmetered_elec"]}
        for mid, spec in specs.items():
            on = kiln_on if spec.get("follows", "process") == "kiln" else proc
            n_on = on.sum(axis=1)
            f = spec.get("fixed_frac", 0.2)
            boost = 1 + spec.get("startup_extra", 0.5) * startup[:, None] if spec.get("follows") == "kiln" else 1.0
            var = (1 - f) * P_day[:, None] * on / np.where(n_on > 0, n_on, 1)[:, None]
            per = spec.get("per_unit", spec.get("per_day"))
            eff = self._eff(f"{line_id}/{mid}" if mid.startswith("_") else mid, off,
                            spec.get("drift_per_year", self.cfg.get("drift_per_year", 0.02)),
                            spec.get("aging_per_year", self.cfg.get("aging_per_year", 0.0)), line_id)
            daily = 1 + DAILY_NOISE * 2.45 * rng.tri(self.key(f"{lkey}/{mid}", "d"), np.arange(n))
            res[mid] = per * (eff * daily)[:, None] * (f * P_ref * on * boost + var) * self._noise(f"{lkey}/{mid}", n, HOURLY_NOISE)
        return P, res

    # -- the enterprise --------------------------------------------------------------------
    def hourly(self, n_days: int) -> dict[str, np.ndarray]:
        """{meter id: [n_days, 24]} from the epoch; counters: quantity per hour, gauges: hourly mean."""
        n, cfg = n_days, self.cfg
        off = shutdown_mask(self.cal, self.key("calendar"), n)
        work = workday_mask(self.cal, n)
        load = order_load(cfg.get("load", {}), self.key("load"), n)
        meters = {m.id: m for m in self.ent.meters}
        out: dict[str, np.ndarray] = {}
        unmetered = np.zeros((n, 24))
        lines = {ln.id: ln for ln in self.ent.lines}
        heat = np.zeros((n, 24))
        self.line_output: dict[str, np.ndarray] = {}
        self.plant_activity: np.ndarray | None = None
        for lid, ln in lines.items():
            lcfg = cfg.get("lines", {}).get(lid, {})
            P, res = self._line_hourly(n, lid, lcfg, ln.capacity.value / 24.0, off, work, load)
            self.line_output[lid] = P.sum(axis=1)
            if lcfg.get("kiln", "none") == "continuous":
                heat = np.maximum(heat, np.repeat(kiln_days(off).heat_frac[:, None], 24, axis=1))
            for m in self.ent.meters:
                if m.line == lid and m.carrier == "output" and m.kind == "counter":
                    out[m.id] = P
            unmetered += res.pop("_unmetered_elec", 0.0)
            out.update({k: v for k, v in res.items() if k in meters})
        pcfg = cfg.get("plant")
        if pcfg:
            n_on_h = SCHEDULES[pcfg.get("process", "continuous")].sum()
            P, res = self._line_hourly(n, None, pcfg, 1.0 / n_on_h, off, work, load)
            self.plant_activity = P.sum(axis=1)
            unmetered += res.pop("_unmetered_elec", 0.0)
            out.update({k: v for k, v in res.items() if k in meters})
        for sw in [r for r in self.retrofits() if "switch" in r]:
            s = sw["switch"]
            if s["from"] in out and s["to"] in out:
                after = (np.arange(n) >= _didx(sw["date"]))[:, None]
                out[s["to"]] = out[s["to"]] + np.where(after, out[s["from"]] * s["ratio"], 0.0)
                out[s["from"]] = np.where(after, 0.0, out[s["from"]])
        for mid, w in cfg.get("waste_heat", {}).items():
            if mid in meters and w["source"] in out:
                since = (np.arange(n) >= _didx(w["since"]))[:, None]
                out[mid] = np.where(since, out[w["source"]] * w["gj_per_unit"], 0.0) * self._noise(mid, n, 0.04)
        pv = np.zeros((n, 24))
        for m in self.ent.meters:
            if m.carrier == "pv_generation":
                pv = pv_hourly(cfg.get("pv_kwp", 0.0), self.key(m.id), n)
                out[m.id] = pv
        base_shape = np.where(off[:, None], 0.4, (0.8 + 0.2 * OFFICE)[None, :] * np.where(work, 1.0, 0.7)[:, None])
        base = cfg.get("base_kw", 100.0) * base_shape * self._noise("base", n, 0.05)
        aux = [m for m in self.ent.meters if AUX_RE.search(m.id)]
        if aux:
            w = np.array([0.5 + rng.uniform1(self.key(m.id, "share")) for m in aux])
            for m, share in zip(aux, 0.7 * w / w.sum()):
                out[m.id] = base * share * self._noise(m.id, n, 0.05)
            base = base * 0.3 + sum(out[m.id] for m in aux)
        for m in self.ent.meters:  # unconfigured counters: modest constant activity
            if m.kind == "counter" and m.id not in out and m.role == "main" and not (
                    m.carrier == "electricity" and m.line is None):
                out[m.id] = np.full((n, 24), 0.3 * (m.max_rate_per_h or 10.0)) * self._noise(m.id, n, HOURLY_NOISE)
        mains = [m for m in self.ent.meters if m.carrier == "electricity" and m.kind == "counter"
                 and m.role == "main" and m.line is None]
        subs = sum((out[m.id] for m in self.ent.meters if m.role == "sub" and m.carrier == "electricity"
                    and m.id in out and not AUX_RE.search(m.id)), np.zeros((n, 24)))
        grid = np.clip(subs + unmetered + base - pv, 0.0, None)
        for m in mains:
            out[m.id] = grid
        for m in self.ent.meters:
            if m.kind == "gauge":
                out[m.id] = grid if m.quantity == "power_kw" else 25.0 + 1170.0 * heat
        return out
