"""`ecm sim` commands that need no server: truth, stats, registry, and error lines."""
from __future__ import annotations

import pandas as pd
import yaml
from click.testing import CliRunner

from ecm.cli.main import cli


def test_truth_and_stats_csv(tmp_path):
    r = CliRunner().invoke(cli, ["sim", "truth", "--start", "2024-03-01", "--end", "2024-03-02",
                                 "--out", str(tmp_path / "t.csv"), "--seed", "3"])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert list(t.columns) == ["day_cst", "enterprise", "line", "meter", "carrier", "role", "quantity", "amount"]
    assert set(t.day_cst) == {"2024-03-01", "2024-03-02"} and "" in set(t.line)
    r = CliRunner().invoke(cli, ["sim", "stats", "--start", "2024-01", "--end", "2024-03", "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    s = pd.read_csv(tmp_path / "s.csv")
    assert list(s.columns) == ["enterprise", "month", "output_value_10k_cny", "value_added_current_10k_cny", "deflator_index"]
    assert len(s) == 60


def test_registry_command_writes_a_loadable_registry(tmp_path):
    out = tmp_path / "reg.yaml"
    r = CliRunner().invoke(cli, ["sim", "registry", "--enterprises", "23", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = yaml.safe_load(out.read_text())
    assert [e["id"] for e in data["enterprises"]][-3:] == ["e021", "e022", "e023"]


def test_unknown_fault_is_one_line_and_exit_1():
    r = CliRunner().invoke(cli, ["sim", "backfill", "--start", "2024-03-01", "--end", "2024-03-01", "--fault", "bogus"])
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1].startswith("error: unknown fault 'bogus'")
