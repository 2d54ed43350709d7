"""Factor and benchmark tables (config/factors.yaml) loaded once into frozen objects.

Every figure carries ``source``, ``edition`` and ``confidence``; a figure without source or
edition fails the load with a :class:`ConfigError` naming the entry (``tce_coefficients.lpg``).
Unknown carriers, regions or product classes raise :class:`FactorMissingError`.

Values are per the registry unit of the carrier (kgce per kWh, per m3, per t ...), so
``quantity × factor`` needs no further conversion. This module and the registry loader are
the only places that read the tables; accounting functions receive a :class:`FactorTable`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Mapping

import yaml

from ecm.errors import ConfigError, FactorMissingError

Basis = Literal["equivalent", "generation"]
BASES: tuple[str, ...] = ("equivalent", "generation")
CATEGORIES = ("purchased", "onsite_renewable", "recovered")
UNITS = ("kgce_per_m2", "kgce_per_t", "kwh_per_t", "kgce_per_pcs")
_CONFIDENCE_RE = re.compile(r"^[HML](/[HML])?$")
_POLICY_CHOICES = {
    "electricity_basis_default": ("equivalent", "generation"),
    "natural_gas_coefficient": ("gas_field", "oil_field"),
    "renewable_onsite": ("exclude", "include"),
    "feedstock": ("exclude", "include"),
    "waste_heat_recovered": ("not_counted", "counted"),
}
#: registry carrier -> key in co2_factors.fuels (scope 1 combustion)
_FUEL_CARRIERS = ("natural_gas", "coal", "lpg", "diesel", "fuel_oil")


@dataclass(frozen=True)
class Figure:
    """One sourced number. ``unit`` names what ``value`` is per (e.g. ``kgce_per_kwh``)."""
    value: float
    unit: str
    source: str
    edition: str
    confidence: str
    note: str = ""
    vintage: int | None = None


@dataclass(frozen=True)
class TceCoefficient:
    """kgce per registry unit of one carrier, on both electricity bases."""
    carrier: str
    unit: str
    category: str
    equivalent: Figure | None
    generation_by_year: Mapping[int, Figure]
    generation_default: Figure | None
    coefficients_from: str | None = None


@dataclass(frozen=True)
class Co2Factor:
    """kgCO2 per registry unit of a carrier; ``vintage`` is the data year used (grid only)."""
    carrier: str
    value_kgco2_per_unit: float
    unit: str
    scope: Literal["scope1", "scope2", "none"]
    vintage: int | None
    region: str | None
    source: str
    edition: str
    confidence: str


@dataclass(frozen=True)
class NdrcLevels:
    benchmark: float
    baseline: float
    source: str
    edition: str
    confidence: str


@dataclass(frozen=True)
class GbGrades:
    grade_1: float
    grade_2: float
    grade_3: float
    source: str
    edition: str
    confidence: str


@dataclass(frozen=True)
class Benchmark:
    """One product class.

    ``benchmark_value`` (标杆): the NDRC 标杆 where the NDRC row exists, else GB grade 1 as a
    labelled stand-in, else None. ``baseline_value`` (effective 基准): the **stricter** (lower) of
    the NDRC 基准 and the GB mandatory limit (grade 3) — grade 3 of a GB energy-limit standard is
    mandatory (强制性国家标准), so a line above it never meets the baseline (domain facts §2b);
    GB grade 3 alone as a stand-in where the NDRC has no row; else None (no benchmark).
    """

    product_class: str
    indicator_zh: str
    indicator_en: str
    unit: str
    ndrc: NdrcLevels | None
    gb: GbGrades | None
    boundary: Mapping[str, str] | None = None

    @property
    def basis(self) -> Literal["ndrc", "gb_grades_stand_in", "none"]:
        """Where the 标杆/基准 pair comes from; ``gb_grades_stand_in`` lines are reported apart."""
        if self.ndrc is not None:
            return "ndrc"
        return "gb_grades_stand_in" if self.gb is not None else "none"

    @property
    def stand_in(self) -> bool:
        """True when GB grades stand in for NDRC levels the NDRC does not publish."""
        return self.basis == "gb_grades_stand_in"

    @property
    def benchmark_value(self) -> float | None:
        if self.ndrc is not None:
            return self.ndrc.benchmark
        return self.gb.grade_1 if self.gb is not None else None

    @property
    def ndrc_baseline_value(self) -> float | None:
        """The NDRC 基准 as published (may be looser than the GB limit)."""
        return self.ndrc.baseline if self.ndrc is not None else None

    @property
    def baseline_value(self) -> float | None:
        """Effective 基准 = min(NDRC 基准, GB grade 3) (GB 21252-2023 / GB 16780-2021 / GB 30526-2019
        grade 3 is the mandatory limit); GB grade 3 alone for stand-ins."""
        levels = [v for v in (self.ndrc_baseline_value, self.gb.grade_3 if self.gb else None) if v is not None]
        return min(levels) if levels else None

    @property
    def baseline_basis(self) -> Literal["ndrc", "gb_limit_stricter", "gb_stand_in", "none"]:
        """Which figure the effective 基准 is: the NDRC 基准, the stricter GB limit, or a stand-in."""
        if self.ndrc is None:
            return "gb_stand_in" if self.gb is not None else "none"
        if self.gb is not None and self.gb.grade_3 < self.ndrc.baseline:
            return "gb_limit_stricter"
        return "ndrc"


@dataclass(frozen=True)
class Policy:
    electricity_basis_default: str
    natural_gas_coefficient: str
    renewable_onsite: str
    feedstock: str
    waste_heat_recovered: str


@dataclass(frozen=True)
class Targets:
    base_year: int
    end_year: int
    cumulative_reduction_frac: float
    path: str
    yellow_tolerance_frac: float
    benchmark_share_goal_frac: float
    baseline_share_goal_frac: float
    source: str
    edition: str
    confidence: str

    def path_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :mod:`ecm.accounting.intensity` path functions."""
        return {"base_year": self.base_year, "end_year": self.end_year,
                "cumulative_reduction_frac": self.cumulative_reduction_frac}


