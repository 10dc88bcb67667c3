/* compound.c: a wait as the right side of every compound assignment. The
 * variable is read when the wait is over, so x += E.wait adds to what x
 * holds then. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int compound(int start)
{
    int x = start;
    unsigned bits = 0xf0;
    x += ready_int(1, 10).wait;
    x -= ready_int(2, 3).wait;
    x *= ready_int(1, 4).wait;
    x /= ready_int(0, 2).wait;
    x %= ready_int(1, 7).wait;
    bits |= (unsigned) ready_int(1, 0x0f).wait;
    bits &= (unsigned) ready_int(1, 0x3c).wait;
    bits ^= (unsigned) ready_int(1, 0xff).wait;
    bits <<= ready_int(1, 2).wait;
    bits >>= ready_int(1, 1).wait;
    printf("x = %d, bits = %#x\n", x, bits);
    return x + (int) bits;
}

int main(void)
{
    int total = 0;
    RUN(compound(5), total);
    printf("compound(5) = %d\n", total);
    return 0;
}
