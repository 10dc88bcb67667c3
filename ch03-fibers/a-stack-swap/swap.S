/*
 * ch03-fibers/a-stack-swap/swap.S: a one-way trip onto a new stack, and the
 * landing pad that brings us home. Introduced in step a of chapter 3.
 *
 * x86-64, System V ABI, AT&T syntax (source first, destination second).
 * The only trick in this file: `ret` does not know where it came from. It
 * pops eight bytes from wherever %rsp points and jumps there.
 */
#if !defined(__x86_64__)
#error "steps a and b are written for x86-64; step c also runs on aarch64"
#endif

        .bss
        .p2align 3
/* main's stack pointer while we are away. It points at the return address
 * that main's `call stack_swap` pushed, so come_home can `ret` through it. */
saved_rsp:
        .quad   0

        .text

/*
 * void stack_swap(void *new_rsp);
 *
 * new_rsp (in %rdi) points at a prepared stack whose lowest word holds the
 * address of the function to run, and the word above it that function's
 * return address (come_home). To C this looks like an ordinary call that
 * returns once that function has run and come_home has brought us back.
 */
        .globl  stack_swap
        .type   stack_swap, @function
        .p2align 4
stack_swap:
        movq    %rsp, saved_rsp(%rip)   /* remember the way home */
        movq    %rdi, %rsp              /* from here on we are on the new stack */
        ret                             /* pop the planted address and jump there */
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
        movq    saved_rsp(%rip), %rsp   /* back on main's stack */
        ret                             /* pop main's return address: stack_swap "returns" */
        .size   come_home, .-come_home

/* No executable stack: without this note the linker assumes this object
 * needs one and marks the whole program's stack executable. */
        .section .note.GNU-stack,"",@progbits
