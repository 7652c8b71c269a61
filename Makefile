# Two entry points: `make study` runs the ablation study, `make test` runs every notebook's tests.
# Both set up .venv on first use. Data: DATA=/path/to/tiny-imagenet-200.zip, or $TINY_IMAGENET, or a download.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= $(TINY_IMAGENET)
STUDY_ARGS ?=

.PHONY: install study test test-all test-notebooks check-sync check-density readme clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt settings.ini setup.py
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

study: install
	$(BIN)/resnet-study run $(if $(DATA),--data "$(DATA)") $(STUDY_ARGS)

# Two tiers: `make test` is the fast one every change runs; `make test-all` adds the cells marked `#| slow` (real
# Quarto renders, a real Slurm cluster, the long end-to-end and fault tests), which CI runs.
test: install check-sync check-density test-notebooks

test-all: TEST_FLAGS = slow
test-all: install check-sync check-density test-notebooks

# Two notebooks at a time, one thread each: two processes of two OpenMP threads on two cores spin against each
# other and run many times slower than either alone.
test-notebooks: install
	TINY_IMAGENET="$(DATA)" OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing $(if $(TEST_FLAGS),--flags "$(TEST_FLAGS)")
	@echo "notebooks: $$(ls nbs/*.ipynb nbs/experiments/*.ipynb | wc -l) passed, 0 failed"

# The package must be what nbdev_export makes of the notebooks, and the notebooks must be clean (nbdev_clean).
check-sync: install
	@tmp=$$(mktemp -d); cp -r settings.ini nbs resnet_study "$$tmp"/; \
	if (cd "$$tmp" && $(CURDIR)/$(BIN)/nbdev_export && $(CURDIR)/$(BIN)/nbdev_clean) >/dev/null 2>&1 \
	   && diff -r -x __pycache__ resnet_study "$$tmp"/resnet_study && diff -r -x .ipynb_checkpoints nbs "$$tmp"/nbs; \
	then rm -rf "$$tmp"; echo "check-sync: resnet_study/ matches the notebooks, and the notebooks are clean"; \
	else rm -rf "$$tmp"; echo "check-sync: run nbdev_export and nbdev_clean: notebooks and resnet_study/ differ, or a notebook is not clean"; exit 1; fi

# fastai's density: at most 2% of code lines over 120 characters, no module over 260 lines (tools/density says where).
check-density:
	@out=$$($(PYTHON) tools/density) && echo "$$out" | tail -1 || { echo "$$out"; exit 1; }

# README quotes each committed study through a digest block (make test checks each against its records) and shows
# figures from its report. After committing a study's runs, `make readme` rewrites both from the committed records
# alone (a copy of HEAD's studies/, so runs still training here change nothing); then commit README.md and assets/.
README_FIGURES := full/accuracy-intervals:full-study-accuracy full/curves:full-study-curves depth/depth:depth-study
readme: install
	@tmp=$$(mktemp -d); git archive HEAD studies | tar -x -C "$$tmp" && cp README.md "$$tmp"/ && \
	for s in $$(git ls-files 'studies/*/study.json' | xargs -n1 dirname); do \
	  $(BIN)/resnet-study digest --out "$$tmp/$$s" --into "$$tmp/README.md" && \
	  $(BIN)/resnet-study report --out "$$tmp/$$s" >/dev/null || { rm -rf "$$tmp"; exit 1; }; done; \
	cp "$$tmp/README.md" README.md; \
	for f in $(README_FIGURES); do src=$${f%%:*}; cp "$$tmp/studies/$${src%%/*}/figures/$${src#*/}.png" "assets/$${f#*:}.png" && echo "assets/$${f#*:}.png"; done; \
	rm -rf "$$tmp"

clean:
	rm -rf $(VENV) _docs _proc _site
