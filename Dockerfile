# Patron node image: a release build of `patron` on Debian bookworm-slim.
#
#   docker build -t patron \
#     --build-arg PATRON_GIT_COMMIT="$(git rev-parse --short=12 HEAD)" .
#   docker run -d --name patron -p 8080:8080 -v patron-data:/var/lib/patron patron
#
# Needs BuildKit (the default builder since Docker 23; DOCKER_BUILDKIT=1 on
# 18.09-22.x) for the cache mounts below. No `# syntax=` line on purpose: the
# builtin Dockerfile frontend is enough, and a syntax line would pull
# docker/dockerfile from Docker Hub on every build.
#
# The base images are arguments so an offline CI can substitute local copies;
# by default they are the official ones.
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- builder -----------------------------------------------------------------
# rust:1-bookworm has Rust >= 1.85 (the workspace's rust-version), gcc for the
# bundled SQLite, and the same glibc as the runtime stage.
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
# .git is not in the build context (.dockerignore), so build.rs cannot ask git;
# pass the commit instead. Build args are in the environment of RUN, where
# build.rs reads PATRON_GIT_COMMIT (empty means "ask git", i.e. "unknown" here).
ARG PATRON_GIT_COMMIT=
COPY . .
# The crate registry and target/ live in BuildKit cache mounts, so a rebuild
# after a source change recompiles the workspace crates only. target/ is not
# part of the image, hence the copy out in the same step. The release profile's
# line tables (debug = "line-tables-only") make a 132 MB binary; the image gets
# it without them (29 MB), keeping the symbols so a backtrace still names
# functions.
RUN --mount=type=cache,id=patron-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=patron-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=patron-target,sharing=locked,target=/src/target \
    cargo build --release --locked -p patron-server \
 && mkdir -p /out \
 && objcopy --strip-debug target/release/patron /out/patron && chmod 0755 /out/patron \
 && /out/patron --version

# --- runtime -----------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
# ca-certificates only: TLS is rustls (no OpenSSL), SQLite is compiled in, and
# the binary needs nothing else beyond glibc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 patron \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/patron \
      --no-create-home --shell /usr/sbin/nologin patron \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/patron
COPY --from=builder /out/patron /usr/local/bin/patron
# Logs as JSON lines on stdout for `docker logs` and log shippers.
ENV PATRON_LOG_FORMAT=json
# Numeric so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /var/lib/patron
# The node's database. A new named volume takes this directory's owner (10001);
# a bind mount must be owned by uid 10001 on the host.
VOLUME /var/lib/patron
EXPOSE 8080
# SIGTERM drains in-flight requests and exits 0; `docker stop -t 30` gives it
# the same 30 s as the systemd unit.
STOPSIGNAL SIGTERM
# No curl in the image: the binary checks itself. Port 8080 as in CMD below.
# Liveness, not readiness: a store whose HQ is away, or a full disk, turns
# /readyz red, and restarting the container would cure neither.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["patron", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["patron"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data", "/var/lib/patron"]
