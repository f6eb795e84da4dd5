# zos-agent: one build for three programs.
#
#   make                  build zos-agent, tfchain-dev and zos-cli into $(BUILD)/
#   make check            build and run every test (unit + integration)
#   make check SANITIZE=1 the same under ASan+UBSan (objects in build-san/)
#   make check-MODULE     only the unit tests of one module (tests/MODULE/)
#   make deps             install the Debian packages the build and tests need
#   make install          PREFIX=/usr/local DESTDIR= honoured
#
# Every directory below is one module with one library; tests/MODULE/test_*.c
# link against that module's library and the ones it depends on.

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-san
else
BUILD ?= build
endif
PREFIX ?= /usr/local
# systemd units; the Debian packages use /lib/systemd/system (debian/rules).
UNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=
CC ?= cc

PKGS := libcurl libarchive libsodium libcjson libsystemd libxxhash sqlite3 cmocka libmicrohttpd libssl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wformat=2 -Wvla \
	-fno-strict-aliasing -D_GNU_SOURCE -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS += $(PKG_LIBS) -lnng -lpthread -lm
ifeq ($(SANITIZE),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# The per-module rules below come first in the file; `make` still means `make all`.
.DEFAULT_GOAL := all

MODULES := common config chainclient rmb image provisioners agent devchain cli

# What each module's library needs, in link order.
DEPS_common :=
DEPS_config := common
DEPS_chainclient := common
DEPS_rmb := chainclient common
DEPS_image := common
DEPS_provisioners := image common
DEPS_agent := rmb provisioners image chainclient config common
DEPS_devchain := chainclient common
DEPS_cli := rmb chainclient config common

libof = $(BUILD)/lib$(1).a
libsfor = $(call libof,$(1)) $(foreach d,$(DEPS_$(1)),$(call libof,$(d)))

define module_rules
SRC_$(1) := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c))
OBJ_$(1) := $$(SRC_$(1):%.c=$(BUILD)/%.o)
$(call libof,$(1)): $$(OBJ_$(1))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
TESTS_$(1) := $$(patsubst tests/$(1)/%.c,$(BUILD)/tests/$(1)/%,$$(wildcard tests/$(1)/test_*.c))
$(BUILD)/tests/$(1)/%: tests/$(1)/%.c $(call libsfor,$(1))
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$< $(call libsfor,$(1)) $$(LDLIBS)
check-$(1): $$(TESTS_$(1))
	@BUILD=$(BUILD) tests/run-tests.sh $$(TESTS_$(1))
.PHONY: check-$(1)
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

BINS := $(BUILD)/zos-agent $(BUILD)/tfchain-dev $(BUILD)/zos-cli
ALL_TESTS := $(foreach m,$(MODULES),$(TESTS_$(m)))
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCHES := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

all: $(BINS)

$(BUILD)/zos-agent: $(BUILD)/agent/main.o $(call libsfor,agent)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tfchain-dev: $(BUILD)/devchain/main.o $(call libsfor,devchain)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/zos-cli: $(BUILD)/cli/main.o $(call libsfor,cli)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# Benchmarks link against everything; they are programs, not tests.
$(BUILD)/bench/%: bench/%.c $(call libsfor,agent) $(call libof,devchain) $(call libof,cli)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(foreach m,$(MODULES),$(call libof,$(m))) -Wl,--end-group $(LDLIBS)
bench: all $(BENCHES) $(TEST_TOOLS)

# Helper programs the integration scripts and benchmarks drive.
TEST_TOOLS := $(BUILD)/tests/image/imgtool $(BUILD)/tests/chainclient/batchtool
tests: all $(ALL_TESTS) $(TEST_TOOLS)

# The test command: unit tests of every module, then the integration
# scripts (which start devchains and agents on free loopback ports).
# The sanitizer pass runs the unit tests, the fuzz targets and the integration
# scripts named in tests/integration/sanitize.list (the ones that exercise our
# own code paths; those that mostly drive qemu, runc or a registry run only in
# the plain pass).
ifeq ($(SANITIZE),1)
INTEGRATION := $(addprefix tests/integration/,$(shell grep -v '^\#' tests/integration/sanitize.list))
else
INTEGRATION := $(sort $(wildcard tests/integration/test_*.sh))
endif
check: tests
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run-tests.sh $(ALL_TESTS) $(INTEGRATION)

