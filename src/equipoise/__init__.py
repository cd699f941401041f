"""Equipoise: design, simulate, run, monitor and synthesise randomized trials from one protocol file."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("equipoise")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
