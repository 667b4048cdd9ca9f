/* Benchmark: the convolution passes of W1 and W2 (shared/WORKLOADS.md) on both fast paths, the
 * im2col + GEMM kernels and the oneDNN primitives (when built with oneDNN), side by side. This
 * is the measurement behind the dispatch rule in src/ops/conv.c (dnnl_wanted).
 *
 * For each distinct convolution shape and each pass (fwd, bwd_data, bwd_weight): the median over
 * --repeats runs (default 5, after 1 warm-up) of the wall time and of the process CPU time, both
 * paths alternating run by run so that drift in machine load hits both alike. With
 * OMP_NUM_THREADS=1 the CPU times compare the two paths' work even on a loaded machine.
 *
 * Usage: conv_passes [W1|W2|all] [--repeats N] [--json] */
#define _POSIX_C_SOURCE 200809L
#include "bench_time.h"
#include "kernels/conv.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shape {
	const char *workload;
	int64_t N, C, H, K, k, s, p; /* square input H x H, kernel k x k, stride s, padding p */
	int count;                   /* how many convolutions of this shape the encoder has */
};

static const struct shape SHAPES[] = {
	{ "W1", 512, 1, 28, 32, 3, 1, 1, 1 },    { "W1", 512, 32, 28, 64, 3, 2, 1, 1 },
	{ "W1", 512, 64, 14, 128, 3, 2, 1, 1 },  { "W1", 512, 128, 7, 128, 3, 1, 1, 1 },
	{ "W2", 64, 3, 32, 64, 3, 1, 1, 1 },     { "W2", 64, 64, 32, 64, 3, 1, 1, 4 },
	{ "W2", 64, 64, 32, 128, 3, 2, 1, 1 },   { "W2", 64, 128, 16, 128, 3, 1, 1, 3 },
	{ "W2", 64, 64, 32, 128, 1, 2, 0, 1 },   { "W2", 64, 128, 16, 256, 3, 2, 1, 1 },
	{ "W2", 64, 256, 8, 256, 3, 1, 1, 3 },   { "W2", 64, 128, 16, 256, 1, 2, 0, 1 },
	{ "W2", 64, 256, 8, 512, 3, 2, 1, 1 },   { "W2", 64, 512, 4, 512, 3, 1, 1, 3 },
	{ "W2", 64, 256, 8, 512, 1, 2, 0, 1 },
};

static float *buffer(size_t n)
{
	float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
	for (size_t i = 0; p && i < n; i++)
		p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
	return p;
}

/* One pass on one path: the im2col kernels (dc == NULL) or oneDNN (stores its output). */
static bool run_pass(struct sup_dnnl_conv *dc, const struct sup_conv_geom *g, enum sup_conv_pass pass, float *x,
		     float *w, float *y, void *work)
{
	if (dc) {
		size_t bytes;
		const struct sup_dnnl_conv_entry *e = sup_dnnl_conv_prepare(dc, g, pass, false, false, &bytes);
		const void *in0 = pass == SUP_CONV_BWD_DATA ? (const void *)y : x;
		const void *in1 = pass == SUP_CONV_BWD_WEIGHT ? (const void *)y : w;
		void *out = pass == SUP_CONV_FWD ? (void *)y : pass == SUP_CONV_BWD_DATA ? (void *)x : (void *)w;
		return e && sup_dnnl_conv_run(dc, e, out, in0, in1, NULL, work);
	}
	struct sup_conv_plan p;
	sup_cpu_conv2d_plan(&p, g, pass);
	if (pass == SUP_CONV_FWD)
		sup_cpu_conv2d_fwd_f32(y, x, w, NULL, g, false, &p, work);
	else if (pass == SUP_CONV_BWD_DATA)
		sup_cpu_conv2d_bwd_data_f32(x, y, w, g, &p, work);
	else
		sup_cpu_conv2d_bwd_weight_f32(w, x, y, g, &p, work);
	return true;
}

/* Work bytes the larger of the two paths needs for this pass. */
static size_t work_bytes(struct sup_dnnl_conv *dc, const struct sup_conv_geom *g, enum sup_conv_pass pass)
{
	struct sup_conv_plan p;
	sup_cpu_conv2d_plan(&p, g, pass);
	size_t im2col = p.floats * sizeof(float), dnnl = 0;
	if (dc)
		sup_dnnl_conv_prepare(dc, g, pass, false, false, &dnnl);
	return (im2col > dnnl ? im2col : dnnl) + 64;
}

