# Entry points for people and CI. npm scripts do the work; this file only orders them and makes
# sure node_modules (which also provides the Node 24 that runs the .ts files) is current.

.PHONY: deps demo test services stop

# `npm ci` only when node_modules is missing or older than the lock file: it wipes node_modules,
# so running it every time would cost a full reinstall.
deps:
	@if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci; \
	fi

# A complete, verified flash sale: the demo starts its own service instance (payment simulator on),
# runs the crowd, checks every promise of API.md against MySQL and Redis and writes reports/<time>/.
# Extra flags: make demo DEMO_ARGS="--size small".
demo: deps
	npm run services
	npm run demo -- $(DEMO_ARGS)

# Typecheck and lint before the tests, which start the services themselves (see `npm test`).
test: deps
	npm run check
	npm test

services: deps
	npm run services

stop: deps
	npm run services -- stop
