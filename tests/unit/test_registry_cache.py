"""The parsed-registry cache: a large registry loads from ``<ECM_STATE_DIR>/cache/registry`` equal to
its parse, an edited file is parsed again, a damaged cache entry is ignored and replaced."""
from __future__ import annotations

import yaml

import sim_devices
from ecm.registry import PARSED_CACHE_MIN_BYTES, Registry, _load_registry, load_registry
from ecm.settings import get_settings, resource_dir


def _big_registry(tmp_path, n: int = 60):
    base = yaml.safe_load((resource_dir("config") / "district.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "district.yaml"
    path.write_text(yaml.safe_dump(sim_devices.scaled_registry(base, n, 25), allow_unicode=True), encoding="utf-8")
    assert path.stat().st_size >= PARSED_CACHE_MIN_BYTES
    return path


def _load(path) -> Registry:
    _load_registry.cache_clear()   # a new process: the in-process cache is empty
    return load_registry(path)


def test_large_registry_loads_from_the_cache_equal_to_its_parse(tmp_path, monkeypatch):
    monkeypatch.setenv("ECM_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    path = _big_registry(tmp_path)
    first = _load(path)
    entries = list((tmp_path / "state" / "cache" / "registry").glob("registry-*.pickle"))
    assert len(entries) == 1
    again = _load(path)
    assert again == first and again.meters_frame().equals(first.meters_frame())

    # an edit (one enterprise renamed) is a new key: parsed again, not served from the old entry
    text = path.read_text(encoding="utf-8").replace("name_en: Rongchang", "name_en: Renamed Rongchang", 1)
    path.write_text(text, encoding="utf-8")
    edited = _load(path)
    assert edited.district.name_en.startswith("Renamed") and not first.district.name_en.startswith("Renamed")
    assert len(list(entries[0].parent.glob("registry-*.pickle"))) == 2

    # a damaged entry is parsed again and replaced
    for e in entries[0].parent.glob("registry-*.pickle"):
        e.write_bytes(b"not a pickle")
    assert _load(path) == edited
    assert sum(e.read_bytes() != b"not a pickle" for e in entries[0].parent.glob("registry-*.pickle")) == 1
    assert _load(path) == edited
    get_settings.cache_clear()


def test_small_registry_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ECM_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    _load(resource_dir("config") / "district.yaml")
    assert not (tmp_path / "state" / "cache" / "registry").exists()
    get_settings.cache_clear()
