/* A domain's debug console: the bytes it writes (to HV_DEBUG_PORT, or with
 * HC_CONSOLE_WRITE) are gathered into lines and logged, and recorded as
 * CONSOLE_OUT items when recording. */
#include "handlers.h"

/* Largest CONSOLE_OUT item payload (the item length is 16 bits). */
#define CONSOLE_REC_MAX 0xffffu

static void console_flush(struct hv_domain *d)
{
	d->con[d->con_len] = '\0';
	hv_log(HV_LOG_INFO, "d%u: %s", d->id, d->con);
	d->con_len = 0;
}

static void console_record(const u8 *buf, u32 len)
{
	while (len) {
		u32 n = len < CONSOLE_REC_MAX ? len : CONSOLE_REC_MAX;
		rec_item(UXT_IT_CONSOLE_OUT, 0, buf, n, NULL, 0);
		buf += n;
		len -= n;
	}
}

void console_put(struct hv_domain *d, const u8 *buf, u32 len)
{
	if (hv.rec.on)
		console_record(buf, len);
	for (u32 i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			console_flush(d);
			continue;
		}
		d->con[d->con_len++] = (char)buf[i];
		if (d->con_len == sizeof(d->con) - 1) /* room for the NUL */
			console_flush(d);
	}
}
