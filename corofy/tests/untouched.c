/* untouched.c: coroutine and wait inside comments, strings, character
 * literals, other identifiers, designators and macros stay as they are.
 * This coroutine is not a coroutine: coroutine int f(void) { x.wait; } */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

// coroutine void g(void) { y.wait; }
#define WAIT_FOR(f) f.wait
#define coroutine_count 2

struct options {
    int wait;      /* a member named wait */
    int waiting;
};

static int wait_time = 3;

static void show(const struct options *o)
{
    printf("\"coroutine\" and \".wait\" in a string, '.', wait %d, waiting %d\n", o->wait,
           o->waiting);
}

coroutine int still_translated(void)
{
    struct options o = {.wait = 1, .waiting = 2};
    int coroutines = coroutine_count; /* "wait" */
    int waited = ready_int(1, wait_time).wait;
    o.waiting = waited;
    show(&o);
    printf("%s %c\n", "x.wait; coroutine", '.');
    return coroutines + o.waiting;
}

int main(void)
{
    int r = 0;
    RUN(still_translated(), r);
    printf("%d\n", r);
    return 0;
}
