/* spmm behaviour: a hand example, random CSR (empty rows, duplicate-free columns) against a dense
 * matmul of the same matrix, the gradient against A^T G computed by plain loops, edge cases
 * (no rows, no entries) and CSR validation errors. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* A random rows x cols CSR (every 4th row empty, each column present with probability p) in
 * heap arrays, and the same matrix dense (row-major doubles). */
struct rand_csr {
	struct sup_csr a;
	int64_t *indptr;
	int32_t *indices;
	void *values;
	double *dense;
};

static void rand_csr_make(struct rand_csr *m, struct sup_rng *r, enum sup_dtype dt, int64_t rows, int64_t cols,
			  float p)
{
	m->indptr = malloc(sizeof(int64_t) * (size_t)(rows + 1));
	m->indices = malloc(sizeof(int32_t) * (size_t)(rows * cols + 1));
	m->values = malloc(sizeof(double) * (size_t)(rows * cols + 1));
	m->dense = calloc((size_t)(rows * cols + 1), sizeof(double));
	int64_t nnz = 0;
	m->indptr[0] = 0;
	for (int64_t i = 0; i < rows; i++) {
		for (int64_t j = 0; j < cols && i % 4 != 1; j++) {
			if (sup_rng_uniform(r) >= p)
				continue;
			double v = 2.0 * sup_rng_uniform(r) - 1.0;
			if (dt == SUP_F32)
				((float *)m->values)[nnz] = (float)v;
			else
				((double *)m->values)[nnz] = v;
			m->dense[i * cols + j] = dt == SUP_F32 ? (double)(float)v : v;
			m->indices[nnz++] = (int32_t)j;
		}
		m->indptr[i + 1] = nnz;
	}
	m->a = (struct sup_csr){ rows, cols, nnz, m->indptr, m->indices, m->values, dt };
}

static void rand_csr_free(struct rand_csr *m)
{
	free(m->indptr);
	free(m->indices);
	free(m->values);
	free(m->dense);
}

static void test_hand(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	/* A = [[0, 2], [0, 0], [1, 3]], x = [[1, 2], [3, 4]]: A x = [[6, 8], [0, 0], [10, 14]]. */
	const int64_t ip[4] = { 0, 1, 1, 3 };
	const int32_t ix[3] = { 1, 0, 1 };
	const float v[3] = { 2, 1, 3 };
	struct sup_csr a = { 3, 2, 3, ip, ix, v, SUP_F32 };
	struct sup_tensor *x = sup_tensor_new(&c, SUP_F32, TU_SHAPE(2, 2));
	for (int i = 0; i < 4; i++)
		sup_tensor_set(x, i, i + 1);
	x->requires_grad = true;
	struct sup_tensor *y = sup_spmm(&c, &a, x);
	const double e[6] = { 6, 8, 0, 0, 10, 14 };
	TU_CHECK(y && y->shape[0] == 3 && y->shape[1] == 2);
	for (int i = 0; y && i < 6; i++)
		TU_CHECK_NEAR(sup_tensor_get(y, i), e[i], 0);
	/* d sum(y) / dx = A^T 1 = column sums of A per row of x: [1, 5] in both columns. */
	const float ones[6] = { 1, 1, 1, 1, 1, 1 };
	TU_CHECK(sup_backward_grad(&c, y, ones) == SUP_OK);
	const double ge[4] = { 1, 1, 5, 5 };
	for (int i = 0; i < 4; i++)
		TU_CHECK_NEAR(sup_tensor_grad_get(x, i), ge[i], 0);
	sup_ctx_deinit(&c);
}

