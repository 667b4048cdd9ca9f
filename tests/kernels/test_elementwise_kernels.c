/* Fast elementwise kernels against the reference kernels: every op on odd sizes (1, 7, 33, 257)
 * and on sizes above the threading threshold, the channel-broadcast pattern, PReLU, dropout
 * masks at unaligned RNG offsets; reproducibility across thread counts; and the ops on
 * non-contiguous and generally broadcast inputs under both backends (forward and gradients). */
#include "testutil.h"

#include "kernels/elementwise.h"

#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int64_t sizes[] = { 1, 7, 33, 257, 40000 };
#define N_SIZES (int)(sizeof sizes / sizeof sizes[0])

static float *rand_f32(struct sup_rng *r, int64_t n, double lo, double hi)
{
	float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
	for (int64_t i = 0; p && i < n; i++)
		p[i] = (float)(lo + (hi - lo) * sup_rng_uniform(r));
	return p;
}

static float *copy_f32(const float *src, int64_t n)
{
	float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
	if (p)
		memcpy(p, src, sizeof(float) * (size_t)n);
	return p;
}

/* Max |x - y| / (1 + |y|); NaN counts as a mismatch unless both are NaN. */
static double rel_diff(const float *x, const float *y, int64_t n)
{
	double m = 0;
	for (int64_t i = 0; i < n; i++) {
		if (isnan(x[i]) && isnan(y[i]))
			continue;
		double d = fabs((double)x[i] - (double)y[i]) / (1 + fabs((double)y[i]));
		if (!(d <= m))
			m = isnan(d) ? INFINITY : d;
	}
	return m;
}

#define TOL 1e-6

/* ---- unary and binary, contiguous ------------------------------------------------------------- */

static const double un_prm[SUP_EW_UNARY_COUNT][2] = {
	[SUP_EW_LEAKY_RELU] = { 0.1, 0 }, [SUP_EW_ELU] = { 1.3, 0 }, [SUP_EW_ADD_SCALAR] = { 0.75, 0 },
	[SUP_EW_MUL_SCALAR] = { -1.5, 0 }, [SUP_EW_POW_SCALAR] = { 2.5, 0 }, [SUP_EW_CLAMP] = { -0.5, 0.7 },
};

static bool needs_positive(enum sup_ew_unary op)
{
	return op == SUP_EW_LOG || op == SUP_EW_SQRT || op == SUP_EW_RSQRT || op == SUP_EW_POW_SCALAR;
}

/* A fresh gradient buffer for the store mode (acc false): NaN everywhere, so any element the
 * kernel reads instead of overwriting shows up. */
static float *garbage_f32(int64_t n)
{
	float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
	for (int64_t i = 0; i < n; i++)
		p[i] = NAN;
	return p;
}

static float *zeros_f32(int64_t n)
{
	return calloc((size_t)(n ? n : 1), sizeof(float));
}

static void test_unary(struct sup_rng *r)
{
	for (int s = 0; s < N_SIZES; s++) {
		const int64_t n = sizes[s], one = 1;
		for (int op = 0; op < SUP_EW_UNARY_COUNT; op++) {
			const double p0 = un_prm[op][0], p1 = un_prm[op][1];
			float *x = needs_positive(op) ? rand_f32(r, n, 0.1, 3) : rand_f32(r, n, -4, 4);
			float *y0 = rand_f32(r, n, 0, 1), *y1 = rand_f32(r, n, 0, 1), *g = rand_f32(r, n, -1, 1);
			float *d0 = rand_f32(r, n, -1, 1), *d1 = copy_f32(d0, n); /* gradients accumulate */
			sup_ref_unary_f32(op, p0, p1, y0, x, 1, &n, &one);
			sup_cpu_unary_f32(op, p0, p1, y1, x, n);
			TU_CHECK_MSG(rel_diff(y1, y0, n) <= TOL, "unary op %d n %lld: %g", op, (long long)n, rel_diff(y1, y0, n));
			sup_ref_unary_grad_f32(op, p0, p1, d0, g, x, y0, 1, &n, &one);
			sup_cpu_unary_grad_f32(op, p0, p1, d1, g, x, y0, n, true);
			TU_CHECK_MSG(rel_diff(d1, d0, n) <= TOL, "unary grad op %d n %lld", op, (long long)n);
			float *s0 = zeros_f32(n), *s1 = garbage_f32(n); /* store mode == ref on zeros */
			sup_ref_unary_grad_f32(op, p0, p1, s0, g, x, y0, 1, &n, &one);
			sup_cpu_unary_grad_f32(op, p0, p1, s1, g, x, y0, n, false);
			TU_CHECK_MSG(rel_diff(s1, s0, n) <= TOL, "unary grad store op %d n %lld", op, (long long)n);
			free(x), free(y0), free(y1), free(g), free(d0), free(d1), free(s0), free(s1);
		}
	}
}

