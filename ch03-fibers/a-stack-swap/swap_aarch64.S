/*
 * ch03-fibers/a-stack-swap/swap_aarch64.S: a one-way trip onto a new stack,
 * and the landing pad that brings us home, for aarch64 (AAPCS64). Included
 * by swap.S. Introduced in step a of chapter 3.
 *
 * The difference from x86-64: `bl f` does not push a return address, it puts
 * it in the link register x30, and `ret` jumps to x30 (or to the register it
 * names). So where x86-64 lets `ret` pop the planted words off the stack,
 * here we load them into registers ourselves, then `ret` jumps where we say.
 * `ldp a, b, [x0]` loads the pair of words at x0 and x0 + 8.
 */

        .bss
        .p2align 4
/* While we are away: main's stack pointer, and main's return address (x30),
 * which lives in a register on aarch64, not on the stack. */
saved_sp_lr:
        .quad   0, 0

        .text

/*
 * void stack_swap(void *new_sp);
 *                       x0
 *
 * new_sp points at a prepared stack whose lowest word holds the address of
 * the function to run, and the word above it that function's return address
 * (come_home). To C this looks like an ordinary call that returns once that
 * function has run and come_home has brought us back.
 */
        .globl  stack_swap
        .type   stack_swap, %function
        .p2align 4
stack_swap:
        /* ---- 1. Remember the way home: sp, and x30 (main's return address). ---- */
        adrp    x10, saved_sp_lr
        add     x10, x10, :lo12:saved_sp_lr
        mov     x9, sp                  /* sp cannot be stored directly */
        stp     x9, x30, [x10]

        /* ---- 2. Switch stacks, taking the two planted words as we go. ----
         * x9 = &hello, x30 = &come_home: hello's return address goes where
         * a `bl hello` would have put it. sp ends at the top of the new stack,
         * a multiple of 16, as AAPCS64 wants at all times. */
        ldp     x9, x30, [x0]
        add     sp, x0, #16

        /* ---- 3. "Return" into the planted function. ----
         * `ret x9` jumps to x9 (a plain `ret` would jump to x30). */
        ret     x9
        .size   stack_swap, .-stack_swap

/*
 * void come_home(void);   never called: planted as a return address.
 *
 * The function we jumped into returns here (its `ret` jumps to x30), with sp
 * at the top of the new stack. It was an ordinary C function, so it put back
 * every callee-saved register (x19-x29, d8-d15) the way it found them: they
 * still hold main's values. Only sp and x30 need restoring.
 */
        .globl  come_home
        .type   come_home, %function
        .p2align 4
come_home:
        /* ---- 1. Back on main's stack, with main's return address in x30. ---- */
        adrp    x10, saved_sp_lr
        add     x10, x10, :lo12:saved_sp_lr
        ldp     x9, x30, [x10]
        mov     sp, x9

        /* ---- 2. Jump to main's return address: to main, stack_swap returns. ---- */
        ret
        .size   come_home, .-come_home

/* No executable stack: without this note the linker assumes this object
 * needs one and marks the whole program's stack executable. */
        .section .note.GNU-stack,"",%progbits
