/*
 * bench/fiber-switch/variants.S: variations on ch03's fiber_switch
 * (ch03-fibers/c-fibers/switch_x86_64.S), to measure what each part costs.
 * Same prototype, same struct fiber_context, same stack format: each one
 * can stand in for fiber_switch. Only the floating-point control and the
 * way out differ; the general registers go exactly as in the chapter.
 */
#include "switch.h"

#if defined(__x86_64__)

/* Phase 1 of the chapter's switch, without the floating-point control. */
        .macro  save_general_registers
        movq    %rsp, CTX_RSP(%rdi)
        movq    %rbx, CTX_RBX(%rdi)
        movq    %rbp, CTX_RBP(%rdi)
        movq    %r12, CTX_R12(%rdi)
        movq    %r13, CTX_R13(%rdi)
        movq    %r14, CTX_R14(%rdi)
        movq    %r15, CTX_R15(%rdi)
        .endm

/* Phases 2 and 3, without the floating-point control. */
        .macro  switch_stacks_and_load_general_registers
        movq    CTX_RSP(%rsi), %rsp
        movq    CTX_RBX(%rsi), %rbx
        movq    CTX_RBP(%rsi), %rbp
        movq    CTX_R12(%rsi), %r12
        movq    CTX_R13(%rsi), %r13
        movq    CTX_R14(%rsi), %r14
        movq    CTX_R15(%rsi), %r15
        .endm

        .text

/* void switch_no_fp_control(struct fiber_context *save, const struct fiber_context *load);
 * Only the general registers: what the floating-point control costs. */
        .globl  switch_no_fp_control
        .type   switch_no_fp_control, @function
        .p2align 4
switch_no_fp_control:
        save_general_registers
        switch_stacks_and_load_general_registers
        ret
        .size   switch_no_fp_control, .-switch_no_fp_control

/* void switch_always_fp(struct fiber_context *save, const struct fiber_context *load);
 * Saves and reloads MXCSR and the x87 control word on every switch, without
 * comparing first: the obvious way, and slow when the values differ. */
        .globl  switch_always_fp
        .type   switch_always_fp, @function
        .p2align 4
switch_always_fp:
        save_general_registers
        stmxcsr CTX_MXCSR(%rdi)
        fnstcw  CTX_X87CW(%rdi)
        switch_stacks_and_load_general_registers
        ldmxcsr CTX_MXCSR(%rsi)
        fldcw   CTX_X87CW(%rsi)
        ret
        .size   switch_always_fp, .-switch_always_fp

/* void switch_jmp(struct fiber_context *save, const struct fiber_context *load);
 * fiber_switch, but it leaves by popping the other fiber's return address
 * into a register and jumping there. The `call` that entered us pushed an
 * entry on the CPU's return-address predictor that no `ret` consumes, so
 * every later `ret` up the call chain is predicted from the wrong entry. */
        .globl  switch_jmp
        .type   switch_jmp, @function
        .p2align 4
switch_jmp:
        save_general_registers
        stmxcsr CTX_MXCSR(%rdi)
        fnstcw  CTX_X87CW(%rdi)
        switch_stacks_and_load_general_registers
        movl    CTX_MXCSR(%rsi), %eax
        xorl    CTX_MXCSR(%rdi), %eax
        testl   $MXCSR_CONTROL_BITS, %eax
        jz      1f
        ldmxcsr CTX_MXCSR(%rsi)
1:      movzwl  CTX_X87CW(%rsi), %eax
        cmpw    CTX_X87CW(%rdi), %ax
        je      2f
        fldcw   CTX_X87CW(%rsi)
2:      popq    %rcx
        jmp     *%rcx
        .size   switch_jmp, .-switch_jmp

        .section .note.GNU-stack,"",@progbits

#endif
