/* Fast (im2col + GEMM) convolution kernels against the reference loops, on odd sizes, every
 * pass (forward with and without accumulation and bias, input gradient, weight gradient, bias
 * gradient), several thread counts; the oneDNN passes (when built with oneDNN) against the
 * same references, storing and accumulating, where each pass in each mode must run on oneDNN
 * at least once and all 8 passes of every fixed geometry must (no silent fallback to im2col);
 * the oneDNN primitive cache (thread-count key, LRU eviction); pooling kernels against the
 * reference; and the ops on the CPU backend against the reference backend with non-contiguous
 * inputs.
 *
 * The fast f32 result is compared with the f64 reference on the same values; the tolerance is
 * relative to the same pass run on |inputs| (the sum of |terms| of each element), so it scales
 * with the length of every dot product and stays tight where values are small. */
#include "kernels/conv.h"
#include "kernels/pool.h"
#include "testutil.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-5

struct bufs {
	size_t n;
	float *f;     /* f32 values */
	double *d;    /* the same values in f64 */
	double *abs;  /* |values| */
};

static struct bufs mk(struct sup_rng *r, size_t n)
{
	struct bufs b = { n, malloc(sizeof(float) * (n + 1)), malloc(sizeof(double) * (n + 1)),
			  malloc(sizeof(double) * (n + 1)) };
	for (size_t i = 0; i < n; i++) {
		b.f[i] = 2.0f * sup_rng_uniform(r) - 1.0f;
		b.d[i] = b.f[i];
		b.abs[i] = fabs(b.d[i]);
	}
	return b;
}

static void drop(struct bufs *b)
{
	free(b->f);
	free(b->d);
	free(b->abs);
}

/* Max over elements of |got - want| / (TOL * (bound + 1e-3)); <= 1 passes. */
static double worst(const float *got, const double *want, const double *bound, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)got[i] - want[i]) / (TOL * (bound[i] + 1e-3));
		if (!(e <= m))
			m = isnan(e) ? INFINITY : e;
	}
	return m;
}

static const char *gstr(const struct sup_conv_geom *g)
{
	static char buf[200]; /* test diagnostics only */
	snprintf(buf, sizeof buf, "N%lld C%lld %lldx%lld K%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld G%lld",
		 (long long)g->N, (long long)g->C, (long long)g->H, (long long)g->W, (long long)g->K, (long long)g->KH,
		 (long long)g->KW, (long long)g->sh, (long long)g->sw, (long long)g->ph, (long long)g->pw,
		 (long long)g->dh, (long long)g->dw, (long long)g->G);
	return buf;
}

static float *scratch(const struct sup_conv_geom *g, enum sup_conv_pass pass, struct sup_conv_plan *p)
{
	sup_cpu_conv2d_plan(p, g, pass);
	return malloc(sizeof(float) * (p->floats + 1));
}

/* oneDNN passes that ran, by pass and mode (0 store, 1 accumulate); forward counts the runs
 * with and without bias. */
struct dnnl_tally {
	int runs[3][2];
	int total;
};

/* One geometry's data: inputs, initial values the accumulating passes add to, and results. */
struct kcase {
	const struct sup_conv_geom *g;
	size_t nx, ny, nw, nk;
	struct bufs x, w, b, dy, y0, dx0, dw0, db0;
	double *want, *bound;
	float *got, *again;
	struct sup_dnnl_conv *dnnl; /* NULL without oneDNN */
	struct dnnl_tally *tally;   /* passes that ran on oneDNN */
};

