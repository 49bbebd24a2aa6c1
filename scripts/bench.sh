#!/usr/bin/env bash
# scripts/bench.sh: pgbench -S -c 8 against a real PostgreSQL, in simple and prepared
# modes, direct, through hoop's tunnel with statement policy, masking and recording (hoop),
# the same without recording (hoop-norec), without statement policy (hoop-nopol), and
# through pgbouncer (when installed), in one run; prints each TPS, the ratios, and the CPU
# time the proxy in each path spent per transaction.
#
# Then what recording costs, in BENCH_PAIRS back-to-back pairs of hoop and hoop-norec.
#
#   BENCH_SECONDS=15 BENCH_CLIENTS=8 BENCH_SCALE=10 BENCH_MODES="simple prepared" BENCH_PAIRS=3 scripts/bench.sh
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

headless_browser alice
start_gateway hoopd
hoop login --gateway "$GW" 2>/dev/null
tport=$(free_port)
connect dev-db "$tport"
hoop_pids="${pids[*]: -2}" # hoopd and hoop connect
start_gateway hoopd-nopolicy --bench-no-statement-policy --bench-no-recording
hoop login --gateway "$GW" 2>/dev/null
nport=$(free_port)
connect dev-db "$nport"
nopolicy_pids="${pids[*]: -2}"
start_gateway hoopd-norec --bench-no-recording
hoop login --gateway "$GW" 2>/dev/null
rport=$(free_port)
connect dev-db "$rport"
norec_pids="${pids[*]: -2}"

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
	if [ "$(id -u)" = 0 ]; then # pgbouncer refuses to run as root
		u=postgres; id "$u" >/dev/null 2>&1 || u=nobody
		as=(setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups)
	fi
	"${as[@]}" pgbouncer "$work/pgbouncer/pgbouncer.ini" >/dev/null 2>&1 &
	pids+=($!)
	bouncer_pid=$!
	wait_for pgbouncer port_open "$bport"
else
	say "pgbouncer not installed: skipping it (apt-get install pgbouncer)"
fi

cpu_ticks() { # cpu_ticks PID...: user+system clock ticks the processes have used
	local t=0 p
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}

run() { # run NAME MODE CONNINFO [PID...]: prints the TPS and the PIDs' CPU µs per transaction
	local out before after tps txns
	before=$(cpu_ticks "${@:4}")
	out=$(pgbench -n -S -c "$clients" -j 2 -T "$seconds" -M "$2" "$3" 2>&1) || { echo "$out" >&2; die "pgbench $1 $2 failed"; }
	after=$(cpu_ticks "${@:4}")
	grep -q 'number of failed transactions: 0 ' <<<"$out" || { echo "$out" >&2; die "pgbench $1 $2 had failures"; }
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
	txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	awk -v tps="$tps" -v d="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$txns" 'BEGIN { printf "%s %.1f\n", tps, d / hz * 1e6 / n }'
}

direct="host=$DB_HOST port=$DB_PORT dbname=$DB_NAME user=$DB_RW_USER password=$DB_RW_PASSWORD sslmode=disable"
tunnel="host=127.0.0.1 port=$tport dbname=x user=alice sslmode=disable"
nopolicy="host=127.0.0.1 port=$nport dbname=x user=alice sslmode=disable"
norec="host=127.0.0.1 port=$rport dbname=x user=alice sslmode=disable"
bouncer="host=127.0.0.1 port=$bport dbname=$DB_NAME user=$DB_RW_USER sslmode=disable"

say "pgbench -S -c $clients -j 2 -T $seconds, scale $scale, $(nproc) cores"
# TPS of each path, the ratios, and the CPU time the proxy in the path spent per
# transaction (hoop: hoopd plus hoop connect; pgbouncer: pgbouncer).
printf '%-9s %8s %8s %10s %10s %10s %8s %8s %9s %8s %10s %10s %10s\n' mode direct hoop hoop-norec hoop-nopol pgbouncer \
	hoop/dir hoop/pgb rec/norec pol/nopol "hoop µs/tx" "nopol µs/tx" "pgb µs/tx"
