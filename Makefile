PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_OLLAMA_PORT ?= 11435
# The scale-out suite: the same tests on PostgreSQL and Redis, but for the browser
# tests, which check the page and run against the embedded defaults in `make test`.
SCALEOUT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/chat
SCALEOUT_REDIS_URL ?= redis://127.0.0.1:6379/9

.PHONY: run test test-scaleout demo lint format clean bench

$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python -m chatsite.serve -b $(HOST) -p $(PORT)

test: $(VENV)/.dev
	$(BIN)/pytest

test-scaleout: $(VENV)/.dev
	DATABASE_URL=$(SCALEOUT_DATABASE_URL) REDIS_URL=$(SCALEOUT_REDIS_URL) $(BIN)/pytest --ignore=tests/browser

# The app against the fake Ollama server, for trying it without a model.
demo: $(VENV)/.runtime
	$(BIN)/python -m tests.fake_ollama --port $(DEMO_OLLAMA_PORT) & \
	trap "kill $$!" EXIT; \
	OLLAMA_HOST=http://127.0.0.1:$(DEMO_OLLAMA_PORT) $(MAKE) run

# The app against the fake Ollama server next to direct clients; the table goes into docs/performance.md.
bench: $(VENV)/.dev
	$(BIN)/python -m bench.run --output docs/performance.md

lint: $(VENV)/.dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles
