# syntax=docker/dockerfile:1.7
# The one `boxoffice` binary in a small image. Every service runs from it:
#   docker build -t boxoffice:0.1.0 .
#   docker run --rm -p 3000:3000 -e PORT=3000 boxoffice:0.1.0 all      # embedded mode
#   docker run --rm boxoffice:0.1.0 serve orders                        # one service (needs its settings)
# Needs BuildKit (the default builder of current Docker): the cargo registry and the
# target directory live in cache mounts, so a rebuild after a source change recompiles
# only the workspace's own crates, not the dependencies.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# The manifests first, then the sources: nothing outside the workspace is needed.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --package boxoffice --bin boxoffice \
    && install -D -m 0755 target/release/boxoffice /out/boxoffice \
    && mkdir -p /out/data

# glibc and libgcc, CA certificates, no shell; runs as uid/gid 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="boxoffice" \
      org.opencontainers.image.description="BoxOffice: a ticket marketplace. One binary, embedded or distributed." \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/boxoffice /usr/local/bin/boxoffice
# Only the embedded mode (`all`) writes here; `serve <service>` keeps nothing on disk.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/boxoffice"]
CMD ["serve", "auth"]
