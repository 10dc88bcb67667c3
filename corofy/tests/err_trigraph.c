/* A trigraph: -std=c11 reads ??( as [, GNU modes do not. */
#include "future.h"

coroutine int tri(void)
{
    int a??(2??) = {1, 2};
    sleep_polls(1).wait;
    return a[0];
}
