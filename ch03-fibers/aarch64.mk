# ch03-fibers/aarch64.mk: each program of a chapter 3 step, also built for
# aarch64, to run with qemu-aarch64. Every step's Makefile includes it after
# mk/common.mk:
#
#   make fibers-aarch64 && qemu-aarch64 ./fibers-aarch64
#   make aarch64          every program of the step, for aarch64
#   make run-aarch64      the step's program under qemu-aarch64
#
# Static, so qemu needs no aarch64 libraries at run time. No sanitizers and
# no valgrind hooks (the cross compiler has no valgrind headers). A program
# that needs flags of its own here sets <program>_AARCH64_FLAGS.

AARCH64_CC ?= aarch64-linux-gnu-gcc
AARCH64_FLAGS = $(STD_FLAGS) $(WARN_FLAGS) $(OPT_FLAGS) $(EXTRA_CFLAGS) -static
AARCH64_PROGRAMS := $(PROGRAMS:%=%-aarch64)
AARCH64_COMMON := $(COMMON:%=$(TOP)/common/%.c)

# One compiler run per program: a handful of files, no objects to keep apart
# from the host build's.
define aarch64_rule
$(1)-aarch64: $$($(1)_SRCS) $$(AARCH64_COMMON) $$(wildcard *.h *.S $$(TOP)/common/*.h)
	$$(call say,CC,$$@) $$(AARCH64_CC) $$(AARCH64_FLAGS) $$($(1)_AARCH64_FLAGS) \
	    -o $$@ $$($(1)_SRCS) $$(AARCH64_COMMON) $$(LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call aarch64_rule,$(p))))

aarch64: $(AARCH64_PROGRAMS)

run-aarch64: $(PROG)-aarch64
	$(Q)qemu-aarch64 ./$(PROG)-aarch64 $(RUN_ARGS)

CLEAN_EXTRA += $(AARCH64_PROGRAMS)

.PHONY: aarch64 run-aarch64
