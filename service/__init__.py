"""authzd: a gRPC policy-decision service for API tokens."""

__version__ = "0.1.0"
