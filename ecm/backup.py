"""Backup and restore of a deployment: InfluxDB, secrets, registry, Airflow metadata, reports.

A backup is one folder::

    DIR/influx/            influxd backup -portable of ECM_INFLUX_DB (retention policies included)
    DIR/secrets/           secrets.json (+ any --include files, e.g. compose's .env)
    DIR/registry/          the district registry (ECM_DISTRICT_FILE)
    DIR/airflow/           airflow.sqlite (SQLite online backup) or airflow.pgdump (pg_dump -Fc)
    DIR/reports/           ECM_REPORTS_DIR as it was
    DIR/manifest.json      format, time, versions, parts, and SHA-256 + size of every file
    DIR/SHA256SUMS         the same hashes for ``sha256sum -c``

``influxd backup -portable`` talks to the server's RPC service (``bind-address``, port 8088 by
default). It has no authentication, so the generated config binds it to loopback and compose
runs the backup job in the InfluxDB container's network namespace.

Restore verifies every hash before touching anything, writes the files back, then replaces the
database: ``DROP DATABASE`` + ``influxd restore -portable -db`` (portable restore refuses an
existing database) and grants the service user again (DROP removes its privileges).
"""
from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ecm.errors import EcmError
from ecm.report.writer import sha256_file  # the report manifest's hashing, one implementation

log = logging.getLogger("ecm.backup")

FORMAT = "ecm-backup/1"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
PARTS = ("influx", "secrets", "registry", "airflow", "reports")


class BackupError(EcmError):
    """A backup could not be made, or a folder is not a complete, intact backup."""


@dataclass
class Target:
    """Where the parts of a deployment live (built from the settings by the CLI)."""

    state_dir: Path
    registry_path: Path
    reports_dir: Path
    db: str
    influx_admin: object              # ecm.influx.InfluxClient with admin rights
    rpc_address: str                  # host:port of influxd's RPC service
    influxd_bin: str = "influxd"
    service_user: str = ""
    airflow_db: str = ""              # SQLAlchemy URL; "" = no Airflow metadata
    includes: list[Path] = field(default_factory=list)




def _run(argv: list[str], what: str) -> None:
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        detail = (r.stderr or r.stdout).strip().splitlines()[-1:] or [""]
        raise BackupError(f"{what} failed: {detail[0][:300]}", hint=" ".join(argv[:4]) + " …")


def _sqlite_path(url: str) -> Path | None:
    return Path(url.split(":///", 1)[1]) if url.startswith("sqlite:///") else None


