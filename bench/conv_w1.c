/* Benchmark: the four convolutions of workload W1 (../shared/WORKLOADS.md: SimCLR ConvNet on
 * 2 views x 256 Fashion-MNIST images = 512 images of 1x28x28; conv3x3 1->32 s1 p1, 32->64 s2 p1,
 * 64->128 s2 p1, 128->128 s1 p1; no bias), through the op API on the CPU backend (f32).
 *
 * For each layer: forward time, and forward + backward time (weight gradient always; input
 * gradient for layers 2-4, whose input is an activation; layer 1's input is data), each the
 * median of --repeats runs (default 10) after 2 warm-up runs, with GFLOP/s counting
 * 2*N*K*OH*OW*C/G*KH*KW per pass. Thread count: OMP_NUM_THREADS (W1 specifies 2).
 *
 * Usage: conv_w1 [--json] [--repeats N]. With --json, one JSON object per layer per line. */
#define _POSIX_C_SOURCE 200809L
#include "bench_time.h"
#include "selfsup/autograd.h"
#include "selfsup/ops.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct layer {
	const char *name;
	int64_t cin, h, cout, stride;
	bool input_grad;
};

static const struct layer LAYERS[] = {
	{ "conv1", 1, 28, 32, 1, false },
	{ "conv2", 32, 28, 64, 2, true },
	{ "conv3", 64, 14, 128, 2, true },
	{ "conv4", 128, 7, 128, 1, true },
};
enum { BATCH = 512, WARMUP = 2, MAX_REPEATS = 1000 };

static float *rand_buf(struct sup_rng *r, int64_t n, float scale)
{
	float *p = malloc(sizeof(float) * (size_t)n);
	for (int64_t i = 0; p && i < n; i++)
		p[i] = scale * (2.0f * sup_rng_uniform(r) - 1.0f);
	return p;
}

/* Median seconds of `repeats` timed runs of one layer; backward when `bwd`. */
static double time_layer(struct sup_ctx *c, struct sup_tensor *x, struct sup_tensor *w, const float *dy,
			 const struct sup_conv2d_args *a, bool bwd, int repeats)
{
	double t[MAX_REPEATS];
	for (int i = 0; i < WARMUP + repeats; i++) {
		double t0 = bench_wall_ms();
		struct sup_tensor *y = sup_conv2d(c, x, w, NULL, a);
		if (bwd && y)
			sup_backward_grad(c, y, dy);
		double t1 = bench_wall_ms();
		if (sup_ctx_status(c) != SUP_OK) {
			fprintf(stderr, "conv_w1: %s\n", sup_ctx_error(c));
			return -1;
		}
		/* x's gradient is pooled and dies at reset (w's is its own block): give it back first */
		sup_grad_release(c, x);
		sup_ctx_reset(c);
		if (i >= WARMUP)
			t[i - WARMUP] = (t1 - t0) * 1e-3;
	}
	bench_sort(t, repeats);
	return t[repeats / 2];
}

int main(int argc, char **argv)
{
	bool json = false;
	int repeats = 10;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
			repeats = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: conv_w1 [--json] [--repeats N]\n");
			return 2;
		}
	}
	if (repeats < 1 || repeats > MAX_REPEATS) {
		fprintf(stderr, "conv_w1: --repeats must be in [1, %d]\n", MAX_REPEATS);
		return 2;
	}
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 1);
	c.backend = SUP_BACKEND_CPU;
	struct sup_rng r = sup_rng_make(2024, 1);
	const int threads = omp_get_max_threads();
	if (!json)
		printf("W1 convolutions, batch %d, f32, %d threads, median of %d\n%-6s %-22s %10s %8s %12s %8s\n", BATCH,
		       threads, repeats, "layer", "x -> y", "fwd ms", "GFLOP/s", "fwd+bwd ms", "GFLOP/s");
	int status = 0;
	for (size_t l = 0; l < sizeof LAYERS / sizeof LAYERS[0] && !status; l++) {
		const struct layer *L = &LAYERS[l];
		const int64_t oh = (L->h + 2 - 3) / L->stride + 1;
		const int64_t xs[4] = { BATCH, L->cin, L->h, L->h }, ws[4] = { L->cout, L->cin, 3, 3 };
		const int64_t nx = BATCH * L->cin * L->h * L->h, nw = L->cout * L->cin * 9, ny = BATCH * L->cout * oh * oh;
		float *xd = rand_buf(&r, nx, 1.0f), *wd = rand_buf(&r, nw, 0.1f), *dy = rand_buf(&r, ny, 1.0f);
		float *wg = calloc((size_t)nw, sizeof(float));
		if (!xd || !wd || !dy || !wg) {
			fprintf(stderr, "conv_w1: out of memory\n");
			status = 1;
		}
		struct sup_tensor x, w;
		sup_tensor_init(&x, SUP_F32, 4, xs, xd);
		sup_tensor_init(&w, SUP_F32, 4, ws, wd);
		x.requires_grad = L->input_grad;
		w.requires_grad = true;
		w.grad = wg;
		const struct sup_conv2d_args a = { .stride = { (int)L->stride, (int)L->stride }, .padding = { 1, 1 } };
		double tf = status ? -1 : time_layer(&c, &x, &w, dy, &a, false, repeats);
		double tb = tf < 0 ? -1 : time_layer(&c, &x, &w, dy, &a, true, repeats);
		if (tf < 0 || tb < 0) {
			status = 1;
		} else {
			const double flop = 2.0 * (double)ny * (double)(L->cin * 9);
			const double flop_b = flop * (L->input_grad ? 3.0 : 2.0);
			char shape[64];
			snprintf(shape, sizeof shape, "%lldx%lld^2->%lldx%lld^2", (long long)L->cin, (long long)L->h,
				 (long long)L->cout, (long long)oh);
			if (json)
				printf("{\"bench\":\"conv_w1\",\"layer\":\"%s\",\"shape\":\"%s\",\"batch\":%d,\"threads\":%d,"
				       "\"repeats\":%d,\"fwd_ms\":%.3f,\"fwd_gflops\":%.2f,\"fwdbwd_ms\":%.3f,"
				       "\"fwdbwd_gflops\":%.2f}\n",
				       L->name, shape, BATCH, threads, repeats, tf * 1e3, flop / tf * 1e-9, tb * 1e3,
				       flop_b / tb * 1e-9);
			else
				printf("%-6s %-22s %10.2f %8.1f %12.2f %8.1f\n", L->name, shape, tf * 1e3, flop / tf * 1e-9,
				       tb * 1e3, flop_b / tb * 1e-9);
		}
		free(xd), free(wd), free(dy), free(wg);
	}
	sup_ctx_deinit(&c);
	return status;
}
