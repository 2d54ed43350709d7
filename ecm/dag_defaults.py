"""Default arguments of the DAGs' tasks, read when a DAG file is parsed.

Light on purpose (no settings model, no pandas): the scheduler parses the DAG files often.
``ECM_TASK_RETRIES`` (declared in :mod:`ecm.settings`) sets the retries of every task; unset,
each task retries :data:`DEFAULT_RETRIES` times. The benchmarks set 0: a ``dag.test()`` whose task
fails then fails at once, instead of waiting out two retry delays and looking hung.
"""
from __future__ import annotations

import os

#: retries of a task when ``ECM_TASK_RETRIES`` is unset (transient InfluxDB or broker outages)
DEFAULT_RETRIES = 2


def task_retries() -> int:
    """``ECM_TASK_RETRIES`` as a whole number ≥ 0, else :data:`DEFAULT_RETRIES`; a bad value is a
    one-line error when the DAG file is parsed."""
    raw = os.environ.get("ECM_TASK_RETRIES", "").strip()
    if not raw:
        return DEFAULT_RETRIES
    if not raw.isdigit():
        raise ValueError(f"ECM_TASK_RETRIES={raw!r}: expected a whole number >= 0")
    return int(raw)


def task_args(retry_delay_minutes: int) -> dict:
    """``default_args`` of a DAG: the retries above, ``retry_delay_minutes`` apart."""
    import pendulum

    return {"retries": task_retries(), "retry_delay": pendulum.duration(minutes=retry_delay_minutes)}