def _pg_url(url: str) -> str:
    """libpq URL of a SQLAlchemy one (``postgresql+psycopg2://`` → ``postgresql://``)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


# -- create --------------------------------------------------------------------------------------
def _backup_airflow(url: str, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise BackupError(f"Airflow metadata DB {path} does not exist")
        src, dst = sqlite3.connect(path), sqlite3.connect(out / "airflow.sqlite")
        try:
            src.backup(dst)   # consistent online copy, also while the scheduler writes
        finally:
            dst.close()
            src.close()
        # a local AIRFLOW_HOME keeps its generated fernet_key in airflow.cfg: without it the
        # restored connections and variables cannot be decrypted (compose: AIRFLOW_FERNET_KEY in .env)
        cfg = path.parent / "airflow.cfg"
        if cfg.exists():
            shutil.copy2(cfg, out / "airflow.cfg")
        return "sqlite"
    if url.startswith("postgresql"):
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(out / "airflow.pgdump"), _pg_url(url)],
             "pg_dump of the Airflow metadata")
        return "postgresql"
    raise BackupError(f"unsupported Airflow metadata DB {url.split(':', 1)[0]}", hint="sqlite or postgresql")


def _manifest(dest: Path, meta: dict) -> dict:
    files = {}
    for p in sorted(dest.rglob("*")):
        rel = p.relative_to(dest).as_posix()
        if p.is_file() and rel not in (MANIFEST, SUMS):
            files[rel] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    doc = {**meta, "files": files}
    (dest / MANIFEST).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (dest / SUMS).write_text("".join(f"{v['sha256']}  {k}\n" for k, v in files.items())
                             + f"{sha256_file(dest / MANIFEST)}  {MANIFEST}\n", encoding="utf-8")
    return doc


def create_backup(dest: Path, t: Target, progress=None) -> dict:
    """Write a complete backup of ``t`` into the new folder ``dest``; returns the manifest."""
    from importlib.metadata import PackageNotFoundError, version

    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty", hint="give a new folder per backup")
    dest.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda msg: None)
    t0 = time.monotonic()
    parts = []
    say("influx: portable backup")
    _run([t.influxd_bin, "backup", "-portable", "-db", t.db, "-host", t.rpc_address, str(dest / "influx")],
         "influxd backup")
    parts.append("influx")
    sec = Path(t.state_dir) / "secrets.json"
    (dest / "secrets").mkdir()
    if sec.exists():
        shutil.copy2(sec, dest / "secrets" / "secrets.json")
        parts.append("secrets")
    for extra in t.includes:
        shutil.copy2(extra, dest / "secrets" / Path(extra).name)
    if Path(t.registry_path).exists():
        (dest / "registry").mkdir()
        shutil.copy2(t.registry_path, dest / "registry" / Path(t.registry_path).name)
        parts.append("registry")
    airflow_kind = None
    if t.airflow_db:
        say("airflow: metadata")
        airflow_kind = _backup_airflow(t.airflow_db, dest / "airflow")
        parts.append("airflow")
    if Path(t.reports_dir).is_dir():
        say("reports")
        shutil.copytree(t.reports_dir, dest / "reports")
        parts.append("reports")
    try:
        ver = version("ecm-rongchang")
    except PackageNotFoundError:
        ver = "source"
    meta = {"format": FORMAT, "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "ecm_version": ver, "influx_db": t.db, "parts": parts, "airflow_db_kind": airflow_kind,
            "registry_file": Path(t.registry_path).name, "includes": [Path(p).name for p in t.includes],
            "seconds": round(time.monotonic() - t0, 2)}
    doc = _manifest(dest, meta)
    log.info("backup_created", extra={"dir": str(dest), "files": len(doc["files"]), "parts": parts})
    return doc


# -- verify and restore --------------------------------------------------------------------------
def verify_backup(src: Path) -> dict:
    """The manifest of ``src`` after checking every listed file's size and SHA-256, and that no
    file is missing; raises BackupError naming the first problem."""
    src = Path(src)
    mf = src / MANIFEST
    if not mf.exists():
        raise BackupError(f"{src} has no {MANIFEST}", hint="not an `ecm backup create` folder")
    doc = json.loads(mf.read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {doc.get('format')!r}", hint=f"this version reads {FORMAT}")
    for rel, want in doc["files"].items():
        p = src / rel
        if not p.is_file():
            raise BackupError(f"backup file missing: {rel}")
        if p.stat().st_size != want["bytes"] or sha256_file(p) != want["sha256"]:
            raise BackupError(f"backup file corrupt (SHA-256 mismatch): {rel}")
    return doc


def restore_files(src: Path, t: Target, doc: dict) -> list[str]:
    """Secrets, registry, reports and Airflow metadata back in place; returns the parts done."""
    src, done = Path(src), []
    if "secrets" in doc["parts"]:
        dst = Path(t.state_dir) / "secrets.json"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "secrets" / "secrets.json", dst)
        dst.chmod(0o600)
        done.append("secrets")
    if "registry" in doc["parts"]:
        Path(t.registry_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "registry" / doc["registry_file"], t.registry_path)
        done.append("registry")
    if "reports" in doc["parts"]:
        if Path(t.reports_dir).exists():
            shutil.rmtree(t.reports_dir)
        shutil.copytree(src / "reports", t.reports_dir)
        done.append("reports")
    if "airflow" in doc["parts"] and t.airflow_db:
        path = _sqlite_path(t.airflow_db)
        if doc["airflow_db_kind"] == "sqlite" and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / "airflow" / "airflow.sqlite", path)
            if (src / "airflow" / "airflow.cfg").exists():
                shutil.copy2(src / "airflow" / "airflow.cfg", path.parent / "airflow.cfg")
        elif doc["airflow_db_kind"] == "postgresql" and t.airflow_db.startswith("postgresql"):
            _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname", _pg_url(t.airflow_db),
                  str(src / "airflow" / "airflow.pgdump")], "pg_restore of the Airflow metadata")
        else:
            raise BackupError(f"backup holds {doc['airflow_db_kind']} Airflow metadata, target is "
                              f"{t.airflow_db.split(':', 1)[0]}")
        done.append("airflow")
    return done


def restore_influx(src: Path, t: Target, raw_retention_days: int | None = None) -> None:
    """Replace ECM_INFLUX_DB by the backup's copy (the server must be up)."""
    from ecm.influx import quote_ident

    admin = t.influx_admin
    admin.execute(f"DROP DATABASE {quote_ident(t.db)}", db="")
    _run([t.influxd_bin, "restore", "-portable", "-db", t.db, "-host", t.rpc_address, str(Path(src) / "influx")],
         "influxd restore")
    if t.service_user:
        admin.execute(f"GRANT ALL ON {quote_ident(t.db)} TO {quote_ident(t.service_user)}", db="")
    if raw_retention_days:
        from ecm.retention import ensure_retention

        ensure_retention(admin, t.db, raw_retention_days)
