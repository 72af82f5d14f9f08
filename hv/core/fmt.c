/* The printf-style formatter (hv/fmt.h). Freestanding and stateless: it
 * builds into the core (hosted and real) and into the bare-metal host OS. */
#include "hv/fmt.h"

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

static void out_num(struct outbuf *o, u64 v, unsigned base, int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		out_c(o, pad);
	while (n)
		out_c(o, tmp[--n]);
}

int hv_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, len, 0 };
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++, width--)
				out_c(&o, *s);
			while (width-- > 0)
				out_c(&o, ' ');
			break;
		}
		case 'c':
			out_c(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			s64 v = longs ? va_arg(ap, long long) : va_arg(ap, int);
			if (v < 0)
				out_c(&o, '-');
			out_num(&o, v < 0 ? (u64)0 - (u64)v : (u64)v, 10, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			u64 v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
			out_num(&o, v, *fmt == 'x' ? 16 : 10, width, pad);
			break;
		}
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (u64)(uintptr_t)va_arg(ap, void *), 16, 0, ' ');
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
	int n = hv_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n;
}
