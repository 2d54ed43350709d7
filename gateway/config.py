"""Site config (``gateway.yaml``) and device profiles, validated completely before any connection.

A profile is the register or data-identifier map of one meter model (``gateway/profiles/*.yaml``);
the site config lists the devices of one enterprise: profile, transport, address, schedule and which
registry meter each point feeds. Every error names the entry and the field, in one line, as the
registry's errors do: ``gateway.yaml: devices[2](kiln_meter).profile: unknown profile 'x'; known: ...``.
"""
from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ecm.errors import ConfigError
from ecm.registry import ID_RE, _loc

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

#: Modbus value types -> number of 16-bit registers
REGISTER_TYPES = {"u16": 1, "i16": 1, "u32": 2, "i32": 2, "u64": 4, "i64": 4, "f32": 2, "f64": 4,
                  "bcd16": 1, "bcd32": 2}
#: quantities a gateway may publish (docs/contracts.md vocabulary); kind is fixed per quantity
COUNTER_QUANTITIES = ("energy_kwh", "gas_m3", "coal_t", "lpg_kg", "diesel_kg", "steam_t", "heat_gj", "pv_kwh",
                      "waste_heat_gj", "output_m2", "output_t", "output_pcs", "output_10k_bricks")
GAUGE_QUANTITIES = ("power_kw", "temperature_c")
#: diagnostic values a profile may read for `ecm gateway check` only (never published)
DIAGNOSTIC_UNITS = ("V", "A", "Hz", "kvar", "kVA", "pf", "m3/h", "kPa", "")


class GatewayConfigError(ConfigError):
    """gateway.yaml or a device profile is malformed."""

    hint = "fix the named entry in the gateway config or profile, then run `ecm gateway check` again"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------------------------------- profiles
class Point(_Strict):
    """One value of a meter model."""

    quantity: str | None = Field(None, description="Published quantity (energy_kwh, gas_m3, power_kw, ...); "
                                                    "None = diagnostic value shown by `check` only.")
    unit: str = Field("", description="Unit shown by `check` for diagnostic values.")
    group: str = Field("energy", description="Schedule group; the device's schedule gives its interval.")
    scale: float = Field(1.0, description="Physical value = raw × scale + offset.")
    offset: float = 0.0
    counter_digits: int | None = Field(None, ge=3, le=15, description="Counter width in decimal digits of the "
                                       "physical value: it rolls over to 0 at 10**digits (as register_digits).")
    # Modbus
    address: int | None = Field(None, ge=0, le=65535, description="Register address (0-based, PDU address).")
    type: str | None = Field(None, description="u16/i16/u32/i32/u64/i64/f32/f64/bcd16/bcd32.")
    function: Literal["holding", "input"] | None = None
    byte_order: Literal["big", "little"] | None = None
    word_order: Literal["big", "little"] | None = None
    # DL/T 645
    di: str | None = Field(None, description="DL/T 645-2007 data identifier DI3DI2DI1DI0, 8 hex digits.")
    # OPC UA
    node: str | None = Field(None, description="OPC UA node id, e.g. ns=2;s=Kiln1.Temperature.")

    @field_validator("type")
    @classmethod
    def _type(cls, v):
        if v is not None and v not in REGISTER_TYPES:
            raise ValueError(f"unknown register type {v!r}; known: {', '.join(REGISTER_TYPES)}")
        return v

    @field_validator("di")
    @classmethod
    def _di(cls, v):
        if v is not None and not re.fullmatch(r"[0-9A-Fa-f]{8}", v):
            raise ValueError(f"data identifier {v!r} is not 8 hex digits (DI3DI2DI1DI0)")
        return v.upper() if v else v

    @model_validator(mode="after")
    def _check(self) -> "Point":
        q = self.quantity
        if q is not None and q not in COUNTER_QUANTITIES + GAUGE_QUANTITIES:
            raise ValueError(f"unknown quantity {q!r}; known: {', '.join(COUNTER_QUANTITIES + GAUGE_QUANTITIES)}")
        if q in COUNTER_QUANTITIES and self.counter_digits is None:
            raise ValueError(f"counter quantity {q} needs counter_digits (register width, for rollover)")
        if q in GAUGE_QUANTITIES and self.counter_digits is not None:
            raise ValueError(f"gauge quantity {q} takes no counter_digits")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        return self

    @property
    def kind(self) -> str | None:
        if self.quantity is None:
            return None
        return "counter" if self.quantity in COUNTER_QUANTITIES else "gauge"

    @property
    def unit_label(self) -> str:
        return self.quantity.rsplit("_", 1)[1] if self.quantity else self.unit


