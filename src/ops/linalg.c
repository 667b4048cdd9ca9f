/* matmul (batched, broadcasting, with transposes) and linear (x w^T + b) on the GEMM kernels.
 *
 * C = op(A) op(B). Backward (docs/autograd.md has the derivation):
 *   d op(A) = G op(B)^T  ->  dA = G op(B)^T            (A stored untransposed)
 *                            dA = op(B) G^T            (A stored transposed)
 *   d op(B) = op(A)^T G  ->  dB = op(A)^T G  or  G^T op(A). */
#include "kernels/gemm.h"
#include "kernels/reduce.h"
#include "op_internal.h"

#include <string.h>

/* The batch plan: nb GEMMs of M x N x K, operand offsets (elements) per GEMM. */
struct mm_plan {
	int64_t nb, M, N, K;
	bool ta, tb;
	int64_t *off_a, *off_b; /* arena */
};

static void gemm(bool fast, enum sup_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
		 const void *A, int64_t lda, const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
	if (dt == SUP_F64)
		sup_ref_gemm_f64(ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
	else if (fast)
		sup_cpu_gemm_f32(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, (float)beta, C, ldc);
	else
		sup_ref_gemm_f32(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, (float)beta, C, ldc);
}

static void matmul_backward(struct sup_ctx *c, struct sup_node *n)
{
	const struct mm_plan *p = n->saved;
	sup_t *a = n->in[0], *b = n->in[1];
	const enum sup_dtype dt = a->dtype;
	const size_t es = sup_dtype_size(dt);
	const bool fast = sup_use_fast(c, dt);
	const int64_t M = p->M, N = p->N, K = p->K;
	const int64_t lda = p->ta ? M : K, ldb = p->tb ? K : N;
	/* An operand that is not broadcast over the batch has one disjoint block per GEMM, so a
	 * fresh gradient buffer is written whole by beta = 0 GEMMs; a broadcast one (blocks
	 * revisited) is zeroed and accumulated. ga's GEMM of batch i runs before gb's, so a == b
	 * (u u^T) stores then adds. */
	bool acc_a = true, acc_b = true;
	char *ga = sup_tensor_numel(a) == p->nb * M * K ? sup_grad_buf_acc(c, a, &acc_a) : sup_grad_buf(c, a);
	char *gb = sup_tensor_numel(b) == p->nb * K * N ? sup_grad_buf_acc(c, b, &acc_b) : sup_grad_buf(c, b);
	const double beta_a = acc_a ? 1.0 : 0.0, beta_b = acc_b ? 1.0 : 0.0;
	const char *G = n->out->grad, *A = a->data, *B = b->data;
	for (int64_t i = 0; i < p->nb; i++) {
		const char *g = G + (size_t)(i * M * N) * es;
		const char *ai = A + (size_t)p->off_a[i] * es, *bi = B + (size_t)p->off_b[i] * es;
		if (ga) {
			char *d = ga + (size_t)p->off_a[i] * es;
			if (!p->ta)
				gemm(fast, dt, false, !p->tb, M, K, N, g, N, bi, ldb, beta_a, d, K);
			else
				gemm(fast, dt, p->tb, true, K, M, N, bi, ldb, g, N, beta_a, d, M);
		}
		if (gb) {
			char *d = gb + (size_t)p->off_b[i] * es;
			if (!p->tb)
				gemm(fast, dt, !p->ta, false, K, N, M, ai, lda, g, N, beta_b, d, N);
			else
				gemm(fast, dt, true, p->ta, N, K, M, g, N, ai, lda, beta_b, d, K);
		}
	}
}

const struct sup_op_def sup_opdef_matmul = { "matmul", matmul_backward };

/* Broadcasts the batch axes; fills the plan and the output batch shape. */
static bool plan_batches(struct sup_ctx *c, const sup_t *a, const sup_t *b, struct mm_plan *p, int *out_nb_dims,
			 int64_t *out_shape)
{
	int na = a->ndim - 2, nbd = b->ndim - 2;
	int nd = na > nbd ? na : nbd;
	int64_t sa[SUP_MAX_DIMS], sb[SUP_MAX_DIMS];
	int64_t stride_a = p->M * p->K, stride_b = p->K * p->N; /* matrix sizes */
	for (int i = nd - 1; i >= 0; i--) {
		int ia = i - (nd - na), ib = i - (nd - nbd);
		int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
		if (da != db && da != 1 && db != 1) {
			sup_op_fail_shape(c, "matmul", a, b, "batch axes do not broadcast");
			return false;
		}
		out_shape[i] = da > db ? da : db;
		sa[i] = da == 1 ? 0 : stride_a;
		sb[i] = db == 1 ? 0 : stride_b;
		stride_a *= da;
		stride_b *= db;
	}
	*out_nb_dims = nd;
	p->nb = sup_shape_numel(nd, out_shape);
	p->off_a = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(p->nb + 1));
	p->off_b = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(p->nb + 1));
	if (!p->off_a || !p->off_b)
		return false;
	for (int64_t i = 0; i < p->nb; i++) {
		int64_t rem = i, oa = 0, ob = 0;
		for (int d = nd - 1; d >= 0; d--) {
			int64_t k = rem % out_shape[d];
			rem /= out_shape[d];
			oa += k * sa[d];
			ob += k * sb[d];
		}
		p->off_a[i] = oa;
		p->off_b[i] = ob;
	}
	return true;
}

