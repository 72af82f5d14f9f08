/* Loading the hypervisor image and the host-OS interface it runs on:
 * frames from the donated pool (a bitmap, naturally aligned blocks),
 * identity-mapped access, logging to the console. */
#include "hvhost.h"
#include "hv/exits.h"

struct hv_api hv;
u64 hv_mem_pa, hv_mem_bytes, hv_pool_first_mfn, hv_pool_frames, hv_log_lines;

#define POOL_MAX_FRAMES (256u << 8) /* 256 MiB */
static u64 pool_used[POOL_MAX_FRAMES / 64];
static u64 pool_in_use;

static bool used(u64 i) { return pool_used[i / 64] >> (i % 64) & 1; }
static void mark(u64 i, bool on)
{
	if (on)
		pool_used[i / 64] |= 1ull << (i % 64);
	else
		pool_used[i / 64] &= ~(1ull << (i % 64));
}

static u64 h_alloc_frames(void *ctx, unsigned order)
{
	(void)ctx;
	if (order > 16)
		return INVALID_MFN;
	u64 n = 1ull << order;
	if (n > hv_pool_frames)
		return INVALID_MFN;
	/* Single frames from the bottom, blocks from the top (aligned in
	 * machine frames, so 2 MiB blocks are 2 MiB aligned). */
	u64 base = hv_pool_first_mfn;
	if (n == 1) {
		for (u64 i = 0; i < hv_pool_frames; i++)
			if (!used(i)) {
				mark(i, true);
				pool_in_use++;
				return base + i;
			}
		return INVALID_MFN;
	}
	u64 first = ((base + hv_pool_frames - n) & ~(n - 1));
	for (u64 m = first; m >= base; m -= n) {
		u64 i = m - base, k = 0;
		while (k < n && !used(i + k))
			k++;
		if (k == n) {
			for (k = 0; k < n; k++)
				mark(i + k, true);
			pool_in_use += n;
			return m;
		}
		if (m < n)
			break;
	}
	return INVALID_MFN;
}

static void h_free_frame(void *ctx, u64 mfn)
{
	(void)ctx;
	u64 i = mfn - hv_pool_first_mfn;
	if (mfn < hv_pool_first_mfn || i >= hv_pool_frames || !used(i))
		panic("hypervisor freed frame 0x%lx it does not hold", mfn);
	mark(i, false);
	pool_in_use--;
}

static void *h_map_frame(void *ctx, u64 mfn)
{
	(void)ctx;
	return phys(mfn << PAGE_SHIFT);
}

static void h_unmap_frame(void *ctx, void *va)
{
	(void)ctx;
	(void)va;
}

/* Identity-mapped: frame mfn is at mfn << PAGE_SHIFT. */
static bool h_direct_map(void *ctx, u64 *base)
{
	(void)ctx;
	*base = 0;
	return true;
}

static void h_log(void *ctx, enum hv_log_level lvl, const char *msg, u32 len)
{
	(void)ctx;
	static const char *const names[] = { "error", "warning", "info", "debug" };
	if (lvl > HV_LOG_INFO)
		return;
	hv_log_lines++;
	kprintf("hv %s: ", names[lvl]);
	serial_write(msg, len);
	kprintf("\n");
}

static u64 h_counter_ns(void *ctx)
{
	(void)ctx;
	return rdtsc(); /* about 1 ns per tick at Bochs' speeds; never decides */
}

static void h_kick_cpu(void *ctx, u32 cpu)
{
	(void)ctx;
	(void)cpu;
}

static u32 h_this_cpu(void *ctx)
{
	(void)ctx;
	return 0;
}

static void h_notify(void *ctx, u16 domid, u16 vcpu, unsigned fate)
{
	(void)ctx;
	(void)domid;
	(void)vcpu;
	(void)fate; /* run_vcpu returns the fate to the host loop */
}

__attribute__((noreturn)) static void h_panic(void *ctx, const char *msg)
{
	(void)ctx;
	kprintf("HYPERVISOR PANIC: %s\n", msg);
	result(RES_FAILURE, "hypervisor panic");
	poweroff();
}

static const struct hv_host_ops host_ops = {
	.alloc_frames = h_alloc_frames,
	.free_frame = h_free_frame,
	.map_frame = h_map_frame,
	.unmap_frame = h_unmap_frame,
	.direct_map = h_direct_map,
	.log = h_log,
	.counter_ns = h_counter_ns,
	.kick_cpu = h_kick_cpu,
	.this_cpu = h_this_cpu,
	.notify = h_notify,
	.panic = h_panic,
};

