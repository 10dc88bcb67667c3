/* offsetof_member.c: in offsetof(T, x) x names a member, even when a local
 * is called x too: corofy leaves it alone. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

struct rec {
    char tag;
    int x;
    struct pair inner;
};

coroutine int offsets(void)
{
    int x = ready_int(1, 3).wait;
    int inner = 1;
    size_t at = offsetof(struct rec, x) + offsetof(struct rec, inner.y) + (size_t) inner;
    printf("x %d, offsets %zu\n", x, at);
    return x + (int) at;
}

int main(void)
{
    int total = 0;
    RUN(offsets(), total);
    printf("offsets() = %d\n", total);
    return 0;
}
