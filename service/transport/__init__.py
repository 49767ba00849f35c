"""gRPC transport: servicers that convert proto <-> domain and call the use cases."""
