/*
 * ch03-fibers/c-fibers/switch_x86_64.S: the context switch for x86-64
 * (System V ABI), included by switch.S. Introduced in step c of chapter 3.
 *
 * AT&T syntax: `movq %rbx, 8(%rdi)` stores rbx at address rdi + 8.
 */
#include "switch.h"

        .text

/*
 * void fiber_switch(struct fiber_context *save, const struct fiber_context *load);
 *                                         %rdi                              %rsi
 *
 * Why so few registers: fiber_switch is called like any C function, so the
 * caller already assumes that rax, rcx, rdx, rsi, rdi, r8-r11, every vector
 * register and the status flags are destroyed by the call; whatever it still
 * needs from them is on its stack. We only owe it what the ABI says a called
 * function must preserve: rbx, rbp, r12-r15, rsp, the control bits of MXCSR
 * and the x87 control word.
 *
 * Why `ret`: the caller's `call fiber_switch` pushed its return address,
 * which is where %rsp points when we arrive. We leave it on the stack we
 * save, and pop the other fiber's with an ordinary `ret`. When both fibers
 * are parked in the same `call fiber_switch` (as they are in fiber_yield),
 * the CPU's return-address predictor guesses that `ret` right, which keeps
 * the switch at a few nanoseconds (see GOING-DEEPER.md, "Speed").
 */
        .globl  fiber_switch
        .type   fiber_switch, @function
        .p2align 4
fiber_switch:
        .cfi_startproc

        /* LESSON switch: Save the callee-saved registers into *save, switch stacks, load *load's.
         * hint: movq each of rsp, rbx, rbp, r12-r15 to CTX_<REG>(%rdi), and
         *   stmxcsr/fnstcw the FP control to CTX_MXCSR/CTX_X87CW(%rdi); then load
         *   rsp and the six others from CTX_<REG>(%rsi). switch.h has the offsets.
         * stub:
         *   subq    $8, %rsp
         *   leaq    .Llesson_switch(%rip), %rdi
         *   call    lesson_missing
         *   .section .rodata
         *   .Llesson_switch: .string "switch"
         *   .text */
        /* ---- 1. Save the fiber that is leaving, into *save (%rdi). ---- */
        movq    %rsp, CTX_RSP(%rdi)     /* [rsp] is our return address */
        movq    %rbx, CTX_RBX(%rdi)
        movq    %rbp, CTX_RBP(%rdi)
        movq    %r12, CTX_R12(%rdi)
        movq    %r13, CTX_R13(%rdi)
        movq    %r14, CTX_R14(%rdi)
        movq    %r15, CTX_R15(%rdi)
        /* Floating-point control: rounding mode, flush-to-zero, exception
         * masks. A fiber that sets its own (fesetround) keeps it, and does
         * not leak it into the others. */
        stmxcsr CTX_MXCSR(%rdi)
        fnstcw  CTX_X87CW(%rdi)

        /* ---- 2. Switch stacks: from here on we are on the other fiber's. ---- */
        movq    CTX_RSP(%rsi), %rsp

        /* ---- 3. Load the fiber we are entering, from *load (%rsi). ---- */
        movq    CTX_RBX(%rsi), %rbx
#ifndef BUG_NO_RBP /* exercise 3 (README.md) */
        movq    CTX_RBP(%rsi), %rbp
#endif
#ifndef BUG_NO_R12 /* exercise 3 */
        movq    CTX_R12(%rsi), %r12
#endif
        movq    CTX_R13(%rsi), %r13
        movq    CTX_R14(%rsi), %r14
        movq    CTX_R15(%rsi), %r15
        /* END LESSON switch */

        /* Floating-point control, only where it differs. Loading MXCSR with
         * a new value is slow: on the machine this workbook was measured on,
         * the next stmxcsr then waits about 80 ns (GOING-DEEPER.md, "Speed").
         * Fibers nearly always share one mode, so we compare first (rax is
         * ours to clobber) and usually skip both loads. The status bits of MXCSR,
         * sticky exception flags like "inexact", may differ without
         * mattering: the ABI makes them caller-saved, so we ignore them. */
        movl    CTX_MXCSR(%rsi), %eax
        xorl    CTX_MXCSR(%rdi), %eax
        testl   $MXCSR_CONTROL_BITS, %eax
        jnz     .Lload_mxcsr
.Lcheck_x87_cw:
        movzwl  CTX_X87CW(%rsi), %eax
        cmpw    CTX_X87CW(%rdi), %ax
        jne     .Lload_x87_cw

        /* ---- 4. Return into the other fiber. ----
         * It resumes just after its own `call fiber_switch`; a fiber that has
         * never run pops the entry address fiber.c planted instead. */
        ret

        /* The rare paths: the incoming fiber runs in another mode. */
.Lload_mxcsr:
        ldmxcsr CTX_MXCSR(%rsi)
        jmp     .Lcheck_x87_cw
.Lload_x87_cw:
        fldcw   CTX_X87CW(%rsi)
        ret

        .cfi_endproc
        .size   fiber_switch, .-fiber_switch

/* No executable stack: without this note the linker assumes this object
 * needs one and marks the whole program's stack executable. */
        .section .note.GNU-stack,"",@progbits
