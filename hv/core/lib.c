/* Freestanding helpers: the core links without libc in the real build. */
#include <stdarg.h>
#include "core.h"

/* Word at a time where both sides are 8-byte aligned (frames always are):
 * page tables, copy-on-write copies and scrubbing go through these. The
 * may_alias type keeps the word accesses legal for any object. */
typedef u64 __attribute__((may_alias)) word_t;

static bool aligned8(const void *a, const void *b)
{
	return (((uintptr_t)a | (uintptr_t)b) & 7) == 0;
}

void *hv_memset(void *d, int c, size_t n)
{
	u8 *p = d;
	if (aligned8(p, p)) {
		word_t w = 0x0101010101010101ull * (u8)c;
		for (; n >= 8; n -= 8, p += 8)
			*(word_t *)p = w;
	}
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *hv_memcpy(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	if (aligned8(p, q))
		for (; n >= 8; n -= 8, p += 8, q += 8)
			*(word_t *)p = *(const word_t *)q;
	while (n--)
		*p++ = *q++;
	return d;
}

int hv_memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;
	if (aligned8(p, q))
		for (; n >= 8 && *(const word_t *)p == *(const word_t *)q;
		     n -= 8, p += 8, q += 8)
			;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

size_t hv_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

struct outbuf {
	char *buf;
	size_t len, pos;
};

static void out_c(struct outbuf *o, char c)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos] = c;
	o->pos++;
}

static void out_num(struct outbuf *o, u64 v, unsigned base, bool neg)
{
	char tmp[24];
	int n = 0;
	if (neg)
		out_c(o, '-');
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		out_c(o, tmp[--n]);
}

static int vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, len, 0 };
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		fmt++;
		int longs = 0;
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				out_c(&o, *s);
			break;
		}
		case 'c':
			out_c(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			s64 v = longs ? va_arg(ap, long long) : va_arg(ap, int);
			out_num(&o, v < 0 ? (u64)0 - (u64)v : (u64)v, 10, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			u64 v = longs ? va_arg(ap, unsigned long long)
				      : va_arg(ap, unsigned int);
			out_num(&o, v, *fmt == 'x' ? 16 : 10, false);
			break;
		}
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (u64)(uintptr_t)va_arg(ap, void *), 16, false);
			break;
		case '%':
			out_c(&o, '%');
			break;
		default: /* unknown conversion: print it verbatim */
			out_c(&o, '%');
			if (!*fmt)
				goto done;
			out_c(&o, *fmt);
		}
	}
done:
	if (len)
		buf[o.pos < len ? o.pos : len - 1] = 0;
	return (int)o.pos;
}

int hv_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfmt(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

void hv_log(enum hv_log_level lvl, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (hv.ops)
		hv.ops->log(hv.ctx, lvl, buf,
			    (u32)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
}

void hv_panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	hv.ops->panic(hv.ctx, buf);
}
