# Two commands set everything up on a fresh machine with python3 and make:
#   make demo   - demo cohort -> manifest -> 5-fold cv of the ResNet3D bundle (CPU schedule) with baselines
#   make test   - the test suite
# and, where a Docker engine runs: make image-cpu (the image, CPU) and make image-test (its end-to-end checks)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU wheel of torch; an unpinned torch would pull several GB of CUDA on a CPU machine.
TORCH_SPEC ?= torch==2.13.0
DEMO_DIR ?= demo
BUNDLE ?= bundles/ms_activity_resnet3d
# the 2-core CPU schedule of the 3D bundles: 25x64x64 volumes, narrow widths, 20 epochs (docs/training.md)
DEMO_OVERLAY ?= configs/cpu_small.json
# extras installed into the venv; `make test EXTRAS=dev,federated` also runs the federated tests (.ci/run does)
EXTRAS ?= dev

.PHONY: demo test bench bench-learning bench-federated image-cpu image-test clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m msmonai.demo_job --out $(DEMO_DIR) --bundle $(BUNDLE) --overlay $(DEMO_OVERLAY)

test: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(VENV)/.installed
	$(BIN)/python -m bench.run

# rows 7 and 9: each architecture's bundle cross-validated three ways (MRI + EDSS, MRI only, EDSS only), and the
# detection limit (ResNet3D against lesion strength 0-3 with the baselines); hours on 2 cores
bench-learning: $(VENV)/.installed
	$(BIN)/python -m bench.run --only 7 9 --out bench/results/learning

# row 8: ResNet3D trained federated (NVFlare simulator, 3 sites) vs centralised vs each site alone; needs .[federated]
bench-federated: $(VENV)/.installed
	$(BIN)/python -m bench.run --only 8 --out bench/results/federated

# msmonai:cpu from Debian's packages and the CPU torch wheel, built from the unchanged Dockerfile (root and a Docker
# engine; no image registry needed: docs/deployment.md), and the README's Docker commands run against it
image-cpu:
	TORCH_SPEC="$(TORCH_SPEC)" docker/build-cpu-image.sh

image-test: $(VENV)/.installed
	PYTHON=$(BIN)/python docker/image-test.sh

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
