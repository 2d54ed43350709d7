"""One composition of the local platform: Mosquitto, InfluxDB and the ingest bridge on one state dir.

Used by the test fixtures, ``ecm demo`` and every ``ecm bench``: nothing else starts these servers
or decides when the bridge is ready.

- :meth:`Stack.ephemeral` — free loopback ports and a temporary state dir (tests, benchmarks);
  :meth:`Stack.stop` removes that dir, which holds the generated secrets.
- :meth:`Stack.from_settings` — the operator's configured ports and ``ECM_STATE_DIR`` (demo).
- :meth:`Stack.env` — the ``ECM_*`` environment a child process needs to use this stack.
- :class:`Bridge` — ``python -m ingest`` as a child process. *Ready* means: every worker's health
  file was written after the bridge started and says ``connected`` and ``subscribed``. Publishing
  before that loses QoS 1 messages on a fresh broker (no subscription yet, nothing is queued).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecm.errors import EcmError
from ecm.services import InfluxService, MosquittoService, free_port

#: environment variables a stack sets for itself and its children
STACK_ENV = ("ECM_STATE_DIR", "ECM_MQTT_HOST", "ECM_MQTT_PORT", "ECM_INFLUX_URL", "ECM_INFLUX_DB",
             "ECM_DISTRICT_FILE")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def readings_count(client, since) -> int:
    """Readings queryable in ``client``'s database since ``since`` (a datetime)."""
    from ecm.influx import time_literal

    df = client.query_frame(f"SELECT count(received_ms) AS n FROM {client.readings_from} WHERE time >= {time_literal(since)}")
    return 0 if df.empty else int(df["n"].iloc[0])


def wait_landed(client, since, expected: int, timeout_s: float = 600, interval_s: float = 1.0) -> int:
    """Poll InfluxDB until ``expected`` readings since ``since`` are queryable; return the count."""
    deadline = time.monotonic() + timeout_s
    n = 0
    while time.monotonic() < deadline:
        n = readings_count(client, since)
        if n >= expected:
            return n
        time.sleep(interval_s)
    raise EcmError(f"only {n} of {expected} readings landed in InfluxDB", hint="see the ingest log in ECM_STATE_DIR")


