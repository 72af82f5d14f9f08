/* The host side of the boot scenarios (see domains.h). */
#include "domains.h"
#include "hv/exits.h"

u64 boot_depriv_ticks;
bool boot_force_depriv;

int boot_load_hv(char *why, u32 why_len)
{
	struct hv_load_opts o = {
		.image = hv_image_blob,
		.len = (u64)(hv_image_blob_end - hv_image_blob),
		.donate_bytes = 32ull << 20,
	};
	const char *v = config_get("donate_kib");
	if (v) {
		u64 k = 0;
		for (; *v >= '0' && *v <= '9'; v++)
			k = k * 10 + (u64)(*v - '0');
		o.donate_bytes = k << 10;
	}
	if (config_flag("fc_locked"))
		o.test_flags |= HV_TEST_FC_LOCKED_OFF;
	if (config_flag("no_ug"))
		o.test_flags |= HV_TEST_NO_UG;
	if (config_flag("no_ept"))
		o.test_flags |= HV_TEST_NO_EPT;
	const char *img = config_get("image");
	u8 *copy = NULL;
	if (img && strcmp(img, "ok")) {
		copy = phys(pmm_alloc(o.len, PAGE_SIZE));
		memcpy(copy, o.image, o.len);
		if (!strcmp(img, "corrupt"))
			copy[o.len / 2] ^= 0x40;
		else if (!strcmp(img, "truncated"))
			o.len -= 4096;
		else if (!strcmp(img, "garbage"))
			memset(copy, 0xcc, 64);
		o.image = copy;
	}
	bool depriv = config_flag("deprivilege") || boot_force_depriv;
	unsigned want = 1;
	const char *nc = config_get("cpus");
	if (nc && *nc >= '1' && *nc <= '8')
		want = (unsigned)(*nc - '0');
	if (depriv && want > 1 && smp_start(want) != want)
		kprintf("host: only %u of %u CPUs came up\n", smp_cpus(), want);
	u64 t0 = rdtsc();
	int rc = hv_load(&o, why, why_len);
	u64 t1 = rdtsc();
	if (copy)
		pmm_free((u64)(uintptr_t)copy, o.len + 4096);
	if (rc) {
		kprintf("host: hypervisor refused to load: %s (error %d); the host carries on\n",
			why, rc);
		return rc;
	}
	kprintf("host: hypervisor loaded at 0x%lx (%lu KiB donated, pool of %lu frames), VMCS revision 0x%x, %lu TSC ticks to load\n",
		hv_mem_pa, hv_mem_bytes >> 10, hv_pool_frames, hv.vmcs_revision, t1 - t0);
	if (!depriv)
		return 0;
	unsigned n = 0;
	rc = hv_deprivilege_all(&n);
	u64 t2 = rdtsc();
	if (rc) {
		ksnprintf(why, why_len, "de-privileging failed on CPU %u (error %d)", n, rc);
		kprintf("host: %s\n", why);
		if (!hv_deprivileged)
			hv_unload();
		return rc;
	}
	boot_depriv_ticks = t2 - t0;
	kprintf("host: running de-privileged on %u CPU%s: %lu TSC ticks from loading the hypervisor (%lu of them de-privileging)\n",
		n, n > 1 ? "s" : "", t2 - t0, t2 - t1);
	return 0;
}

/* ---- building guests ---- */

#define PTE_P 1
#define PTE_W 2
#define PTE_PS 0x80

static int set_state(u32 domid, const u32 *keys, const u64 *vals, unsigned n)
{
	u8 buf[16 * 48];
	if (n > 48)
		return -HV_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		memset(buf + 16 * i, 0, 16);
		memcpy(buf + 16 * i, &keys[i], 4);
		memcpy(buf + 16 * i + 8, &vals[i], 8);
	}
	return (int)hcall(HC_VCPU_SET_STATE, domid, 0, 0, 0, buf, 16 * n);
}

