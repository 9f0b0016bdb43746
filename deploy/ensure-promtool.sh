#!/bin/sh
# promtool (from Debian's `prometheus` package) checks the whole /metrics output and the rules in
# deploy/prometheus/ in the tests (test/ops/). Installs it when missing; the package's server is
# never started: only its promtool binary is wanted.
set -eu
command -v promtool >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "promtool is missing: install Debian's prometheus package (sudo apt-get install prometheus)" >&2
  exit 1
fi
# policy-rc.d exit 101 = "do not start services" for the package's maintainer scripts.
created=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  created=1
fi
trap 'if [ -n "$created" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends prometheus || { apt-get update && apt-get install -y --no-install-recommends prometheus; }
command -v promtool >/dev/null
