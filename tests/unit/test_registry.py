"""Registry loading and validation: a malformed registry names the bad entry."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ecm.errors import RegistryError
from ecm.registry import load_registry, parse_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load((ROOT / "config/district.yaml").read_text(encoding="utf-8"))


def test_default_district_loads_with_quantities():
    reg = load_registry(ROOT / "config/district.yaml")
    assert len(reg.enterprises) >= 20
    e01 = reg.enterprise("e01")
    assert e01.meter("e01_elec_main").quantity == "energy_kwh"
    assert e01.meter("e01_l1_kiln_gas").quantity == "gas_m3"
    assert e01.meter("e01_power_main").quantity == "power_kw"
    assert e01.meter("e01_l1_output").quantity == "output_m2"
    # an 8-digit register rolls over at 10**8
    assert e01.meter("e01_l1_elec").register_max == 1e8
    meters = reg.meters_frame()
    assert meters.index.is_unique and set(meters["enterprise"]) == set(reg.enterprise_ids)
    assert {"ceramics"} != set(reg.lines_frame()["industry"])


def _mutate(raw, fn):
    data = copy.deepcopy(raw)
    fn(data)
    return data


@pytest.mark.parametrize(
    "mutation, expected",
    [
        (lambda d: d["enterprises"][2]["meters"][1].__setitem__("carrier", "plutonium"),
         r"enterprises\[2\]\(e03\)\.meters\[1\]\(e03_power_main\): unknown carrier 'plutonium'"),
        (lambda d: d["enterprises"][0]["meters"][0].__setitem__("unit", "mwh"),
         r"enterprises\[0\]\(e01\)\.meters\[0\]\(e01_elec_main\).*unit 'mwh' not allowed"),
        (lambda d: d["enterprises"][0]["meters"][0].pop("register_digits"),
         r"e01_elec_main.*counters need register_digits"),
        (lambda d: d["enterprises"][1].__setitem__("id", "e01"), r"duplicate enterprise id 'e01'"),
        (lambda d: d["enterprises"][0]["meters"][2].__setitem__("line", "e01_l9"), r"unknown line 'e01_l9'"),
        (lambda d: d["enterprises"][0].__setitem__("industry", "banking"), r"enterprises\[0\]\(e01\)\.industry"),
        (lambda d: d["enterprises"][0].__setitem__("id", "Bad Id"), r"enterprises\[0\]\(Bad Id\)\.id"),
    ],
)
def test_malformed_registry_names_the_bad_entry(raw, mutation, expected):
    with pytest.raises(RegistryError, match=expected):
        parse_registry(_mutate(raw, mutation), "district.yaml")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RegistryError, match="registry file not found"):
        load_registry(tmp_path / "nope.yaml")