static void check_fwd(const struct kcase *k)
{
	const struct sup_conv_geom *g = k->g;
	const size_t nx = k->nx, ny = k->ny, nw = k->nw, nk = k->nk;
	const struct bufs x = k->x, w = k->w, b = k->b, dy = k->dy, y0 = k->y0, dx0 = k->dx0, dw0 = k->dw0, db0 = k->db0;
	double *want = k->want, *bound = k->bound;
	float *got = k->got, *again = k->again;
	struct sup_conv_plan p;
	float *work;
	(void)nx, (void)nw, (void)nk, (void)dy, (void)dx0, (void)dw0, (void)db0;
	/* forward, accumulating onto y0, with bias */
	memcpy(want, y0.d, sizeof(double) * ny);
	memcpy(bound, y0.abs, sizeof(double) * ny);
	sup_ref_conv2d_fwd_f64(want, x.d, w.d, b.d, g, true);
	sup_ref_conv2d_fwd_f64(bound, x.abs, w.abs, b.abs, g, true);
	memcpy(got, y0.f, sizeof(float) * ny);
	work = scratch(g, SUP_CONV_FWD, &p);
	sup_cpu_conv2d_fwd_f32(got, x.f, w.f, b.f, g, true, &p, work);
	TU_CHECK_MSG(worst(got, want, bound, ny) <= 1, "fwd+=: %s threads %d: err %g", gstr(g), p.nthreads,
		     worst(got, want, bound, ny));
	/* forward, overwriting, no bias; twice for bitwise reproducibility */
	sup_ref_conv2d_fwd_f64(want, x.d, w.d, NULL, g, false);
	sup_ref_conv2d_fwd_f64(bound, x.abs, w.abs, NULL, g, false);
	memset(got, 0xff, sizeof(float) * ny); /* NaN garbage: must be overwritten */
	sup_cpu_conv2d_fwd_f32(got, x.f, w.f, NULL, g, false, &p, work);
	sup_cpu_conv2d_fwd_f32(again, x.f, w.f, NULL, g, false, &p, work);
	TU_CHECK_MSG(worst(got, want, bound, ny) <= 1, "fwd=: %s: err %g", gstr(g), worst(got, want, bound, ny));
	TU_CHECK_MSG(memcmp(got, again, sizeof(float) * ny) == 0, "fwd not reproducible: %s", gstr(g));
	/* the f32 reference kernel meets the same bound */
	sup_ref_conv2d_fwd_f32(got, x.f, w.f, NULL, g, false);
	TU_CHECK_MSG(worst(got, want, bound, ny) <= 1, "ref f32 fwd: %s", gstr(g));
	free(work);

}

static void check_bwd(const struct kcase *k)
{
	const struct sup_conv_geom *g = k->g;
	const size_t nx = k->nx, ny = k->ny, nw = k->nw, nk = k->nk;
	const struct bufs x = k->x, w = k->w, b = k->b, dy = k->dy, y0 = k->y0, dx0 = k->dx0, dw0 = k->dw0, db0 = k->db0;
	double *want = k->want, *bound = k->bound;
	float *got = k->got, *again = k->again;
	struct sup_conv_plan p;
	float *work;
	(void)ny, (void)y0, (void)b;
	/* input gradient, accumulating onto dx0 */
	memcpy(want, dx0.d, sizeof(double) * nx);
	memcpy(bound, dx0.abs, sizeof(double) * nx);
	sup_ref_conv2d_bwd_data_f64(want, dy.d, w.d, g);
	sup_ref_conv2d_bwd_data_f64(bound, dy.abs, w.abs, g);
	memcpy(got, dx0.f, sizeof(float) * nx);
	work = scratch(g, SUP_CONV_BWD_DATA, &p);
	sup_cpu_conv2d_bwd_data_f32(got, dy.f, w.f, g, &p, work);
	TU_CHECK_MSG(worst(got, want, bound, nx) <= 1, "bwd_data: %s threads %d: err %g", gstr(g), p.nthreads,
		     worst(got, want, bound, nx));
	memcpy(got, dx0.f, sizeof(float) * nx);
	sup_ref_conv2d_bwd_data_f32(got, dy.f, w.f, g);
	TU_CHECK_MSG(worst(got, want, bound, nx) <= 1, "ref f32 bwd_data: %s", gstr(g));
	free(work);

	/* weight gradient, accumulating onto dw0; twice for reproducibility */
	memcpy(want, dw0.d, sizeof(double) * nw);
	memcpy(bound, dw0.abs, sizeof(double) * nw);
	sup_ref_conv2d_bwd_weight_f64(want, x.d, dy.d, g);
	sup_ref_conv2d_bwd_weight_f64(bound, x.abs, dy.abs, g);
	memcpy(got, dw0.f, sizeof(float) * nw);
	memcpy(again, dw0.f, sizeof(float) * nw);
	work = scratch(g, SUP_CONV_BWD_WEIGHT, &p);
	sup_cpu_conv2d_bwd_weight_f32(got, x.f, dy.f, g, &p, work);
	sup_cpu_conv2d_bwd_weight_f32(again, x.f, dy.f, g, &p, work);
	TU_CHECK_MSG(worst(got, want, bound, nw) <= 1, "bwd_weight: %s threads %d: err %g", gstr(g), p.nthreads,
		     worst(got, want, bound, nw));
	TU_CHECK_MSG(memcmp(got, again, sizeof(float) * nw) == 0, "bwd_weight not reproducible: %s", gstr(g));
	memcpy(got, dw0.f, sizeof(float) * nw);
	sup_ref_conv2d_bwd_weight_f32(got, x.f, dy.f, g);
	TU_CHECK_MSG(worst(got, want, bound, nw) <= 1, "ref f32 bwd_weight: %s", gstr(g));
	free(work);

	/* bias gradient */
	const int64_t P = g->OH * g->OW;
	memcpy(want, db0.d, sizeof(double) * nk);
	memcpy(bound, db0.abs, sizeof(double) * nk);
	sup_ref_channel_sum_f64(want, dy.d, g->N, g->K, P);
	sup_ref_channel_sum_f64(bound, dy.abs, g->N, g->K, P);
	memcpy(got, db0.f, sizeof(float) * nk);
	sup_cpu_channel_sum_f32(got, dy.f, g->N, g->K, P);
	TU_CHECK_MSG(worst(got, want, bound, nk) <= 1, "channel_sum: %s", gstr(g));

}

