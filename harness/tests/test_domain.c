/* Domains and the host's memory operations (hv/core/domain.c, vcpu.c),
 * including a failed allocation at every point they allocate. */
#include <stdlib.h>
#include "testlib.h"
#include "hv/hv.h"
#include "sim.h"
#include "../../hv/core/core.h"

static s64 call(u32 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 a[4] = { a0, a1, a2, a3 };
	return hv_host_call(nr, a, NULL, 0);
}

TEST(domain_create_destroy_accounts_every_frame)
{
	CHECK(test_hv_up(4096) == 0);
	u64 base = hv_frames_in_use();
	s64 d = call(HC_DOMAIN_CREATE, 2, 1000, 0, 0);
	CHECK_EQ(d, 1); /* 0 is the host's own container */
	/* one VMCS per vCPU and the EPT root */
	CHECK_EQ(hv_frames_in_use(), base + 3);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0, 512, 9), 0);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0x400, 8, 0), 0);
	CHECK_EQ(domain_get(1)->nr_ram, 520);
	CHECK_INVARIANTS();
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0), 0);
	CHECK_EQ(hv_frames_in_use(), base);
	CHECK(domain_get(1) == NULL);
	CHECK_INVARIANTS(); /* the slot free, and marked so */
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)d, 0, 0, 0), -HV_ESRCH);
}

TEST(domain_create_limits)
{
	CHECK(test_hv_up(4096) == 0);
	CHECK_EQ(call(HC_DOMAIN_CREATE, 0, 10, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_DOMAIN_CREATE, HV_MAX_VCPUS + 1, 10, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_DOMAIN_CREATE, 1, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_DOMAIN_CREATE, 1, 1u << 20, 0, 0), -HV_EINVAL);
	for (int i = 1; i < HV_MAX_DOMAINS; i++)
		CHECK_EQ(call(HC_DOMAIN_CREATE, 1, 1, 0, 0), i);
	CHECK_EQ(call(HC_DOMAIN_CREATE, 1, 1, 0, 0), -HV_ENOSPC);
	CHECK_INVARIANTS();
}

TEST(domain_populate_checks)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = call(HC_DOMAIN_CREATE, 1, 600, 0, 0);
	CHECK(d > 0);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 1, 512, 9), -HV_EINVAL);   /* misaligned */
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0, 100, 9), -HV_EINVAL);   /* partial 2M */
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0, 1, 3), -HV_EINVAL);     /* order */
	CHECK_EQ(call(HC_POPULATE, (u64)d, HV_P2M_GFN_LIMIT - 1, 2, 0), -HV_ERANGE);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0, 601, 0), -HV_ENOSPC);   /* over max */
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0, 512, 9), 0);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 5, 1, 0), -HV_EEXIST);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)d, 0x1000, 4, 0), 0);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0x1002, 1, 0), -HV_EEXIST); /* MMIO */
	CHECK_EQ(call(HC_MMIO_MAP, (u64)d, 0x1003, 2, 0), -HV_EEXIST);
	CHECK_EQ(call(HC_MMIO_MAP, (u64)d, 0x10, 1, 0), -HV_EEXIST);   /* RAM */
	CHECK(domain_is_mmio(domain_get((u32)d), 0x1003));
	CHECK(!domain_is_mmio(domain_get((u32)d), 0x1004));
	CHECK_INVARIANTS();
}

/* Frames reach a domain zeroed: a previous owner's data never leaks. */
TEST(domain_memory_is_scrubbed_between_owners)
{
	CHECK(test_hv_up(4096) == 0);
	s64 a = call(HC_DOMAIN_CREATE, 1, 600, 0, 0);
	CHECK_EQ(call(HC_POPULATE, (u64)a, 0, 512, 9), 0);
	static u8 secret[4096];
	memset(secret, 0xa5, sizeof(secret));
	for (u64 gpa = 0; gpa < (2u << 20); gpa += 4096) {
		u64 args[4] = { (u64)a, gpa, 0, 0 };
		CHECK_EQ(hv_host_call(HC_LOAD, args, secret, sizeof(secret)), 0);
	}
	CHECK_EQ(call(HC_DOMAIN_DESTROY, (u64)a, 0, 0, 0), 0);
	s64 b = call(HC_DOMAIN_CREATE, 1, 600, 0, 0);
	CHECK_EQ(call(HC_POPULATE, (u64)b, 0, 512, 9), 0);
	struct hv_domain *d = domain_get((u32)b);
	static u8 page[4096];
	for (u64 gpa = 0; gpa < (2u << 20); gpa += 4096) {
		CHECK_EQ(guest_read(d, gpa, page, sizeof(page)), 0);
		for (unsigned i = 0; i < sizeof(page); i++)
			CHECK_EQ(page[i], 0);
	}
}

