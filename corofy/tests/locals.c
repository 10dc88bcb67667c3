/* locals.c: scalars, pointers, arrays and structs that live across waits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"

struct point {
    int x, y;
};

coroutine int locals(void)
{
    int count = 1;
    const int limit = 3;
    double half = 0.5;
    char buffer[32] = "start";
    int squares[4] = {0, 1, 4, 9};
    int *cursor = squares;
    struct point p = {1, 2};
    struct point *where = &p;
    char letters[3];
    int a = 1, *pa = &a, b;

    letters[0] = 'x';
    b = ready_int(1, 2).wait;
    struct pair q = ready_pair(2, 30, 40).wait;
    while (count <= limit) {
        cursor++;
        int seen = ready_int(1, *cursor).wait;
        strcat(buffer, "+");
        where->x += seen;
        count++;
    }
    letters[1] = 'y';
    letters[2] = '\0';
    printf("buffer %s, p = (%d, %d), q = (%d, %d)\n", buffer, p.x, p.y, q.x, q.y);
    printf("letters %s, half %.1f, *pa + b = %d\n", letters, half, *pa + b);
    return (int) (cursor - squares);
}

int main(void)
{
    int moved = 0;
    RUN(locals(), moved);
    printf("cursor moved %d\n", moved);
    return 0;
}
