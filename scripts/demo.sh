#!/usr/bin/env bash
# make demo: load the inventory, ingest every bundled sample (Postfix log, ARF, DMARC, ESP events), check
# the demo domains' DNS against a loopback NSD, then render every notebook report to reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
DB="${1:-data/deliverability.duckdb}"
BIN=.venv/bin
echo "== inventory: data/inventory.toml -> $DB"
$BIN/deliverability inventory load --inventory data/inventory.toml --db "$DB"
echo "== ingest bundled samples into $DB"
$BIN/deliverability ingest data/samples --db "$DB"
$BIN/deliverability refresh --db "$DB"
$BIN/deliverability totals --db "$DB"
if [ -x /usr/sbin/nsd ]; then
  echo "== DNS authentication health of the demo domains (NSD on loopback)"
  bash scripts/demo_dns.sh "$DB"
else
  echo "== skipping DNS checks: /usr/sbin/nsd is not installed (make system-deps installs it)"
fi
for nb in notebooks/*.ipynb; do
  name=$(basename "$nb" .ipynb)
  echo "== report $name"
  $BIN/deliverability report "$name" --db "$DB" --out reports
done
echo "reports written to reports/ (open reports/index.html)"
