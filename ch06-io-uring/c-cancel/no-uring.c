/* no-uring.c: ch06-io-uring/a-rings. Runs a program in a process where
 * io_uring_setup fails as it does on a kernel without io_uring (ENOSYS) or
 * in a container whose seccomp profile forbids it (EPERM), so the tests can
 * check what ./rings does there without such a machine. Run
 * ./no-uring --help for the options.
 *
 * How: a seccomp filter, the same mechanism container runtimes use. It is a
 * small classic-BPF program the kernel runs on every system call of this
 * process and, after exec, of the program it becomes (filters survive exec
 * and are inherited by children, and can never be removed). */
#include <errno.h>
#include <getopt.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../common/errors.h"

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "no-uring: name this architecture's AUDIT_ARCH_* value"
#endif

#define EXIT_USAGE 2

static void usage(FILE *to)
{
    fputs("usage: no-uring [--errno ENOSYS|EPERM] PROGRAM [ARGUMENT...]\n"
          "\n"
          "Runs PROGRAM with a seccomp filter that makes io_uring_setup fail with\n"
          "the given error (default ENOSYS), as on a kernel without io_uring (ENOSYS)\n"
          "or under a container's seccomp profile or kernel.io_uring_disabled (EPERM).\n"
          "Exits with PROGRAM's status, or 127 if it cannot be started.\n"
          "\n"
          "  --errno NAME  ENOSYS or EPERM\n"
          "  -h, --help    show this help\n",
          to);
}

__attribute__((noreturn)) static void usage_error(const char *what, const char *word)
{
    fprintf(stderr, "%s: %s '%s' (try --help)\n", program_invocation_short_name, what, word);
    exit(EXIT_USAGE);
}

/* Allow every system call but io_uring_setup, which fails with `error`. */
static void forbid_io_uring(int error)
{
    struct sock_filter filter[] = {
        /* A call made through another ABI (32-bit code) numbers its system
         * calls differently: leave it alone rather than misread it. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* io_uring_setup? Then return -error without running it. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned) error & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {
        .len = (unsigned short) (sizeof filter / sizeof filter[0]),
        .filter = filter,
    };
    /* Without root, a filter is allowed only once the process has promised
     * never to gain privileges (through a set-user-ID program, say). */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) < 0)
        die("cannot install a seccomp filter: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"errno", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int error = ENOSYS;
    int c;

    opterr = 0;
    /* "+": stop at the first word that is not an option, so the program's
     * own options (./rings --help) stay the program's. */
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            if (strcmp(optarg, "ENOSYS") == 0)
                error = ENOSYS;
            else if (strcmp(optarg, "EPERM") == 0)
                error = EPERM;
            else
                usage_error("--errno wants ENOSYS or EPERM, not", optarg);
            break;
        case 'h':
            if (optind < argc)
                usage_error("unexpected argument", argv[optind]);
            usage(stdout);
            return 0;
        case ':':
            usage_error("a value is missing after", argv[optind - 1]);
        default:
            usage_error("bad option", argv[optind - 1]);
        }
    }
    if (optind == argc) {
        fprintf(stderr, "%s: no program to run (try --help)\n", program_invocation_short_name);
        return EXIT_USAGE;
    }

    forbid_io_uring(error);
    execvp(argv[optind], argv + optind);
    fprintf(stderr, "%s: cannot run '%s': %s\n", program_invocation_short_name, argv[optind],
            strerror(errno));
    return 127; /* as env(1) and the shell say "not found" */
}
