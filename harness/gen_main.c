/* uxen-gen: write a scripted scenario as a trace with its outputs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "gen.h"

#define GEN_MAX_EXITS 100000000ull

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: uxen-gen SCENARIO OUT.uxt [N]\n"
		   "       uxen-gen --list\n"
		   "Run a scripted guest scenario through the hosted hypervisor and write\n"
		   "it as a trace with every output (\"-\" writes to stdout). N, 1 to %llu,\n"
		   "sizes the scenarios that take one (default 1000).\n",
		(unsigned long long)GEN_MAX_EXITS);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (const struct scenario *s = scenarios; s->name; s++)
			printf("%-8s %s\n", s->name, s->what);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage(stdout, 0);
	if (argc >= 2 && argv[1][0] == '-') { /* --list or --help with more, or another flag */
		fprintf(stderr, "uxen-gen: unknown option or extra arguments: %s\n", argv[1]);
		return usage(stderr, 2);
	}
	if (argc < 3 || argc > 4)
		return usage(stderr, 2);
	const struct scenario *s = scenario_find(argv[1]);
	if (!s || !s->run) {
		fprintf(stderr, "uxen-gen: no scenario '%s' (try --list)\n", argv[1]);
		return 2;
	}
	u64 n = 1000;
	if (argc == 4) {
		/* Digits only (strtoull alone takes " -1" as 2^64 - 1), and a
		 * bound: each exit is some 100 bytes of trace. */
		char *end;
		errno = 0;
		n = strtoull(argv[3], &end, 0);
		if (argv[3][0] < '0' || argv[3][0] > '9' || errno || *end || n == 0 ||
		    n > GEN_MAX_EXITS) {
			fprintf(stderr, "uxen-gen: N must be a number from 1 to %llu, not '%s'\n",
				(unsigned long long)GEN_MAX_EXITS, argv[3]);
			return 2;
		}
	}
	static struct gen g;
	if (gen_open(&g, argv[2], NULL, 0, s->frames)) {
		fprintf(stderr, "uxen-gen: %s\n", g.err);
		return 1;
	}
	int rc = s->run(&g, n);
	if (gen_close(&g) || rc) {
		fprintf(stderr, "uxen-gen: %s: %s\n", s->name, g.err[0] ? g.err : "failed");
		return 1;
	}
	fprintf(stderr, "uxen-gen: %s: %llu exits, %llu host calls, %llu bytes\n", s->name,
		(unsigned long long)g.exits, (unsigned long long)g.calls,
		(unsigned long long)gen_len(&g));
	return 0;
}
