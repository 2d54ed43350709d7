"""docker-compose.yml validated with `docker-compose config` (Debian docker-compose v1; no engine),
the generated secrets, and the broker config/ACL/passwords against the local broker."""
from __future__ import annotations

import getpass
import json
import time
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecm.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ECM_SERVICES = ("ecm-init", "ingest", "sim", "backup", "airflow-init", "airflow-api-server", "airflow-scheduler",
                "airflow-dag-processor", "airflow-triggerer")
AIRFLOW_SERVICES = tuple(s for s in ECM_SERVICES if s.startswith("airflow"))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project (symlinks) with freshly generated .env and .compose/."""
    d = tmp_path_factory.mktemp("compose-project")
    for child in ROOT.iterdir():
        if child.name not in {".env", ".compose", ".git", ".venv"}:
            (d / child.name).symlink_to(child)
    subprocess.run([sys.executable, str(ROOT / "compose" / "init.py"), "--out", str(d / ".compose"),
                    "--env-file", str(d / ".env")], check=True, capture_output=True)
    return d


def mounts(svc: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of each volume entry; docker-compose v1 prints the short syntax."""
    out = []
    for v in svc.get("volumes", []):
        if isinstance(v, dict):
            out.append((v["type"], v["source"], v["target"]))
        else:
            src, dst = v.split(":")[:2]
            out.append(("bind" if src.startswith(("/", ".")) else "volume", src, dst))
    return out


