# Bulwark: `make demo` runs an AVS on a local devnet; `make test` runs everything CI
# runs; `make bench` prints the benchmark figures.
# Tools (anvil, forge, solc, py_ecc) are installed into tools/ on first use.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath .)
TOOLS_BIN := $(ROOT)/tools/bin
TOOLS_STAMP := tools/node_modules/.bulwark-installed
VENV := tools/.venv
VENV_STAMP := $(VENV)/.bulwark-installed
PYTHON := $(VENV)/bin/python
export PATH := $(TOOLS_BIN):$(PATH)

.PHONY: guide help demo demo-bridge demo-hello cli tools eigenlayer test test-templates fmt-check clippy test-rust test-tools test-contracts test-fixtures fixtures artifacts bench gas fuzz fuzz-build test-fuzz fuzz-corpus package package-check

help:
	@echo "make demo      run the oracle template on a local devnet with the bulwark CLI"
	@echo "make demo-bridge run the bridge template on two local chains (tokens, a forgery slashed)"
	@echo "make demo-hello  run the hello example's own devnet demo"
	@echo "make cli       build target/debug/bulwark (and the oracle binary) and the tools"
	@echo "make test      fmt check, clippy -D warnings, Rust tests, toolchain and fixture checks"
	@echo "make bench     gas table; crypto, aggregation-engine and gRPC aggregator benchmarks"
	@echo "make gas       print the certificate-verification gas table (forge)"
	@echo "make artifacts refresh the contract ABI/bytecode the Rust bindings use"
	@echo "make tools     install anvil, forge and solc (pinned in tools/package.json)"
	@echo "make eigenlayer fetch EigenLayer's core bytecode from crates.io (tests use it)"
	@echo "make fixtures  regenerate the py_ecc and contract cross-check fixtures"
	@echo "make fuzz      run every fuzz target for FUZZ_SECONDS (default 60) each"
	@echo "make package  build each library crate from its crates.io tarball (cargo package)"

tools: $(TOOLS_STAMP)

# npm ci installs exactly the lock file; install scripts are skipped because the
# native binaries ship inside the platform packages, linked into tools/bin here.
$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p $(TOOLS_BIN)
	for tool in anvil forge; do \
	  bin=$$(ls tools/node_modules/@foundry-rs/$$tool-*/bin/$$tool | head -n 1); \
	  test -x "$$bin" || { echo "no $$tool binary for this platform" >&2; exit 1; }; \
	  ln -sf "$(ROOT)/$$bin" $(TOOLS_BIN)/$$tool; \
	done
	ln -sf $(ROOT)/tools/solc $(TOOLS_BIN)/solc
	touch $@

$(VENV_STAMP): tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

# The demo binary is built with the test profile (optimised, see Cargo.toml), so it
# shares every compiled dependency with `make test`. Keys, configs and logs stay in
# target/demo for a look afterwards.
DEMO_ARGS ?=
# The oracle template through the bulwark CLI (tools/oracle_demo.sh says what it shows).
demo: cli
	DEMO_SECONDS=$(or $(DEMO_SECONDS),30) bash tools/oracle_demo.sh

# The bridge template's demo: two anvils, four operators and a relayer on loopback;
# tokens there and back, a forged mint slashed on the home chain, felt by the oracle
# that shares the stake.
demo-bridge: $(TOOLS_STAMP)
	cargo build --profile test --locked -p bridge-avs --bin bridge-avs
	target/debug/bridge-avs demo $(DEMO_ARGS)

# The hello example's own demo: one binary staging anvil, an aggregator and operators.
demo-hello: $(TOOLS_STAMP)
	cargo build --profile test --locked -p hello-avs --bin hello-avs
	rm -rf target/demo
	target/debug/hello-avs demo --dir target/demo $(DEMO_ARGS)

# target/debug/bulwark and the oracle binary, plus the pinned tools.
cli: $(TOOLS_STAMP)
	cargo build --profile test --locked -p bulwark-cli -p oracle-avs

