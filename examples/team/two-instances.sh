#!/usr/bin/env bash
# Team mode on one machine: one PostgreSQL database, two `devtrack serve` instances sharing it,
# and the sandbox's emulators standing in for the team's accounts (so it runs with no account).
#
#   examples/team/two-instances.sh           # runs until Ctrl-C; open both URLs it prints
#   examples/team/two-instances.sh --check   # starts everything, checks both instances serve the
#                                            # same data and only one polls, then stops (exit 0/1)
#
# Needs: devtrack installed with its extras (pip install 'devtrack[postgres,sandbox]'), and the
# PostgreSQL server programs initdb and pg_ctl (Debian: apt-get install postgresql).
# Set DEVTRACK_STORE_URL to use a database you already have instead of a throw-away one.
set -euo pipefail

check=0
[ "${1:-}" = "--check" ] && check=1
work=$(mktemp -d "${TMPDIR:-/tmp}/devtrack-team.XXXXXX")
chmod 755 "$work"
pids=()
pg_ctl_cmd=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ ${#pg_ctl_cmd[@]} -gt 0 ]; then "${pg_ctl_cmd[@]}" stop -m fast >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The Python devtrack runs on (it has psycopg), for the small helpers below.
py=$(head -1 "$(command -v devtrack)" | sed -n 's/^#!//p')
[ -x "${py%% *}" ] || py=python3
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $*" >&2; return 1; }
    sleep 0.3
  done
}

# 1. The database (a throw-away server in $work unless DEVTRACK_STORE_URL is set).
if [ -z "${DEVTRACK_STORE_URL:-}" ]; then
  bin=$(dirname "$(readlink -f "$(command -v pg_ctl || ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")")
  [ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed: apt-get install postgresql" >&2; exit 2; }
  as=()
  if [ "$(id -u)" = 0 ]; then  # initdb refuses root: the server runs as the postgres account
    as=(runuser -u postgres --)
    chown postgres "$work"
  fi
  pgport=$(free_port)
  "${as[@]}" "$bin/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null
  pg_ctl_cmd=("${as[@]}" "$bin/pg_ctl" -D "$work/pg" -l "$work/pg.log")
  "${pg_ctl_cmd[@]}" -o "-p $pgport -k $work -c listen_addresses=127.0.0.1" -w start >/dev/null
  "$bin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres devtrack
  export DEVTRACK_STORE_URL="postgresql://postgres@127.0.0.1:$pgport/devtrack"
fi

# 2. The team's accounts: here the sandbox, which writes one credentials file both instances use.
devtrack sandbox --env-file "$work/sandbox.env" >"$work/sandbox.log" 2>&1 &
pids+=($!)
wait_for 60 test -s "$work/sandbox.env"
set -a; . "$work/sandbox.env"; set +a

# 3. Two instances: the same credentials file, the same database, the same access token.
export DEVTRACK_ACCESS_TOKEN=${DEVTRACK_ACCESS_TOKEN:-$($py -c 'import secrets; print(secrets.token_hex(24))')}
export DEVTRACK_REFRESH_VERCEL=${DEVTRACK_REFRESH_VERCEL:-5}
ports=()
for name in a b; do
  port=$(free_port)
  ports+=("$port")
  devtrack serve --port "$port" >"$work/serve-$name.log" 2>&1 &
  pids+=($!)
done
for port in "${ports[@]}"; do
  wait_for 60 curl -fsS -H "Authorization: Bearer $DEVTRACK_ACCESS_TOKEN" "http://127.0.0.1:$port/api/v1/views/dashboard"
done

echo "database: ${DEVTRACK_STORE_URL%%@*}@… (one for both)"
for port in "${ports[@]}"; do echo "instance: http://127.0.0.1:$port/   (token: \$DEVTRACK_ACCESS_TOKEN)"; done

if [ $check = 0 ]; then
  echo "press Ctrl-C to stop"
  wait "${pids[-1]}"
  exit 0
fi

# --check: both instances show the same Vercel data, and Vercel's emulator was polled by one.
$py - "${ports[@]}" <<'EOF'
import json, os, sys, time, urllib.request

token = os.environ["DEVTRACK_ACCESS_TOKEN"]
def get(url, auth=True):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if auth else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())

def vercel(port):
    cards = get(f"http://127.0.0.1:{port}/api/v1/views/dashboard")["cards"]
    card = next((c for c in cards if c["id"] == "vercel"), None)
    return None if card is None or not card["last_refresh"] else (card["last_refresh"], card["metrics"])

deadline = time.time() + 90
while time.time() < deadline:
    seen = [vercel(p) for p in sys.argv[1:]]
    if seen[0] is not None and seen[0] == seen[1]:
        break
    time.sleep(0.5)
else:
    sys.exit("the two instances did not show the same Vercel data within 90 s")
base = os.environ["DEVTRACK_VERCEL_BASE_URL"].rstrip("/")
t0 = time.time()
time.sleep(16)  # three intervals of 5 s and more
import psycopg
with psycopg.connect(os.environ["DEVTRACK_STORE_URL"]) as db:
    fetches = db.execute("SELECT COUNT(*) FROM snapshots WHERE plugin = 'vercel' AND fetched_at >= %s",
                         (t0,)).fetchone()[0]
calls = [r for r in get(base + "/__sandbox/requests", auth=False)["requests"] if r["time"] >= t0]
print(f"in 16 s, two instances, Vercel every 5 s: {fetches} fetches, {len(calls)} requests to Vercel's emulator")
sys.exit(0 if 2 <= fetches <= 4 else f"expected one poller (3 fetches, give or take one), got {fetches}")
EOF
echo "ok: both instances serve the same data; one of them polls"