@dataclass(frozen=True)
class Coverage:
    """Coverage thresholds behind a published verdict (config ``coverage``), each a :class:`Figure`."""
    classification_min_frac: Figure
    period_min_covered_frac: Figure
    period_max_estimated_frac: Figure
    district_min_energy_frac: Figure


@dataclass(frozen=True)
class Co2Reference:
    """Society-wide CO2-intensity reference (config ``co2_reference``) and the fixed grid vintage."""
    cumulative_reduction: Figure
    start_year: int
    end_year: int
    fixed_grid_vintage: Figure

    @property
    def annual_change_frac(self) -> float:
        """Signed annual change of the reference: (1 − c) ** (1 / years) − 1 (−0.03891 for 18 %/5 yr)."""
        return (1.0 - self.cumulative_reduction.value) ** (1.0 / (self.end_year - self.start_year)) - 1.0


@dataclass(frozen=True)
class FactorTable:
    table_version: str
    source_path: str
    tce: Mapping[str, TceCoefficient]
    policy: Policy
    grid: Mapping[str, Mapping[int, Figure]]
    grid_default_region: str
    fuels: Mapping[str, Figure]
    purchased_heat: Figure
    purchased_steam: Figure
    process: Mapping[str, Figure]
    benchmarks: Mapping[str, Benchmark]
    targets: Targets
    coverage: Coverage
    co2_reference: Co2Reference

    # -- standard coal -------------------------------------------------------------------
    def tce_figure(self, carrier: str, basis: Basis | None = None, year: int | None = None) -> Figure:
        """The kgce-per-unit figure for ``carrier`` on ``basis`` (None = policy default).

        Generation basis (等价值) applies to electricity only: the year's vintage, else the latest
        vintage <= year, else the table default. Other carriers have one coefficient on both bases.
        ``natural_gas`` resolves through ``policy.natural_gas_coefficient``.
        """
        basis = basis or self.policy.electricity_basis_default
        if basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
        if carrier == "natural_gas" and self.policy.natural_gas_coefficient == "oil_field":
            carrier = "natural_gas_oilfield"
        coef = self.tce.get(carrier)
        if coef is None:
            raise FactorMissingError(f"no tce coefficient for carrier {carrier!r}; known: {', '.join(self.tce)}")
        if coef.coefficients_from:
            coef = self.tce[coef.coefficients_from]
        if basis == "generation" and coef.generation_default is not None:
            return _by_vintage(coef.generation_by_year, year, coef.generation_default)
        assert coef.equivalent is not None
        return coef.equivalent

    def tce_kgce_per_unit(self, carrier: str, basis: Basis | None = "equivalent", year: int | None = None) -> float:
        """kgce per registry unit of ``carrier`` (kWh, m3, t, kg, GJ)."""
        return self.tce_figure(carrier, basis, year).value

    def carrier_category(self, carrier: str) -> str:
        coef = self.tce.get(carrier)
        if coef is None:
            raise FactorMissingError(f"no tce coefficient for carrier {carrier!r}; known: {', '.join(self.tce)}")
        return coef.category

    # -- CO2 -----------------------------------------------------------------------------
    def grid_factor(self, year: int, region: str | None = None) -> Co2Factor:
        """Grid electricity factor: the year's vintage, else the latest <= year, else the latest."""
        region = region or self.grid_default_region
        series = self.grid.get(region)
        if not series:
            raise FactorMissingError(f"no grid factor for region {region!r}; known: {', '.join(self.grid)}")
        earlier = [y for y in series if y <= year]
        vintage = max(earlier) if earlier else max(series)
        f = series[vintage]
        return Co2Factor("electricity", f.value, f.unit, "scope2", vintage, region, f.source, f.edition, f.confidence)

    def co2_factor(self, carrier: str, year: int, region: str | None = None) -> Co2Factor:
        """kgCO2 per registry unit of ``carrier`` with vintage and source.

        electricity → grid (scope 2); heat, steam → purchased heat (scope 2); fuels → scope 1;
        pv_generation, waste_heat → 0 (scope ``none``: not purchased, no combustion here).
        """
        if carrier == "electricity":
            return self.grid_factor(year, region)
        if carrier in ("heat", "steam"):
            f = self.purchased_heat if carrier == "heat" else self.purchased_steam
            return Co2Factor(carrier, f.value, f.unit, "scope2", None, None, f.source, f.edition, f.confidence)
        if carrier in self.fuels:
            f = self.fuels[carrier]
            return Co2Factor(carrier, f.value, f.unit, "scope1", None, None, f.source, f.edition, f.confidence)
        if carrier in ("pv_generation", "waste_heat"):
            unit = self.tce[carrier].unit
            return Co2Factor(carrier, 0.0, f"kgco2_per_{unit}", "none", None, None,
                             "not purchased and not combusted inside the boundary", "policy", "M")
        raise FactorMissingError(f"no CO2 factor for carrier {carrier!r}")

    def process_factor(self, material: str) -> Figure:
        """tCO2 per t of pure carbonate/oxide (caco3, mgco3, dolomite, cao, mgo)."""
        if material not in self.process:
            raise FactorMissingError(f"no process CO2 factor for {material!r}; known: {', '.join(self.process)}")
        return self.process[material]

    # -- benchmarks ----------------------------------------------------------------------
    def benchmark(self, product_class: str) -> Benchmark:
        b = self.benchmarks.get(product_class)
        if b is None:
            raise FactorMissingError(
                f"no benchmark row for product class {product_class!r}; known: {', '.join(self.benchmarks)}")
        return b


