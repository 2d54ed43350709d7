"""January and the year-to-date window label (issue #12 §3, §7).

Rule: kilns stop and restart around the Spring Festival, which falls in January or February
depending on the year, so a January-only year to date compares a holiday month with a working
month. Statistics offices publish 1–2月 together for this reason (NBS 规模以上工业 releases combine
January and February). Hence:

* a status whose year-to-date window ends in January (``ytd_through`` in January) gets no colour:
  ``status`` = ``not_rated`` (level 4), with the reason in words;
* the first coloured status of a year is the one whose window reaches February, i.e. covers 1–2月;
* ``data_insufficient`` stays ``data_insufficient`` (missing data is reported as such in any month).

Every row also gets the window in words, Chinese and English: 1–10月 / Jan–Oct for a window ending
on a month's last day, else 1月1日–11月15日 / 1 Jan–15 Nov.
"""
from __future__ import annotations

import calendar

import numpy as np
import pandas as pd

from ecm.accounting.issues import Issue
from ecm.schema import Status

GREEN, YELLOW, RED = Status.GREEN.value, Status.YELLOW.value, Status.RED.value
NOT_RATED = Status.NOT_RATED.value
NOT_RATED_LEVEL = Status.NOT_RATED.level       # beside STATUS_LEVELS 0..3 (green, yellow, red, data_insufficient)
COLOURED = (GREEN, YELLOW, RED)
NOTE_JANUARY = ("1月不单独评价：春节因素，与2月合并按1–2月评价",
                "January is not rated on its own (Spring Festival); the first status of the year covers Jan–Feb")
NOTE_FIRST = ("本年首个评价期：1–2月", "First rated period of the year: Jan–Feb")
_MON_EN = [calendar.month_abbr[m] for m in range(13)]


def ytd_window_label(ytd_through) -> tuple[str, str]:
    """(zh, en) label of the window 1 January → ``ytd_through`` (date or ISO string)."""
    d = pd.Timestamp(ytd_through).date()
    month_end = d.day == calendar.monthrange(d.year, d.month)[1]
    if month_end:
        if d.month == 1:
            return "1月", "Jan"
        return f"1–{d.month}月", f"Jan–{_MON_EN[d.month]}"
    return f"1月1日–{d.month}月{d.day}日", f"1 Jan–{d.day} {_MON_EN[d.month]}"


def january_rule(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Issue]]:
    """Apply the January rule to a status frame (kpi_monthly rows).

    Input columns: ``ytd_through`` (ISO date or date: last day of the YTD window), ``status``
    (green | yellow | red | data_insufficient), optionally ``status_level``.
    Output adds ``ytd_window_zh``, ``ytd_window_en``, ``rated`` (bool: a colour is published),
    ``status_note_zh``, ``status_note_en`` ("" when nothing to say); a coloured row whose window
    ends in January becomes ``status`` = ``not_rated``, ``status_level`` = 4. A February-window
    row keeps its colour and says it is the year's first rated period, covering 1–2月.
    """
    out = frame.copy()
    through = pd.to_datetime(out["ytd_through"])
    labels = [ytd_window_label(t) for t in through]
    out["ytd_window_zh"] = [z for z, _ in labels]
    out["ytd_window_en"] = [e for _, e in labels]
    jan = (through.dt.month == 1).to_numpy()
    feb = (through.dt.month == 2).to_numpy()
    coloured = out["status"].isin(COLOURED).to_numpy()
    to_blank = jan & coloured
    out["status"] = np.where(to_blank, NOT_RATED, out["status"])
    if "status_level" in out:
        out["status_level"] = np.where(to_blank, NOT_RATED_LEVEL, out["status_level"]).astype(int)
    out["rated"] = out["status"].isin(COLOURED).to_numpy()
    out["status_note_zh"] = np.select([jan, feb & coloured], [NOTE_JANUARY[0], NOTE_FIRST[0]], default="")
    out["status_note_en"] = np.select([jan, feb & coloured], [NOTE_JANUARY[1], NOTE_FIRST[1]], default="")
    issues = []
    if to_blank.any():
        issues.append(Issue("ecm.status.january_not_rated",
                            f"{int(to_blank.sum())} January-only status(es) published without colour (1–2月 rule)",
                            {"rows": int(to_blank.sum())}))
    return out, issues
