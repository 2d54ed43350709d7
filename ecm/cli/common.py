"""Shared option decorators and error handling for the ``ecm`` CLI."""
from __future__ import annotations

import functools
import json
import sys
from datetime import date

import click

from ecm.errors import EcmError


def handle_errors(fn):
    """Turn an EcmError into one line with a next step and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EcmError as exc:
            hint = f" ({exc.hint})" if getattr(exc, "hint", "") else ""
            # one line, whatever the message carries (a server's multi-line answer, a traceback text)
            click.echo(" ".join(f"error: {exc}{hint}".split()), err=True)
            sys.exit(1)

    return wrapper


#: a Beijing day on the command line: YYYY-MM-DD only (2024/03/01 and 2024-13-45 are one-line errors)
DAY = click.DateTime(["%Y-%m-%d"])


def day_option(fn):
    return click.option("--date", "day", required=True, type=DAY, help="Beijing-time day, YYYY-MM-DD.")(fn)


def day_range(start, end) -> tuple[date, date]:
    """(start, end) as dates; a start after its end is a one-line error."""
    d0, d1 = to_date(start), to_date(end)
    if d0 > d1:
        raise EcmError(f"--start {d0.isoformat()} is after --end {d1.isoformat()}", hint="swap them")
    return d0, d1


class OneLineUsageError(click.ClickException):
    """A usage error (bad option value, missing option) shown as one line, exit code 1."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class EcmGroup(click.Group):
    """The top-level group: click's usage errors (usage + hint + message) become one line."""

    @staticmethod
    def _one_line(exc: click.UsageError) -> OneLineUsageError:
        where = exc.ctx.command_path if exc.ctx else "ecm"
        return OneLineUsageError(f"{exc.format_message()} (see `{where} --help`)")

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise self._one_line(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise self._one_line(exc) from None


def enterprise_option(fn):
    return click.option("--enterprise", "enterprise", default=None, help="Enterprise id (default: all).")(fn)


def format_option(fn):
    return click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                        show_default=True, help="Output format.")(fn)


def to_date(value) -> date:
    return value.date() if hasattr(value, "date") else value


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))
