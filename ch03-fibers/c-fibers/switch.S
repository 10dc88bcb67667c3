/*
 * ch03-fibers/c-fibers/switch.S: picks the context switch written for the
 * CPU we are compiling for. Introduced in step c of chapter 3.
 *
 * The compiler predefines __x86_64__ or __aarch64__, so `make` and
 * `make fibers-aarch64` build the same file list; only this choice differs.
 */
#if defined(__x86_64__)
#include "switch_x86_64.S"
#elif defined(__aarch64__)
#include "switch_aarch64.S"
#else
#error "no context switch for this CPU: write switch_<cpu>.S and the CTX_* offsets in switch.h"
#endif
