/*
 * ch03-fibers/b-show-stack/main.c: step a, showing the stack before we jump.
 * Step b of chapter 3: print the top bytes of the new stack with their
 * addresses, so the planted return addresses are there to see.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 64 KiB: plenty for hello() and the printf machinery it calls. */
enum { STACK_SIZE = 64 * 1024 };

/* How many bytes below the top show_stack() prints: four 8-byte words. */
enum { SHOWN_BYTES = 32 };

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

/* Print the top SHOWN_BYTES of the stack, lowest address first, one 8-byte
 * word a row: its address, its bytes in memory order, and the number they
 * make. x86-64 is little-endian (least significant byte at the lowest
 * address), so the bytes read backwards compared with the number. */
static void show_stack(const uint64_t *rsp)
{
    const unsigned char *bytes = (const unsigned char *) (stack_top - SHOWN_BYTES);

    printf("main: the top %d bytes of the new stack, one 8-byte word a row:\n", SHOWN_BYTES);
    for (int row = 0; row < SHOWN_BYTES / 8; row++, bytes += 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof word);
        printf("  %p ", (const void *) bytes);
        for (int i = 0; i < 8; i++)
            printf(" %02x", bytes[i]);
        printf("  = 0x%016llx", (unsigned long long) word);
        if ((const void *) bytes == rsp)
            printf("  <- rsp will point here: stack_swap's ret pops hello");
        else if ((const void *) bytes == rsp + 1)
            printf("  <- hello's return address: come_home");
        putchar('\n');
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        puts("usage: show-stack\n"
             "Prints the top of a stack it prepared, runs one function there, comes back.");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "show-stack: unexpected argument '%s' (try --help)\n", argv[1]);
        return 2;
    }

    /* calloc: the bytes we have not planted show up as zeros. */
    unsigned char *stack = calloc(1, STACK_SIZE);
    if (stack == NULL) {
        fprintf(stderr, "show-stack: cannot allocate a %d-byte stack\n", STACK_SIZE);
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

    printf("main: hello is at %p, come_home is at %p\n", (void *) (uintptr_t) hello,
           (void *) (uintptr_t) come_home);
    printf("main: the new stack is %d bytes, from %p up to %p\n", STACK_SIZE, (void *) stack,
           (void *) stack_top);
    show_stack(&top[-2]);

    puts("main: switching to a new stack");
    stack_swap(&top[-2]);
    puts("main: back on my own stack");

    free(stack);
    return 0;
}
