"""Structured (JSON-lines) logging, quiet by default (ECM_LOG_LEVEL=WARNING).

``ECM_LOG_LEVEL`` sets the level of the platform's own loggers (``ecm``, ``ingest``,
``sim_devices``). Third-party libraries stay at WARNING whatever it says: their INFO lines
(Great Expectations logs 200+ "Skipping registering function" lines on import) are noise to an
operator, and inside an Airflow task the root logger is at INFO and would keep them.
"""
from __future__ import annotations

import json
import logging
import sys
import time

_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _STD and not k.startswith("_"):
                doc[k] = v
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


#: third-party loggers held at WARNING (their warnings and errors still pass)
THIRD_PARTY = ("great_expectations", "urllib3", "matplotlib", "fontTools", "weasyprint", "PIL",
               "pydantic", "paho", "asyncio", "filelock", "fsspec", "numexpr")


def quiet_third_party(level: int = logging.WARNING) -> None:
    """Hold the known chatty third-party loggers at ``level`` (called when ``ecm`` is imported)."""
    for name in THIRD_PARTY:
        lg = logging.getLogger(name)
        if lg.level == logging.NOTSET or lg.level < level:
            lg.setLevel(level)


def setup_logging(level: str | None = None, stream=None) -> None:
    """Send ``ecm.*``, ``ingest.*`` and ``sim_devices.*`` logs as JSON lines to stderr."""
    if level is None:
        from ecm.settings import get_settings

        level = get_settings().log_level
    quiet_third_party()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("ecm", "ingest", "sim_devices"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level.upper())
        lg.propagate = False
