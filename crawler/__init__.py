"""crawler: archive Claude project data from the Compliance API."""

__version__ = "0.1.0"
