# Kairos: `make help` lists the targets. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export KAFKAJS_NO_PARTITIONER_WARNING := 1

# Node.js 24 first on PATH for every recipe (npm, npx, tsc, jest, the services): the machine's
# when it is 24 or later, else the pinned build infra/node.sh fetches once into ~/.cache/kairos.
# The targets that run no Node on this machine (help, clean, stop, chromium, image) skip it.
ifneq ($(filter-out help clean stop chromium image,$(or $(MAKECMDGOALS),help)),)
NODE_BIN := $(shell infra/node.sh)
ifeq ($(NODE_BIN),)
$(error Node.js 24 is not available (infra/node.sh, message above))
endif
export PATH := $(NODE_BIN):$(PATH)
endif

NODE_MODULES := node_modules/.package-lock.json
BUILD := dist/.built

.PHONY: help install build up down start stop test test-unit test-integration test-browser chromium lint demo bench chaos footprint image clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NODE_MODULES) ## npm ci (only when package-lock.json changed)

# tsc, then what the services read at run time copied beside the code (infra/dist-assets.js), so dist/ runs on its own.
$(BUILD): $(NODE_MODULES) tsconfig.json tsconfig.build.json infra/dist-assets.js $(shell find services bench -name '*.ts' -o -name '*.lua' 2>/dev/null) $(shell find config schemas services/console/views services/console/static -type f 2>/dev/null)
	npx tsc -p tsconfig.build.json
	node infra/dist-assets.js
	@touch $@

build: $(BUILD) ## compile TypeScript into dist/, with the Lua scripts, schemas, views and default config beside it

up: $(BUILD) ## start Kafka, Apicurio Registry, Redis and the SES emulator; create topics, register schemas
	infra/stack.sh up
	@mkdir -p logs/stack
	node dist/services/tools/provision.js >>logs/stack/provision.log 2>&1 || { echo "provisioning failed; see logs/stack/provision.log" >&2; exit 1; }
	@echo "stack is up; logs in logs/stack/"

down: $(BUILD) ## stop what `make up` started, and delete Kairos's Redis keys (REDIS_KEY_PREFIX only)
	@# The broker's data goes with it (stack.sh), so the state derived from that log must go too:
	@# kept, its offsets would make the next run skip the new log's records.
	@if redis-cli -u "$${REDIS_URL:-redis://127.0.0.1:6379}" ping >/dev/null 2>&1; then node dist/services/tools/state.js wipe; fi
	infra/stack.sh down

start: $(BUILD) ## run every service in the background against the running stack (logs in logs/)
	infra/services.sh start

stop: ## stop the services started by `make start`
	infra/services.sh stop

lint: $(NODE_MODULES) ## type-check and lint
	npx tsc -p tsconfig.json --noEmit
	npx eslint .

# Debian's chromium for the browser tests (playwright-core drives it; it downloads no browser).
# CHROMIUM_PATH names another Chromium or Chrome binary instead.
chromium: ## install Debian's chromium for the browser tests when it is missing (apt-get; sudo when not root)
	@if [ -n "$${CHROMIUM_PATH:-}" ]; then [ -x "$$CHROMIUM_PATH" ] || { echo "CHROMIUM_PATH=$$CHROMIUM_PATH is not an executable" >&2; exit 1; }; \
	elif ! command -v chromium >/dev/null 2>&1; then \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  command -v apt-get >/dev/null 2>&1 || { echo "the browser tests need Chromium: install it with your package manager, or set CHROMIUM_PATH to a Chromium or Chrome binary" >&2; exit 1; }; \
	  echo "installing Debian's chromium for the browser tests ($$sudo apt-get install -y chromium)"; \
	  $$sudo apt-get install -y chromium || { $$sudo apt-get update && $$sudo apt-get install -y chromium; } \
	    || { echo "could not install chromium: run 'sudo apt-get update && sudo apt-get install -y chromium' yourself, or set CHROMIUM_PATH to a Chromium or Chrome binary" >&2; exit 1; }; \
	fi

test: $(BUILD) lint chromium ## everything: lint, unit, integration and browser tests against the real stack
	@mkdir -p logs
	@infra/with-stack.sh infra/jest-all.sh; status=$$?; cat logs/jest-summary.txt 2>/dev/null; exit $$status

test-unit: $(NODE_MODULES) ## the fast unit tests only (no stack)
	npx jest --selectProjects unit

test-integration: $(BUILD) ## the integration tests only (starts the stack if needed)
	@mkdir -p logs
	@infra/with-stack.sh npx jest --selectProjects integration --maxWorkers=2

test-browser: $(BUILD) chromium ## the console in headless Chromium only (starts the stack if needed; screenshots in test-results/console/)
	@mkdir -p logs
	@infra/with-stack.sh npx jest --selectProjects browser --runInBand

demo: $(BUILD) ## start the stack and every service, replay a synthetic shop day, let recipients open, click and buy, summarize (Ctrl-C stops cleanly)
	@$(MAKE) --no-print-directory up
	@$(MAKE) --no-print-directory start
	set -a; . infra/local.env; set +a; node dist/services/tools/demo.js

bench: $(BUILD) ## the benchmarks against the real local stack (12 to 20 minutes): table + bench/results.json
	@mkdir -p logs/stack
	@infra/with-stack.sh node dist/bench/main.js

chaos: $(BUILD) ## the whole chain under faults (kills, broker outage, Redis loss, hostile records, 10-min soak; about 20 minutes): table + logs/chaos/result.json
	@mkdir -p logs/stack
	@infra/with-stack.sh node dist/bench/chaos/main.js

footprint: $(BUILD) ## every service's memory and CPU on a real run, each under its manifest's memory limit (about 5 minutes): table + logs/footprint.json (docs/sizing.md)
	@mkdir -p logs/stack
	@infra/with-stack.sh node dist/bench/footprint.js

image: ## build the container image kairos:local (needs a Docker engine; docs/deployment.md)
	@docker info >/dev/null 2>&1 || { echo "make image needs a Docker engine, and none answers here; see docs/deployment.md" >&2; exit 1; }
	docker build -t kairos:local .

clean: ## remove build output, logs and stack state (not the download cache)
	rm -rf dist logs .stack test-results bench/streams/target
