"""fmreview: a living systematic review and meta-analysis engine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fmreview")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
