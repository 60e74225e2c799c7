# The project's entry points. `make test` is the test command: the README's
# and CI's (.ci/run). Tests read third-party models from ../shared and the ONNX
# conformance suite from Debian's libonnx-testdata, which `deps` installs.

GO       ?= go
BIN      ?= bin/sqc
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# The whole suite takes about five minutes on two quiet cores. This is a
# per-package limit that turns a hang into a failure with a stack trace; it
# leaves a wide margin for a loaded machine (the PTX-interpreter packages
# take 30-50 s alone, the plugins package builds its plugins first), so
# that only a hang trips it, well inside CI's 90 minutes.
TEST_TIMEOUT ?= 30m
FUZZTIME ?= 30s

# staticcheck is pinned and installed under bin/tools, so every machine lints
# with the same checks; 2026.1.x (v0.8) is the first series built for Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/tools/staticcheck-$(STATICCHECK_VERSION)

# Packages with benchmarks, found rather than listed so a new one is not missed.
BENCH_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^func Benchmark' .)))

TESTDATA_DIR := /usr/share/libonnx-testdata

# ONNX Runtime's CPU build (npm's onnxruntime-node), the peer runtime the
# export tests compare against. Its install script would fetch a GPU build,
# so it is skipped; the bundled CPU library is what the tests use.
ORT_VERSION := 1.30.0
ORT_DIR := bin/ort
# The tests find it through SQC_ORT_NODE_MODULES; without it they skip.
ORT_ENV = SQC_ORT_NODE_MODULES=$$(test -f $(ORT_DIR)/node_modules/onnxruntime-node/package.json && echo $(CURDIR)/$(ORT_DIR)/node_modules)

.PHONY: all build test deps lint bench fuzz gpu generate example clean

all: build

## build: the sqc binary, pure Go (the CUDA driver is opened at run time)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/sqc

## deps: install the ONNX conformance suite and Ninja (for the depfile test)
## when absent and apt-get can run (as root, or through password-less sudo),
## and ONNX Runtime's CPU build when npm is there; otherwise say what is missing
deps:
	@if [ ! -f $(ORT_DIR)/node_modules/onnxruntime-node/package.json ]; then \
		if command -v npm >/dev/null 2>&1; then \
			npm install --silent --no-audit --no-fund --ignore-scripts --prefix $(ORT_DIR) onnxruntime-node@$(ORT_VERSION) \
				|| echo "make deps: npm could not install onnxruntime-node; the ONNX Runtime tests skip" >&2; \
		else \
			echo "make deps: npm is missing; the ONNX Runtime differential tests skip" >&2; \
		fi; \
	fi
	@pkgs=""; \
	[ -d $(TESTDATA_DIR) ] || pkgs="$$pkgs libonnx-testdata"; \
	command -v ninja >/dev/null 2>&1 || pkgs="$$pkgs ninja-build"; \
	if [ -n "$$pkgs" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update && apt-get install -y $$pkgs; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then \
			sudo apt-get update && sudo apt-get install -y $$pkgs; \
		else \
			echo "make deps: Debian's packages$$pkgs are missing and cannot be installed here;" \
				"the conformance tests (libonnx-testdata) and the Ninja depfile test (ninja-build) skip" >&2; \
		fi; \
	fi

## test: every package's tests
test: deps
	$(ORT_ENV) $(GO) test -timeout $(TEST_TIMEOUT) ./...

## lint: go vet, gofmt and staticcheck
lint: $(STATICCHECK)
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*' -not -path '*/testdata/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting:" >&2; echo "$$unformatted" >&2; exit 1; fi
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(CURDIR)/bin/tools $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv bin/tools/staticcheck $@

## bench: the benchmarks, tests skipped
bench:
	@if [ -z "$(BENCH_PKGS)" ]; then echo "make bench: no benchmarks yet"; else \
		$(GO) test -run='^$$' -bench=. -benchmem $(BENCH_PKGS); fi

## fuzz: each fuzz target for FUZZTIME (default 30s)
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./frontend/onnx
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeTensor$$' -fuzztime=$(FUZZTIME) ./frontend/onnx
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./ir/sqir
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./dsl
	$(GO) test -run='^$$' -fuzz='^FuzzEngineFile$$' -fuzztime=$(FUZZTIME) ./backend/ampere
	$(GO) test -run='^$$' -fuzz='^FuzzEnginePayload$$' -fuzztime=$(FUZZTIME) ./backend/ampere
	$(GO) test -run='^$$' -fuzz='^FuzzNpy$$' -fuzztime=$(FUZZTIME) ./internal/dataset
	$(GO) test -run='^$$' -fuzz='^FuzzNpz$$' -fuzztime=$(FUZZTIME) ./internal/dataset
	$(GO) test -run='^$$' -fuzz='^FuzzIDX$$' -fuzztime=$(FUZZTIME) ./internal/dataset
	$(GO) test -run='^$$' -fuzz='^FuzzPB$$' -fuzztime=$(FUZZTIME) ./internal/dataset
	$(GO) test -run='^$$' -fuzz='^FuzzImages$$' -fuzztime=$(FUZZTIME) ./internal/dataset

## gpu: the binaries a GPU machine runs (it needs no Go): sqc, and every GPU
## test in one binary (.gpu/ampere.test -test.v)
gpu:
	CGO_ENABLED=0 $(GO) build -ldflags "-s -w" -o .gpu/sqc ./cmd/sqc
	CGO_ENABLED=0 $(GO) build -ldflags "-s -w" -o .gpu/genmodel ./bench/genmodel
	CGO_ENABLED=0 $(GO) build -ldflags "-s -w" -o .gpu/models ./bench/models
	CGO_ENABLED=0 $(GO) test -c -ldflags "-s -w" -o .gpu/ampere.test ./backend/ampere/gputest

## generate: regenerate generated files (protobuf types, the example model)
generate:
	$(GO) generate ./...

## example: write examples/resnet-mini.onnx and its calibration data
example:
	$(GO) run ./examples/gen

clean:
	rm -rf bin
