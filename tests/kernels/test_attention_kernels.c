/* Fused attention kernels (kernels/attention.h): the CPU f32 kernels and the f32 reference
 * against the f64 reference on the same values, for key lengths S in {1, 7, 8, 17, 33} (below,
 * at, and past the 8-lane sums of cpu/attention.c, with tails of 1 and 7), T != S, with no mask
 * and with each mask broadcast the op supports ([1|B, 1, 1|T, S]), thread counts 1, 2, 3,
 * gradients stored (into NaN-filled buffers: any element read instead of written shows up) or
 * accumulated (per gradient, mixed, and skipped when NULL), and the self-attention case where
 * q, k, v and dq, dk, dv are one buffer each. The CPU results must also be bitwise identical
 * across thread counts (the header's promise), including B * H == 1 with a long T, where a
 * GEMM split over threads would sum dk and dv in a thread-count-dependent order.
 *
 * Tolerance: |got - want| <= TOL * (1 + max |want| of the array), want from the f64 reference;
 * a lost lane or a wrong tail in a row sum moves a probability by ~1e-1. */
#include "kernels/attention.h"
#include "testutil.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define TOL 2e-5

struct geom_case {
	int64_t B, T, S, H, dh;
};

/* f32 values and their f64 copies. */
struct vals {
	size_t n;
	float *f;
	double *d;
};

static struct vals mk(struct sup_rng *r, size_t n, double lo, double hi)
{
	struct vals v = { n, malloc(sizeof(float) * (n + 1)), malloc(sizeof(double) * (n + 1)) };
	for (size_t i = 0; i < n; i++) {
		v.f[i] = (float)(lo + (hi - lo) * sup_rng_uniform(r));
		v.d[i] = v.f[i];
	}
	return v;
}

static void drop(struct vals *v)
{
	free(v->f);
	free(v->d);
}

static float *nans(size_t n)
{
	float *p = malloc(sizeof(float) * (n + 1));
	for (size_t i = 0; i < n; i++)
		p[i] = NAN;
	return p;
}

/* Max |got - want| / (1 + max |want|) in units of TOL; NaN counts as infinitely wrong. */
static double worst(const float *got, const double *want, size_t n)
{
	double scale = 0, m = 0;
	for (size_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(want[i]));
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)got[i] - want[i]) / (TOL * (1 + scale));
		if (!(e <= m))
			m = isnan(e) ? INFINITY : e;
	}
	return m;
}

static double worst_f32(const float *got, const float *want32, size_t n)
{
	double *w = malloc(sizeof(double) * (n + 1));
	for (size_t i = 0; i < n; i++)
		w[i] = want32[i];
	double m = worst(got, w, n);
	free(w);
	return m;
}

/* The mask of one variant: 0 none, 1 [1, 1, 1, S], 2 [1, 1, T, S], 3 [B, 1, 1, S],
 * 4 [B, 1, T, S]. Values in [-2, 2), with about one entry in five masked (-1e9, as nn/ uses),
 * never the first key, so no row is fully masked. */
static struct vals mk_mask(struct sup_rng *r, const struct geom_case *gc, int variant, struct sup_attn_geom *g)
{
	const bool per_b = variant >= 3, per_t = variant == 2 || variant == 4;
	const int64_t Bm = per_b ? gc->B : 1, Tm = per_t ? gc->T : 1;
	g->mask_st = per_t ? gc->S : 0;
	g->mask_sb = per_b ? Tm * gc->S : 0;
	struct vals m = mk(r, (size_t)(Bm * Tm * gc->S), -2, 2);
	for (size_t i = 0; i < m.n; i++)
		if (i % (size_t)gc->S != 0 && sup_rng_below(r, 5) == 0)
			m.f[i] = -1e9f, m.d[i] = -1e9;
	return m;
}

static const char *desc(const struct geom_case *gc, int variant, int threads)
{
	static char buf[160]; /* test diagnostics only */
	snprintf(buf, sizeof buf, "B%lld T%lld S%lld H%lld dh%lld mask%d threads%d", (long long)gc->B, (long long)gc->T,
		 (long long)gc->S, (long long)gc->H, (long long)gc->dh, variant, threads);
	return buf;
}

