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
