"""Ball mills and cement grinding: electricity follows throughput, off the peak-tariff hours.

A cement grinding station (粉磨站) runs its ball mills / roller press on the ``offpeak`` schedule
(calendar.SCHEDULES) and draws ``per_unit`` kWh per t of cement at the reference load, with a
fixed share for no-load running (mill rotating, separator, fans). The same generic line energy
model of :mod:`sim_devices.plant` applies; this module only holds the defaults.
"""
from __future__ import annotations

#: defaults for a grinding line (merged under the line's own settings in the fleet YAML)
GRINDING_DEFAULTS = {"kiln": "none", "process": "offpeak"}
#: fixed (no-load) share of mill power at the reference load
MILL_FIXED_FRAC = 0.25