int main(int argc, char **argv)
{
	const char *which = "all";
	int repeats = 5;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
			repeats = atoi(argv[++i]);
		else if (argv[i][0] != '-')
			which = argv[i];
		else {
			fprintf(stderr, "usage: conv_passes [W1|W2|all] [--repeats N] [--json]\n");
			return 2;
		}
	}
	if (repeats < 1)
		repeats = 1;
	struct sup_dnnl_conv *dc = sup_dnnl_conv_new(sup_allocator_default());
	if (!dc)
		fprintf(stderr, "conv_passes: no oneDNN in this build; timing im2col only\n");
	static const char *const pass_names[3] = { "fwd", "bwd_data", "bwd_weight" };
	if (!json)
		printf("# %d thread(s), median of %d; ms wall / ms CPU; GFLOP/s from wall\n%-4s %-26s %-10s %21s %21s\n",
		       omp_get_max_threads(), repeats, "", "shape (xcount)", "pass", "im2col", "oneDNN");
	double *t[4];
	for (int i = 0; i < 4; i++)
		t[i] = malloc(sizeof(double) * (size_t)repeats);
	int rc = 0;
	for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0] && rc == 0; s++) {
		const struct shape *S = &SHAPES[s];
		if (strcmp(which, "all") != 0 && strcmp(which, S->workload) != 0)
			continue;
		const int64_t OH = (S->H + 2 * S->p - S->k) / S->s + 1;
		const struct sup_conv_geom g = { .N = S->N, .C = S->C, .H = S->H, .W = S->H, .K = S->K, .OH = OH, .OW = OH,
						 .KH = S->k, .KW = S->k, .sh = S->s, .sw = S->s, .ph = S->p, .pw = S->p,
						 .dh = 1, .dw = 1, .G = 1 };
		float *x = buffer((size_t)(g.N * g.C * g.H * g.W)), *w = buffer((size_t)(g.K * g.C * g.KH * g.KW));
		float *y = buffer((size_t)(g.N * g.K * OH * OH));
		const double gflop = 2.0 * (double)(g.N * g.K * OH * OH * g.C * g.KH * g.KW) * 1e-9;
		for (int pass = 0; pass < 3 && x && w && y; pass++) {
			const size_t bytes = work_bytes(dc, &g, (enum sup_conv_pass)pass);
			void *work = aligned_alloc(64, (bytes + 63) / 64 * 64);
			bool dnnl_ok = dc && run_pass(dc, &g, (enum sup_conv_pass)pass, x, w, y, work);
			run_pass(NULL, &g, (enum sup_conv_pass)pass, x, w, y, work);
			for (int r = 0; r < repeats; r++)
				for (int path = 0; path < 2; path++) {
					if (path == 1 && !dnnl_ok)
						continue;
					double w0 = bench_wall_ms(), c0 = bench_cpu_ms();
					run_pass(path ? dc : NULL, &g, (enum sup_conv_pass)pass, x, w, y, work);
					t[2 * path][r] = bench_wall_ms() - w0;
					t[2 * path + 1][r] = bench_cpu_ms() - c0;
				}
			const double iw = bench_median(t[0], repeats), ic = bench_median(t[1], repeats);
			const double dw = dnnl_ok ? bench_median(t[2], repeats) : 0, dcpu = dnnl_ok ? bench_median(t[3], repeats) : 0;
			char name[96];
			snprintf(name, sizeof name, "N%lld C%lld %lldx%lld K%lld k%lld s%lld (x%d)", (long long)g.N,
				 (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.K, (long long)g.KH,
				 (long long)g.sh, S->count);
			if (json)
				printf("{\"workload\":\"%s\",\"shape\":\"%s\",\"pass\":\"%s\",\"im2col_ms\":%.3f,\"im2col_cpu_ms\":%.3f,"
				       "\"dnnl_ms\":%.3f,\"dnnl_cpu_ms\":%.3f,\"gflop\":%.4f}\n",
				       S->workload, name, pass_names[pass], iw, ic, dw, dcpu, gflop);
			else
				printf("%-4s %-26s %-10s %7.2f/%7.2f %5.0f %7.2f/%7.2f %5.0f\n", S->workload, name,
				       pass_names[pass], iw, ic, gflop / iw * 1e3, dw, dcpu, dw > 0 ? gflop / dw * 1e3 : 0);
			fflush(stdout);
			free(work);
		}
		if (!x || !w || !y)
			rc = 1;
		free(x);
		free(w);
		free(y);
	}
	for (int i = 0; i < 4; i++)
		free(t[i]);
	sup_dnnl_conv_free(dc);
	return rc;
}