static void test_binary(struct sup_rng *r)
{
	for (int s = 0; s < N_SIZES; s++) {
		const int64_t n = sizes[s], one = 1;
		for (int op = 0; op < SUP_EW_BINARY_COUNT; op++) {
			const bool pos = op == SUP_EW_POW || op == SUP_EW_DIV;
			float *a = rand_f32(r, n, pos ? 0.2 : -2, 2), *b = rand_f32(r, n, pos ? 0.2 : -2, 2);
			if (op == SUP_EW_MIN && n > 3)
				b[3] = a[3]; /* a tie */
			float *z0 = rand_f32(r, n, 0, 1), *z1 = rand_f32(r, n, 0, 1), *g = rand_f32(r, n, -1, 1);
			sup_ref_binary_f32(op, z0, a, &one, b, &one, 1, &n);
			sup_cpu_binary_f32(op, z1, a, b, n);
			TU_CHECK_MSG(rel_diff(z1, z0, n) <= TOL, "binary op %d n %lld", op, (long long)n);
			for (int w = 0; w < 2; w++) {
				float *d0 = rand_f32(r, n, -1, 1), *d1 = copy_f32(d0, n);
				sup_ref_binary_grad_f32(op, w, d0, &one, g, a, &one, b, &one, z0, 1, &n);
				sup_cpu_binary_grad_f32(op, w, d1, g, a, b, z0, n, true);
				TU_CHECK_MSG(rel_diff(d1, d0, n) <= TOL, "binary grad op %d wrt %d n %lld", op, w, (long long)n);
				float *s0 = zeros_f32(n), *s1 = garbage_f32(n);
				sup_ref_binary_grad_f32(op, w, s0, &one, g, a, &one, b, &one, z0, 1, &n);
				sup_cpu_binary_grad_f32(op, w, s1, g, a, b, z0, n, false);
				TU_CHECK_MSG(rel_diff(s1, s0, n) <= TOL, "binary grad store op %d wrt %d n %lld", op, w,
					     (long long)n);
				free(d0), free(d1), free(s0), free(s1);
			}
			free(a), free(b), free(z0), free(z1), free(g);
		}
	}
}

/* ---- channel pattern ------------------------------------------------------------------------ */

static const int64_t chans[][3] = {
	{ 1, 1, 1 }, { 7, 1, 1 }, { 1, 7, 1 }, { 7, 33, 1 }, { 3, 7, 257 }, { 33, 1, 7 },
	{ 1200, 33, 1 }, { 4, 33, 257 }, { 40000, 1, 1 },
};