/* Gradient flags and which gradients are asked for, per backward variant. */
static const struct {
	bool acc[3];
	bool skip_dk;
} bwd_variants[] = {
	{ { false, false, false }, false }, /* store all (fresh buffers) */
	{ { true, true, true }, false },    /* accumulate all */
	{ { true, false, true }, false },   /* mixed */
	{ { false, true, false }, true },   /* dk not wanted (NULL) */
};
#define N_BWD (int)(sizeof bwd_variants / sizeof bwd_variants[0])

/* The CPU results of one (geometry, mask) at one thread count, kept to compare across counts. */
struct results {
	float *out, *probs;
	float *grads[N_BWD][3];
};

static void results_free(struct results *res)
{
	free(res->out), free(res->probs);
	for (int v = 0; v < N_BWD; v++)
		for (int i = 0; i < 3; i++)
			free(res->grads[v][i]);
}

/* One (geometry, mask) at the current thread count: forward and each backward variant. */
static void check_case(const struct geom_case *gc, int variant, int threads, struct sup_rng *r, struct results *res)
{
	const int64_t D = gc->H * gc->dh;
	const size_t nq = (size_t)(gc->B * gc->T * D), nk = (size_t)(gc->B * gc->S * D),
		     np = (size_t)(gc->B * gc->H * gc->T * gc->S);
	struct sup_attn_geom g = { .B = gc->B, .T = gc->T, .S = gc->S, .H = gc->H, .dh = gc->dh,
				   .scale = 1.0 / sqrt((double)gc->dh) };
	struct vals mask = { 0 }, q = mk(r, nq, -1.5, 1.5), k = mk(r, nk, -1.5, 1.5), v = mk(r, nk, -1, 1),
		    dout = mk(r, nq, -1, 1);
	if (variant)
		mask = mk_mask(r, gc, variant, &g);
	const char *what = desc(gc, variant, threads);

	/* forward */
	double *want_out = malloc(sizeof(double) * (nq + 1)), *want_p = malloc(sizeof(double) * (np + 1));
	sup_ref_attention_fwd_f64(want_out, want_p, q.d, k.d, v.d, variant ? mask.d : NULL, &g);
	res->out = nans(nq), res->probs = nans(np);
	sup_cpu_attention_fwd_f32(res->out, res->probs, q.f, k.f, v.f, variant ? mask.f : NULL, &g);
	TU_CHECK_MSG(worst(res->out, want_out, nq) <= 1, "cpu fwd out: %s: err %g", what, worst(res->out, want_out, nq));
	TU_CHECK_MSG(worst(res->probs, want_p, np) <= 1, "cpu fwd P: %s: err %g", what, worst(res->probs, want_p, np));
	float *ref_out = nans(nq), *ref_p = nans(np);
	sup_ref_attention_fwd_f32(ref_out, ref_p, q.f, k.f, v.f, variant ? mask.f : NULL, &g);
	TU_CHECK_MSG(worst(ref_out, want_out, nq) <= 1 && worst(ref_p, want_p, np) <= 1, "ref f32 fwd: %s", what);
	TU_CHECK_MSG(worst_f32(res->out, ref_out, nq) <= 1, "cpu vs ref f32 fwd: %s", what);

	/* backward: initial gradients (used when accumulating), then each variant */
	struct vals init[3] = { mk(r, nq, -1, 1), mk(r, nk, -1, 1), mk(r, nk, -1, 1) };
	const size_t n[3] = { nq, nk, nk };
	const size_t nwork = sup_cpu_attention_bwd_work(&g);
	float *work = malloc(sizeof(float) * (nwork + 1)), *rwork = malloc(sizeof(float) * (np + 1));
	double *dwork = malloc(sizeof(double) * (np + 1));
	for (int bv = 0; bv < N_BWD; bv++) {
		const bool *acc = bwd_variants[bv].acc;
		double *want[3];
		float *ref[3];
		for (int i = 0; i < 3; i++) {
			want[i] = malloc(sizeof(double) * (n[i] + 1));
			ref[i] = acc[i] ? malloc(sizeof(float) * (n[i] + 1)) : nans(n[i]);
			res->grads[bv][i] = acc[i] ? malloc(sizeof(float) * (n[i] + 1)) : nans(n[i]);
			if (acc[i]) {
				memcpy(want[i], init[i].d, sizeof(double) * n[i]);
				memcpy(ref[i], init[i].f, sizeof(float) * n[i]);
				memcpy(res->grads[bv][i], init[i].f, sizeof(float) * n[i]);
			}
		}
		const bool skip = bwd_variants[bv].skip_dk;
		sup_ref_attention_bwd_f64(want[0], skip ? NULL : want[1], want[2], dout.d, want_p, q.d, k.d, v.d, &g,
					  acc, dwork);
		sup_cpu_attention_bwd_f32(res->grads[bv][0], skip ? NULL : res->grads[bv][1], res->grads[bv][2], dout.f,
					  res->probs, q.f, k.f, v.f, &g, acc, work);
		sup_ref_attention_bwd_f32(ref[0], skip ? NULL : ref[1], ref[2], dout.f, ref_p, q.f, k.f, v.f, &g, acc,
					  rwork);
		static const char *names[3] = { "dq", "dk", "dv" };
		for (int i = 0; i < 3; i++) {
			if (skip && i == 1) {
				/* untouched: still the NaN fill or the initial values */
				bool same = true;
				for (size_t j = 0; j < n[i]; j++)
					same = same && (acc[i] ? res->grads[bv][i][j] == init[i].f[j]
							       : isnan(res->grads[bv][i][j]));
				TU_CHECK_MSG(same, "cpu bwd wrote the skipped dk: %s", what);
				continue;
			}
			const double e = worst(res->grads[bv][i], want[i], n[i]);
			TU_CHECK_MSG(e <= 1, "cpu bwd %s (%s): %s: err %g", names[i], acc[i] ? "+=" : "=", what, e);
			TU_CHECK_MSG(worst(ref[i], want[i], n[i]) <= 1, "ref f32 bwd %s: %s", names[i], what);
		}
		for (int i = 0; i < 3; i++)
			free(want[i]), free(ref[i]);
	}
	free(work), free(rwork), free(dwork), free(want_out), free(want_p), free(ref_out), free(ref_p);
	for (int i = 0; i < 3; i++)
		drop(&init[i]);
	drop(&q), drop(&k), drop(&v), drop(&dout);
	if (variant)
		drop(&mask);
}

