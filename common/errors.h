/* errors.h: how every program of the workbook gives up. Not a lesson: the
 * chapters include it by relative path ("../../common/errors.h") so that a
 * fatal error reads the same everywhere:
 *
 *     <program>: <what went wrong>
 *
 * on stderr, after whatever the program printed on stdout so far, and exit
 * status 1; a mistake on the command line exits 2 instead (die_usage). A program's bad input is
 * reported this way too, never with assert() or abort(), which are kept for the programmer's own
 * mistakes. */
#ifndef COMMON_ERRORS_H
#define COMMON_ERRORS_H

/* Flush stdout, print "<program>: <message>" and a newline on stderr, and
 * exit(1). The message is formatted like printf. */
void die(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

/* For a mistake on the command line: flush stdout, print
 * "<program>: <message> (try --help)" on stderr, and exit(2). */
void die_usage(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

/* die("<what>: <strerror(err)>") unless err is 0. For the pthread_* calls,
 * which return an error number instead of setting errno. */
void check_pthread(int err, const char *what);

/* In the student edition of the workbook (docs/workshop.md), the stub of a
 * lesson that is not written yet: print "<program>: the lesson '<name>' is
 * not written yet" and exit 1, so that the program fails its tests at once
 * instead of hanging or carrying on with a missing piece. */
void lesson_missing(const char *name) __attribute__((noreturn));

#endif