/* Runs one oneDNN pass (store or accumulate onto `init`) into got and compares with want;
 * does nothing and returns false when oneDNN declines the geometry. */
static bool dnnl_pass(const struct kcase *k, enum sup_conv_pass pass, bool acc, const float *bias, const float *init,
		      size_t n, const float *in0, const float *in1, const char *what)
{
	size_t bytes = 0;
	const struct sup_dnnl_conv_entry *e = sup_dnnl_conv_prepare(k->dnnl, k->g, pass, bias != NULL, acc, &bytes);
	if (!e)
		return false;
	void *work = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
	if (acc)
		memcpy(k->got, init, sizeof(float) * n);
	else
		memset(k->got, 0xff, sizeof(float) * n); /* NaN garbage: must be overwritten */
	TU_CHECK(work && sup_dnnl_conv_run(k->dnnl, e, k->got, in0, in1, bias, work));
	TU_CHECK_MSG(worst(k->got, k->want, k->bound, n) <= 1, "dnnl %s%s: %s: err %g", what, acc ? " +=" : "",
		     gstr(k->g), worst(k->got, k->want, k->bound, n));
	k->tally->runs[pass][acc]++;
	k->tally->total++;
	free(work);
	return true;
}

/* The oneDNN passes against the f64 reference, each storing and accumulating; returns how many
 * of the 8 (forward with and without bias, backward data, backward weights; = and +=) ran. */
static int check_dnnl(const struct kcase *k)
{
	const struct sup_conv_geom *g = k->g;
	int ran = 0;
	if (!k->dnnl)
		return 0;
	for (int acc = 0; acc < 2; acc++) {
		/* forward with bias */
		memcpy(k->want, k->y0.d, sizeof(double) * k->ny);
		memcpy(k->bound, k->y0.abs, sizeof(double) * k->ny);
		sup_ref_conv2d_fwd_f64(k->want, k->x.d, k->w.d, k->b.d, g, acc);
		sup_ref_conv2d_fwd_f64(k->bound, k->x.abs, k->w.abs, k->b.abs, g, acc);
		ran += dnnl_pass(k, SUP_CONV_FWD, acc, k->b.f, k->y0.f, k->ny, k->x.f, k->w.f, "fwd");
		/* forward without bias */
		memcpy(k->want, k->y0.d, sizeof(double) * k->ny);
		memcpy(k->bound, k->y0.abs, sizeof(double) * k->ny);
		sup_ref_conv2d_fwd_f64(k->want, k->x.d, k->w.d, NULL, g, acc);
		sup_ref_conv2d_fwd_f64(k->bound, k->x.abs, k->w.abs, NULL, g, acc);
		ran += dnnl_pass(k, SUP_CONV_FWD, acc, NULL, k->y0.f, k->ny, k->x.f, k->w.f, "fwd no bias");
		/* input gradient */
		for (size_t i = 0; i < k->nx; i++) {
			k->want[i] = acc ? k->dx0.d[i] : 0.0;
			k->bound[i] = acc ? k->dx0.abs[i] : 0.0;
		}
		sup_ref_conv2d_bwd_data_f64(k->want, k->dy.d, k->w.d, g);
		sup_ref_conv2d_bwd_data_f64(k->bound, k->dy.abs, k->w.abs, g);
		ran += dnnl_pass(k, SUP_CONV_BWD_DATA, acc, NULL, k->dx0.f, k->nx, k->dy.f, k->w.f, "bwd_data");
		/* weight gradient */
		for (size_t i = 0; i < k->nw; i++) {
			k->want[i] = acc ? k->dw0.d[i] : 0.0;
			k->bound[i] = acc ? k->dw0.abs[i] : 0.0;
		}
		sup_ref_conv2d_bwd_weight_f64(k->want, k->x.d, k->dy.d, g);
		sup_ref_conv2d_bwd_weight_f64(k->bound, k->x.abs, k->dy.abs, g);
		ran += dnnl_pass(k, SUP_CONV_BWD_WEIGHT, acc, NULL, k->dw0.f, k->nw, k->x.f, k->dy.f, "bwd_weight");
	}
	return ran;
}