class Profile(_Strict):
    """A meter model's map (one YAML file)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    protocol: Literal["modbus", "dlt645", "opcua"]
    title: str = ""
    manual: str = Field(min_length=3, description="The manual or standard this map follows (edition).")
    function: Literal["holding", "input"] = "holding"
    byte_order: Literal["big", "little"] = "big"
    word_order: Literal["big", "little"] = "big"
    groups: dict[str, float] = Field(default_factory=lambda: {"energy": 60.0},
                                     description="Default interval per schedule group, seconds.")
    points: dict[str, Point]

    @model_validator(mode="after")
    def _check(self) -> "Profile":
        if not self.points:
            raise ValueError("a profile needs at least one point")
        for name, p in self.points.items():
            where = f"points.{name}"
            if p.group not in self.groups:
                raise ValueError(f"{where}.group: {p.group!r} not in groups {sorted(self.groups)}")
            if self.protocol == "modbus" and (p.address is None or p.type is None):
                raise ValueError(f"{where}: modbus points need address and type")
            if self.protocol == "modbus" and p.counter_digits and p.type[0] in "ub":
                bits = 16 * REGISTER_TYPES[p.type]
                cap = 10 ** (bits // 4) if p.type.startswith("bcd") else 2 ** bits
                if 10 ** p.counter_digits / abs(p.scale) > cap * (1 + 1e-9):
                    raise ValueError(f"{where}.counter_digits: {p.type} × {p.scale} cannot hold 10^{p.counter_digits}; "
                                     f"the register would wrap first")
            if self.protocol == "dlt645" and p.di is None:
                raise ValueError(f"{where}: dlt645 points need di")
            if self.protocol == "opcua" and p.node is None:
                raise ValueError(f"{where}: opcua points need node")
        for g, iv in self.groups.items():
            if not iv > 0:
                raise ValueError(f"groups.{g}: interval must be > 0 s")
        return self

    def fn(self, p: Point) -> str:
        return p.function or self.function

    def orders(self, p: Point) -> tuple[str, str]:
        return p.byte_order or self.byte_order, p.word_order or self.word_order


def _fail(err: ValidationError, data, source: str):
    first = err.errors()[0]
    msg = first["msg"].removeprefix("Value error, ")
    loc = _loc(first, data) if data is not None else ""
    raise GatewayConfigError(f"{source}: {loc + ': ' if loc else ''}{msg}") from None


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GatewayConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise GatewayConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise GatewayConfigError(f"{path}: top level must be a mapping")
    return data


def load_profile(path: Path) -> Profile:
    data = _read_yaml(path)
    try:
        prof = Profile.model_validate(data)
    except ValidationError as exc:
        _fail(exc, data, path.name)
    if prof.name != path.stem:
        raise GatewayConfigError(f"{path.name}: name {prof.name!r} must equal the file name {path.stem!r}")
    return prof


def load_profiles(dirs: list[Path] = ()) -> dict[str, Profile]:
    """Shipped profiles, then those of ``dirs`` (a site profile of the same name replaces a shipped one)."""
    out: dict[str, Profile] = {}
    for d in (PROFILE_DIR, *dirs):
        if not Path(d).is_dir():
            raise GatewayConfigError(f"profile_dirs: {d} is not a directory")
        for f in sorted(Path(d).glob("*.yaml")):
            out[f.stem] = load_profile(f)
    return out


# ------------------------------------------------------------------------------------- site config
class Mqtt(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = Field(None, description="Default: the enterprise id.")
    password_env: str | None = Field("GATEWAY_MQTT_PASSWORD", description="Environment variable with the password.")
    password_file: Path | None = Field(None, description="File holding the password (first line).")
    client_id: str | None = Field(None, description="Default and only accepted value: the principal's bound client "
                                                    "id (<E>-gw for username <E>, else the username; ecm/dynsec.py).")
    keepalive_s: int = Field(30, ge=5, le=3600)
    tls: bool = False
    ca_file: Path | None = None

    def password(self) -> str:
        if self.password_file:
            try:
                return self.password_file.read_text().splitlines()[0].strip()
            except (OSError, IndexError):
                raise GatewayConfigError(f"mqtt.password_file: cannot read {self.password_file}") from None
        if self.password_env and os.environ.get(self.password_env):
            return os.environ[self.password_env]
        raise GatewayConfigError(f"mqtt: no password: set {self.password_env} or mqtt.password_file",
                                 hint="get it from the district operator (`ecm credentials <enterprise>`)")


class Store(_Strict):
    path: Path = Field(Path("gateway-queue.db"), description="SQLite queue file (relative: to the config file).")
    max_mb: float = Field(512.0, gt=0, description="Disk cap of the queue; when full the oldest readings go first.")
    batch_max: int = Field(1000, ge=1, le=10000, description="Readings per batch message when a backlog exists.")
    inflight_max: int = Field(20, ge=1, le=1000, description="Messages awaiting PUBACK at once.")


class OpcUa(_Strict):
    security_policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None
    username: str | None = None
    password_env: str | None = None
    mode: Literal["poll", "subscribe"] = "poll"

    @model_validator(mode="after")
    def _check(self) -> "OpcUa":
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError("security_policy and security_mode must both be None or both set")
        if self.security_policy != "None" and not (self.certificate and self.private_key):
            raise ValueError(f"security_policy {self.security_policy} needs certificate and private_key")
        return self


class Device(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Device name in logs and status.")
    profile: str
    transport: Literal["modbus_tcp", "modbus_rtu_over_tcp", "modbus_rtu", "dlt645_tcp", "opcua"]
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    serial_port: str | None = None
    baudrate: int = 9600
    unit: int = Field(1, ge=0, le=247, description="Modbus unit (slave) id.")
    address: str | None = Field(None, description="DL/T 645 meter address (12 digits) or 'discover'.")
    endpoint: str | None = Field(None, description="OPC UA endpoint, opc.tcp://host:port/path.")
    opcua: OpcUa = OpcUa()
    meters: dict[str, str] = Field(description="point name -> registry meter id; only mapped points are published.")
    schedule: dict[str, float] = Field(default_factory=dict, description="group -> interval s (overrides the profile).")
    timeout_s: float = Field(2.0, gt=0, le=60)

    @field_validator("meters")
    @classmethod
    def _meters(cls, v):
        for p, m in v.items():
            if not re.match(ID_RE, m):
                raise ValueError(f"meters.{p}: {m!r} is not a registry meter id")
        return v

    @model_validator(mode="after")
    def _check(self) -> "Device":
        t = self.transport
        if t in ("modbus_tcp", "modbus_rtu_over_tcp", "dlt645_tcp") and not (self.host and self.port):
            raise ValueError(f"transport {t} needs host and port")
        if t == "modbus_rtu" and not self.serial_port:
            raise ValueError(f"transport {t} needs serial_port")
        if t.startswith("dlt645") and not (self.address == "discover" or re.fullmatch(r"\d{12}", self.address or "")):
            raise ValueError("dlt645 devices need address: 12 decimal digits or 'discover'")
        if t == "opcua" and not (self.endpoint or "").startswith("opc.tcp://"):
            raise ValueError("opcua devices need endpoint: opc.tcp://...")
        for g, iv in self.schedule.items():
            if not iv > 0:
                raise ValueError(f"schedule.{g}: interval must be > 0 s")
        return self


class GatewayConfig(_Strict):
    enterprise: str = Field(pattern=ID_RE)
    mqtt: Mqtt = Mqtt()
    store: Store = Store()
    health_file: Path | None = Field(None, description="Health JSON rewritten every second (default beside the queue).")
    profile_dirs: list[Path] = Field(default_factory=list)
    registry: Path | None = Field(None, description="District registry to cross-check meters (optional).")
    jitter_frac: float = Field(0.1, ge=0, le=0.5, description="Random offset of each poll, ± this share of the interval.")
    skew_warn_s: float = Field(2.0, gt=0, description="Warn when the gateway clock is off by more than this.")
    clock_check_url: str | None = Field(None, description="HTTP URL whose Date header gives the platform's time "
                                        "(e.g. the InfluxDB /ping beside the broker); checked every 10 min.")
    devices: list[Device] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "GatewayConfig":
        ids = [d.id for d in self.devices]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate device id(s): {dup}")
        seen: dict[str, str] = {}
        for d in self.devices:
            for m in d.meters.values():
                if m in seen:
                    raise ValueError(f"duplicate meter {m!r}: fed by {seen[m]} and {d.id}")
                seen[m] = d.id
        return self

    @model_validator(mode="after")
    def _principal(self) -> "GatewayConfig":
        u = self.username
        if u != self.enterprise and not u.startswith(self.enterprise + "-"):
            raise ValueError(f"mqtt.username {u!r} is not a gateway of {self.enterprise} "
                             f"(use {self.enterprise} or {self.enterprise}-<name>)")
        from ecm.mqtt import gateway_client_id

        if self.mqtt.client_id not in (None, gateway_client_id(u)):
            raise ValueError(f"mqtt.client_id {self.mqtt.client_id!r}: the broker accepts only "
                             f"{gateway_client_id(u)!r} for user {u!r} (leave client_id out)")
        return self

    @property
    def username(self) -> str:
        return self.mqtt.username or self.enterprise

    @property
    def client_id(self) -> str:
        from ecm.mqtt import gateway_client_id

        return gateway_client_id(self.username)


class Site:
    """A validated site: config + the profiles it uses, resolved paths."""

    def __init__(self, cfg: GatewayConfig, profiles: dict[str, Profile], base: Path):
        self.cfg, self.profiles, self.base = cfg, profiles, base

    def path(self, p: Path) -> Path:
        return p if p.is_absolute() else self.base / p

    @cached_property
    def store_path(self) -> Path:
        return self.path(self.cfg.store.path)

    @cached_property
    def health_path(self) -> Path:
        return self.path(self.cfg.health_file) if self.cfg.health_file else self.store_path.with_suffix(".health.json")

    def profile(self, dev: Device) -> Profile:
        return self.profiles[dev.profile]

    def interval(self, dev: Device, group: str) -> float:
        return float(dev.schedule.get(group, self.profile(dev).groups[group]))

    def published_points(self, dev: Device) -> dict[str, tuple[str, Point]]:
        """point name -> (meter id, point) of the points this device publishes."""
        prof = self.profile(dev)
        return {p: (m, prof.points[p]) for p, m in dev.meters.items()}


_PROTOCOL_OF = {"modbus_tcp": "modbus", "modbus_rtu_over_tcp": "modbus", "modbus_rtu": "modbus",
                "dlt645_tcp": "dlt645", "opcua": "opcua"}


def parse_config(data: dict, source: str = "gateway.yaml", base: Path = Path("."),
                 profiles: dict[str, Profile] | None = None) -> Site:
    """Validate a config mapping and everything it refers to; raise GatewayConfigError (one line)."""
    try:
        cfg = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        _fail(exc, data, source)
    if profiles is None:
        profiles = load_profiles([p if p.is_absolute() else base / p for p in cfg.profile_dirs])
    for i, d in enumerate(cfg.devices):
        where = f"{source}: devices[{i}]({d.id})"
        prof = profiles.get(d.profile)
        if prof is None:
            raise GatewayConfigError(f"{where}.profile: unknown profile {d.profile!r}; known: {', '.join(sorted(profiles))}")
        if prof.protocol != _PROTOCOL_OF[d.transport]:
            raise GatewayConfigError(f"{where}.transport: {d.transport} cannot read a {prof.protocol} profile")
        for p in d.meters:
            if p not in prof.points:
                raise GatewayConfigError(f"{where}.meters.{p}: profile {prof.name} has no point {p!r}; "
                                         f"known: {', '.join(prof.points)}")
            if prof.points[p].quantity is None:
                raise GatewayConfigError(f"{where}.meters.{p}: a diagnostic point (no quantity) cannot be published")
        for g in d.schedule:
            if g not in prof.groups:
                raise GatewayConfigError(f"{where}.schedule.{g}: profile {prof.name} has groups {sorted(prof.groups)}")
    site = Site(cfg, profiles, base)
    if cfg.registry:
        _cross_check(site, source)
    return site


def _cross_check(site: Site, source: str) -> None:
    """Each mapped meter exists in the registry, belongs to the enterprise, and has the point's quantity
    and counter width (the platform counts rollover at 10**register_digits)."""
    from ecm.errors import RegistryError
    from ecm.registry import load_registry

    try:
        reg = load_registry(site.path(site.cfg.registry))
    except RegistryError as exc:
        raise GatewayConfigError(f"{source}: registry: {exc}") from None
    ent = reg.enterprise(site.cfg.enterprise)
    if ent is None:
        raise GatewayConfigError(f"{source}: enterprise: {site.cfg.enterprise!r} not in the registry")
    for i, d in enumerate(site.cfg.devices):
        for pname, (mid, pt) in site.published_points(d).items():
            where = f"{source}: devices[{i}]({d.id}).meters.{pname}"
            m = ent.meter(mid)
            if m is None:
                raise GatewayConfigError(f"{where}: meter {mid!r} is not a meter of {ent.id} in the registry")
            if m.quantity != pt.quantity:
                raise GatewayConfigError(f"{where}: point gives {pt.quantity} but meter {mid} records {m.quantity}")
            if pt.kind == "counter" and m.register_digits != pt.counter_digits:
                raise GatewayConfigError(f"{where}: profile counter_digits {pt.counter_digits} != registry "
                                         f"register_digits {m.register_digits} of {mid}")


def load_config(path: Path) -> Site:
    """Load and validate ``gateway.yaml`` and the profiles it names (no connection is made)."""
    path = Path(path)
    data = _read_yaml(path)
    return parse_config(data, path.name, path.resolve().parent)
