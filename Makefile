# shopfloor: build, test, bench and the bundled demo.
# Targets that need Debian packages install them when they are missing (needs root, as on CI).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := graphviz bubblewrap

.PHONY: build test bench demo demo-pipeline system-deps lint

build: system-deps $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

system-deps:
	@missing=""; \
	command -v dot >/dev/null || missing="$$missing graphviz"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	  || { echo "could not install$$missing: run 'apt-get install$$missing' as root" >&2; exit 1; }; \
	fi

lint: build
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: build
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

demo: build
	@rm -rf runs/notifier && mkdir -p runs/notifier
	cd examples/notifier && SHOPFLOOR_HOME=$(CURDIR)/runs/notifier/home \
	  $(CURDIR)/$(BIN)/shopfloor run factory.dot --backend auto --auto-approve \
	  --logs-root $(CURDIR)/runs/notifier/run; status=$$?; \
	  SHOPFLOOR_HOME=$(CURDIR)/runs/notifier/home $(CURDIR)/$(BIN)/shopfloor releases --target notifier; \
	  SHOPFLOOR_HOME=$(CURDIR)/runs/notifier/home $(CURDIR)/$(BIN)/shopfloor release stop-target --target notifier; \
	  $(CURDIR)/$(BIN)/shopfloor report --logs-root $(CURDIR)/runs/notifier/run; exit $$status

demo-pipeline: build
	$(BIN)/shopfloor run examples/pipeline/release_train.dot --auto-approve --logs-root runs/demo
