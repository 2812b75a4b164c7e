"""metabase-guard: Metabase health-check questions, goal lines and alerts as code."""

from metabase_guard._version import __version__

__all__ = ["__version__"]