/* Every pass of one geometry at the current OpenMP thread count; returns how many of the 8
 * oneDNN passes ran (0 without oneDNN). */
static int check_geom(const struct sup_conv_geom *g, struct sup_rng *r, struct sup_dnnl_conv *dnnl,
		      struct dnnl_tally *tally)
{
	struct kcase k = { .g = g,
			   .nx = (size_t)(g->N * g->C * g->H * g->W),
			   .ny = (size_t)(g->N * g->K * g->OH * g->OW),
			   .nw = (size_t)(g->K * (g->C / g->G) * g->KH * g->KW),
			   .nk = (size_t)g->K,
			   .dnnl = dnnl,
			   .tally = tally };
	k.x = mk(r, k.nx), k.w = mk(r, k.nw), k.b = mk(r, k.nk), k.dy = mk(r, k.ny), k.y0 = mk(r, k.ny);
	k.dx0 = mk(r, k.nx), k.dw0 = mk(r, k.nw), k.db0 = mk(r, k.nk);
	const size_t n = k.ny + k.nx + k.nw + k.nk + 1;
	k.want = malloc(sizeof(double) * n), k.bound = malloc(sizeof(double) * n);
	k.got = malloc(sizeof(float) * n), k.again = malloc(sizeof(float) * n);
	check_fwd(&k);
	check_bwd(&k);
	const int ran = check_dnnl(&k);
	free(k.want), free(k.bound), free(k.got), free(k.again);
	drop(&k.x), drop(&k.w), drop(&k.b), drop(&k.dy), drop(&k.y0), drop(&k.dx0), drop(&k.dw0), drop(&k.db0);
	return ran;
}

/* Fills the output size; false when the kernel does not fit the padded input. */
static bool finish_geom(struct sup_conv_geom *g)
{
	const int64_t ekh = (g->KH - 1) * g->dh + 1, ekw = (g->KW - 1) * g->dw + 1;
	if (ekh > g->H + 2 * g->ph || ekw > g->W + 2 * g->pw)
		return false;
	g->OH = (g->H + 2 * g->ph - ekh) / g->sh + 1;
	g->OW = (g->W + 2 * g->pw - ekw) / g->sw + 1;
	return true;
}

static int64_t pick(struct sup_rng *r, const int64_t *v, int n)
{
	return v[sup_rng_below(r, (uint64_t)n)];
}

/* Geometries from the odd-size grid (N, C, H, W in {1, 7, 33}; kernel 1/3/5; stride 1/2;
 * padding; dilation; groups), random but fixed, under a cost cap for the reference loops; plus
 * fixed ones that hit specific paths (1x1 direct, multi-chunk, W1-like, depthwise). */
