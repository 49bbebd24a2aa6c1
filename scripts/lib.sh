# Shared by demo.sh and bench.sh: build the binaries, start a throwaway PostgreSQL and a
# hoopd --dev, log in and connect. Source it; it sets $work, $bin and cleans up on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hoop-${HOOP_SCRIPT:-script}.XXXXXX")
chmod 755 "$work"
bin="$work/bin"
pids=()

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

cleanup() {
	local p
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		p=${pids[i]}
		kill -TERM "$p" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

wait_for() { # wait_for DESCRIPTION COMMAND...: up to 30 s
	local what=$1; shift
	for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	die "timed out waiting for $what"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

build() {
	say "building hoop, hoopd and the helpers into $bin"
	(cd "$root" &&
		CGO_ENABLED=0 go build -o "$bin/hoop" ./cmd/hoop &&
		go build -o "$bin/hoopd" ./cmd/hoopd &&
		go build -o "$bin/pgtmp" ./scripts/pgtmp &&
		go build -o "$bin/devbrowser" ./scripts/devbrowser)
	export PATH="$bin:$PATH"
}

start_postgres() { # a throwaway PostgreSQL with the sample database app
	say "starting a throwaway PostgreSQL"
	"$bin/pgtmp" -dir "$work/pg" -app -env "$work/pg.env" >/dev/null 2>"$work/pgtmp.log" &
	pids+=($!)
	wait_for PostgreSQL test -s "$work/pg.env"
	# shellcheck disable=SC1091
	. "$work/pg.env"
}

start_gateway() { # start_gateway [NAME [FLAG...]]: hoopd --dev on a free loopback port; sets $GW
	local port name=${1:-hoopd}
	shift || true
	port=$(free_port)
	export HOOP_LISTEN="127.0.0.1:$port" HOOP_PUBLIC_URL="http://127.0.0.1:$port"
	export GW="$HOOP_PUBLIC_URL"
	export DB_USER="${DB_USER:-$DB_RW_USER}" DB_PASSWORD="${DB_PASSWORD:-$DB_RW_PASSWORD}"
	say "starting $name: hoopd --dev $* at $GW (log: $work/$name.log)"
	hoopd --dev --data-dir "$work/$name-data" ${HOOPD_FLAGS:-} "$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
	local pid=$!
	for _ in $(seq 300); do
		curl_ok "$GW/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; die "hoopd exited"; }
		sleep 0.1
	done
	die "timed out waiting for hoopd"
}

curl_ok() {
	if command -v curl >/dev/null; then curl -fsS "$1"; else port_open "${HOOP_LISTEN##*:}"; fi
}

# The CLI keeps its tokens in the demo's own dir, not in your keyring.
export HOOP_CONFIG_DIR="$work/hoop-config" HOOP_KEYRING=file

headless_browser() { # make pkg/browser's xdg-open log in as $1 without a person
	mkdir -p "$work/browser"
	ln -sf "$bin/devbrowser" "$work/browser/xdg-open"
	export PATH="$work/browser:$PATH" HOOP_DEV_USER="$1" HOOP_DEV_PASSWORD="$1-dev"
}

connect() { # connect NAME PORT: hoop connect to $GW in the background
	say "hoop connect $1 --port $2 (gateway $GW)"
	hoop ${HOOP_FLAGS:-} --gateway "$GW" connect "$1" --port "$2" >"$work/connect-$2.out" 2>"$work/connect-$2.err" &
	pids+=($!)
	wait_for "hoop connect" port_open "$2"
}
