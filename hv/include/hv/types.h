/* Fixed-width types for the core. Only freestanding headers: the core links
 * into a libc-free image in the real build. */
#ifndef HV_TYPES_H
#define HV_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define LARGE_ORDER 9 /* a 2 MiB mapping is 2^9 frames */

#define INVALID_MFN (~0ull)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(n) (1ull << (n))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Error codes returned by the core (negated, Linux/Xen style). */
#define HV_ERRORS(X)                                                           \
	X(OK, 0, "success")                                                    \
	X(EPERM, 1, "operation not permitted")                                 \
	X(ENOENT, 2, "no such object")                                         \
	X(ENOMEM, 12, "out of memory")                                         \
	X(EFAULT, 14, "bad address")                                           \
	X(EBUSY, 16, "busy")                                                   \
	X(EEXIST, 17, "already exists")                                        \
	X(EINVAL, 22, "invalid argument")                                      \
	X(ENOSPC, 28, "no space left")                                         \
	X(ERANGE, 34, "out of range")                                          \
	X(ENOSYS, 38, "no such hypercall")                                     \
	X(ESRCH, 3, "no such domain")

enum hv_errno {
#define X(name, val, text) HV_##name = val,
	HV_ERRORS(X)
#undef X
};

const char *hv_strerror(long err);

#endif
