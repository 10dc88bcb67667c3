/* dialect.c: ch04-coroutines step a. The coroutine of coroutine.c as you
 * would write it in corofy's dialect: a drop-in replacement for coroutine.c.
 * Nothing here is built by `make`; `make compare` runs corofy on this file
 * and diffs what it writes against the state machine written by hand. */
#include <stdio.h>
#include <stdlib.h>

#include "coroutine.h"
#include "http.h"

coroutine void async_main(void)
{
    printf("Program starting\n");
    char *text = http_get("/600/HelloAsyncAwait").wait;
    printf("%s\n", text);
    free(text);
    text = http_get("/400/HelloAsyncAwait").wait;
    printf("%s\n", text);
    free(text);
}
