# syntax=docker/dockerfile:1
#
# The seckill service (API + background workers in one process, as `npm start`).
#
#   build    every dependency (esbuild, a dev dependency, bundles the web pages), then pruned to
#            production dependencies
#   runtime  a plain Debian with production dependencies, the sources and web/dist only; one Node,
#            the project's own (the npm `node` package, node_modules/.bin/node, the version
#            package.json pins and the tests run on); an unprivileged user; the server is PID 1
#            itself (exec form), so `docker stop`'s SIGTERM reaches it and it drains and exits 0
#
# Base images are pinned by digest: the multi-platform index digests the official images
# published for these exact tags (recorded in docker-library/repo-info: node 24.18.1-bookworm-slim
# of 2026-07-30, debian bookworm-20260803-slim). A tag alone can move under a rebuild; the digest
# cannot. To move to newer ones, replace tag and digest together (`docker buildx imagetools
# inspect <image:tag>` prints the digest). Either can be overridden with --build-arg:
# `make container-test` passes images it made locally, since no registry is reachable there.
#
#   BASE_IMAGE     the build stage: any Debian-based image with npm on PATH (its own node only runs npm)
#   RUNTIME_IMAGE  the runtime stage: any Debian-based image (glibc, libstdc++); it needs no node
ARG BASE_IMAGE=node:24.18.1-bookworm-slim@sha256:235600a8101ab264e117b1768e925532262668dc9b581ef1dd7d96ced463b8e7
ARG RUNTIME_IMAGE=debian:bookworm-20260803-slim@sha256:abd67ffcfa541b485a3dff59865ab629aa048a6c613e639d36e7456b0b229241

FROM ${BASE_IMAGE} AS build
WORKDIR /app
# Dependencies in their own layer, so a source change does not reinstall them. Scripts are skipped
# in `npm ci` because the root `prepare` script (the web build) needs sources not copied yet; `npm
# rebuild` then runs only the dependencies' install scripts (the `node` package installs its binary
# there, esbuild checks its own).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild
COPY . .
# web/build.ts only warns when esbuild is missing (for `npm ci --omit=dev` checkouts); an image
# without its pages must not build, hence the stamp check.
RUN node_modules/.bin/node web/build.ts \
 && test -f web/dist/.build-stamp \
 && npm prune --omit=dev --no-audit --no-fund \
 && node_modules/.bin/node --version

FROM ${RUNTIME_IMAGE} AS runtime
# OCI image labels. VERSION follows package.json (a test checks it); REVISION (the git commit) and
# CREATED (RFC 3339) are the builder's to give, e.g. compose's SECKILL_IMAGE_REVISION and
# SECKILL_IMAGE_CREATED; left empty rather than guessed.
ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
ARG REVISION=
ARG CREATED=
LABEL org.opencontainers.image.title="seckill" \
      org.opencontainers.image.description="Flash-sale (秒杀) service: Redis gate, Kafka buffer, MySQL truth" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
# The project's node first on PATH: `docker exec … node` runs the same Node as the server.
# The production default: /metrics, /docs, the admin API and the /admin console on their own
# listener (9090), so the buyers' port (8080) answers them 404; publish 9090 to operators only.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    SECKILL_OPS_HOST=0.0.0.0 \
    SECKILL_OPS_PORT=9090 \
    PATH=/app/node_modules/.bin:$PATH
WORKDIR /app
# A fixed uid/gid, so volumes and Kubernetes securityContext can name it. The files stay owned by
# root: the server reads its sources and pages and never writes under /app.
RUN groupadd --gid 10001 seckill \
 && useradd --uid 10001 --gid seckill --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin seckill
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/src ./src
COPY --from=build /app/web ./web
USER seckill:seckill
EXPOSE 8080 9090
# Liveness only (/healthz): /readyz also fails while Redis, MySQL or Kafka is down, and a restart
# would not fix those. No curl or wget in slim images; the project's node does the request.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/app/node_modules/.bin/node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT ?? 8080}/healthz`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["/app/node_modules/.bin/node", "src/cli/serve.ts"]
