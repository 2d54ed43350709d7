"""`ecm enterprise add|disable` without servers: validation errors are one line and change nothing,
the registry file is edited in place (comments kept, backup, atomic), a disabled enterprise is kept
in the registry and its messages get their own reject reason in the bridge's parser."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ecm.errors import EcmError, RegistryError
from ecm.factors import get_factors
from ecm.registry import (load_registry, onboarding_problems, parse_enterprise, parse_registry, text_with_disabled,
                          text_with_enterprise, write_registry_text)

ROOT = Path(__file__).resolve().parents[2]
E21 = ROOT / "tests" / "ops" / "data" / "e21.yaml"
DISTRICT = ROOT / "config" / "district.yaml"


def e21() -> dict:
    return yaml.safe_load(E21.read_text(encoding="utf-8"))


def renamed(d: dict, new_id: str) -> dict:
    """``d`` with its id and every line/meter id (and meter line) moved from e21 to ``new_id``."""
    d["id"] = new_id
    for x in (*d["lines"], *d["meters"]):
        x["id"] = x["id"].replace("e21", new_id)
        if x.get("line"):
            x["line"] = x["line"].replace("e21", new_id)
    return d


@pytest.fixture(scope="module")
def registry():
    return load_registry(DISTRICT)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private registry copy and state dir for the CLI; nothing listens on the MQTT port."""
    from ecm.services import free_port
    from ecm.settings import reset_settings_cache

    reg = tmp_path / "district.yaml"
    shutil.copy(DISTRICT, reg)
    monkeypatch.setenv("ECM_DISTRICT_FILE", str(reg))
    monkeypatch.setenv("ECM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ECM_MQTT_PORT", str(free_port()))
    reset_settings_cache()
    yield reg
    monkeypatch.undo()
    reset_settings_cache()
    load_registry.cache_clear()


def run(*args: str):
    from ecm.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- schema errors name the entry ------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda d: d["meters"][0].update(carrier="electric"),
     "e21.yaml: meters[0](e21_elec_main): unknown carrier 'electric'; known: electricity,"),
    (lambda d: d.update(industry="glass"), "e21.yaml: industry: Input should be 'building_ceramics',"),
    (lambda d: d.pop("name_zh"), "e21.yaml: name_zh: Field required"),
    (lambda d: d["meters"][1].update(line="e21_l9"), "e21.yaml: meter e21_l1_coal names unknown line 'e21_l9'"),
    (lambda d: d["meters"][2].pop("register_digits"), "e21.yaml: meters[2](e21_l1_output): counters need register_digits"),
    (lambda d: d["meters"][0].update(unit="mwh"), "e21.yaml: meters[0](e21_elec_main): unit 'mwh' not allowed for electricity"),
    (lambda d: d.update(id="E21"), "e21.yaml: id: String should match pattern"),
])
def test_schema_errors_are_one_line_naming_the_entry(change, message):
    d = e21()
    change(d)
    with pytest.raises(RegistryError) as exc:
        parse_enterprise(d, "e21.yaml")
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_the_example_enterprise_passes_every_onboarding_rule(registry):
    assert onboarding_problems(parse_enterprise(e21()), registry, get_factors().benchmarks) == []


@pytest.mark.parametrize("change, problem", [
    (lambda d: renamed(d, "e01"), "enterprise 'e01' already in the registry"),
    (lambda d: d["meters"][0].update(id="main_elec"), "meter id(s) ['main_elec'] must start with 'e21_'"),
    (lambda d: d["lines"][0].update(id="l1") or [m.update(line="l1") for m in d["meters"] if m.get("line")],
     "line id(s) ['l1'] must start with 'e21_'"),
    (lambda d: d["lines"][0].update(product_class="fired_brick"), "line e21_l1: product_class 'fired_brick' has no benchmark row"),
    (lambda d: d["lines"][0]["capacity"].update(unit="t_per_day"),
     "line e21_l1: capacity unit t_per_day does not match output_unit 10k_bricks"),
    (lambda d: d["meters"].pop(2), "line e21_l1: no output counter (carrier: output, unit: 10k_bricks, line: e21_l1)"),
    (lambda d: d["meters"][0].update(role="sub") or d["meters"][1].update(role="sub"),
     "no main energy counter"),
    (lambda d: d.update(disabled={"since": "2026-01-01", "at": "2026-01-01T00:00:00Z"}),
     "a new enterprise cannot start disabled"),
])
def test_onboarding_rules(registry, change, problem):
    d = e21()
    change(d)
    problems = onboarding_problems(parse_enterprise(d), registry, get_factors().benchmarks)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_disabled_enterprise_cannot_be_added_again(registry):
    text = text_with_disabled(DISTRICT.read_text(encoding="utf-8"), "e05", {"since": "2026-11-29", "at": "x"})
    reg = parse_registry(yaml.safe_load(text))
    problems = onboarding_problems(parse_enterprise(renamed(e21(), "e05")), reg, None)
    assert problems[0] == "enterprise 'e05' already in the registry (disabled)"


