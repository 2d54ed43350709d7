"""`ecm enterprise add|disable|list`: onboarding and offboarding on a running deployment, no restart.

add     validate (schema + onboarding rules + the whole new registry; one-line errors, before any
        connection) → MQTT password in the secrets store → registry file rewritten atomically (backup
        kept) → wait until every running bridge worker reports the new registry's SHA-256 → broker
        role ``ent_<E>`` (publish ``ecm/v1/<E>/#`` only) and principal ``<E>`` (client id ``<E>-gw``)
        created live through the dynamic-security plugin. The broker principal comes last, so the
        tenant cannot publish before the bridge accepts it.
disable broker principals of E disabled live (CONNECT refused, sessions kicked) → registry marks
        ``disabled`` (never deleted: history and overlapping periods keep it) → bridges reload and
        quarantine any later message of E as ``enterprise_disabled``.

With the broker down (nothing listens on ECM_MQTT_HOST:ECM_MQTT_PORT) only the secrets and the
registry change; the broker's configuration is generated from them at its next start.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from ecm.cli.common import echo_json, handle_errors
from ecm.errors import EcmError

BRIDGE_FRESH_MS = 5_000  # a health file older than this belongs to a stopped worker


def _kv_spec(spec: str, what: str) -> dict:
    """``ID,key=value,...`` → ``{"id": ID, key: value}`` (values read as YAML scalars)."""
    import yaml

    head, *rest = [p.strip() for p in spec.split(",")]
    if not head or "=" in head:
        raise EcmError(f"--{what} {spec!r}: must start with the {what} id", hint=f"e.g. --{what} e21_elec_main,carrier=electricity,...")
    out: dict = {"id": head}
    for part in rest:
        k, sep, v = part.partition("=")
        if not sep or not k.strip():
            raise EcmError(f"--{what} {spec!r}: {part!r} is not key=value")
        try:
            val = yaml.safe_load(v) if v.strip() else None
        except yaml.YAMLError:
            val = v
        out[k.strip()] = val if isinstance(val, (int, float, bool, type(None))) else v.strip()
    return out


def _line_doc(spec: str) -> dict:
    d = _kv_spec(spec, "line")
    if "capacity" in d or "capacity_unit" in d:
        d["capacity"] = {"value": d.pop("capacity", None), "unit": d.pop("capacity_unit", None)}
    return d


def enterprise_doc(source: str, opts: dict) -> tuple[dict, str]:
    """The new enterprise's mapping and a label for errors: from a YAML/JSON file (one enterprise,
    or ``enterprises: [one]``), ``-`` for stdin, or an id plus options."""
    import yaml

    p = Path(source)
    if source == "-" or p.suffix.lower() in (".yaml", ".yml", ".json") or p.exists():
        label = "<stdin>" if source == "-" else source
        try:
            text = click.get_text_stream("stdin").read() if source == "-" else p.read_text(encoding="utf-8")
        except OSError as exc:
            raise EcmError(f"cannot read {source}: {exc.strerror or exc}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise EcmError(f"{label}: not valid YAML: {' '.join(str(exc).split())}") from None
        if isinstance(doc, dict) and "enterprises" in doc and set(doc) <= {"enterprises"}:
            ents = doc["enterprises"]
            if not isinstance(ents, list) or len(ents) != 1:
                raise EcmError(f"{label}: `enterprises` must list exactly one enterprise")
            doc = ents[0]
        given = [k for k, v in opts.items() if v]
        if given:
            raise EcmError(f"{label}: options {given} apply only when SOURCE is an enterprise id")
        return doc, label
    doc: dict = {"id": source}
    for key in ("name_zh", "name_en", "industry", "park", "address"):
        if opts.get(key):
            doc[key] = opts[key]
    if opts.get("key_energy_user") is not None:
        doc["key_energy_user"] = opts["key_energy_user"]
    if opts.get("lines"):
        doc["lines"] = [_line_doc(s) for s in opts["lines"]]
    doc["meters"] = [_kv_spec(s, "meter") for s in opts.get("meters") or ()]
    return doc, source


def _bridges(state_dir: Path) -> dict[str, dict]:
    """Health documents of the running bridge workers (written within the last few seconds)."""
    now = time.time() * 1000
    out = {}
    for f in sorted((state_dir / "ingest").glob("health-*.json")):
        try:
            h = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not h.get("stopped") and now - h.get("time_ms", 0) < BRIDGE_FRESH_MS:
            out[h.get("worker", f.stem)] = h
    return out


def wait_bridges(state_dir: Path, digest: str, timeout_s: float) -> dict:
    """Wait until every running bridge worker reports ``digest``; ``{"confirmed": [...], "pending": [...]}``."""
    deadline = time.monotonic() + timeout_s
    while True:
        b = _bridges(state_dir)
        pending = sorted(w for w, h in b.items() if h.get("registry_sha256") != digest)
        if not pending or time.monotonic() >= deadline:
            return {"confirmed": sorted(set(b) - set(pending)), "pending": pending}
        time.sleep(0.1)


def _broker_up(s) -> bool:
    from ecm.services import port_open

    return port_open(s.mqtt_host, s.mqtt_port)


def _control(s):
    from ecm.dynsec import ADMIN_USER, DynsecControl
    from ecm.secrets import mqtt_credentials

    _, pw = mqtt_credentials(s.state_path, ADMIN_USER)
    return DynsecControl(s.mqtt_host, s.mqtt_port, pw)


def _report_pending(bridges: dict) -> None:
    if bridges["pending"]:
        click.echo(f"warning: bridge worker(s) {', '.join(bridges['pending'])} have not loaded the new registry yet "
                   f"(see their log for registry_reload_failed_keeping_previous)", err=True)


def _os_error(exc: OSError) -> EcmError:
    return EcmError(f"cannot write {exc.filename or 'a file'}: {exc.strerror or exc}",
                    hint="run where ECM_STATE_DIR and ECM_DISTRICT_FILE are writable")


@click.group("enterprise")
def enterprise() -> None:
    """Onboard (add) and offboard (disable) an enterprise live: registry, broker, secrets, bridge."""


@enterprise.command("add")
@click.argument("source", metavar="FILE|-|ENTERPRISE_ID")
@click.option("--name-zh", default=None, help="Chinese name (with ENTERPRISE_ID).")
@click.option("--name-en", default=None, help="English name (with ENTERPRISE_ID).")
@click.option("--industry", default=None, help="building_ceramics|sanitary_ceramics|daily_ceramics|cement|brick|other.")
@click.option("--park", default=None, help="Industrial park (with ENTERPRISE_ID).")
@click.option("--address", default=None)
@click.option("--key-energy-user/--no-key-energy-user", default=None)
@click.option("--line", "lines", multiple=True, metavar="SPEC",
              help="ID,name_zh=..,name_en=..,product=..,product_class=..,output_unit=..,capacity=N,capacity_unit=..")
@click.option("--meter", "meters", multiple=True, metavar="SPEC",
              help="ID,carrier=..,unit=..,kind=counter|gauge[,line=..][,role=main|sub][,interval_s=N]"
                   "[,register_digits=N][,max_rate_per_h=X]")
@click.option("--dry-run", is_flag=True, help="Validate only; change nothing.")
@click.option("--wait-s", default=15.0, show_default=True, help="How long to wait for running bridges to reload.")
@handle_errors
def add(source: str, dry_run: bool, wait_s: float, **opts) -> None:
    """Add an enterprise from FILE (YAML/JSON: one enterprise, same schema as an entry of
    config/district.yaml `enterprises`), from stdin (-), or from ENTERPRISE_ID and options.
    Prints its MQTT credentials as JSON (like `ecm credentials`). Re-running it with the same
    definition finishes an add that stopped after writing the registry (idempotent)."""
    from ecm.dynsec import add_enterprise_live
    from ecm.factors import get_factors
    from ecm.mqtt import gateway_client_id, reading_topic
    from ecm.registry import (onboarding_problems, parse_enterprise, parse_registry, read_yaml, registry_digest,
                              registry_lock, text_with_enterprise, write_registry_text)
    from ecm.secrets import ensure_secrets
    from ecm.settings import get_settings

    s = get_settings()
    doc, label = enterprise_doc(source, opts)
    path = s.district_path
    with registry_lock(path):
        text = path.read_text(encoding="utf-8")
        reg = parse_registry(read_yaml(text), str(path))
        ent = parse_enterprise(doc, label)
        # the same definition already in the registry: an earlier add stopped after writing it
        # (broker unreachable, timeout); finish it (secrets, bridges, broker) without rewriting the file
        resume = reg.enterprise(ent.id) == ent and ent.disabled is None
        problems = [] if resume else onboarding_problems(ent, reg, get_factors().benchmarks)
        if problems:
            raise EcmError(f"{label}: {'; '.join(problems)}")
        new_text = text if resume else text_with_enterprise(text, doc)
        parse_registry(read_yaml(new_text), f"{path} + {ent.id}")  # the whole new registry
        if dry_run:
            click.echo(f"ok: {ent.id} ({len(ent.lines)} lines, {len(ent.meters)} meters) is valid; nothing changed")
            return
        live = _broker_up(s)
        ctl = _control(s) if live else None  # fail on the broker before changing anything
        try:
            try:
                pw = ensure_secrets(s.state_path, [ent.id])["mqtt"][ent.id]
                backup = None if resume else write_registry_text(path, new_text)
            except OSError as exc:
                raise _os_error(exc) from None
            digest = registry_digest(new_text.encode("utf-8"))
            bridges = wait_bridges(s.state_path, digest, wait_s)
            try:
                broker = add_enterprise_live(ctl, ent.id, pw) if ctl else ["broker down: applied at its next start"]
            except EcmError as exc:
                raise EcmError(f"{ent.id} is in the registry, but the broker step failed: {exc}",
                               hint="run the same `ecm enterprise add` again to finish it") from None
        finally:
            if ctl:
                ctl.close()
    _report_pending(bridges)
    echo_json({"enterprise": ent.id, "host": s.mqtt_host, "port": s.mqtt_port, "username": ent.id, "password": pw,
               "client_id": gateway_client_id(ent.id), "reading_topic": reading_topic(ent.id, "{meter_id}"),
               "registry": str(path), "registry_backup": str(backup) if backup else None, "resumed": resume,
               "registry_sha256": digest, "broker": broker, "bridges": bridges})


@enterprise.command("disable")
@click.argument("enterprise_id")
@click.option("--reason", default="", help="Why (kept in the registry's `disabled` mark).")
@click.option("--wait-s", default=15.0, show_default=True, help="How long to wait for running bridges to reload.")
@handle_errors
def disable(enterprise_id: str, reason: str, wait_s: float) -> None:
    """Offboard ENTERPRISE_ID: its broker principals are disabled at once (connection refused, live
    sessions kicked); the registry marks it `disabled` (kept, with its history); running bridges
    quarantine its later messages as enterprise_disabled. Idempotent."""
    from ecm.dynsec import disable_enterprise_live
    from ecm.registry import (parse_registry, read_yaml, registry_digest, registry_lock, text_with_disabled,
                              write_registry_text)
    from ecm.settings import get_settings

    s = get_settings()
    path = s.district_path
    with registry_lock(path):
        text = path.read_text(encoding="utf-8")
        reg = parse_registry(read_yaml(text), str(path))
        ent = reg.enterprise(enterprise_id)
        if ent is None:
            raise EcmError(f"unknown enterprise {enterprise_id!r}", hint="see `ecm enterprise list`")
        ctl = _control(s) if _broker_up(s) else None
        try:
            users = disable_enterprise_live(ctl, enterprise_id) if ctl else None
        finally:
            if ctl:
                ctl.close()
        backup = None
        if ent.disabled is None:
            now = datetime.now(timezone.utc)
            mark = {"since": now.astimezone(ZoneInfo(reg.district.timezone)).date(),
                    "at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": reason}
            new_text = text_with_disabled(text, enterprise_id, mark)
            try:
                backup = write_registry_text(path, new_text)
            except OSError as exc:
                raise _os_error(exc) from None
            text = new_text
        digest = registry_digest(text.encode("utf-8"))
        bridges = wait_bridges(s.state_path, digest, wait_s)
    _report_pending(bridges)
    echo_json({"enterprise": enterprise_id, "already_disabled": ent.disabled is not None,
               "broker_disabled": users if users is not None else "broker down: principals omitted at its next start",
               "registry": str(path), "registry_backup": str(backup) if backup else None,
               "registry_sha256": digest, "bridges": bridges})


@enterprise.command("list")
@handle_errors
def list_() -> None:
    """Enterprises with their status (active, or disabled since a Beijing day)."""
    from ecm.registry import get_registry

    for e in get_registry().enterprises:
        st = f"disabled since {e.disabled.since} ({e.disabled.reason or 'no reason given'})" if e.disabled else "active"
        click.echo(f"{e.id:12s} {st:40s} {e.name_zh} / {e.name_en}")


COMMANDS = [enterprise]
