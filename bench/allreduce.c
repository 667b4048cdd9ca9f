/* Gradient-allreduce cost: how long sup_model_allreduce_grads' collective takes for the gradient
 * block of each benchmark model, the upper bound on what overlapping it with backward could save
 * (issue 10). Run under MPI on the machine in question:
 *
 *   mpiexec -np 2 build/bench/allreduce [--reps N] [--bucket FLOATS] [FLOATS...]
 *
 * Without FLOATS it times the parameter counts of W1 (ConvNet + projector), W3 (BERT-mini + MLM
 * head) and W2 (ResNet-18 + projector), trainable floats counted from their checkpoints. The
 * block goes in buckets of --bucket floats (default 1 Mi, sup_model_allreduce_grads' default),
 * one collective each, as in training. Each size: 3 warm-up rounds, then the median of N
 * (default 20) timed ones; a round ends when the last bucket's collective completes (every rank
 * leaves it only after all contributions arrived). Rank 0 prints the table. */
#define _POSIX_C_SOURCE 200809L

#include "bench_time.h"
#include "selfsup/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	char err[256];
	struct sup_dist *d = NULL;
	if (sup_dist_open(&d, &argc, &argv, err, sizeof err) != SUP_OK) {
		fprintf(stderr, "allreduce: %s\n", err);
		return 1;
	}
	const struct sup_comm *comm = sup_dist_comm(d);
	int reps = 20, first = 1;
	long bucket = 1L << 20;
	while (argc > first + 1 && strncmp(argv[first], "--", 2) == 0) {
		if (strcmp(argv[first], "--reps") == 0)
			reps = atoi(argv[first + 1]);
		else if (strcmp(argv[first], "--bucket") == 0)
			bucket = atol(argv[first + 1]);
		else
			break;
		first += 2;
	}
	static const long defaults[] = { 265504, 860036, 11496512 };
	static const char *const names[] = { "W1", "W3", "W2" };
	const int n_sizes = argc > first ? argc - first : 3;
	double *times = malloc(sizeof *times * (size_t)(reps > 0 ? reps : 1));
	int rc = times && reps > 0 && bucket > 0 ? 0 : 1;
	if (sup_comm_rank(comm) == 0 && rc == 0) {
		printf("%d processes, buckets of %ld floats, median of %d\n| model | floats | MB | ms | GB/s |\n|---|---|---|---|---|\n",
		       sup_comm_size(comm), bucket, reps);
	}
	for (int s = 0; s < n_sizes && rc == 0; s++) {
		const long n = argc > first ? atol(argv[first + s]) : defaults[s];
		float *buf = calloc((size_t)(n > 0 ? n : 1), sizeof *buf);
		if (!buf || n <= 0) {
			free(buf);
			rc = 1;
			break;
		}
		for (int r = -3; r < reps && rc == 0; r++) {
			const double t0 = bench_wall_ms();
			for (long at = 0; at < n && rc == 0; at += bucket) {
				if (sup_comm_allreduce_f32(comm, buf + at, n - at < bucket ? n - at : bucket) != SUP_OK) {
					fprintf(stderr, "allreduce: %s\n", sup_dist_error(d));
					rc = 1;
				}
			}
			if (r >= 0)
				times[r] = bench_wall_ms() - t0;
		}
		free(buf);
		if (rc == 0 && sup_comm_rank(comm) == 0) {
			bench_sort(times, reps);
			const double ms = times[reps / 2], mb = 4e-6 * (double)n;
			printf("| %s | %ld | %.1f | %.2f | %.2f |\n", argc > first ? "-" : names[s], n, mb, ms,
			       mb / ms);
		}
	}
	free(times);
	sup_dist_close(d);
	return rc;
}