def _by_vintage(series: Mapping[int, Figure], year: int | None, default: Figure) -> Figure:
    if year is None:
        return default
    earlier = [y for y in series if y <= year]
    return series[max(earlier)] if earlier else default


# -- parsing -------------------------------------------------------------------------------
class _Ctx:
    def __init__(self, file: str):
        self.file = file

    def fail(self, where: str, msg: str) -> ConfigError:
        return ConfigError(f"{self.file}: {where}: {msg}")

    def mapping(self, node: Any, where: str) -> dict:
        if not isinstance(node, dict):
            raise self.fail(where, "must be a mapping")
        return node

    def provenance(self, node: dict, where: str) -> tuple[str, str, str]:
        out = []
        for key in ("source", "edition", "confidence"):
            v = node.get(key)
            if v is None or not str(v).strip():
                raise self.fail(where, f"missing {key}")
            out.append(str(v))
        if not _CONFIDENCE_RE.match(out[2]):
            raise self.fail(where, f"confidence must be H, M or L (or e.g. M/H), got {out[2]!r}")
        return out[0], out[1], out[2]

    def number(self, node: dict, key: str, where: str, *, positive: bool = True) -> float:
        v = node.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(where, f"{key} must be a number, got {v!r}")
        if positive and not v > 0:
            raise self.fail(where, f"{key} must be > 0, got {v!r}")
        return float(v)

    def figure(self, node: Any, where: str, unit: str, vintage: int | None = None) -> Figure:
        node = self.mapping(node, where)
        src, ed, conf = self.provenance(node, where)
        return Figure(self.number(node, "value", where), unit, src, ed, conf, str(node.get("note", "")), vintage)


