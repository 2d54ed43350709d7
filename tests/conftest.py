"""Session fixtures: real Mosquitto and InfluxDB on free loopback ports, never mocks.

Airflow reads its configuration at import time, so its environment is set here, before any
test module imports it. A server that cannot start fails the tests that need it; nothing skips.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="ecm-airflow-")
atexit.register(shutil.rmtree, _AIRFLOW_HOME, True)  # its SQLite metadata DB and logs go with the run
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


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """Real mosquitto + influxd from the Debian packages, on free loopback ports, for the session
    (``ecm.stack.Stack``, the same composition as the demo and the benchmarks)."""
    from ecm.stack import Stack

    state = tmp_path_factory.mktemp("ecm-state")
    st = Stack.ephemeral(state_dir=state, db="ecm_test")
    st.activate(ECM_REPORTS_DIR=str(state / "reports"))
    st.start()
    yield st
    st.stop()


@dataclass
class Seeded:
    """The simulated default district, ingested over MQTT and computed by the pipeline."""

    stack: object  # ecm.stack.Stack
    seed: int
    history: tuple  # (first, last) Beijing days at daily resolution
    recent: tuple   # (first, last) Beijing days at the meters' own intervals
    published: int


SEED_HISTORY = ("2022-01-01", "2024-02-26")
SEED_RECENT = ("2024-02-27", "2024-03-02")


def _publish_hostile(stack) -> None:
    """Two bad messages from e01 (a NaN value and an unknown meter), to be quarantined."""
    from ecm.mqtt import make_client, reading_topic

    c = make_client("e01-gw", "e01", stack.mqtt_password("e01"))
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
    from datetime import date, timedelta

    import sim_devices
    from ecm.stack import wait_landed
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
    bridge = stack.bridge(log=stack.state_dir / "ingest-seed.log", ECM_INGEST_MAX_AGE_S=str(20 * 365 * 86400),
                          ECM_INGEST_STATS_INTERVAL_S="1")
    try:
        common = dict(seed=seed, host=stack.mqtt_host, port=stack.mqtt_port, state_dir=stack.state_dir, progress=False)
        a = sim_devices.backfill(reg, h0, h1, interval_s=86400, **common)
        b = sim_devices.backfill(reg, r0, r1, **common)
        _publish_hostile(stack)
        published = a["readings"] + b["readings"]
        # both windows publish the midnight between them: one point per meter is written twice
        overlap = len(reg.meters_frame())
        wait_landed(client, day_bounds_utc(h0)[0], published - overlap, timeout_s=300)
    finally:
        bridge.stop()
    stats = sim_devices.monthly_stats_frame(reg, "2022-01", "2024-03", seed)
    client.write_frame(stats_to_frame(stats), MEASUREMENT, ["enterprise"])
    run_days([h0 + timedelta(days=i) for i in range((h1 - h0).days + 1)], client=client, registry=reg, gate="history")
    run_days([r0 + timedelta(days=i) for i in range((r1 - r0).days + 1)], client=client, registry=reg)
    for d in ("2022-12-31", "2023-12-31", "2024-01-31", "2024-02-29", SEED_RECENT[1]):
        compute_monthly_compliance(d, client=client, registry=reg)
    return Seeded(stack, seed, (h0, h1), (r0, r1), published)
