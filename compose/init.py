"""Generate the docker-compose secrets: ``.env`` and ``.compose/`` (both gitignored).

    python compose/init.py [--force]      (or scripts/compose-init.sh)

- ``.compose/state/secrets.json``: the platform's generated passwords (ecm.secrets: one MQTT
  password per registry enterprise, ``ingest``, InfluxDB admin and service users), mounted into
  ingest, sim and Airflow at ``/var/lib/ecm/secrets.json``.
- ``.compose/mosquitto/dynsec.json``: the broker's dynamic-security config (ecm/dynsec.py: principals
  bound to client ids, subscriptions denied to enterprises), the same as the local broker's
  (``ecm services start``); installed into the broker's data volume at every start.
- ``.compose/mosquitto/tls/``: the broker's CA and server certificate (generated once; gateways
  connect to the published TLS port 8883 with ``ca.crt``).
- ``.env``: every secret docker-compose.yml needs, among them ``AIRFLOW_ADMIN_PASSWORD`` (the
  Airflow UI ``admin`` of the FAB auth manager, created by airflow-init). Existing values are kept
  unless ``--force``; nothing has a default password.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecm.registry import load_registry  # noqa: E402
from ecm import dynsec  # noqa: E402
from ecm.secrets import INGEST_USER, ensure_secrets  # noqa: E402

OUT = ROOT / ".compose"
ENV_FILE = ROOT / ".env"


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)


def _read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def env_values(sec: dict, old: dict[str, str]) -> dict[str, str]:
    pw = lambda: secrets.token_urlsafe(24)  # noqa: E731
    fresh = {
        "COMPOSE_PROJECT_NAME": "ecm",
        "ECM_INFLUX_DB": "ecm",
        "INFLUX_ADMIN_USER": sec["influx"]["admin"]["user"],
        "INFLUX_ADMIN_PASSWORD": sec["influx"]["admin"]["password"],
        "ECM_INFLUX_USER": sec["influx"]["service"]["user"],
        "ECM_INFLUX_PASSWORD": sec["influx"]["service"]["password"],
        "GRAFANA_INFLUX_USER": "ecm_grafana",
        "GRAFANA_INFLUX_PASSWORD": pw(),
        "GRAFANA_ADMIN_PASSWORD": pw(),
        "POSTGRES_PASSWORD": pw(),
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_JWT_SECRET": pw(),
        "AIRFLOW_API_SECRET_KEY": pw(),
        "AIRFLOW_ADMIN_PASSWORD": pw(),
        "AIRFLOW_CONN_SMTP_DEFAULT": "smtp://mail.example.invalid:587",
        "ECM_REPORT_EMAIL_TO": "",
        # alert channels (ecm.alerting; empty = not used) and Grafana's SMTP for e-mail alerts
        "ALERT_EMAIL_TO": "",
        "ALERT_WECOM_WEBHOOK_URL": "",
        "ALERT_DINGTALK_WEBHOOK_URL": "",
        "ALERT_SMTP_ENABLED": "false",
        "ALERT_SMTP_HOST": "",
        "ALERT_SMTP_USER": "",
        "ALERT_SMTP_PASSWORD": "",
        "ALERT_SMTP_FROM": "",
    }
    return {k: old.get(k, v) for k, v in fresh.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate .env and .compose/ secrets for docker compose.")
    ap.add_argument("--force", action="store_true", help="regenerate every secret (existing volumes keep old ones!)")
    ap.add_argument("--out", type=Path, default=OUT, help="secrets folder (default: .compose/)")
    ap.add_argument("--env-file", type=Path, default=ENV_FILE, help="env file (default: .env)")
    args = ap.parse_args(argv)
    generate(args.out, args.env_file, force=args.force)
    return 0


def generate(out: Path, env_file: Path, *, force: bool = False, district: Path | None = None) -> None:
    """Write (or complete) ``env_file`` and the ``out`` folder (``district``: the registry file)."""
    if force and out.exists():
        (out / "state" / "secrets.json").unlink(missing_ok=True)
    reg = load_registry(district or ROOT / "config" / "district.yaml")
    sec = ensure_secrets(out / "state", reg.enterprise_ids)
    os.chmod(out / "state" / "secrets.json", 0o644)   # read by the container user (uid 50000); folder is 0700
    os.chmod(out, 0o700)
    (out / "mosquitto").mkdir(parents=True, exist_ok=True)
    for stale in ("passwd", "acl"):  # pre-dynsec files
        (out / "mosquitto" / stale).unlink(missing_ok=True)
    from ecm.tls import ensure_tls

    ensure_tls(out / "mosquitto" / "tls", extra_names=("mosquitto",))  # once; --force keeps the CA
    _write(out / "mosquitto" / "dynsec.json",
           json.dumps(dynsec.build_config(sec["mqtt"], reg.enterprise_ids, disabled=reg.disabled_ids,
                                          ingest_user=INGEST_USER), indent=1))  # offboarded stay off
    env = env_values(sec, {} if force else _read_env(env_file))
    _write(env_file, "# Generated by scripts/compose-init.sh. Secrets: never commit (gitignored).\n"
           + "".join(f"{k}={v}\n" for k, v in env.items()))
    print(f"wrote {env_file} and {out}/ ({len(sec['mqtt'])} MQTT users); Grafana: admin / "
          f"GRAFANA_ADMIN_PASSWORD in {env_file.name}; Airflow: admin / AIRFLOW_ADMIN_PASSWORD in {env_file.name}")


if __name__ == "__main__":
    sys.exit(main())
