"""Error hierarchy for the platform.

Every error the CLI can show derives from :class:`EcmError`. A command turns one
into a single line with a next step and exit code 1.
"""
from __future__ import annotations


class EcmError(Exception):
    """Base class; ``hint`` is the next step shown to the operator."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(EcmError):
    """A settings value, the registry or a factor table is malformed."""

    hint = "fix the named entry and start again"


class RegistryError(ConfigError):
    """The district registry (config/district.yaml) is malformed."""


class FactorMissingError(ConfigError):
    """A factor or benchmark row the computation needs is not in config/factors.yaml."""


class UnknownMeterError(EcmError):
    """A reading names a meter the registry does not know."""


class InsufficientDataError(EcmError):
    """There is not enough valid data to compute a figure."""


class InfluxError(EcmError):
    """InfluxDB answered with an error or could not be reached."""

    hint = "check `ecm services status` and ECM_INFLUX_URL"


class InfluxUnreachableError(InfluxError):
    """No connection to InfluxDB (refused, timed out, host not found)."""

    hint = "start it with `ecm services start`, or check ECM_INFLUX_URL"


class ServiceError(EcmError):
    """A local service (mosquitto, influxd) could not be started or stopped."""