# libFuzzer targets need clang; `make fuzz` builds them and runs each briefly
# (FUZZ_SECONDS, default 20; the sanitizer pass uses 4 for its 7 targets). The libraries they may use are built once with
# clang's instrumentation into one archive, so a target links only the objects
# it needs. New inputs go to $(BUILD)/fuzz/work/, never into the seed corpora
# in fuzz/corpus/; a crash or leak fails the target (artifacts in $(BUILD)/fuzz/).
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -I. $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB_SRC := $(wildcard common/*.c chainclient/*.c rmb/*.c config/*.c provisioners/*.c image/*.c) \
	agent/deployment.c $(filter-out devchain/main.c,$(wildcard devchain/*.c))
FUZZ_LIB_OBJ := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_BINS := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
$(BUILD)/fuzz/libfuzzdeps.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(BUILD)/fuzz/libfuzzdeps.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libfuzzdeps.a $(LDLIBS)
fuzz: $(FUZZ_BINS)
	@for b in $(FUZZ_BINS); do n=$$(basename $$b); \
	  mkdir -p $(BUILD)/fuzz/work/$$n fuzz/corpus/$$n; \
	  $$b -max_total_time=$${FUZZ_SECONDS:-20} -rss_limit_mb=2048 -artifact_prefix=$(BUILD)/fuzz/$$n- \
	    $(BUILD)/fuzz/work/$$n fuzz/corpus/$$n > $(BUILD)/fuzz/$$n.log 2>&1; rc=$$?; \
	  echo "=== $$n"; tail -n 3 $(BUILD)/fuzz/$$n.log; [ $$rc -eq 0 ] && continue; \
	  echo "--- $$n failed; the reason and the stack:"; \
	  grep -v -e '^#[0-9]' -e '^INFO:' -e '^\s*$$' $(BUILD)/fuzz/$$n.log | tail -n 40; exit 1; done

deps:
	scripts/deps.sh

# The end-to-end demo (docs/demo.md): needs root; it builds into $(BUILD)/.
demo:
	BUILD=$(BUILD) ./demo

# Manual pages, generated from the programs' help and the example config so
# that they follow the code (scripts/mkman.py).
MAN_PAGES := zos-agent.8 agent.conf.5 zos-cli.1 tfchain-dev.1
man: $(addprefix $(BUILD)/man/,$(MAN_PAGES))
$(addprefix $(BUILD)/man/,$(MAN_PAGES)) &: $(BINS) scripts/mkman.py config/agent.conf.example $(wildcard man/*.in)
	python3 scripts/mkman.py $(BUILD) $(BUILD)/man

# Debian packages (zos-agent, zos-cli, tfchain-dev) into $(BUILD)/deb/, built
# from a copy of the files git knows (tracked or not ignored), so that the
# tree stays clean.
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C $(BUILD)/deb/src
	cd $(BUILD)/deb/src && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || \
	  { tail -n 30 ../build.log; exit 1; }
	lintian --fail-on error $(BUILD)/deb/*.deb

install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)/etc/zos-agent
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 $(BUILD)/man/zos-cli.1 $(BUILD)/man/tfchain-dev.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(BUILD)/man/agent.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(BUILD)/man/zos-agent.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 completion/zos-cli $(DESTDIR)$(PREFIX)/share/bash-completion/completions/zos-cli
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	sed 's|@PREFIX@|$(PREFIX)|g' zos-agent.service > $(DESTDIR)$(UNITDIR)/zos-agent.service
	install -m 0644 config/agent.conf.example $(DESTDIR)/etc/zos-agent/agent.conf.example
	install -d $(DESTDIR)$(PREFIX)/share/doc/zos-agent
	install -m 0644 README.md $(wildcard docs/*.md) $(DESTDIR)$(PREFIX)/share/doc/zos-agent/
	install -d $(DESTDIR)$(PREFIX)/lib/zos-agent
	install -m 0755 scripts/vm-initramfs.sh scripts/vm-init.sh $(DESTDIR)$(PREFIX)/lib/zos-agent/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san

.PHONY: all check tests bench fuzz deps demo install format clean man deb
.DELETE_ON_ERROR:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
