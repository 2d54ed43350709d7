"""Edge gateway: reads Modbus, DL/T 645-2007 and OPC UA meters and publishes the MQTT contract
(docs/contracts.md §1) without loss. See gateway/README.md.

    from gateway.config import load_config
    from gateway.service import Gateway, check, run
"""
from __future__ import annotations

__all__ = ["load_config", "run", "check"]


def load_config(path):
    from gateway.config import load_config as _load

    return _load(path)


def run(config_path, stop_after_s=None):
    from gateway.service import run as _run

    return _run(config_path, stop_after_s)


def check(site):
    from gateway.service import check as _check

    return _check(site)