/* Self-attention on one buffer: q == k == v (T == S) and dq == dk == dv, every pass
 * accumulating onto the shared gradient (what the op does when its inputs alias). */
static void check_aliased(const struct geom_case *gc, int threads, struct sup_rng *r, float **keep)
{
	const int64_t D = gc->H * gc->dh;
	const size_t nx = (size_t)(gc->B * gc->T * D), np = (size_t)(gc->B * gc->H * gc->T * gc->T);
	const struct sup_attn_geom g = { .B = gc->B, .T = gc->T, .S = gc->T, .H = gc->H, .dh = gc->dh, .scale = 0.5 };
	struct vals x = mk(r, nx, -1.5, 1.5), dout = mk(r, nx, -1, 1), init = mk(r, nx, -1, 1);
	double *out = malloc(sizeof(double) * (nx + 1)), *p = malloc(sizeof(double) * (np + 1));
	double *want = malloc(sizeof(double) * (nx + 1)), *dwork = malloc(sizeof(double) * (np + 1));
	float *fout = nans(nx), *fp = nans(np), *got = malloc(sizeof(float) * (nx + 1));
	float *work = malloc(sizeof(float) * (sup_cpu_attention_bwd_work(&g) + 1));
	const bool acc[3] = { true, true, true };
	sup_ref_attention_fwd_f64(out, p, x.d, x.d, x.d, NULL, &g);
	sup_cpu_attention_fwd_f32(fout, fp, x.f, x.f, x.f, NULL, &g);
	memcpy(want, init.d, sizeof(double) * nx);
	memcpy(got, init.f, sizeof(float) * nx);
	sup_ref_attention_bwd_f64(want, want, want, dout.d, p, x.d, x.d, x.d, &g, acc, dwork);
	sup_cpu_attention_bwd_f32(got, got, got, dout.f, fp, x.f, x.f, x.f, &g, acc, work);
	const char *what = desc(gc, -1, threads);
	TU_CHECK_MSG(worst(fout, out, nx) <= 1, "aliased fwd: %s: err %g", what, worst(fout, out, nx));
	TU_CHECK_MSG(worst(got, want, nx) <= 1, "aliased bwd: %s: err %g", what, worst(got, want, nx));
	/* the shared gradient is not just the initial values: the passes did add something */
	double moved = 0;
	for (size_t i = 0; i < nx; i++)
		moved = fmax(moved, fabs(want[i] - init.d[i]));
	TU_CHECK(moved > 1e-3);
	*keep = got;
	free(out), free(p), free(want), free(dwork), free(fout), free(fp), free(work);
	drop(&x), drop(&dout), drop(&init);
}

