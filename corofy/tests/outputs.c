/* outputs.c: coroutines that produce an int, a pointer, a struct, or nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"

coroutine int make_int(int base)
{
    int x = ready_int(1, base).wait;
    return x * 3;
}

coroutine char *make_string(const char *prefix)
{
    char *word = ready_str(2, "coroutine").wait;
    char *joined = malloc(strlen(prefix) + strlen(word) + 1);
    strcpy(joined, prefix);
    strcat(joined, word);
    free(word);
    return joined;
}

coroutine struct pair make_pair(int x)
{
    struct pair p = ready_pair(1, x, x + 1).wait;
    p.y *= 10;
    return p;
}

coroutine const char *constant(void)
{
    sleep_polls(1).wait;
    return "a constant string";
}

coroutine void make_nothing(int *counter)
{
    sleep_polls(2).wait;
    (*counter)++;
}

coroutine void outputs(void)
{
    int i = make_int(14).wait;
    char *s = make_string("a ").wait;
    struct pair p = make_pair(4).wait;
    const char *c = constant().wait;
    int counter = 0;
    make_nothing(&counter).wait;
    make_int(1).wait; /* a value nobody wants: written nowhere */
    printf("%d, %s, (%d, %d), %s, %d\n", i, s, p.x, p.y, c, counter);
    free(s);
}

int main(void)
{
    RUN_VOID(outputs());
    return 0;
}