for mode in ${BENCH_MODES:-simple prepared}; do
	read -r d _ <<<"$(run direct "$mode" "$direct")"
	# shellcheck disable=SC2086
	read -r t tc <<<"$(run hoop "$mode" "$tunnel" $hoop_pids)"
	# shellcheck disable=SC2086
	read -r n nc <<<"$(run hoop-nopolicy "$mode" "$nopolicy" $nopolicy_pids)"
	# shellcheck disable=SC2086
	read -r r _ <<<"$(run hoop-norec "$mode" "$norec" $norec_pids)"
	b=- bc=-
	[ -n "$bport" ] && read -r b bc <<<"$(run pgbouncer "$mode" "$bouncer" "$bouncer_pid")"
	awk -v m="$mode" -v d="$d" -v t="$t" -v r="$r" -v n="$n" -v b="$b" -v tc="$tc" -v nc="$nc" -v bc="$bc" 'BEGIN {
		rb = (b == "-") ? "-" : sprintf("%.2f", t / b)
		bb = (b == "-") ? "-" : sprintf("%.0f", b)
		printf "%-9s %8.0f %8.0f %10.0f %10.0f %10s %8.2f %8s %9.2f %8.2f %10s %10s %10s\n", m, d, t, r, n, bb, t / d, rb, t / r, r / n, tc, nc, bc
	}'
done

# What recording costs, in pairs: hoop, then hoop-norec right after, BENCH_PAIRS times per
# mode. A shared machine's load changes from one run to the next; in a pair, it hits both
# sides about alike, and the median of the pairs' ratios is the figure.
pairs=${BENCH_PAIRS:-3}
say "recording: $pairs pairs of hoop and hoop-norec per mode, pgbench -S -c $clients -T $seconds"
printf '%-9s %s\n' mode "rec/norec of each pair (hoop TPS / hoop-norec TPS), then the median"
for mode in ${BENCH_MODES:-simple prepared}; do
	line="" ratios=""
	for _ in $(seq "$pairs"); do
		# shellcheck disable=SC2086
		read -r t _ <<<"$(run hoop "$mode" "$tunnel" $hoop_pids)"
		# shellcheck disable=SC2086
		read -r r _ <<<"$(run hoop-norec "$mode" "$norec" $norec_pids)"
		q=$(awk -v t="$t" -v r="$r" 'BEGIN { printf "%.2f", t / r }')
		line+=$(printf ' %s (%.0f/%.0f)' "$q" "$t" "$r")
		ratios+="$q "
	done
	median=$(tr ' ' '\n' <<<"$ratios" | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	printf '%-9s%s  median %s\n' "$mode" "$line" "$median"
done

# A bulk read: 1,000,000 rows of about 100 bytes of clean text, direct, through the tunnel,
# and through the tunnel with statement policy and masking (the dev policy masks every
# detector for alice), timed with psql writing unaligned rows to /dev/null.
bulk="select g, md5(g::text) || md5((g + 1)::text) || repeat('x', 30) as t from generate_series(1, ${BENCH_ROWS:-1000000}) g"
timed() { # timed CONNINFO: seconds for the bulk read
	local start end
	start=$(date +%s.%N)
	psql -X -q -A -t -o /dev/null -c "$bulk" "$1" || die "bulk read failed"
	end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }'
}
say "bulk read: ${BENCH_ROWS:-1000000} rows of ~100 bytes"
bd=$(timed "$direct")
bt=$(timed "$nopolicy")
bm=$(timed "$tunnel")
awk -v d="$bd" -v t="$bt" -v m="$bm" 'BEGIN {
	printf "%-22s %8s %8s\n", "bulk read", "seconds", "x direct"
	printf "%-22s %8.2f %8.2f\n", "direct", d, 1
	printf "%-22s %8.2f %8.2f\n", "tunnel", t, t / d
	printf "%-22s %8.2f %8.2f\n", "tunnel + masking", m, m / d
}'
