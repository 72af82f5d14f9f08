/* The hypercall ABI (hv/core/hypercall.c): generic argument validation from
 * the table, and each call from the host and from guests with hostile
 * arguments. */
#include "testlib.h"
#include "hv/hv.h"
#include "hv/arch.h"
#include "sim.h"
#include "../../hv/core/core.h"

static s64 call(u32 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 a[4] = { a0, a1, a2, a3 };
	return hv_host_call(nr, a, NULL, 0);
}

static struct hv_vcpu *V;
static s64 D;

/* A running domain with 1 MiB of RAM at gpa 0. */
static int guest_up(void)
{
	if (test_hv_up(4096))
		return -1;
	D = call(HC_DOMAIN_CREATE, 1, 256, 0, 0);
	if (D <= 0 || call(HC_POPULATE, (u64)D, 0, 256, 0) ||
	    call(HC_DOMAIN_UNPAUSE, (u64)D, 0, 0, 0))
		return -1;
	V = hv_vcpu_get(hv_domain_get((u32)D), 0);
	return 0;
}

static unsigned last_fate;

static s64 vmcall(u64 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 *r = hv_vcpu_gprs(V);
	r[RAX] = nr;
	r[RDI] = a0;
	r[RSI] = a1;
	r[RDX] = a2;
	r[R10] = a3;
	arch_vmcs_load(V);
	sim_vmcs_set(VMCS_EXIT_REASON, EXIT_VMCALL);
	sim_vmcs_set(VMCS_EXIT_INSTRUCTION_LEN, 3);
	sim_vmcs_set(VMCS_GUEST_RIP, 0x1000);
	last_fate = hv_vcpu_exit(V);
	return (s64)r[RAX];
}

TEST(hypercall_host_argument_validation)
{
	CHECK(guest_up() == 0);
	CHECK_EQ(call(HC_VERSION, 0, 0, 0, 0), 0x00010000);
	CHECK_EQ(call(HC_VERSION, 1, 0, 0, 0), -HV_EINVAL);      /* NONE must be 0 */
	CHECK_EQ(call(0x3f, 0, 0, 0, 0), -HV_ENOSYS);
	CHECK_EQ(call(0x1f, 0, 0, 0, 0), -HV_ENOSYS);            /* unassigned */
	CHECK_EQ(call(0xffffffff, 0, 0, 0, 0), -HV_ENOSYS);
	CHECK_EQ(call(HC_CONSOLE_WRITE, 0, 1, 0, 0), -HV_EPERM); /* guest only */
	CHECK_EQ(call(HC_DOMAIN_PAUSE, 0, 0, 0, 0), -HV_ESRCH);  /* the host itself */
	CHECK_EQ(call(HC_DOMAIN_PAUSE, 50, 0, 0, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (1ull << 32) | (u64)D, 0, 0, 0), -HV_ESRCH);
	CHECK_EQ(call(HC_POPULATE, (u64)D, 0, 0, 0), -HV_EINVAL);        /* COUNT 0 */
	CHECK_EQ(call(HC_POPULATE, (u64)D, 0, HV_MAX_COUNT + 1, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_POPULATE, (u64)D, HV_P2M_GFN_LIMIT, 1, 0), -HV_ERANGE);
	CHECK_EQ(call(HC_POPULATE, (u64)D, 0, 1, 1), -HV_EINVAL);        /* ORDER */
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 1, 0, 0), -HV_EINVAL);  /* VCPU */
	CHECK_EQ(call(HC_IOREQ_COMPLETE, (u64)D, 0, 0, 0), -HV_EINVAL);  /* none pending */
	CHECK_EQ(call(HC_INJECT_IRQ, (u64)D, 0, 31, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_INJECT_IRQ, (u64)D, 0, 256, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_SET_PERMS, (u64)D, 0, 1, EPT_W), -HV_EINVAL);   /* W without R */
	CHECK_EQ(call(HC_SET_PERMS, (u64)D, 0, 1, 8), -HV_EINVAL);
	CHECK_EQ(call(HC_SET_PERMS, (u64)D, 0x100, 1, EPT_R), -HV_ENOENT);
	CHECK_EQ(call(HC_SET_PERMS, (u64)D, 0, 2, EPT_R), 0);
	CHECK_EQ(call(HC_UNMAP, (u64)D, HV_P2M_GFN_LIMIT - 1, 2, 0), -HV_ERANGE);
	CHECK_INVARIANTS();
}

