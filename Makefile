# The two commands a newcomer runs: `make demo` and `make test`. Each sets itself up: the virtual
# environment in .venv is made and filled when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages that the tests use as independent references: sox writes audio files with
# encoders other than libsndfile's; abc2midi and abcm2ps read the ABC the composer writes;
# fluidsynth (with its General MIDI sound font) plays tunes for the transcription tests;
# liblo-tools' oscdump and oscsend are the OSC peers; jack-midi-clock's jack_midi_clock and
# jack_mclk_dump the MIDI clock's; chromium shows the live view's page.
# Installed by `make test` when it runs as root with apt-get.
DEBIAN_PACKAGES := sox abcmidi abcm2ps jackd2 libportaudio2 fluidsynth liblo-tools \
	jack-midi-clock chromium

.PHONY: demo test lint bench system-packages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -e '.[dev,fit,plot,train,dask]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/listener demo

test: $(STAMP) system-packages lint
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check listener tests scripts
	$(BIN)/ruff format --check listener tests scripts

bench: $(STAMP)
	$(BIN)/listener bench features

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections 2>/dev/null; \
	  apt-get install -y --no-install-recommends $$missing >/dev/null \
	  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	else \
	  echo "not root or no apt-get: the tests that need$$missing will skip (install them to run those)"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -type d -prune -exec rm -rf {} +
