"""Retention policies and shard durations of the InfluxDB 1.x database (docs/operations.md).

Two policies, created or corrected by :func:`ensure_retention` at every ``ecm services start``:

* ``autogen`` (the default policy, so every unqualified ``FROM x`` keeps working): duration
  ``INF``, shard groups of 52 weeks. Rollups (``meter_hourly``), every derived measurement
  (``energy_daily`` … ``kpi_monthly``), statistics and device status live here, forever.
* ``raw``: raw ``readings`` for ``ECM_INFLUX_RAW_RETENTION_DAYS`` (default 400) with 30-day shard
  groups, so expiry drops whole shards (never a DELETE) and a month's history import or recompute
  touches one or two shards. Readings are written here when ``ECM_INFLUX_RAW_RP=raw``
  (``InfluxClient`` routes ``readings`` lines and qualifies ``InfluxClient.readings_from``).

Once raw readings have expired, a day's accounting is recomputed from ``meter_hourly``
(``ecm.pipeline.rollup_source``), which is kept forever.
"""
from __future__ import annotations

from dataclasses import dataclass

from ecm.influx import InfluxClient, quote_ident

RP_DEFAULT = "autogen"
RP_RAW = "raw"
RAW_SHARD = "30d"
FOREVER_SHARD = "52w"


@dataclass(frozen=True)
class Policy:
    name: str
    duration: str        # InfluxQL duration literal, "INF" for forever
    shard_duration: str
    default: bool


def policies(raw_retention_days: int) -> list[Policy]:
    if raw_retention_days < 1:
        raise ValueError("raw retention must be at least one day")
    return [Policy(RP_DEFAULT, "INF", FOREVER_SHARD, True),
            Policy(RP_RAW, f"{int(raw_retention_days)}d", RAW_SHARD, False)]


def _statement(verb: str, p: Policy, db: str) -> str:
    s = (f"{verb} RETENTION POLICY {quote_ident(p.name)} ON {quote_ident(db)} DURATION {p.duration} "
         f"REPLICATION 1 SHARD DURATION {p.shard_duration}")
    return s + (" DEFAULT" if p.default else "")


def ensure_retention(admin: InfluxClient, db: str, raw_retention_days: int) -> list[Policy]:
    """Create or correct the policies of ``db`` (idempotent; needs an admin client).

    A changed shard duration applies to shard groups created from then on; a shortened raw
    duration drops expired shards at the server's next retention check.
    """
    existing = set()
    df = admin.query_frame(f"SHOW RETENTION POLICIES ON {quote_ident(db)}", db=db)
    if len(df):
        existing = set(df["name"])
    want = policies(raw_retention_days)
    for p in want:
        admin.execute(_statement("ALTER" if p.name in existing else "CREATE", p, db), db=db)
    return want


def show_retention(client: InfluxClient, db: str):
    """``SHOW RETENTION POLICIES`` as a frame (name, duration, shardGroupDuration, default)."""
    return client.query_frame(f"SHOW RETENTION POLICIES ON {quote_ident(db)}", db=db)
