/* dialect.c: ch04-coroutines step a. The coroutine of coroutine.c as you
 * would write it in corofy's dialect: a drop-in replacement for coroutine.c.
 * Nothing here is built by `make`; `make compare` runs corofy on this file
 * and diffs what it writes against the state machine written by hand. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../common/alloc.h"
#include "../../common/clock.h"
#include "coroutine.h"
#include "http.h"

coroutine void async_main(void)
{
    printf("Program starting\n");
    uint64_t start = now_ns();
    char *text = http_get("/600/HelloAsyncAwait").wait;
    http_print(text, start);
    free(text);
    start = now_ns();
    text = http_get("/400/HelloAsyncAwait").wait;
    http_print(text, start);
    free(text);
}