def compose_config(project: Path, env_file: Path | None = None, profiles: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    cmd = ["docker-compose", "--project-directory", str(project), "-f", str(project / "docker-compose.yml")]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    for p in profiles:
        cmd += ["--profile", p]
    return subprocess.run([*cmd, "config"], capture_output=True, text=True, cwd=project)


@pytest.fixture(scope="module")
def config(project) -> dict:
    r = compose_config(project, project / ".env", profiles=("demo",))
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def test_refuses_to_start_without_generated_secrets(project, tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    r = compose_config(project, empty)
    assert r.returncode != 0 and "run scripts/compose-init.sh" in r.stderr


def test_all_services_present_pinned_and_healthchecked(config):
    want = {"mosquitto", "influxdb", "postgres", "grafana", "ingest", "sim", "ecm-init", "backup", *AIRFLOW_SERVICES}
    assert want == set(config["services"])
    for name, svc in config["services"].items():
        assert "healthcheck" in svc and svc["healthcheck"]["test"], name
        image = svc["image"]
        assert re.search(r":\d+\.\d+", image) and not image.endswith(":latest"), f"{name}: pin {image}"
    assert config["services"]["influxdb"]["image"].startswith("influxdb:1.8.")
    assert config["services"]["grafana"]["image"] == "grafana/grafana-oss:11.6.14"   # last 11.6 patch checked
    assert config["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_volumes_are_named_and_mounted_files_exist(config, project):
    declared = set(config.get("volumes", {}))
    for name, svc in config["services"].items():
        for kind, src, _dst in mounts(svc):
            if kind == "volume":
                assert src in declared, f"{name}: undeclared volume {src}"
            else:
                assert Path(src).exists(), f"{name}: mounted file missing: {src}"
    for needed in ("postgres", "influxdb", "grafana", "mosquitto", "ingest"):
        assert any(k == "volume" for k, _s, _d in mounts(config["services"][needed])), needed


def test_every_setting_is_set_for_the_project_services(config):
    keys = {f"ECM_{n.upper()}" for n in Settings.model_fields}
    for name in ECM_SERVICES:
        env = config["services"][name]["environment"]
        missing = keys - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        unknown = {k for k in env if k.startswith("ECM_")} - keys
        assert not unknown, f"{name}: unknown settings {unknown} would fail at start"
        want_url = "http://127.0.0.1:8086" if name == "backup" else "http://influxdb:8086"   # backup: influxdb's netns
        assert env["ECM_INFLUX_URL"] == want_url and env["ECM_MQTT_HOST"] == "mosquitto"
        assert env["ECM_INFLUX_PASSWORD"] and env["ECM_INFLUX_USER"]


def _airflow_conn_vars() -> set[str]:
    """AIRFLOW_CONN_* the code uses: literal names plus the connection ids it looks up."""
    text = "\n".join(p.read_text(encoding="utf-8") for d in ("dags", "ecm") for p in (ROOT / d).rglob("*.py"))
    names = set(re.findall(r"AIRFLOW_CONN_([A-Z0-9_]+)", text))
    names |= {c.upper() for c in re.findall(r'(?:conn_id|Connection\.get)\(?\s*=?\s*"([a-z0-9_]+)"', text)}
    names |= {str(f.default).upper() for n, f in Settings.model_fields.items() if n.endswith("_conn_id")}
    return {f"AIRFLOW_CONN_{n}" for n in names}


def test_airflow_connections_used_by_the_code_are_set(config):
    conns = _airflow_conn_vars()
    assert "AIRFLOW_CONN_SMTP_DEFAULT" in conns
    for name in AIRFLOW_SERVICES:
        env = config["services"][name]["environment"]
        assert conns <= set(env), f"{name} lacks {sorted(conns - set(env))}"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")


def test_secrets_are_generated_not_defaulted(project, config):
    env = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()
               if line and not line.startswith("#"))
    # generated secrets (ALERT_* are the site's own channels and SMTP account, filled in by the operator)
    secret_keys = [k for k in env if re.search(r"PASSWORD|SECRET|FERNET", k) and not k.startswith("ALERT_")]
    assert len(secret_keys) >= 7
    values = [env[k] for k in secret_keys]
    assert all(len(v) >= 24 for v in values) and len(set(values)) == len(values)
    assert config["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == env["GRAFANA_ADMIN_PASSWORD"]
    assert "AIRFLOW_ADMIN_PASSWORD" in secret_keys
    # re-running keeps every secret (volumes were initialised with them)
    subprocess.run([sys.executable, str(ROOT / "compose" / "init.py"), "--out", str(project / ".compose"),
                    "--env-file", str(project / ".env")], check=True, capture_output=True)
    assert all(f"{k}={env[k]}" in (project / ".env").read_text() for k in secret_keys)
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored and ".compose/" in ignored


def test_grafana_mounts_provisioning_and_boards(config):
    targets = {dst: Path(src) for _k, src, dst in mounts(config["services"]["grafana"])}
    assert (targets["/etc/grafana/provisioning/datasources"] / "influxdb.yaml").exists()
    assert str(targets["/etc/grafana/provisioning/alerting"]) == "grafana-alerting"   # assembled by ecm-init
    init = {dst: Path(src) for _k, src, dst in mounts(config["services"]["ecm-init"])}
    assert (init["/opt/ecm-grafana-rules"] / "ecm-alerts.yaml").exists() and str(init["/grafana-alerting"]) == "grafana-alerting"
    assert (targets["/var/lib/grafana/dashboards"] / "ecm-district-overview.json").exists()
    env = config["services"]["grafana"]["environment"]
    for var in re.findall(r"\$\{(\w+)\}", (targets["/etc/grafana/provisioning/datasources"] / "influxdb.yaml").read_text()):
        assert env.get(var), f"grafana lacks {var} used by the datasource provisioning"
    assert env["GF_USERS_DEFAULT_LANGUAGE"] == "zh-Hans"   # the officers' UI language by default


def _options(text: str) -> dict[str, str]:
    return {ln.split(None, 1)[0]: ln.split(None, 1)[1] if " " in ln else "" for ln in text.splitlines()
            if ln.strip() and not ln.startswith("#")}


def test_mosquitto_config_and_acl_match_the_local_broker(project, tmp_path):
    from ecm.registry import load_registry
    from ecm.services import MosquittoService

    ids = load_registry(ROOT / "config" / "district.yaml").enterprise_ids
    local = MosquittoService(tmp_path, "127.0.0.1", 1883, ids, tls_port=8883)
    local_conf = _options(local.write_config().read_text())
    compose_conf = _options((ROOT / "compose" / "mosquitto" / "mosquitto.conf").read_text())
    path_like = {"plugin", "plugin_opt_config_file", "user", "persistence_location", "listener", "log_dest",
                 "cafile", "certfile", "keyfile"}
    assert {k: v for k, v in local_conf.items() if k not in path_like} == \
           {k: v for k, v in compose_conf.items() if k not in path_like}
    assert set(local_conf) == set(compose_conf)
    # the same principals, client-id bindings and roles (hashes are salted, so compare the rest)
    strip = lambda d: {**d, "clients": [{k: v for k, v in c.items() if k not in ("password", "salt")}  # noqa: E731
                                        for c in d["clients"]]}
    assert strip(json.loads((local.dir / "dynsec.json").read_text())) == \
           strip(json.loads((project / ".compose" / "mosquitto" / "dynsec.json").read_text()))


@pytest.mark.integration
def test_generated_passwords_authenticate_on_a_real_broker(project, tmp_path):
    """The generated dynamic-security config (hashes written without mosquitto_ctrl) is accepted by
    the real broker, client ids bound."""
    import paho.mqtt.client as mqtt

    from ecm.services import free_port, port_open

    port = free_port()
    conf = tmp_path / "m.conf"
    from ecm.dynsec import plugin_path

    ds = tmp_path / "dynsec.json"
    ds.write_bytes((project / ".compose" / "mosquitto" / "dynsec.json").read_bytes())
    conf.write_text(f"per_listener_settings false\nallow_anonymous false\nuser {getpass.getuser()}\n"
                    f"plugin {plugin_path()}\nplugin_opt_config_file {ds}\nlistener {port} 127.0.0.1\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if port_open("127.0.0.1", port):
                break
            proc.poll()
            time.sleep(0.05)
        secrets = json.loads((project / ".compose" / "state" / "secrets.json").read_text())

        def connect(user: str, password: str, client_id: str | None = None) -> int:
            from ecm.mqtt import gateway_client_id

            cid = client_id or (user if user == "ingest" else gateway_client_id(user))
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
            c.username_pw_set(user, password)
            try:
                rc = c.connect("127.0.0.1", port, keepalive=5)
                c.loop(timeout=1.0)
                return 0 if c.is_connected() and rc == 0 else 1
            finally:
                c.disconnect()

        assert connect("e01", secrets["mqtt"]["e01"]) == 0
        assert connect("ingest", secrets["mqtt"]["ingest"]) == 0
        assert connect("e01", "wrong-password") != 0
        assert connect("e01", secrets["mqtt"]["e01"], client_id="ingest-0") != 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- runs unattended (issue #15) ----------------------------------------------------------------
def _depends(config: dict, name: str) -> set[str]:
    """Services ``name`` waits for, transitively."""
    out, todo = set(), [name]
    while todo:
        deps = config["services"][todo.pop()].get("depends_on") or {}
        for d in deps:
            if d not in out:
                out.add(d)
                todo.append(d)
    return out


def test_airflow_runs_unattended_with_a_production_auth_manager(config, project):
    for name in AIRFLOW_SERVICES:
        env = config["services"][name]["environment"]
        assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"].lower() == "false", name
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("fab_auth_manager.FabAuthManager"), name
        assert not any("SIMPLE_AUTH" in k for k in env), name
    init_env = config["services"]["airflow-init"]["environment"]
    dotenv = (project / ".env").read_text()
    assert f"AIRFLOW_ADMIN_PASSWORD={init_env['AIRFLOW_ADMIN_PASSWORD']}\n" in dotenv
    assert "airflow users create" in (ROOT / "compose" / "airflow-init.sh").read_text()
    # only the one-shot init holds the admin password
    assert all("AIRFLOW_ADMIN_PASSWORD" not in config["services"][n]["environment"]
               for n in AIRFLOW_SERVICES if n != "airflow-init")


def test_dags_folder_is_the_installed_package_data(config):
    """The image installs the project into site-packages of its Python (Dockerfile FROM);
    the DAG folder is the package data there, not a copied source folder."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    py = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M).group(1)
    for name in AIRFLOW_SERVICES:
        assert config["services"][name]["environment"]["AIRFLOW__CORE__DAGS_FOLDER"] == \
            f"/usr/local/lib/python{py}/site-packages/ecm/_data/dags"
    assert "COPY dags dags" in dockerfile and "rm -rf /tmp/ecm-src" in dockerfile


def test_dockerfile_installs_airflow_with_its_constraints():
    dockerfile = (ROOT / "Dockerfile").read_text()
    pin = re.search(r'"apache-airflow==([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert re.search(rf"^ARG AIRFLOW_VERSION={re.escape(pin)}$", dockerfile, re.M)
    py = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M).group(1)
    assert re.search(rf"^ARG PYTHON_VERSION={re.escape(py)}$", dockerfile, re.M)
    assert "constraints-${AIRFLOW_VERSION}/constraints-${PYTHON_VERSION}.txt" in dockerfile
    install = re.search(r'RUN pip install "apache-airflow==\$\{AIRFLOW_VERSION\}"(.*?)\n\n', dockerfile, re.S).group(1)
    assert '--constraint "${AIRFLOW_CONSTRAINTS}"' in install and "apache-airflow-providers-fab" in install


def test_simulator_only_in_the_demo_profile(config, project):
    assert config["services"]["sim"]["profiles"] == ["demo"]
    prod = [n for n, s in config["services"].items() if "profiles" not in s]
    assert "sim" not in prod and {"ingest", "influxdb", "airflow-scheduler"} <= set(prod)


def test_volume_ownership_is_fixed_before_any_service_writes(config):
    init = config["services"]["ecm-init"]
    assert str(init["user"]).split(":")[0] == "0" and init["restart"] == "no"
    init_vols = {src for kind, src, _d in mounts(init) if kind == "volume"}
    script = (ROOT / "compose" / "ecm-init.sh").read_text()
    for vol in ("ecm-state", "airflow-logs", "ecm-backups"):
        assert vol in init_vols
        dst = next(d for k, s, d in mounts(init) if s == vol)
        assert dst in script, f"ecm-init.sh does not chown {dst}"
    for name, svc in config["services"].items():
        if name == "ecm-init":
            continue
        writes = {src for kind, src, _d in mounts(svc) if kind == "volume"} & init_vols
        if writes:
            assert "ecm-init" in _depends(config, name), f"{name} mounts {writes} before ecm-init ran"
    assert config["services"]["ingest"]["environment"]["ECM_DISTRICT_FILE"].startswith("/var/lib/ecm/")


def test_retention_is_applied_before_ingest_writes(config):
    init = config["services"]["ecm-init"]
    assert "ecm retention apply" in (ROOT / "compose" / "ecm-init.sh").read_text()
    assert init["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert init["environment"]["INFLUX_ADMIN_PASSWORD"] and init["environment"]["INFLUX_ADMIN_USER"]
    env = config["services"]["ingest"]["environment"]
    assert env["ECM_INFLUX_RAW_RP"] == "raw" and int(env["ECM_INFLUX_RAW_RETENTION_DAYS"]) == 400
    assert "ecm-init" in _depends(config, "ingest")


def test_mosquitto_publishes_only_tls(config, project):
    ports = [str(p) for p in config["services"]["mosquitto"].get("ports", [])]
    assert ports and all("8883" in p for p in ports) and not any("1883" in p for p in ports), ports
    tls = project / ".compose" / "mosquitto" / "tls"
    assert {p.name for p in tls.iterdir()} >= {"ca.crt", "server.crt", "server.key"}
    assert oct((tls / "server.key").stat().st_mode & 0o777) == "0o600"


def test_scheduled_backup_reaches_the_loopback_rpc_and_every_part(config):
    svc, influx = config["services"]["backup"], config["services"]["influxdb"]
    assert svc["network_mode"] == "service:influxdb"
    assert influx["environment"]["INFLUXDB_BIND_ADDRESS"] == svc["environment"]["ECM_INFLUX_RPC_ADDRESS"] == "127.0.0.1:8088"
    assert not any("8088" in str(p) for p in influx.get("ports", []))
    assert svc["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == \
        config["services"]["airflow-scheduler"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    targets = {dst: src for _k, src, dst in mounts(svc)}
    assert targets["/backups"] == "ecm-backups" and "/var/lib/ecm/secrets.json" in targets
    loop = (ROOT / "compose" / "backup-loop.sh").read_text()
    assert "ecm backup create" in loop and "--include /run/ecm-compose/env" in loop
    assert "/run/ecm-compose/env" in targets            # .env: every other service's secrets
    assert "postgresql-client-16" in (ROOT / "Dockerfile").read_text()
    assert config["services"]["postgres"]["image"].startswith("postgres:16.")   # pg_dump major = server major
