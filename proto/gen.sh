#!/usr/bin/env bash
# Regenerates the TypeScript types in src/gen from proto/relay/v1/relay.proto
# with @grpc/proto-loader's generator, then adds the .ts extensions Deno needs.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf src/gen
deno run --allow-read --allow-write --allow-env \
  npm:@grpc/proto-loader/build/bin/proto-loader-gen-types.js \
  --keepCase --longs=Number --enums=String --defaults --oneofs \
  --grpcLib=@grpc/grpc-js --outDir=src/gen proto/relay/v1/relay.proto
find src/gen -name '*.ts' -exec sed -i -E "s#(from ['\"]\.[^'\"]+)(['\"])#\1.ts\2#" {} +
deno fmt --quiet src/gen
