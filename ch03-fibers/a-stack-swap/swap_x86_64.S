/*
 * ch03-fibers/a-stack-swap/swap_x86_64.S: a one-way trip onto a new stack,
 * and the landing pad that brings us home, for x86-64 (System V ABI).
 * Included by swap.S. Introduced in step a of chapter 3.
 *
 * AT&T syntax (source first, destination second). The only trick in this
 * file: `ret` does not know where it came from. It pops eight bytes from
 * wherever %rsp points and jumps there.
 */

        .bss
        .p2align 3
/* main's stack pointer while we are away. It points at the return address
 * that main's `call stack_swap` pushed, so come_home can `ret` through it. */
saved_rsp:
        .quad   0

        .text

/*
 * void stack_swap(void *new_sp);
 *                       %rdi
 *
 * new_sp points at a prepared stack whose lowest word holds the address of
 * the function to run, and the word above it that function's return address
 * (come_home). To C this looks like an ordinary call that returns once that
 * function has run and come_home has brought us back.
 */
        .globl  stack_swap
        .type   stack_swap, @function
        .p2align 4
stack_swap:
        /* ---- 1. Remember the way home: [rsp] is main's return address. ---- */
        movq    %rsp, saved_rsp(%rip)

        /* ---- 2. Switch stacks: from here on we are on the new one. ---- */
        movq    %rdi, %rsp

        /* ---- 3. "Return" into the planted function. ----
         * ret pops &hello and jumps there; %rsp is left pointing at
         * &come_home, exactly where a `call hello` would have put its
         * return address. */
        ret
        .size   stack_swap, .-stack_swap

/*
 * void come_home(void);   never called: planted as a return address.
 *
 * The function we jumped into returns here, with %rsp at the top of the new
 * stack. It was an ordinary C function, so it put back every callee-saved
 * register (rbx, rbp, r12-r15) the way it found them: they still hold main's
 * values. Only %rsp needs restoring.
 */
        .globl  come_home
        .type   come_home, @function
        .p2align 4
come_home:
        /* ---- 1. Back on main's stack. ---- */
        movq    saved_rsp(%rip), %rsp

        /* ---- 2. Pop main's return address: to main, stack_swap returns. ---- */
        ret
        .size   come_home, .-come_home

/* No executable stack: without this note the linker assumes this object
 * needs one and marks the whole program's stack executable. */
        .section .note.GNU-stack,"",@progbits