def _parse_tce(ctx: _Ctx, raw: dict) -> dict[str, TceCoefficient]:
    out: dict[str, TceCoefficient] = {}
    for carrier, node in ctx.mapping(raw, "tce_coefficients").items():
        where = f"tce_coefficients.{carrier}"
        node = ctx.mapping(node, where)
        unit, category = node.get("unit"), node.get("category")
        if not unit:
            raise ctx.fail(where, "missing unit")
        if category not in CATEGORIES:
            raise ctx.fail(where, f"category must be one of {CATEGORIES}, got {category!r}")
        fig_unit = f"kgce_per_{unit}"
        gen_by_year: dict[int, Figure] = {}
        gen_default = None
        if node.get("coefficients_from"):
            ctx.provenance(node, where)
            equivalent = None
        elif "equivalent" in node:
            equivalent = ctx.figure(node["equivalent"], f"{where}.equivalent", fig_unit)
            gen = ctx.mapping(node.get("generation"), f"{where}.generation")
            for y, fnode in ctx.mapping(gen.get("by_year"), f"{where}.generation.by_year").items():
                gen_by_year[int(y)] = ctx.figure(fnode, f"{where}.generation.by_year.{y}", fig_unit, int(y))
            gen_default = ctx.figure(gen.get("default"), f"{where}.generation.default", fig_unit)
        else:
            equivalent = ctx.figure(node, where, fig_unit)
        out[carrier] = TceCoefficient(carrier, str(unit), category, equivalent, MappingProxyType(gen_by_year),
                                      gen_default, node.get("coefficients_from"))
    for carrier, coef in out.items():
        src = coef.coefficients_from
        if src and (src not in out or out[src].coefficients_from):
            raise ctx.fail(f"tce_coefficients.{carrier}.coefficients_from", f"{src!r} is not a carrier with its own coefficients")
    return out


def _parse_policy(ctx: _Ctx, raw: dict) -> Policy:
    raw = ctx.mapping(raw, "policy")
    values = {}
    for key, choices in _POLICY_CHOICES.items():
        where = f"policy.{key}"
        node = ctx.mapping(raw.get(key), where)
        ctx.provenance(node, where)
        if node.get("value") not in choices:
            raise ctx.fail(where, f"value must be one of {choices}, got {node.get('value')!r}")
        values[key] = node["value"]
    unknown = set(raw) - set(_POLICY_CHOICES)
    if unknown:
        raise ctx.fail(f"policy.{sorted(unknown)[0]}", "unknown policy key")
    return Policy(**values)


def _parse_co2(ctx: _Ctx, raw: dict):
    raw = ctx.mapping(raw, "co2_factors")
    g = ctx.mapping(raw.get("grid_electricity"), "co2_factors.grid_electricity")
    unit = g.get("unit", "kgco2_per_kwh")
    grid: dict[str, Mapping[int, Figure]] = {}
    for region, series in ctx.mapping(g.get("regions"), "co2_factors.grid_electricity.regions").items():
        where = f"co2_factors.grid_electricity.regions.{region}"
        grid[region] = MappingProxyType({
            int(y): ctx.figure(f, f"{where}.{y}", unit, int(y)) for y, f in ctx.mapping(series, where).items()})
    default_region = ctx.mapping(raw.get("grid_default"), "co2_factors.grid_default").get("region")
    if default_region not in grid:
        raise ctx.fail("co2_factors.grid_default.region", f"{default_region!r} is not a listed region")
    fuels = {}
    for fuel, node in ctx.mapping(raw.get("fuels"), "co2_factors.fuels").items():
        fuels[fuel] = ctx.figure(node, f"co2_factors.fuels.{fuel}", ctx.mapping(node, fuel).get("unit", ""))
    heat = ctx.figure(raw.get("purchased_heat"), "co2_factors.purchased_heat", "kgco2_per_gj")
    snode = ctx.mapping(raw.get("purchased_steam"), "co2_factors.purchased_steam")
    src, ed, conf = ctx.provenance(snode, "co2_factors.purchased_steam")
    enthalpy = ctx.number(snode, "enthalpy_gj_per_t", "co2_factors.purchased_steam")
    steam = Figure(enthalpy * heat.value, "kgco2_per_t", src, ed, conf,
                   f"{enthalpy} GJ/t x {heat.value} kgCO2/GJ")
    process = {m: ctx.figure(n, f"co2_factors.process.{m}", "tco2_per_t")
               for m, n in ctx.mapping(raw.get("process"), "co2_factors.process").items()}
    return MappingProxyType(grid), default_region, MappingProxyType(fuels), heat, steam, MappingProxyType(process)


