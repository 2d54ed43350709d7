"""Airflow on the CeleryExecutor as local child processes, for the scale-out test.

The same parts as the compose ``scale`` profile (docker-compose.scale.yml): Redis as the broker
(``ecm.services.RedisService``), PostgreSQL as the metadata database and Celery result backend
(``ecm.services.PostgresService``; the CeleryExecutor refuses SQLite), one ``airflow api-server``
(its execution API is what a worker's task process reports to, with JWTs signed by the shared
``[api_auth] jwt_secret``), one ``airflow scheduler`` and N ``airflow celery worker``. DAGs are
serialized once with ``airflow dags reserialize`` instead of a long-running ``dag-processor``:
the test runs one DAG file that does not change while it runs.

Every process writes to its own log under ``root/logs`` (:meth:`CeleryCluster.tails` shows them
on failure); :meth:`CeleryCluster.stop` ends each process group it started.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from ecm.services import PostgresService, RedisService, free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


class CeleryCluster:
    """Redis + PostgreSQL + api-server + scheduler + ``n_workers`` Celery workers under ``root``."""

    def __init__(self, root: Path, ecm_env: dict[str, str], n_workers: int = 2):
        self.root = Path(root)
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.redis = RedisService(self.root, free_port())
        self.postgres = PostgresService(self.root, free_port(), durable=False)
        self.api_port = free_port()
        self.n_workers = n_workers
        self.procs: dict[str, subprocess.Popen] = {}
        from cryptography.fernet import Fernet

        # the caller's environment without its Airflow settings (the test session's SQLite ones)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW__", "AIRFLOW_HOME", "ECM_"))}
        env.update(ecm_env)
        env.update({
            "AIRFLOW_HOME": str(self.root / "airflow"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),  # ≥ 64 bytes for HS512
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            # only the runs this test triggers: no catch-up of the DAGs' cron schedules
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        })
        self.env = env

    # -- servers ----------------------------------------------------------------------
    def start_servers(self) -> "CeleryCluster":
        self.redis.start()
        self.postgres.start()
        self.env.update({
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url("postgresql+psycopg2"),
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url(0),
            "AIRFLOW__CELERY__RESULT_BACKEND": self.postgres.url("db+postgresql+psycopg2"),
        })
        return self

    def airflow_steps(self, name: str, *commands: list[str], timeout_s: float = 300) -> None:
        """Several ``airflow`` commands in one child (tests/scale/airflow_steps.py), in order."""
        import json

        log = self.logs / f"{name}.log"
        with open(log, "ab") as fh:
            r = subprocess.run([sys.executable, str(Path(__file__).with_name("airflow_steps.py")), json.dumps(commands)],
                               env=self.env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               timeout=timeout_s)
        if r.returncode != 0:
            raise AssertionError(f"airflow {commands} exited {r.returncode}\n{self.tails()}")

    def spawn(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        """Start ``airflow *args`` (with ``env`` added) in its own process group (stopped by :meth:`stop`)."""
        with open(self.logs / f"{name}.log", "ab") as fh:
            p = subprocess.Popen([AIRFLOW, *args], env={**self.env, **env}, stdout=fh, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = p
        return p

    def join(self, name: str, timeout_s: float = 300) -> None:
        """Wait for the one-shot command ``name`` (started with :meth:`spawn`) to succeed."""
        p = self.procs.pop(name)
        try:
            rc = p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.procs[name] = p  # stopped with the rest
            raise AssertionError(f"airflow {name} did not finish within {timeout_s:.0f} s\n{self.tails()}")
        if rc != 0:
            raise AssertionError(f"airflow {name} exited {rc}\n{self.tails()}")

    def worker_names(self) -> list[str]:
        return [f"worker{i + 1}" for i in range(self.n_workers)]

    def start_airflow(self) -> "CeleryCluster":
        """api-server (execution API only), scheduler and the workers; returns at once."""
        self.spawn("api-server", "api-server", "--apps", "execution", "-H", "127.0.0.1", "-p", str(self.api_port),
                   "-w", "1")
        self.spawn("scheduler", "scheduler")
        for name in self.worker_names():
            # own pid file and no log server: two workers share one AIRFLOW_HOME and host
            self.spawn(name, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1",
                       "--skip-serve-logs", "--without-mingle", "--without-gossip",
                       "--pid", str(self.root / f"{name}.pid"),
                       # INFO: Celery's "ready" and each received workload (with its task-instance id)
                       AIRFLOW__LOGGING__LOGGING_LEVEL="INFO")
        return self

    def wait_ready(self, timeout_s: float = 150) -> None:
        """Until every worker's Celery consumer is up and the api-server answers."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise AssertionError(f"{dead} exited before the run\n{self.tails()}")
            ready = [n for n in self.worker_names() if " ready." in self.log_text(n)]
            if len(ready) == self.n_workers and port_open("127.0.0.1", self.api_port):
                return
            time.sleep(0.5)
        raise AssertionError(f"the Celery cluster was not ready within {timeout_s:.0f} s\n{self.tails()}")

    # -- runs -------------------------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg2

        con = psycopg2.connect(host=self.postgres.host, port=self.postgres.port, user=self.postgres.user,
                               password=self.postgres.password, dbname=self.postgres.db)
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            con.close()

    def wait_run(self, dag_id: str, run_id: str, timeout_s: float = 480) -> str:
        """Poll the metadata DB until the run ends; its final state."""
        deadline = time.monotonic() + timeout_s
        state = None
        while time.monotonic() < deadline:
            rows = self.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id))
            state = rows[0][0] if rows else None
            if state in ("success", "failed"):
                return state
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise AssertionError(f"{dead} exited during the run\n{self.tails()}")
            time.sleep(1)
        raise AssertionError(f"{dag_id} {run_id} still {state} after {timeout_s:.0f} s\n"
                             f"{self.task_instances(dag_id, run_id)}\n{self.tails()}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        rows = self.query("SELECT id::text, task_id, map_index, state, hostname, pid FROM task_instance "
                          "WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index", (dag_id, run_id))
        return [dict(zip(("id", "task_id", "map_index", "state", "hostname", "pid"), r)) for r in rows]

    def workloads_by_worker(self) -> dict[str, set[str]]:
        """Task-instance ids each worker received (its log's "Executing workload" lines)."""
        out = {}
        for name in self.worker_names():
            ids = set()
            for line in self.log_text(name).splitlines():
                if "Executing workload" in line:
                    ids.update(re.findall(r"TaskInstance\w*\(id=UUID\('([0-9a-f-]{36})'\)", line))
            out[name] = ids
        return out

    # -- logs and stop ----------------------------------------------------------------
    def log_text(self, name: str) -> str:
        try:
            return (self.logs / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def tails(self, lines: int = 25) -> str:
        parts = []
        for f in sorted(self.logs.glob("*.log")):
            tail = f.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {f.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        for f in (self.postgres.dir / "postgres.log", self.redis.dir / "redis.log"):
            if f.exists():
                parts.append(f"--- {f}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-10:]))
        return "\n".join(parts)

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM each process group started here (workers finish nothing: the run is over), then
        SIGKILL what is left; then the servers."""
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout_s
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)  # the group's leftovers (task runners, pool children)
            except (ProcessLookupError, PermissionError):
                pass
            if p.poll() is None:
                p.wait(5)
        self.postgres.stop()
        self.redis.stop()
