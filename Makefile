# Entry points for people and CI. npm scripts do the work; this file only orders them and makes
# sure node_modules (which also provides the Node 24 that runs the .ts files) is current.

.PHONY: deps promtool demo test services stop container-test

# `npm ci` only when node_modules is missing or older than the lock file: it wipes node_modules,
# so running it every time would cost a full reinstall.
deps:
	@if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci; \
	fi

# promtool (Debian's prometheus package; its server is never started) checks /metrics and the
# alert and recording rules in test/ops/.
promtool:
	@deploy/ensure-promtool.sh

# A complete, verified flash sale: the demo starts its own service instance (payment simulator on),
# runs the crowd, checks every promise of docs/api.md against MySQL and Redis and writes reports/<time>/.
# Extra flags: make demo DEMO_ARGS="--size small".
demo: deps
	npm run services
	npm run demo -- $(DEMO_ARGS)

# Typecheck and lint before the tests, which start the services themselves (see `npm test`).
test: deps promtool
	npm run check
	npm test

services: deps
	npm run services

# Both topologies: `npm test` starts the cluster one too. Each stops only what it started.
stop: deps
	npm run services -- stop --topology cluster
	npm run services -- stop

# Opt-in, not part of `make test`: builds the Dockerfile with podman (installed from Debian's
# packages if missing; the base image is made locally with debootstrap, cached in .local/container/),
# runs it against the local services, makes one purchase and checks SIGTERM stops it with exit 0.
container-test: deps
	npm run services
	node_modules/.bin/node src/cli/container-test.ts $(CONTAINER_TEST_ARGS)
