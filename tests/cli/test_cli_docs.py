"""Every `ecm` subcommand has help text and is documented; errors are one line with exit code 1."""
from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from ecm.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md").read_text(encoding="utf-8") + (ROOT / "docs/contracts.md").read_text(encoding="utf-8")


def _walk(group: click.Group, prefix: str = "ecm"):
    for name, cmd in group.commands.items():
        yield f"{prefix} {name}", cmd
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, f"{prefix} {name}")


def test_every_subcommand_has_help_and_top_level_ones_are_documented():
    runner = CliRunner()
    for path, cmd in _walk(cli):
        assert (cmd.help or "").strip(), f"{path} has no help text"
        res = runner.invoke(cli, path.split()[1:] + ["--help"])
        assert res.exit_code == 0 and "Usage:" in res.output, path
    for name in cli.commands:
        assert f"ecm {name}" in DOCS, f"`ecm {name}` is not documented in README.md or docs/contracts.md"


def test_unknown_setting_is_a_one_line_error(monkeypatch):
    from ecm.settings import reset_settings_cache

    monkeypatch.setenv("ECM_INFLUX_ULR", "http://x")
    reset_settings_cache()
    try:
        res = CliRunner().invoke(cli, ["registry"])
    finally:
        monkeypatch.delenv("ECM_INFLUX_ULR")
        reset_settings_cache()
    assert res.exit_code == 1
    assert "unknown setting ECM_INFLUX_ULR" in res.output


def test_bad_registry_names_the_entry(tmp_path, monkeypatch):
    from ecm.settings import reset_settings_cache

    bad = tmp_path / "district.yaml"
    bad.write_text((ROOT / "config/district.yaml").read_text(encoding="utf-8").replace("carrier: coal", "carrier: kerosene", 1),
                   encoding="utf-8")
    monkeypatch.setenv("ECM_DISTRICT_FILE", str(bad))
    reset_settings_cache()
    try:
        res = CliRunner().invoke(cli, ["registry"])
    finally:
        monkeypatch.delenv("ECM_DISTRICT_FILE")
        reset_settings_cache()
    assert res.exit_code == 1
    assert res.output.startswith("error: ") and "unknown carrier 'kerosene'" in res.output
    assert len(res.output.strip().splitlines()) == 1
