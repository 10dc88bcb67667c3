/* initialisers.c: waits in the initialisers of locals of every shape: a
 * scalar (of another type than the future's), an array, a struct, a
 * designated initialiser, several declarators in one declaration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int initialisers(int n)
{
    double half = ready_int(1, n).wait / 2.0;
    int v[3] = {ready_int(1, 1).wait, n, ready_int(2, 3).wait};
    struct pair p = {ready_int(1, 4).wait, ready_int(1, 5).wait};
    struct pair q = {.y = ready_int(1, 6).wait, .x = 7};
    int a = ready_int(1, 8).wait, b = a + ready_int(1, 1).wait;
    printf("half %.1f, v %d %d %d, p %d %d, q %d %d, a %d, b %d\n", half, v[0], v[1], v[2], p.x,
           p.y, q.x, q.y, a, b);
    return (int) half + v[2] + p.y + q.y + b;
}

int main(void)
{
    int total = 0;
    RUN(initialisers(5), total);
    printf("initialisers(5) = %d\n", total);
    return 0;
}
