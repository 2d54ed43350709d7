"""`ecm services start|stop|status`, `ecm credentials`, `ecm registry`."""
from __future__ import annotations

import click

from ecm.cli.common import echo_json, handle_errors


@click.group("services")
def services() -> None:
    """Run the local Mosquitto and InfluxDB (Debian packages) under ECM_STATE_DIR."""


@services.command("start")
@handle_errors
def start() -> None:
    """Start what is down (idempotent); generate secrets, password file and ACL."""
    from ecm.services import local_services

    for svc in local_services():
        st = svc.start()
        click.echo(f"{st.name:10s} up      pid={st.pid} {st.address}")


@services.command("stop")
@handle_errors
def stop() -> None:
    """Stop both services; leaves no process behind."""
    from ecm.services import local_services

    for svc in reversed(local_services()):
        click.echo(f"{svc.name:10s} {'stopped' if svc.stop() else 'not running'}")


@services.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def status(as_json: bool) -> None:
    """Report whether each service runs and answers (exit 1 when one is unhealthy)."""
    from ecm.services import local_services

    sts = [svc.status() for svc in local_services()]
    if as_json:
        echo_json([s.as_dict() for s in sts])
    else:
        for s in sts:
            state = "healthy" if s.healthy else ("running, not answering" if s.running else "down")
            click.echo(f"{s.name:10s} {state:24s} pid={s.pid or '-'} {s.address}")
    if not all(s.healthy for s in sts):
        raise SystemExit(1)


@click.command("credentials")
@click.argument("args", nargs=-1, required=True, metavar="[rotate] ENTERPRISE_ID")
@handle_errors
def credentials(args: tuple[str, ...]) -> None:
    """Print an enterprise's MQTT connection details and credentials as JSON.

    `ecm credentials rotate ENTERPRISE_ID` first replaces its password, live: the old one is
    refused at once and sessions using it are disconnected."""
    from ecm.errors import EcmError
    from ecm.mqtt import gateway_client_id, reading_topic, status_topic
    from ecm.registry import get_registry
    from ecm.secrets import mqtt_credentials
    from ecm.settings import get_settings

    rotate = len(args) == 2 and args[0] == "rotate"
    if len(args) != 1 and not rotate:
        raise EcmError(f"expected ENTERPRISE_ID or rotate ENTERPRISE_ID, got {' '.join(args)!r}")
    enterprise_id = args[-1]
    s = get_settings()
    if get_registry().enterprise(enterprise_id) is None:
        raise EcmError(f"unknown enterprise {enterprise_id!r}", hint="see `ecm registry` for ids")
    if rotate:
        from ecm.services import local_services

        next(svc for svc in local_services() if svc.name == "mosquitto").rotate_password(enterprise_id)
    user, pw = mqtt_credentials(s.state_path, enterprise_id)
    echo_json({"enterprise": enterprise_id, "host": s.mqtt_host, "port": s.mqtt_port, "username": user,
               "password": pw, "client_id": gateway_client_id(user),
               "tls_port": s.mqtt_tls_port or None,
               "ca_file": str(s.state_path / "mosquitto" / "tls" / "ca.crt") if s.mqtt_tls_port else None,
               "reading_topic": reading_topic(enterprise_id, "{meter_id}"),
               "status_topic": status_topic(enterprise_id, "{meter_id}")})


@click.command("registry")
@click.option("--json", "as_json", is_flag=True, help="Print the whole registry as JSON.")
@handle_errors
def registry(as_json: bool) -> None:
    """Show the district registry (enterprises, lines, meters with their quantity)."""
    from ecm.registry import get_registry

    reg = get_registry()
    if as_json:
        doc = reg.model_dump(mode="json")
        for e_doc, e in zip(doc["enterprises"], reg.enterprises):
            for m_doc, m in zip(e_doc["meters"], e.meters):
                m_doc["quantity"] = m.quantity
        echo_json(doc)
        return
    click.echo(f"{reg.district.name_zh} / {reg.district.name_en}: {len(reg.enterprises)} enterprises")
    for e in reg.enterprises:
        click.echo(f"  {e.id}  {e.industry:18s} {len(e.lines)} lines {len(e.meters):3d} meters  {e.name_zh} / {e.name_en}")

COMMANDS = [services, credentials, registry]
