# syntax=docker/dockerfile:1
#
# The seckill service (API + background workers in one process, as `npm start`).
#
#   build    every dependency (esbuild, a dev dependency, bundles the web pages), then pruned to
#            production dependencies
#   runtime  production dependencies, the sources and web/dist only; an unprivileged user; the
#            server is PID 1 itself (exec form), so `docker stop`'s SIGTERM reaches it and it drains
#            and exits 0
#
# BASE_IMAGE: any Debian-based image with npm on PATH. The default is the official Node image.
# `make container-test` passes one it made locally (no registry is reachable there). Either way the
# server runs on the Node 24 the project itself installs from the npm registry (the `node` package:
# node_modules/.bin/node), so the base image's own node only has to be able to run npm.
ARG BASE_IMAGE=node:24-bookworm-slim

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

FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
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
EXPOSE 8080
# Liveness only (/healthz): /readyz also fails while Redis, MySQL or Kafka is down, and a restart
# would not fix those. No curl or wget in slim images; the project's node does the request.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/app/node_modules/.bin/node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT ?? 8080}/healthz`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["/app/node_modules/.bin/node", "src/cli/serve.ts"]