# Each stage in order, timed, so a slow run (CI's fresh clone) says where its time went.
TEST_STAGES := fmt-check clippy test-rust test-tools test-contracts test-templates test-fixtures test-fuzz package-check
test:
	@for stage in $(TEST_STAGES); do \
	  start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$stage || exit 1; \
	  echo "make test: $$stage took $$(( $$(date +%s) - start )) s"; \
	done
	@echo "make test: all checks passed"

# The library crates as crates.io would get them (metadata, README, licence, versioned
# path dependencies, every file the build needs inside the package). package-check
# assembles them (seconds; part of make test); `make package` also builds each from
# its tarball, as `cargo publish` does (~6 min here).
LIB_CRATES := -p bulwark-crypto -p bulwark-avs-core -p bulwark-net -p bulwark-chain -p bulwark-node -p bulwark-avs
package-check:
	cargo package $(LIB_CRATES) --locked --allow-dirty --no-verify
package:
	cargo package $(LIB_CRATES) --locked --allow-dirty

fmt-check:
	cargo fmt --all -- --check

# The criterion benchmarks sit behind the `bench` feature (see framework/core/Cargo.toml).
clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy -p bulwark-crypto -p bulwark-avs-core --benches --features bench --locked -- -D warnings

# The chain tests start their own anvil from tools/bin.
test-rust: $(TOOLS_STAMP) eigenlayer
	cargo test --workspace --locked

test-tools: $(TOOLS_STAMP)
	python3 tools/check_anvil.py
	cd tools/selftest && forge test --use $(ROOT)/tools/solc

# The Foundry suite in contracts/ (solc through the tools/solc wrapper), on Osaka (the
# default evm_version, mainnet's fork) and on Prague (the `prague` profile, its own
# build folder), so a repricing of either cannot go unnoticed.
# Then checks that the ABI/bytecode Rust binds to (framework/chain/artifacts) is current.
# The EigenLayer tests deploy EigenLayer's real core from bytecode fetched from
# crates.io at test time (`make eigenlayer`; BUSL-1.1, never committed).
test-contracts: $(TOOLS_STAMP) eigenlayer
	cd contracts && forge test --use $(ROOT)/tools/solc
	cd contracts && FOUNDRY_PROFILE=prague forge test --use $(ROOT)/tools/solc
	cd examples/hello && forge test --use $(ROOT)/tools/solc
	cd templates/oracle && forge test --use $(ROOT)/tools/solc
	cd templates/bridge && forge test --use $(ROOT)/tools/solc
	python3 contracts/script/export_artifacts.py --check

# EigenLayer's core (ABI + creation bytecode) from the pinned crates.io packages into
# target/eigenlayer/artifacts (tools/eigenlayer/README.md); a no-op once fetched.
eigenlayer:
	bash tools/eigenlayer/fetch.sh $(ROOT)/target/eigenlayer/artifacts

artifacts: $(TOOLS_STAMP)
	cd contracts && forge build --use $(ROOT)/tools/solc
	cd examples/hello && forge build --use $(ROOT)/tools/solc
	cd templates/oracle && forge build --use $(ROOT)/tools/solc
	cd templates/bridge && forge build --use $(ROOT)/tools/solc
	python3 contracts/script/export_artifacts.py --write

# `bulwark new` from each template into a fresh folder, then the README's steps: the
# project must be named after itself, be moved, build with `bulwark build`, pass its
# own Rust and forge tests, and run on `bulwark devnet up` with answers landing in
# `bulwark status` until `devnet down` (tools/new_project_check.sh). Then the guide
# docs/first-avs.md, every command it shows (tools/guide_check.py). The projects
# build in this repository's target folder, so only the first compiles their
# dependencies (their lock file is the workspace's, their features their own).
TEMPLATES := hello oracle bridge
test-templates: $(TOOLS_STAMP)
	# The bulwark binary as `cargo test --workspace` builds it (a no-op after
	# test-rust; `cargo build -p bulwark-cli` would unify features differently and
	# recompile a hundred crates).
	cargo test --workspace --locked --no-run
	for t in $(TEMPLATES); do \
	  start=$$(date +%s); \
	  bash tools/new_project_check.sh $$t || exit 1; \
	  echo "test-templates: $$t took $$(( $$(date +%s) - start )) s"; \
	done
	python3 tools/guide_check.py docs/first-avs.md