def _parse_benchmarks(ctx: _Ctx, raw: dict) -> dict[str, Benchmark]:
    out = {}
    for cls, node in ctx.mapping(raw, "benchmarks").items():
        where = f"benchmarks.{cls}"
        node = ctx.mapping(node, where)
        for key in ("indicator_zh", "indicator_en", "unit"):
            if not node.get(key):
                raise ctx.fail(where, f"missing {key}")
        if node["unit"] not in UNITS:
            raise ctx.fail(f"{where}.unit", f"must be one of {UNITS}, got {node['unit']!r}")
        ndrc = gb = None
        if node.get("ndrc") is not None:
            n = ctx.mapping(node["ndrc"], f"{where}.ndrc")
            bm, bl = (ctx.number(n, k, f"{where}.ndrc") for k in ("benchmark", "baseline"))
            if bm > bl:
                raise ctx.fail(f"{where}.ndrc", "benchmark must not exceed baseline (lower energy is better)")
            ndrc = NdrcLevels(bm, bl, *ctx.provenance(n, f"{where}.ndrc"))
        if node.get("gb") is not None:
            n = ctx.mapping(node["gb"], f"{where}.gb")
            grades = [ctx.number(n, k, f"{where}.gb") for k in ("grade_1", "grade_2", "grade_3")]
            if grades != sorted(grades):
                raise ctx.fail(f"{where}.gb", "grades must satisfy grade_1 <= grade_2 <= grade_3")
            gb = GbGrades(*grades, *ctx.provenance(n, f"{where}.gb"))
        boundary = None
        if node.get("boundary") is not None:
            bnode = ctx.mapping(node["boundary"], f"{where}.boundary")
            ctx.provenance(bnode, f"{where}.boundary")
            boundary = MappingProxyType({str(k): str(v) for k, v in bnode.items()})
        out[cls] = Benchmark(cls, str(node["indicator_zh"]), str(node["indicator_en"]), node["unit"], ndrc, gb,
                             boundary)
    return out


def _parse_coverage(ctx: _Ctx, raw: Any) -> Coverage:
    raw = ctx.mapping(raw, "coverage")
    figs = {}
    for key in ("classification_min_frac", "period_min_covered_frac", "period_max_estimated_frac",
                "district_min_energy_frac"):
        fig = ctx.figure(raw.get(key), f"coverage.{key}", "frac")
        if fig.value > 1:
            raise ctx.fail(f"coverage.{key}", f"a fraction in (0, 1], got {fig.value}")
        figs[key] = fig
    return Coverage(**figs)


def _parse_co2_reference(ctx: _Ctx, raw: Any, grid: Mapping[str, Mapping[int, Figure]]) -> Co2Reference:
    raw = ctx.mapping(raw, "co2_reference")
    where = "co2_reference.society_wide_cumulative_reduction_frac"
    node = ctx.mapping(raw.get("society_wide_cumulative_reduction_frac"), where)
    fig = ctx.figure(node, where, "frac")
    if fig.value >= 1:
        raise ctx.fail(where, f"value must be a fraction below 1, got {fig.value}")
    start, end = int(node.get("start_year", 0)), int(node.get("end_year", 0))
    if not end > start > 0:
        raise ctx.fail(where, "end_year must be after start_year")
    vint = ctx.figure(raw.get("fixed_grid_vintage"), "co2_reference.fixed_grid_vintage", "year")
    if not any(int(vint.value) in series for series in grid.values()):
        raise ctx.fail("co2_reference.fixed_grid_vintage", f"no grid factor has vintage {int(vint.value)}")
    return Co2Reference(fig, start, end, vint)


