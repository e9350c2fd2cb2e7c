# Two commands set everything up on a fresh machine with python3 and make:
#   make demo   - demo cohort -> manifest -> train + evaluate the PretrainedResNet2D bundle
#   make test   - the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU wheel of torch; an unpinned torch would pull several GB of CUDA on a CPU machine.
TORCH_SPEC ?= torch==2.13.0
DEMO_DIR ?= demo
DEMO_EPOCHS ?= 15
BUNDLE ?= bundles/ms_activity_pretrained_resnet2d

.PHONY: demo test bench lint clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m msmonai.demo_job --out $(DEMO_DIR) --bundle $(BUNDLE) --num_epochs $(DEMO_EPOCHS)

test: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(VENV)/.installed
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
