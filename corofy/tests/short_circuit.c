/* short_circuit.c: && || and ?: keep their meaning: a wait on the side C
 * does not evaluate is never made (leaves_made() counts the futures made). */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int ready_int(int polls, int value);

coroutine int short_circuit(int n)
{
    int and_false = n < 0 && ready_int(1, 1).wait;
    int and_true = n > 0 && ready_int(1, 5).wait;
    int or_true = n > 0 || ready_int(1, 0).wait;
    int or_false = n < 0 || ready_int(2, 0).wait;
    int pick = n > 1 ? ready_int(1, 10).wait : ready_int(1, 20).wait;
    int other = n > 5 ? ready_int(1, 10).wait : n + 100;
    printf("and %d %d, or %d %d, pick %d, other %d\n", and_false, and_true, or_true, or_false,
           pick, other);
    if (n > 100 && ready_int(1, 1).wait)
        printf("never\n");
    printf("futures made: %ld\n", leaves_made());
    return pick + other;
}

int main(void)
{
    int total = 0;
    RUN(short_circuit(3), total);
    printf("short_circuit(3) = %d, futures made: %ld\n", total, leaves_made());
    return 0;
}