# -- the CLI: one-line errors, nothing changed -----------------------------------------------------

def test_cli_add_rejects_with_one_line_and_changes_nothing(env, tmp_path):
    before = env.read_bytes()
    bad = e21()
    bad["meters"][2]["unit"] = "kg"
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    r = run("enterprise", "add", str(f))
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {f}: meters[2](e21_l1_output): unit 'kg' not allowed for output")
    # a file that is not YAML, a missing id, the reserved id 'ingest' (whole-registry rule)
    f.write_text("id: [e21\n", encoding="utf-8")
    r = run("enterprise", "add", str(f))
    assert r.exit_code == 1 and r.output.startswith(f"error: {f}: not valid YAML:") and r.output.count("\n") == 1
    ing = renamed(e21(), "ingest")
    f.write_text(yaml.safe_dump(ing, allow_unicode=True), encoding="utf-8")
    r = run("enterprise", "add", str(f))
    assert r.exit_code == 1 and "enterprise id 'ingest' is reserved for the ingest service" in r.output
    r = run("enterprise", "add", "e22", "--name-zh", "x", "--meter", "e22_elec,carrier=electricity")
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "name_en: Field required" in r.output
    r = run("enterprise", "add", "e22", "--meter", "carrier=electricity")
    assert r.exit_code == 1 and "must start with the meter id" in r.output
    assert env.read_bytes() == before
    assert list(env.parent.glob("*.bak")) == []
    assert not (env.parent / "state" / "secrets.json").exists()


def test_cli_add_from_options_dry_run_then_for_real_with_the_broker_down(env):
    args = ["enterprise", "add", "e22", "--name-zh", "新砖厂", "--name-en", "New Brick Works", "--industry", "brick",
            "--park", "广顺工业园",
            "--line", "e22_l1,name_zh=一号窑,name_en=Kiln 1,product=brick,product_class=brick_sintered_hollow,"
                      "output_unit=10k_bricks,capacity=12.5,capacity_unit=10k_bricks_per_day",
            "--meter", "e22_elec_main,carrier=electricity,unit=kwh,kind=counter,register_digits=8",
            "--meter", "e22_l1_output,carrier=output,unit=10k_bricks,kind=counter,line=e22_l1,register_digits=6"]
    before = env.read_bytes()
    r = run(*args, "--dry-run")
    assert r.exit_code == 0 and r.output == "ok: e22 (1 lines, 2 meters) is valid; nothing changed\n"
    assert env.read_bytes() == before
    r = run(*args, "--wait-s", "0")
    assert r.exit_code == 0, r.output
    load_registry.cache_clear()
    reg = load_registry(env)
    e = reg.enterprise("e22")
    assert e.lines[0].capacity.value == 12.5 and e.meters[1].register_digits == 6 and e.meters[1].line == "e22_l1"
    assert env.read_bytes().startswith(before)  # appended: every comment and line before it kept
    assert [p.read_bytes() for p in env.parent.glob("district.yaml.*.bak")] == [before]
    from ecm.secrets import load_secrets

    assert len(load_secrets(env.parent / "state")["mqtt"]["e22"]) >= 20


def test_cli_disable_marks_keeps_history_and_is_idempotent(env):
    r = run("enterprise", "disable", "e05", "--reason", "relocated", "--wait-s", "0")
    assert r.exit_code == 0, r.output
    load_registry.cache_clear()
    reg = load_registry(env)
    assert reg.enterprise("e05").disabled.reason == "relocated"
    assert "e05" in reg.enterprise_ids and reg.disabled_ids == {"e05"}  # kept, meters and all
    assert len(reg.enterprise("e05").meters) == len(load_registry(DISTRICT).enterprise("e05").meters)
    text = env.read_text(encoding="utf-8")
    r = run("enterprise", "disable", "e05", "--wait-s", "0")
    assert r.exit_code == 0 and '"already_disabled": true' in r.output
    assert env.read_text(encoding="utf-8") == text
    r = run("enterprise", "disable", "e99")
    assert r.exit_code == 1 and r.output.startswith("error: unknown enterprise 'e99'")


# -- registry file editing -------------------------------------------------------------------------

def test_text_edits_keep_comments_and_fall_back_to_a_full_dump_when_layout_differs():
    text = DISTRICT.read_text(encoding="utf-8")
    new = text_with_enterprise(text, e21())
    assert new.startswith(text) and yaml.safe_load(new)["enterprises"][-1] == e21()
    # enterprises not the last key: appending would land in the wrong mapping; re-dumped, header kept
    data = yaml.safe_load(text)
    odd = "# header\n" + yaml.safe_dump({"enterprises": data["enterprises"][:2], "district": data["district"]},
                                        allow_unicode=True, sort_keys=False)
    new = text_with_enterprise(odd, e21())
    assert new.startswith("# header\n")
    assert yaml.safe_load(new) == {"enterprises": [*data["enterprises"][:2], e21()], "district": data["district"]}
    # disable: inserted under its `- id:` line only
    mark = {"since": "2026-11-29", "at": "2026-11-29T01:00:00Z", "reason": ""}
    new = text_with_disabled(text, "e02", mark)
    assert len(new.splitlines()) == len(text.splitlines()) + 4
    exp = copy.deepcopy(data)
    exp["enterprises"][1]["disabled"] = mark
    assert yaml.safe_load(new) == exp
    with pytest.raises(RegistryError, match="unknown enterprise 'e77'"):
        text_with_disabled(text, "e77", mark)


def test_write_refuses_an_invalid_registry_and_keeps_backups(tmp_path):
    reg = tmp_path / "district.yaml"
    shutil.copy(DISTRICT, reg)
    before = reg.read_bytes()
    dup = before.decode() + "- id: e01\n  name_zh: x\n  name_en: x\n  industry: brick\n  park: x\n  meters: []\n"
    with pytest.raises(EcmError, match="duplicate enterprise id 'e01'"):
        write_registry_text(reg, dup)
    assert reg.read_bytes() == before and list(tmp_path.glob("*.bak")) == []
    backup = write_registry_text(reg, text_with_enterprise(before.decode(), e21()))
    assert backup.read_bytes() == before and load_registry(reg).enterprise("e21") is not None
    assert not list(tmp_path.glob(".*.tmp"))


# -- broker config and bridge parser for a disabled enterprise ---------------------------------------

def test_disabled_enterprise_has_no_broker_principal_and_cannot_rotate(tmp_path):
    from ecm import dynsec
    from ecm.errors import ServiceError
    from ecm.services import MosquittoService

    doc = dynsec.build_config({"ingest": "a", "ecm-admin": "b", "e01": "c", "e02": "d", "e02-gw2": "e"},
                              ["e01", "e02"], disabled=frozenset({"e02"}))
    assert sorted(c["username"] for c in doc["clients"]) == ["e01", "ecm-admin", "ingest"]
    svc = MosquittoService(tmp_path, "127.0.0.1", 1, ["e01", "e02"], disabled=frozenset({"e02"}))
    with pytest.raises(ServiceError, match="enterprise 'e02' is disabled"):
        svc.rotate_password("e02-gw2")


def test_bridge_parser_rejects_a_disabled_enterprise_with_its_own_reason():
    from ingest.fastpath import FastPath
    from ingest.payload import RegistryIndex, parse_payload

    text = text_with_disabled(DISTRICT.read_text(encoding="utf-8"), "e03", {"since": "2026-11-29", "at": "x"})
    idx = RegistryIndex.from_registry(parse_registry(yaml.safe_load(text)))
    now = 1_764_000_000_000
    body = b'{"ts": %d, "values": {"energy_kwh": 1.5}, "seq": 1}' % (now - 1000)
    r = parse_payload("ecm/v1/e03/e03_elec_main/reading", body, idx, now)
    assert r.points == [] and [(x.reason, x.detail) for x in r.rejects] == [("enterprise_disabled", "e03")]
    assert FastPath(idx).lines(b"ecm/v1/e03/e03_elec_main/reading", body, now) is None
    r = parse_payload("ecm/v1/e04/e04_elec_main/reading", body, idx, now)  # the others are untouched
    assert r.rejects == [] and len(r.points) == 1
    assert FastPath(idx).lines(b"ecm/v1/e04/e04_elec_main/reading", body, now) == r.points


def test_a_long_lived_process_sees_the_new_registry_version(tmp_path):
    """The registry cache is keyed by the file's version: no restart needed for the next run."""
    import os

    reg = tmp_path / "district.yaml"
    shutil.copy(DISTRICT, reg)
    assert load_registry(reg).enterprise("e21") is None
    assert load_registry(reg) is load_registry(reg)  # cached while the file is unchanged
    tmp = tmp_path / "new.tmp"
    tmp.write_text(text_with_enterprise(DISTRICT.read_text(encoding="utf-8"), e21()), encoding="utf-8")
    os.replace(tmp, reg)  # as write_registry_text does, but without touching the cache
    assert load_registry(reg).enterprise("e21").industry == "brick"
