# web-shell: builds both services out of tree into build/ (sanitizer builds in
# build/asan/, fuzzers in build/fuzz/), and runs the tests, benchmarks and demo.
# Each component lists its sources in its own build.mk, included below.

# "all" is defined after the build.mk includes, whose first rule would otherwise be the default.
.DEFAULT_GOAL := all

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
CLANG ?= clang
CFLAGS ?= -O2 -g
LDFLAGS ?=
FUZZ_SECONDS ?= 60

PKGS := libwebsockets libuv libcjson libcrypto libsodium
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(CFLAGS) $(PKG_CFLAGS) \
	-Iservices/common -MMD -MP
SAN_FLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow

COMMON_SRCS := services/common/log.c services/common/args.c services/common/metrics.c \
	services/common/metrics_http.c services/common/sigwatch.c services/common/httpreply.c \
	services/common/reqid.c services/common/fdlimit.c

# Filled in by the build.mk files.
PROGRAMS :=
ASAN_PROGRAMS :=
SERVICES :=
UNIT_TESTS :=
FUZZ_TARGETS :=
WEB_TARGETS :=

# $(call c_program,NAME,SRCS): $(BUILD)/NAME and its sanitizer twin $(BUILD)/asan/NAME.
define c_program
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
$(BUILD)/asan/$(1): $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) $$(SAN_FLAGS) -o $$@ $$^ $$(PKG_LIBS)
PROGRAMS += $(BUILD)/$(1)
ASAN_PROGRAMS += $(BUILD)/asan/$(1)
endef

# $(call fuzz_program,NAME,SRCS): a libFuzzer binary $(BUILD)/fuzz/NAME, built with clang.
define fuzz_program
$(BUILD)/fuzz/$(1): $(2)
	@mkdir -p $$(@D)
	$$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Iservices/common $$(PKG_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -o $$@ $$^ $$(PKG_LIBS)
FUZZ_TARGETS += $(1)
endef

include services/common/build.mk
include services/jwt-verify/build.mk
include services/ptyd/build.mk
-include examples/web-shell/build.mk

.PHONY: all asan deps deps-demo check test test-run bench bench-run fuzz demo install install-services install-app uninstall clean

all: $(addprefix $(BUILD)/,$(SERVICES)) $(WEB_TARGETS)

asan: $(ASAN_PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -c $< -o $@

$(BUILD)/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -c $< -o $@

# Installs what is missing (apt-get, npm ci); quiet when all is there.
# deps-demo: only what the demo needs (no Chromium, cloud-init, debootstrap, clang, wrk).
deps:
	@scripts/install-deps.sh --check >/dev/null 2>&1 || scripts/install-deps.sh

deps-demo:
	@scripts/install-deps.sh --demo --check >/dev/null 2>&1 || scripts/install-deps.sh --demo

# A second make after deps: pkg-config flags are read when make starts.
test: deps
	@$(MAKE) --no-print-directory test-run

# JOBS=N: suites run N at a time (tests/run.sh -j; default: twice the number of CPUs).
test-run: all $(PROGRAMS) $(ASAN_PROGRAMS)
	@BUILD=$(BUILD) tests/run.sh $(if $(JOBS),-j $(JOBS)) $(T)

# The fast tier: unit, service and protocol suites; no Chromium, debootstrap,
# fuzzing, apt or load sweeps (tests/run.sh --help says which suites are slow).
check: all $(PROGRAMS) $(ASAN_PROGRAMS)
	@BUILD=$(BUILD) tests/run.sh --fast $(if $(JOBS),-j $(JOBS)) $(T)

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: all
	@BUILD=$(BUILD) bench/run.sh $(B)

fuzz: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=12000 \
			$(BUILD)/fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

demo: deps-demo
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

# install = the services into $(PREFIX)/bin and the browser app into $(WWWDIR)
# (scripts/web-shell.sh uses WWWDIR=/usr/share/web-shell/www). The app is its
# static files only: pages, modules, styles and the vendored xterm.js.
WWWDIR ?= $(PREFIX)/share/web-shell/www
APP_DIR := examples/web-shell
APP_FILES = $(wildcard $(APP_DIR)/*.html $(APP_DIR)/*.js $(APP_DIR)/*.css)

install: install-services install-app

install-services: $(addprefix $(BUILD)/,$(SERVICES))
	install -d $(DESTDIR)$(PREFIX)/bin
	$(if $(SERVICES),install -m 0755 $(addprefix $(BUILD)/,$(SERVICES)) $(DESTDIR)$(PREFIX)/bin/)

install-app: $(WEB_TARGETS)
	install -d $(DESTDIR)$(WWWDIR)
	install -m 0644 $(APP_FILES) $(DESTDIR)$(WWWDIR)/
	if [ -d $(APP_DIR)/vendor ]; then cp -R $(APP_DIR)/vendor $(DESTDIR)$(WWWDIR)/ && \
		chmod -R u=rwX,go=rX $(DESTDIR)$(WWWDIR)/vendor; fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(SERVICES))
	rm -rf $(DESTDIR)$(WWWDIR)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/asan/obj -name '*.d' -type f 2>/dev/null)