static void test_conv_kernels(void)
{
	/* Each fixed geometry names a path; with oneDNN, all 8 of its passes must run there (the
	 * edge cases below are ones conv_params handles: a declined one would silently test only
	 * im2col). */
	static const struct {
		struct sup_conv_geom g;
		const char *name;
	} fixed[] = {
		/* N C H W K OH OW KH KW sh sw ph pw dh dw G */
		{ { 33, 7, 7, 33, 7, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1 }, "1x1 stride 1: no im2col" },
		{ { 7, 33, 7, 7, 33, 0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 3 }, "1x1 stride 2, groups 3" },
		{ { 33, 7, 33, 33, 7, 0, 0, 5, 5, 2, 2, 2, 2, 1, 1, 7 }, "depthwise" },
		{ { 7, 33, 33, 33, 2, 0, 0, 5, 5, 1, 1, 2, 2, 1, 1, 1 }, "col over budget: 1 image a chunk" },
		{ { 33, 16, 7, 7, 32, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1 }, "deep W1-like layer: packed chunks" },
		{ { 7, 1, 33, 33, 5, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1 }, "W1 first layer shape" },
		{ { 1, 7, 33, 7, 2, 0, 0, 3, 5, 2, 1, 1, 2, 2, 1, 1 }, "N = 1, asymmetric" },
		{ { 7, 6, 9, 11, 4, 0, 0, 3, 3, 2, 3, 0, 4, 2, 2, 2 }, "padding wider than a side" },
		{ { 5, 16, 8, 10, 8, 0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 1 }, "1x1 stride 2, even: last row unused" },
		{ { 3, 17, 9, 8, 5, 0, 0, 3, 3, 2, 3, 1, 0, 1, 1, 1 }, "3x3, the last rows/cols unused" },
	};
	const int threads[] = { 1, 2, 3 };
	struct sup_rng r = sup_rng_make(77, 3);
	struct dnnl_tally tally = { { { 0 } }, 0 };
	const int max_t = omp_get_max_threads();
	for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
		/* A fresh cache per thread count: the primitives of each count are made at that count
		 * (the cache keys on it too, but this way every count builds its own). */
		struct sup_dnnl_conv *dnnl = sup_dnnl_conv_new(sup_allocator_default());
		omp_set_num_threads(threads[t]);
		for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
			struct sup_conv_geom g = fixed[i].g;
			TU_CHECK(finish_geom(&g));
			const int ran = check_geom(&g, &r, dnnl, &tally);
#ifdef SELFSUP_HAVE_DNNL
			TU_CHECK_MSG(ran == 8, "oneDNN ran %d of 8 passes of \"%s\" (%s), threads %d", ran, fixed[i].name,
				     gstr(&g), threads[t]);
#else
			(void)ran;
#endif
		}
		sup_dnnl_conv_free(dnnl);
	}
	omp_set_num_threads(2);
	struct sup_dnnl_conv *dnnl = sup_dnnl_conv_new(sup_allocator_default());
	static const int64_t sizes[] = { 1, 7, 33 }, ks[] = { 1, 3, 5 }, strides[] = { 1, 2 }, pads[] = { 0, 1, 2 },
			     dils[] = { 1, 2 }, kg[] = { 1, 2, 5 };
	int accepted = 0;
	for (int tries = 0; accepted < 60 && tries < 5000; tries++) {
		struct sup_conv_geom g = { 0 };
		g.N = pick(&r, sizes, 3), g.C = pick(&r, sizes, 3), g.H = pick(&r, sizes, 3), g.W = pick(&r, sizes, 3);
		g.KH = pick(&r, ks, 3), g.KW = pick(&r, ks, 3);
		g.sh = pick(&r, strides, 2), g.sw = pick(&r, strides, 2);
		g.ph = pick(&r, pads, 3), g.pw = pick(&r, pads, 3);
		g.dh = pick(&r, dils, 2), g.dw = pick(&r, dils, 2);
		const int64_t gs[] = { 1, 1, g.C };
		g.G = pick(&r, gs, 3);
		g.K = g.G * pick(&r, kg, 3);
		if (!finish_geom(&g))
			continue;
		if (g.N * g.K * g.OH * g.OW * (g.C / g.G) * g.KH * g.KW > 4000000)
			continue;
		check_geom(&g, &r, dnnl, &tally);
		accepted++;
	}
	TU_CHECK(accepted == 60);
	static const char *pass_names[3] = { "fwd", "bwd_data", "bwd_weight" };
#ifdef SELFSUP_HAVE_DNNL
	/* Built with oneDNN: every pass must have run there, storing and accumulating (a pass that
	 * always fell back to im2col would leave its oneDNN path untested). */
	TU_CHECK_MSG(dnnl != NULL, "oneDNN did not start");
	for (int p = 0; p < 3; p++)
		for (int acc = 0; acc < 2; acc++)
			TU_CHECK_MSG(tally.runs[p][acc] > 0, "oneDNN never ran %s %s", pass_names[p], acc ? "+=" : "=");
#endif
	printf("oneDNN convolution passes checked: %d (", tally.total);
	for (int p = 0; p < 3; p++)
		printf("%s%s = %d, += %d", p ? "; " : "", pass_names[p], tally.runs[p][0], tally.runs[p][1]);
	printf(")\n");
	sup_dnnl_conv_free(dnnl);
	omp_set_num_threads(max_t);
}