class Bridge:
    """``python -m ingest [args]`` as a child process with a stack's environment ``env``."""

    def __init__(self, env: dict, log: Path | None = None):
        self.env, self.proc, self.started_ms = env, None, 0
        self.state_dir = Path(env["ECM_STATE_DIR"])
        self.log = log or self.state_dir / "ingest-bridge.log"
        self.client_prefix = env.get("ECM_INGEST_CLIENT_ID", "ingest")
        self.workers = 1

    def start(self, *args: str) -> "Bridge":
        from ecm.settings import PROJECT_ROOT

        if "--workers" in args:
            self.workers = int(args[args.index("--workers") + 1])
        self.started_ms = now_ms()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "ingest", *args], cwd=PROJECT_ROOT, env=self.env,
                                         stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self

    def health(self, worker: str) -> dict | None:
        try:
            return json.loads((self.state_dir / "ingest" / f"health-{worker}.json").read_text())
        except (OSError, ValueError):
            return None

    def is_ready(self, worker: str) -> bool:
        """The one definition of ready: a health file written since start, connected and subscribed."""
        h = self.health(worker)
        return bool(h and h.get("connected") and h.get("subscribed") and h.get("time_ms", 0) >= self.started_ms)

    def wait_ready(self, worker: str | None = None, timeout_s: float = 60) -> "Bridge":
        """Block until ``worker`` (default: every worker of this process) is ready; one-line error
        when the process exits or the time runs out."""
        names = [worker] if worker else [f"{self.client_prefix}-{i}" for i in range(self.workers)]
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise EcmError(f"the ingest bridge exited with code {self.proc.returncode}", hint=f"see {self.log}")
            if all(self.is_ready(n) for n in names):
                return self
            if time.monotonic() > deadline:
                raise EcmError(f"the ingest bridge did not subscribe within {timeout_s:.0f} s", hint=f"see {self.log}")
            time.sleep(0.05)

    def _stats(self) -> list[dict]:
        """Each worker's counters from its health file, for files written since this start."""
        hs = (self.health(f"{self.client_prefix}-{i}") for i in range(self.workers))
        return [h.get("stats", {}) for h in hs if h and h.get("time_ms", 0) >= self.started_ms]

    def wait_stored(self, readings: int, timeout_s: float = 600) -> None:
        """Block until the workers have received ``readings`` readings and acked every message, which
        they do only once it is stored (nothing left in the spool); one-line error on timeout. A point
        count cannot tell this on a re-run: re-sent readings overwrite the points already there."""
        deadline, got = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            stats = self._stats()
            got = sum(int(st.get("readings_in", 0)) for st in stats)
            if (len(stats) == self.workers and got >= readings
                    and all(st.get("messages_acked") == st.get("messages_in") and not st.get("spool_bytes")
                            for st in stats)):
                return
            time.sleep(0.5)
        raise EcmError(f"the bridge stored {got} of {readings} published readings", hint=f"see {self.log}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM (flush, ack, disconnect) and wait; SIGKILL after ``timeout_s``."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise
        return self.proc.returncode if self.proc else 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Stack:
    """Mosquitto + InfluxDB under ``state_dir``; ``start()`` brings them up, ``stop()`` takes them down."""

    def __init__(self, state_dir: Path, *, mqtt_host: str, mqtt_port: int, influx_url: str, db: str,
                 enterprise_ids: list[str], district_file: Path | None = None, owns_state: bool = False,
                 mosquitto_bin: str = "mosquitto", influxd_bin: str = "influxd",
                 mqtt_tls_port: int | None = None, mqtt_tls_host: str = "127.0.0.1",
                 disabled: frozenset[str] = frozenset()):
        self.state_dir = Path(state_dir)
        self.mqtt_host, self.mqtt_port, self.influx_url, self.db = mqtt_host, mqtt_port, influx_url, db
        self.district_file, self.owns_state = district_file, owns_state
        self.throwaway = False  # set by ephemeral(): a failed start takes down what it started
        self.mosquitto = MosquittoService(self.state_dir, mqtt_host, mqtt_port, enterprise_ids, mosquitto_bin,
                                          mqtt_tls_port, mqtt_tls_host, disabled=disabled)
        self.influx = InfluxService(self.state_dir, influx_url, db, enterprise_ids, influxd_bin)

    @classmethod
    def ephemeral(cls, *, state_dir: Path | None = None, db: str = "ecm_test", district_file: Path | None = None,
                  enterprise_ids: list[str] | None = None, prefix: str = "ecm-stack-") -> "Stack":
        """Free loopback ports; a new temp state dir (removed by ``stop``) unless ``state_dir`` is given."""
        from ecm.registry import get_registry, load_registry
        from ecm.settings import get_settings

        s = get_settings()
        if enterprise_ids is None:
            enterprise_ids = (load_registry(district_file) if district_file else get_registry()).enterprise_ids
        owns = state_dir is None
        state = Path(tempfile.mkdtemp(prefix=prefix)) if owns else Path(state_dir)
        st = cls(state, mqtt_host="127.0.0.1", mqtt_port=free_port(), influx_url=f"http://127.0.0.1:{free_port()}",
                 db=db, enterprise_ids=list(enterprise_ids), district_file=district_file or s.district_path,
                 owns_state=owns, mosquitto_bin=s.mosquitto_bin, influxd_bin=s.influxd_bin,
                 mqtt_tls_port=free_port(), mqtt_tls_host="127.0.0.1")
        st.throwaway = True
        return st

    @classmethod
    def from_settings(cls, settings=None, registry=None) -> "Stack":
        """The operator's configured stack (``ECM_STATE_DIR``, ports, database); never removed."""
        from ecm.registry import get_registry
        from ecm.settings import get_settings

        s = settings or get_settings()
        reg = registry or get_registry()
        return cls(s.state_path, mqtt_host=s.mqtt_host, mqtt_port=s.mqtt_port, influx_url=s.influx_url,
                   db=s.influx_db, enterprise_ids=reg.enterprise_ids, district_file=s.district_path,
                   mosquitto_bin=s.mosquitto_bin, influxd_bin=s.influxd_bin,
                   mqtt_tls_port=s.mqtt_tls_port, mqtt_tls_host=s.mqtt_tls_host,
                   disabled=reg.disabled_ids)   # an offboarded enterprise stays off across restarts

    # -- environment ------------------------------------------------------------------
    def env(self, clean: bool = False, **extra: str) -> dict:
        """A child's environment: this process's with this stack's ECM_* settings (``clean``: and no
        other ECM_* setting of the caller's, as benchmarks want), plus ``extra``."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("ECM_") or (not clean and k not in STACK_ENV)}
        env.update({"ECM_STATE_DIR": str(self.state_dir), "ECM_MQTT_HOST": self.mqtt_host,
                    "ECM_MQTT_PORT": str(self.mqtt_port), "ECM_INFLUX_URL": self.influx_url, "ECM_INFLUX_DB": self.db})
        if self.district_file:
            env["ECM_DISTRICT_FILE"] = str(self.district_file)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def activate(self, clean: bool = False, **extra: str) -> "Stack":
        """Point this process's settings (``ecm.settings``) at the stack (``clean``: drop every other
        ECM_* setting first, so an operator's tuning does not leak into a benchmark)."""
        from ecm.settings import reset_settings_cache

        if clean:
            for k in [k for k in os.environ if k.startswith("ECM_")]:
                del os.environ[k]
        os.environ.update({k: v for k, v in self.env(**extra).items() if k.startswith("ECM_")})
        reset_settings_cache()
        return self

    # -- servers ----------------------------------------------------------------------
    def start(self, influx: bool = True) -> "Stack":
        """Start Mosquitto and (unless ``influx=False``, for broker-only work) InfluxDB."""
        try:
            self.mosquitto.start()
            if influx:
                self.influx.start()
        except BaseException:
            if self.throwaway:  # never stop an operator's running services
                self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers; remove the state dir (and its secrets) when the stack created it."""
        try:
            self.influx.stop()
            self.mosquitto.stop()
        finally:
            if self.owns_state:
                shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- clients ----------------------------------------------------------------------
    def secrets(self) -> dict:
        from ecm.secrets import load_secrets

        return load_secrets(self.state_dir)

    def mqtt_password(self, user: str) -> str:
        return self.secrets()["mqtt"][user]

    def client(self, role: str = "service", timeout_s: float = 60, retries: int = 2):
        """An InfluxDB client for this stack's database (``role``: service or admin)."""
        from ecm.influx import InfluxClient, InfluxConfig

        c = self.secrets()["influx"][role]
        return InfluxClient(InfluxConfig(url=self.influx_url, db=self.db, user=c["user"], password=c["password"],
                                         timeout_s=timeout_s, retries=retries))

    def bridge(self, *args: str, log: Path | None = None, **env: str) -> Bridge:
        """Start ``python -m ingest *args`` on this stack and wait until it is ready."""
        return Bridge(self.env(**env), log=log).start(*args).wait_ready()
