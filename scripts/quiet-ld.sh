#!/bin/sh
# quiet-ld.sh COMMAND...: runs a link command and passes its standard
# error through, less glibc's note about name lookups in static programs
# (the Makefile says where it comes from and why it is harmless here):
# that note and the "in function" line that introduces it, nothing else.
# The exit status is the command's.
err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT
trap 'exit 1' HUP INT TERM

"$@" 2>"$err"
rc=$?
awk '
/warning: Using .(gethostbyname|getaddrinfo). in statically linked applications requires at runtime the shared libraries from the glibc version used for linking$/ {
	held = ""
	next
}
held != "" { print held; held = "" }
/: in function .*:$/ { held = $0; next }
{ print }
END { if (held != "") print held }
' "$err" >&2 || cat "$err" >&2
exit "$rc"
