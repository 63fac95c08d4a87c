# syntax=docker/dockerfile:1
# misp-connector image: a static-ish release binary on a slim Debian base, running as a non-root user.
# Build:  docker build -t misp-connector .
# Run:    docker run --rm -e MISP_URL=… -e MISP_API_KEY=… -e MISP_ORGANISATION_ID=… \
#           -e AMQP_URL=… -e AMQP_QUEUE=… misp-connector            (configuration: docs/configuration.md)

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
# The whole source tree (see .dockerignore); the registry and target caches survive between builds.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin misp-connector \
    && install -m 0755 target/release/misp-connector /usr/local/bin/misp-connector

FROM debian:bookworm-slim AS runtime
# ca-certificates: MISP over https is verified against the system roots (plus misp.ca_file).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 connector \
    && useradd --system --uid 10001 --gid connector --home-dir /nonexistent --shell /usr/sbin/nologin connector
COPY --from=builder /usr/local/bin/misp-connector /usr/local/bin/misp-connector
COPY config.yml.sample /etc/misp-connector/config.yml.sample
USER 10001:10001
# /metrics, /healthz, /readyz (connector.metrics_port)
EXPOSE 9095
# Liveness without curl: a plain HTTP/1.0 request through bash's /dev/tcp.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${CONNECTOR_METRICS_PORT:-9095} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/misp-connector"]
CMD ["run"]
