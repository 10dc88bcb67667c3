/* comments.c: the student's comments and blank lines survive in the poll
 * function, next to the code they describe. */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

#define TEXT(x) #x

coroutine int commented(int n)
{ // the body starts
    int total = 0; /* a running sum */
    int last;      // the last value seen

    /* Ask for n numbers,
     * one at a time. */
    for (int i = 0; i < n; i++) {
        last = ready_int(1, i).wait; // wait here
        total += last;

        // a comment on its own line
    }
    /* A macro's argument may hold a star next to a slash: the comment
     * corofy writes for the wait point quotes them, and must go on. */
    last = ready_int(1, (int) strlen(TEXT(*/))).wait;
    total = total + 0; // a line comment, then a declaration that writes nothing
    int spare; /* and its comment, which must not
                  end up inside the line comment */
    spare = total;
    if (total > 3) { /* big */
        printf("big\n");
    } // end of if
    else {
        printf("small\n");
    }
    printf("total %d, last %d, spare %d\n", total, /* inline */ last, spare);
    return total;
    /* a comment before the closing brace */
}

int main(void)
{
    int total = 0;
    RUN(commented(4), total);
    printf("%d\n", total);
    return 0;
}
