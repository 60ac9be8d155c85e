# Set-up and the main jobs. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup run test bench example lint clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)
	$(PY) -m idp.bootstrap
	$(PY) manage.py migrate --noinput
	$(PY) manage.py staff_roles

run: setup
	$(PY) manage.py seed_demo
	@echo "Identity provider: http://127.0.0.1:8000/  (discovery: /.well-known/openid-configuration)"
	$(PY) manage.py runserver 127.0.0.1:8000

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/run.py

example: setup
	$(PY) manage.py seed_demo
	$(PY) examples/rp.py --both

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var
