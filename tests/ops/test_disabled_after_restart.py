"""An offboarded enterprise stays off when the broker's config is rebuilt: a restart of the local
stack (Stack.from_settings) and a compose re-init both carry the registry's disabled set into the
dynamic-security document, so the disabled tenant gets no principal back."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _registry_with_e02_disabled():
    from ecm.registry import parse_registry

    data = copy.deepcopy(yaml.safe_load((ROOT / "config/district.yaml").read_text(encoding="utf-8")))
    data["enterprises"][1]["disabled"] = {"since": "2026-11-01", "at": "2026-11-01T08:00:00Z", "reason": "closed"}
    return parse_registry(data, "e02 disabled")


def test_stack_from_settings_keeps_the_disabled_tenant_off(tmp_path):
    from ecm.dynsec import build_config
    from ecm.stack import Stack

    reg = _registry_with_e02_disabled()
    assert reg.disabled_ids == {"e02"}
    st = Stack.from_settings(registry=reg)
    assert st.mosquitto.disabled == {"e02"}
    doc = build_config({e: "pw" for e in reg.enterprise_ids}, reg.enterprise_ids, disabled=st.mosquitto.disabled)
    users = {c["username"] for c in doc["clients"]}
    assert "e01" in users and "e02" not in users


def test_compose_init_keeps_the_disabled_tenant_off(tmp_path):
    import importlib.util
    import json

    reg_file = tmp_path / "district.yaml"
    data = yaml.safe_load((ROOT / "config/district.yaml").read_text(encoding="utf-8"))
    data["enterprises"][1]["disabled"] = {"since": "2026-11-01", "at": "2026-11-01T08:00:00Z", "reason": "closed"}
    reg_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("compose_init", ROOT / "compose/init.py")
    init = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(init)
    init.generate(tmp_path / "compose", tmp_path / ".env", district=reg_file)
    doc = json.loads((tmp_path / "compose/mosquitto/dynsec.json").read_text())
    users = {c["username"] for c in doc["clients"]}
    assert "e01" in users and "e03" in users and "e02" not in users
