"""District registry: enterprises, production lines and meters (config/district.yaml).

Loaded once into frozen pydantic models. A malformed registry fails at start with a
message naming the bad entry (``enterprises[3].meters[2].carrier: ...``).

Meter quantity names follow ``<quantity>_<unit>`` and are the same on the wire (MQTT
``values`` keys), in InfluxDB (field names) and in pandas columns.
"""
from __future__ import annotations

import re
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ecm.errors import RegistryError

ID_RE = r"^[a-z][a-z0-9_]{1,31}$"

#: carrier -> (quantity prefix, allowed units)
CARRIERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "electricity": ("energy", ("kwh",)),
    "natural_gas": ("gas", ("m3",)),
    "coal": ("coal", ("t",)),
    "lpg": ("lpg", ("kg",)),
    "diesel": ("diesel", ("kg",)),
    "steam": ("steam", ("t",)),
    "heat": ("heat", ("gj",)),
    "pv_generation": ("pv", ("kwh",)),
    "waste_heat": ("waste_heat", ("gj",)),
    "output": ("output", ("m2", "t", "pcs", "10k_bricks")),
}
#: gauge units -> quantity
GAUGE_QUANTITIES = {"kw": "power_kw", "c": "temperature_c"}

Industry = Literal[
    "building_ceramics", "sanitary_ceramics", "daily_ceramics", "cement", "brick", "other"
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Capacity(_Frozen):
    value: float = Field(gt=0, description="Design capacity per day, in `unit`.")
    unit: Literal["m2_per_day", "t_per_day", "pcs_per_day", "10k_bricks_per_day"]


class Line(_Frozen):
    id: str = Field(pattern=ID_RE)
    name_zh: str
    name_en: str
    product: str
    product_class: str = Field(description="Key into factors.yaml `benchmarks`.")
    output_unit: Literal["m2", "t", "pcs", "10k_bricks"]
    capacity: Capacity
    commissioned: str | None = None


class Meter(_Frozen):
    id: str = Field(pattern=ID_RE)
    carrier: str
    unit: str
    kind: Literal["counter", "gauge"]
    line: str | None = Field(None, description="Line id; null = plant-wide.")
    role: Literal["main", "sub"] = Field(
        "main", description="main: boundary meter counted in the enterprise total; sub: sub-meter inside a main meter."
    )
    interval_s: int = Field(900, gt=0, description="Reporting interval, seconds.")
    register_digits: int | None = Field(None, ge=3, le=15, description="Counter register width (decimal digits).")
    max_rate_per_h: float | None = Field(None, gt=0, description="Physical maximum per hour in the meter's unit.")
    decommissioned: date | None = Field(
        None, description="First Beijing day the meter is out of service (e.g. a coal meter after a coal-to-gas "
                          "switch); from then on it is not expected to report and quality rules skip it.")

    @model_validator(mode="after")
    def _check(self) -> "Meter":
        if self.carrier not in CARRIERS:
            raise ValueError(f"unknown carrier {self.carrier!r}; known: {', '.join(CARRIERS)}")
        if self.kind == "counter":
            if self.unit not in CARRIERS[self.carrier][1]:
                raise ValueError(f"unit {self.unit!r} not allowed for {self.carrier}: {CARRIERS[self.carrier][1]}")
            if self.register_digits is None:
                raise ValueError("counters need register_digits")
        elif self.unit not in GAUGE_QUANTITIES:
            raise ValueError(f"gauge unit {self.unit!r} unknown; known: {', '.join(GAUGE_QUANTITIES)}")
        return self

    @property
    def quantity(self) -> str:
        """Field name on the wire and in InfluxDB, e.g. ``energy_kwh``."""
        if self.kind == "gauge":
            return GAUGE_QUANTITIES[self.unit]
        return f"{CARRIERS[self.carrier][0]}_{self.unit}"

    @property
    def register_max(self) -> float | None:
        """Value at which the counter rolls over to zero."""
        return float(10**self.register_digits) if self.register_digits else None


Day = date  # alias: models below have a field named ``date``


class BaselinePeriod(_Frozen):
    """An energy baseline period (ISO 50006), Beijing days, inclusive."""

    start: Day
    end: Day

    @model_validator(mode="after")
    def _check(self) -> "BaselinePeriod":
        if self.end < self.start:
            raise ValueError(f"baseline period ends ({self.end}) before it starts ({self.start})")
        return self


class Measure(_Frozen):
    """An energy-saving measure (retrofit) whose savings are verified (IPMVP option C)."""

    id: str = Field(pattern=ID_RE)
    date: Day = Field(description="First day in force (Beijing).")
    line: str | None = Field(None, description="Line id; null = the whole enterprise.")
    kind: str = ""
    description_zh: str = ""
    description_en: str = ""
    baseline: BaselinePeriod | None = Field(None, description="Default: the 365 days before `date`.")


class Adjustment(_Frozen):
    """A non-routine adjustment of the baseline (a line added, a product class change), dated."""

    date: Day
    end: Day | None = None
    line: str | None = None
    note: str = Field(min_length=1)
    tce_per_day: float = Field(0.0, description="Added to the expected energy per day, tce.")
    scale: float = Field(1.0, gt=0, description="Multiplies the expected energy.")


class Enterprise(_Frozen):
    id: str = Field(pattern=ID_RE)
    name_zh: str
    name_en: str
    industry: Industry
    key_energy_user: bool = True
    park: str
    address: str = ""
    lines: tuple[Line, ...] = ()
    meters: tuple[Meter, ...]
    measures: tuple[Measure, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    baseline: BaselinePeriod | None = Field(None, description="EnPI baseline period; default the district's.")

    @model_validator(mode="after")
    def _check(self) -> "Enterprise":
        line_ids = [ln.id for ln in self.lines]
        meter_ids = [m.id for m in self.meters]
        for ids, what in ((line_ids, "line"), (meter_ids, "meter")):
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"duplicate {what} id(s): {sorted(dup)}")
        for m in self.meters:
            if m.line is not None and m.line not in line_ids:
                raise ValueError(f"meter {m.id} names unknown line {m.line!r}")
        for x in (*self.measures, *self.adjustments):
            if x.line is not None and x.line not in line_ids:
                raise ValueError(f"{'measure ' + x.id if isinstance(x, Measure) else 'adjustment'} names unknown line {x.line!r}")
        return self

    @cached_property
    def meter_index(self) -> dict[str, Meter]:
        return {m.id: m for m in self.meters}

    def meter(self, meter_id: str) -> Meter | None:
        return self.meter_index.get(meter_id)


class District(_Frozen):
    id: str = Field(pattern=ID_RE)
    name_zh: str
    name_en: str
    province: str
    timezone: str = "Asia/Shanghai"
    grid_region: str = "chongqing"
    baseline: BaselinePeriod = Field(BaselinePeriod(start=date(2022, 1, 1), end=date(2022, 12, 31)),
                                     description="EnPI baseline period (default: the base year 2022).")


class Registry(_Frozen):
    district: District
    enterprises: tuple[Enterprise, ...]

    @model_validator(mode="after")
    def _check(self) -> "Registry":
        seen: dict[str, str] = {}
        for e in self.enterprises:
            if e.id in seen:
                raise ValueError(f"duplicate enterprise id {e.id!r}")
            seen[e.id] = e.id
        if "ingest" in seen:
            raise ValueError("enterprise id 'ingest' is reserved for the ingest service")
        all_meters: dict[str, str] = {}
        for e in self.enterprises:
            for m in e.meters:
                if m.id in all_meters:
                    raise ValueError(f"meter id {m.id!r} used by {all_meters[m.id]} and {e.id}")
                all_meters[m.id] = e.id
        return self

    @cached_property
    def enterprise_index(self) -> dict[str, Enterprise]:
        return {e.id: e for e in self.enterprises}

    def enterprise(self, enterprise_id: str) -> Enterprise | None:
        return self.enterprise_index.get(enterprise_id)

    @property
    def enterprise_ids(self) -> list[str]:
        return [e.id for e in self.enterprises]

    def meters_frame(self):
        """One row per meter: enterprise, meter, carrier, unit, kind, quantity, line, role, interval_s,
        register_max, max_rate_per_h, decommissioned (date or None). Indexed by meter id."""
        import pandas as pd

        rows = [
            {
                "meter": m.id, "enterprise": e.id, "carrier": m.carrier, "unit": m.unit, "kind": m.kind,
                "quantity": m.quantity, "line": m.line, "role": m.role, "interval_s": m.interval_s,
                "register_max": m.register_max, "max_rate_per_h": m.max_rate_per_h,
                "decommissioned": m.decommissioned,
            }
            for e in self.enterprises for m in e.meters
        ]
        return pd.DataFrame(rows).set_index("meter", drop=False)

    def lines_frame(self):
        """One row per line: enterprise, industry, line, product, product_class, output_unit,
        capacity_per_day (in the capacity unit), capacity_unit."""
        import pandas as pd

        rows = [
            {
                "line": ln.id, "enterprise": e.id, "industry": e.industry, "product": ln.product,
                "product_class": ln.product_class, "output_unit": ln.output_unit,
                "capacity_per_day": ln.capacity.value, "capacity_unit": ln.capacity.unit,
                "name_zh": ln.name_zh, "name_en": ln.name_en,
            }
            for e in self.enterprises for ln in e.lines
        ]
        cols = ["line", "enterprise", "industry", "product", "product_class", "output_unit", "capacity_per_day",
                "capacity_unit", "name_zh", "name_en"]
        # a district may have no production line at all (energy-only enterprises): same columns, no rows
        return pd.DataFrame(rows, columns=cols).set_index("line", drop=False)


def _loc(err: dict, data: dict) -> str:
    """Render a pydantic error location with the entry's id, e.g. enterprises[3](e04).meters[1](m2)."""
    parts, node = [], data
    for p in err["loc"]:
        if isinstance(p, int):
            label = f"[{p}]"
            try:
                node = node[p]
                if isinstance(node, dict) and "id" in node:
                    label += f"({node['id']})"
            except (IndexError, KeyError, TypeError):
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(p))
            try:
                node = node[p]
            except (KeyError, TypeError, IndexError):
                node = None
    return "".join(parts)


def parse_registry(data: dict, source: str = "<registry>") -> Registry:
    """Validate a registry mapping; raise RegistryError naming the first bad entry."""
    try:
        return Registry.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = first["msg"].removeprefix("Value error, ")
        raise RegistryError(f"{source}: {_loc(first, data)}: {msg}") from None


@lru_cache(maxsize=8)
def load_registry(path: Path) -> Registry:
    """Load and validate the registry YAML at ``path`` (cached per path)."""
    path = Path(path)
    if not path.exists():
        raise RegistryError(f"registry file not found: {path}", hint="set ECM_DISTRICT_FILE")
    try:
        # libyaml's safe loader when built in (same documents, ~4× faster: a 2,000-enterprise
        # registry is 10 MB, minutes with the pure-Python parser in every worker process)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: top level must be a mapping with district and enterprises")
    return parse_registry(data, str(path))


def get_registry() -> Registry:
    """The registry named by the settings."""
    from ecm.settings import get_settings

    return load_registry(get_settings().district_path)


def is_valid_id(value: str) -> bool:
    return re.match(ID_RE, value) is not None
