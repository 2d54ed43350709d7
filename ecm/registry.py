"""District registry: enterprises, production lines and meters (config/district.yaml).

Loaded once into frozen pydantic models. A malformed registry fails at start with a
message naming the bad entry (``enterprises[3].meters[2].carrier: ...``).

Meter quantity names follow ``<quantity>_<unit>`` and are the same on the wire (MQTT
``values`` keys), in InfluxDB (field names) and in pandas columns.
"""
from __future__ import annotations

import pickle
import re
from datetime import date, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ecm import state_cache
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


class Disabled(_Frozen):
    """Offboarding mark (``ecm enterprise disable``): the enterprise stays in the registry, so its
    history and every period it overlaps keep it; its broker principals are disabled and the bridge
    quarantines its later messages (``enterprise_disabled``)."""

    since: Day = Field(description="Beijing day of the disabling (the last day it may have data).")
    at: str = Field(min_length=1, description="UTC instant of the disabling, ISO 8601.")
    reason: str = ""


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
    disabled: Disabled | None = Field(None, description="Set by `ecm enterprise disable`; null = active.")

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
        """Every enterprise, disabled ones included (their history stays in every report)."""
        return [e.id for e in self.enterprises]

    def last_days(self) -> dict[str, date]:
        """{enterprise: last Beijing day in scope} of the disabled enterprises (``disabled.since``):
        after it an enterprise has no enterprise-day rows (it left; its history stays)."""
        return {e.id: e.disabled.since for e in self.enterprises if e.disabled is not None}

    @property
    def disabled_ids(self) -> frozenset[str]:
        """Enterprises offboarded by ``ecm enterprise disable`` (broker principals disabled)."""
        return frozenset(e.id for e in self.enterprises if e.disabled is not None)

    def meters_frame(self):
        """One row per meter: enterprise, meter, carrier, unit, kind, quantity, line, role, interval_s,
        register_max, max_rate_per_h, decommissioned (date or None). Indexed by meter id.

        ``decommissioned`` is the first day the meter is out of service: its own, or for a disabled
        enterprise the day after ``disabled.since`` (its last day with data) when that is earlier.
        So an offboarded enterprise's meters are not expected after it left (no daily DQ failures,
        no silent-meter alerts), and its history up to ``since`` is unchanged."""
        import pandas as pd

        def out_of_service(e: Enterprise, m: Meter) -> date | None:
            left = e.disabled.since + timedelta(days=1) if e.disabled is not None else None
            return min((d for d in (m.decommissioned, left) if d is not None), default=None)

        rows = [
            {
                "meter": m.id, "enterprise": e.id, "carrier": m.carrier, "unit": m.unit, "kind": m.kind,
                "quantity": m.quantity, "line": m.line, "role": m.role, "interval_s": m.interval_s,
                "register_max": m.register_max, "max_rate_per_h": m.max_rate_per_h,
                "decommissioned": out_of_service(e, m),
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


def read_yaml(text: str):
    """``yaml.safe_load`` through libyaml when PyYAML has it (about 7x faster on the registry)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


def parse_registry(data: dict, source: str = "<registry>") -> Registry:
    """Validate a registry mapping; raise RegistryError naming the first bad entry."""
    try:
        return Registry.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = first["msg"].removeprefix("Value error, ")
        raise RegistryError(f"{source}: {_loc(first, data)}: {msg}") from None


def load_registry(path: Path) -> Registry:
    """Load and validate the registry YAML at ``path``, cached per path AND version of the file
    (mtime, size, inode): a long-lived process sees an enterprise added or disabled since
    (``ecm enterprise add|disable`` replace the file atomically)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise RegistryError(f"registry file not found: {path}", hint="set ECM_DISTRICT_FILE") from None
    return _load_registry(path, st.st_mtime_ns, st.st_size, st.st_ino)


load_registry.cache_clear = lambda: _load_registry.cache_clear()  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _load_registry(path: Path, _mtime_ns: int, _size: int, _ino: int) -> Registry:
    if not path.exists():
        raise RegistryError(f"registry file not found: {path}", hint="set ECM_DISTRICT_FILE")
    raw = path.read_bytes()
    cache = _parsed_cache(raw)
    cached = state_cache.get(cache) if cache is not None else None
    if cached is not None:
        try:
            reg = pickle.loads(cached)
            if isinstance(reg, Registry):
                return reg
        except Exception:  # noqa: BLE001 - an unreadable cache entry is parsed again and replaced
            pass
    try:
        data = read_yaml(raw.decode("utf-8"))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: top level must be a mapping with district and enterprises")
    reg = parse_registry(data, str(path))
    if cache is not None:
        state_cache.put(cache, pickle.dumps(reg, protocol=pickle.HIGHEST_PROTOCOL), keep=PARSED_KEEP)
    return reg


#: registries smaller than this parse in milliseconds and are not cached
PARSED_CACHE_MIN_BYTES = 64 * 1024
#: parsed registries kept in ``<ECM_STATE_DIR>/cache/registry``
PARSED_KEEP = 4


def _parsed_cache(raw: bytes) -> Path | None:
    """Where the validated registry of the file content ``raw`` is kept, or None (small file, no
    state folder). A city's registry (2,000 enterprises, 20 MB of YAML) takes seconds to parse and
    validate, and every Airflow task is a new process that loads it; the pickle loads in ~1 % of
    that. The key is the content and this module's source, so an edited file or a changed model
    is parsed again."""
    if len(raw) < PARSED_CACHE_MIN_BYTES:
        return None
    folder = state_cache.folder("registry")
    return None if folder is None else folder / f"registry-{state_cache.key(raw, Path(__file__).read_bytes())}.pickle"


def get_registry() -> Registry:
    """The registry named by the settings."""
    from ecm.settings import get_settings

    return load_registry(get_settings().district_path)


def is_valid_id(value: str) -> bool:
    return re.match(ID_RE, value) is not None


# -- onboarding and offboarding (``ecm enterprise add|disable``) ------------------------------------

def parse_enterprise(data, source: str = "<enterprise>") -> Enterprise:
    """Validate one enterprise mapping; RegistryError naming the first bad entry
    (``e21.yaml: meters[2](e21_gas).unit: ...``)."""
    if not isinstance(data, dict):
        raise RegistryError(f"{source}: an enterprise must be a mapping (id, name_zh, industry, meters ...)")
    try:
        return Enterprise.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = first["msg"].removeprefix("Value error, ")
        where = _loc(first, data)
        raise RegistryError(f"{source}: {where + ': ' if where else ''}{msg}") from None


def onboarding_problems(ent: Enterprise, registry: Registry, benchmarks=None) -> list[str]:
    """What a NEW enterprise must satisfy beyond the schema, so its first nightly run can compute it:
    a fresh id, ids prefixed ``<id>_`` (one tenant's names never look like another's), an energy
    main counter, per line an output counter in the line's unit and a capacity per day of that unit,
    and a product class the benchmark table knows (``benchmarks``: its keys; None = not checked)."""
    out: list[str] = []
    if registry.enterprise(ent.id) is not None:
        out.append(f"enterprise {ent.id!r} already in the registry"
                   + (" (disabled)" if registry.enterprise(ent.id).disabled else ""))
    if ent.disabled is not None:
        out.append("a new enterprise cannot start disabled (drop `disabled`)")
    for kind, ids in (("line", [ln.id for ln in ent.lines]), ("meter", [m.id for m in ent.meters])):
        bad = [i for i in ids if not i.startswith(ent.id + "_")]
        if bad:
            out.append(f"{kind} id(s) {bad} must start with {ent.id + '_'!r}")
    if not any(m.kind == "counter" and m.role == "main" and m.carrier != "output" for m in ent.meters):
        out.append("no main energy counter (a meter with kind: counter, role: main, carrier other than output)")
    for ln in ent.lines:
        if ln.capacity.unit != f"{ln.output_unit}_per_day":
            out.append(f"line {ln.id}: capacity unit {ln.capacity.unit} does not match output_unit {ln.output_unit}")
        if not any(m.carrier == "output" and m.kind == "counter" and m.line == ln.id and m.unit == ln.output_unit
                   for m in ent.meters):
            out.append(f"line {ln.id}: no output counter (carrier: output, unit: {ln.output_unit}, line: {ln.id})")
        if benchmarks is not None and ln.product_class not in benchmarks:
            out.append(f"line {ln.id}: product_class {ln.product_class!r} has no benchmark row; "
                       f"known: {', '.join(benchmarks)}")
    return out


def registry_digest(text: bytes | str) -> str:
    """SHA-256 of the registry file's bytes: what the bridge reports as the registry it runs."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


def _dump(obj) -> str:
    return yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, default_flow_style=False, width=4096)


def _verified(new_text: str, expected: dict) -> bool:
    try:
        return read_yaml(new_text) == expected
    except yaml.YAMLError:
        return False


def _header(text: str) -> str:
    """The leading comment block of a registry file (kept when the whole file must be re-dumped)."""
    lines = []
    for ln in text.splitlines(keepends=True):
        if not ln.startswith("#"):
            break
        lines.append(ln)
    return "".join(lines)


def text_with_enterprise(text: str, doc: dict) -> str:
    """The registry text with enterprise ``doc`` appended to ``enterprises``, comments and layout
    kept (the entry is added after the last one). When the file's layout does not allow it (e.g.
    ``enterprises`` is not the last key), the whole file is re-dumped under its leading comments.
    Either way the result is checked to parse to the old registry plus ``doc``."""
    data = read_yaml(text)
    expected = {**data, "enterprises": [*(data.get("enterprises") or []), doc]}
    entry = _dump([doc])
    new = text + ("" if text.endswith("\n") else "\n") + entry
    if _verified(new, expected):
        return new
    new = _header(text) + _dump(expected)
    if not _verified(new, expected):  # pragma: no cover - safe_dump round-trips what safe_load read
        raise RegistryError("cannot write the registry so that it reads back the same")
    return new


def text_with_disabled(text: str, enterprise_id: str, mark: dict) -> str:
    """The registry text with ``disabled: mark`` added to enterprise ``enterprise_id`` (right under
    its ``- id:`` line, so everything else is left as it was); re-dumped as a fallback, as above."""
    data = read_yaml(text)
    ents = data.get("enterprises") or []
    i = next((k for k, e in enumerate(ents) if isinstance(e, dict) and e.get("id") == enterprise_id), None)
    if i is None:
        raise RegistryError(f"unknown enterprise {enterprise_id!r}")
    expected = {**data, "enterprises": [*ents[:i], {**ents[i], "disabled": mark}, *ents[i + 1:]]}
    m = re.search(rf"^- id: {re.escape(enterprise_id)}[ \t]*\n", text, flags=re.MULTILINE)
    if m:
        block = "".join("  " + ln + "\n" for ln in _dump({"disabled": mark}).splitlines())
        new = text[:m.end()] + block + text[m.end():]
        if _verified(new, expected):
            return new
    new = _header(text) + _dump(expected)
    if not _verified(new, expected):  # pragma: no cover
        raise RegistryError("cannot write the registry so that it reads back the same")
    return new


def write_registry_text(path: Path, text: str, *, keep_backups: int = 20) -> Path:
    """Replace the registry file atomically (temp file in the same directory, fsync, rename) after
    copying the current one to ``<name>.<UTC stamp>.bak`` (the ``keep_backups`` newest are kept).
    The text must parse as a valid registry; returns the backup's path."""
    import os
    import time as _time

    path = Path(path)
    parse_registry(read_yaml(text), str(path))  # never write a registry the platform cannot load
    old = path.read_bytes()
    stamp = _time.strftime("%Y%m%dT%H%M%SZ", _time.gmtime()) + f"{_time.time_ns() % 1_000_000_000:09d}"[:3]
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    backup.write_bytes(old)
    mode = path.stat().st_mode & 0o777
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    for stale in sorted(path.parent.glob(f"{path.name}.*.bak"))[:-keep_backups]:
        stale.unlink(missing_ok=True)
    load_registry.cache_clear()
    return backup


def registry_lock(path: Path):
    """An exclusive lock (``flock``) serializing read-modify-write of the registry file."""
    import contextlib
    import fcntl

    @contextlib.contextmanager
    def _lock():
        lf = Path(path).with_name(f".{Path(path).name}.lock")
        with open(lf, "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    return _lock()
