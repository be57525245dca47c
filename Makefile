# Two commands do all the set-up on a fresh machine:
#   make run            the terminal app on a demo folder it generates (or: make run DIR=path/to/clips)
#   make test           the whole test suite (what .ci/run calls)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DIR ?=
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: install run test bench demo clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# rapidocr-onnxruntime declares opencv-python (GUI build) which clashes with opencv-python-headless over cv2;
	# its other requirements are in pyproject.toml, so it is installed without its declared dependencies.
	$(PY) -m pip install -q --no-deps 'rapidocr-onnxruntime==1.4.4'
	touch $@

install: $(VENV)/.installed

run: install
ifeq ($(DIR),)
	$(VENV)/bin/byteme demo demo --open
else
	$(VENV)/bin/byteme tui "$(DIR)"
endif

test: install
	$(VENV)/bin/pytest -q

bench: install
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .cache demo
