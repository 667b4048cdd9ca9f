/* GEMM benchmark: GFLOP/s of the sup_matmul op (f32, CPU backend, no-grad, output allocated in
 * the step arena, context reset every repetition) against a direct call of the GEMM kernel it
 * uses (sup_cpu_gemm_f32: dnnl_sgemm when built with oneDNN, else cblas_sgemm) on the same
 * operand buffers, for square sizes 256..2048. The ratio op/direct measures the op's overhead
 * (checks, plan, arena), which should be negligible: the target is >= 0.95.
 *
 *   bench/gemm [--json] [--reps N]
 *
 * Each size: three warm-up calls of each, then N alternating timed repetitions of both (alternating
 * so drift in machine load hits both alike); N is --reps (default and minimum 10), raised for
 * small sizes to about 0.2 s per side (at most 200). Reports medians.
 * With --json, one JSON object per size per line. Threads: OMP_NUM_THREADS as usual. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench_time.h"
#include "selfsup/ops.h"
#include "kernels/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* One op repetition: matmul into the arena, then reset (the reset is part of the op's cost). */
static double time_op(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b, float *sink)
{
	double t0 = bench_wall_ms();
	struct sup_tensor *y = sup_matmul(c, a, b, false, false);
	double t1;
	if (!y) {
		fprintf(stderr, "gemm: matmul failed: %s\n", sup_ctx_error(c));
		return -1;
	}
	*sink += ((float *)y->data)[0];
	sup_ctx_reset(c);
	t1 = bench_wall_ms();
	return (t1 - t0) * 1e-3;
}

static double time_direct(int n, const float *A, const float *B, float *C)
{
	double t0 = bench_wall_ms();
	sup_cpu_gemm_f32(false, false, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
	return (bench_wall_ms() - t0) * 1e-3;
}

/* Benchmarks size n; returns 0 on success. */
static int bench_size(int n, int reps, int threads, int json, float *sink)
{
	const size_t nn = (size_t)n * (size_t)n;
	/* 64-byte aligned like arena tensors, so neither side gets an alignment advantage */
	float *A = aligned_alloc(64, nn * sizeof(float)), *B = aligned_alloc(64, nn * sizeof(float));
	float *C = aligned_alloc(64, nn * sizeof(float));
	double *top = NULL, *tdir = NULL;
	int rc = 1;
	if (!A || !B || !C)
		goto free_bufs;
	struct sup_rng r = sup_rng_make(1, (uint64_t)n);
	for (size_t i = 0; i < nn; i++) {
		A[i] = sup_rng_uniform(&r) - 0.5f;
		B[i] = sup_rng_uniform(&r) - 0.5f;
	}
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 1);
	c.backend = SUP_BACKEND_CPU;
	sup_no_grad_begin(&c);
	struct sup_tensor a, b;
	const int64_t shape[2] = { n, n };
	sup_tensor_init(&a, SUP_F32, 2, shape, A);
	sup_tensor_init(&b, SUP_F32, 2, shape, B);
	/* warm-up: the arena reaches its steady-state chunk, BLAS starts its threads */
	double w_op = 0, w_dir = 0;
	for (int i = 0; i < 3; i++) {
		w_op = time_op(&c, &a, &b, sink);
		w_dir = time_direct(n, A, B, C);
		if (w_op < 0)
			goto deinit;
	}
	/* small sizes: more repetitions (about 0.2 s of each side) for a stable median */
	const double per = w_op > w_dir ? w_op : w_dir;
	if (per > 0 && reps < 200 && reps * per < 0.2)
		reps = (int)(0.2 / per) < 200 ? (int)(0.2 / per) : 200;
	top = malloc(sizeof(double) * (size_t)reps);
	tdir = malloc(sizeof(double) * (size_t)reps);
	if (!top || !tdir)
		goto deinit;
	for (int i = 0; i < reps; i++) {
		top[i] = time_op(&c, &a, &b, sink);
		tdir[i] = time_direct(n, A, B, C);
		if (top[i] < 0)
			goto deinit;
	}
	*sink += C[0];
	const double flop = 2.0 * (double)n * (double)n * (double)n;
	const double g_op = flop / bench_median(top, reps) * 1e-9, g_dir = flop / bench_median(tdir, reps) * 1e-9;
	if (json)
		printf("{\"bench\":\"gemm\",\"n\":%d,\"threads\":%d,\"reps\":%d,\"op_gflops\":%.2f,\"direct_gflops\":%.2f,"
		       "\"ratio\":%.4f}\n",
		       n, threads, reps, g_op, g_dir, g_op / g_dir);
	else
		printf("%6d %6d %12.2f %14.2f %8.3f\n", n, reps, g_op, g_dir, g_op / g_dir);
	fflush(stdout);
	rc = 0;
deinit:
	sup_no_grad_end(&c);
	sup_ctx_deinit(&c);
free_bufs:
	free(A);
	free(B);
	free(C);
	free(top);
	free(tdir);
	return rc;
}

int main(int argc, char **argv)
{
	int json = 0, reps = 10;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 10) {
				fprintf(stderr, "gemm: --reps must be >= 10\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: %s [--json] [--reps N]\n", argv[0]);
			return 2;
		}
	}
	int threads = 1;
#ifdef _OPENMP
	threads = omp_get_max_threads();
#endif
	if (!json)
		printf("# sup_matmul (f32, CPU, no-grad, arena + reset) vs the GEMM kernel, %d thread(s), median of >= %d\n"
		       "%6s %6s %12s %14s %8s\n",
		       threads, reps, "n", "reps", "op GFLOP/s", "direct GFLOP/s", "ratio");
	float sink = 0;
	const int sizes[] = { 256, 512, 1024, 2048 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		if (bench_size(sizes[i], reps, threads, json, &sink))
			return 1;
	if (sink == 12345.0f) /* keeps the results observable */
		fputs("", stderr);
	return 0;
}
