"""ecm: shared library of the Rongchang industrial energy and carbon monitoring platform."""

__version__ = "0.1.0"

# third-party INFO noise off wherever ecm runs (CLI, ingest, Airflow tasks): see ecm.logs
from ecm.logs import quiet_third_party as _quiet_third_party  # noqa: E402

_quiet_third_party()
