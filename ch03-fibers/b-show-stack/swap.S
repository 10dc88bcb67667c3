/*
 * ch03-fibers/a-stack-swap/swap.S: picks the stack swap written for the CPU
 * we are compiling for. Introduced in step a of chapter 3.
 *
 * The compiler predefines __x86_64__ or __aarch64__, so `make` and
 * `make stack-swap-aarch64` build the same file list; only this choice differs.
 */
#if defined(__x86_64__)
#include "swap_x86_64.S"
#elif defined(__aarch64__)
#include "swap_aarch64.S"
#else
#error "no stack swap for this CPU: write swap_<cpu>.S (see swap_x86_64.S)"
#endif