/* A host without a direct map (direct_map NULL, or one that says no):
 * every frame the core touches goes through map_frame and back through
 * unmap_frame, one unmap per map. With one (the posix host's), the core
 * calls neither after the frame table. Either way, a guest sees the same
 * memory: loaded, copied on write in a fork, read back. */
static u64 maps, unmaps;
static void *count_map(void *ctx, u64 mfn) { maps++; return posix_host_ops.map_frame(ctx, mfn); }
static void count_unmap(void *ctx, void *va) { unmaps++; posix_host_ops.unmap_frame(ctx, va); }
static bool no_direct_map(void *ctx, u64 *base) { (void)ctx; *base = 0; return false; }

static bool same_memory_through(const struct hv_host_ops *ops)
{
	struct posix_host h;
	if (posix_host_init(&h, 1024))
		return false;
	maps = unmaps = 0;
	bool ok = hv_start(ops, &h, h.first_mfn, h.nr_frames) == 0;
	static u8 data[4096], page[4096];
	memset(data, 0x3c, sizeof(data));
	u64 load[4] = { 1, 0x2000, 0, 0 };
	ok = ok && call(HC_DOMAIN_CREATE, 1, 64, 0, 0) == 1 &&
	     call(HC_POPULATE, 1, 0, 16, 0) == 0 &&
	     hv_host_call(HC_LOAD, load, data, sizeof(data)) == 0 &&
	     call(HC_FORK, 1, 1, 0, 0) == 2;
	struct hv_domain *child = domain_get(2);
	ok = ok && child && guest_write(child, 0x2010, "fork", 4) == 0 &&
	     guest_read(child, 0x2000, page, sizeof(page)) == 0 &&
	     !memcmp(page + 0x10, "fork", 4) && page[0] == 0x3c && page[0xfff] == 0x3c &&
	     guest_read(domain_get(1), 0x2000, page, sizeof(page)) == 0 &&
	     !memcmp(page, data, sizeof(data));
	char msg[256];
	ok = ok && hv_check_invariants(msg, sizeof(msg)) == 0;
	ok = hv_stop() == 0 && ok && h.used == 0;
	posix_host_fini(&h);
	return ok;
}

TEST(frames_mapped_with_or_without_a_direct_map)
{
	struct hv_host_ops ops = posix_host_ops;
	ops.map_frame = count_map;
	ops.unmap_frame = count_unmap;
	CHECK(same_memory_through(&ops));
	CHECK_EQ(maps, 1); /* the frame table, mapped once at start */
	CHECK_EQ(unmaps, 1);
	ops.direct_map = no_direct_map;
	CHECK(same_memory_through(&ops));
	CHECK(maps > 100);
	CHECK_EQ(unmaps, maps);
	ops.direct_map = NULL;
	CHECK(same_memory_through(&ops));
	CHECK(maps > 100);
	CHECK_EQ(unmaps, maps);
}

TEST(domain_unmap_gives_frames_back)
{
	CHECK(test_hv_up(4096) == 0);
	s64 d = call(HC_DOMAIN_CREATE, 1, 1024, 0, 0);
	CHECK_EQ(call(HC_POPULATE, (u64)d, 0, 512, 9), 0);
	u64 used = hv_frames_in_use();
	CHECK_EQ(call(HC_UNMAP, (u64)d, 10, 20, 0), 20); /* splits the 2M leaf */
	CHECK_EQ(hv_frames_in_use(), used - 20 + 1);      /* + the new PT */
	CHECK_EQ(call(HC_UNMAP, (u64)d, 10, 20, 0), 0);   /* already gone */
	CHECK_EQ(domain_get((u32)d)->nr_ram, 492);
	CHECK_INVARIANTS();
}