sup_t *sup_matmul(struct sup_ctx *c, sup_t *a, sup_t *b, bool trans_a, bool trans_b)
{
	sup_t *in[2] = { a, b };
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, "matmul", 2, in))
		return NULL;
	if (a->ndim < 2 || b->ndim < 2)
		return sup_op_fail_shape(c, "matmul", a, b, "operands need at least 2 axes");
	a = sup_contiguous(c, a);
	b = sup_contiguous(c, b);
	if (!a || !b)
		return NULL;
	struct mm_plan *p = sup_ctx_calloc(c, sizeof *p);
	if (!p)
		return NULL;
	p->ta = trans_a;
	p->tb = trans_b;
	p->M = a->shape[a->ndim - (trans_a ? 1 : 2)];
	p->K = a->shape[a->ndim - (trans_a ? 2 : 1)];
	int64_t kb = b->shape[b->ndim - (trans_b ? 1 : 2)];
	p->N = b->shape[b->ndim - (trans_b ? 2 : 1)];
	if (kb != p->K)
		return sup_op_fail_shape(c, "matmul", a, b, "inner dimensions differ");
	int64_t shape[SUP_MAX_DIMS];
	int nd = 0;
	if (b->ndim == 2 && !trans_a) {
		/* A shared B: fold a's batch axes into M, one large GEMM. */
		nd = a->ndim - 2;
		memcpy(shape, a->shape, sizeof(int64_t) * (size_t)nd);
		p->M *= sup_shape_numel(nd, a->shape);
		p->nb = 1;
		p->off_a = sup_ctx_calloc(c, sizeof(int64_t));
		p->off_b = sup_ctx_calloc(c, sizeof(int64_t));
		if (!p->off_a || !p->off_b)
			return NULL;
		shape[nd] = a->shape[a->ndim - 2];
	} else {
		if (!plan_batches(c, a, b, p, &nd, shape))
			return NULL;
		shape[nd] = p->M;
	}
	shape[nd + 1] = p->N;
	sup_t *out = sup_tensor_new(c, a->dtype, nd + 2, shape);
	if (!out)
		return NULL;
	const size_t es = sup_dtype_size(a->dtype);
	const bool fast = sup_use_fast(c, a->dtype);
	const int64_t lda = trans_a ? p->M : p->K, ldb = trans_b ? p->K : p->N;
	for (int64_t i = 0; i < p->nb; i++)
		gemm(fast, a->dtype, trans_a, trans_b, p->M, p->N, p->K, (char *)a->data + (size_t)p->off_a[i] * es, lda,
		     (char *)b->data + (size_t)p->off_b[i] * es, ldb, 0.0, (char *)out->data + (size_t)(i * p->M * p->N) * es,
		     p->N);
	sup_t *ins[2] = { a, b };
	struct sup_node *n = sup_record(c, &sup_opdef_matmul, out, 2, ins);
	if (n)
		n->saved = p;
	return out;
}

