"""Session fixtures: real Mosquitto and InfluxDB on free loopback ports, never mocks.

Airflow reads its configuration at import time, so its environment is set here, before any
test module imports it. A server that cannot start fails the tests that need it; nothing skips.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="ecm-airflow-")
os.environ.update({
    "AIRFLOW_HOME": _AIRFLOW_HOME,
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
})
for _k in [k for k in os.environ if k.startswith("ECM_")]:
    del os.environ[_k]


@dataclass
class Stack:
    state_dir: Path
    mqtt_host: str
    mqtt_port: int
    influx_url: str
    db: str
    mosquitto: object
    influx: object

    def mqtt_password(self, user: str) -> str:
        from ecm.secrets import load_secrets

        return load_secrets(self.state_dir)["mqtt"][user]

    def client(self, role: str = "service"):
        from ecm.influx import InfluxClient

        return InfluxClient.from_settings(role)


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    """Real mosquitto + influxd from the Debian packages, on free loopback ports, for the session."""
    from ecm.registry import get_registry
    from ecm.services import InfluxService, MosquittoService, free_port
    from ecm.settings import reset_settings_cache

    state = tmp_path_factory.mktemp("ecm-state")
    mqtt_port, influx_port = free_port(), free_port()
    os.environ.update({
        "ECM_STATE_DIR": str(state),
        "ECM_MQTT_PORT": str(mqtt_port),
        "ECM_INFLUX_URL": f"http://127.0.0.1:{influx_port}",
        "ECM_INFLUX_DB": "ecm_test",
        "ECM_REPORTS_DIR": str(state / "reports"),
    })
    reset_settings_cache()
    ids = get_registry().enterprise_ids
    mq = MosquittoService(state, "127.0.0.1", mqtt_port, ids)
    ix = InfluxService(state, f"http://127.0.0.1:{influx_port}", "ecm_test", ids)
    mq.start()
    ix.start()
    yield Stack(state, "127.0.0.1", mqtt_port, f"http://127.0.0.1:{influx_port}", "ecm_test", mq, ix)
    ix.stop()
    mq.stop()


@dataclass
class Seeded:
    """The simulated default district, ingested over MQTT and computed by the pipeline."""

    stack: Stack
    seed: int
    history: tuple  # (first, last) Beijing days at daily resolution
    recent: tuple   # (first, last) Beijing days at the meters' own intervals
    published: int


SEED_HISTORY = ("2022-01-01", "2024-02-26")
SEED_RECENT = ("2024-02-27", "2024-03-02")


def _start_bridge(stack: Stack):
    import subprocess
    import sys

    env = dict(os.environ, ECM_INGEST_MAX_AGE_S=str(20 * 365 * 86400), ECM_INGEST_STATS_INTERVAL_S="1")
    log = open(stack.state_dir / "ingest-seed.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "ingest"], env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _publish_hostile(stack: Stack) -> None:
    """Two bad messages from e01 (a NaN value and an unknown meter), to be quarantined."""
    from ecm.mqtt import make_client, reading_topic

    c = make_client("e01", "e01", stack.mqtt_password("e01"))
    c.connect(stack.mqtt_host, stack.mqtt_port)
    c.loop_start()
    for topic, body in ((reading_topic("e01", "e01_elec_main"), '{"ts": 1709251200000, "values": {"energy_kwh": NaN}}'),
                        (reading_topic("e01", "e01_no_such_meter"), '{"ts": 1709251200000, "values": {"energy_kwh": 1}}')):
        c.publish(topic, body, qos=1).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


@pytest.fixture(scope="session")
def seeded(stack) -> Seeded:
    """History (daily registers) and four recent days (15-min) of the default district published
    by ``sim_devices`` with each enterprise's credentials, landed by the real ingest bridge, then
    daily KPIs and monthly compliance computed by ``ecm.pipeline`` (the DAGs' library)."""
    import signal
    from datetime import date, timedelta

    import sim_devices
    from ecm.cli.demo import wait_landed
    from ecm.periods import day_bounds_utc
    from ecm.pipeline.daily import run_days
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.registry import get_registry
    from ecm.stats import MEASUREMENT, stats_to_frame

    reg = get_registry()
    seed = sim_devices.DEFAULT_SEED
    h0, h1 = (date.fromisoformat(d) for d in SEED_HISTORY)
    r0, r1 = (date.fromisoformat(d) for d in SEED_RECENT)
    client = stack.client()
    from ecm.cli.demo import wait_bridge_ready

    bridge = _start_bridge(stack)
    try:
        wait_bridge_ready(stack.state_dir, bridge)
        common = dict(seed=seed, host=stack.mqtt_host, port=stack.mqtt_port, state_dir=stack.state_dir, progress=False)
        a = sim_devices.backfill(reg, h0, h1, interval_s=86400, **common)
        b = sim_devices.backfill(reg, r0, r1, **common)
        _publish_hostile(stack)
        published = a["readings"] + b["readings"]
        # both windows publish the midnight between them: one point per meter is written twice
        overlap = len(reg.meters_frame())
        wait_landed(client, day_bounds_utc(h0)[0], published - overlap, timeout_s=300)
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(60)
    stats = sim_devices.monthly_stats_frame(reg, "2022-01", "2024-03", seed)
    client.write_frame(stats_to_frame(stats), MEASUREMENT, ["enterprise"])
    run_days([h0 + timedelta(days=i) for i in range((h1 - h0).days + 1)], client=client, registry=reg, gate="history")
    run_days([r0 + timedelta(days=i) for i in range((r1 - r0).days + 1)], client=client, registry=reg)
    for d in ("2022-12-31", "2023-12-31", "2024-01-31", "2024-02-29", SEED_RECENT[1]):
        compute_monthly_compliance(d, client=client, registry=reg)
    return Seeded(stack, seed, (h0, h1), (r0, r1), published)
