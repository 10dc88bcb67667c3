/* early_return.c: returns from the middle of loops and branches; a return
 * whose value has side effects still runs when nobody wants the value. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

static int calls;

static int count_call(int v)
{
    calls++;
    return v;
}

coroutine int find(int target)
{
    for (int i = 0;; i++) {
        int v = ready_int(1, i * i).wait;
        if (v == target)
            return i;
        if (v > target)
            break;
    }
    return -1;
}

coroutine void maybe(int skip)
{
    if (skip) {
        printf("skipped\n");
        return;
    }
    sleep_polls(1).wait;
    printf("not skipped\n");
}

coroutine int side_effect(void)
{
    sleep_polls(1).wait;
    return count_call(5);
}

coroutine void early(void)
{
    int a = find(16).wait;
    int b = find(15).wait;
    printf("find(16) = %d, find(15) = %d\n", a, b);
    maybe(1).wait;
    maybe(0).wait;
    side_effect().wait;
    printf("calls %d\n", calls);
}

int main(void)
{
    RUN_VOID(early());
    return 0;
}
