# berth — build, test, install. The two set-up commands on a fresh Debian 12 machine are
# `sudo make demo` and `sudo make test`; both install what they need first (deps).

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
MUSL       := x86_64-unknown-linux-musl
CARGO      ?= $(shell command -v cargo 2>/dev/null || echo $(HOME)/.cargo/bin/cargo)

export BERTH_GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all build release static install test test-static bench demo deps deps-static deps-bench clean

all: build

build:
	$(CARGO) build --release

release: build

# A static x86_64 binary (musl libc, bundled SQLite): target/$(MUSL)/release/berth.
static: deps-static
	CC_x86_64_unknown_linux_musl=musl-gcc $(CARGO) build --release --target $(MUSL)
	@ls -l target/$(MUSL)/release/berth

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -m 0755 target/release/berth $(DESTDIR)$(BINDIR)/berth
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@BINDIR@|$(BINDIR)|' contrib/systemd/berth.service > $(DESTDIR)$(UNITDIR)/berth.service
	install -m 0644 contrib/systemd/berth.socket $(DESTDIR)$(UNITDIR)/berth.socket
	@if [ -z "$(DESTDIR)" ]; then getent group berth >/dev/null || groupadd --system berth; \
	  command -v systemctl >/dev/null && systemctl daemon-reload 2>/dev/null || true; fi

# Unit tests, then the integration tests (as root: real namespaces, mounts, cgroups).
test: deps
	$(CARGO) build
	$(CARGO) test

# The integration tests again, driving the static binary users install: musl is not glibc
# (its SOMAXCONN is 128, its allocator maps memory differently), and only this build shows
# it. CI runs both.
test-static: static
	BERTH_BIN=$(CURDIR)/target/$(MUSL)/release/berth $(CARGO) test --test '*'

# Measured with the static binary, the one users install.
bench: static deps-bench
	BERTH_BIN=$(CURDIR)/target/$(MUSL)/release/berth $(CARGO) bench --bench engine
	BERTH_BIN=$(CURDIR)/target/$(MUSL)/release/berth $(CARGO) bench --bench pull
	BERTH_BIN=$(CURDIR)/target/$(MUSL)/release/berth $(CARGO) bench --bench network

demo: deps build
	scripts/demo.sh target/release/berth

deps:
	scripts/deps.sh

deps-static: deps
	scripts/deps.sh static

# dockerd for the side-by-side pull, debootstrap for the benchmark image.
deps-bench: deps
	scripts/deps.sh bench

clean:
	$(CARGO) clean
