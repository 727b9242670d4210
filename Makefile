# Noom: `make dev` to run it, `make test` to check everything. `make help` lists the rest.
# Every target installs what is missing first, and only that: a second run takes seconds.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8787
DEV_ARGS ?=
WORKER_BUILD_VERSION := 0.8.7
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/,"",$$3); print $$3}' Cargo.lock)
CARGO_BIN := $(HOME)/.cargo/bin
NODE_BIN := node_modules/.bin

export PATH := $(CARGO_BIN):$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
# worker-build would download these; point it at the pinned local ones instead.
export WASM_BINDGEN_BIN := $(CARGO_BIN)/wasm-bindgen
export ESBUILD_BIN := $(CURDIR)/$(NODE_BIN)/esbuild
export WASM_OPT_BIN := $(CURDIR)/$(NODE_BIN)/wasm-opt

RUST_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock

.PHONY: help dev test build tools rust-tools node-tools chromium lint test-unit test-contract test-browser screenshots deploy deploy-check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

dev: tools build ## Install what is missing, build, run on http://127.0.0.1:$(PORT)
	$(NODE_BIN)/wrangler dev --ip 127.0.0.1 --port $(PORT) --persist-to .wrangler/state $(DEV_ARGS)

test: tools chromium build ## Run every test: lint, unit and fuzz, deploy bundle, contract, operator, hardening, browser
	$(MAKE) --no-print-directory lint
	cargo test --quiet
	node --test --test-reporter=spec tests/glue/ tests/bench/
	$(MAKE) --no-print-directory deploy-check
	node --test --test-concurrency=1 --test-reporter=spec tests/contract/ tests/operator/
	$(MAKE) --no-print-directory test-hardening
	./tests/browser/run.sh

# worker-build builds with WASM_BINDGEN_USE_JS_SYS=1 (the `worker` crate's
# macros need it), so clippy on the Worker's target needs it too.
lint: ## Clippy on the core and tests (native) and on the Worker (wasm32)
	cargo clippy --all-targets -- -D warnings
	WASM_BINDGEN_USE_JS_SYS=1 cargo clippy --lib --release --target wasm32-unknown-unknown -- -D warnings

test-unit: ## Only the unit tests: Rust (cargo), src/entry.js against a stand-in build and the bench report's verdicts (node)
	cargo test
	node --test --test-reporter=spec tests/glue/ tests/bench/

test-contract: tools build ## Only the contract and operator tests (TURN, headers, limits, timeouts) against a real wrangler dev
	node --test --test-concurrency=1 --test-reporter=spec tests/contract/ tests/operator/

test-browser: tools chromium build ## Only the browser tests (Chromium in a loopback-only namespace)
	./tests/browser/run.sh

screenshots: tools chromium build ## Retake the README's pictures (docs/screenshots) with the browser tests that take them
	NOOM_SCREENSHOTS=docs/screenshots ./tests/browser/run.sh tests/browser/lobby.test.mjs tests/browser/mesh.test.mjs

build: build/index.js ## Compile the Worker to WebAssembly (only when sources changed)

# After worker-build: one more wasm-opt run, which (1) drops the wasm names
# section, a quarter of the module, that worker-build keeps so a panic's
# backtrace names functions (Noom's panic messages carry file and line anyway),
# and (2) repeats -Oz until it stops shrinking (about 2 KB gzipped more).
# Same feature set as worker-build's own run, so nothing newer than workerd
# reads is emitted.
WASM_FEATURES := $(addprefix --enable-,mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)

build/index.js: $(RUST_SOURCES) | tools
	worker-build --release
	$(WASM_OPT_BIN) build/index_bg.wasm -Oz --converge --strip-debug $(WASM_FEATURES) -o build/index_bg.wasm
	@touch $@

tools: rust-tools node-tools ## Install the pinned toolchain pieces that are missing

rust-tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@[ "$$(worker-build --version 2>/dev/null)" = "$(WORKER_BUILD_VERSION)" ] || cargo install worker-build --version $(WORKER_BUILD_VERSION) --locked
	@wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)$$" || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

