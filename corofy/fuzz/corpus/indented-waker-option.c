/* params.c: parameters live in the frame: scalars, pointers, arrays,
 * structs, function pointers and const ones, used and changed after waits. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

struct point {
    int x, y;
};

static int twice(int v)
{
    return 2 * v;
}

coroutine int params(int n, const char *name, int values[3], struct point p, int (*f)(int),
                     const int k)
{
    int sum = ready_int(1, k).wait;
    for (int i = 0; i < 3; i++) {
        int v = ready_int(i, values[i]).wait;
        sum += f(v);
    }
    n = ready_int(2, n + 1).wait;
    p.x += n;
    printf("%s: sum %d, n %d, p = (%d, %d)\n", name, sum, n, p.x, p.y);
    return sum + p.x;
}

int main(void)
{
    int values[3] = {1, 2, 3};
    int out = 0;
   /* corofy: waker */
 RUN(params(4, "params", values, (struct point){10, 20}, twice, 100), out);
    printf("out %d\n", out);
    return 0;
}
