# syntax=docker/dockerfile:1
# Slipway container image: `docker build -t slipway:local .` (needs BuildKit).
# Default command runs the HTTP API; override with `server worker`, `migrate`, `dev`.

# ---- build ------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder

RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# target/ lives in a cache mount, so the binaries are copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p slipway-cli \
 && install -D -m 0755 -t /out target/release/slipway target/release/slipway-switch

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

LABEL org.opencontainers.image.title="Slipway" \
      org.opencontainers.image.description="Slipway release manager: HTTP API server, background worker and CLI"

RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# /data is pass-through (0711): a worker running as root keeps its records and
# logs private under /data/runtime and runs each app under its own uid in
# /data/runtime/apps/<app>, which that app must be able to reach by path.
# slipway-switch, beside slipway, switches apps to their uid.
RUN groupadd --system --gid 10001 slipway \
 && useradd --system --uid 10001 --gid slipway --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin slipway \
 && install -d -o slipway -g slipway -m 0711 /data

COPY --from=builder /out/ /usr/local/bin/

ENV SLIPWAY_DATA_DIR=/data \
    SLIPWAY_LISTEN=0.0.0.0:8080

# The API runs unprivileged. `server worker` should run as root (compose sets
# `user: root`): only root can give each app its own uid; as slipway, apps
# would share the worker's user and could read each other's env and files.
USER slipway:slipway
WORKDIR /data
EXPOSE 8080

ENTRYPOINT ["/usr/local/bin/slipway"]
CMD ["server", "api"]
