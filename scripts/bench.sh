#!/usr/bin/env bash
# scripts/bench.sh: pgbench -S -c 8 against a real PostgreSQL, in simple and prepared
# modes, direct, through hoop's tunnel and through pgbouncer (when installed), in one run;
# prints each TPS and the ratios against direct and pgbouncer.
#
#   BENCH_SECONDS=15 BENCH_CLIENTS=8 BENCH_SCALE=10 BENCH_MODES="simple prepared" scripts/bench.sh
seconds=${BENCH_SECONDS:-10}
clients=${BENCH_CLIENTS:-8}
scale=${BENCH_SCALE:-10}
HOOP_SCRIPT=bench
. "$(dirname "$0")/lib.sh"

command -v pgbench >/dev/null || die "pgbench not found: apt-get install postgresql-client"
build
start_postgres
say "pgbench -i -s $scale"
pgbench -i -q -s "$scale" -d "$DB_NAME" >/dev/null 2>&1 || die "pgbench -i failed"
psql -X -q -d "$DB_NAME" -c "grant select, update, insert on all tables in schema public to $DB_RW_USER" >/dev/null

start_gateway
headless_browser alice
hoop login --gateway "$GW" 2>/dev/null
tport=$(free_port)
connect dev-db "$tport"

# pgbouncer, session pooling, in front of the same server, as an unprivileged user.
bport=
if command -v pgbouncer >/dev/null; then
	bport=$(free_port)
	mkdir -p "$work/pgbouncer"
	printf '"%s" "%s"\n' "$DB_RW_USER" "$DB_RW_PASSWORD" >"$work/pgbouncer/userlist.txt"
	cat >"$work/pgbouncer/pgbouncer.ini" <<INI
[databases]
$DB_NAME = host=$DB_HOST port=$DB_PORT dbname=$DB_NAME
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $work/pgbouncer/userlist.txt
pool_mode = session
max_client_conn = 100
default_pool_size = $((clients + 2))
logfile = $work/pgbouncer/pgbouncer.log
pidfile = $work/pgbouncer/pgbouncer.pid
INI
	chmod -R a+rwX "$work/pgbouncer"
	as=()
	if [ "$(id -u)" = 0 ]; then
		u=postgres; id "$u" >/dev/null 2>&1 || u=nobody
		as=(runuser -u "$u" --)
	fi
	"${as[@]}" pgbouncer "$work/pgbouncer/pgbouncer.ini" >/dev/null 2>&1 &
	pids+=($!)
	wait_for pgbouncer port_open "$bport"
else
	say "pgbouncer not installed: skipping it (apt-get install pgbouncer)"
fi

run() { # run NAME MODE CONNINFO: prints the TPS
	local out
	out=$(pgbench -n -S -c "$clients" -j 2 -T "$seconds" -M "$2" "$3" 2>&1) || { echo "$out" >&2; die "pgbench $1 $2 failed"; }
	grep -q 'number of failed transactions: 0 ' <<<"$out" || { echo "$out" >&2; die "pgbench $1 $2 had failures"; }
	sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out"
}

direct="host=$DB_HOST port=$DB_PORT dbname=$DB_NAME user=$DB_RW_USER password=$DB_RW_PASSWORD sslmode=disable"
tunnel="host=127.0.0.1 port=$tport dbname=x user=alice sslmode=disable"
bouncer="host=127.0.0.1 port=$bport dbname=$DB_NAME user=$DB_RW_USER sslmode=disable"

say "pgbench -S -c $clients -j 2 -T $seconds, scale $scale, $(nproc) cores"
printf '%-9s %12s %12s %12s %10s %12s\n' mode direct hoop pgbouncer hoop/direct hoop/pgbouncer
for mode in ${BENCH_MODES:-simple prepared}; do
	d=$(run direct "$mode" "$direct")
	t=$(run hoop "$mode" "$tunnel")
	b=-
	[ -n "$bport" ] && b=$(run pgbouncer "$mode" "$bouncer")
	awk -v m="$mode" -v d="$d" -v t="$t" -v b="$b" 'BEGIN {
		rb = (b == "-") ? "-" : sprintf("%.2f", t / b)
		printf "%-9s %12.0f %12.0f %12s %10.2f %12s\n", m, d, t, b, t / d, rb
	}'
done