TEST(domain_crash_stops_its_vcpus_only)
{
	CHECK(test_hv_up(4096) == 0);
	s64 a = call(HC_DOMAIN_CREATE, 1, 16, 0, 0);
	s64 b = call(HC_DOMAIN_CREATE, 1, 16, 0, 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)a, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)b, 0, 0, 0), 0);
	CHECK_EQ(call(HC_DOMAIN_UNPAUSE, (u64)b, 0, 0, 0), -HV_EINVAL);
	domain_crash(domain_get((u32)a), CRASH_TRIPLE_FAULT);
	CHECK(!hv_vcpu_runnable(hv_vcpu_get(hv_domain_get((u32)a), 0)));
	CHECK(hv_vcpu_runnable(hv_vcpu_get(hv_domain_get((u32)b), 0)));
	CHECK_EQ(domain_get((u32)a)->crash_reason, CRASH_TRIPLE_FAULT);
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)a, 0, 0, 0), -HV_EINVAL);
	CHECK_EQ(call(HC_DOMAIN_PAUSE, (u64)b, 0, 0, 0), 0);
	CHECK(!hv_vcpu_runnable(hv_vcpu_get(hv_domain_get((u32)b), 0)));
}

/* One domain's life, each allocation of it made to fail in turn: every
 * failure is a clean error, the state stays consistent, nothing leaks. */
TEST(domain_fault_injection_every_allocation)
{
	bool completed = false;
	for (u64 n = 1; n < 200 && !completed; n++) {
		CHECK(test_hv_up(4096) == 0);
		test_host.fail_at = test_host.allocs + n;
		s64 d = call(HC_DOMAIN_CREATE, 4, 2048, 0, 0);
		s64 r1 = d > 0 ? call(HC_POPULATE, (u64)d, 0, 1024, 9) : d;
		s64 r2 = d > 0 ? call(HC_POPULATE, (u64)d, 0x1000, 64, 0) : d;
		s64 r3 = d > 0 ? call(HC_UNMAP, (u64)d, 0x10, 4, 0) : d;
		CHECK(d > 0 || d == -HV_ENOMEM);
		CHECK(r1 == 0 || r1 == -HV_ENOMEM);
		CHECK(r2 == 0 || r2 == -HV_ENOMEM);
		CHECK(r3 >= 0 || r3 == -HV_ENOMEM);
		CHECK_INVARIANTS();
		completed = test_host.failures == 0;
		CHECK(test_hv_down() == 0);
	}
	CHECK(completed);
}

/* The CPU refusing a vCPU's VMCS (arch_vmcs_init() failing), at each vCPU
 * in turn: the creation fails with the backend's error, the slot and every
 * frame come back, and no freed VMCS is left current. */
TEST(domain_create_vmcs_init_fails)
{
	CHECK(test_hv_up(4096) == 0);
	u64 base = hv_frames_in_use();
	for (u32 n = 1; n <= 3; n++) {
		sim_fail_vmcs_init = n;
		CHECK_EQ(call(HC_DOMAIN_CREATE, 3, 64, 0, 0), -HV_EINVAL);
		CHECK_EQ(sim_fail_vmcs_init, 0); /* the Nth vCPU's failed */
		CHECK_INVARIANTS();
		CHECK_EQ(hv_frames_in_use(), base);
		CHECK_EQ(hv.dom[1].state, DOM_FREE);
		CHECK_EQ(sim_vmcs_set(VMCS_GUEST_RIP, 0), -1); /* none current */
	}
	/* A CPU that accepts them again: the slot is reused, whole. */
	CHECK_EQ(call(HC_DOMAIN_CREATE, 3, 64, 0, 0), 1);
	CHECK_EQ(hv_frames_in_use(), base + 4); /* 3 VMCSs and the EPT root */
	CHECK_EQ(domain_get(1)->nr_vcpus, 3);
	CHECK_INVARIANTS();
}

TEST(hv_start_refuses_bad_hosts)
{
	struct posix_host h;
	CHECK(posix_host_init(&h, 512) == 0);
	h.fail_at = 1; /* cannot even get the frame table */
	CHECK_EQ(posix_hv_start(&h), -HV_ENOMEM);
	CHECK_EQ(hv_stop(), 0);
	CHECK_EQ(h.used, 0);
	posix_host_fini(&h);
	CHECK_EQ(hv_start(NULL, NULL, 0, 0), -HV_EINVAL);
}

