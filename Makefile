# Two commands do all the set-up on a fresh machine:
#   make run            the terminal app on a demo folder it generates (or: make run DIR=path/to/clips)
#   make test           the whole test suite (what .ci/run calls)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DIR ?=

.PHONY: install sysdeps run test bench demo clean

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev,ray]'
	# rapidocr-onnxruntime declares opencv-python (GUI build) which clashes with opencv-python-headless over cv2;
	# its other requirements are in pyproject.toml, so it is installed without its declared dependencies.
	$(PY) -m pip install -q --no-deps 'rapidocr-onnxruntime==1.4.4'
	touch $@

install: $(VENV)/.installed

# Debian packages the tests use when present (headless Chromium renders the HTML report; espeak-ng speaks test
# sentences). Installed when running as root with apt; the tests that need them skip with a reason otherwise.
SYSDEPS := chromium espeak-ng
sysdeps:
	@missing=""; for b in chromium espeak-ng; do command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSDEPS) >/dev/null) \
	      || echo "could not install$$missing: the tests that need them will skip"; \
	  else echo "not installed:$$missing (needs root and apt): the tests that need them will skip"; fi; \
	fi

run: install
ifeq ($(DIR),)
	$(VENV)/bin/byteme demo demo --open
else
	$(VENV)/bin/byteme tui "$(DIR)"
endif

test: install sysdeps
	$(VENV)/bin/pytest -q

bench: install
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .cache demo
