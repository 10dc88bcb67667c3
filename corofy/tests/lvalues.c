/* lvalues.c: a wait assigned to any place: through a pointer, an element
 * of an array (whose index waits too), a member, a member through a
 * pointer. The place is found first, then the wait happens, then the value
 * is stored. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

struct point {
    int x, y;
};

static int *pick(int *slots, int which)
{
    printf("pick(%d)\n", which);
    return &slots[which];
}

coroutine int lvalues(void)
{
    int slots[4] = {0, 0, 0, 0};
    int *p = &slots[0];
    struct point pt = {0, 0};
    struct point *pp = &pt;

    *p = ready_int(1, 1).wait;
    slots[ready_int(1, 2).wait] = ready_int(2, 22).wait;
    pt.x = ready_int(1, 3).wait;
    pp->y = ready_int(1, 4).wait;
    *pick(slots, 3) = ready_int(1, 33).wait;
    printf("slots %d %d %d %d, pt %d %d\n", slots[0], slots[1], slots[2], slots[3], pt.x, pt.y);
    return slots[2] + pt.y;
}

int main(void)
{
    int total = 0;
    RUN(lvalues(), total);
    printf("lvalues() = %d\n", total);
    return 0;
}
