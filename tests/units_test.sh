#!/bin/bash
# The systemd units in scripts/ (INSTALL 4, 5 and 11), as `make install`
# writes them, pass `systemd-analyze verify` with nothing to say: no
# unknown key, a bad value or a command that is not there.  systemd need
# not run: verify reads the files offline.  It checks that ExecStart's
# programs exist, so the units are installed under a temporary DESTDIR
# and that directory is put in front of their paths.
#
#   bash tests/units_test.sh
set -u
cd "$(dirname "$0")/.." || exit 1

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+ ($2)}"; }
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for c in systemd-analyze spawn-fcgi multiwatch; do
	command -v "$c" >/dev/null ||
	    { not_ok "prerequisites" "$c missing: make deps"; finish; }
done
if ! make -s install DESTDIR="$T/root" >"$T/install.out" 2>&1; then
	not_ok "make install" "$(tail -n 3 "$T/install.out")"
	finish
fi
units="mmolove-fcgi.service mmolove-drain.service mmolove-drain.timer"
dir="$T/root/usr/local/share/mmolove/systemd"
mkdir "$T/units"
for u in $units; do
	if [ ! -f "$dir/$u" ]; then
		not_ok "$u installed" "not in $dir"
		continue
	fi
	if grep -q '@[A-Z_]*@' "$dir/$u"; then
		not_ok "$u: paths filled in" "$(grep '@[A-Z_]*@' "$dir/$u")"
		continue
	fi
	sed -e "s|/usr/local/bin/|$T/root/usr/local/bin/|g" "$dir/$u" \
	    >"$T/units/$u"
done

# A unit verify must refuse, so that a silent verify means something.
printf '[Service]\nExecStart=/nonexistent/mmolove.cgi\n' >"$T/units/bad.service"
if systemd-analyze verify "$T/units/bad.service" >/dev/null 2>&1; then
	not_ok "verify refuses a missing ExecStart program"
else
	ok "verify refuses a missing ExecStart program"
fi
rm -f "$T/units/bad.service"

for u in $units; do
	[ -f "$T/units/$u" ] || continue
	out=$(cd "$T/units" && systemd-analyze verify "./$u" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify $u"
	else
		not_ok "systemd-analyze verify $u" "exit $rc: $out"
	fi
done

# The service's command line is the one tests/fastcgi_test.py runs
# (supervised_workers_restart): keep them in step.
if grep -q '^ExecStart=/usr/bin/spawn-fcgi -n .*-- /usr/bin/multiwatch -f 4 -s TERM -- ' \
    "$dir/mmolove-fcgi.service" &&
    grep -q '"spawn-fcgi", "-n"' tests/fastcgi_test.py &&
    grep -q '"-s",$' tests/fastcgi_test.py; then
	ok "mmolove-fcgi.service runs spawn-fcgi -n -- multiwatch -f 4 -s TERM"
else
	not_ok "mmolove-fcgi.service runs spawn-fcgi -n -- multiwatch -f 4 -s TERM"
fi
finish
