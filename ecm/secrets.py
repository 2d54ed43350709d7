"""Generated secrets under ``ECM_STATE_DIR/secrets.json`` (mode 0600, never committed).

Passwords are created on first use and never defaulted: one MQTT password per enterprise (and per
extra gateway principal ``<enterprise>-<name>``), one for the ingest service, one for the broker's
dynamic-security admin, and an admin and a service user for InfluxDB.
"""
from __future__ import annotations

import json
import os
import secrets as _secrets
from pathlib import Path

from ecm.errors import EcmError

INGEST_USER = "ingest"
#: the broker's dynamic-security administrator (ecm/dynsec.py); never given to an enterprise
ADMIN_USER = "ecm-admin"


def _file(state_dir: Path) -> Path:
    return Path(state_dir) / "secrets.json"


def load_secrets(state_dir: Path) -> dict:
    f = _file(state_dir)
    if not f.exists():
        return {}
    return json.loads(f.read_text())


def _save(state_dir: Path, data: dict) -> None:
    f = _file(state_dir)
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, f)


def new_password() -> str:
    return _secrets.token_urlsafe(18)


def ensure_secrets(state_dir: Path, enterprise_ids: list[str]) -> dict:
    """Create any missing secret (idempotent) and return all of them."""
    data = load_secrets(state_dir)
    changed = False
    mqtt = data.setdefault("mqtt", {})
    for user in [INGEST_USER, ADMIN_USER, *enterprise_ids]:
        if user not in mqtt:
            mqtt[user] = new_password()
            changed = True
    influx = data.setdefault("influx", {})
    for role, user in (("admin", "ecm_admin"), ("service", "ecm_service")):
        if role not in influx:
            influx[role] = {"user": user, "password": new_password()}
            changed = True
    if changed:
        _save(state_dir, data)
    return data


def rotate_mqtt_password(state_dir: Path, user: str) -> str:
    """Replace ``user``'s MQTT password with a new random one (saved 0600); returns it."""
    data = load_secrets(state_dir)
    if user not in data.get("mqtt", {}):
        raise EcmError(f"no MQTT credentials for {user!r} in {state_dir}", hint="run `ecm services start` first")
    data["mqtt"][user] = new_password()
    _save(state_dir, data)
    return data["mqtt"][user]


def mqtt_credentials(state_dir: Path, user: str) -> tuple[str, str]:
    """(username, password) of an MQTT user; raises when secrets were not generated yet."""
    pw = load_secrets(state_dir).get("mqtt", {}).get(user)
    if pw is None:
        raise EcmError(f"no MQTT credentials for {user!r} in {state_dir}",
                       hint="run `ecm services start` first (it generates credentials for every registry enterprise)")
    return user, pw
