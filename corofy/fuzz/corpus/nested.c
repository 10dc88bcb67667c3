/* corofy: waker */
typedef struct { int x; } point;
static int helper(int x) { return x; }
coroutine point *f(int n, const char *names[], point p);
static coroutine int g(void)
{
    static int calls;
    point p = {1};
    int a[2] = {1, 2}, *q = a;
    char s[8] = "hi";
    for (int i = 0, j = 1; i < 2; i++, j--)
        if (i) { int v = helper(i).wait; } else if (j) p = f(1, 0, p).wait; else continue;
    switch (calls) { case 1: break; default: { int n = 3; char vla[n]; (void) vla; } }
    do q = q; while (0);
    lbl: calls++;
    return g().wait;
}
