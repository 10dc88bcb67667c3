/*
 * ch03-fibers/a-stack-swap/main.c: run a function on a stack we allocated.
 * Step a of chapter 3: plant two return addresses at the top of a fresh
 * stack, point the stack pointer at them, and let `ret` carry the CPU there
 * and back (swap.S).
 */
#include "../../common/alloc.h"
#include "../../common/errors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 64 KiB: plenty for hello() and the printf machinery it calls. */
enum { STACK_SIZE = 64 * 1024 };

/* swap_<cpu>.S */
void stack_swap(void *new_sp);
void come_home(void);

/* The stack we allocate, as integers so hello() may compare addresses. */
static uintptr_t stack_bottom, stack_top;

/* Runs on the new stack. A local variable lives wherever the stack pointer
 * points, so its address tells us which stack we are on. */
static void hello(void)
{
    int here = 0;
    uintptr_t address = (uintptr_t) &here;

    if (address >= stack_bottom && address < stack_top)
        puts("hello: I woke up on a new stack");
    else
        puts("hello: I am still on the old stack?!");
#ifdef BUG_MISALIGNED
    printf("hello: %f\n", 1.5); /* exercise 2: vector registers saved on the stack */
#endif
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        puts("usage: stack-swap\n"
             "Runs one function on a stack it allocates itself, then comes back.");
        return 0;
    }
    if (argc > 1) { /* nothing but --help, alone */
        fprintf(stderr, "stack-swap: unexpected argument '%s' (try --help)\n",
                argv[strcmp(argv[1], "--help") == 0 ? 2 : 1]);
        return 2;
    }

    unsigned char *stack = xmalloc(STACK_SIZE);
    stack_bottom = (uintptr_t) stack;

    /* A stack grows down, so it starts at its highest address. Both ABIs
     * want the stack pointer to be a multiple of 16 at a call (aarch64: at
     * all times), so we round the top down to 16. */
    stack_top = (stack_bottom + STACK_SIZE) & ~(uintptr_t) 15;

    /* Plant two addresses where a call to hello would have left them:
     *   top - 8:  come_home   hello's return address: its `ret` goes here
     *   top - 16: hello       where stack_swap jumps first
     * x86-64's `ret` pops them off the stack; on aarch64 stack_swap loads
     * them into registers (swap_aarch64.S). */
    uint64_t *top = (uint64_t *) stack_top;
    /* LESSON plant: Plant come_home and hello as the two lowest words below top.
     * hint: top[-1] is the higher word (hello's return address), top[-2] the
     *   lower (where stack_swap jumps first); cast each function through uintptr_t.
     * stub:
     *   (void) hello;
     *   lesson_missing("plant"); */
    top[-1] = (uint64_t) (uintptr_t) come_home;
    top[-2] = (uint64_t) (uintptr_t) hello;
    /* END LESSON plant */
#if defined(BUG_NO_LANDING_PAD) /* exercise 1 */
    top[-1] = 0;
#elif defined(BUG_MISALIGNED) /* exercise 2: both words 8 bytes lower */
    top[-3] = top[-2];
    top[-2] = top[-1];
    top -= 1;
#endif

    puts("main: switching to a new stack");
    stack_swap(&top[-2]);
    puts("main: back on my own stack");

    free(stack);
    return 0;
}