TEST(hypercall_load_and_set_state_validate)
{
	CHECK(guest_up() == 0);
	u64 a[4] = { (u64)D, 0x1000, 0, 0 };
	CHECK_EQ(hv_host_call(HC_LOAD, a, NULL, 0), -HV_EINVAL);
	CHECK_EQ(hv_host_call(HC_LOAD, a, "abc", 3), 0);
	a[1] = 0xfffff; /* the last byte of RAM, then one beyond */
	CHECK_EQ(hv_host_call(HC_LOAD, a, "ab", 2), -HV_EFAULT);
	u8 rec[32] = { 0 };
	u64 s[4] = { (u64)D, 0, 0, 0 };
	uxt_put32(rec, VMCS_HOST_RIP); /* host state: never from the host API */
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, rec, 16), -HV_EINVAL);
	uxt_put32(rec, VMCS_EPT_POINTER); /* a control field */
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, rec, 16), -HV_EINVAL);
	uxt_put32(rec, VMCS_GUEST_RIP);
	uxt_put64(rec + 8, 0x4242);
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, rec, 15), -HV_EINVAL);
	uxt_put32(rec + 4, 1); /* padding must be zero */
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, rec, 16), -HV_EINVAL);
	uxt_put32(rec + 4, 0);
	uxt_put32(rec + 16, 0xf000 | RBX);
	uxt_put64(rec + 24, 77);
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, rec, 32), 0);
	arch_vmcs_load(V);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), 0x4242);
	CHECK_EQ(hv_vcpu_gprs(V)[RBX], 77);
}

/* All or nothing: a CR0 a guest MOV would #GP on (PG without PE), after a
 * good record, leaves the good one unapplied too. */
TEST(hypercall_set_state_is_all_or_nothing)
{
	CHECK(guest_up() == 0);
	u8 rec[32] = { 0 };
	u64 s[4] = { (u64)D, 0, 0, 0 };
	arch_vmcs_load(V);
	u64 rip = sim_vmcs_get(VMCS_GUEST_RIP), cr0 = sim_vmcs_get(VMCS_GUEST_CR0);
	uxt_put32(rec, VMCS_GUEST_RIP);
	uxt_put64(rec + 8, rip + 0x4242);
	uxt_put32(rec + 16, VMCS_GUEST_CR0);
	uxt_put64(rec + 24, 0x80000000); /* PG without PE */
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, rec, 32), -HV_EINVAL);
	arch_vmcs_load(V);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), rip);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_CR0), cr0);
	uxt_put32(rec + 16, VMCS_GUEST_CR4);
	uxt_put64(rec + 24, 1ull << 40); /* a reserved CR4 bit */
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, rec, 32), -HV_EINVAL);
	arch_vmcs_load(V);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), rip);
	CHECK_INVARIANTS();
}

TEST(hypercall_guest_calls)
{
	CHECK(guest_up() == 0);
	CHECK_EQ(vmcall(HC_VERSION, 0, 0, 0, 0), 0x00010000);
	CHECK_EQ(last_fate, UXT_FATE_RESUME);
	CHECK_EQ(sim_vmcs_get(VMCS_GUEST_RIP), 0x1003); /* VMCALL retired */
	CHECK_EQ(vmcall(HC_YIELD, 0, 0, 0, 0), 0);
	CHECK_EQ(last_fate, UXT_FATE_YIELD);
	u64 a[4] = { (u64)D, 0x2000, 0, 0 };
	CHECK_EQ(hv_host_call(HC_LOAD, a, "hi\n", 3), 0);
	CHECK_EQ(vmcall(HC_CONSOLE_WRITE, 0x2000, 3, 0, 0), 3);
	CHECK_EQ(vmcall(HC_GET_INFO, 0x3000, 0, 0, 0), 0);
	u8 info[24];
	CHECK_EQ(guest_read(V->dom, 0x3000, info, sizeof(info)), 0);
	CHECK_EQ(uxt_get32(info), (u64)D);
	CHECK_EQ(uxt_get32(info + 4), 1);
	CHECK_EQ(uxt_get64(info + 8), 256);
	CHECK_EQ(vmcall(HC_MEMORY_RELEASE, 0xf0, 16, 0, 0), 16);
	CHECK_EQ(V->dom->nr_ram, 240);
	CHECK_INVARIANTS();
	CHECK_EQ(vmcall(HC_SHUTDOWN, 5, 0, 0, 0), 0);
	CHECK_EQ(last_fate, UXT_FATE_SHUTDOWN);
	CHECK_EQ(V->dom->shutdown_code, 5);
	CHECK(!hv_vcpu_runnable(V));
}