#define LARGE (2ull << 20)
#define MIN_POOL LARGE

int hv_load(const struct hv_load_opts *o, char *why, u32 why_len)
{
	const struct hv_image_hdr *h = (const struct hv_image_hdr *)o->image;
	if (o->len < sizeof(*h)) {
		ksnprintf(why, why_len, "image truncated: %lu bytes, less than its header", o->len);
		return -HV_EINVAL;
	}
	if (memcmp(h->magic, HV_IMAGE_MAGIC, 8) || h->version != HV_IMAGE_VERSION ||
	    h->hdr_size != sizeof(*h)) {
		ksnprintf(why, why_len, "not a hypervisor image (bad magic or version %u)", h->version);
		return -HV_EINVAL;
	}
	if (h->file_size != o->len) {
		ksnprintf(why, why_len, "image truncated or padded: %lu bytes, header says %lu",
			  o->len, h->file_size);
		return -HV_EINVAL;
	}
	u32 sum = hv_image_checksum(o->image + h->hdr_size, h->file_size - h->hdr_size);
	if (sum != h->checksum) {
		ksnprintf(why, why_len, "image corrupted: checksum 0x%x, header says 0x%x",
			  sum, h->checksum);
		return -HV_EINVAL;
	}
	if (h->mem_size < h->file_size || h->entry_off < h->hdr_size ||
	    h->entry_off >= h->file_size) {
		ksnprintf(why, why_len, "image header inconsistent");
		return -HV_EINVAL;
	}
	u64 img = (h->mem_size + LARGE - 1) & ~(LARGE - 1);
	if (img + MIN_POOL > o->donate_bytes) {
		ksnprintf(why, why_len,
			  "image needs %lu bytes (+ a 2 MiB pool), more than the %lu bytes donated",
			  h->mem_size, o->donate_bytes);
		return -HV_ENOMEM;
	}
	if (o->donate_bytes - img > (u64)POOL_MAX_FRAMES * PAGE_SIZE) {
		ksnprintf(why, why_len, "donation too large for the host's pool bitmap");
		return -HV_EINVAL;
	}
	u64 pa = pmm_alloc(o->donate_bytes, LARGE);
	if (!pa) {
		ksnprintf(why, why_len, "the host cannot spare %lu bytes", o->donate_bytes);
		return -HV_ENOMEM;
	}
	u8 *dst = phys(pa);
	memcpy(dst, o->image, h->file_size);
	memset(dst + h->file_size, 0, h->mem_size - h->file_size);
	hv_mem_pa = pa;
	hv_mem_bytes = o->donate_bytes;
	hv_pool_first_mfn = (pa + img) >> PAGE_SHIFT;
	hv_pool_frames = (o->donate_bytes - img) >> PAGE_SHIFT;
	memset(pool_used, 0, sizeof(pool_used));
	pool_in_use = 0;
	struct hv_boot b = {
		.version = HV_IMAGE_VERSION, .test_flags = o->test_flags,
		.ops = &host_ops, .ctx = NULL,
		.mem_pa = pa, .mem_bytes = o->donate_bytes,
		.pool_first_mfn = hv_pool_first_mfn, .pool_frames = hv_pool_frames,
		.api = &hv, .why = why, .why_len = why_len,
	};
	hv_image_entry_fn entry = (hv_image_entry_fn)(uintptr_t)(pa + h->entry_off);
	int rc = entry(&b);
	if (rc) {
		/* Refused: nothing of it stays; the host takes its memory back. */
		memset(dst, 0, h->mem_size);
		pmm_free(pa, o->donate_bytes);
		hv_mem_pa = hv_mem_bytes = 0;
		return rc;
	}
	return 0;
}

/* ---- the de-privileged host: the hypervisor through VMCALL ---- */

bool hv_deprivileged;
static u64 dp_exits[EXIT_REASON_MAX + 1];

static s64 vmcall(u64 op, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 rax = HVOP_MAGIC | op;
	__asm__ volatile("vmcall"
			 : "+a"(rax), "+D"(a0), "+S"(a1), "+d"(a2), "+c"(a3)
			 :
			 : "r8", "r9", "r10", "r11", "memory", "cc");
	return (s64)rax;
}

static u64 pa_of(const void *p)
{
	return (u64)(uintptr_t)p; /* identity-mapped */
}

