# hoop: build, test, lint, bench, demo. `make test` is what CI runs (.ci/run).
GO      ?= go
BIN     ?= bin
PKGS    := ./...
STATICCHECK_VERSION ?= v0.8.2
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

.PHONY: all build cross test unit lint tidy-check staticcheck bench demo demo-check clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/hoop ./cmd/hoop
	$(GO) build -o $(BIN)/hoopd ./cmd/hoopd

# The CLI for every platform .goreleaser.yaml ships, pure Go.
cross:
	@for os in linux darwin windows; do for arch in amd64 arm64; do \
		echo "CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build ./cmd/hoop"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o /dev/null ./cmd/hoop || exit 1; \
	done; done

# The whole suite: lint, the CLI's pure-Go build, and every test with the race detector
# against a real PostgreSQL (the tests start their own).
test: lint cross
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	scripts/demo.sh --check

unit:
	$(GO) test -count=1 -short $(PKGS)

lint: tidy-check staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

tidy-check:
	@cp go.mod /tmp/hoop-go.mod.bak; cp go.sum /tmp/hoop-go.sum.bak; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/hoop-go.mod.bak || ! cmp -s go.sum /tmp/hoop-go.sum.bak; then \
		echo "go mod tidy changes go.mod/go.sum: run it and commit"; \
		cp /tmp/hoop-go.mod.bak go.mod; cp /tmp/hoop-go.sum.bak go.sum; exit 1; fi

staticcheck:
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	staticcheck $(PKGS)

# Go benchmarks of the hot paths, then the user-level benchmark against real PostgreSQL.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./tunnel/ ./server/postgres/ ./server/ ./classify/ ./mask/
	scripts/bench.sh

# A throwaway PostgreSQL, hoopd --dev, hoop login and hoop connect, and a query through it.
demo:
	scripts/demo.sh

demo-check:
	scripts/demo.sh --check

clean:
	rm -rf $(BIN)
