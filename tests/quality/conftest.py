"""Shared data for the data-quality tests: the default registry and one clean synthetic day."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

DAY = date(2024, 3, 1)


@pytest.fixture(scope="session")
def registry():
    from ecm.registry import get_registry

    return get_registry()


@pytest.fixture(scope="session")
def meters(registry):
    return registry.meters_frame()


@pytest.fixture()
def clean(meters) -> pd.DataFrame:
    """A clean district day of readings (fresh copy per test)."""
    from ecm.quality_frames import synthetic_day

    return synthetic_day(meters, DAY, seed=1)


def outcome(result, expectation: str) -> dict[str, bool]:
    """enterprise -> success of one expectation in a DqResult."""
    f = result.frame[result.frame["expectation"] == expectation]
    assert len(f), f"expectation {expectation} not in results"
    return dict(zip(f["enterprise"], f["success"].astype(bool)))


def failing(result, expectation: str) -> set[str]:
    return {e for e, ok in outcome(result, expectation).items() if not ok}


def in_hours(df: pd.DataFrame, meter: str, h0: float, h1: float) -> pd.Series:
    """Rows of ``meter`` whose Beijing hour-of-day lies in [h0, h1)."""
    start = pd.Timestamp(DAY).tz_localize("Asia/Shanghai").tz_convert("UTC")
    hours = (df["time"] - start).dt.total_seconds() / 3600.0
    return (df["meter"] == meter) & (hours >= h0) & (hours < h1)
