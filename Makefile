# The two commands a fresh machine needs: `make test` (every contract) and `make interop` (the matrix, as a table).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
RUN_DIR := target/interop
INTEROP := target/debug/interop
# The contract tests that make up the language matrix.
MATRIX_TESTS := --test catalog --test discount --test order --test tutorial --test grpc_interop --test refusals --test identity --test bad_input

.PHONY: help keys python stubs test test-rust test-python interop clean

help:
	@echo "make keys      write a CA and service certificates into keys/ (FORCE=1 replaces them)"
	@echo "make test      cargo test for the whole workspace, then the Python unit tests"
	@echo "make interop   run the language matrix and print it as a table"
	@echo "make python    make or refresh the Python environment (.venv) and its generated stubs"
	@echo "make clean     remove build output, the Python environment and keys"

$(INTEROP): FORCE
	@$(CARGO) build --quiet -p interop

FORCE:

keys: $(INTEROP)
	$(INTEROP) keys --out keys $(if $(FORCE),--force)

# The stubs are generated into the venv from proto/ and remade whenever a .proto changes.
python stubs: $(INTEROP)
	$(INTEROP) python

test: test-rust test-python

test-rust:
	$(CARGO) test --workspace

test-python: python
	.venv/bin/python -m pytest python-services -q

interop: $(INTEROP)
	@mkdir -p $(RUN_DIR)
	@status=0; \
	$(CARGO) test $(MATRIX_TESTS) 2>&1 | tee $(RUN_DIR)/last-run.txt || status=$$?; \
	echo; echo "== interop matrix (backend: $${INTEROP_BACKEND:-local})"; \
	$(INTEROP) report --markdown $(RUN_DIR)/matrix.md --known-failures tests/grpc_interop_known_failures.txt < $(RUN_DIR)/last-run.txt || status=$$?; \
	echo "(table also in $(RUN_DIR)/matrix.md)"; \
	exit $$status

clean:
	$(CARGO) clean
	rm -rf .venv .interop-venv.lock
	find keys -maxdepth 1 -name '*.pem' -delete
