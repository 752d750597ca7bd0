#!/usr/bin/env bash
# make demo: ingest the bundled samples, then render every notebook report to reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
DB="${1:-data/deliverability.duckdb}"
BIN=.venv/bin
echo "== ingest bundled samples into $DB"
$BIN/deliverability ingest data/samples --db "$DB"
if $BIN/deliverability report --help >/dev/null 2>&1; then
  for nb in notebooks/*.ipynb; do
    name=$(basename "$nb" .ipynb)
    echo "== report $name"
    $BIN/deliverability report "$name" --db "$DB" --out reports
  done
  echo "reports written to reports/ (open reports/index.html)"
fi
