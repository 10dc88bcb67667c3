coroutine void e(int n) {
    while (f().wait) {}
    x = 1 + f().wait;
    a[1] = f().wait;
    switch (n) { case 1: f().wait; }
    char vla[n]; f().wait;
    goto out; out: ;
}
int z = s.wait;