/* One channel configuration, one op, one side for the vector: fast vs strided reference. */
static void chan_case(struct sup_rng *r, const int64_t *oci, int op, bool vec_a)
{
	const struct sup_ew_chan ch = { oci[0], oci[1], oci[2], vec_a };
	const int64_t n = oci[0] * oci[1] * oci[2], C = oci[1];
	const int64_t shape[3] = { oci[0], oci[1], oci[2] }, full_st[3] = { C * oci[2], oci[2], 1 }, vec_st[3] = { 0, 1, 0 };
	const bool pos = op == SUP_EW_POW || op == SUP_EW_DIV;
	float *full = rand_f32(r, n, pos ? 0.2 : -2, 2), *v = rand_f32(r, C, pos ? 0.2 : -2, 2);
	const float *a = vec_a ? v : full, *b = vec_a ? full : v;
	const int64_t *as = vec_a ? vec_st : full_st, *bs = vec_a ? full_st : vec_st;
	float *z0 = rand_f32(r, n, 0, 1), *z1 = rand_f32(r, n, 0, 1), *g = rand_f32(r, n, -1, 1);
	sup_ref_binary_f32(op, z0, a, as, b, bs, 3, shape);
	sup_cpu_binary_chan_f32(op, &ch, z1, a, b);
	TU_CHECK_MSG(rel_diff(z1, z0, n) <= TOL, "chan op %d [%lld,%lld,%lld] vec_a %d", op, (long long)oci[0],
		     (long long)oci[1], (long long)oci[2], vec_a);
	for (int w = 0; w < 2; w++) {
		const bool is_vec = (w == 1) != vec_a;
		const int64_t m = is_vec ? C : n;
		float *d0 = rand_f32(r, m, -1, 1), *d1 = copy_f32(d0, m);
		sup_ref_binary_grad_f32(op, w, d0, is_vec ? vec_st : full_st, g, a, as, b, bs, z0, 3, shape);
		sup_cpu_binary_chan_grad_f32(op, &ch, w, d1, g, a, b, z0, true);
		/* sums of up to 40000 terms: same order, but allow for contraction into FMA */
		TU_CHECK_MSG(rel_diff(d1, d0, m) <= (is_vec ? 1e-5 : TOL), "chan grad op %d wrt %d [%lld,%lld,%lld] vec_a %d: %g",
			     op, w, (long long)oci[0], (long long)oci[1], (long long)oci[2], vec_a, rel_diff(d1, d0, m));
		float *s0 = zeros_f32(m), *s1 = garbage_f32(m);
		sup_ref_binary_grad_f32(op, w, s0, is_vec ? vec_st : full_st, g, a, as, b, bs, z0, 3, shape);
		sup_cpu_binary_chan_grad_f32(op, &ch, w, s1, g, a, b, z0, false);
		TU_CHECK_MSG(rel_diff(s1, s0, m) <= (is_vec ? 1e-5 : TOL), "chan grad store op %d wrt %d [%lld,%lld,%lld]",
			     op, w, (long long)oci[0], (long long)oci[1], (long long)oci[2]);
		free(d0), free(d1), free(s0), free(s1);
	}
	free(full), free(v), free(z0), free(z1), free(g);
}

static void test_chan(struct sup_rng *r)
{
	for (size_t k = 0; k < sizeof chans / sizeof chans[0]; k++)
		for (int op = 0; op < SUP_EW_BINARY_COUNT; op++)
			for (int va = 0; va < 2; va++)
				chan_case(r, chans[k], op, va);
}

/* The vector gradient (a reduction) is bitwise the same for 1 and several threads. */
static void test_thread_invariance(struct sup_rng *r)
{
	const struct sup_ew_chan ch = { 300, 17, 13, false };
	const int64_t n = 300 * 17 * 13;
	float *a = rand_f32(r, n, -1, 1), *b = rand_f32(r, 17, -1, 1), *g = rand_f32(r, n, -1, 1);
	float *z = rand_f32(r, n, -1, 1);
	float d1[17] = { 0 }, d4[17] = { 0 };
	const int keep = omp_get_max_threads();
	omp_set_num_threads(1);
	sup_cpu_binary_chan_grad_f32(SUP_EW_MUL, &ch, true, d1, g, a, b, z, true);
	omp_set_num_threads(4);
	sup_cpu_binary_chan_grad_f32(SUP_EW_MUL, &ch, true, d4, g, a, b, z, true);
	omp_set_num_threads(keep);
	TU_CHECK(memcmp(d1, d4, sizeof d1) == 0);
	free(a), free(b), free(g), free(z);
}

/* ---- PReLU and dropout ------------------------------------------------------------------------ */

