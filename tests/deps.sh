#!/bin/sh
# Installs the Debian packages that building and testing need, when they
# are missing.  Run by `make test` (and `make demo`): a fresh machine has
# nothing of ours installed.
set -eu

packages="make gcc clang libclang-rt-14-dev libssl-dev libfcgi-dev
libjsmn-dev libcmocka-dev openssl sqlite3 jq python3 curl lighttpd
spawn-fcgi multiwatch $*"

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: install them (sudo apt-get install -y$missing) and retry" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
