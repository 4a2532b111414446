# SPDX-License-Identifier: GPL-2.0
#
# vhost-accel top-level Makefile.  The kernel side is described by Kbuild;
# this file only drives it and the test tooling.
#
#   make            build the modules against KDIR, nothing else (no apt)
#   make WERROR=1   the same with W=1, warnings are errors (make check does)
#   make install    as root: modules, udev rule, AppArmor, contract header
#                   (DESTDIR, KVER); make uninstall removes exactly that
#   make sparse     sparse (C=2) over every source file (WERROR=1: errors)
#   make checkpatch checkpatch --no-tree over our sources
#   make kernels    compile against every installed Debian header tree
#   make check      deps (if missing) + all of the above + the VM test suite
#   make deps       install every Debian package the build, tests and demo need
#   make bench      benchmark in the VM vs vhost-net (Documentation/performance.rst)
ifneq ($(KERNELRELEASE),)
# Invoked by Kbuild: everything is in the Kbuild file.
include $(src)/Kbuild
else

SHELL := /bin/bash
TOP := $(CURDIR)

# The kernel build directory is decided lazily: these are recursive
# variables, expanded only in the recipes that use them, which make runs
# after their prerequisites (deps-if-missing, for the targets that install
# first).  Deciding at parse time would pick (or miss) the headers before
# a fresh machine installed them.  KDIR_INFO replaces itself with its value on first use, so
# find-kdir.sh runs at most once per make.
KDIR_INFO = $(eval KDIR_INFO := $$(shell $(TOP)/scripts/find-kdir.sh 2>/dev/null))$(KDIR_INFO)
KDIR ?= $(firstword $(KDIR_INFO))
KDIR_WHY = $(if $(filter command line environment,$(origin KDIR)),set by the caller,$(wordlist 2,99,$(KDIR_INFO)))

# Warnings are errors only when asked: make check and CI pass WERROR=1
# (scripts/check.sh), a user's plain build does not.  Command-line
# variables reach the scripts' environment (build-all-kernels.sh reads it).
WERROR ?=
KBUILD_ARGS = -C $(KDIR) M=$(TOP) $(if $(filter 1,$(WERROR)),W=1 KCFLAGS=-Werror)
SPARSE_CF = $(if $(filter 1,$(WERROR)),CF=-Wsparse-error)

# The kernel release make install installs for: KDIR's, unless given.
KVER ?= $(shell $(TOP)/scripts/kernel-release.sh $(KDIR))

.PHONY: all modules sparse checkpatch kernels check deps deps-if-missing \
	selftests harness-check vm-tests demo bench clean help \
	install uninstall

all: modules

# First in every recipe that needs KDIR: with no kernel build directory,
# make stops with this one line (make expands a recipe after its
# prerequisites ran, so this never decides before an install step).
NEED_KDIR = $(if $(KDIR),,$(error no kernel build directory: install linux-headers-$(shell uname -r) or run 'make deps'))

# Building installs nothing: no deps-if-missing here or in the targets
# below up to vm-tests (make deps does that; make check, demo, bench, fuzz
# and check-debug call it themselves).
modules:
	$(NEED_KDIR)
	@echo "vhost-accel: building against $(KDIR) ($(KDIR_WHY))"
	$(MAKE) $(KBUILD_ARGS) modules

sparse:
	$(NEED_KDIR)
	@echo "vhost-accel: sparse against $(KDIR)"
	$(MAKE) $(KBUILD_ARGS) C=2 $(SPARSE_CF) modules

checkpatch:
	$(TOP)/scripts/checkpatch.sh

kernels:
	$(TOP)/scripts/build-all-kernels.sh

selftests:
	$(MAKE) -C $(TOP)/selftests

# The tests built against every installed kselftest harness (6.1's, 6.12's).
harness-check:
	$(MAKE) -C $(TOP)/selftests harness-check

# Boots the VM, so it installs what it needs first, as make check does.
vm-tests: deps-if-missing
	$(MAKE) -C $(TOP) modules selftests
	$(NEED_KDIR)
	$(TOP)/selftests/vm/run.sh --kdir $(KDIR)

# make install: as root, or into DESTDIR (no root needed); the modules
# must be built for KVER (make, or make KDIR=...).  scripts/install.sh
# says what goes where and keeps the manifest make uninstall reads.
install:
	$(if $(filter command line environment,$(origin KVER)),,$(NEED_KDIR))
	DESTDIR="$(DESTDIR)" KVER="$(KVER)" $(TOP)/scripts/install.sh install

uninstall:
	DESTDIR="$(DESTDIR)" $(TOP)/scripts/install.sh uninstall

check:
	@$(TOP)/scripts/check.sh

demo:
	@$(TOP)/scripts/demo.sh

bench:
	@$(TOP)/scripts/bench.sh

# make fuzz: 1 000 000 fuzz cases in the VM (Documentation/testing.rst)
.PHONY: fuzz
fuzz:
	@$(TOP)/scripts/fuzz.sh

# make check-debug: the VM suite on a KASAN/KMEMLEAK/lockdep kernel built
# from linux-source-6.1, cached in build/debug-kernel (Documentation/testing.rst)
.PHONY: check-debug
check-debug: deps-if-missing
	@$(TOP)/scripts/check-debug.sh

deps:
	$(TOP)/scripts/deps.sh
	$(TOP)/scripts/qemu-backports.sh

deps-if-missing:
	@$(TOP)/scripts/deps.sh --if-missing
	@$(TOP)/scripts/qemu-backports.sh --if-missing

clean:
	$(if $(KDIR),-$(MAKE) -C $(KDIR) M=$(TOP) clean)
	-$(MAKE) -C $(TOP)/selftests clean
	rm -rf $(TOP)/build

help:
	@sed -n '3,15p' $(TOP)/Makefile

endif

# make qemu: QEMU from Debian's source package with the `-netdev
# vhost-accel` series of qemu-patches/ (QEMU_VERSION 7.2, or 10.0), in
# build/qemu-accel/; make check-qemu: that, then the VM with only the
# end-to-end test on it (Documentation/qemu-patches.rst).
ifeq ($(KERNELRELEASE),)
.PHONY: qemu check-qemu
QEMU_VERSION ?= 7.2

qemu:
	@$(TOP)/scripts/qemu-build.sh $(QEMU_VERSION)

check-qemu: qemu modules selftests
	$(NEED_KDIR)
	VM_TESTS_LIST=$(TOP)/selftests/e2e/qemu.list \
		$(TOP)/selftests/vm/run.sh --kdir $(KDIR)
endif

# make tools: vhost-accel-stat, the counters and events in netlink
# (tools/vhost-accel-stat/, its own make install with DESTDIR and PREFIX).
ifeq ($(KERNELRELEASE),)
.PHONY: tools
tools:
	$(MAKE) -C $(TOP)/tools/vhost-accel-stat
endif
