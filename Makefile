# Entry points for people and CI. npm scripts do the work; this file only orders them and makes
# sure node_modules (which also provides the Node 24 that runs the .ts files) is current.

.PHONY: deps demo test services stop

# `npm ci` only when node_modules is missing or older than the lock file: it wipes node_modules,
# so running it every time would cost a full reinstall.
deps:
	@if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci; \
	fi

# For now: the services, then the app in the foreground. A later issue replaces this with a full demo.
demo: deps
	npm run services
	npm start

# Typecheck and lint before the tests, which start the services themselves (see `npm test`).
test: deps
	npm run check
	npm test

services: deps
	npm run services

stop: deps
	npm run services -- stop
