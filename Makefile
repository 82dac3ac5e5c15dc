# emsagent — hand-written Makefile. `make` builds, `make check` runs every
# test, `make demo` scans the bundled samples, `make bench` measures.
# Libraries come from pkg-config; scripts/install-deps.sh installs what is
# missing on a fresh Debian machine (run automatically once, see .deps-ok).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/emsagent
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
PKGS    := yaml-0.1 libhs libpcre2-8 json-c libserialport
# Recursive (=) so pkg-config runs after .deps-ok has installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Werror
OPT     ?= -O2 -g
CFLAGS  ?=
ALL_CFLAGS = -std=gnu11 $(OPT) $(WARN) -Iinclude $(PKG_CFLAGS) \
	-DEMSAGENT_DATADIR='"$(DATADIR)"' $(CFLAGS)
LDLIBS  = $(PKG_LIBS) -lm

B       := build
AGENT_SRC := $(sort $(wildcard agent/*.c))
LIB_SRC   := $(filter-out agent/main.c,$(AGENT_SRC))
LIB_OBJ   := $(LIB_SRC:agent/%.c=$(B)/obj/%.o)
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
BIN       := $(B)/emsagent
# The Windows guest simulator (tests/sim): its core links into unit tests of
# the SAC client, guestsim serves it on a pty/socket for end-to-end tests.
SIM_CORE  := $(if $(wildcard tests/sim/sacsim.c),$(B)/sim/sacsim.o)
SIM_TESTS := $(if $(wildcard tests/sim/test_sacsim.c),$(B)/tests/test_sacsim)
GUESTSIM  := $(if $(wildcard tests/sim/guestsim.c),$(B)/sim/guestsim)


.PHONY: sim
.PHONY: qemu-e2e
.PHONY: all check unit ruletests clitests demo bench asan fuzz install clean format format-check deps e2e bench-live bench-attach
.PHONY: attach-e2e

all: $(BIN) $(GUESTSIM)

.deps-ok: scripts/install-deps.sh
	@scripts/install-deps.sh
	@touch $@

deps:
	@scripts/install-deps.sh

$(B)/obj/%.o: agent/%.c $(wildcard include/emsagent/*.h agent/*.h) | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The installed pack's path is compiled in: rebuild what uses it when PREFIX
# or DATADIR change (the stamp is rewritten only when its content differs).
$(B)/datadir.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(DATADIR)' | cmp -s - $@ 2>/dev/null || echo '$(DATADIR)' > $@
$(B)/obj/cli_common.o: $(B)/datadir.stamp
.PHONY: FORCE
FORCE:

$(B)/libemsagent.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(B)/obj/main.o $(B)/libemsagent.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libemsagent.a $(wildcard tests/unit/*.h) | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(B)/libemsagent.a $(LDLIBS) $(CMOCKA_LIBS)

# The Windows guest simulator (tests/sim): its core links into unit tests of
# the SAC client, guestsim serves it on a pty/socket for end-to-end tests.

$(B)/sim/%.o: tests/sim/%.c $(wildcard tests/sim/*.h include/emsagent/*.h) | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iagent -Itests/sim -c -o $@ $<

$(B)/sim/guestsim: $(patsubst tests/sim/%.c,$(B)/sim/%.o,$(filter-out tests/sim/test_%.c tests/sim/simclient.c,$(wildcard tests/sim/*.c))) $(B)/libemsagent.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/sim/simclient: tests/sim/simclient.c | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $<

$(B)/tests/test_sacsim: tests/sim/test_sacsim.c $(SIM_CORE) $(B)/libemsagent.a | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/sim -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)

# The SAC client's unit tests talk to the simulator core in-process.
$(B)/tests/test_sac: tests/unit/test_sac.c $(SIM_CORE) $(B)/libemsagent.a | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Itests/sim -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)

$(B)/tests/test_dump: tests/unit/test_dump.c $(SIM_CORE) $(B)/libemsagent.a | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Itests/sim -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)

sim: $(SIM_TESTS) $(GUESTSIM) $(BIN)
	@fail=0; for t in $(SIM_TESTS); do echo "== $$t"; $$t || fail=1; done; \
	if [ -f tests/sim/test_guestsim.sh ]; then \
		echo "== tests/sim/test_guestsim.sh"; \
		EMSAGENT=$(abspath $(BIN)) GUESTSIM=$(abspath $(B)/sim/guestsim) bash tests/sim/test_guestsim.sh || fail=1; \
	fi; exit $$fail

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
		echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

ruletests: $(BIN)
	$(BIN) rules check rules
	$(BIN) rules test rules

clitests: $(BIN) $(GUESTSIM)
	@fail=0; for t in $(sort $(wildcard tests/cli/*.sh)); do \
		echo "== $$t"; EMSAGENT=$(abspath $(BIN)) bash $$t || fail=1; \
	done; exit $$fail

# End-to-end: real peers (ptys, sockets, telnet) against `emsagent watch`.
e2e: $(BIN) $(GUESTSIM)
	@EMSAGENT=$(abspath $(BIN)) GUESTSIM=$(abspath $(B)/sim/guestsim) bash tests/e2e/run.sh

# `emsagent attach` in a real terminal: tmux panes against the guest
# simulator, peers and a watcher's sockets (issue 6 acceptance).
attach-e2e: all
	@EMSAGENT=$(abspath $(BIN)) GUESTSIM=$(abspath $(B)/sim/guestsim) bash tests/attach/run.sh

# A real Linux guest under QEMU (TCG): Debian's kernel and a busybox
# initramfs built under $(B)/guest by tests/e2e/guest/build-guest.sh.
# Prints SKIP and succeeds when QEMU or the kernel cannot be had.
qemu-e2e: $(BIN)
	@EMSAGENT=$(abspath $(BIN)) bash tests/e2e/qemu.sh

check: .deps-ok all unit ruletests clitests e2e sim attach-e2e qemu-e2e format-check
	@echo "make check: all passed"

demo: $(BIN) $(GUESTSIM)
	@scripts/demo.sh $(BIN)

bench: $(BIN)
	@tests/bench/run.sh $(BIN)

# 256 live consoles at 115200 baud line rate: CPU, RSS and event latency.
bench-live: $(BIN)
	@EMSAGENT=$(abspath $(BIN)) bash tests/e2e/bench-live.sh

# Console output through `emsagent attach` beside cat and picocom.
bench-attach: $(BIN)
	@EMSAGENT=$(abspath $(BIN)) bash tests/bench/attach.sh

asan:
	$(MAKE) B=build-asan OPT='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer' \
		BIN=build-asan/emsagent unit ruletests clitests

fuzz: .deps-ok
	@tests/fuzz/build.sh

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/rules $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/emsagent
	cd rules && find . -name '*.yaml' -exec install -D -m 0644 {} $(DESTDIR)$(DATADIR)/rules/{} \;
	install -m 0644 doc/emsagent.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 doc/emsagent-rules.5 $(DESTDIR)$(MANDIR)/man5/

format:
	clang-format -i agent/*.c agent/*.h include/emsagent/*.h tests/unit/*.c tests/unit/*.h

format-check:
	@if command -v clang-format >/dev/null 2>&1; then \
		clang-format --dry-run --Werror agent/*.c agent/*.h include/emsagent/*.h tests/unit/*.c tests/unit/*.h \
		&& echo "format-check: clean"; \
	else echo "format-check: clang-format not installed, skipped"; fi

clean:
	rm -rf $(B) build-asan
