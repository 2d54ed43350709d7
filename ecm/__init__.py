"""ecm: shared library of the Rongchang industrial energy and carbon monitoring platform."""

__version__ = "0.1.0"
