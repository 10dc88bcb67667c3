struct sum_frame {
    struct future base;     /* first: a frame is a future */
    int state;              /* 0: not started, 1: at the wait point, -1: finished */
    int n;                  /* parameter */
    int total;              /* local, line 10 */
    int i;                  /* local, line 11 */
    int x;                  /* local, line 12 */
    struct future *awaited; /* the future being waited for, or NULL */
};
