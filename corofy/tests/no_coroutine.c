/* no_coroutine.c: a file without coroutines is copied unchanged (with a
 * warning): not even trailing spaces or tabs change.   
 * The word coroutine in a comment does not count; nor does s.waiting. */
#include <stdio.h>

struct s { int waiting; };

int main(void)
{
	struct s s = {0};
	printf("coroutine %d\n", s.waiting);  
	return 0;
}
