/* spelling.c: line splices (a backslash at the end of a line) inside
 * tokens, a // comment that a splice continues onto the next line, and
 * digraphs: corofy reads them as the compiler does. */
#pragma GCC diagnostic ignored "-Wcomment" /* the comment continued on purpose */
#include <stdio.h>
#include <stdlib.h>

#include "future.h"

coroutine int spelling(int n)
<%
    int to\
tal = 0;
    int v<:2:> = <%0, 0%>;
    for (int i = 0; i < n; i++) {
        int x = ready_int(1, i).wa\
it;
        total += x; // note \
continued
    }
    v<:1:> = total;
    ret\
urn v[1] + to\
tal;
%>

int main(void)
{
    int total = 0;
    RUN(spelling(4), total);
    printf("spelling(4) = %d\n", total);
    return 0;
}
