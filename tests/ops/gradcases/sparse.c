/* Gradcheck cases: spmm (random CSR with empty rows; contiguous and transposed dense operand).
 * The CSR arrays ride along as constant inputs (indptr i64, indices i32, values f64), since the
 * harness passes no user pointer. */
#include "gradcase.h"

/* A 6 x 5 CSR with rows 1 and 4 empty, each other row holding a random subset of the columns
 * (ascending, no duplicates) with values in [-1, 1). Fills in[1..3]. */
static void make_csr(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in, int64_t rows, int64_t cols)
{
	in[1] = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){ rows + 1 });
	in[2] = sup_tensor_new(c, SUP_I32, 1, (const int64_t[]){ rows * cols });
	in[3] = sup_tensor_new(c, SUP_F64, 1, (const int64_t[]){ rows * cols });
	if (!in[1] || !in[2] || !in[3])
		return;
	int64_t *ip = in[1]->data, nnz = 0;
	int32_t *ix = in[2]->data;
	double *v = in[3]->data;
	ip[0] = 0;
	for (int64_t i = 0; i < rows; i++) {
		for (int64_t j = 0; j < cols && i != 1 && i != 4; j++)
			if (sup_rng_uniform(r) < 0.5f) {
				ix[nnz] = (int32_t)j;
				v[nnz++] = 2.0 * sup_rng_uniform(r) - 1.0;
			}
		ip[i + 1] = nnz;
	}
	in[2]->shape[0] = in[3]->shape[0] = nnz;
}

static struct sup_csr csr_of(struct sup_tensor *const *in, int64_t cols)
{
	return (struct sup_csr){ .rows = in[1]->shape[0] - 1, .cols = cols, .nnz = in[2]->shape[0],
				 .indptr = in[1]->data, .indices = in[2]->data, .values = in[3]->data,
				 .dtype = SUP_F64 };
}

static int setup_spmm(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(5, 3), -1, 1);
	make_csr(c, r, in, 6, 5);
	return 4;
}
static struct sup_tensor *fn_spmm(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_csr a = csr_of(in, in[0]->shape[0]);
	return sup_spmm(c, &a, in[0]);
}

/* x leaf [3, 5] used as its transpose [5, 3]. */
static int setup_spmm_t(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 5), -1, 1);
	make_csr(c, r, in, 6, 5);
	return 4;
}
static struct sup_tensor *fn_spmm_t(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_csr a = csr_of(in, in[0]->shape[1]);
	return sup_spmm(c, &a, sup_transpose(c, in[0], 0, 1));
}

/* A used twice (A (A x)): the gradient accumulates through two spmm nodes. */
static struct sup_tensor *fn_spmm_twice(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_csr a = csr_of(in, in[0]->shape[0]);
	a.rows = a.cols; /* the leading 5 x 5 block: rows 0..4 */
	a.nnz = ((const int64_t *)in[1]->data)[5];
	return sup_spmm(c, &a, sup_spmm(c, &a, in[0]));
}

const struct gradcase gradcases_sparse[] = {
	{ "spmm", "CSR with empty rows", setup_spmm, fn_spmm, 0, 0 },
	{ "spmm", "transposed dense operand", setup_spmm_t, fn_spmm_t, 0, 0 },
	{ "spmm", "A (A x)", setup_spmm, fn_spmm_twice, 0, 0 },
	{ 0 },
};
