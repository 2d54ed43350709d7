"""`ecm sim`: the simulated fleet (real-time run, backfill, ground truth, statistics, registry).

A thin skin over ``sim_devices`` (imported inside the commands). Days are Beijing days, inclusive.
"""
from __future__ import annotations

import click

from ecm.cli.common import day_range, echo_json, handle_errors, to_date

DAY = click.DateTime(["%Y-%m-%d"])


def _seed(fn):
    return click.option("--seed", type=int, default=None, help="Random seed (default: the fleet's seed).")(fn)


def _enterprises(fn):
    return click.option("--enterprises", "n_enterprises", type=int, default=None,
                        help="Simulate N enterprises (N > registry size clones them; see `ecm sim registry`).")(fn)


def _faults(fn):
    return click.option("--fault", "faults", multiple=True, metavar="KIND[=RATE]",
                        help="Inject a fault kind (repeatable; `all` = every kind at its default rate). "
                             "Kinds: dropout, duplicate, out_of_order, clock_skew, spike, stuck, "
                             "counter_reset, rollover, malformed; drift=RATE@LINE[:START] (efficiency loss "
                             "per month of a line, a physical fault that the truth includes).")(fn)


def _interval(fn):
    return click.option("--interval-s", type=int, default=None,
                        help="Override every meter's interval, seconds (e.g. 86400: one reading per Beijing midnight).")(fn)


def _context(seed, n_enterprises):
    import sim_devices
    from ecm.registry import get_registry
    from ecm.settings import get_settings

    fleet = sim_devices.load_fleet()
    reg = sim_devices.select_registry(get_registry(), n_enterprises)
    return reg, (fleet.get("seed", sim_devices.DEFAULT_SEED) if seed is None else seed), get_settings()


def _check_faults(faults):
    from sim_devices import FaultConfig

    try:
        return FaultConfig.parse(list(faults)) if faults else None
    except ValueError as exc:
        from ecm.errors import ConfigError
        raise ConfigError(str(exc), hint="see `ecm sim backfill --help`") from None


@click.group("sim")
def sim() -> None:
    """Simulated fleet of key energy-using enterprises (sim_devices/README.md)."""


@sim.command("run")
@_seed
@_enterprises
@_faults
@_interval
@click.option("--duration-s", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Simulated seconds per wall second.")
@handle_errors
def run_(seed, n_enterprises, faults, interval_s, duration_s, speed) -> None:
    """Publish in real time: every meter at its interval, one message per reading."""
    import sim_devices

    reg, seed, st = _context(seed, n_enterprises)
    try:
        out = sim_devices.run(reg, seed=seed, faults=_check_faults(faults), interval_s=interval_s,
                              host=st.mqtt_host, port=st.mqtt_port, state_dir=st.state_path,
                              duration_s=duration_s, speed=speed)
    except KeyboardInterrupt:
        return
    echo_json(out)


@sim.command("backfill")
@click.option("--start", required=True, type=DAY, help="First Beijing day, YYYY-MM-DD.")
@click.option("--end", required=True, type=DAY, help="Last Beijing day (inclusive), YYYY-MM-DD.")
@_seed
@_enterprises
@_faults
@_interval
@click.option("--batch-items", type=int, default=500, show_default=True, help="Readings per gateway batch message.")
@click.option("--no-stats", is_flag=True, help="Do not publish monthly statistics of months ending in the window.")
@handle_errors
def backfill_(start, end, seed, n_enterprises, faults, interval_s, batch_items, no_stats) -> None:
    """Publish a past window as fast as the broker takes it (gateway batches, QoS 1)."""
    import sim_devices

    reg, seed, st = _context(seed, n_enterprises)
    start, end = day_range(start, end)
    out = sim_devices.backfill(reg, start, end, seed=seed, faults=_check_faults(faults),
                               interval_s=interval_s, host=st.mqtt_host, port=st.mqtt_port,
                               state_dir=st.state_path, batch_items=batch_items, publish_stats=not no_stats)
    echo_json(out)


@sim.command("truth")
@click.option("--start", required=True, type=DAY, help="First Beijing day, YYYY-MM-DD.")
@click.option("--end", required=True, type=DAY, help="Last Beijing day (inclusive), YYYY-MM-DD.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
@click.option("--savings", is_flag=True, help="Write each retrofit's true effect instead: actual and counterfactual "
              "(without that retrofit) per meter-day.")
@_seed
@_enterprises
@_faults
@handle_errors
def truth_(start, end, out_file, savings, seed, n_enterprises, faults) -> None:
    """Write what the fleet really consumed/produced per enterprise, line, meter and Beijing day (CSV)."""
    import sim_devices

    reg, seed, _ = _context(seed, n_enterprises)
    fn = sim_devices.savings_truth_frame if savings else sim_devices.truth_frame
    df = fn(reg, *day_range(start, end), seed, faults=_check_faults(faults))
    df.to_csv(out_file, index=False, float_format="%.6f")
    click.echo(f"wrote {len(df)} rows to {out_file}")


@sim.command("stats")
@click.option("--start", required=True, help="First month, YYYY-MM (or a day in it).")
@click.option("--end", required=True, help="Last month (inclusive), YYYY-MM (or a day in it).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
@_seed
@_enterprises
@handle_errors
def stats_(start, end, out_file, seed, n_enterprises) -> None:
    """Write monthly statistics (enterprise,month,output_value_10k_cny,value_added_current_10k_cny,deflator_index)."""
    import sim_devices

    reg, seed, _ = _context(seed, n_enterprises)
    df = sim_devices.monthly_stats_frame(reg, start[:7], end[:7], seed)
    df.to_csv(out_file, index=False)
    click.echo(f"wrote {len(df)} rows to {out_file} (import with `ecm stats import {out_file}`)")


@sim.command("registry")
@click.option("--enterprises", "n_enterprises", type=int, required=True, help="Number of enterprises.")
@click.option("--meters-per-enterprise", type=int, default=None,
              help="Pad each enterprise with electricity sub-meters up to this many meters.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="YAML file to write.")
@handle_errors
def registry_(n_enterprises, meters_per_enterprise, out_file) -> None:
    """Write a scaled registry (use with ECM_DISTRICT_FILE, then `ecm services start`)."""
    import yaml

    import sim_devices
    from ecm.registry import get_registry, parse_registry

    data = sim_devices.scaled_registry(get_registry().model_dump(mode="json"), n_enterprises, meters_per_enterprise)
    reg = parse_registry(data, out_file)
    with open(out_file, "w", encoding="utf-8") as fh:
        fh.write("# Scaled registry written by `ecm sim registry`; clones e021.. vary the default 20.\n")
        yaml.safe_dump(data, fh, allow_unicode=True, sort_keys=False)
    click.echo(f"wrote {len(reg.enterprises)} enterprises, {sum(len(e.meters) for e in reg.enterprises)} meters "
               f"to {out_file}")


COMMANDS = [sim]
