# The two commands: `make demo` and `make test`. Everything they need is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DB     ?= data/deliverability.duckdb
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo demo-deps test lint typecheck bench venv system-deps clean

$(STAMP): pyproject.toml setup.py src/analysis/ingest/_fastparse.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	$(BIN)/python -m ipykernel install --sys-prefix --name deliverability --display-name "Deliverability workbench" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

# The demo's DNS report serves zones from a loopback NSD: install it when we can (root), else skip that part.
demo-deps:
	@if [ ! -x /usr/sbin/nsd ] && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nsd >/dev/null; fi

demo: venv demo-deps
	bash scripts/demo.sh "$(DB)"

lint: venv
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

test: venv system-deps lint
	$(BIN)/pytest -q

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) reports lake data/*.duckdb data/*.duckdb.wal
