/*
 * ch03-fibers/b-show-stack/main.c: step a, showing the stack before we jump.
 * Step b of chapter 3: print the top bytes of the new stack with their
 * addresses, so the planted return addresses are there to see.
 */
#include "../../common/alloc.h"
#include "../../common/errors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 64 KiB: plenty for hello() and the printf machinery it calls. */
enum { STACK_SIZE = 64 * 1024 };

/* How many bytes below the top show_stack() prints: four 8-byte words. */
#ifdef EXERCISE_1 /* README.md: a wider window, shown from hello too */
enum { SHOWN_BYTES = 128 };
static const uint64_t *planted_sp;
static void show_stack(const uint64_t *new_sp);
#else
enum { SHOWN_BYTES = 32 };
#endif

/* What show_stack() says about the two planted words: each CPU takes them
 * its own way (swap_<cpu>.S). */
#if defined(__x86_64__)
#define NOTE_HELLO "rsp will point here: stack_swap's ret pops hello"
#define NOTE_COME_HOME "hello's return address: come_home"
#else
#define NOTE_HELLO "new_sp points here: stack_swap loads hello and jumps to it"
#define NOTE_COME_HOME "hello's return address: come_home, loaded into x30"
#endif

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
#ifdef EXERCISE_1
    show_stack(planted_sp);
#endif
}

/* Print the top SHOWN_BYTES of the stack, lowest address first, one 8-byte
 * word a row: its address, its bytes in memory order, and the number they
 * make. x86-64 and aarch64 (as Linux runs it) are little-endian: the least
 * significant byte sits at the lowest address, so the bytes read backwards
 * compared with the number. */
static void show_stack(const uint64_t *new_sp)
{
    const unsigned char *bytes = (const unsigned char *) (stack_top - SHOWN_BYTES);

    printf("main: the top %d bytes of the new stack, one 8-byte word a row:\n", SHOWN_BYTES);
    /* LESSON show-stack: Print each 8-byte word: address, bytes in memory order, value, note.
     * hint: One row per word, lowest address first: printf("  %p ", ...), then
     *   each byte as " %02x", then "  = 0x%016llx" of the word (memcpy it out of
     *   the bytes), then "  <- " NOTE_HELLO beside new_sp and "  <- "
     *   NOTE_COME_HOME beside new_sp + 1; end the row with a newline.
     * stub:
     *   (void) bytes;
     *   (void) new_sp;
     *   lesson_missing("show-stack"); */
    for (int row = 0; row < SHOWN_BYTES / 8; row++, bytes += 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof word);
        printf("  %p ", (const void *) bytes);
        for (int i = 0; i < 8; i++)
            printf(" %02x", bytes[i]);
        printf("  = 0x%016llx", (unsigned long long) word);
        if ((const void *) bytes == new_sp)
            printf("  <- " NOTE_HELLO);
        else if ((const void *) bytes == new_sp + 1)
            printf("  <- " NOTE_COME_HOME);
        putchar('\n');
    }
    /* END LESSON show-stack */
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        puts("usage: show-stack\n"
             "Prints the top of a stack it prepared, runs one function there, comes back.");
        return 0;
    }
    if (argc > 1) { /* nothing but --help, alone */
        fprintf(stderr, "show-stack: unexpected argument '%s' (try --help)\n",
                argv[strcmp(argv[1], "--help") == 0 ? 2 : 1]);
        return 2;
    }

    /* xcalloc: the bytes we have not planted show up as zeros. */
    unsigned char *stack = xcalloc(1, STACK_SIZE);
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

    printf("main: hello is at %p, come_home is at %p\n", (void *) (uintptr_t) hello,
           (void *) (uintptr_t) come_home);
    printf("main: the new stack is %d bytes, from %p up to %p\n", STACK_SIZE, (void *) stack,
           (void *) stack_top);
    show_stack(&top[-2]);
#ifdef EXERCISE_1
    planted_sp = &top[-2];
#endif

    puts("main: switching to a new stack");
    stack_swap(&top[-2]);
    puts("main: back on my own stack");

    free(stack);
    return 0;
}
