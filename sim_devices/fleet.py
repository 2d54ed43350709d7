"""Fleet parameters (fleets/*.yaml) and the scaled registry for ``--enterprises N``.

The fleet YAML is keyed by the registry's enterprise, line and meter ids. An enterprise beyond
the default 20 (``e021``, ``e022``, ...) clones default enterprise ``(N - 1) % 20`` with its ids
renamed and its size, unit energies and retrofit dates varied (deterministic per new id).
"""
from __future__ import annotations

import copy
import re
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from sim_devices import rng

FLEETS_DIR = Path(__file__).resolve().parent / "fleets"
AUX_RE = re.compile(r"_aux\d+_elec$")


@lru_cache(maxsize=4)
def load_fleet(path: Path | None = None) -> dict:
    """The fleet YAML (default: fleets/default.yaml) as a dict."""
    return yaml.safe_load(Path(path or FLEETS_DIR / "default.yaml").read_text(encoding="utf-8"))


def _rename(obj, old: str, new: str):
    if isinstance(obj, dict):
        return {_rename(k, old, new): _rename(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rename(v, old, new) for v in obj]
    if isinstance(obj, str) and (obj == old or obj.startswith(old + "_")):
        return new + obj[len(old):]
    return obj


def clone_template(enterprise_id: str, fleet: dict) -> tuple[str, dict] | None:
    """(template id, variation) for a scaled enterprise id, None for a fleet enterprise.

    variation: cap_factor (size), ue_factor (unit energy), shift_days (retrofit dates)."""
    if enterprise_id in fleet["enterprises"]:
        return None
    m = re.fullmatch(r"e(\d{3,})", enterprise_id)
    ids = list(fleet["enterprises"])
    if not m:
        return ids[0], {"cap_factor": 1.0, "ue_factor": 1.0, "shift_days": 0}
    n = int(m.group(1))
    k = rng.key_of(0, "clone", enterprise_id)
    return ids[(n - 1) % len(ids)], {
        "cap_factor": round(0.7 + 0.6 * rng.uniform1(k, 1), 3),
        "ue_factor": round(0.94 + 0.12 * rng.uniform1(k, 2), 3),
        "shift_days": int(rng.uniform1(k, 3) * 360) - 180,
    }


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def enterprise_config(enterprise_id: str, fleet: dict | None = None) -> dict:
    """Simulation parameters of one enterprise (defaults merged, clones renamed and varied)."""
    fleet = fleet or load_fleet()
    clone = clone_template(enterprise_id, fleet)
    if clone is None:
        return _merge(fleet.get("defaults", {}), fleet["enterprises"][enterprise_id])
    tid, var = clone
    cfg = _rename(_merge(fleet.get("defaults", {}), fleet["enterprises"][tid]), tid, enterprise_id)
    cf, uf = var["cap_factor"], var["ue_factor"]
    for ln in cfg.get("lines", {}).values():
        for m in [*ln.get("meters", {}).values(), ln.get("unmetered_elec") or {}]:
            if "per_unit" in m:
                m["per_unit"] = m["per_unit"] * uf
    plant = cfg.get("plant") or {}
    for m in [*plant.get("meters", {}).values(), plant.get("unmetered_elec") or {}]:
        if "per_day" in m:
            m["per_day"] = m["per_day"] * cf * uf
    for k in ("base_kw", "pv_kwp"):
        if k in cfg:
            cfg[k] = cfg[k] * cf
    for r in cfg.get("retrofits", []) + list(cfg.get("waste_heat", {}).values()):
        for dk in ("date", "since"):
            if dk in r:
                r[dk] = (date.fromisoformat(str(r[dk])) + timedelta(days=var["shift_days"])).isoformat()
    cfg["replacements"] = []
    cfg["_clone"] = {"template": tid, **var}
    return cfg


def scaled_registry(base: dict, n_enterprises: int, meters_per_enterprise: int | None = None,
                    fleet: dict | None = None) -> dict:
    """A registry mapping with ``n_enterprises``: the base ones first (truncated when fewer are
    asked), then clones ``e021``, ``e022``, ... of them with capacity and max rates scaled.
    ``meters_per_enterprise`` pads each enterprise with electricity sub-meters ``{E}_auxNN_elec``
    (workshops inside elec_main) up to that many meters."""
    fleet = fleet or load_fleet()
    base_ents = base["enterprises"]
    by_id = {e["id"]: e for e in base_ents}
    out = []
    for i in range(n_enterprises):
        if i < len(base_ents):
            out.append(copy.deepcopy(base_ents[i]))
            continue
        nid = f"e{i + 1:03d}"
        tid, var = clone_template(nid, fleet)
        ent = _rename(copy.deepcopy(by_id[tid]), tid, nid)
        ent["name_en"] = f"{ent['name_en']} (sim clone {nid})"
        ent["name_zh"] = f"{ent['name_zh']}（模拟{nid}）"
        for ln in ent.get("lines", []):
            ln["capacity"]["value"] = round(ln["capacity"]["value"] * var["cap_factor"], 1)
        for ms in ent.get("measures", []) + ent.get("adjustments", []):  # as the clone's retrofit dates
            ms["date"] = (date.fromisoformat(str(ms["date"])) + timedelta(days=var["shift_days"])).isoformat()
        for m in ent["meters"]:
            if m.get("max_rate_per_h"):
                m["max_rate_per_h"] = round(m["max_rate_per_h"] * var["cap_factor"] * max(1.0, var["ue_factor"]), 3)
        out.append(ent)
    if meters_per_enterprise:
        for ent in out:
            n_aux = meters_per_enterprise - len(ent["meters"])
            main = next((m for m in ent["meters"] if m["carrier"] == "electricity" and m["kind"] == "counter"
                         and m.get("role", "main") == "main"), None)
            cap = (main or {}).get("max_rate_per_h") or 1000.0
            for k in range(max(n_aux, 0)):
                ent["meters"].append({"id": f"{ent['id']}_aux{k + 1:02d}_elec", "carrier": "electricity",
                                      "unit": "kwh", "kind": "counter", "line": None, "role": "sub",
                                      "interval_s": 900, "register_digits": 8,
                                      "max_rate_per_h": round(cap, 3)})
    return {**copy.deepcopy({k: v for k, v in base.items() if k != "enterprises"}), "enterprises": out}
