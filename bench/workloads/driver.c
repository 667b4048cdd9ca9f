/* build/bench/workloads NAME [--steps N] [--warmup N] [--threads N] [--json]
 * Times a workload: median milliseconds per step over N steps after the warm-up, and the peak
 * resident set size of the process. NAME is W1..W6 (or its title), or "all". Also the median
 * process CPU time per step (cpu_ms): on a loaded machine, a --threads 1 run's CPU time still
 * measures the work of a step while its wall time measures the queue for the core. */
/* clock_gettime is POSIX. */
#define _POSIX_C_SOURCE 200809L

#include "bench_time.h"
#include "workload.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <sys/resource.h>

static bool same_name(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
	return *a == *b;
}

static int run(const struct workload *w, int steps, int warmup, bool json)
{
	char err[512] = "";
	void *st = w->setup(1234, err, sizeof err);
	if (!st) {
		fprintf(stderr, "workloads: %s setup failed: %s\n", w->name, err);
		return 1;
	}
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 1);
	double *ms = malloc(sizeof(double) * (size_t)steps), *cpu = malloc(sizeof(double) * (size_t)steps), loss = 0;
	int rc = 0;
	for (int i = 0; i < warmup + steps && ms && cpu; i++) {
		double t0 = bench_wall_ms(), c0 = bench_cpu_ms();
		loss = w->step(st, &c);
		double t1 = bench_wall_ms(), c1 = bench_cpu_ms();
		if (loss != loss || sup_ctx_status(&c)) {
			fprintf(stderr, "workloads: %s step %d failed: %s\n", w->name, i, sup_ctx_error(&c));
			rc = 1;
			break;
		}
		sup_ctx_reset(&c);
		if (i >= warmup) {
			ms[i - warmup] = t1 - t0;
			cpu[i - warmup] = c1 - c0;
		}
	}
	if (rc == 0 && ms && cpu) {
		double med = bench_median(ms, steps), cpu_med = bench_median(cpu, steps); /* ms[0]: the minimum */
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		double rss_mb = (double)ru.ru_maxrss / 1024.0, gflops = w->flops ? w->flops() / (med * 1e6) : 0;
		if (json)
			printf("{\"workload\":\"%s\",\"title\":\"%s\",\"median_ms\":%.3f,\"min_ms\":%.3f,\"cpu_ms\":%.3f,"
			       "\"gflops\":%.2f,\"peak_rss_mb\":%.1f,\"threads\":%d,\"steps\":%d,\"loss\":%.6g}\n",
			       w->name, w->title, med, ms[0], cpu_med, gflops, rss_mb, omp_get_max_threads(), steps, loss);
		else
			printf("%-3s %-24s median %9.2f ms  min %9.2f ms  cpu %9.2f ms  %7.2f GFLOP/s  peak RSS %8.1f MB  (%d threads, loss %.4g)\n",
			       w->name, w->title, med, ms[0], cpu_med, gflops, rss_mb, omp_get_max_threads(), loss);
	}
	free(ms);
	free(cpu);
	sup_ctx_deinit(&c);
	w->teardown(st);
	return rc;
}

int main(int argc, char **argv)
{
	const struct workload *all[] = {
#define WORKLOAD_REF(n) &workload_##n,
		WORKLOAD_LIST(WORKLOAD_REF)
#undef WORKLOAD_REF
	};
	const char *name = NULL;
	int steps = 20, warmup = 3;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
			steps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
			warmup = atoi(argv[++i]);
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			omp_set_num_threads(atoi(argv[++i]));
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else {
			fprintf(stderr, "usage: workloads NAME|all [--steps N] [--warmup N] [--threads N] [--json]\n");
			return 2;
		}
	}
	if (!name || steps < 1 || warmup < 0) {
		fprintf(stderr, "usage: workloads NAME|all [--steps N] [--warmup N] [--threads N] [--json]\n");
		return 2;
	}
	int rc = 0, found = 0;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		const struct workload *w = all[i];
		if (!w || !w->name)
			continue;
		if (strcmp(name, "all") == 0 || same_name(name, w->name) || strcmp(name, w->title) == 0) {
			found = 1;
			rc |= run(w, steps, warmup, json);
		}
	}
	if (!found) {
		fprintf(stderr, "workloads: no workload '%s' in this build\n", name);
		return 2;
	}
	return rc;
}