static void test_prelu(struct sup_rng *r)
{
	for (size_t k = 0; k < sizeof chans / sizeof chans[0]; k++)
		for (int shared = 0; shared < 2; shared++) {
			const int64_t outer = chans[k][0], C = shared ? 1 : chans[k][1], inner = chans[k][2];
			const int64_t n = outer * C * inner;
			float *x = rand_f32(r, n, -1, 1), *w = rand_f32(r, C, 0, 0.5), *g = rand_f32(r, n, -1, 1);
			float *y0 = rand_f32(r, n, 0, 1), *y1 = rand_f32(r, n, 0, 1);
			float *dx0 = rand_f32(r, n, -1, 1), *dx1 = copy_f32(dx0, n);
			float *dw0 = rand_f32(r, C, -1, 1), *dw1 = copy_f32(dw0, C);
			sup_ref_prelu_f32(y0, x, w, shared, outer, C, inner);
			sup_cpu_prelu_f32(y1, x, w, shared, outer, C, inner);
			TU_CHECK(rel_diff(y1, y0, n) <= TOL);
			sup_ref_prelu_grad_f32(dx0, dw0, g, x, w, shared, outer, C, inner);
			sup_cpu_prelu_grad_f32(dx1, dw1, g, x, w, shared, outer, C, inner, true);
			TU_CHECK(rel_diff(dx1, dx0, n) <= TOL);
			float *s0 = zeros_f32(n), *s1 = garbage_f32(n);
			sup_ref_prelu_grad_f32(s0, NULL, g, x, w, shared, outer, C, inner);
			sup_cpu_prelu_grad_f32(s1, NULL, g, x, w, shared, outer, C, inner, false);
			TU_CHECK_MSG(rel_diff(s1, s0, n) <= TOL, "prelu dx store [%lld,%lld,%lld]", (long long)outer,
				     (long long)C, (long long)inner);
			free(s0), free(s1);
			TU_CHECK_MSG(rel_diff(dw1, dw0, C) <= 1e-5, "prelu dw [%lld,%lld,%lld]", (long long)outer,
				     (long long)C, (long long)inner);
			free(x), free(w), free(g), free(y0), free(y1), free(dx0), free(dx1), free(dw0), free(dw1);
		}
}

static void test_dropout(struct sup_rng *r)
{
	const uint64_t bases[] = { 0, 1, 2, 3, 5, 1001 };
	const uint64_t key = sup_rng_make(9, 3).key;
	for (int s = 0; s < N_SIZES; s++)
		for (size_t k = 0; k < sizeof bases / sizeof bases[0]; k++) {
			const int64_t n = sizes[s];
			uint8_t *m0 = malloc((size_t)n), *m1 = malloc((size_t)n);
			memset(m1, 0xAA, (size_t)n);
			sup_ref_dropout_mask(m0, key, bases[k], 0.35, n);
			sup_cpu_dropout_mask(m1, key, bases[k], 0.35, n);
			TU_CHECK_MSG(memcmp(m0, m1, (size_t)n) == 0, "mask n %lld base %llu", (long long)n,
				     (unsigned long long)bases[k]);
			float *x = rand_f32(r, n, -1, 1), *y0 = rand_f32(r, n, 0, 1), *y1 = rand_f32(r, n, 0, 1);
			float *d0 = rand_f32(r, n, -1, 1), *d1 = copy_f32(d0, n);
			sup_ref_dropout_f32(y0, x, m0, 1 / 0.65, n);
			sup_cpu_dropout_f32(y1, x, m0, 1 / 0.65, n);
			TU_CHECK(rel_diff(y1, y0, n) == 0);
			sup_ref_dropout_grad_f32(d0, x, m0, 1 / 0.65, n);
			sup_cpu_dropout_grad_f32(d1, x, m0, 1 / 0.65, n);
			TU_CHECK(rel_diff(d1, d0, n) == 0);
			free(m0), free(m1), free(x), free(y0), free(y1), free(d0), free(d1);
		}
}

/* ---- ops on views and general broadcasting, both backends ------------------------------------- */

/* A computation of two f32 leaves a and b (contiguous, given shapes). */
struct op_case {
	const char *name;
	int64_t ashape[4], bshape[4];
	int nda, ndb;
	struct sup_tensor *(*fn)(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b);
};

static struct sup_tensor *f_gelu_t(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b)
{
	(void)b;
	return sup_gelu(c, sup_transpose(c, a, 0, 1), true);
}
static struct sup_tensor *f_sig_slice(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b)
{
	(void)b;
	return sup_sigmoid(c, sup_slice(c, a, 1, 1, 300, 3));
}
static struct sup_tensor *f_add_t(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b)
{
	return sup_add(c, sup_transpose(c, a, 0, 1), b);
}
static struct sup_tensor *f_mul_outer(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b)
{
	return sup_mul(c, a, b);
}
static struct sup_tensor *f_div_perm(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b)
{
	const int perm[3] = { 2, 0, 1 };
	return sup_div(c, sup_permute(c, a, perm), b);
}
static struct sup_tensor *f_max_bias(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b)
{
	return sup_maximum(c, b, a);
}
static struct sup_tensor *f_prelu_t(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b)
{
	return sup_prelu(c, sup_transpose(c, a, 0, 1), b);
}