/* The primitive cache: keyed on the thread count, bounded, least recently used evicted. */
static void test_dnnl_cache(void)
{
	struct sup_dnnl_conv *dc = sup_dnnl_conv_new(sup_allocator_default());
#ifdef SELFSUP_HAVE_DNNL
	TU_CHECK_MSG(dc != NULL, "oneDNN did not start");
#endif
	if (!dc)
		return;
	const int max_t = omp_get_max_threads();
	struct sup_rng r = sup_rng_make(78, 3);
	struct sup_conv_geom gs[4];
	for (int i = 0; i < 4; i++) {
		gs[i] = (struct sup_conv_geom){ 2, 16, 9 + i, 8, 8, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1 };
		TU_CHECK(finish_geom(&gs[i]));
	}
	int entries = 0;
	uint64_t builds = 0;
	size_t bytes;
	/* the thread count is part of the key */
	omp_set_num_threads(1);
	TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[0], SUP_CONV_FWD, false, false, &bytes) != NULL);
	TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[0], SUP_CONV_FWD, false, false, &bytes) != NULL);
	sup_dnnl_conv_stats(dc, &entries, &builds);
	TU_CHECK_MSG(entries == 1 && builds == 1, "entries %d builds %d", entries, (int)builds);
	omp_set_num_threads(2);
	TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[0], SUP_CONV_FWD, false, false, &bytes) != NULL);
	sup_dnnl_conv_stats(dc, &entries, &builds);
	TU_CHECK_MSG(entries == 2 && builds == 2, "a new thread count reused a primitive: entries %d builds %d",
		     entries, (int)builds);
	/* limit 3: A B C cached, A touched, D evicts B (the least recently used), A and C still hit */
	sup_dnnl_conv_set_limit(dc, 3);
	for (int i = 0; i < 3; i++)
		TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[i], SUP_CONV_BWD_WEIGHT, false, true, &bytes) != NULL);
	sup_dnnl_conv_stats(dc, &entries, &builds);
	TU_CHECK_MSG(entries == 3 && builds == 5, "entries %d builds %d", entries, (int)builds);
	TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[0], SUP_CONV_BWD_WEIGHT, false, true, &bytes) != NULL);
	TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[3], SUP_CONV_BWD_WEIGHT, false, true, &bytes) != NULL);
	TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[0], SUP_CONV_BWD_WEIGHT, false, true, &bytes) != NULL);
	TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[2], SUP_CONV_BWD_WEIGHT, false, true, &bytes) != NULL);
	sup_dnnl_conv_stats(dc, &entries, &builds);
	TU_CHECK_MSG(entries == 3 && builds == 6, "LRU: entries %d builds %d", entries, (int)builds);
	TU_CHECK(sup_dnnl_conv_prepare(dc, &gs[1], SUP_CONV_BWD_WEIGHT, false, true, &bytes) != NULL);
	sup_dnnl_conv_stats(dc, &entries, &builds);
	TU_CHECK_MSG(entries == 3 && builds == 7, "B was not the one evicted: entries %d builds %d", entries,
		     (int)builds);
	/* every pass of a few geometries through a cache of 2: entries are evicted and rebuilt all
	 * the time, and every run must still match the reference */
	sup_dnnl_conv_set_limit(dc, 2);
	sup_dnnl_conv_stats(dc, &entries, &builds);
	TU_CHECK(entries == 2);
	struct dnnl_tally tally = { { { 0 } }, 0 };
	for (int i = 0; i < 4; i++)
		TU_CHECK(check_geom(&gs[i], &r, dc, &tally) == 8);
	sup_dnnl_conv_stats(dc, &entries, &builds);
	TU_CHECK_MSG(entries == 2 && tally.total == 4 * 8, "limit 2: entries %d runs %d", entries, tally.total);
	sup_dnnl_conv_free(dc);
	omp_set_num_threads(max_t);
}

/* Pool kernels: the CPU versions run the reference per block of planes, so they must agree
 * bitwise, for a thread count that splits the planes unevenly. */