/* A host that lends frames outside the range it declared is refused: the
 * frame table (-HV_EINVAL at start), then any frame (a domain gets
 * -HV_ENOMEM). The core never uses such a frame, nor gives it back: it
 * may be the host's own, or one the core holds. */
TEST(hv_start_refuses_frames_outside_the_declared_range)
{
	struct posix_host h;
	CHECK(posix_host_init(&h, 4096) == 0);
	/* Blocks come from the top of the pool: the table lands above. */
	CHECK_EQ(hv_start(&posix_host_ops, &h, h.first_mfn, h.nr_frames / 2), -HV_EINVAL);
	CHECK_EQ(h.used, 0); /* the whole table's block given back */
	/* Single frames come from the bottom: below the range. */
	CHECK_EQ(hv_start(&posix_host_ops, &h, h.first_mfn + 2048, 2048), 0);
	u64 a[4] = { 1, 16, 0, 0 };
	CHECK_EQ(hv_host_call(HC_DOMAIN_CREATE, a, NULL, 0), -HV_ENOMEM);
	char msg[256];
	CHECK_EQ(hv_check_invariants(msg, sizeof(msg)), 0);
	CHECK_EQ(hv_stop(), 0);
	CHECK_EQ(h.used, 1); /* the refused frame, still lent */
	posix_host_fini(&h);
}

/* The fuzz builds' memory helpers skip ASan's range check for what this
 * says lies in the frame pool: only the pool itself, while it is there. */
TEST(posix_pool_holds_only_the_pool)
{
	struct posix_host h;
	char below[16], *heap = malloc(1 << 20);
	CHECK(heap != NULL);
	CHECK(posix_host_init(&h, 512) == 0);
	size_t size = (size_t)h.nr_frames * PAGE_SIZE;
	CHECK(posix_pool_holds(h.pool, size));
	CHECK(posix_pool_holds(h.pool + size - 1, 1));
	CHECK(!posix_pool_holds(h.pool, size + 1));
	CHECK(!posix_pool_holds(h.pool + size, 1));
	CHECK(!posix_pool_holds(h.pool - 1, 2));
	/* Memory above the pool (the stack, large heap blocks) is not in it. */
	CHECK(!posix_pool_holds(below, sizeof(below)));
	CHECK(!posix_pool_holds(heap, 64));
	CHECK(!posix_pool_holds(h.pool + size + PAGE_SIZE, 0));
	unsigned char *pool = h.pool;
	posix_host_fini(&h);
	CHECK(!posix_pool_holds(pool, 1));
	free(heap);
}

/* Found by fuzzing the trace reader: the listing names any status value. */
TEST(strerror_takes_any_value)
{
	CHECK(strcmp(hv_strerror(-HV_ENOMEM), "out of memory") == 0);
	CHECK(strcmp(hv_strerror(12345), "unknown error") == 0);
	CHECK(strcmp(hv_strerror(-(long)(~0ul >> 1) - 1), "unknown error") == 0);
}

/* The direct map gives the pointer map_frame gives, for every
 * frame of the pool (and a sub-range start does not shift it). */
TEST(frames_mapped_where_map_frame_maps_them)
{
	CHECK(test_hv_up(1024) == 0);
	CHECK(hv.direct);
	for (u64 i = 0; i < hv.nr_frames; i++) {
		u64 mfn = hv.first_mfn + i;
		void *va = frame_map(mfn);
		CHECK(va == posix_host_ops.map_frame(&test_host, mfn));
		frame_unmap(va);
	}
	CHECK(test_hv_down() == 0);
	struct posix_host h;
	CHECK(posix_host_init(&h, 4096) == 0);
	CHECK_EQ(hv_start(&posix_host_ops, &h, h.first_mfn + 2048, 2048), 0);
	CHECK(frame_map(h.first_mfn + 2048) == posix_host_ops.map_frame(&h, h.first_mfn + 2048));
	CHECK(frame_map(h.first_mfn + 4095) == posix_host_ops.map_frame(&h, h.first_mfn + 4095));
	hv_stop();
	posix_host_fini(&h);
}
