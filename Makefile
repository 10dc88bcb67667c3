# The workbook's top-level Makefile.
#
#   make            build every program
#   make tour       build, start a delay server, run every chapter in order
#   make test       build every program and its sanitizer variants, run pytest
#   make sanitize   only the sanitizer (ASan+UBSan, TSan) runs of the tests
#   make aarch64-check  every program built for aarch64 and run under qemu
#   make clean      remove every build output
#   make compile_commands.json   for clangd and other editors (uses bear)
#   make student DEST=dir   the student edition: the lessons left out (docs/workshop.md)
#   make grade [STEP=dir]   grade every step that holds a lesson (or one): points, score
#   make hint [STEP=dir]    the hints of STEP, or of the first step short of full marks
#   make watch [STEP=dir]   grade again on every save (Ctrl-C stops)
#
# Each program lives in its own folder with its own Makefile built on
# mk/common.mk; this file only finds those folders and builds them (with
# make -j, side by side).

STEPS := $(patsubst %/Makefile,%,$(sort $(wildcard common/Makefile delayserver/Makefile corofy/Makefile \
           ch0*/Makefile ch0*/*/Makefile)))
CHAPTER_STEPS := $(filter ch%,$(STEPS))

MAKEFLAGS += --no-print-directory

# One target per step and goal (all-ch02-epoll, variants-corofy, ...), so
# `make -j` builds steps side by side. corofy comes before every chapter step,
# because a step's make runs corofy whenever a coroutine source changed.
define step_goal
$(1): $$(STEPS:%=$(1)-%)
	@:
$$(STEPS:%=$(1)-%): $(1)-%:
	@$$(MAKE) -C $$* $(1)
$$(CHAPTER_STEPS:%=$(1)-%): $(1)-corofy
.PHONY: $(1) $$(STEPS:%=$(1)-%)
endef
$(eval $(call step_goal,all))
$(eval $(call step_goal,variants))

# The test interpreter: one that can import pytest, installed from Debian's
# python3-pytest when missing (see scripts/test-deps).
PYTHON = $(shell scripts/test-deps --python)
TESTS ?= tests

deps:
	@scripts/test-deps

# pytest runs in two passes: every test, on every core (pytest -n, each
# test file in one process), then the few checks that judge what the others
# did (which sanitizer builds ran, which README blocks were compared), from
# the notes the first pass left in $(RECORDS). SELECT picks the tests.
RECORDS = $(CURDIR)/tests/.records
SELECT ?= not aarch64_full
PYTEST = WORKBOOK_BUILT=1 WORKBOOK_RECORDS=$(RECORDS) $(PYTHON) -m pytest

pytest: deps
	@rm -rf $(RECORDS) && mkdir -p $(RECORDS)
	@$(PYTEST) -n $(JOBS) --dist loadfile -m "($(SELECT)) and not whole_run" $(PYTEST_ARGS) $(TESTS)
	@$(PYTEST) -q -m "($(SELECT)) and whole_run" $(PYTEST_ARGS) $(TESTS); \
	    status=$$?; [ $$status = 0 ] || [ $$status = 5 ]   # 5: this selection has none of them

# The tests build every variant of every step first, one job per core.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

test: deps
	@$(MAKE) -j$(JOBS) variants
	@$(MAKE) pytest

sanitize: deps
	@$(MAKE) -j$(JOBS) variants
	@$(MAKE) pytest SELECT=sanitizer

# The tour builds quietly (the build's output is shown only if it fails).
# Every program of every step built for aarch64 and run under qemu-aarch64
# (make test runs a bounded part of this).
aarch64-check: deps
	@$(MAKE) pytest SELECT=aarch64_full TESTS=tests/test_aarch64.py

tour:
	@echo "tour: building every step (make all)"
	@$(MAKE) -j$(JOBS) all > .tour-build.log 2>&1 || { cat .tour-build.log; rm -f .tour-build.log; exit 1; }
	@rm -f .tour-build.log
	@scripts/tour $(CHAPTER_STEPS)

bench: all
	@if [ -x bench/run ]; then bench/run; else echo "bench/: nothing to run yet"; fi

compile_commands.json:
	@$(MAKE) clean >/dev/null
	bear --output $@ -- $(MAKE) all

# Workshop mode (scripts/workshop, docs/workshop.md). Grading needs only a
# python3 with pytest (scripts/test-deps --python), not every test tool.
student:
	@scripts/workshop student "$(DEST)"

grade hint watch:
	@scripts/workshop $@ $(STEP)

clean:
	@for d in $(STEPS); do $(MAKE) -C $$d clean || exit 1; done
	@rm -rf tests/__pycache__ .pytest_cache

.PHONY: deps pytest test sanitize aarch64-check tour bench clean compile_commands.json \
        student grade hint watch
