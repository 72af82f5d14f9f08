/* uxen-replay: replay µ-Xen traces through the hosted hypervisor.
 * Exit status: 0 identical, 1 divergence, 2 unusable trace, usage error or
 * output that could not be written, 3 the hypervisor itself failed. With
 * several traces, the worst wins. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "engine.h"
#include "uxt_io.h"

static const char usage[] =
	"usage: uxen-replay [options] TRACE.uxt...\n"
	"Replay traces through the hosted hypervisor and check every recorded\n"
	"output against what the exit handlers do now.\n"
	"\n"
	"  -k, --keep-going      count every divergence instead of stopping at the first\n"
	"  -s, --stats           print events by kind, exits by reason and fate, time, exits/s\n"
	"  -d, --dump            print a human-readable listing of the trace; run nothing\n"
	"      --no-check        run the trace without comparing outputs\n"
	"      --parse-only      read and validate the trace, run nothing (benchmarks)\n"
	"      --check-every N   run the invariant checker every N events (default: at the end)\n"
	"      --mem-frames N    simulated machine memory in 4 KiB frames, 512 to 2^27 (default:\n"
	"                        from the trace header, else 262144)\n"
	"      --progress        progress on stderr (default: for traces over 16 MiB on a terminal)\n"
	"      --no-progress\n"
	"  -q, --quiet           no summary line\n"
	"  -h, --help\n"
	"\n"
	"--dump and --parse-only run nothing: they refuse the options that would.\n"
	"\n"
	"Exit status: 0 identical, 1 divergence, 2 unusable trace, usage error or\n"
	"output that could not be written, 3 the hypervisor failed (assertion or invariant).\n";

struct cli {
	struct replay_opts o;
	bool stats, dump, quiet;
	int progress; /* -1 auto */
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "uxen-replay: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	fprintf(stderr, "Try 'uxen-replay --help'.\n");
	return 2;
}

/* A number, decimal or 0x hex, digits only: strtoull alone would take
 * " -1" (leading space, then a sign it negates) as 2^64 - 1. */
