"""Entry point of the ``ecm`` command.

Each module in ``ecm/cli/`` exposes ``COMMANDS``, a list of click commands or groups;
they are registered here in module-name order.
"""
from __future__ import annotations

import importlib
import pkgutil

import click

import ecm.cli
from ecm.cli.common import EcmGroup


@click.group(cls=EcmGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ecm-rongchang")
def cli() -> None:
    """Rongchang industrial energy and carbon monitoring platform (荣昌区工业能耗与碳排放监测平台).

    Settings come from ECM_* environment variables (see README.md).
    """
    from ecm.errors import EcmError
    from ecm.logs import setup_logging

    try:
        setup_logging()
    except EcmError as exc:
        raise click.ClickException(f"{exc} ({exc.hint})") from None


def _register() -> None:
    for info in sorted(pkgutil.iter_modules(ecm.cli.__path__), key=lambda i: i.name):
        if info.name in {"main", "common"}:
            continue
        mod = importlib.import_module(f"ecm.cli.{info.name}")
        for cmd in getattr(mod, "COMMANDS", []):
            cli.add_command(cmd)


_register()


def main() -> None:
    cli()
