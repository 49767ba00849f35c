"""authzd: a gRPC policy-decision service for API tokens."""

from importlib.metadata import PackageNotFoundError, version

# The one place the version is set is pyproject.toml; this reads the installed
# distribution's metadata (`pip install .` or `-e .` both provide it).
try:
    __version__ = version("authzd")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