static const struct op_case op_cases[] = {
	{ "gelu(a^T)", { 257, 300 }, { 1 }, 2, 1, f_gelu_t },
	{ "sigmoid(a[:, 1::3])", { 33, 300 }, { 1 }, 2, 1, f_sig_slice },
	{ "a^T + b, [257,33]^T + [257]", { 257, 33 }, { 257 }, 2, 1, f_add_t },
	{ "[7,1,33] * [257,1]", { 7, 1, 33 }, { 257, 1 }, 3, 2, f_mul_outer },
	{ "perm(a) / b, [3,33,257]->[257,3,33] / [3,1]", { 3, 33, 257 }, { 3, 1 }, 3, 2, f_div_perm },
	{ "maximum([1,C,1,1], [N,C,H,W])", { 3, 7, 40, 40 }, { 1, 7, 1, 1 }, 4, 4, f_max_bias },
	{ "prelu(a^T, [C])", { 33, 257, 5 }, { 33 }, 3, 1, f_prelu_t },
};

/* Runs one case on one backend; returns the output and the leaves (their grads filled). */
static struct sup_tensor *run_case(struct sup_ctx *c, const struct op_case *oc, uint64_t seed, struct sup_tensor **a,
				   struct sup_tensor **b)
{
	struct sup_rng r = sup_rng_make(seed, 1);
	*a = tu_rand(c, &r, SUP_F32, oc->nda, oc->ashape, 0.2, 2);
	*b = tu_rand(c, &r, SUP_F32, oc->ndb, oc->bshape, 0.2, 2);
	(*a)->requires_grad = (*b)->requires_grad = true;
	struct sup_tensor *y = oc->fn(c, *a, *b);
	if (!y)
		return NULL;
	struct sup_tensor *g = tu_rand(c, &r, SUP_F32, y->ndim, y->shape, -1, 1);
	TU_CHECK(sup_backward_grad(c, y, g->data) == SUP_OK);
	return y;
}

static double grad_diff(const struct sup_tensor *x, const struct sup_tensor *y)
{
	double m = 0;
	for (int64_t i = 0; i < sup_tensor_numel(x); i++) {
		double d = fabs(sup_tensor_grad_get(x, i) - sup_tensor_grad_get(y, i)) / (1 + fabs(sup_tensor_grad_get(y, i)));
		m = d > m || isnan(d) ? d : m;
	}
	return m;
}

static void test_ops_backends(void)
{
	for (size_t k = 0; k < sizeof op_cases / sizeof op_cases[0]; k++) {
		const struct op_case *oc = &op_cases[k];
		struct sup_ctx cf, cr;
		tu_ctx(&cf, 1);
		tu_ctx(&cr, 1);
		cr.backend = SUP_BACKEND_REF;
		struct sup_tensor *af, *bf, *ar, *br;
		struct sup_tensor *yf = run_case(&cf, oc, 100 + k, &af, &bf), *yr = run_case(&cr, oc, 100 + k, &ar, &br);
		TU_CHECK_MSG(yf && yr, "%s: %s %s", oc->name, sup_ctx_error(&cf), sup_ctx_error(&cr));
		if (yf && yr) {
			TU_CHECK_MSG(tu_max_abs_diff(yf, yr) <= 1e-5, "%s: forward differs by %g", oc->name,
				     tu_max_abs_diff(yf, yr));
			TU_CHECK_MSG(grad_diff(af, ar) <= 1e-5 && grad_diff(bf, br) <= 1e-5, "%s: grads differ by %g, %g",
				     oc->name, grad_diff(af, ar), grad_diff(bf, br));
		}
		sup_ctx_deinit(&cf);
		sup_ctx_deinit(&cr);
	}
}

int main(void)
{
	struct sup_rng r = sup_rng_make(2024, 5);
	test_unary(&r);
	test_binary(&r);
	test_chan(&r);
	test_thread_invariance(&r);
	test_prelu(&r);
	test_dropout(&r);
	test_ops_backends();
	return tu_finish("kernels/elementwise");
}
