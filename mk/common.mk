# mk/common.mk: the build rules every program in the workbook shares.
#
# A step's Makefile sets a few variables and includes this file:
#
#   TOP      := ../..                 # path to the repository root
#   PROG     := fibers                # the program this step builds
#   SRCS     := main.c fiber.c switch.S
#   THREADED := 1                     # optional: also build a ThreadSanitizer variant
#   LDLIBS   += -lpthread             # optional: extra libraries
#   include $(TOP)/mk/common.mk
#
# Targets: all (default), run, test, clean, asan, tsan, variants.
#   make SANITIZER=address   ASan+UBSan build, program named $(PROG)-asan
#   make SANITIZER=thread    TSan build, program named $(PROG)-tsan
#   make SANITIZER=undefined UBSan-only build, program named $(PROG)-ubsan
# Objects of each variant live in their own folder, so variants never mix.

# ===== Flags, in named groups =====

STD_FLAGS  := -std=c11 -D_GNU_SOURCE
WARN_FLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
OPT_FLAGS  := -g -O2 -fno-omit-frame-pointer
DEP_FLAGS  := -MMD -MP

SANITIZER ?=
ifeq ($(SANITIZER),)
  VARIANT   :=
  SAN_FLAGS :=
else ifeq ($(SANITIZER),address)
  VARIANT   := -asan
  SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
else ifeq ($(SANITIZER),thread)
  VARIANT   := -tsan
  SAN_FLAGS := -fsanitize=thread
else ifeq ($(SANITIZER),undefined)
  VARIANT   := -ubsan
  SAN_FLAGS := -fsanitize=undefined -fno-sanitize-recover=all
else
  $(error SANITIZER must be empty, address, thread or undefined, not '$(SANITIZER)')
endif

ALL_CFLAGS  = $(STD_FLAGS) $(WARN_FLAGS) $(OPT_FLAGS) $(DEP_FLAGS) $(SAN_FLAGS) $(EXTRA_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

# ===== Quiet output: "CC ch02-epoll/main.o" unless V=1 =====

STEP_PATH := $(patsubst $(abspath $(TOP))/%,%,$(CURDIR))
ifeq ($(V),1)
  Q :=
  say :=
else
  Q := @
  say = @printf '  %-4s %s\n' $(1) $(STEP_PATH)/$(2);
endif

# ===== Objects and the program =====

OBJDIR := .obj$(VARIANT)
BIN    := $(PROG)$(VARIANT)
OBJS   := $(patsubst %.c,$(OBJDIR)/%.o,$(patsubst %.S,$(OBJDIR)/%.o,$(SRCS)))

all: $(BIN)

$(BIN): $(OBJS)
	$(call say,LD,$@) $(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(OBJDIR)/%.o: %.c | $(OBJDIR)
	$(call say,CC,$<) $(CC) $(ALL_CFLAGS) -c -o $@ $<

$(OBJDIR)/%.o: %.S | $(OBJDIR)
	$(call say,AS,$<) $(CC) $(ALL_CFLAGS) -c -o $@ $<

$(OBJDIR):
	$(Q)mkdir -p $@

-include $(OBJS:.o=.d)

# ===== Variants =====

asan:
	$(Q)$(MAKE) --no-print-directory SANITIZER=address
ifeq ($(strip $(THREADED)),1)
tsan:
	$(Q)$(MAKE) --no-print-directory SANITIZER=thread
variants: all asan tsan
else
tsan:
	@echo "  skip $(STEP_PATH): single-threaded, no TSan build"
variants: all asan
endif

# ===== Run, test, clean =====

# A step may set RUN_ARGS; programs that talk to the delay server read
# DELAYSERVER_ADDR from the environment (default 127.0.0.1:8080).
run: all
	$(Q)./$(PROG) $(RUN_ARGS)

# TESTS names this step's pytest file(s), relative to the repository root.
test: variants
	$(Q)$(MAKE) --no-print-directory -C $(TOP) pytest TESTS="$(TESTS)"

clean:
	$(call say,RM,$(PROG)) rm -rf .obj .obj-asan .obj-tsan .obj-ubsan $(PROG) $(PROG)-asan $(PROG)-tsan $(PROG)-ubsan $(CLEAN_EXTRA)

.PHONY: all asan tsan variants run test clean