s64 guest_create(const struct guest_spec *g)
{
	s64 d = hcall(HC_DOMAIN_CREATE, 1, g->ram_frames, 0, 0, NULL, 0);
	if (d < 0) {
		kprintf("host: DOMAIN_CREATE failed: %ld\n", d);
		return d;
	}
	s64 rc = hcall(HC_POPULATE, (u64)d, 0, g->ram_frames, g->order, NULL, 0);
	if (rc) {
		kprintf("host: POPULATE failed: %ld\n", rc);
		return rc;
	}
	rc = hcall(HC_LOAD, (u64)d, G_CODE, 0, 0, g->image, g->image_len);
	if (rc) {
		kprintf("host: LOAD failed: %ld\n", rc);
		return rc;
	}
	if (g->mmio && (rc = hcall(HC_MMIO_MAP, (u64)d, G_MMIO >> PAGE_SHIFT, 1, 0, NULL, 0))) {
		kprintf("host: MMIO_MAP failed: %ld\n", rc);
		return rc;
	}
	if (g->long_mode) {
		static u64 pt[3][512];
		memset(pt, 0, sizeof(pt));
		pt[0][0] = (G_PT + 0x1000) | PTE_P | PTE_W;
		pt[1][0] = (G_PT + 0x2000) | PTE_P | PTE_W;
		for (u64 i = 0; i < 512; i++)
			pt[2][i] = (i << 21) | PTE_P | PTE_W | PTE_PS;
		rc = hcall(HC_LOAD, (u64)d, G_PT, 0, 0, pt, sizeof(pt));
		if (rc)
			return rc;
		static const u32 keys[] = { VMCS_GUEST_CR3, VMCS_GUEST_RSP, VMCS_GUEST_TR_LIMIT,
					    VMCS_GUEST_GDTR_LIMIT, VMCS_GUEST_IDTR_LIMIT };
		const u64 vals[] = { G_PT, G_STACK, 0x67, 0x1f, 0 };
		rc = set_state((u32)d, keys, vals, ARRAY_SIZE(keys));
	} else if (g->real_mode) {
		/* 0000:1000, 16-bit segments, no paging, not long mode. Data
		 * segments "accessed" (type 3), as real mode leaves them. */
		static const u32 keys[] = {
			VMCS_GUEST_CR0, VMCS_GUEST_CR4, VMCS_GUEST_IA32_EFER,
			VMCS_GUEST_CS_SEL, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR,
			VMCS_GUEST_SS_SEL, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR,
			VMCS_GUEST_DS_SEL, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR,
			VMCS_GUEST_ES_SEL, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR,
			VMCS_GUEST_FS_SEL, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR,
			VMCS_GUEST_GS_SEL, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR,
			VMCS_GUEST_TR_SEL, VMCS_GUEST_TR_LIMIT, VMCS_GUEST_TR_AR,
			VMCS_GUEST_GDTR_LIMIT, VMCS_GUEST_IDTR_LIMIT, VMCS_GUEST_IDTR_BASE,
			VMCS_GUEST_RIP, VMCS_GUEST_RSP, VMCS_GUEST_CR3,
		};
		const u64 vals[] = {
			0x10, 0, 0,
			0, 0, 0xffff, 0x9b,
			0, 0, 0xffff, 0x93,
			0, 0, 0xffff, 0x93,
			0, 0, 0xffff, 0x93,
			0, 0, 0xffff, 0x93,
			0, 0, 0xffff, 0x93,
			0, 0xffff, 0x8b,
			0xffff, 0x3ff, 0,
			G_CODE, 0x7000, 0,
		};
		rc = set_state((u32)d, keys, vals, ARRAY_SIZE(keys));
	}
	if (rc) {
		kprintf("host: VCPU_SET_STATE failed: %ld\n", rc);
		return rc;
	}
	rc = hcall(HC_DOMAIN_UNPAUSE, (u64)d, 0, 0, 0, NULL, 0);
	return rc ? rc : d;
}

/* ---- the host loop and its device model ---- */

static u64 device_io(struct run_stats *st, const struct uxt_ioreq *io)
{
	if (io->type == UXT_IOREQ_PIO) {
		if (io->dir == UXT_IOREQ_DIR_OUT) {
			st->port_out_last = io->data;
			return 0;
		}
		return io->addr == G_PORT_IN ? G_PORT_IN_VALUE : 0xffffffffu;
	}
	if (io->dir == UXT_IOREQ_DIR_OUT) {
		st->mmio_write_last = io->data;
		return 0;
	}
	return G_MMIO_READ(io->addr - G_MMIO);
}

int guest_run(u32 domid, u64 max_calls, struct run_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (st->calls = 0; st->calls < max_calls; st->calls++) {
		struct hv_run r;
		if (config_flag("verbose"))
			kprintf("host: run d%u\n", domid);
		int rc = hv.run_vcpu(domid, 0, &r);
		if (rc) {
			kprintf("host: run_vcpu d%u: %d\n", domid, rc);
			return rc;
		}
		st->exits += r.exits;
		st->fate = r.fate;
		switch (r.fate) {
		case UXT_FATE_IOREQ: {
			st->ioreqs++;
			u64 val = device_io(st, &r.io);
			s64 c = hcall(HC_IOREQ_COMPLETE, domid, 0, val, 0, NULL, 0);
			if (c) {
				kprintf("host: IOREQ_COMPLETE: %ld\n", c);
				return (int)c;
			}
			break;
		}
		case UXT_FATE_BLOCKED:
			st->halts++;
			break;
		case UXT_FATE_YIELD:
			st->yields++;
			break;
		case UXT_FATE_SHUTDOWN:
			st->shutdown_code = r.shutdown_code;
			return 0;
		case UXT_FATE_CRASHED:
			st->crash_reason = r.crash_reason;
			return 0;
		default:
			return 0;
		}
	}
	return 0;
}

/* ---- the trace over the serial port ---- */

#define TRACE_CAP (4u << 20)
static u8 *trace_buf;

void trace_start(void)
{
	if (!trace_buf)
		trace_buf = phys(pmm_alloc(TRACE_CAP, PAGE_SIZE));
	hv.trace_begin(trace_buf, TRACE_CAP);
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* UXT-BEGIN / UXT (base64, 57 bytes a line) / UXT-END: scripts/serial2uxt.py
 * turns these into a trace file. */
int trace_stream(const char *name)
{
	u32 events = 0;
	long n = hv.trace_end(&events);
	if (n < 0) {
		kprintf("host: trace buffer overflowed\n");
		return -1;
	}
	kprintf("UXT-BEGIN %s frames=%lu events=%u bytes=%ld\n", name, hv_pool_frames,
		events, n);
	char line[80];
	for (long off = 0; off < n; off += 57) {
		long len = n - off < 57 ? n - off : 57, k = 0;
		const u8 *p = trace_buf + off;
		for (long i = 0; i < len; i += 3) {
			u32 v = (u32)p[i] << 16 | (i + 1 < len ? (u32)p[i + 1] << 8 : 0) |
				(i + 2 < len ? p[i + 2] : 0);
			line[k++] = b64[v >> 18];
			line[k++] = b64[(v >> 12) & 63];
			line[k++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
			line[k++] = i + 2 < len ? b64[v & 63] : '=';
		}
		line[k] = 0;
		kprintf("UXT %s\n", line);
	}
	kprintf("UXT-END %s\n", name);
	return 0;
}