/* ---- linear ------------------------------------------------------------------------------------ */

/* y = x w^T + b with x viewed as [M, K]. Backward: dx = G w, dw = G^T x, db = sum over rows of
 * G (column sums in a fixed order: reproducible). */
static void linear_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
	const enum sup_dtype dt = x->dtype;
	const bool fast = sup_use_fast(c, dt);
	const int64_t N = w->shape[0], K = w->shape[1], M = N ? sup_tensor_numel(n->out) / N : 0;
	const void *G = n->out->grad;
	bool acc;
	void *gx = sup_grad_buf_acc(c, x, &acc);
	if (gx)
		gemm(fast, dt, false, false, M, K, N, G, N, w->data, K, acc ? 1.0 : 0.0, gx, K);
	void *gw = sup_grad_buf_acc(c, w, &acc);
	if (gw)
		gemm(fast, dt, true, false, N, K, M, G, N, x->data, K, acc ? 1.0 : 0.0, gw, K);
	void *gb = b ? sup_grad_buf_acc(c, b, &acc) : NULL;
	if (!gb)
		return;
	/* Sum into the buffer itself when it is fresh, else into a scratch row (released right
	 * after, like every backward scratch) added after. */
	struct sup_arena_mark m = sup_arena_mark(&c->arena);
	void *sum = acc ? sup_ctx_alloc(c, (size_t)N * sup_dtype_size(dt)) : gb;
	if (sum) {
		if (dt == SUP_F64)
			sup_ref_sum_f64(sum, G, N, M, 1, N, 1.0);
		else if (fast)
			sup_cpu_sum_f32(sum, G, N, M, 1, N, 1.0f);
		else
			sup_ref_sum_f32(sum, G, N, M, 1, N, 1.0f);
		if (acc && dt == SUP_F64)
			sup_ref_add_bias_f64(gb, sum, 1, N);
		else if (acc)
			sup_ref_add_bias_f32(gb, sum, 1, N);
	}
	sup_arena_rewind(&c->arena, m);
}

const struct sup_op_def sup_opdef_linear = { "linear", linear_backward };

sup_t *sup_linear(struct sup_ctx *c, sup_t *x, sup_t *w, sup_t *b)
{
	sup_t *in[3] = { x, w, b };
	const int n_in = b ? 3 : 2;
	if (!sup_op_inputs_ok(c, n_in, in) || !sup_check_float(c, "linear", n_in, in))
		return NULL;
	if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1])
		return sup_op_fail_shape(c, "linear", x, w, "need x [..., K] and w [N, K]");
	const int64_t N = w->shape[0], K = w->shape[1];
	if (b && (b->ndim != 1 || b->shape[0] != N))
		return sup_op_fail_shape(c, "linear", w, b, "the bias must be [N] for w [N, K]");
	x = sup_contiguous(c, x);
	w = sup_contiguous(c, w);
	b = b ? sup_contiguous(c, b) : NULL;
	if (!x || !w || (n_in == 3 && !b))
		return NULL;
	int64_t shape[SUP_MAX_DIMS];
	memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
	shape[x->ndim - 1] = N;
	sup_t *out = sup_tensor_new(c, x->dtype, x->ndim, shape);
	if (!out)
		return NULL;
	const int64_t M = K ? sup_tensor_numel(x) / K : sup_shape_numel(x->ndim - 1, x->shape);
	const bool fast = sup_use_fast(c, x->dtype);
	gemm(fast, x->dtype, false, true, M, N, K, x->data, K, w->data, K, 0.0, out->data, N);
	if (b && x->dtype == SUP_F64)
		sup_ref_add_bias_f64(out->data, b->data, M, N);
	else if (b && fast)
		sup_cpu_add_bias_f32(out->data, b->data, M, N);
	else if (b)
		sup_ref_add_bias_f32(out->data, b->data, M, N);
	sup_t *ins[3] = { x, w, b };
	sup_record(c, &sup_opdef_linear, out, n_in, ins);
	return out;
}
