"""Generated protobuf and gRPC modules for Diego's Locket API; regenerate with locket/proto/regenerate.sh."""
