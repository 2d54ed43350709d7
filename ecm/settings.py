"""One settings object, read from ``ECM_*`` environment variables.

Nothing else in the code base reads ``os.environ``. Unknown ``ECM_`` keys fail at
start-up and name the key, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ecm.dag_defaults import DEFAULT_RETRIES
from ecm.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: top-level folders of the repository shipped inside the package as ``ecm/_data/<name>``
#: (copied there at build time by setup.py's build_py; the repository folders stay the source)
RESOURCE_DIRS = ("config", "expectations", "dags")


def resource_dir(name: str) -> Path:
    """The folder ``config``, ``expectations`` or ``dags`` of this installation.

    An installed package (wheel, ``pip install .`` or ``--target``) carries them as package data
    under ``ecm/_data/``; a source checkout has them at the repository's top level. The installed
    copy wins, so an image never reads a stray folder next to site-packages.
    """
    if name not in RESOURCE_DIRS:
        raise ValueError(f"unknown resource folder {name!r}; one of {RESOURCE_DIRS}")
    from importlib.resources import files

    installed = Path(str(files("ecm") / "_data" / name))
    if installed.is_dir():
        return installed
    checkout = PROJECT_ROOT / name
    if checkout.is_dir() and (PROJECT_ROOT / "pyproject.toml").is_file():
        return checkout
    raise ConfigError(f"package data folder {name}/ not found",
                      hint=f"reinstall the package (looked in {installed} and {checkout})")


class Settings(BaseSettings):
    """Platform settings. Every field maps to ``ECM_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ECM_", frozen=True, extra="ignore")

    state_dir: Path = Field(Path(".ecm"), description="Folder for data, secrets and logs of local services.")
    mqtt_host: str = Field("127.0.0.1", description="MQTT broker host.")
    mqtt_port: int = Field(18830, description="MQTT broker TCP port (plaintext listener, loopback only).")
    mqtt_tls_port: int = Field(8883, description="MQTT over TLS port for enterprises (certificates generated once "
                                                 "under the state dir); 0 = no TLS listener.")
    mqtt_tls_host: str = Field("0.0.0.0", description="Address of the TLS listener.")
    influx_url: str = Field("http://127.0.0.1:18086", description="InfluxDB base URL (v1 HTTP API).")
    influx_db: str = Field("ecm", description="InfluxDB database (1.x) or DBRP-mapped bucket (2.x/3.x).")
    influx_token: str = Field("", description="InfluxDB 2.x/3.x API token; empty means v1 user/password auth.")
    influx_user: str = Field("", description="InfluxDB user; empty means read from the state dir's secrets.")
    influx_password: str = Field("", description="InfluxDB password; empty means read from the state dir's secrets.")
    influx_timeout_s: float = Field(30.0, description="Timeout of one InfluxDB HTTP request, in seconds.")
    influx_write_batch_points: int = Field(5000, description="Points per /write request when chunking.")
    influx_write_retries: int = Field(5, description="Retries of one /write chunk on 5xx or connection errors.")
    influx_raw_rp: str = Field("", description="Retention policy of raw readings ('raw'); empty = the default policy.")
    influx_raw_retention_days: int = Field(400, description="Days raw readings are kept (retention policy 'raw').")
    influx_retention_check_interval: str = Field("30m", description="How often influxd drops expired shards (local server).")
    influx_rpc_address: str = Field("", description="host:port of influxd's RPC service for backup/restore; empty = the local server's.")
    district_file: Path = Field(Path("config/district.yaml"), description="District registry YAML.")
    factors_file: Path = Field(Path("config/factors.yaml"), description="Factor and benchmark tables YAML.")
    reports_dir: Path = Field(Path("reports"), description="Where reports are written.")
    report_email_to: str = Field("", description="Comma-separated recipients of the nightly report e-mail; empty = no e-mail.")
    report_smtp_conn_id: str = Field("smtp_default", description="Airflow SMTP connection id used to send the report.")
    report_workers: int = Field(0, ge=0, description="Processes rendering report charts and PDFs; 0 = one per CPU (1 = in process).")
    chunk_enterprises: int = Field(0, ge=0, description="Enterprises per mapped task of the daily DAG; 0 = ecm.pipeline.daily.GATE_CHUNK_ENTERPRISES (50).")
    task_retries: int = Field(DEFAULT_RETRIES, ge=0, description="Retries of every DAG task, read when the DAG files are parsed (ecm.dag_defaults). The benchmarks set 0, so a failing task fails the run at once.")
    log_level: str = Field("WARNING", description="Log level of structured logs (quiet by default).")
    # ingest
    ingest_workers: int = Field(1, description="Ingest worker processes sharing the subscription.")
    ingest_batch_messages: int = Field(5000, description="Flush a batch at this many MQTT messages (a gateway batch is one message).")
    ingest_batch_ms: int = Field(200, description="Flush a batch after this many milliseconds.")
    ingest_max_age_s: int = Field(7 * 86400, description="Oldest accepted device timestamp, in seconds before now.")
    ingest_max_future_s: int = Field(300, description="Newest accepted device timestamp, in seconds after now.")
    ingest_max_payload_bytes: int = Field(256 * 1024, description="Largest accepted MQTT payload, in bytes.")
    ingest_session_expiry_s: int = Field(7 * 86400, description="MQTT v5 session expiry of ingest workers, in seconds.")
    ingest_spool_max_mb: int = Field(1024, description="Local spool size limit in MiB; alarm at 80%.")
    ingest_quarantine_max_mb: int = Field(1024, description="Quarantine files cap, all tenants, in MiB; past it "
                                                            "reasons and metadata are kept without payloads.")
    ingest_quarantine_tenant_max_mb: int = Field(64, description="Quarantine files cap per enterprise, in MiB.")
    ingest_stats_interval_s: int = Field(10, description="Seconds between ingest_stats points.")
    ingest_health_port: int = Field(0, description="HTTP health endpoint port of ingest; 0 = off.")
    ingest_client_id: str = Field("ingest", description="MQTT client id prefix of ingest workers (worker i is <prefix>-<i>).")
    ingest_receive_maximum: int = Field(20000, description="MQTT v5 Receive Maximum of each worker: unacked messages in flight.")
    ingest_max_unacked_mb: int = Field(256, description="Received, not yet acked payload per worker, in MiB; the bridge stops reading from the broker beyond it.")
    # services
    mosquitto_bin: str = Field("mosquitto", description="Path or name of the mosquitto binary.")
    influxd_bin: str = Field("influxd", description="Path or name of the influxd binary.")

    def path(self, p: Path) -> Path:
        """Resolve a relative path: ``config/...``, ``expectations/...`` and ``dags/...`` name the
        package data (:func:`resource_dir`), anything else is relative to the project root."""
        if p.is_absolute():
            return p
        if p.parts and p.parts[0] in RESOURCE_DIRS:
            return resource_dir(p.parts[0]).joinpath(*p.parts[1:])
        return PROJECT_ROOT / p

    @property
    def state_path(self) -> Path:
        return self.path(self.state_dir)

    @property
    def district_path(self) -> Path:
        return self.path(self.district_file)

    @property
    def factors_path(self) -> Path:
        return self.path(self.factors_file)

    @property
    def reports_path(self) -> Path:
        return self.path(self.reports_dir)


def _check_unknown_keys(environ: dict[str, str]) -> None:
    known = {f"ECM_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(k for k in environ if k.startswith("ECM_") and k not in known)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]}", hint=f"known settings: {', '.join(sorted(known))}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; fails on unknown ``ECM_`` keys."""
    _check_unknown_keys(dict(os.environ))
    return Settings()


def reset_settings_cache() -> None:
    """Forget cached settings (tests change the environment between servers)."""
    get_settings.cache_clear()
