/* spmm: CSR sparse A @ dense x (GCN propagation, sparse features). A is a constant; the gradient
 * flows to x only: dx += A^T G. The backward builds A^T in the arena with a stable counting sort
 * and runs the same row-parallel kernel on it, so every gradient row is summed by one thread in a
 * fixed order (deterministic, no atomics). */
#include "kernels/sparse.h"
#include "op_internal.h"

#include <string.h>

static void spmm_run(const struct sup_ctx *c, enum sup_dtype dt, void *out, const int64_t *indptr,
		     const int32_t *indices, const void *values, int64_t R, const void *x, int64_t D, bool acc)
{
	if (dt == SUP_F64)
		sup_ref_spmm_f64(out, indptr, indices, values, R, x, D, acc);
	else if (sup_use_fast(c, SUP_F32))
		sup_cpu_spmm_f32(out, indptr, indices, values, R, x, D, acc);
	else
		sup_ref_spmm_f32(out, indptr, indices, values, R, x, D, acc);
}

/* in: x (contiguous [cols, D]); saved: a copy of the struct sup_csr (arrays owned by the caller). */
static void spmm_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *x = n->in[0];
	bool acc; /* the kernel writes every row of gx: a fresh buffer is stored (acc false) */
	void *gx = sup_grad_buf_acc(c, x, &acc);
	if (!gx)
		return;
	const struct sup_csr *a = n->saved;
	const size_t es = sup_dtype_size(x->dtype);
	int64_t *t_indptr = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(a->cols + 1));
	int64_t *cursor = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)a->cols);
	int32_t *t_indices = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)a->nnz);
	void *t_values = sup_ctx_alloc(c, es * (size_t)a->nnz);
	if (!t_indptr || !cursor || !t_indices || !t_values)
		return;
	sup_csr_transpose(t_indptr, t_indices, t_values, cursor, a->indptr, a->indices, a->values, a->rows, a->cols,
			  es);
	spmm_run(c, x->dtype, gx, t_indptr, t_indices, t_values, a->cols, n->out->grad, x->shape[1], acc);
}

const struct sup_op_def sup_opdef_spmm = { "spmm", spmm_backward };

/* The CSR structure: sizes, pointers, indptr monotone from 0 to nnz, column ids in range. */
static bool csr_check(struct sup_ctx *c, const struct sup_csr *a)
{
	if (a->rows < 0 || a->cols < 0 || a->nnz < 0) {
		sup_ctx_fail(c, SUP_ERR_ARG, "spmm: CSR sizes must be >= 0 (rows %lld, cols %lld, nnz %lld)",
			     (long long)a->rows, (long long)a->cols, (long long)a->nnz);
		return false;
	}
	if (!a->indptr || (a->nnz > 0 && (!a->indices || !a->values))) {
		sup_op_fail_arg(c, "spmm", "CSR indptr, indices or values is NULL");
		return false;
	}
	if (a->indptr[0] != 0 || a->indptr[a->rows] != a->nnz) {
		sup_ctx_fail(c, SUP_ERR_ARG, "spmm: CSR indptr must run from 0 to nnz = %lld (got %lld .. %lld)",
			     (long long)a->nnz, (long long)a->indptr[0], (long long)a->indptr[a->rows]);
		return false;
	}
	for (int64_t r = 0; r < a->rows; r++)
		if (a->indptr[r + 1] < a->indptr[r]) {
			sup_ctx_fail(c, SUP_ERR_ARG, "spmm: CSR indptr decreases at row %lld (%lld > %lld)",
				     (long long)r, (long long)a->indptr[r], (long long)a->indptr[r + 1]);
			return false;
		}
	for (int64_t k = 0; k < a->nnz; k++)
		if (a->indices[k] < 0 || a->indices[k] >= a->cols) {
			sup_ctx_fail(c, SUP_ERR_ARG, "spmm: CSR indices[%lld] = %d out of range for %lld columns",
				     (long long)k, (int)a->indices[k], (long long)a->cols);
			return false;
		}
	return true;
}

sup_t *sup_spmm(struct sup_ctx *c, const struct sup_csr *a, sup_t *x)
{
	if (!sup_op_inputs_ok(c, 1, &x))
		return NULL;
	if (!a)
		return sup_op_fail_arg(c, "spmm", "the sparse matrix is NULL");
	if (!sup_check_float(c, "spmm", 1, &x))
		return NULL;
	if (a->dtype != x->dtype) {
		sup_ctx_fail(c, SUP_ERR_DTYPE, "spmm: CSR values are %s but x is %s", sup_dtype_name(a->dtype),
			     sup_dtype_name(x->dtype));
		return NULL;
	}
	if (!csr_check(c, a))
		return NULL;
	sup_t as;
	sup_tensor_init(&as, a->dtype, 2, (const int64_t[]){ a->rows, a->cols }, NULL);
	if (x->ndim != 2 || x->shape[0] != a->cols)
		return sup_op_fail_shape(c, "spmm", &as, x, "x must be [cols of A, D]");
	const bool grad = sup_needs_grad(c, 1, &x);
	if (grad && a->rows > INT32_MAX)
		return sup_op_fail_shape(c, "spmm", &as, x, "backward supports at most 2^31 - 1 rows");
	x = sup_contiguous(c, x);
	if (!x)
		return NULL;
	const int64_t D = x->shape[1];
	sup_t *out = sup_tensor_new(c, x->dtype, 2, (const int64_t[]){ a->rows, D });
	if (!out)
		return NULL;
	spmm_run(c, x->dtype, out->data, a->indptr, a->indices, a->values, a->rows, x->data, D, false);
	if (!grad)
		return out;
	struct sup_csr *keep = sup_ctx_alloc(c, sizeof *keep);
	if (!keep)
		return NULL;
	*keep = *a;
	struct sup_node *n = sup_record(c, &sup_opdef_spmm, out, 1, &x);
	if (n)
		n->saved = keep;
	return out;
}
