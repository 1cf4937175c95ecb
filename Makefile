# opsdata — the two commands that matter: `make demo` and `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
BIN      := bin/opsdata
SPEC     := datasets/demo.yaml
DEMO_DIR := demo-data
OUT      := out
VENV     := .venv

.PHONY: all build demo demo-data test test-go test-fuzz test-e2e test-python venv bench fuzz lint clean baselines notebooks

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/opsdata

# Generate the demo cluster's inputs once (deterministic, so reuse is safe).
$(DEMO_DIR)/ground_truth/incidents.json:
	@rm -rf $(DEMO_DIR)
	$(BIN) demo --dir $(DEMO_DIR)

demo-data: build $(DEMO_DIR)/ground_truth/incidents.json

# Build, generate the demo cluster, export it and show what was published.
# The demo's version is rebuilt each time: published versions are immutable,
# and a new build of opsdata (code_version) makes different manifest bytes.
demo: demo-data
	@rm -rf $(OUT)/demo-cluster
	$(BIN) export --spec $(SPEC)
	$(BIN) inspect $(OUT)/demo-cluster

venv:
	scripts/venv.sh $(VENV)

# The card's baseline scores (docs/decisions/0035): run notebooks/baselines.py on a fresh
# export of the demo and write datasets/demo-baselines.json. Re-run when the demo's
# windows change (the card then says its baselines are stale), and commit the file.
baselines: demo-data venv
	OPSDATA_BIN=$(BIN) VENV=$(VENV) scripts/baselines.sh $(SPEC) datasets/demo-baselines.json

# Executed copies of the notebooks, against the demo export, as HTML in notebooks/rendered/.
notebooks: demo venv
	OPSDATA_BIN=$(CURDIR)/$(BIN) OPSDATA_VERSION_DIR=$(CURDIR)/$(OUT)/demo-cluster/$$(cat $(OUT)/demo-cluster/latest) \
		$(VENV)/bin/python scripts/render_notebooks.py notebooks notebooks/rendered

test-go:
	$(GO) test -race -count=1 -timeout 20m ./...
	# The ten-night scenarios and the resume properties take minutes under -race: once more without it.
	$(GO) test -count=1 -timeout 20m -run '^(TestTenNights|TestResumeFallsBackToFull|TestResumeEqualsBatch|TestNightsFromShards)' ./pipeline/nightly/ ./pipeline/runner/

# End-to-end: the built binary against the real demo export.
test-e2e: demo venv
	OPSDATA_BIN=$(CURDIR)/$(BIN) OPSDATA_DEMO_DIR=$(CURDIR)/$(DEMO_DIR) OPSDATA_OUT=$(CURDIR)/$(OUT) OPSDATA_SPEC=$(CURDIR)/$(SPEC) \
		$(GO) test -race -count=1 -timeout 30m -tags e2e ./tests/e2e/

test-python: venv demo
	OPSDATA_BIN=$(CURDIR)/$(BIN) OPSDATA_VERSION_DIR=$(CURDIR)/$(OUT)/demo-cluster/$$(cat $(OUT)/demo-cluster/latest) $(VENV)/bin/python -m pytest tests/python -q

# Everything: unit tests with -race, the end-to-end suite, the Python readers and notebooks.
test: test-go test-fuzz test-e2e test-python

bench:
	scripts/bench.sh

# Every fuzz target with its package: the anonymizer, the log line parsers,
# the spec parser (committed corpora under each package's testdata/fuzz).
FUZZ_TARGETS := FuzzText:./pipeline/anonymize FuzzSecrets:./pipeline/anonymize FuzzPolicy:./pipeline/anonymize FuzzHostFinder:./pipeline/anonymize \
	FuzzLineParsers:./pipeline/sources/logfile FuzzJSONLine:./pipeline/sources/logfile FuzzFlatScan:./pipeline/sources/logfile \
	FuzzLogfmtScan:./pipeline/sources/logfile FuzzCRIJoin:./pipeline/sources/logfile FuzzRestMatcher:./pipeline/sources/logfile FuzzParseDefault:./pipeline/sources/logfile FuzzParse:./spec
FUZZTIME ?= 20s

fuzz:
	@for t in $(FUZZ_TARGETS); do f=$${t%%:*}; p=$${t#*:}; \
		echo "fuzz $$f ($$p) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$p || exit 1; done

# A short run of each fuzz target, part of make test: a count, not a
# duration (a duration can end the run with a spurious "context deadline
# exceeded" from the fuzzing engine).
test-fuzz:
	$(MAKE) fuzz FUZZTIME=5000x

clean:
	rm -rf bin $(OUT) $(DEMO_DIR)