/* Forward against matmul of the dense matrix; gradient against A^T G by loops. */
static void test_random(enum sup_backend be, enum sup_dtype dt, int64_t rows, int64_t cols, int64_t D, bool view)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	c.backend = be;
	struct sup_rng r = sup_rng_make(11, (uint64_t)(rows * 7 + D));
	struct rand_csr m;
	rand_csr_make(&m, &r, dt, rows, cols, 0.2f);
	struct sup_tensor *leaf = view ? tu_rand(&c, &r, dt, TU_SHAPE(D, cols), -1, 1)
				       : tu_rand(&c, &r, dt, TU_SHAPE(cols, D), -1, 1);
	leaf->requires_grad = true;
	struct sup_tensor *x = view ? sup_transpose(&c, leaf, 0, 1) : leaf;
	struct sup_tensor *ad = sup_tensor_new(&c, dt, TU_SHAPE(rows, cols));
	for (int64_t i = 0; i < rows * cols; i++)
		sup_tensor_set(ad, i, m.dense[i]);
	struct sup_tensor *g = tu_rand(&c, &r, dt, TU_SHAPE(rows, D), -1, 1);
	struct sup_tensor *y = sup_spmm(&c, &m.a, x);
	sup_no_grad_begin(&c);
	struct sup_tensor *yd = sup_matmul(&c, ad, x, false, false);
	sup_no_grad_end(&c);
	const double tol = dt == SUP_F32 ? 1e-5 : 1e-12;
	TU_CHECK_MSG(tu_max_abs_diff(y, yd) <= tol, "rows %lld D %lld: spmm vs dense matmul differ by %g",
		     (long long)rows, (long long)D, tu_max_abs_diff(y, yd));
	for (int64_t i = 1; y && i < rows; i += 4) /* the empty rows are exactly 0 */
		for (int64_t d = 0; d < D; d++)
			TU_CHECK(sup_tensor_get(y, i * D + d) == 0.0);
	TU_CHECK(sup_backward_grad(&c, y, g->data) == SUP_OK);
	double err = 0;
	for (int64_t j = 0; j < cols; j++)
		for (int64_t d = 0; d < D; d++) {
			double want = 0;
			for (int64_t i = 0; i < rows; i++)
				want += m.dense[i * cols + j] * sup_tensor_get(g, i * D + d);
			/* the leaf's gradient is laid out in the leaf's shape */
			double got = sup_tensor_grad_get(leaf, view ? d * cols + j : j * D + d);
			err = fabs(got - want) > err ? fabs(got - want) : err;
		}
	TU_CHECK_MSG(err <= tol, "rows %lld D %lld: x grad differs from A^T G by %g", (long long)rows, (long long)D,
		     err);
	TU_CHECK(c.err == SUP_OK);
	rand_csr_free(&m);
	sup_ctx_deinit(&c);
}

/* No rows; rows without entries; D == 0. */
static void test_empty(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 3);
	const int64_t ip0[1] = { 0 }, ip3[4] = { 0, 0, 0, 0 };
	struct sup_tensor *x = sup_tensor_full(&c, SUP_F64, TU_SHAPE(4, 2), 1.0);
	x->requires_grad = true;
	struct sup_csr a0 = { 0, 4, 0, ip0, NULL, NULL, SUP_F64 };
	struct sup_tensor *y0 = sup_spmm(&c, &a0, x);
	TU_CHECK(y0 && y0->shape[0] == 0 && y0->shape[1] == 2);
	struct sup_csr a3 = { 3, 4, 0, ip3, NULL, NULL, SUP_F64 };
	struct sup_tensor *y3 = sup_spmm(&c, &a3, x);
	TU_CHECK(y3 && y3->shape[0] == 3 && sup_tensor_get(y3, 5) == 0.0);
	const double g[6] = { 1, 1, 1, 1, 1, 1 };
	TU_CHECK(sup_backward_grad(&c, y3, g) == SUP_OK);
	TU_CHECK(sup_tensor_grad_get(x, 0) == 0.0 && sup_tensor_grad_get(x, 7) == 0.0);
	struct sup_tensor *xe = sup_tensor_zeros(&c, SUP_F64, TU_SHAPE(4, 0));
	struct sup_tensor *ye = sup_spmm(&c, &a3, xe);
	TU_CHECK(ye && ye->shape[0] == 3 && ye->shape[1] == 0);
	TU_CHECK(c.err == SUP_OK);
	sup_ctx_deinit(&c);
}

