/*
 * ch03-fibers/c-fibers/switch.h: the contract between fiber.c and the
 * context switch in switch_<cpu>.S. Introduced in step c of chapter 3.
 *
 * The assembler sees only the CTX_* offsets; C also sees the struct, and the
 * _Static_asserts below fail the build if the two ever disagree.
 */
#ifndef SWITCH_H
#define SWITCH_H

/* ===== Offsets: where fiber_switch keeps each register ===== */

/* The tables below are aligned by hand, to be read as tables: */
/* clang-format off */
#if defined(__x86_64__)

/* System V AMD64 ABI: a called function must preserve rbx, rbp, r12-r15
 * and rsp, the control bits of MXCSR and the x87 control word. */
#define CTX_RSP   0  /* stack pointer: points at the fiber's return address */
#define CTX_RBX   8
#define CTX_RBP   16 /* frame pointer */
#define CTX_R12   24
#define CTX_R13   32
#define CTX_R14   40
#define CTX_R15   48
#define CTX_MXCSR 56 /* 4 bytes: SSE rounding mode, flush-to-zero, exception masks */
#define CTX_X87CW 60 /* 2 bytes: x87 rounding mode, precision, exception masks */
#define CTX_SIZE  64

/* MXCSR bits 6-15 are control (denormals-are-zero, exception masks, rounding,
 * flush-to-zero); bits 0-5 are sticky status flags, which the ABI lets any
 * call change. */
#define MXCSR_CONTROL_BITS 0xffc0

#elif defined(__aarch64__)

/* AAPCS64: a called function must preserve x19-x28, x29 (frame pointer),
 * sp, the low 64 bits of v8-v15 (d8-d15), and we add FPCR (rounding mode
 * and the like). x30, the link register, holds our return address. */
#define CTX_X19   0  /* x19-x28, ten registers, saved in pairs */
#define CTX_X21   16
#define CTX_X23   32
#define CTX_X25   48
#define CTX_X27   64
#define CTX_X29   80 /* frame pointer */
#define CTX_X30   88 /* link register: where fiber_switch returns to */
#define CTX_SP    96
#define CTX_FPCR  104
#define CTX_D8    112 /* d8-d15, eight registers, saved in pairs */
#define CTX_D10   128
#define CTX_D12   144
#define CTX_D14   160
#define CTX_SIZE  176

#else
#error "no context switch for this CPU: see switch.S"
#endif
/* clang-format on */

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

/* ===== The saved registers of a fiber that is not running ===== */

/* Only the registers a called function must preserve: every other register
 * may hold garbage after a call to fiber_switch, as after any call, so the
 * compiler has already saved what it still needs on the fiber's own stack. */
struct fiber_context {
#if defined(__x86_64__)
    uint64_t rsp; /* stack pointer; [rsp] is where fiber_switch returns */
    uint64_t rbx; /* callee-saved general registers */
    uint64_t rbp; /* frame pointer (0 in a new fiber: ends backtraces) */
    uint64_t r12;
    uint64_t r13;
    uint64_t r14;
    uint64_t r15;
    uint32_t mxcsr;  /* SSE control and status register (stmxcsr / ldmxcsr) */
    uint16_t x87_cw; /* x87 control word (fnstcw / fldcw) */
    uint16_t unused; /* padding, named so the size is plain to see */
#elif defined(__aarch64__)
    uint64_t x19_x28[10]; /* callee-saved general registers */
    uint64_t x29;         /* frame pointer (0 in a new fiber: ends backtraces) */
    uint64_t x30;         /* link register: fiber_switch's `ret` jumps here */
    uint64_t sp;          /* stack pointer, always a multiple of 16 */
    uint64_t fpcr;        /* floating-point control register */
    uint64_t d8_d15[8];   /* low halves of v8-v15 */
#endif
};

#if defined(__x86_64__)
_Static_assert(offsetof(struct fiber_context, rsp) == CTX_RSP, "CTX_RSP");
_Static_assert(offsetof(struct fiber_context, rbx) == CTX_RBX, "CTX_RBX");
_Static_assert(offsetof(struct fiber_context, rbp) == CTX_RBP, "CTX_RBP");
_Static_assert(offsetof(struct fiber_context, r12) == CTX_R12, "CTX_R12");
_Static_assert(offsetof(struct fiber_context, r13) == CTX_R13, "CTX_R13");
_Static_assert(offsetof(struct fiber_context, r14) == CTX_R14, "CTX_R14");
_Static_assert(offsetof(struct fiber_context, r15) == CTX_R15, "CTX_R15");
_Static_assert(offsetof(struct fiber_context, mxcsr) == CTX_MXCSR, "CTX_MXCSR");
_Static_assert(offsetof(struct fiber_context, x87_cw) == CTX_X87CW, "CTX_X87CW");
#elif defined(__aarch64__)
_Static_assert(offsetof(struct fiber_context, x19_x28) == CTX_X19, "CTX_X19");
_Static_assert(offsetof(struct fiber_context, x19_x28[2]) == CTX_X21, "CTX_X21");
_Static_assert(offsetof(struct fiber_context, x19_x28[4]) == CTX_X23, "CTX_X23");
_Static_assert(offsetof(struct fiber_context, x19_x28[6]) == CTX_X25, "CTX_X25");
_Static_assert(offsetof(struct fiber_context, x19_x28[8]) == CTX_X27, "CTX_X27");
_Static_assert(offsetof(struct fiber_context, x29) == CTX_X29, "CTX_X29");
_Static_assert(offsetof(struct fiber_context, x30) == CTX_X30, "CTX_X30");
_Static_assert(offsetof(struct fiber_context, sp) == CTX_SP, "CTX_SP");
_Static_assert(offsetof(struct fiber_context, fpcr) == CTX_FPCR, "CTX_FPCR");
_Static_assert(offsetof(struct fiber_context, d8_d15) == CTX_D8, "CTX_D8");
_Static_assert(offsetof(struct fiber_context, d8_d15[2]) == CTX_D10, "CTX_D10");
_Static_assert(offsetof(struct fiber_context, d8_d15[4]) == CTX_D12, "CTX_D12");
_Static_assert(offsetof(struct fiber_context, d8_d15[6]) == CTX_D14, "CTX_D14");
#endif
_Static_assert(sizeof(struct fiber_context) == CTX_SIZE, "CTX_SIZE");

/* ===== The switch (switch_<cpu>.S) ===== */

/* Save the running code's callee-saved registers into *save, load the ones in
 * *load, and return on load's stack: to wherever load last called
 * fiber_switch, or, for a fiber that has never run, to the address its stack
 * was prepared with (see fiber.c, "A new fiber's first frame"). Returns, on
 * the original stack, only when some later fiber_switch loads *save again. */
void fiber_switch(struct fiber_context *save, const struct fiber_context *load);

#endif /* __ASSEMBLER__ */
#endif /* SWITCH_H */