static void test_pool_kernels(void)
{
	struct sup_rng r = sup_rng_make(9, 9);
	const int max_t = omp_get_max_threads();
	omp_set_num_threads(3);
	static const struct sup_pool_geom gs[] = {
		/* NC H W OH OW KH KW sh sw ph pw */
		{ 7 * 33, 33, 7, 0, 0, 3, 3, 2, 2, 1, 1 },
		{ 33 * 33, 7, 33, 0, 0, 2, 5, 1, 3, 1, 2 },
		{ 1, 33, 33, 0, 0, 5, 5, 2, 2, 2, 2 },
	};
	for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
		struct sup_pool_geom g = gs[i];
		g.OH = (g.H + 2 * g.ph - g.KH) / g.sh + 1;
		g.OW = (g.W + 2 * g.pw - g.KW) / g.sw + 1;
		const size_t nx = (size_t)(g.NC * g.H * g.W), ny = (size_t)(g.NC * g.OH * g.OW);
		struct bufs x = mk(&r, nx), dy = mk(&r, ny);
		float *a = calloc(nx + ny, sizeof(float)), *b = calloc(nx + ny, sizeof(float));
		int32_t *ia = calloc(ny, sizeof(int32_t)), *ib = calloc(ny, sizeof(int32_t));
		sup_ref_max_pool2d_fwd_f32(a, ia, x.f, &g);
		sup_cpu_max_pool2d_fwd_f32(b, ib, x.f, &g);
		TU_CHECK(memcmp(a, b, ny * 4) == 0 && memcmp(ia, ib, ny * 4) == 0);
		sup_ref_max_pool2d_bwd_f32(a, dy.f, ia, &g);
		sup_cpu_max_pool2d_bwd_f32(b, dy.f, ib, &g);
		TU_CHECK(memcmp(a, b, nx * 4) == 0);
		sup_ref_avg_pool2d_fwd_f32(a, x.f, &g);
		sup_cpu_avg_pool2d_fwd_f32(b, x.f, &g);
		TU_CHECK(memcmp(a, b, ny * 4) == 0);
		sup_ref_avg_pool2d_bwd_f32(a, dy.f, &g);
		sup_cpu_avg_pool2d_bwd_f32(b, dy.f, &g);
		TU_CHECK(memcmp(a, b, nx * 4) == 0);
		/* adaptive to a size that gives overlapping windows, and upsampling by (2, 3) */
		struct sup_pool_geom ad = g;
		ad.OH = g.H > 2 ? g.H - 2 : 1, ad.OW = 5;
		sup_ref_adaptive_avg_pool2d_fwd_f32(a, x.f, &ad);
		sup_cpu_adaptive_avg_pool2d_fwd_f32(b, x.f, &ad);
		TU_CHECK(memcmp(a, b, (size_t)(ad.NC * ad.OH * ad.OW) * 4) == 0);
		memset(a, 0, nx * 4), memset(b, 0, nx * 4);
		struct bufs dya = mk(&r, (size_t)(ad.NC * ad.OH * ad.OW));
		sup_ref_adaptive_avg_pool2d_bwd_f32(a, dya.f, &ad);
		sup_cpu_adaptive_avg_pool2d_bwd_f32(b, dya.f, &ad);
		TU_CHECK(memcmp(a, b, nx * 4) == 0);
		drop(&dya);
		free(a), free(b);
		struct sup_pool_geom up = g;
		up.sh = 2, up.sw = 3, up.OH = 2 * g.H, up.OW = 3 * g.W;
		a = calloc(nx * 6, sizeof(float)), b = calloc(nx * 6, sizeof(float));
		sup_ref_upsample_nearest2d_fwd_f32(a, x.f, &up);
		sup_cpu_upsample_nearest2d_fwd_f32(b, x.f, &up);
		TU_CHECK(memcmp(a, b, nx * 6 * 4) == 0);
		memset(a, 0, nx * 4), memset(b, 0, nx * 4);
		struct bufs dyu = mk(&r, nx * 6);
		sup_ref_upsample_nearest2d_bwd_f32(a, dyu.f, &up);
		sup_cpu_upsample_nearest2d_bwd_f32(b, dyu.f, &up);
		TU_CHECK(memcmp(a, b, nx * 4) == 0);
		drop(&dyu);
		free(a), free(b), free(ia), free(ib);
		drop(&x), drop(&dy);
	}
	omp_set_num_threads(max_t);
}

/* ---- ops: CPU backend (f32) against the reference backend (f64), non-contiguous inputs ------- */

struct op_result {
	int64_t n[8];
	double *v[8]; /* outputs, then gradients of the leaves */
};

static void keep(struct op_result *res, int slot, const struct sup_tensor *t, bool grad)
{
	if (!t)
		return;
	int64_t n = sup_tensor_numel(t);
	res->n[slot] = n;
	res->v[slot] = malloc(sizeof(double) * (size_t)(n + 1));
	for (int64_t i = 0; i < n; i++)
		res->v[slot][i] = grad ? sup_tensor_grad_get(t, i) : sup_tensor_get(t, i);
}

