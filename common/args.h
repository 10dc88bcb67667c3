/* args.h: reading numbers from a command line. Not a lesson: every program
 * parses its numeric options with this one checked helper, so "-1", "12abc",
 * " 5" and 99999999999999999999 are refused everywhere instead of wrapping
 * around or being read as 0. */
#ifndef COMMON_ARGS_H
#define COMMON_ARGS_H

/* Read `text` as a whole decimal number from min to max (inclusive): digits
 * only, no sign, no spaces, nothing after them. Returns 0 and sets *out, or
 * -1 (and prints nothing: the caller names the option in its message). */
int parse_count(const char *text, unsigned long long min, unsigned long long max,
                unsigned long long *out);

#endif