def _parse_targets(ctx: _Ctx, raw: dict) -> Targets:
    t = ctx.mapping(raw, "targets")
    src, ed, conf = ctx.provenance(t, "targets")
    if t.get("path") != "geometric":
        raise ctx.fail("targets.path", f"only 'geometric' is implemented, got {t.get('path')!r}")
    base, end = int(t.get("base_year", 0)), int(t.get("end_year", 0))
    if not end > base > 0:
        raise ctx.fail("targets", "end_year must be after base_year")
    fracs = {k: ctx.number(t, k, "targets") for k in ("cumulative_reduction_frac", "yellow_tolerance_frac",
                                                       "benchmark_share_goal_frac", "baseline_share_goal_frac")}
    for k, v in fracs.items():
        if v > 1:
            raise ctx.fail(f"targets.{k}", f"a fraction in [0, 1], got {v}")
    return Targets(base, end, fracs["cumulative_reduction_frac"], "geometric", fracs["yellow_tolerance_frac"],
                   fracs["benchmark_share_goal_frac"], fracs["baseline_share_goal_frac"], src, ed, conf)


def parse_factors(data: Any, source: str = "<factors>") -> FactorTable:
    """Validate a factors mapping into a :class:`FactorTable`; ConfigError names the bad entry."""
    ctx = _Ctx(source)
    data = ctx.mapping(data, "top level")
    version = data.get("table_version")
    if not version or not isinstance(version, str):
        raise ctx.fail("table_version", "missing (a string such as \"2026.11-1\")")
    for section in ("tce_coefficients", "policy", "co2_factors", "benchmarks", "targets", "coverage",
                    "co2_reference"):
        if section not in data:
            raise ctx.fail(section, "missing section")
    tce = _parse_tce(ctx, data["tce_coefficients"])
    for needed in ("electricity", *_FUEL_CARRIERS, "heat", "steam", "pv_generation", "waste_heat"):
        if needed not in tce:
            raise ctx.fail(f"tce_coefficients.{needed}", "missing carrier")
    if tce["electricity"].generation_default is None:
        raise ctx.fail("tce_coefficients.electricity.generation", "missing")
    grid, region, fuels, heat, steam, process = _parse_co2(ctx, data["co2_factors"])
    for fuel in _FUEL_CARRIERS:
        if fuel not in fuels:
            raise ctx.fail(f"co2_factors.fuels.{fuel}", "missing fuel")
    for fuel, fig in fuels.items():
        expected = f"kgco2_per_{tce[fuel].unit}" if fuel in tce else None
        if fig.unit != expected:
            raise ctx.fail(f"co2_factors.fuels.{fuel}.unit", f"must be {expected} (per the carrier's registry unit)")
    return FactorTable(
        table_version=version, source_path=source, tce=MappingProxyType(tce),
        policy=_parse_policy(ctx, data["policy"]), grid=grid, grid_default_region=region, fuels=fuels,
        purchased_heat=heat, purchased_steam=steam, process=process,
        benchmarks=MappingProxyType(_parse_benchmarks(ctx, data["benchmarks"])),
        targets=_parse_targets(ctx, data["targets"]),
        coverage=_parse_coverage(ctx, data["coverage"]),
        co2_reference=_parse_co2_reference(ctx, data["co2_reference"], grid),
    )


@lru_cache(maxsize=8)
def _load(path_str: str) -> FactorTable:
    path = Path(path_str)
    if not path.exists():
        raise ConfigError(f"factor table not found: {path}", hint="set ECM_FACTORS_FILE")
    from ecm.registry import read_yaml

    try:
        data = read_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_factors(data, str(path))


def load_factors(path: str | Path) -> FactorTable:
    """Load and validate the factor table at ``path`` (cached per resolved path)."""
    return _load(str(Path(path).resolve()))


def get_factors() -> FactorTable:
    """The factor table named by the settings (``ECM_FACTORS_FILE``)."""
    from ecm.settings import get_settings

    return load_factors(get_settings().factors_path)
