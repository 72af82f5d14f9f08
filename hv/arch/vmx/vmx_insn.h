/* Every VMX instruction (and the few privileged ones the backend needs),
 * as inline assembly, in this one header. The *_safe forms return 0 on
 * success, 1 on VMfailInvalid, 2 on VMfailValid (SDM 30.2); the others
 * ignore failure because the caller cannot do anything better. */
#ifndef VMX_INSN_H
#define VMX_INSN_H

#include "hv/types.h"

#define VMX_OK 0
#define VMX_FAIL_INVALID 1
#define VMX_FAIL_VALID 2

/* CF = 1: VMfailInvalid; ZF = 1: VMfailValid. */
#define VMX_STATUS(cf, zf) ((cf) ? VMX_FAIL_INVALID : (zf) ? VMX_FAIL_VALID : VMX_OK)

static inline int vmxon(u64 pa)
{
	u8 cf, zf;
	__asm__ volatile("vmxon %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
	return VMX_STATUS(cf, zf);
}

static inline int vmxoff(void)
{
	u8 cf, zf;
	__asm__ volatile("vmxoff" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
	return VMX_STATUS(cf, zf);
}

static inline int vmclear(u64 pa)
{
	u8 cf, zf;
	__asm__ volatile("vmclear %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
	return VMX_STATUS(cf, zf);
}

static inline int vmptrld(u64 pa)
{
	u8 cf, zf;
	__asm__ volatile("vmptrld %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory");
	return VMX_STATUS(cf, zf);
}

static inline int vmread_safe(u64 enc, u64 *val)
{
	u8 cf, zf;
	u64 v = 0;
	__asm__ volatile("vmread %3, %2" : "=@ccc"(cf), "=@ccz"(zf), "=rm"(v) : "r"(enc) : "memory");
	*val = v;
	return VMX_STATUS(cf, zf);
}

static inline int vmwrite_safe(u64 enc, u64 val)
{
	u8 cf, zf;
	__asm__ volatile("vmwrite %3, %2" : "=@ccc"(cf), "=@ccz"(zf) : "r"(enc), "rm"(val) : "memory");
	return VMX_STATUS(cf, zf);
}

/* INVEPT / INVVPID descriptors (SDM 30.3). Types: 1 single context,
 * 2 all contexts (INVEPT); 1 single context (INVVPID). */
static inline int invept(u64 type, u64 eptp)
{
	struct { u64 eptp, zero; } d = { eptp, 0 };
	u8 cf, zf;
	__asm__ volatile("invept %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "m"(d), "r"(type) : "memory");
	return VMX_STATUS(cf, zf);
}

static inline int invvpid(u64 type, u16 vpid)
{
	struct { u64 vpid, addr; } d = { vpid, 0 };
	u8 cf, zf;
	__asm__ volatile("invvpid %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "m"(d), "r"(type) : "memory");
	return VMX_STATUS(cf, zf);
}

/* ---- privileged helpers the backend needs around VMX ---- */

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (u64)hi << 32 | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

static inline void cpuid_raw(u32 leaf, u32 sub, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline u64 rdtsc_raw(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

#define DEFINE_CR(n)                                                           \
	static inline u64 read_cr##n(void)                                     \
	{                                                                      \
		u64 v;                                                         \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));              \
		return v;                                                      \
	}                                                                      \
	static inline void write_cr##n(u64 v)                                  \
	{                                                                      \
		__asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory");       \
	}
DEFINE_CR(0)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

struct desc_ptr {
	u16 limit;
	u64 base;
} __attribute__((packed));

static inline void sgdt(struct desc_ptr *d) { __asm__ volatile("sgdt %0" : "=m"(*d)); }
static inline void sidt(struct desc_ptr *d) { __asm__ volatile("sidt %0" : "=m"(*d)); }
static inline void lgdt(const struct desc_ptr *d) { __asm__ volatile("lgdt %0" ::"m"(*d)); }
static inline void lidt(const struct desc_ptr *d) { __asm__ volatile("lidt %0" ::"m"(*d)); }
static inline u16 str(void) { u16 s; __asm__ volatile("str %0" : "=r"(s)); return s; }
#define READ_SEG(seg) ({ u16 s_; __asm__ volatile("mov %%" #seg ", %0" : "=r"(s_)); s_; })

static inline void wbinvd(void) { __asm__ volatile("wbinvd" ::: "memory"); }
static inline void xsetbv(u32 idx, u64 v)
{
	__asm__ volatile("xsetbv" ::"c"(idx), "a"((u32)v), "d"((u32)(v >> 32)));
}

#endif
