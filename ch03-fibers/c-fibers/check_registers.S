/*
 * ch03-fibers/c-fibers/check_registers.S: part of fiber-check (check.c),
 * not of the runtime. Step c of chapter 3.
 *
 * unsigned registers_survive_yield(long seed);
 *
 * Fills every callee-saved register with a value made from seed, calls
 * fiber_yield (other fibers run meanwhile, with other seeds), and returns how
 * many registers came back with a different value: 0 when fiber_switch saves
 * and restores all of them. A C test could only check the registers the
 * compiler happens to use; this one checks each register by name.
 *
 * One blind spot: the frame pointer. fiber_yield, a C function built with
 * frame pointers, pops its own saved rbp (x29) before it returns here, so a
 * switch that forgot it is caught only where fiber.c itself uses the frame
 * pointer after the switch: the ASan build does, and crashes.
 */

#if defined(__x86_64__)

        .text
        .globl  registers_survive_yield
        .type   registers_survive_yield, @function
        .p2align 4
registers_survive_yield:
        /* We must hand our caller its callee-saved registers back. Six
         * pushes plus the return address leave rsp 8 off a multiple of 16;
         * the slot we subtract (it holds the seed) realigns it for the call. */
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        movq    %rdi, (%rsp)

        leaq    1(%rdi), %rbx
        leaq    2(%rdi), %rbp
        leaq    3(%rdi), %r12
        leaq    4(%rdi), %r13
        leaq    5(%rdi), %r14
        leaq    6(%rdi), %r15
        call    fiber_yield@PLT

        movq    (%rsp), %rdi
        xorl    %eax, %eax
        /* expect reg, k: count one mismatch unless reg == seed + k */
        .macro  expect reg, k
        leaq    \k(%rdi), %rcx
        cmpq    %rcx, \reg
        setne   %dl
        movzbl  %dl, %edx
        addl    %edx, %eax
        .endm
        expect  %rbx, 1
        expect  %rbp, 2
        expect  %r12, 3
        expect  %r13, 4
        expect  %r14, 5
        expect  %r15, 6

        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   registers_survive_yield, .-registers_survive_yield

        .section .note.GNU-stack,"",@progbits

#elif defined(__aarch64__)

        .text
        .globl  registers_survive_yield
        .type   registers_survive_yield, %function
        .p2align 4
registers_survive_yield:
        /* Frame: x29, x30 at [sp], x19-x28 at [sp, #16], d8-d15 at
         * [sp, #96], the seed at [sp, #160]; 176 keeps sp 16-aligned. */
        stp     x29, x30, [sp, #-176]!
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        stp     x25, x26, [sp, #64]
        stp     x27, x28, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        str     x0, [sp, #160]

        /* x19..x28 = seed + 1..10, d8..d15 = seed + 11..18 (as doubles),
         * x29 = seed + 19 */
        .set    k, 1
        .irp    reg, x19, x20, x21, x22, x23, x24, x25, x26, x27, x28
        add     \reg, x0, #k
        .set    k, k + 1
        .endr
        .irp    reg, d8, d9, d10, d11, d12, d13, d14, d15
        add     x9, x0, #k
        scvtf   \reg, x9
        .set    k, k + 1
        .endr
        add     x29, x0, #k
        bl      fiber_yield

        ldr     x0, [sp, #160]
        mov     x10, #0
        /* The same values again: count one mismatch per register that
         * does not hold what we put there. */
        .set    k, 1
        .irp    reg, x19, x20, x21, x22, x23, x24, x25, x26, x27, x28
        add     x9, x0, #k
        cmp     \reg, x9
        cinc    x10, x10, ne
        .set    k, k + 1
        .endr
        .irp    reg, d8, d9, d10, d11, d12, d13, d14, d15
        add     x9, x0, #k
        scvtf   d16, x9
        fcmp    \reg, d16
        cinc    x10, x10, ne
        .set    k, k + 1
        .endr
        add     x9, x0, #k
        cmp     x29, x9
        cinc    x10, x10, ne
        mov     x0, x10

        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
        ldp     x27, x28, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldp     x29, x30, [sp], #176
        ret
        .size   registers_survive_yield, .-registers_survive_yield

        .section .note.GNU-stack,"",%progbits

#else
#error "fiber-check has no register check for this CPU"
#endif
