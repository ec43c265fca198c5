# portcullis — the two commands a new user types are `make run` and `make test`.
# Everything else is for developers: make, make bench, make fuzz, make clean.

BUILD      := build
TEST_BUILD := build-test
FUZZ_BUILD := build-fuzz
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60
TEST_FUZZ_SECONDS ?= 10

.PHONY: all build run test unit e2e fuzz fuzz-build bench soak clean deps deps-test install install-files uninstall

all: build

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Build, make ./var (0700), create development secrets once, start on
# 127.0.0.1:8080 with the embedded SQLite store; the "listening" line names
# the URL to open (scripts/run.sh; tests/e2e/operate.test.mjs runs it).
run: build
	@scripts/run.sh $(BUILD)/portcullis

$(TEST_BUILD)/portcullis: deps-test
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPC_SANITIZE=ON -DPC_TESTS=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

unit: $(TEST_BUILD)/portcullis
	@cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

e2e: $(TEST_BUILD)/portcullis
	@scripts/e2e.sh $(TEST_BUILD)/portcullis

# The release build (what `make run` uses: -O2 with _FORTIFY_SOURCE warns
# about things the debug build does not), the layering check (includes point
# down only: scripts/check-layers.sh), the secret scan (no credential-shaped
# string in the tree or its history: scripts/secret-scan.sh), unit tests, end-to-end tests
# against the sanitized binary, then a short fuzzing pass of every target.
# Any failure fails the whole command.
test: deps-test
	@$(MAKE) --no-print-directory build
	@scripts/check-layers.sh
	@scripts/secret-scan.sh
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

fuzz-build: deps-test
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPC_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# A long soak (default 10 minutes) of mixed traffic against the sanitized
# binary: zero 5xx, flat RSS and descriptors, then kill -9 while writing.
SOAK_SECONDS ?= 600
soak: $(TEST_BUILD)/portcullis
	@cd tests/e2e && npm ci --ignore-scripts --no-audit --no-fund >/dev/null && \
	  PORTCULLIS_BIN=$(CURDIR)/$(TEST_BUILD)/portcullis PORTCULLIS_SOAK_SECONDS=$(SOAK_SECONDS) \
	  PORTCULLIS_E2E_OUT=$(CURDIR)/bench/results/raw node --test soak.test.mjs
	@cp bench/results/raw/soak.json bench/results/soak.json && echo "soak: bench/results/soak.json"

bench: build
	@scripts/deps.sh bench
	@bench/run.sh $(BUILD)/portcullis

# make install [PREFIX=/usr/local] [DESTDIR=]: the release binary, the man
# page, the systemd unit (its ExecStart pointed at $(PREFIX)/bin) and the
# deploy/ examples. The Debian package (debian/) installs through it.
PREFIX   ?= /usr/local
DESTDIR  ?=
UNITDIR  ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)

install: build
	@$(MAKE) --no-print-directory install-files

# The files of an existing release build ($(BUILD)/portcullis), no build step:
# what debian/rules calls after its own build.
install-files:
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/doc/portcullis/examples
	install -m 0755 $(BUILD)/portcullis $(DESTDIR)$(PREFIX)/bin/portcullis
	install -m 0644 man/man1/portcullis.1 $(DESTDIR)$(PREFIX)/share/man/man1/portcullis.1
	sed 's|^ExecStart=/usr/bin/portcullis|ExecStart=$(PREFIX)/bin/portcullis|' \
	  deploy/systemd/portcullis.service >$(DESTDIR)$(UNITDIR)/portcullis.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/portcullis.service
	cp -R deploy/. $(DESTDIR)$(PREFIX)/share/doc/portcullis/examples/
	chmod -R u=rwX,go=rX $(DESTDIR)$(PREFIX)/share/doc/portcullis/examples

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/portcullis $(DESTDIR)$(PREFIX)/share/man/man1/portcullis.1 \
	  $(DESTDIR)$(UNITDIR)/portcullis.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/portcullis/examples

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)
