# shellcheck shell=bash
# Shell helpers shared by tests/servers_test.sh, tests/suexec_test.sh and
# bench/run.sh (bash).  Sourced, never run.

# Nothing of a web server's or of a configuration in our own environment:
# the binary would take it for a CGI request, or for key overrides.
clean_environment() {
	local v
	unset GATEWAY_INTERFACE REQUEST_METHOD
	for v in $(env | sed -n 's/^\(MMOLOVE_[A-Za-z0-9_]*\)=.*/\1/p'); do
		unset "$v"
	done
}

# A TCP port free on 127.0.0.1 right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL: polls until something answers HTTP (any status), for at
# most about 10 s.
wait_http() {
	local tries=0 code
	while [ "$tries" -lt 200 ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")
		[ "$code" != 000 ] && return 0
		tries=$((tries + 1))
		sleep 0.05
	done
	return 1
}
