enum poll_status { POLL_PENDING = 0, POLL_READY = 1 };

struct future {
    enum poll_status (*poll)(struct future *self, void *output);   /* ch04: the plain flavour */
    void (*drop)(struct future *self);
};
