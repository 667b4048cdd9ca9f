/* Fast f32 spmm against the reference on odd sizes (1, 7, 33, 257) with empty rows, overwrite
 * and accumulate modes; thread-count independence; the CSR transpose against a dense transpose
 * (and A^T^T == A); the op on a non-contiguous dense operand equals the op on a copy. */
#include "kernels/sparse.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

struct csr {
	int64_t rows, cols, nnz;
	int64_t *ip;
	int32_t *ix;
	float *v;
};

/* Every 3rd row empty; row r has entries with probability p per column, ascending columns. */
static struct csr csr_rand(struct sup_rng *r, int64_t rows, int64_t cols, float p)
{
	struct csr a = { rows, cols, 0, malloc(sizeof(int64_t) * (size_t)(rows + 1)),
			 malloc(sizeof(int32_t) * (size_t)(rows * cols + 1)), malloc(sizeof(float) * (size_t)(rows * cols + 1)) };
	a.ip[0] = 0;
	for (int64_t i = 0; i < rows; i++) {
		for (int64_t j = 0; j < cols && i % 3 != 2; j++)
			if (sup_rng_uniform(r) < p) {
				a.ix[a.nnz] = (int32_t)j;
				a.v[a.nnz++] = 2 * sup_rng_uniform(r) - 1;
			}
		a.ip[i + 1] = a.nnz;
	}
	return a;
}

static void csr_free(struct csr *a)
{
	free(a->ip);
	free(a->ix);
	free(a->v);
}

static float *frand(struct sup_rng *r, int64_t n)
{
	float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
	for (int64_t i = 0; i < n; i++)
		p[i] = 2 * sup_rng_uniform(r) - 1;
	return p;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
	double m = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]);
		if (!(d <= m))
			m = isnan(d) ? INFINITY : d;
	}
	return m;
}

static void set_threads(int n)
{
#ifdef _OPENMP
	omp_set_num_threads(n);
#else
	(void)n;
#endif
}

static void check_spmm(int64_t R, int64_t cols, int64_t D)
{
	struct sup_rng r = sup_rng_make(12, (uint64_t)(R * 10000 + cols * 100 + D));
	struct csr a = csr_rand(&r, R, cols, 0.3f);
	float *x = frand(&r, cols * D), *o0 = frand(&r, R * D);
	float *o1 = malloc(sizeof(float) * (size_t)(R * D + 1)), *o2 = malloc(sizeof(float) * (size_t)(R * D + 1));
	memcpy(o1, o0, sizeof(float) * (size_t)(R * D));
	memcpy(o2, o0, sizeof(float) * (size_t)(R * D));
	for (int acc = 1; acc >= 0; acc--) {
		sup_ref_spmm_f32(o0, a.ip, a.ix, a.v, R, x, D, acc);
		sup_cpu_spmm_f32(o1, a.ip, a.ix, a.v, R, x, D, acc);
		TU_CHECK_MSG(max_diff(o1, o0, R * D) <= 1e-5, "spmm R %lld cols %lld D %lld acc %d: %g", (long long)R,
			     (long long)cols, (long long)D, acc, max_diff(o1, o0, R * D));
	}
	/* thread-count independence */
	set_threads(1);
	sup_cpu_spmm_f32(o1, a.ip, a.ix, a.v, R, x, D, false);
	set_threads(3);
	sup_cpu_spmm_f32(o2, a.ip, a.ix, a.v, R, x, D, false);
	set_threads(2);
	TU_CHECK(memcmp(o1, o2, sizeof(float) * (size_t)(R * D)) == 0);
	csr_free(&a);
	free(x);
	free(o0);
	free(o1);
	free(o2);
}

