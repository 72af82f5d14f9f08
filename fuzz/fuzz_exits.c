/* Fuzz target "exits": the input is a trace, read leniently. Its exits
 * (with their input items: VMCS fields, registers, guest memory, CPUID and
 * TSC values) are synthesized into a fresh template domain and run through
 * the real exit handlers; its host calls run too (an exit that left a vCPU
 * waiting for I/O needs IOREQ_COMPLETE). Recorded outputs are ignored.
 * Exits name domain 1 (the template) unless the input created more; vCPUs
 * fold into the template's two. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Host calls that would only tear the template down or rebuild what it
 * is: dropped, so inputs made from whole traces keep their domain. */
static bool skip_call(u16 nr)
{
	return nr == HC_DOMAIN_DESTROY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	static struct fz_items items;
	struct uxt_reader rd;
	struct uxt_event ev;
	struct uxt_item_iter it;
	struct uxt_item item;
	if (uxt_open(&rd, data, size, true))
		return 0;
	fz_begin(&f);
	fz_template(&f, 2);
	fz_setup_done(&f);
	while (fz_more(&f) && uxt_next(&rd, &ev) > 0) {
		if (ev.kind == UXT_EV_MARK)
			continue;
		fz_items_reset(&items);
		uxt_items_begin(&it, &ev);
		const u8 *payload = NULL;
		u32 plen = 0;
		while (uxt_items_next(&it, &item) > 0) {
			if (item.tag & UXT_IT_OUTPUT)
				break;
			if (ev.kind == UXT_EV_HOSTCALL) {
				if (item.tag == UXT_IT_DATA && !payload) {
					payload = item.data;
					plen = item.len;
				}
			} else if (item.tag != UXT_IT_DATA) {
				fz_item_raw(&items, item.raw, 4u + item.len);
			}
		}
		f.events++;
		if (ev.kind == UXT_EV_HOSTCALL) {
			if (!skip_call(ev.arg))
				fz_call(&f, ev.arg, ev.args[0], ev.args[1], ev.args[2],
					ev.args[3], payload, plen);
			continue;
		}
		u16 dom = ev.domid >= 1 && ev.domid < 8 ? ev.domid : 1;
		fz_exit(&f, ev.arg, dom, ev.vcpu & 1, &items);
	}
	fz_run(&f, "exits");
	return 0;
}