# The guide alone (docs/first-avs.md), as test-templates runs it.
guide: $(TOOLS_STAMP)
	cargo test --workspace --locked --no-run
	python3 tools/guide_check.py docs/first-avs.md

# Recomputes the cross-check fixtures with py_ecc and fails if they differ from the
# committed ones that the Rust tests read.
test-fixtures: $(VENV_STAMP)
	$(PYTHON) framework/crypto/fixtures/generate.py --check framework/crypto/fixtures/py_ecc.json

fixtures: $(VENV_STAMP)
	$(PYTHON) framework/crypto/fixtures/generate.py --write framework/crypto/fixtures/py_ecc.json
	BULWARK_WRITE_FIXTURES=1 cargo test -p bulwark-crypto --test contract_fixtures

bench: gas
	cargo bench -p bulwark-crypto --features bench --bench bls
	cargo bench -p bulwark-avs-core --features bench --bench engine
	cargo bench -p bulwark-node --bench grpc
	cargo bench -p bulwark-node --bench scale

# Certificate verification gas by operator-set size and share of non-signers (Osaka);
# the bridge's at 10 and 100 operators: a delivery and a table update on the remote
# chain, a table commit on the home chain.
gas: $(TOOLS_STAMP)
	cd contracts && forge test --use $(ROOT)/tools/solc --match-contract GasTest -vv | grep gas-table
	cd templates/bridge && forge test --use $(ROOT)/tools/solc --match-test test_gas -vv | grep bridge-gas

# Fuzzing (fuzz/, its own workspace and target folder). cargo-fuzz is installed into
# tools/cargo on first use. The stable toolchain has no sanitizers, so the targets run
# without one (`--sanitizer none`): libFuzzer's coverage counters come from the stable
# -Cpasses=sancov-module instrumentation, crashes are panics (overflow checks on).
CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ := $(ROOT)/tools/cargo/bin/cargo-fuzz
FUZZ_TARGETS := $(sort $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs))))
FUZZ_BUILD := -O --debug-assertions --sanitizer none --codegen-units 16
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= 10000
# New inputs go to fuzz/target/corpus (the first folder); fuzz/corpus holds the
# committed seeds, read only.
FUZZ_RUN = cd fuzz && $(CARGO_FUZZ) run $(FUZZ_BUILD) $$t target/corpus/$$t corpus/$$t -- -timeout=10

$(CARGO_FUZZ):
	cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root tools/cargo

fuzz-build: $(CARGO_FUZZ)
	cd fuzz && cargo fmt --check
	cd fuzz && $(CARGO_FUZZ) build $(FUZZ_BUILD)

# Each target briefly: the seeds, then FUZZ_RUNS mutations.
test-fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/target/corpus/$$t; \
	  ( $(FUZZ_RUN) -runs=$(FUZZ_RUNS) 2>&1 ) > fuzz/target/$$t.log \
	    || { tail -n 40 fuzz/target/$$t.log; echo "fuzz target $$t failed" >&2; exit 1; }; \
	  echo "fuzz $$t: $$(grep -o 'Done [0-9]* runs.*' fuzz/target/$$t.log)"; \
	done

fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/target/corpus/$$t; \
	  ( $(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 ); \
	done

# Rewrites the committed seeds (fuzz/examples/seed_corpus.rs, an uninstrumented build).
fuzz-corpus:
	cd fuzz && cargo run --example seed_corpus