TEST(hypercall_hostile_guest)
{
	CHECK(guest_up() == 0);
	s64 other = call(HC_DOMAIN_CREATE, 1, 16, 0, 0);
	CHECK(other > 0);
	CHECK_EQ(vmcall(HC_DOMAIN_DESTROY, (u64)other, 0, 0, 0), -HV_EPERM);
	CHECK_EQ(vmcall(HC_POPULATE, (u64)D, 0x1000, 1, 0), -HV_EPERM);
	CHECK_EQ(vmcall(0x3f, 0, 0, 0, 0), -HV_ENOSYS);
	CHECK_EQ(vmcall(~0ull, 0, 0, 0, 0), -HV_ENOSYS);
	CHECK_EQ(vmcall(HC_VERSION, 0, 0, 0, 1), -HV_EINVAL);
	CHECK_EQ(vmcall(HC_CONSOLE_WRITE, 0x100000, 1, 0, 0), -HV_EFAULT); /* not its RAM */
	CHECK_EQ(vmcall(HC_CONSOLE_WRITE, 0xfffff, 2, 0, 0), -HV_EFAULT);  /* crosses out */
	CHECK_EQ(vmcall(HC_CONSOLE_WRITE, 0, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(vmcall(HC_CONSOLE_WRITE, 0, 1ull << 40, 0, 0), -HV_EINVAL);
	CHECK_EQ(vmcall(HC_CONSOLE_WRITE, 0, 8192, 0, 0), -HV_EINVAL);
	CHECK_EQ(vmcall(HC_GET_INFO, ~0ull, 0, 0, 0), -HV_ERANGE);
	CHECK_EQ(vmcall(HC_GET_INFO, 0xffff0, 0, 0, 0), -HV_EFAULT);       /* crosses out */
	CHECK_EQ(vmcall(HC_MEMORY_RELEASE, 0x100, 1, 0, 0), -HV_EINVAL);   /* not owned */
	CHECK_EQ(vmcall(HC_MEMORY_RELEASE, 0xff, 2, 0, 0), -HV_EINVAL);    /* half owned */
	CHECK_EQ(V->dom->nr_ram, 256);                                      /* all or nothing */
	CHECK_EQ(call(HC_SET_PERMS, (u64)D, 0x30, 1, EPT_R), 0);
	CHECK_EQ(vmcall(HC_GET_INFO, 0x30000, 0, 0, 0), -HV_EFAULT);       /* read-only */
	/* From user mode (SS.DPL 3) nothing is allowed. */
	arch_vmcs_load(V);
	sim_vmcs_set(VMCS_GUEST_SS_AR, 0xc0f3);
	CHECK_EQ(vmcall(HC_SHUTDOWN, 0, 0, 0, 0), -HV_EPERM);
	CHECK(hv_vcpu_runnable(V));
	CHECK_INVARIANTS();
}

/* Arguments at and past each call's edges, and calls at the wrong time:
 * a clean error each, the state unchanged and consistent. */
TEST(hypercall_edges)
{
	CHECK(guest_up() == 0);
	u64 a[4] = { (u64)D, 0x1000, 0, 0 };
	static u8 big[HV_MAX_LEN + 1];
	CHECK_EQ(hv_host_call(HC_LOAD, a, big, 0), -HV_EINVAL);               /* data, no length */
	CHECK_EQ(hv_host_call(HC_LOAD, a, big, HV_MAX_LEN + 1), -HV_EINVAL);  /* too long */
	u64 s[4] = { (u64)D, 0, 0, 0 };
	u8 rec[16] = { 0 };
	uxt_put32(rec, VMCS_GUEST_RIP);
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, NULL, 16), -HV_EINVAL);
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, rec, 0), -HV_EINVAL);
	CHECK_EQ(hv_host_call(HC_VCPU_SET_STATE, s, big, 64 * 1024 + 16), -HV_EINVAL);
	CHECK_EQ(call(HC_SET_PERMS, (u64)D, HV_P2M_GFN_LIMIT - 1, 2, EPT_R), -HV_ERANGE);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)D, HV_P2M_GFN_LIMIT - 1, 2, 0), -HV_ERANGE);
	for (u64 i = 0; i < HV_MAX_MMIO; i++) /* the table holds 8 ranges */
		CHECK_EQ(call(HC_MMIO_MAP, (u64)D, 0x1000 + 2 * i, 1, 0), 0);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)D, 0x2000, 1, 0), -HV_ENOSPC);
	CHECK_EQ(vmcall(HC_MEMORY_RELEASE, HV_P2M_GFN_LIMIT - 1, 2, 0, 0), -HV_ERANGE);
	CHECK_INVARIANTS();
	/* The hypervisor started once only; no host call once it stopped. */
	CHECK_EQ(posix_hv_start(&test_host), -HV_EINVAL);
	CHECK_INVARIANTS();
	CHECK(test_hv_down() == 0);
	u64 v[4] = { 0 };
	CHECK_EQ(hv_host_call(HC_VERSION, v, NULL, 0), -HV_EINVAL);
	struct posix_host h;
	CHECK(posix_host_init(&h, 512) == 0);
	CHECK_EQ(hv_start(&posix_host_ops, &h, h.first_mfn, 0), -HV_EINVAL); /* no frames */
	posix_host_fini(&h);
	CHECK_EQ(posix_host_init(&h, 100), -1); /* fewer than one 2 MiB block */
}