node-tools: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

chromium: ## Install Debian's Chromium for the browser tests, if missing
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The deployable bundle must stay well inside Cloudflare's limit (3 MB gzipped on
# the free plan); the 150 KB target is tracked in BENCHMARKS.md.
BUNDLE_LIMIT_BYTES := 1000000

deploy: tools build ## Deploy to your workers.dev URL (needs CLOUDFLARE_API_TOKEN; see README)
	@[ -n "$$CLOUDFLARE_API_TOKEN" ] || { echo "make deploy: set CLOUDFLARE_API_TOKEN first (README, 'Deploy to workers.dev')." >&2; exit 1; }
	$(NODE_BIN)/wrangler deploy

deploy-check: tools build ## Build the deploy bundle without uploading, and check its size
	rm -rf build/dry-run
	$(NODE_BIN)/wrangler deploy --dry-run --outdir build/dry-run
	@size=$$(cat build/dry-run/*.js build/dry-run/*.wasm | gzip -9 | wc -c); \
	  echo "deploy bundle: $$size bytes gzipped (limit $(BUNDLE_LIMIT_BYTES))"; \
	  [ $$size -le $(BUNDLE_LIMIT_BYTES) ] || { echo "deploy bundle too large" >&2; exit 1; }

clean: ## Remove build output and local state
	rm -rf build target .wrangler

# ---- Benchmarks (bench/, BENCHMARKS.md) --------------------------------------------
# Noom against a JavaScript baseline of the same contract and two floor relays,
# each under its own wrangler dev; then call set-up in Chromium. See bench/run.mjs.

FLOOR_RUST_SOURCES := $(wildcard bench/floor-rust/src/*.rs) bench/floor-rust/Cargo.toml bench/floor-rust/Cargo.lock

.PHONY: bench bench-floor-rust bench-baseline bench-report

bench: tools chromium build bench-floor-rust ## Benchmarks, ~15 min; writes BENCHMARKS.md (BENCH_QUICK=1: ~3 min smoke)
	node bench/run.mjs $(if $(filter 1,$(BENCH_QUICK)),--quick)

bench-floor-rust: bench/floor-rust/build/index.js ## Build the Rust floor relay the benchmarks compare against

bench/floor-rust/build/index.js: $(FLOOR_RUST_SOURCES) | tools
	cd bench/floor-rust && worker-build --release
	@touch $@

bench-baseline: tools ## Run the contract tests against the JavaScript baseline (bench/baseline-js)
	NOOM_SERVER_CONFIG=bench/baseline-js/wrangler.toml node --test --test-concurrency=1 --test-reporter=spec tests/contract/

bench-report: ## Redraw BENCHMARKS.md and its plots from the last full run (no rerun)
	node bench/report.mjs

# ---- Hardening: hostile input, faults, load, fuzzing (tests/hardening/, tests/fuzz.rs) ----

.PHONY: test-hardening load fuzz
HARDENING_TALLY := target/hardening-tally.tsv

test-hardening: tools build ## Hostile input, connection storms, faults and a small load test against wrangler dev (FIGURES=1: into docs/reliability.md)
	@mkdir -p target && rm -f $(HARDENING_TALLY)
	NOOM_HARDENING_TALLY=$(HARDENING_TALLY) node --test --test-concurrency=1 --test-timeout=180000 --test-reporter=spec tests/hardening/
	@node tests/hardening/figures.mjs $(HARDENING_TALLY) $(if $(FIGURES),--doc docs/reliability.md)

load: tools build ## Load test at full size: 40 rooms x 5 peers chatting for 30 s; figures into docs/reliability.md
	node tests/hardening/load.mjs --rooms 40 --peers 5 --seconds 30 --doc docs/reliability.md

fuzz: ## Fuzz the parser and the room core for 300 s (NOOM_FUZZ_SECONDS); figures into docs/reliability.md
	NOOM_FUZZ_SECONDS=$${NOOM_FUZZ_SECONDS:-300} NOOM_FUZZ_DOC=docs/reliability.md cargo test --release --test fuzz -- --nocapture