static bool same_bits(const float *a, const float *b, size_t n)
{
	return memcmp(a, b, sizeof(float) * n) == 0;
}

static void test_attention_kernels(void)
{
	static const int64_t key_lengths[] = { 1, 7, 8, 17, 33 };
	const int threads[] = { 1, 2, 3 };
	const int max_t = omp_get_max_threads();
	for (size_t si = 0; si < sizeof key_lengths / sizeof key_lengths[0]; si++) {
		const int64_t S = key_lengths[si];
		/* B * H == 1 (one GEMM pair: the threading question of the header), several heads and
		 * batches, head widths below and past a SIMD vector, T below and above S. */
		const struct geom_case cases[] = {
			{ 1, S + 2, S, 1, 8 },
			{ 2, S > 2 ? S - 2 : 3, S, 3, 5 },
			{ 3, 9, S, 2, 17 },
			{ 1, 3000, S, 1, 4 }, /* one GEMM pair with a long sum over T (dk, dv) */
		};
		for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
			const struct geom_case *gc = &cases[ci];
			TU_CHECK(gc->T != gc->S);
			for (int variant = 0; variant <= 4; variant++) {
				struct results first = { 0 };
				for (size_t ti = 0; ti < sizeof threads / sizeof threads[0]; ti++) {
					omp_set_num_threads(threads[ti]);
					/* the same values at every thread count */
					struct sup_rng r = sup_rng_make(1000 + (uint64_t)(si * 16 + ci), (uint64_t)variant);
					struct results res = { 0 };
					check_case(gc, variant, threads[ti], &r, &res);
					if (ti == 0) {
						first = res;
						continue;
					}
					const int64_t D = gc->H * gc->dh;
					const size_t nq = (size_t)(gc->B * gc->T * D), nk = (size_t)(gc->B * gc->S * D),
						     np = (size_t)(gc->B * gc->H * gc->T * gc->S), n[3] = { nq, nk, nk };
					bool same = same_bits(res.out, first.out, nq) && same_bits(res.probs, first.probs, np);
					for (int bv = 0; bv < N_BWD; bv++)
						for (int i = 0; i < 3; i++)
							same = same && same_bits(res.grads[bv][i], first.grads[bv][i], n[i]);
					TU_CHECK_MSG(same, "results depend on the thread count: %s",
						     desc(gc, variant, threads[ti]));
					results_free(&res);
				}
				results_free(&first);
			}
		}
		/* aliased self-attention, T == S */
		const struct geom_case self[] = { { 1, S, S, 1, 8 }, { 2, S, S, 3, 5 } };
		for (size_t ci = 0; ci < sizeof self / sizeof self[0]; ci++) {
			float *first = NULL;
			for (size_t ti = 0; ti < sizeof threads / sizeof threads[0]; ti++) {
				omp_set_num_threads(threads[ti]);
				struct sup_rng r = sup_rng_make(2000 + (uint64_t)si, (uint64_t)ci);
				float *got = NULL;
				check_aliased(&self[ci], threads[ti], &r, &got);
				const size_t nx = (size_t)(self[ci].B * self[ci].T * self[ci].H * self[ci].dh);
				if (!first) {
					first = got;
					continue;
				}
				TU_CHECK_MSG(same_bits(got, first, nx), "aliased: results depend on the thread count: %s",
					     desc(&self[ci], -1, threads[ti]));
				free(got);
			}
			free(first);
		}
	}
	omp_set_num_threads(max_t);
}

int main(void)
{
	test_attention_kernels();
	return tu_finish("attention kernels");
}
