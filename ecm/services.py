"""Local Mosquitto and InfluxDB from the Debian packages, run under ``ECM_STATE_DIR``.

Redis and PostgreSQL (:class:`RedisService`, :class:`PostgresService`) are the CeleryExecutor's
broker and metadata database, started the same way for the scale-out test (tests/scale) and
described for production by the compose ``scale`` profile (docs/scaling.md).

``start`` brings up only what is down (idempotent), ``stop`` leaves no process behind and
``status`` reports health. The same classes serve the test fixtures, on free loopback ports.
"""
from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ecm.errors import ServiceError
from ecm.secrets import INGEST_USER, ensure_secrets

PACKAGES = {"mosquitto": ["mosquitto", "mosquitto-clients"], "influxd": ["influxdb", "influxdb-client"],
            "redis-server": ["redis-server"], "postgres": ["postgresql"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout_s: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_binary(name: str, configured: str) -> str:
    """Path of ``configured``; installs the Debian package when missing and running as root."""
    path = shutil.which(configured) or (configured if os.path.exists(configured) else None)
    if path:
        return path
    pkgs = PACKAGES[name]
    if os.geteuid() != 0:
        raise ServiceError(f"{name} is not installed", hint=f"sudo apt-get install -y {' '.join(pkgs)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *pkgs], check=True, env=env)
    path = shutil.which(configured)
    if not path:
        raise ServiceError(f"{name} still missing after installing {pkgs}")
    return path


def _read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def _stop_pid(pidfile: Path, timeout_s: float = 15.0, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig``, wait up to ``timeout_s`` for the process to exit, then SIGKILL; False if none ran."""
    pid = _read_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    pidfile.unlink(missing_ok=True)
    return True


def _spawn(argv: list[str], log: Path, pidfile: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    pidfile.write_text(str(proc.pid))
    return proc.pid


@dataclass
class Status:
    name: str
    running: bool
    healthy: bool
    pid: int | None
    address: str
    detail: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _await_healthy(status, timeout_s: float, what: str, hint: str, poll_s: float = 0.05):
    """Poll ``status()`` until the server answers (healthy) or its process is gone; one-line error."""
    deadline = time.monotonic() + timeout_s
    st = status()
    while not st.healthy and st.running and time.monotonic() < deadline:
        time.sleep(poll_s)
        st = status()
    if not st.healthy:
        raise ServiceError(f"{what} did not come up", hint=hint)
    return st


class MosquittoService:
    """Mosquitto with the dynamic-security plugin (tenancy from the registry) and persistence."""

    name = "mosquitto"

    def __init__(self, state_dir: Path, host: str, port: int, enterprise_ids: list[str], binary: str = "mosquitto",
                 tls_port: int | None = None, tls_host: str = "0.0.0.0", disabled: frozenset[str] = frozenset()):
        self.dir = Path(state_dir).resolve() / "mosquitto"
        self.disabled = frozenset(disabled)  # offboarded enterprises (ecm enterprise disable): no principal
        self.state_dir = Path(state_dir).resolve()
        self.host, self.port, self.enterprise_ids, self.binary = host, port, enterprise_ids, binary
        self.tls_port, self.tls_host = tls_port or None, tls_host
        self.pidfile = self.dir / "mosquitto.pid"

    def write_config(self) -> Path:
        """mosquitto.conf plus the dynamic-security JSON generated from the registry (ecm/dynsec.py).

        The JSON is written only while the broker is down: the running plugin owns its file (it
        rewrites it on every live change), and live changes go through ``sync_live``."""
        from ecm import dynsec

        if not _is_loopback(self.host):
            raise ServiceError(f"the plaintext MQTT listener must be on loopback, not {self.host}",
                               hint="enterprises connect over TLS (ECM_MQTT_TLS_PORT); keep ECM_MQTT_HOST=127.0.0.1")
        secrets = ensure_secrets(self.state_dir, self.enterprise_ids)
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        tls = ""
        if self.tls_port:
            from ecm.tls import ensure_tls

            t = ensure_tls(self.dir / "tls")
            tls = (f"\n# Enterprises: TLS (certificates generated once under {self.dir / 'tls'}; give gateways ca.crt)\n"
                   f"listener {self.tls_port} {self.tls_host}\ncafile {t['cafile']}\ncertfile {t['certfile']}\n"
                   f"keyfile {t['keyfile']}\ntls_version tlsv1.2\n")
        ds = self.dir / "dynsec.json"
        if _read_pid(self.pidfile) is None:
            dynsec.write_config(ds, dynsec.build_config(secrets["mqtt"], self.enterprise_ids, ingest_user=INGEST_USER,
                                                          disabled=self.disabled))
        for stale in ("passwd", "acl"):  # pre-dynsec files
            (self.dir / stale).unlink(missing_ok=True)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(f"""# Generated by `ecm services start`; see ecm/services.py and ecm/dynsec.py.
# Authentication, client-id binding and ACLs (subscriptions included): dynamic-security plugin.
per_listener_settings false
allow_anonymous false
plugin {dynsec.plugin_path()}
plugin_opt_config_file {ds}
user {getpass.getuser()}
persistence true
persistence_location {self.dir / 'data'}/
autosave_interval 10
autosave_on_changes false
persistent_client_expiration 14d
max_inflight_messages 1000
max_queued_messages 2000000
max_queued_bytes 0
max_packet_size 4194304
set_tcp_nodelay true
log_dest file {self.dir / 'mosquitto.log'}
log_type error
log_type warning
log_type notice
connection_messages false
# Platform services (ingest, simulator, CLI): plaintext, loopback only
listener {self.port} {self.host}
{tls}""")
        return conf

    def control(self):
        """A live dynamic-security control session (``close()`` it)."""
        from ecm.dynsec import ADMIN_USER, DynsecControl

        pw = ensure_secrets(self.state_dir, self.enterprise_ids)["mqtt"][ADMIN_USER]
        return DynsecControl(self.host, self.port, pw)

    def rotate_password(self, user: str) -> str:
        """New password for principal ``user``: saved, applied live, and every session using the
        old one disconnected at once (the plugin kicks a client it disables)."""
        from ecm.dynsec import principal_enterprise
        from ecm.secrets import rotate_mqtt_password

        if principal_enterprise(user) in self.disabled:  # rotating re-enables the principal: refuse
            raise ServiceError(f"enterprise {principal_enterprise(user)!r} is disabled",
                               hint="a disabled enterprise has no broker access; re-add it to onboard it again")
        if self.status().running:
            self.sync_live()  # the principal exists in the running broker
        pw = rotate_mqtt_password(self.state_dir, user)
        if not self.status().running:
            return pw  # applied when the broker starts (its config is generated from the secrets)
        ctl = self.control()
        try:
            ctl.run([{"command": "setClientPassword", "username": user, "password": pw},
                     {"command": "disableClient", "username": user},
                     {"command": "enableClient", "username": user}])
        finally:
            ctl.close()
        return pw

    def sync_live(self) -> None:
        """Bring the running broker's principals and roles to the registry's (idempotent)."""
        from ecm import dynsec

        secrets = ensure_secrets(self.state_dir, self.enterprise_ids)
        ctl = self.control()
        try:
            have = ctl.run([{"command": "listClients", "verbose": False, "count": -1, "offset": 0}])[0]
            have_clients = set(have.get("data", {}).get("clients", []))
            roles = ctl.run([{"command": "listRoles", "verbose": False, "count": -1, "offset": 0}])[0]
            have_roles = set(roles.get("data", {}).get("roles", []))
            cmds = []
            for e in self.enterprise_ids:
                r = dynsec.enterprise_role_doc(e)
                if r["rolename"] not in have_roles:
                    cmds.append({"command": "createRole", "rolename": r["rolename"], "textname": r["textname"],
                                 "acls": r["acls"]})
            for user, pw, cid, role in dynsec.principals(secrets["mqtt"], self.enterprise_ids, self.disabled,
                                                     ingest_user=INGEST_USER):
                if user not in have_clients:
                    c = {"command": "createClient", "username": user, "password": pw,
                         "roles": [{"rolename": role, "priority": 0}]}
                    if cid:
                        c["clientid"] = cid
                    cmds.append(c)
            if cmds:
                ctl.run(cmds)
        finally:
            ctl.close()

    def status(self) -> Status:
        pid = _read_pid(self.pidfile)
        healthy = pid is not None and port_open(self.host, self.port)
        return Status(self.name, pid is not None, healthy, pid, f"mqtt://{self.host}:{self.port}")

    def start(self, timeout_s: float = 15.0) -> Status:
        st = self.status()
        conf = self.write_config()
        if st.running:
            self.sync_live()  # new enterprises/principals apply without a restart
            return self.status()
        binary = ensure_binary("mosquitto", self.binary)
        _spawn([binary, "-c", str(conf)], self.dir / "stdout.log", self.pidfile)
        return _await_healthy(self.status, timeout_s, f"mosquitto on {self.host}:{self.port}",
                              f"see {self.dir / 'mosquitto.log'} and {self.dir / 'stdout.log'}")

    def stop(self) -> bool:
        return _stop_pid(self.pidfile)


class InfluxService:
    """InfluxDB 1.x (Debian package) with auth, an admin and a service user."""

    name = "influxdb"

    def __init__(self, state_dir: Path, url: str, db: str, enterprise_ids: list[str], binary: str = "influxd",
                 raw_retention_days: int = 400, retention_check_interval: str = "30m"):
        self.raw_retention_days, self.retention_check_interval = raw_retention_days, retention_check_interval
        self.dir = Path(state_dir).resolve() / "influxdb"
        self.state_dir = Path(state_dir).resolve()
        u = urlparse(url)
        self.url, self.host, self.port, self.db = url, u.hostname or "127.0.0.1", u.port or 8086, db
        self.enterprise_ids, self.binary = enterprise_ids, binary
        self.pidfile = self.dir / "influxd.pid"

    def write_config(self) -> Path:
        for sub in ("meta", "data", "wal"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        conf = self.dir / "influxdb.conf"
        rpc = self._rpc_port()
        conf.write_text(f"""# Generated by `ecm services start`; see ecm/services.py.
reporting-disabled = true
# RPC service for `influxd backup/restore -portable` (ecm backup): loopback only, it has no auth
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{self.dir / 'meta'}"
  logging-enabled = false
[data]
  dir = "{self.dir / 'data'}"
  wal-dir = "{self.dir / 'wal'}"
  query-log-enabled = false
  index-version = "tsi1"
  cache-max-memory-size = "2g"
  max-series-per-database = 0
  max-values-per-tag = 0
[coordinator]
  max-select-point = 0
  max-select-series = 0
  query-timeout = "0s"
  log-queries-after = "0s"
[retention]
  enabled = true
  check-interval = "{self.retention_check_interval}"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  auth-enabled = true
  log-enabled = false
  write-tracing = false
  # no /debug/pprof (profiles, heap dumps) without credentials; see InfluxService.write_config
  pprof-enabled = false
  max-row-limit = 0
  max-body-size = 0
  max-connection-limit = 0
[logging]
  level = "warn"
  suppress-logo = true
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
""")
        return conf

    def _rpc_port(self) -> int:
        f = self.dir / "rpc.port"
        if f.exists():
            p = int(f.read_text())
            if not port_open("127.0.0.1", p):
                return p
        p = free_port()
        f.write_text(str(p))
        return p

    def _client(self, role: str | None):
        from ecm.influx import InfluxClient, InfluxConfig

        sec = ensure_secrets(self.state_dir, self.enterprise_ids)["influx"]
        creds = sec[role] if role else {"user": "", "password": ""}
        return InfluxClient(InfluxConfig(url=self.url, db=self.db, user=creds["user"], password=creds["password"],
                                         timeout_s=10, retries=0))

    def status(self) -> Status:
        pid = _read_pid(self.pidfile)
        healthy = pid is not None and self._client(None).ping()
        return Status(self.name, pid is not None, healthy, pid, self.url)

    def bootstrap(self) -> None:
        """Create admin, database and service user (idempotent)."""
        from ecm.errors import InfluxError
        from ecm.influx import quote_ident, quote_str

        sec = ensure_secrets(self.state_dir, self.enterprise_ids)["influx"]
        admin = self._client("admin")
        try:
            admin.execute("SHOW USERS")
        except InfluxError:
            anon = self._client(None)
            anon.execute(f"CREATE USER {quote_ident(sec['admin']['user'])} WITH PASSWORD "
                         f"{quote_str(sec['admin']['password'])} WITH ALL PRIVILEGES", db="")
        admin.execute(f"CREATE DATABASE {quote_ident(self.db)}", db="")
        svc = sec["service"]
        users = admin.query_frame("SHOW USERS", db="")
        if users.empty or svc["user"] not in set(users["user"]):
            admin.execute(f"CREATE USER {quote_ident(svc['user'])} WITH PASSWORD {quote_str(svc['password'])}", db="")
        admin.execute(f"GRANT ALL ON {quote_ident(self.db)} TO {quote_ident(svc['user'])}", db="")
        from ecm.retention import ensure_retention

        ensure_retention(admin, self.db, self.raw_retention_days)

    @property
    def rpc_address(self) -> str:
        """host:port of the running server's RPC service (backup/restore)."""
        return f"127.0.0.1:{int((self.dir / 'rpc.port').read_text())}"
    def start(self, timeout_s: float = 60.0) -> Status:
        st = self.status()
        if not st.running:
            binary = ensure_binary("influxd", self.binary)
            conf = self.write_config()
            _spawn([binary, "run", "-config", str(conf)], self.dir / "influxd.log", self.pidfile)
            _await_healthy(self.status, timeout_s, f"influxd on {self.url}", f"see {self.dir / 'influxd.log'}")
        self.bootstrap()
        return self.status()

    def stop(self) -> bool:
        return _stop_pid(self.pidfile, timeout_s=30)


def _service_password(path: Path) -> str:
    """A generated password kept in ``path`` (0600), created on first use."""
    import secrets

    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    pw = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(pw)
    return pw


class RedisService:
    """Redis (Debian ``redis-server``) on loopback with a password: the CeleryExecutor's broker.

    Nothing is persisted: a broker restart loses queued task messages, which the Airflow
    scheduler re-queues (task state lives in the metadata database, not in Redis).
    """

    name = "redis"

    def __init__(self, state_dir: Path, port: int, host: str = "127.0.0.1", binary: str = "redis-server"):
        self.dir = Path(state_dir).resolve() / "redis"
        self.host, self.port, self.binary = host, port, binary
        self.pidfile = self.dir / "redis.pid"

    @property
    def password(self) -> str:
        return _service_password(self.dir / "password")

    def url(self, db: int = 0) -> str:
        """``redis://`` URL of database ``db`` (Celery's ``broker_url``)."""
        return f"redis://:{self.password}@{self.host}:{self.port}/{db}"

    def write_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the password
        with os.fdopen(fd, "w") as fh:
            fh.write(f"""# Generated by ecm.services.RedisService.
bind {self.host}
port {self.port}
protected-mode yes
requirepass {self.password}
daemonize no
dir {self.dir}
logfile {self.dir / 'redis.log'}
loglevel warning
save ""
appendonly no
""")
        return conf

    def ping(self) -> bool:
        """AUTH + PING over RESP: true once the server answers ``+PONG``."""
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                pw = self.password.encode()
                s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(pw), pw))
                buf = b""
                while b"PONG" not in buf and not buf.startswith(b"-") and len(buf) < 256:
                    chunk = s.recv(256)
                    if not chunk:
                        break
                    buf += chunk
                return b"+PONG" in buf
        except OSError:
            return False

    def status(self) -> Status:
        pid = _read_pid(self.pidfile)
        healthy = pid is not None and self.ping()
        return Status(self.name, pid is not None, healthy, pid, f"redis://{self.host}:{self.port}")

    def start(self, timeout_s: float = 15.0) -> Status:
        st = self.status()
        if st.running:
            return st
        binary = ensure_binary("redis-server", self.binary)
        conf = self.write_config()
        _spawn([binary, str(conf)], self.dir / "stdout.log", self.pidfile)
        return _await_healthy(self.status, timeout_s, f"redis-server on {self.host}:{self.port}",
                              f"see {self.dir / 'redis.log'} and {self.dir / 'stdout.log'}")

    def stop(self) -> bool:
        return _stop_pid(self.pidfile)


def postgres_bindir() -> Path:
    """``/usr/lib/postgresql/<newest>/bin`` of the Debian ``postgresql`` package (initdb, postgres,
    pg_isready are not on PATH there)."""
    import glob

    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if not dirs:
        raise ServiceError("PostgreSQL is not installed", hint="sudo apt-get install -y postgresql")
    return Path(dirs[-1]).parent


class PostgresService:
    """PostgreSQL (Debian ``postgresql``) on loopback, one database and its owner: the Airflow
    metadata database the CeleryExecutor needs (it refuses SQLite).

    ``initdb`` and the server refuse to run as root, so under root both run as ``run_as`` (the
    package's ``postgres`` system user), which must be able to reach ``state_dir``.
    ``durable=False`` turns fsync off: for throwaway test databases only.
    """

    name = "postgres"

    def __init__(self, state_dir: Path, port: int, db: str = "airflow", user: str = "airflow",
                 host: str = "127.0.0.1", run_as: str = "postgres", durable: bool = True):
        self.dir = Path(state_dir).resolve() / "postgres"
        self.data = self.dir / "data"
        self.host, self.port, self.db, self.user, self.durable = host, port, db, user, durable
        self.run_as = run_as if os.geteuid() == 0 else None
        self.pidfile = self.dir / "postgres.pid"

    @property
    def password(self) -> str:
        return _service_password(self.dir / "password")

    def url(self, driver: str = "postgresql+psycopg2") -> str:
        """SQLAlchemy URL (Airflow's ``sql_alchemy_conn``; ``db+postgresql`` for Celery's result backend)."""
        return f"{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{self.db}"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if not self.run_as:
            return argv
        return [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={self.run_as}", f"--regid={self.run_as}",
                "--init-groups", "--", *argv]

    def _chown(self, path: Path) -> None:
        if self.run_as:
            import pwd

            pw = pwd.getpwnam(self.run_as)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def initdb(self) -> None:
        """Create the cluster (once): ``user`` as superuser with a SCRAM password, TCP only."""
        if (self.data / "PG_VERSION").exists():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.dir / "initdb.pw"
        pwfile.write_text(self.password)
        os.chmod(pwfile, 0o600)
        for p in (self.dir, pwfile):
            self._chown(p)
        log = self.dir / "initdb.log"
        try:
            with open(log, "wb") as fh:
                r = subprocess.run(self._as_owner([str(postgres_bindir() / "initdb"), "-D", str(self.data),
                                                   "-U", self.user, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                                                   "-E", "UTF8", "--locale=C", "--no-sync"]),
                                   stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            pwfile.unlink(missing_ok=True)
        if r.returncode != 0:
            hint = f"see {log}"
            if self.run_as and not os.access(self.dir.parent, os.X_OK):
                hint += f"; user {self.run_as} must be able to reach {self.dir}"
            raise ServiceError(f"initdb failed for {self.data}", hint=hint)

    def ready(self) -> bool:
        r = subprocess.run([str(postgres_bindir() / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def status(self) -> Status:
        pid = _read_pid(self.pidfile)
        healthy = pid is not None and port_open(self.host, self.port) and self.ready()
        return Status(self.name, pid is not None, healthy, pid, f"postgresql://{self.host}:{self.port}/{self.db}")

    def start(self, timeout_s: float = 30.0) -> Status:
        st = self.status()
        if st.running:
            return st
        self.initdb()
        opts = [f"listen_addresses={self.host}", f"port={self.port}", "unix_socket_directories=",
                "max_connections=200", "logging_collector=off"]
        if not self.durable:
            opts += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        argv = [str(postgres_bindir() / "postgres"), "-D", str(self.data)]
        for o in opts:
            argv += ["-c", o]
        _spawn(self._as_owner(argv), self.dir / "postgres.log", self.pidfile)  # setpriv execs: the pid is the server's
        _await_healthy(self.status, timeout_s, f"postgres on {self.host}:{self.port}", f"see {self.dir / 'postgres.log'}")
        self._ensure_db()
        return self.status()

    def _ensure_db(self) -> None:
        """Create database ``db`` owned by ``user`` (idempotent)."""
        import psycopg2

        con = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password, dbname="postgres")
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.db,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{self.db}" OWNER "{self.user}"')
        finally:
            con.close()

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Fast shutdown (SIGINT: roll back open transactions, disconnect clients), SIGKILL after ``timeout_s``."""
        return _stop_pid(self.pidfile, timeout_s, signal.SIGINT)


def local_services(settings=None, registry=None) -> list:
    """The configured local services, in start order."""
    from ecm.registry import get_registry
    from ecm.settings import get_settings

    s = settings or get_settings()
    reg = registry or get_registry()
    ids = reg.enterprise_ids
    return [
        MosquittoService(s.state_path, s.mqtt_host, s.mqtt_port, ids, s.mosquitto_bin, s.mqtt_tls_port, s.mqtt_tls_host,
                         disabled=reg.disabled_ids),
        InfluxService(s.state_path, s.influx_url, s.influx_db, ids, s.influxd_bin,
                      raw_retention_days=s.influx_raw_retention_days,
                      retention_check_interval=s.influx_retention_check_interval),
    ]
