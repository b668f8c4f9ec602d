# The lab's commands. `make setup` is run by every other target when needed.
VENV ?= .venv
PY := $(VENV)/bin/python
export FRLAB_MIRROR ?= $(abspath ../shared/data)

.PHONY: setup run test book grade bench lock clean

setup:
	bash scripts/setup.sh

## main job on the embedded default: every chapter notebook executed headless (smoke profile on CPU)
run: setup
	$(PY) -m frlab.run_lab

test: setup
	$(PY) -m pytest -q

book: setup
	$(PY) -m frlab.book_build

bench: setup
	$(PY) scripts/benchmark.py

lock:
	bash scripts/lock.sh

clean:
	rm -rf work _build
