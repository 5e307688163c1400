# syntax=docker/dockerfile:1
#
# Build:  docker build -t grpc-relay .
# Run:    docker run -p 50051:50051 -p 50052:50052/udp -p 8080:8080 -v relay-state:/var/lib/relay grpc-relay
#
# `deno compile` downloads the runtime it embeds (denort) from dl.deno.land.
# Without network access, put an unzipped denort 2.9.6 for the target
# platform at ./denort in the build context and build with
#   docker build --build-arg DENORT_BIN=/app/denort -t grpc-relay .

ARG DENO_VERSION=2.9.6

# ---- build: install npm dependencies and compile one binary ----------------
FROM denoland/deno:${DENO_VERSION} AS build
USER root
WORKDIR /app

# Path of a local denort inside this stage (optional, see above).
ARG DENORT_BIN=""

# `denort*` matches nothing in a normal build; deno.json keeps the COPY valid.
COPY deno.json deno.lock denort* ./
RUN deno install --frozen

COPY proto/ proto/
COPY src/ src/
COPY transports/ transports/

# --include: transports/grpc/relay_proto.ts reads proto/relay/v1/relay.proto
#   at run time (import.meta.url), so the file must be embedded explicitly;
#   so do the WebTransport demo routes (transports/quic/browser_routes.ts):
#   the page and browser client in transports/quic/browser/, and the
#   protobufjs browser build and @hpke/core and @hpke/common ES modules they
#   serve (transports/quic/browser_packages.ts); and the operator console's
#   page (src/console/static/, served by src/console/static_files.ts).
# --exclude: npm:bintrees (prom-client -> tdigest -> bintrees) ships a 2 MB
#   test fixture that makes `deno compile` 2.9.6 overflow its stack.
RUN if [ -n "${DENORT_BIN}" ]; then export DENORT_BIN; else unset DENORT_BIN; fi \
 && deno compile --allow-all --unstable-net \
      --include proto/relay/v1/relay.proto \
      --include transports/quic/browser/ \
      --include src/console/static/ \
      --include node_modules/.deno/protobufjs@7.6.6/node_modules/protobufjs/dist/protobuf.min.js \
      --include node_modules/.deno/@hpke+core@1.9.0/node_modules/@hpke/core/esm/ \
      --include node_modules/.deno/@hpke+common@1.10.1/node_modules/@hpke/common/esm/ \
      --exclude node_modules/.deno/bintrees@1.0.2/node_modules/bintrees/test \
      --exclude node_modules/.deno/playwright-core@1.65.1 \
      --output dist/relay src/main.ts \
 && ./dist/relay ctl ls --insecure-plaintext --relay 127.0.0.1:1 --token smoke 2>&1 \
      | grep -q 'error: UNAVAILABLE'
# ^ smoke test: loads the embedded proto, then fails to connect (as it should).

# ---- runtime: the binary, the example config and a state volume ------------
FROM debian:bookworm-slim AS runtime

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/relay \
      --shell /usr/sbin/nologin relay \
 && mkdir -p /var/lib/relay /etc/relay \
 && chown relay:relay /var/lib/relay \
 && chmod 0700 /var/lib/relay

COPY --from=build /app/dist/relay /usr/local/bin/relay
COPY deploy/relay.yaml /etc/relay/relay.yaml

# The CLI inside the container (`docker exec <c> relay ctl ls`) finds
# admin.token and ca.pem here.
ENV RELAY_STATE_DIR=/var/lib/relay

USER relay
WORKDIR /var/lib/relay
VOLUME ["/var/lib/relay"]

# 50051: HTTP/2 gRPC (TLS); 50052/udp: QUIC and WebTransport; 8080: /health and /metrics.
EXPOSE 50051 50052/udp 8080
STOPSIGNAL SIGTERM

ENTRYPOINT ["/usr/local/bin/relay"]
CMD ["serve", "--config", "/etc/relay/relay.yaml", "--state-dir", "/var/lib/relay"]
