/* COM1 console, printf (the core's formatter, hv/core/fmt.c), the result
 * protocol and power-off. */
#include "bm.h"

#define COM1 0x3f8
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0xc7); /* FIFO */
	outb(COM1 + 4, 0x03);
}

void serial_putc(char c)
{
	if (c == '\n')
		serial_putc('\r');
	while (!(inb(COM1 + 5) & LSR_THRE))
		cpu_relax();
	outb(COM1, (u8)c);
}

void serial_write(const char *s, size_t n)
{
	while (n--)
		serial_putc(*s++);
}

/* Wait until the UART has sent everything (else the last bytes are lost). */
void serial_drain(void)
{
	while (!(inb(COM1 + 5) & LSR_TEMT))
		cpu_relax();
}

/* String instructions: one emulated instruction per 8 bytes in bulk. */
void *memset(void *d, int c, size_t n)
{
	void *p = d;
	u64 v = 0x0101010101010101ull * (u8)c;
	size_t q = n / 8, r = n % 8;
	__asm__ volatile("rep stosq" : "+D"(p), "+c"(q) : "a"(v) : "memory");
	__asm__ volatile("rep stosb" : "+D"(p), "+c"(r) : "a"(v) : "memory");
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *p = d;
	const void *q = s;
	size_t w = n / 8, r = n % 8;
	__asm__ volatile("rep movsq" : "+D"(p), "+S"(q), "+c"(w) : : "memory");
	__asm__ volatile("rep movsb" : "+D"(p), "+S"(q), "+c"(r) : : "memory");
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	if (p < q)
		return memcpy(d, s, n);
	while (n--)
		p[n] = q[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a < (u8)*b ? -1 : 1;
		if (!*a)
			return 0;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, ~(size_t)0);
}

void kprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	serial_write(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* The result line the runner looks for; a run without one crashed. */
void result(enum result r, const char *fmt, ...)
{
	static const char *const names[] = { "SUCCESS", "SKIP", "ERROR", "FAILURE" };
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("RESULT: %s %s\n", names[r], buf);
}

/* QEMU's isa-debug-exit (status (v << 1) | 1), then Bochs' shutdown port,
 * then ACPI soft-off; a real machine just stops. */
void poweroff(void)
{
	serial_drain();
	__asm__ volatile("cli");
	outb(0xf4, 0x10); /* QEMU: exit status 33 */
	const char *s = "Shutdown";
	while (*s)
		outb(0x8900, (u8)*s++);
	outw(0xb004, 0x2000);
	for (;;)
		__asm__ volatile("hlt");
}

void panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("\nPANIC: %s\n", buf);
	poweroff();
}

/* ---- the config sector ---- */

#define CONFIG_LEN 512

static const char *config_find(const char *key, size_t *vlen)
{
	const char *c = (const char *)phys(CONFIG_ADDR);
	size_t klen = strlen(key);
	for (size_t i = 0; i < CONFIG_LEN && c[i];) {
		size_t e = i;
		while (e < CONFIG_LEN && c[e] && c[e] != '\n')
			e++;
		if (e - i > klen && !strncmp(c + i, key, klen) && c[i + klen] == '=') {
			*vlen = e - i - klen - 1;
			return c + i + klen + 1;
		}
		i = e < CONFIG_LEN && c[e] ? e + 1 : e;
	}
	return NULL;
}

const char *config_get(const char *key)
{
	static char val[8][64];
	static unsigned next;
	size_t n;
	const char *v = config_find(key, &n);
	if (!v)
		return NULL;
	char *out = val[next++ % 8];
	if (n > 63)
		n = 63;
	memcpy(out, v, n);
	out[n] = 0;
	return out;
}

bool config_flag(const char *key)
{
	const char *v = config_get(key);
	return v && v[0] == '1';
}
