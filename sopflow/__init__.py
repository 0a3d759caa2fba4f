"""sopflow: declarative SOPs for international recruitment, run as state machines."""

__version__ = "0.1.0"
