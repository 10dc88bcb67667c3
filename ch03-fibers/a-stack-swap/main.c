/*
 * ch03-fibers/a-stack-swap/main.c: run a function on a stack we allocated.
 * Step a of chapter 3: plant two return addresses at the top of a fresh
 * stack, point rsp at them, and let `ret` carry the CPU there and back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 64 KiB: plenty for hello() and the printf machinery it calls. */
enum { STACK_SIZE = 64 * 1024 };

/* swap.S */
void stack_swap(void *new_rsp);
void come_home(void);

/* The stack we allocate, as integers so hello() may compare addresses. */
static uintptr_t stack_bottom, stack_top;

/* Runs on the new stack. A local variable lives wherever rsp points, so its
 * address tells us which stack we are on. */
static void hello(void)
{
    int here = 0;
    uintptr_t address = (uintptr_t) &here;

    if (address >= stack_bottom && address < stack_top)
        puts("hello: I woke up on a new stack");
    else
        puts("hello: I am still on the old stack?!");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        puts("usage: stack-swap\n"
             "Runs one function on a stack it allocates itself, then comes back.");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "stack-swap: unexpected argument '%s' (try --help)\n", argv[1]);
        return 2;
    }

    unsigned char *stack = malloc(STACK_SIZE);
    if (stack == NULL) {
        fprintf(stderr, "stack-swap: cannot allocate a %d-byte stack\n", STACK_SIZE);
        return 1;
    }
    stack_bottom = (uintptr_t) stack;

    /* A stack grows down, so it starts at its highest address. The ABI
     * wants rsp to be a multiple of 16 just before a `call`, so we round
     * the top down to 16. */
    stack_top = (stack_bottom + STACK_SIZE) & ~(uintptr_t) 15;

    /* Plant two addresses, exactly where a `call hello` would have left
     * its return address:
     *   top - 8:  come_home   hello's return address: its `ret` goes here
     *   top - 16: hello       stack_swap's `ret` pops this one first */
    uint64_t *top = (uint64_t *) stack_top;
    top[-1] = (uint64_t) (uintptr_t) come_home;
    top[-2] = (uint64_t) (uintptr_t) hello;

    puts("main: switching to a new stack");
    stack_swap(&top[-2]);
    puts("main: back on my own stack");

    free(stack);
    return 0;
}
