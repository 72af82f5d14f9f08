/* Physical memory: a bitmap of 4 KiB frames (1 = free) built from the
 * E820 map, below 4 GiB (the identity map), above the kernel's 4 MiB. */
#include "bm.h"

#define MAX_FRAMES (1u << 20)
#define LOW_RESERVED (4u << 20)

struct e820 {
	u64 base, len;
	u32 type, ext;
} __attribute__((packed));

static u64 free_map[MAX_FRAMES / 64];
static u64 nr_free, top;

static void set_free(u64 f, bool on)
{
	if (on)
		free_map[f / 64] |= 1ull << (f % 64);
	else
		free_map[f / 64] &= ~(1ull << (f % 64));
}

static bool is_free(u64 f)
{
	return free_map[f / 64] >> (f % 64) & 1;
}

void pmm_init(void)
{
	u16 n = *(volatile u16 *)phys(E820_COUNT);
	const struct e820 *e = (const struct e820 *)phys(E820_BUF);
	for (u16 i = 0; i < n; i++) {
		if (e[i].type != 1)
			continue;
		u64 a = (e[i].base + PAGE_SIZE - 1) / PAGE_SIZE;
		u64 b = (e[i].base + e[i].len) / PAGE_SIZE;
		if (b > MAX_FRAMES)
			b = MAX_FRAMES;
		if (a < LOW_RESERVED / PAGE_SIZE)
			a = LOW_RESERVED / PAGE_SIZE;
		for (u64 f = a; f < b; f++)
			if (!is_free(f)) {
				set_free(f, true);
				nr_free++;
			}
		if (b * PAGE_SIZE > top)
			top = b * PAGE_SIZE;
	}
}

u64 pmm_alloc(u64 bytes, u64 align)
{
	u64 n = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	u64 step = align > PAGE_SIZE ? align / PAGE_SIZE : 1;
	if (n == 0)
		return 0;
	for (u64 f = 0; f + n <= top / PAGE_SIZE; f += step) {
		u64 k = 0;
		while (k < n && is_free(f + k))
			k++;
		if (k == n) {
			for (k = 0; k < n; k++)
				set_free(f + k, false);
			nr_free -= n;
			return f * PAGE_SIZE;
		}
	}
	return 0;
}

void pmm_free(u64 pa, u64 bytes)
{
	for (u64 f = pa / PAGE_SIZE; f < (pa + bytes + PAGE_SIZE - 1) / PAGE_SIZE; f++)
		if (!is_free(f)) {
			set_free(f, true);
			nr_free++;
		}
}

u64 pmm_free_bytes(void)
{
	return nr_free * PAGE_SIZE;
}

u64 pmm_top(void)
{
	return top;
}
