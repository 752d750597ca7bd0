#!/usr/bin/env bash
# DNS health demo: serve data/dns-demo/ zones with NSD on a free loopback port, check the inventory
# twice (an earlier state, then today's, so `dns diff` has history), store observations in DB, stop NSD.
#
#   scripts/demo_dns.sh DB            (called by scripts/demo.sh; needs /usr/sbin/nsd)
set -euo pipefail

DB=${1:?usage: scripts/demo_dns.sh DB}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
NSD=${NSD_BINARY:-/usr/sbin/nsd}
INVENTORY=${DEMO_INVENTORY:-$ROOT/data/inventory.toml}
if [ ! -x "$NSD" ]; then
    echo "demo_dns: $NSD not found (install Debian package nsd: scripts/install-system-deps.sh)" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dns-demo.XXXXXX")
NSD_PID=""
cleanup() {
    if [ -n "$NSD_PID" ] && kill -0 "$NSD_PID" 2>/dev/null; then
        kill "$NSD_PID" 2>/dev/null || true
        wait "$NSD_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$("$PY" - <<'EOF'
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        t.close(); u.close()
    print(port); break
EOF
)

write_conf() {
    {
        echo "server:"
        echo "  ip-address: 127.0.0.1@$PORT"
        echo '  username: ""'
        echo '  chroot: ""'
        echo '  database: ""'
        echo "  zonesdir: \"$WORK\""
        echo "  pidfile: \"$WORK/nsd.pid\""
        echo "  xfrdfile: \"$WORK/xfrd.state\""
        echo "  zonelistfile: \"$WORK/zone.list\""
        echo "  logfile: \"$WORK/nsd.log\""
        echo "  server-count: 1"
        echo "  hide-version: yes"
        echo "remote-control:"
        echo "  control-enable: no"
        for f in "$WORK"/*.zone; do
            z=$(basename "$f" .zone)
            echo "zone:"
            echo "  name: \"$z\""
            echo "  zonefile: \"$z.zone\""
        done
    } >"$WORK/nsd.conf"
}

# serve STATE: today's zones, with data/dns-demo/<STATE>/ files replacing some of them.
serve() {
    local state=$1
    if [ -n "$NSD_PID" ]; then
        kill "$NSD_PID" 2>/dev/null || true
        wait "$NSD_PID" 2>/dev/null || true
        NSD_PID=""
    fi
    cp "$ROOT"/data/dns-demo/zones/*.zone "$WORK"/
    if [ "$state" != zones ]; then
        cp "$ROOT"/data/dns-demo/"$state"/*.zone "$WORK"/
    fi
    write_conf
    "$NSD" -d -c "$WORK/nsd.conf" >/dev/null 2>&1 &
    NSD_PID=$!
    "$PY" - "$PORT" <<'EOF'
import sys, time
import dns.message, dns.query
port = int(sys.argv[1])
deadline = time.monotonic() + 10
while True:
    try:
        r = dns.query.udp(dns.message.make_query("relay.example.", "SOA"), "127.0.0.1", port=port, timeout=0.3)
        if r.answer:
            break
    except Exception:
        pass
    if time.monotonic() > deadline:
        sys.exit("demo_dns: nsd did not start")
    time.sleep(0.05)
EOF
}

run_check() {
    "$PY" -m analysis dns check --inventory "$INVENTORY" --nameserver "127.0.0.1:$PORT" \
        --no-mta-sts-fetch --timeout 1 --db "$DB" "$@"
}

"$PY" -m analysis inventory load --inventory "$INVENTORY" --db "$DB"
serve earlier
run_check >/dev/null
sleep 1
serve zones
run_check
echo "demo_dns: observations stored in $DB (NSD was on 127.0.0.1:$PORT)"
"$PY" -m analysis dns diff --db "$DB"
