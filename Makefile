# cfrp entry points.
#   make            build frps, frpc and the tools into build/bin
#   make test       install what is missing, build, run unit + e2e tests, then again
#                   under AddressSanitizer + UndefinedBehaviorSanitizer
#   make demo       a working tunnel on 127.0.0.1 (see README)
#   make bench      benchmarks (see bench/README.md)
BUILD ?= build
ASAN_BUILD ?= build-asan
PYTHON ?= /usr/bin/python3
JOBS ?= $(shell nproc)
PYTEST = $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

.PHONY: all deps build build-asan unit e2e unit-asan e2e-asan test demo bench clean

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCFRP_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

e2e: build
	CFRP_BIN_DIR=$(CURDIR)/$(BUILD)/bin $(PYTEST)

unit-asan: build-asan
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

e2e-asan: build-asan
	CFRP_BIN_DIR=$(CURDIR)/$(ASAN_BUILD)/bin CFRP_SANITIZED=1 $(PYTEST)

test: deps
	$(MAKE) --no-print-directory unit e2e
	$(MAKE) --no-print-directory unit-asan e2e-asan

demo:
	@scripts/demo.sh

bench: build
	@scripts/install-deps.sh --bench
	$(PYTHON) bench/run --bin $(BUILD)/bin
	$(PYTHON) bench/http --bin $(BUILD)/bin

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
