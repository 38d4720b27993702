# The two commands a fresh machine needs: `make test` (every contract) and `make interop` (the matrix, as a table).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
RUN_DIR := target/interop
INTEROP := target/debug/interop
# The rstest suites of the language matrix, not yet cases as data (the generated matrix is `--test matrix`).
SUITES := --test catalog --test order --test order_clients --test grpc_interop --test refusals --test identity --test bad_input
# What runs in containers under `make test`: the rstest contracts, the fault hooks, and the clean-up checks (the
# generated matrix runs there under `make interop`).
CONTAINER_TESTS := --test catalog --test faults
# The generated matrix's results: one JSON line per cell, the source of every report.
RESULTS := $(abspath $(RUN_DIR))/results.jsonl
# Where `make interop` and `make bench` run the services: containers (the default) or local processes.
BACKEND ?= containers

.PHONY: help keys python stubs test test-rust test-python test-containers interop images debootstrap engine \
	sweep orphans bench clean clean-images

help:
	@echo "make keys      write a CA and service certificates into keys/ (FORCE=1 replaces them)"
	@echo "make test      cargo test for the whole workspace, then the Python unit tests"
	@echo "make interop   run the language matrix in containers and print it as a table (BACKEND=local: processes)"
	@echo "make images    build the containers backend's images (Debian base, Python, Rust) unless up to date"
	@echo "make bench     start-up times per service and per stack, medians of 5 (BACKEND=containers|local)"
	@echo "make sweep     remove containers and networks left by runs that were killed"
	@echo "make orphans   list processes of ours that outlived their runs (make test and make interop end with it)"
	@echo "make python    make or refresh the Python environment (.venv) and its generated stubs"
	@echo "make clean     remove build output, the Python environment and keys (clean-images: our images too)"

# Built exactly as `cargo test` builds it (same features): any other selection relinks it, and the service binaries
# (which go into the Rust image), with other features on every switch.
$(INTEROP): FORCE
	@$(CARGO) test --workspace --no-run --quiet

FORCE:

keys: $(INTEROP)
	$(INTEROP) keys --out keys $(if $(FORCE),--force)

# The stubs are generated into the venv from proto/ and remade whenever a .proto changes.
python stubs: $(INTEROP)
	$(INTEROP) python

# Ends with the orphan check: no service process may outlive the test processes that started it.
test: test-rust test-python test-containers
	@$(INTEROP) orphans --wait 30

test-rust:
	$(CARGO) test --workspace

test-python: python
	.venv/bin/python -m pytest python-services -q

# In a recipe running containers: whatever ends it (success, failure, Ctrl-C), the containers and networks its test
# processes left are removed before make returns. A Ctrl-C kills the tests but not the recipe's shell (a caught
# signal is not inherited), which then sweeps and exits; make waits for it.
SWEEP_ON_EXIT := trap 'exit 130' INT; trap '$(INTEROP) sweep >/dev/null' EXIT

# The containers suite runs when a Docker engine answers; otherwise it says so, loudly, and why.
test-containers: $(INTEROP)
	@if why=$$($(INTEROP) engine 2>&1); then \
	  echo "== containers suite ($$why)"; \
	  $(MAKE) --no-print-directory images; \
	  $(SWEEP_ON_EXIT); \
	  INTEROP_BACKEND=containers $(CARGO) test $(CONTAINER_TESTS); \
	  $(CARGO) test -p interop --test containers -- --include-ignored; \
	else \
	  echo "!!!"; \
	  echo "!!! SKIPPED the containers suite: no Docker engine answers. Why:"; \
	  echo "$$why" | sed 's/^/!!!   /'; \
	  echo "!!!"; \
	fi

images: $(INTEROP) debootstrap
	@$(INTEROP) images

# The base image's root filesystem comes from debootstrap (root is needed, as for any debootstrap).
debootstrap:
	@command -v debootstrap >/dev/null || { \
	  echo "installing debootstrap (for the base image's root filesystem)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }

engine: $(INTEROP)
	@$(INTEROP) engine

sweep: $(INTEROP)
	@$(INTEROP) sweep

orphans: $(INTEROP)
	@$(INTEROP) orphans

bench: $(INTEROP) $(if $(filter containers,$(BACKEND)),images)
	@$(INTEROP) bench --backend $(BACKEND) --runs 5

interop: $(INTEROP) $(if $(filter containers,$(BACKEND)),images)
	@mkdir -p $(RUN_DIR)
	@rm -f $(RESULTS)
	@status=0; \
	$(SWEEP_ON_EXIT); \
	INTEROP_BACKEND=$(BACKEND) INTEROP_RESULTS=$(RESULTS) $(CARGO) test --test matrix 2>&1 | tee $(RUN_DIR)/matrix-run.txt || status=$$?; \
	INTEROP_BACKEND=$(BACKEND) $(CARGO) test $(SUITES) 2>&1 | tee $(RUN_DIR)/last-run.txt || status=$$?; \
	echo; echo "== the generated matrix (backend: $(BACKEND))"; \
	$(INTEROP) report --results $(RESULTS) --markdown $(RUN_DIR)/matrix.md --junit $(RUN_DIR)/junit.xml || status=$$?; \
	echo "(also in $(RUN_DIR)/matrix.md and $(RUN_DIR)/junit.xml)"; \
	echo; echo "== the rstest suites (backend: $(BACKEND))"; \
	$(INTEROP) report --markdown $(RUN_DIR)/suites.md --known-failures tests/grpc_interop_known_failures.txt < $(RUN_DIR)/last-run.txt || status=$$?; \
	echo "(table also in $(RUN_DIR)/suites.md)"; \
	$(INTEROP) orphans --wait 30 || status=$$?; \
	exit $$status

clean-images: $(INTEROP)
	$(INTEROP) images --remove

clean:
	$(CARGO) clean
	rm -rf .venv .interop-venv.lock
	find keys -maxdepth 1 -name '*.pem' -delete