static void expect_err(struct sup_ctx *c, const struct sup_csr *a, struct sup_tensor *x, enum sup_status st,
		       const char *needle)
{
	TU_CHECK(sup_spmm(c, a, x) == NULL);
	TU_CHECK_MSG(c->err == st && strstr(sup_ctx_error(c), "spmm") && strstr(sup_ctx_error(c), needle),
		     "want %s containing '%s', got %s: %s", sup_status_str(st), needle, sup_status_str(c->err),
		     sup_ctx_error(c));
	sup_ctx_clear_error(c);
}

static void test_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 4);
	struct sup_tensor *x = sup_tensor_full(&c, SUP_F32, TU_SHAPE(3, 2), 1.0);
	struct sup_tensor *xd = sup_tensor_full(&c, SUP_F64, TU_SHAPE(3, 2), 1.0);
	struct sup_tensor *x4 = sup_tensor_full(&c, SUP_F32, TU_SHAPE(4, 2), 1.0);
	struct sup_tensor *x1 = sup_tensor_full(&c, SUP_F32, TU_SHAPE(3), 1.0);
	const float v[3] = { 1, 2, 3 };
	const int32_t ok_ix[3] = { 0, 2, 1 }, big_ix[3] = { 0, 3, 1 }, neg_ix[3] = { 0, -1, 1 };
	const int64_t ok_ip[3] = { 0, 2, 3 }, ip_start[3] = { 1, 2, 3 }, ip_end[3] = { 0, 2, 2 },
		      ip_dec2[4] = { 0, 2, 1, 3 };
	struct sup_csr a = { 2, 3, 3, ok_ip, ok_ix, v, SUP_F32 };
	TU_CHECK(sup_spmm(&c, &a, x) != NULL && c.err == SUP_OK);
	expect_err(&c, &a, xd, SUP_ERR_DTYPE, "f32");
	expect_err(&c, &a, x4, SUP_ERR_SHAPE, "[2, 3]");
	TU_CHECK(sup_spmm(&c, &a, x4) == NULL && strstr(sup_ctx_error(&c), "[4, 2]"));
	sup_ctx_clear_error(&c);
	expect_err(&c, &a, x1, SUP_ERR_SHAPE, "[3]");
	struct sup_csr b = a;
	b.indptr = ip_start;
	expect_err(&c, &b, x, SUP_ERR_ARG, "indptr");
	b.indptr = ip_end;
	expect_err(&c, &b, x, SUP_ERR_ARG, "indptr");
	struct sup_csr d = { 3, 3, 3, ip_dec2, ok_ix, v, SUP_F32 };
	expect_err(&c, &d, x, SUP_ERR_ARG, "decreases at row 1");
	b = a;
	b.indices = big_ix;
	expect_err(&c, &b, x, SUP_ERR_ARG, "indices[1] = 3");
	b.indices = neg_ix;
	expect_err(&c, &b, x, SUP_ERR_ARG, "indices[1] = -1");
	b = a;
	b.values = NULL;
	expect_err(&c, &b, x, SUP_ERR_ARG, "NULL");
	b = a;
	b.nnz = -1;
	expect_err(&c, &b, x, SUP_ERR_ARG, "sizes");
	expect_err(&c, NULL, x, SUP_ERR_ARG, "NULL");
	TU_CHECK(sup_spmm(&c, &a, NULL) == NULL && c.err == SUP_OK);
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_hand();
	const int64_t sizes[] = { 1, 7, 33, 257 };
	for (int i = 0; i < 4; i++) {
		test_random(SUP_BACKEND_CPU, SUP_F32, sizes[i] + 2, 29, sizes[i], false);
		test_random(SUP_BACKEND_REF, SUP_F32, 37, sizes[i], 5, true);
		test_random(SUP_BACKEND_CPU, SUP_F64, sizes[i] + 3, 13, 4, i % 2 == 1);
	}
	test_random(SUP_BACKEND_CPU, SUP_F32, 300, 250, 64, true);
	test_empty();
	test_errors();
	return tu_finish("sparse");
}