/* A leaf with the values of an f32 random draw (identical in both dtypes). */
static struct sup_tensor *leaf(struct sup_ctx *c, struct sup_rng *r, enum sup_dtype dt, int nd, const int64_t *shape)
{
	struct sup_tensor *t = tu_rand(c, r, SUP_F32, nd, shape, -1, 1);
	if (t && dt != SUP_F32)
		t = sup_tensor_to(c, t, dt);
	if (t)
		t->requires_grad = true;
	return t;
}

static void backward_random(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor *y)
{
	if (!y)
		return;
	struct sup_tensor *g = leaf(c, r, y->dtype, y->ndim, y->shape);
	if (g)
		sup_backward_grad(c, y, g->data);
}

static void run_ops(enum sup_backend be, enum sup_dtype dt, struct op_result *res)
{
	struct sup_ctx c;
	tu_ctx(&c, 5);
	c.backend = be;
	struct sup_rng r = sup_rng_make(11, 4);
	/* conv2d on a transposed + strided view: [2, 9, 5, 33] -> [2, 33, 5, 9] -> [2, 33, 5, 5]. */
	struct sup_tensor *xb = leaf(&c, &r, dt, TU_SHAPE(2, 9, 5, 33));
	struct sup_tensor *w = leaf(&c, &r, dt, TU_SHAPE(9, 11, 3, 3));
	struct sup_tensor *b = leaf(&c, &r, dt, TU_SHAPE(9));
	struct sup_tensor *xv = sup_slice(&c, sup_transpose(&c, xb, 1, 3), 3, 0, 9, 2);
	struct sup_conv2d_args a = { .padding = { 1, 1 }, .groups = 3 };
	struct sup_tensor *y = sup_conv2d(&c, xv, w, b, &a);
	backward_random(&c, &r, y);
	keep(res, 0, y, false), keep(res, 1, xb, true), keep(res, 2, w, true), keep(res, 3, b, true);
	/* conv_transpose2d on a channel-strided view: [2, 33, 6, 7] -> [2, 11, 6, 7]. */
	struct sup_tensor *tb = leaf(&c, &r, dt, TU_SHAPE(2, 33, 6, 7));
	struct sup_tensor *tw = leaf(&c, &r, dt, TU_SHAPE(11, 4, 3, 3));
	struct sup_tensor *tbias = leaf(&c, &r, dt, TU_SHAPE(4));
	struct sup_conv2d_args ta = { .stride = { 2, 2 }, .padding = { 1, 1 }, .output_padding = { 1, 0 } };
	struct sup_tensor *ty = sup_conv_transpose2d(&c, sup_slice(&c, tb, 1, 0, 33, 3), tw, tbias, &ta);
	backward_random(&c, &r, ty);
	keep(res, 4, ty, false), keep(res, 5, tb, true), keep(res, 6, tw, true), keep(res, 7, tbias, true);
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "ops (%s): %s", sup_dtype_name(dt), sup_ctx_error(&c));
	sup_ctx_deinit(&c);
}

static void test_ops_fast_vs_ref(void)
{
	struct op_result fast = { { 0 }, { 0 } }, ref = { { 0 }, { 0 } };
	run_ops(SUP_BACKEND_CPU, SUP_F32, &fast);
	run_ops(SUP_BACKEND_REF, SUP_F64, &ref);
	static const char *what[8] = { "conv y", "conv dx", "conv dw", "conv db", "convT y", "convT dx", "convT dw",
				       "convT db" };
	for (int s = 0; s < 8; s++) {
		TU_CHECK_MSG(fast.v[s] && ref.v[s] && fast.n[s] == ref.n[s], "%s missing", what[s]);
		if (!fast.v[s] || !ref.v[s] || fast.n[s] != ref.n[s])
			continue;
		double scale = 0, err = 0, nonzero = 0;
		for (int64_t i = 0; i < ref.n[s]; i++) {
			scale = fmax(scale, fabs(ref.v[s][i]));
			err = fmax(err, fabs(fast.v[s][i] - ref.v[s][i]));
			nonzero += ref.v[s][i] != 0;
		}
		TU_CHECK_MSG(err <= 1e-5 * (1 + scale) && nonzero > 0, "%s: max err %g (scale %g)", what[s], err, scale);
	}
	for (int s = 0; s < 8; s++)
		free(fast.v[s]), free(ref.v[s]);
}

int main(void)
{
	test_conv_kernels();
	test_dnnl_cache();
	test_pool_kernels();
	test_ops_fast_vs_ref();
	return tu_finish("conv kernels");
}
