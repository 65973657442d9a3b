# syntax=docker/dockerfile:1
# The taskstream image: a Rust builder stage and a distroless runtime stage
# that runs the binary as a non-root user with `static/` and `config/`.
#
#   docker build -t taskstream \
#     --build-arg SOURCE_URL="$(git remote get-url origin)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run -p 8080:8080 -v taskstream-data:/app/data taskstream

# Matches `rust-version` in Cargo.toml.
ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /build

# Dependencies first, compiled against stub sources: this layer is reused
# until Cargo.toml, Cargo.lock or .cargo/ change, so a source change rebuilds only
# taskstream itself.
COPY Cargo.toml Cargo.lock ./
# Build settings of the bundled SQLite.
COPY .cargo .cargo
RUN mkdir -p src tests/benches \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > tests/benches/api.rs \
    && echo 'fn main() {}' > tests/benches/load.rs \
    && echo 'fn main() {}' > tests/benches/quick_add.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src tests

COPY migrations migrations
COPY src src
# Newer than the stub build, so cargo rebuilds the crate from the real source.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin taskstream \
    && mkdir -p /out/data

# glibc and libgcc, no shell, uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

# Matches `version` in Cargo.toml.
ARG VERSION=0.1.0
ARG SOURCE_URL=""
ARG REVISION=""
LABEL org.opencontainers.image.title="taskstream" \
      org.opencontainers.image.description="Event-driven task manager backend: REST, WebSocket, MCP and CloudEvents over Dapr" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"

WORKDIR /app
COPY --from=builder /build/target/release/taskstream /usr/local/bin/taskstream
COPY static static
COPY config config
# The one writable path: the SQLite file of a single-container run (a
# Kubernetes deployment uses PostgreSQL and a read-only root filesystem).
COPY --from=builder --chown=65532:65532 /out/data data

# Listen on the container's interface; the binary's own default stays
# loopback. JSON log lines on stdout.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json \
    DATABASE_URL=sqlite://data/taskstream.db

USER 65532:65532
EXPOSE 8080
VOLUME ["/app/data"]
# The service drains in-flight requests and flushes pending events on SIGTERM.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/taskstream", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/taskstream"]
