# comicsal — two commands for a newcomer: `make demo` and `make test`. Both create/reuse .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.comicsal-installed
SAMPLE ?= data/sample
SEED   ?= 0
export PYTHONHASHSEED := 0

.PHONY: help install demo test lint pytest nbtest check-sync export clean-nbs readme sync

help:
	@echo "make demo   - generate the embedded sample and run the pipeline on it"
	@echo "make test   - the whole suite: export/clean/README sync check, linters, pytest, notebook tests"
	@echo "make sync   - after editing nbs/: nbdev_export + nbdev_clean + README"

# The venv is (re)installed only when the files that define it change.
$(STAMP): settings.ini setup.py pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

install: $(STAMP)

# The whole story on the embedded sample; every step after the data is a recorded run (results/runs/).
demo: install
	$(BIN)/comicsal data synth --out $(SAMPLE) --seed $(SEED)
	$(BIN)/comicsal data check $(SAMPLE) --no-progress
	$(BIN)/comicsal run predict -p checkpoint comicsal -p images $(SAMPLE) -p split test
	$(BIN)/comicsal run train -p data $(SAMPLE) -p seed $(SEED)
	$(BIN)/comicsal run evaluate -p model latest:train/model/model.pt -p data $(SAMPLE) -p seed $(SEED)
	$(BIN)/comicsal run predict -p checkpoint latest:train/model/model.pt -p images $(SAMPLE) -p split test
	$(BIN)/comicsal run compare -p data $(SAMPLE) -p seed $(SEED) \
		-p models "[latest:train/model/model.pt, comicsal, comicsal-photo, centre-bias, dataset-mean]"
	$(BIN)/comicsal run ablation -p data $(SAMPLE) -p seed $(SEED)
	$(BIN)/comicsal run adapt -p data $(SAMPLE) -p seed $(SEED)
	$(BIN)/comicsal book
	@echo
	@echo "Outputs:"
	@echo "  sample dataset:   $(SAMPLE)/"
	@echo "  recorded runs:    results/runs/<UTC>-{predict,train,evaluate,predict,compare,ablation,adapt}/"
	@echo "                    (the first predict uses the shipped default model: no training)"
	@echo "  the book:         results/book/_build/html/index.html"

test: install check-sync lint pytest nbtest

# The house's rules (nbs/index.ipynb): ruff's bug-catching rules and the import contracts (layers point one way).
lint: install
	$(BIN)/ruff check comicsal tests benchmarks
	$(BIN)/lint-imports

# Fails when comicsal/ differs from what nbdev_export writes, when a notebook is not clean,
# or when README.md differs from nbs/index.ipynb.
check-sync: install
	$(BIN)/python -m pytest -q tests/test_sync.py

# pytest exits 5 when it collects nothing: that is a broken suite, not a pass.
pytest: install
	@$(BIN)/python -m pytest -q --ignore=tests/test_sync.py; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure"; exit 1; fi; exit $$rc

nbtest: install
	$(BIN)/nbdev_test --n_workers 2 --timing

export: install
	$(BIN)/nbdev_export

clean-nbs: install
	$(BIN)/nbdev_clean

readme: install
	$(BIN)/jupyter nbconvert --to markdown nbs/index.ipynb --output README --output-dir . --log-level WARN

sync: export clean-nbs readme