/* The hypervisor's log lines wait in its buffer; print them. */
static void dp_log_drain(void)
{
	static char buf[1024];
	for (;;) {
		s64 n = vmcall(HVOP_LOG_READ, pa_of(buf), sizeof(buf), 0, 0);
		if (n <= 0)
			return;
		for (s64 i = 0, start = 0; i < n; i++)
			if (buf[i] == '\n') {
				kprintf("hv ");
				serial_write(buf + start, (size_t)(i - start));
				kprintf("\n");
				hv_log_lines++;
				start = i + 1;
			}
	}
}

s64 hv_vmcall(u64 op, u64 a0, u64 a1, u64 a2, u64 a3)
{
	s64 rc = vmcall(op, a0, a1, a2, a3);
	dp_log_drain();
	return rc;
}

static s64 dp_host_call(u32 nr, const u64 args[4], const void *data, u32 len)
{
	return hv_vmcall(HVOP_HOST_CALL, nr, pa_of(args), data ? pa_of(data) : 0, data ? len : 0);
}

static int dp_run_vcpu(u32 domid, u32 vcpu, struct hv_run *out)
{
	s64 rc = hv_vmcall(HVOP_RUN_VCPU, domid, vcpu, pa_of(out), 0);
	vmcall(HVOP_EXITS, pa_of(dp_exits), 0, 0, 0);
	return (int)rc;
}

static void dp_trace_begin(u8 *buf, u32 cap)
{
	hv_vmcall(HVOP_TRACE_BEGIN, buf ? pa_of(buf) : 0, buf ? cap : 0, 0, 0);
}

static long dp_trace_end(u32 *events)
{
	static u32 ev;
	long n = (long)hv_vmcall(HVOP_TRACE_END, pa_of(&ev), 0, 0, 0);
	if (events)
		*events = ev;
	return n;
}

static int dp_check(char *msg, u32 len)
{
	return (int)hv_vmcall(HVOP_CHECK, pa_of(msg), len, 0, 0);
}

static u64 dp_unload(void)
{
	return (u64)hv_vmcall(HVOP_STOP, 0, 0, 0, 0);
}

static int dp_refuse(void)
{
	return -HV_EBUSY;
}

static void dp_share_stats(struct hv_share_stats *out)
{
	static struct hv_share_stats st; /* host memory the VMCALL may write */
	vmcall(HVOP_SHARE_STATS, pa_of(&st), 0, 0, 0);
	*out = st;
}

struct ap_depriv {
	int (*fn)(void);
	int rc;
};

static void ap_depriv_fn(void *arg)
{
	struct ap_depriv *a = arg;
	a->rc = a->fn();
}

int hv_deprivilege_all(unsigned *cpus)
{
	int (*depriv)(void) = hv.deprivilege;
	*cpus = 0;
	int rc = depriv();
	if (rc)
		return rc;
	/* From here on the image is out of reach: VMCALL only. */
	hv_deprivileged = true;
	hv.host_call = dp_host_call;
	hv.run_vcpu = dp_run_vcpu;
	hv.trace_begin = dp_trace_begin;
	hv.trace_end = dp_trace_end;
	hv.check = dp_check;
	hv.unload = dp_unload;
	hv.deprivilege = dp_refuse;
	hv.share_stats = dp_share_stats;
	hv.exits_by_reason = dp_exits;
	vmcall(HVOP_EXITS, pa_of(dp_exits), 0, 0, 0);
	*cpus = 1;
	for (unsigned c = 1; c < smp_cpus(); c++) {
		struct ap_depriv a = { depriv, -1 };
		smp_call(c, ap_depriv_fn, &a);
		if (a.rc) {
			dp_log_drain();
			return a.rc;
		}
		(*cpus)++;
	}
	dp_log_drain();
	return 0;
}

u64 hv_unload(void)
{
	if (hv_deprivileged) {
		/* No way back to VMX root for the host: the core stops; the
		 * donated memory (image and pool, zeroed where freed) stays the
		 * hypervisor's, out of the host's EPT. */
		u64 left = hv.unload();
		memset(dp_exits, 0, sizeof(dp_exits));
		return left;
	}
	u64 left = hv.unload();
	if (pool_in_use)
		kprintf("host: %lu pool frames still held after unload\n", pool_in_use);
	left += pool_in_use;
	pmm_free(hv_mem_pa, hv_mem_bytes);
	hv_mem_pa = hv_mem_bytes = 0;
	memset(&hv, 0, sizeof(hv));
	return left;
}

s64 hcall(u32 nr, u64 a0, u64 a1, u64 a2, u64 a3, const void *data, u32 len)
{
	u64 args[4] = { a0, a1, a2, a3 };
	return hv.host_call(nr, args, data, len);
}