static int parse_u64(const char *s, u64 *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static void print_stats(const char *name, const struct replay_result *res)
{
	const struct replay_stats *st = &res->st;
	printf("%s: %llu events: %llu exits, %llu host calls, %llu marks\n", name,
	       (unsigned long long)st->events, (unsigned long long)st->exits,
	       (unsigned long long)st->hostcalls, (unsigned long long)st->marks);
	for (u32 i = 0; i <= EXIT_REASON_MAX; i++)
		if (st->by_reason[i])
			printf("  exit %-22s %llu\n",
			       i < EXIT_REASON_MAX ? exit_reason_name(i) : "(out of range)",
			       (unsigned long long)st->by_reason[i]);
	for (u32 i = 0; i < UXT_FATE_MAX; i++)
		if (st->by_fate[i])
			printf("  fate %-22s %llu\n", uxt_fate_name(i),
			       (unsigned long long)st->by_fate[i]);
	printf("  time %.3f s, %.0f exits/s, %.0f events/s\n", st->seconds,
	       st->seconds > 0 ? (double)st->exits / st->seconds : 0.0,
	       st->seconds > 0 ? (double)st->events / st->seconds : 0.0);
}

static int dump(const char *name, const u8 *buf, size_t len)
{
	struct uxt_reader rd;
	struct uxt_event ev;
	int n;
	if (uxt_open(&rd, buf, len, false)) {
		fprintf(stderr, "uxen-replay: %s: %s\n", name, rd.err);
		return 2;
	}
	uxt_dump_header(stdout, &rd.hdr);
	while ((n = uxt_next(&rd, &ev)) > 0)
		if (uxt_dump_event(stdout, &ev, ev.index) < 0) {
			fflush(stdout);
			fprintf(stderr, "uxen-replay: %s: bad item in event %llu (offset %llu)\n",
				name, (unsigned long long)ev.index,
				(unsigned long long)ev.offset);
			return 2;
		}
	if (n < 0) {
		fflush(stdout);
		fprintf(stderr, "uxen-replay: %s: %s\n", name, rd.err);
		return 2;
	}
	return 0;
}

static int one_trace(const struct cli *c, const char *path)
{
	/* Not blocking: a FIFO given by mistake would wait for a writer
	 * before the check below could refuse it. */
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		fprintf(stderr, "uxen-replay: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	if (!S_ISREG(sb.st_mode)) {
		fprintf(stderr, "uxen-replay: %s: not a regular file\n", path);
		close(fd);
		return 2;
	}
	size_t len = (size_t)sb.st_size;
	const u8 *buf = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : (const u8 *)"";
	close(fd);
	if (buf == MAP_FAILED) {
		fprintf(stderr, "uxen-replay: %s: %s\n", path, strerror(errno));
		return 2;
	}
	int rc;
	if (c->dump) {
		rc = dump(path, buf, len);
	} else {
		struct replay_opts o = c->o;
		struct replay_result res;
		o.name = path;
		o.progress = c->progress >= 0 ? c->progress
				: isatty(2) && len > (16u << 20);
		rc = replay_buffer(buf, len, &o, &res);
		if (c->stats)
			print_stats(path, &res);
		/* A single divergence was already reported as it happened. */
		if (rc && !(rc == REPLAY_DIVERGED && !o.keep_going))
			fprintf(stderr, "uxen-replay: %s: %s\n", path, res.msg);
		if (!c->quiet)
			printf("%s: %s (%llu events, %llu exits, %llu divergences)\n", path,
			       rc == 0 ? (o.parse_only ? "parsed" : o.no_check ? "replayed" : "identical")
			       : rc == 1 ? "DIVERGED" : rc == 2 ? "UNUSABLE" : "HYPERVISOR FAILED",
			       (unsigned long long)res.st.events, (unsigned long long)res.st.exits,
			       (unsigned long long)res.st.divergences);
	}
	if (len)
		munmap((void *)buf, len);
	return rc;
}

/* An option the chosen mode would not apply: refused rather than
 * silently dropped. */
static const char *ignored_option(const struct cli *c)
{
	const struct replay_opts *o = &c->o;
	if (c->dump && (o->keep_going || c->stats || o->no_check || o->parse_only ||
			o->check_every || o->mem_frames))
		return "--dump runs nothing: it takes none of -k, -s, --no-check, --parse-only, "
		       "--check-every, --mem-frames";
	if (o->parse_only && (o->keep_going || o->no_check || o->check_every || o->mem_frames))
		return "--parse-only runs nothing: it takes none of -k, --no-check, "
		       "--check-every, --mem-frames";
	if (o->no_check && o->keep_going)
		return "--keep-going counts divergences, which --no-check does not look for";
	return NULL;
}

int main(int argc, char **argv)
{
	enum { O_NO_CHECK = 256, O_PARSE, O_EVERY, O_FRAMES, O_PROG, O_NOPROG };
	static const struct option longopts[] = {
		{ "keep-going", no_argument, NULL, 'k' },
		{ "stats", no_argument, NULL, 's' },
		{ "dump", no_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-check", no_argument, NULL, O_NO_CHECK },
		{ "parse-only", no_argument, NULL, O_PARSE },
		{ "check-every", required_argument, NULL, O_EVERY },
		{ "mem-frames", required_argument, NULL, O_FRAMES },
		{ "progress", no_argument, NULL, O_PROG },
		{ "no-progress", no_argument, NULL, O_NOPROG },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = { .progress = -1 };
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "ksdqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k': c.o.keep_going = true; break;
		case 's': c.stats = true; break;
		case 'd': c.dump = true; break;
		case 'q': c.quiet = true; break;
		case 'h': fputs(usage, stdout); return 0;
		case O_NO_CHECK: c.o.no_check = true; break;
		case O_PARSE: c.o.parse_only = true; break;
		case O_PROG: c.progress = 1; break;
		case O_NOPROG: c.progress = 0; break;
		case O_EVERY:
			if (parse_u64(optarg, &c.o.check_every))
				return usage_error("--check-every needs a number, not", optarg);
			break;
		case O_FRAMES:
			if (parse_u64(optarg, &c.o.mem_frames) || c.o.mem_frames < 512 ||
			    c.o.mem_frames > REPLAY_MAX_FRAMES)
				return usage_error("--mem-frames needs a number from 512 to 2^27, not",
						   optarg);
			break;
		default:
			return usage_error("unknown or incomplete option",
					   argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error("no trace given", NULL);
	const char *unused = ignored_option(&c);
	if (unused)
		return usage_error(unused, NULL);
	int worst = 0;
	for (int i = optind; i < argc; i++) {
		int rc = one_trace(&c, argv[i]);
		worst = rc > worst ? rc : worst;
	}
	/* A listing or summary that could not be written is lost output. */
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "uxen-replay: writing to standard output: %s\n",
			strerror(errno ? errno : EIO));
		return worst > 2 ? worst : 2;
	}
	return worst;
}
