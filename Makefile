# The lab's commands. `make setup` is run by every other target when needed.
VENV ?= .venv
PY := $(VENV)/bin/python
export FRLAB_MIRROR ?= $(abspath ../shared/data)

.PHONY: setup run test book notebooks grade selftest bench gpu-check full-rehearsal lock clean

setup:
	bash scripts/setup.sh

## main job: every chapter executed headless (on a CPU: the cpu profile, the shipped base model, one seed per init)
run: setup
	$(PY) -m labtools.run_lab

## the test command (CI runs it): lint and format gate, then the whole suite
test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

book: setup
	$(PY) -m labtools.book.build

## regenerate the student notebooks from solutions/ (nbgrader) and check them for leaks
notebooks: setup
	$(PY) -m autograder.generate --validate

## autograde a whole class in parallel (submissions in autograder/course/submitted/) and export CSV
grade: setup
	$(PY) -m autograder.grade_class

## grade the self-test corpus; fails on any mis-grade
selftest: setup
	$(PY) -m autograder.selftest

## benchmarks: printed figures and ratios (labtools/bench/)
bench: setup
	$(PY) -m labtools.bench

## the four chapters in the full profile on one GPU in about 10 min (one seed, a step cap if needed): results/gpu/
gpu-check: setup
	$(PY) -m labtools.gpu_check

## the full profile rehearsed on a CPU at full size with stand-ins of its assets: results/full-rehearsal.json
full-rehearsal: setup
	$(PY) -m labtools.full_rehearsal

lock:
	bash scripts/lock.sh

clean:
	rm -rf work _build
