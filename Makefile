# genodsl: `make demo` runs the main job on a built-in default; `make test` runs the tests.
PYTHON ?= python3
PIP    ?= $(PYTHON) -m pip
STAMP  := .install.stamp

.PHONY: install demo test bench clean

# torch first (the local CPU wheel), so the project's open range never pulls a CUDA build.
$(STAMP): pyproject.toml
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[dev,images,plots,medical,export,log,lsp]"
	@if ! command -v dot >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) || \
		echo "note: could not install graphviz; renders fall back to .dot text"; fi
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m genodsl demo --out runs/demo

test: $(STAMP)
	$(PYTHON) -m pytest -q -n 2

bench: $(STAMP)
	$(PYTHON) bench/train_throughput.py
	$(PYTHON) bench/search_memory.py

clean:
	rm -rf runs/demo $(STAMP) .pytest_cache
