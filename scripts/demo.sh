#!/usr/bin/env bash
# make demo: a throwaway PostgreSQL with sample data, hoopd --dev, hoop login, hoop connect,
# and a query through the gateway. --check runs it without a person (a headless stand-in
# logs in as alice) and exits non-zero if anything is off.
check=0
[ "${1:-}" = "--check" ] && check=1
HOOP_SCRIPT=demo
. "$(dirname "$0")/lib.sh"

build
start_postgres
start_gateway

if ((check)); then
	headless_browser alice
else
	say "log in as alice (password alice-dev) in the browser that opens"
fi
say "hoop login --gateway $GW"
hoop login --gateway "$GW"
say "hoop whoami"
hoop whoami
say "hoop connections"
hoop connections

port=$(free_port)
connect dev-db "$port"
cat "$work/connect-$port.out"
url="postgresql://alice@127.0.0.1:$port/dev-db?sslmode=disable"

say "psql through the gateway: who the database sees, and some sample rows (e-mails masked for alice)"
out=$(psql -X "$url" -c "select current_user as database_role, application_name from pg_stat_activity where pid = pg_backend_pid()" \
	-c "select id, name, email from customers order by id limit 5")
echo "$out"

if ((check)); then
	grep -q "psql (hoop:\*\*\*@example.com)" <<<"$out" || die "the session is not tagged with alice's identity, masked"
	grep -q "@example" <<<"$out" && ! grep -q "james.okafor@" <<<"$out" || die "e-mails are not masked"
	grep -q "(5 rows)" <<<"$out" || die "the sample query did not return 5 rows"
	say "demo check passed"
	exit 0
fi
say "the tunnel stays open: try  psql \"$url\"  in another terminal. Ctrl-C ends the demo."
while sleep 3600; do :; done
