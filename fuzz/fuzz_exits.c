/* Fuzz target "exits": the input is a trace, read leniently. Its exits
 * (with their input items: VMCS fields, registers, guest memory, CPUID and
 * TSC values) are synthesized into a fresh template domain and run through
 * the real exit handlers; its host calls run too (an exit that left a vCPU
 * waiting for I/O needs IOREQ_COMPLETE). Recorded outputs are ignored.
 * The input's domain 1 is the fork the template set-up gives each input
 * (FZ_CHILD), its domain k the core's k + 1 (the template holds slot 1), in
 * exits and in the host calls' domain arguments alike; vCPUs fold into the
 * template's two. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Host calls that would only tear the template down or rebuild what it
 * is: dropped, so inputs made from whole traces keep their domain. */
static bool skip_call(u16 nr)
{
	return nr == HC_DOMAIN_DESTROY;
}

/* The input's domain id as the core numbers it (see above). */
static u64 dom_id(u64 id)
{
	return id >= 1 && id < 64 ? id + 1 : id;
}

static void host_call(struct fz *f, const struct uxt_event *ev,
		      const u8 *payload, u32 plen)
{
	u64 a[4] = { ev->args[0], ev->args[1], ev->args[2], ev->args[3] };
	const struct fz_hc *h = fz_hc_find(ev->arg);
	for (unsigned k = 0; h && k < 4; k++)
		if (h->kind[k] == FZ_ARG_DOM)
			a[k] = dom_id(a[k]);
	fz_call(f, ev->arg, a[0], a[1], a[2], a[3], payload, plen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static struct fz_items items;
	struct uxt_reader rd;
	struct uxt_event ev;
	/* Where (and why) an input stops being a trace does not matter. */
	if (uxt_open_quiet(&rd, data, size, true))
		return 0;
	fz_begin(&f);
	fz_template(&f, 2);
	while (fz_more(&f) && uxt_next(&rd, &ev) > 0) {
		if (ev.kind == UXT_EV_MARK)
			continue;
		f.events++;
		if (ev.kind == UXT_EV_HOSTCALL) {
			u32 plen;
			const u8 *payload = fz_call_payload(&ev, &plen);
			if (!skip_call(ev.arg))
				host_call(&f, &ev, payload, plen);
			continue;
		}
		const u8 *raw;
		u32 len = fz_exit_inputs(&ev, &items, &raw);
		u16 dom = ev.domid >= 1 && ev.domid < 8 ? (u16)dom_id(ev.domid) : FZ_CHILD;
		fz_exit_raw(&f, ev.arg, dom, ev.vcpu & 1, raw, len);
	}
	fz_run(&f, "exits");
	return 0;
}
