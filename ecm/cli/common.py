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


def day_option(fn):
    return click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]),
                        help="Beijing-time day, YYYY-MM-DD.")(fn)


def enterprise_option(fn):
    return click.option("--enterprise", "enterprise", default=None, help="Enterprise id (default: all).")(fn)


def format_option(fn):
    return click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                        show_default=True, help="Output format.")(fn)


def to_date(value) -> date:
    return value.date() if hasattr(value, "date") else value


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))
