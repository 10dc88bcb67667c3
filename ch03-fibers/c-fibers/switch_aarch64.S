/*
 * ch03-fibers/c-fibers/switch_aarch64.S: the context switch for aarch64
 * (AAPCS64), included by switch.S. Introduced in step c of chapter 3.
 *
 * `stp a, b, [x0, #16]` stores the pair a, b at x0 + 16 and x0 + 24;
 * `ldp` loads a pair the same way.
 */
#include "switch.h"

        .text

/*
 * void fiber_switch(struct fiber_context *save, const struct fiber_context *load);
 *                                         x0                                x1
 *
 * The same contract as on x86-64, different registers: a called function must
 * preserve x19-x28, the frame pointer x29, sp, and the low 64 bits of v8-v15
 * (d8-d15). Everything else, x0-x18 and the rest of the vector registers, the
 * caller already treats as destroyed by the call. We also keep FPCR, the
 * floating-point control register (rounding mode, flush-to-zero), so that
 * fibers do not leak their floating-point mode into each other.
 *
 * There is no return address on the stack here: `bl fiber_switch` put it in
 * x30, the link register. We save x30 with the rest and `ret` to the other
 * fiber's x30, which came from its own `bl fiber_switch` (or, for a fiber
 * that has never run, from fiber.c: its entry function).
 */
        .globl  fiber_switch
        .type   fiber_switch, %function
        .p2align 4
fiber_switch:
        .cfi_startproc

        /* LESSON switch-aarch64: The same switch on aarch64: save x19-x30, sp, FPCR, d8-d15; load.
         * hint: stp pairs to [x0, #CTX_<REG>], sp through x9, fpcr through x10
         *   (mrs; the end compares it, keep it in x10), then ldp the same from x1.
         * stub:
         *   adrp    x0, .Llesson_switch
         *   add     x0, x0, :lo12:.Llesson_switch
         *   bl      lesson_missing
         *   .section .rodata
         *   .Llesson_switch: .string "switch-aarch64"
         *   .text */
        /* ---- 1. Save the fiber that is leaving, into *save (x0). ---- */
        stp     x19, x20, [x0, #CTX_X19]
        stp     x21, x22, [x0, #CTX_X21]
        stp     x23, x24, [x0, #CTX_X23]
        stp     x25, x26, [x0, #CTX_X25]
        stp     x27, x28, [x0, #CTX_X27]
        stp     x29, x30, [x0, #CTX_X29]    /* frame pointer, return address */
        mov     x9, sp                      /* sp cannot be stored directly */
        str     x9, [x0, #CTX_SP]
        mrs     x10, fpcr
        str     x10, [x0, #CTX_FPCR]
        stp     d8, d9, [x0, #CTX_D8]
        stp     d10, d11, [x0, #CTX_D10]
        stp     d12, d13, [x0, #CTX_D12]
        stp     d14, d15, [x0, #CTX_D14]

        /* ---- 2. Switch stacks: from here on we are on the other fiber's. ---- */
        ldr     x9, [x1, #CTX_SP]
        mov     sp, x9

        /* ---- 3. Load the fiber we are entering, from *load (x1). ---- */
        ldp     x19, x20, [x1, #CTX_X19]
        ldp     x21, x22, [x1, #CTX_X21]
        ldp     x23, x24, [x1, #CTX_X23]
        ldp     x25, x26, [x1, #CTX_X25]
        ldp     x27, x28, [x1, #CTX_X27]
        ldp     x29, x30, [x1, #CTX_X29]
        ldp     d8, d9, [x1, #CTX_D8]
        ldp     d10, d11, [x1, #CTX_D10]
        ldp     d12, d13, [x1, #CTX_D12]
        ldp     d14, d15, [x1, #CTX_D14]
        /* END LESSON switch-aarch64 */
        /* Writing FPCR can stall the pipeline on some cores, and fibers
         * nearly always share one mode: write it only if it differs from
         * ours (still in x10). FPCR holds no status flags (FPSR does). */
        ldr     x11, [x1, #CTX_FPCR]
        cmp     x10, x11
        b.eq    1f
        msr     fpcr, x11
1:
        /* ---- 4. Return into the other fiber: branch to x30. ---- */
        ret

        .cfi_endproc
        .size   fiber_switch, .-fiber_switch

/* No executable stack: without this note the linker assumes this object
 * needs one and marks the whole program's stack executable. */
        .section .note.GNU-stack,"",%progbits