/* transpose vs the dense transpose, and transposing twice gives A back exactly. */
static void check_transpose(int64_t R, int64_t cols)
{
	struct sup_rng r = sup_rng_make(13, (uint64_t)(R * 1000 + cols));
	struct csr a = csr_rand(&r, R, cols, 0.25f);
	const int64_t nz = a.nnz ? a.nnz : 1;
	int64_t *tip = malloc(sizeof(int64_t) * (size_t)(cols + 1)), *cur = malloc(sizeof(int64_t) * (size_t)(R + cols + 1));
	int32_t *tix = malloc(sizeof(int32_t) * (size_t)nz);
	float *tv = malloc(sizeof(float) * (size_t)nz);
	sup_csr_transpose(tip, tix, tv, cur, a.ip, a.ix, a.v, R, cols, sizeof(float));
	float *dense = calloc((size_t)(R * cols + 1), sizeof(float));
	for (int64_t i = 0; i < R; i++)
		for (int64_t k = a.ip[i]; k < a.ip[i + 1]; k++)
			dense[i * cols + a.ix[k]] = a.v[k];
	bool ok = tip[0] == 0 && tip[cols] == a.nnz;
	for (int64_t j = 0; j < cols; j++) {
		int64_t count = 0;
		for (int64_t i = 0; i < R; i++)
			count += dense[i * cols + j] != 0.0f;
		ok = ok && tip[j + 1] - tip[j] == count;
		for (int64_t k = tip[j]; k < tip[j + 1]; k++) {
			ok = ok && dense[tix[k] * cols + j] == tv[k];
			ok = ok && (k == tip[j] || tix[k] > tix[k - 1]); /* rows ascending */
		}
	}
	TU_CHECK_MSG(ok, "transpose R %lld cols %lld", (long long)R, (long long)cols);
	int64_t *ip2 = malloc(sizeof(int64_t) * (size_t)(R + 1));
	int32_t *ix2 = malloc(sizeof(int32_t) * (size_t)nz);
	float *v2 = malloc(sizeof(float) * (size_t)nz);
	sup_csr_transpose(ip2, ix2, v2, cur, tip, tix, tv, cols, R, sizeof(float));
	TU_CHECK(memcmp(ip2, a.ip, sizeof(int64_t) * (size_t)(R + 1)) == 0 &&
		 memcmp(ix2, a.ix, sizeof(int32_t) * (size_t)a.nnz) == 0 &&
		 memcmp(v2, a.v, sizeof(float) * (size_t)a.nnz) == 0);
	csr_free(&a);
	void *all[] = { tip, cur, tix, tv, dense, ip2, ix2, v2 };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]);
}

/* The op on a transposed (strided) x equals the op on a contiguous copy, values and gradient. */
static void check_view(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 14);
	struct sup_rng r = sup_rng_make(14, 1);
	struct csr a = csr_rand(&r, 40, 33, 0.2f);
	struct sup_csr sa = { a.rows, a.cols, a.nnz, a.ip, a.ix, a.v, SUP_F32 };
	struct sup_tensor *xt = tu_rand(&c, &r, SUP_F32, TU_SHAPE(7, 33), -1, 1);
	struct sup_tensor *xc = sup_tensor_new(&c, SUP_F32, TU_SHAPE(33, 7));
	for (int64_t i = 0; i < 33; i++)
		for (int64_t d = 0; d < 7; d++)
			sup_tensor_set(xc, i * 7 + d, sup_tensor_get(xt, d * 33 + i));
	xt->requires_grad = xc->requires_grad = true;
	struct sup_tensor *g = tu_rand(&c, &r, SUP_F32, TU_SHAPE(40, 7), -1, 1);
	struct sup_tensor *y1 = sup_spmm(&c, &sa, sup_transpose(&c, xt, 0, 1));
	TU_CHECK(sup_backward_grad(&c, y1, g->data) == SUP_OK);
	struct sup_tensor *y2 = sup_spmm(&c, &sa, xc);
	TU_CHECK(sup_backward_grad(&c, y2, g->data) == SUP_OK);
	TU_CHECK(tu_max_abs_diff(y1, y2) == 0.0);
	double m = 0;
	for (int64_t i = 0; i < 33; i++)
		for (int64_t d = 0; d < 7; d++)
			m = fmax(m, fabs(sup_tensor_grad_get(xt, d * 33 + i) - sup_tensor_grad_get(xc, i * 7 + d)));
	TU_CHECK_MSG(m == 0.0 && xc->grad, "view vs copy gradient differ by %g", m);
	csr_free(&a);
	sup_ctx_deinit(&c);
}

int main(void)
{
	const int64_t sizes[] = { 1, 7, 33, 257 };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) {
			check_spmm(sizes[i], sizes[(i + j) % 4], sizes[j]);
			check_transpose(sizes[i], sizes[j]);
		}
	check_spmm(2000, 300, 64); /* parallel path with uneven rows */
	check_view();
	return tu_finish("kernels/sparse");
}
