/* selfsup ops: every differentiable operation, eager, recorded on the context's tape.
 *
 * Common contract of every function here:
 *  - Inputs may be NULL (an earlier op failed): the op returns NULL without touching anything.
 *  - Bad input (shape, dtype, argument) records a sticky error in the context naming the op and
 *    the shapes involved, and returns NULL. Nothing aborts on bad input.
 *  - Differentiable ops take f32 or f64 inputs (all float inputs of one call share a dtype);
 *    index inputs are i64 or i32. Outputs are new contiguous arena tensors, except the view ops
 *    (reshape of a contiguous tensor, permute, transpose, slice, detach) which share data.
 *  - When grad mode is on and an input requires grad, the output requires grad and a node is
 *    recorded; sup_backward() (autograd.h) later accumulates into the inputs' gradients.
 *  - Axes may be negative (counted from the end).
 *  - Elementwise binary ops broadcast as NumPy does. */
#ifndef SELFSUP_OPS_H
#define SELFSUP_OPS_H

#include "selfsup/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sup_tensor sup_t; /* shorthand for the signatures below only */

/* ---- the op table and the tape --------------------------------------------------------------- */

struct sup_node;
struct sup_op_def {
	const char *name;
	/* Reads n->out->grad and accumulates into the grads of n->in[i] that require grad. NULL for
	 * ops that produce no gradient (argmax, ...); those never appear on a tape. */
	void (*backward)(struct sup_ctx *c, struct sup_node *n);
};

#define SUP_NODE_IARGS 12
#define SUP_NODE_FARGS 4
struct sup_node {
	const struct sup_op_def *op;
	struct sup_node *prev; /* recorded before this one */
	sup_t *out;
	int n_in;
	sup_t **in;
	int64_t iarg[SUP_NODE_IARGS]; /* op-specific integer attributes */
	double farg[SUP_NODE_FARGS];  /* op-specific float attributes */
	void *saved;                  /* op-specific data kept for backward (arena) */
};

/* All ops, in table order. The table is how gradcheck finds ops that lack a test case. */
int sup_op_count(void);
/* The definition of table entry i (NULL for an index out of range or an op not linked in). */
const struct sup_op_def *sup_op_get(int i);
/* The name of table entry i, even when its definition is missing. */
const char *sup_op_name_at(int i);
const struct sup_op_def *sup_op_find(const char *name);

/* ---- gradient buffers ------------------------------------------------------------------------ */

/* Ops' backward functions get the gradient buffers of their inputs from the context's gradient
 * pool (t->grad_pooled; docs/autograd/README.md). This frees t's buffer when it came from there
 * and sets t->grad to NULL; it leaves any other gradient (a parameter's, in its model's block)
 * alone. NULL-safe. For leaves reused across several backward passes in one step (gradcheck):
 * their old gradient goes back to the pool instead of being accumulated into. */
void sup_grad_release(struct sup_ctx *c, sup_t *t);

/* ---- elementwise binary (broadcasting) ------------------------------------------------------ */

sup_t *sup_add(struct sup_ctx *c, sup_t *a, sup_t *b);
sup_t *sup_sub(struct sup_ctx *c, sup_t *a, sup_t *b);
sup_t *sup_mul(struct sup_ctx *c, sup_t *a, sup_t *b);
sup_t *sup_div(struct sup_ctx *c, sup_t *a, sup_t *b);
sup_t *sup_pow(struct sup_ctx *c, sup_t *a, sup_t *b);     /* a > 0 where b is not an integer */
sup_t *sup_minimum(struct sup_ctx *c, sup_t *a, sup_t *b); /* ties send the gradient to a */
sup_t *sup_maximum(struct sup_ctx *c, sup_t *a, sup_t *b); /* ties send the gradient to a */
/* cond: u8 (nonzero = take a), broadcast with a and b. No gradient to cond. */
sup_t *sup_where(struct sup_ctx *c, sup_t *cond, sup_t *a, sup_t *b);

/* ---- elementwise with a scalar ---------------------------------------------------------------- */

sup_t *sup_add_scalar(struct sup_ctx *c, sup_t *a, double s);
sup_t *sup_mul_scalar(struct sup_ctx *c, sup_t *a, double s);
sup_t *sup_pow_scalar(struct sup_ctx *c, sup_t *a, double p);
sup_t *sup_clamp(struct sup_ctx *c, sup_t *a, double lo, double hi); /* -INFINITY/INFINITY: open */

/* ---- elementwise unary ------------------------------------------------------------------------ */

sup_t *sup_neg(struct sup_ctx *c, sup_t *a);
sup_t *sup_exp(struct sup_ctx *c, sup_t *a);
sup_t *sup_log(struct sup_ctx *c, sup_t *a);
sup_t *sup_sqrt(struct sup_ctx *c, sup_t *a);
sup_t *sup_rsqrt(struct sup_ctx *c, sup_t *a);
sup_t *sup_abs(struct sup_ctx *c, sup_t *a);
sup_t *sup_relu(struct sup_ctx *c, sup_t *a);
sup_t *sup_leaky_relu(struct sup_ctx *c, sup_t *a, double slope);
sup_t *sup_elu(struct sup_ctx *c, sup_t *a, double alpha);
/* GELU, exact (x * Phi(x) with erf) or the tanh approximation of Hendrycks & Gimpel. */
sup_t *sup_gelu(struct sup_ctx *c, sup_t *a, bool tanh_approx);
sup_t *sup_sigmoid(struct sup_ctx *c, sup_t *a);
sup_t *sup_tanh(struct sup_ctx *c, sup_t *a);
sup_t *sup_softplus(struct sup_ctx *c, sup_t *a); /* log(1 + e^x), stable for large |x| */
/* PReLU: slope has 1 element (shared) or C = a->shape[1] elements (one per channel). */
sup_t *sup_prelu(struct sup_ctx *c, sup_t *a, sup_t *slope);

/* ---- reductions ------------------------------------------------------------------------------- */

/* axes: n_axes distinct axes; n_axes == 0 reduces over all axes. keepdim keeps size-1 axes. */
sup_t *sup_sum(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, bool keepdim);
sup_t *sup_mean(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, bool keepdim);
/* Maximum over axes; the gradient goes to the first maximal element of each reduced group. */
sup_t *sup_max(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, bool keepdim);
sup_t *sup_logsumexp(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, bool keepdim);
/* Variance; correction 1 = unbiased (divides by n - 1), 0 = population. */
sup_t *sup_var(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, int correction, bool keepdim);

/* ---- linear algebra --------------------------------------------------------------------------- */

/* op(a) @ op(b) with op = transpose of the last two axes when the flag is set.
 * a: [..., M, K], b: [..., K, N] (after op); leading batch axes broadcast (a 2-D b is shared by
 * every batch of a). Output [..., M, N]. */
sup_t *sup_matmul(struct sup_ctx *c, sup_t *a, sup_t *b, bool trans_a, bool trans_b);

/* x @ w^T + b (PyTorch's F.linear) in one op: x: [..., K], w: [N, K], b: [N] or NULL; output
 * [..., N]. The same values as matmul + add (the bias is added to the finished product), but
 * one output tensor instead of two: the product before the bias is never kept. */
sup_t *sup_linear(struct sup_ctx *c, sup_t *x, sup_t *w, sup_t *b);

/* Multi-head scaled dot-product attention, fused (Vaswani et al. 2017, §3.2.1-3.2.2):
 * q [B, T, D], k and v [B, S, D], D = heads * dh; head h uses columns h*dh .. h*dh + dh - 1 of
 * each. Output [B, T, D] = per head softmax(scale q_h k_h^T + mask) v_h, heads side by side.
 * mask: NULL or an additive constant [1 or B, 1, 1 or T, S] of q's dtype: the op computes no
 * gradient for it, so a mask that requires grad while grad mode is on is an error (SUP_ERR_ARG;
 * add a learned bias to the scores with the unfused ops instead). Gradients flow to q, k and v.
 * Keeps only the probabilities [B, heads, T, S] for backward, which the unfused chain of views,
 * copies, matmuls and softmax did not. */
sup_t *sup_attention(struct sup_ctx *c, sup_t *q, sup_t *k, sup_t *v, sup_t *mask, int64_t heads, double scale);

/* CSR sparse matrix (not differentiable itself): rows x cols, indptr[rows + 1] (i64),
 * indices[nnz] (i32, < cols), values[nnz] in the dtype of the dense operand. Owned by the caller;
 * must outlive the step's backward. */
struct sup_csr {
	int64_t rows, cols, nnz;
	const int64_t *indptr;
	const int32_t *indices;
	const void *values;
	enum sup_dtype dtype;
};
/* A @ x with x: [cols, D] -> [rows, D]. Gradient flows to x only (A^T @ grad). */
sup_t *sup_spmm(struct sup_ctx *c, const struct sup_csr *a, sup_t *x);

/* ---- shape and indexing ----------------------------------------------------------------------- */

/* One entry of shape may be -1 (inferred). A view when a is contiguous, else a copy. */
sup_t *sup_reshape(struct sup_ctx *c, sup_t *a, int ndim, const int64_t *shape);
sup_t *sup_permute(struct sup_ctx *c, sup_t *a, const int *perm); /* view */
sup_t *sup_transpose(struct sup_ctx *c, sup_t *a, int d0, int d1);  /* view */
/* Elements start, start+step, ... < end along dim (step >= 1; start/end clamped like Python). View. */
sup_t *sup_slice(struct sup_ctx *c, sup_t *a, int dim, int64_t start, int64_t end, int64_t step);
sup_t *sup_contiguous(struct sup_ctx *c, sup_t *a); /* a itself when already contiguous */
sup_t *sup_concat(struct sup_ctx *c, sup_t *const *xs, int n, int dim);
sup_t *sup_stack(struct sup_ctx *c, sup_t *const *xs, int n, int dim);
/* Constant padding: pads[2*i], pads[2*i+1] = elements before/after along axis i (>= 0). */
sup_t *sup_pad(struct sup_ctx *c, sup_t *a, const int64_t *pads, double value);
/* out[i][j] = a[index[i][j]][j] (dim 0) etc., as torch.gather: index has a's rank. */
sup_t *sup_gather(struct sup_ctx *c, sup_t *a, int dim, sup_t *index);
/* Selects entries of `index` (1-D) along dim. */
sup_t *sup_index_select(struct sup_ctx *c, sup_t *a, int dim, sup_t *index);
/* out = a, then out[index[i][j]][j] += src[i][j] (dim 0) etc., as torch.scatter_add. */
sup_t *sup_scatter_add(struct sup_ctx *c, sup_t *a, int dim, sup_t *index, sup_t *src);
/* weight [V, D], ids (any shape, values in [0, V)) -> [ids..., D]. */
sup_t *sup_embedding(struct sup_ctx *c, sup_t *weight, sup_t *ids);
/* Same data, no gradient: the stop-gradient of BYOL/SimSiam/MoCo targets. */
sup_t *sup_detach(struct sup_ctx *c, sup_t *a);

/* ---- normalisation and probabilities ---------------------------------------------------------- */

sup_t *sup_softmax(struct sup_ctx *c, sup_t *a, int dim);
sup_t *sup_log_softmax(struct sup_ctx *c, sup_t *a, int dim);
/* x / max(||x||_2, eps) along dim. */
sup_t *sup_l2_normalize(struct sup_ctx *c, sup_t *a, int dim, double eps);
/* Normalises over the last axis; weight and bias ([C]) may be NULL. */
sup_t *sup_layer_norm(struct sup_ctx *c, sup_t *a, sup_t *weight, sup_t *bias, double eps);
/* Batch norm over axis 1 of [N, C] or [N, C, H, W]. Training: batch statistics, and when
 * running_mean/var are given they are updated in place (unbiased var), no gradient.
 * Eval: uses the running statistics. weight/bias may be NULL. */
struct sup_bn_sync;
struct sup_batch_norm_args {
	bool training;
	double momentum; /* PyTorch convention: running = (1 - m) running + m batch; default 0.1 */
	double eps;      /* default 1e-5 */
	/* Synchronised statistics over processes (training only), or NULL for local statistics. */
	const struct sup_bn_sync *sync;
};
/* Synchronised batch norm (SimCLR's global BN; PyTorch's SyncBatchNorm): allreduce_sum must
 * replace buf[0..n) in place by its element-wise sum over every process (an MPI_Allreduce), and
 * every process must run the same batch-norm calls in the same order. Forward sums the
 * per-channel sums, sums of squares and counts; backward sums the per-channel sums of dy and
 * dy * x_hat. Parameter gradients stay local (the data-parallel gradient average sums them). */
struct sup_bn_sync {
	enum sup_status (*allreduce_sum)(void *user, double *buf, int64_t n);
	void *user;
};
sup_t *sup_batch_norm(struct sup_ctx *c, sup_t *a, sup_t *weight, sup_t *bias, sup_t *running_mean,
		      sup_t *running_var, const struct sup_batch_norm_args *args);
/* Inverted dropout: zeroes with probability p and scales the rest by 1 / (1 - p); the mask is a
 * function of the context RNG. Identity when !training or p == 0. With a group in c->comm, a is
 * taken as this process's shard of a batch-major tensor (axis 0 = examples, equal shards in rank
 * order) and each element's draw is that of its global position, so K shards get the masks one
 * process gets on the whole batch (data-parallel equivalence, docs/dist.md). */
sup_t *sup_dropout(struct sup_ctx *c, sup_t *a, double p, bool training);

/* ---- collectives (data parallelism) -----------------------------------------------------------
 * all_gather: a [n, ...] on every process of c->comm -> [K n, ...], the processes' tensors
 * concatenated along axis 0 in rank order (the same shape on every process). Backward: the
 * gradient of the output is summed over the processes (an allreduce) and this process's rows are
 * its input's gradient, which is exactly d(sum of every process's loss)/d(a): the loss of each
 * process may then use every process's rows (gathered negatives, SimCLR's global NT-Xent) and
 * the data-parallel average of parameter gradients is that of the global batch. Every process
 * must call it (and run backward) in the same order. One process (c->comm NULL or of size 1): a
 * recorded copy. A failed collective records SUP_ERR_COMM. */
sup_t *sup_all_gather(struct sup_ctx *c, sup_t *a);

/* ---- convolution and pooling (NCHW) ----------------------------------------------------------- */

struct sup_conv2d_args {
	int stride[2];   /* (h, w); 0 means 1 */
	int padding[2];  /* zero padding */
	int dilation[2]; /* 0 means 1 */
	int groups;      /* 0 means 1 */
	int output_padding[2]; /* conv_transpose2d only */
};
/* x [N, Cin, H, W], w [Cout, Cin/groups, KH, KW], b [Cout] or NULL. */
sup_t *sup_conv2d(struct sup_ctx *c, sup_t *x, sup_t *w, sup_t *b, const struct sup_conv2d_args *args);
/* x [N, Cin, H, W], w [Cin, Cout/groups, KH, KW] (PyTorch layout), b [Cout] or NULL. */
sup_t *sup_conv_transpose2d(struct sup_ctx *c, sup_t *x, sup_t *w, sup_t *b,
			    const struct sup_conv2d_args *args);
struct sup_pool2d_args {
	int kernel[2];
	int stride[2]; /* 0 means kernel */
	int padding[2];
};
sup_t *sup_max_pool2d(struct sup_ctx *c, sup_t *x, const struct sup_pool2d_args *args);
/* Padding counts toward the divisor (PyTorch's count_include_pad=True). */
sup_t *sup_avg_pool2d(struct sup_ctx *c, sup_t *x, const struct sup_pool2d_args *args);
sup_t *sup_adaptive_avg_pool2d(struct sup_ctx *c, sup_t *x, int out_h, int out_w);
sup_t *sup_upsample_nearest2d(struct sup_ctx *c, sup_t *x, int scale_h, int scale_w);

/* ---- losses (return a scalar for MEAN/SUM, per-element or per-row for NONE) -------------------- */

enum sup_reduction { SUP_REDUCE_MEAN, SUP_REDUCE_SUM, SUP_REDUCE_NONE, SUP_REDUCTION_COUNT };

/* logits [N, C], target [N] class ids (i64/i32). Rows whose target == ignore_index are left out
 * (MEAN divides by the rows kept). label_smoothing in [0, 1) as in PyTorch. NONE gives [N]. */
sup_t *sup_cross_entropy(struct sup_ctx *c, sup_t *logits, sup_t *target, int64_t ignore_index,
			 double label_smoothing, enum sup_reduction red);
/* Binary cross-entropy on logits, numerically stable; target has logits' shape, values in [0,1]. */
sup_t *sup_bce_with_logits(struct sup_ctx *c, sup_t *logits, sup_t *target, enum sup_reduction red);
sup_t *sup_mse(struct sup_ctx *c, sup_t *a, sup_t *b, enum sup_reduction red);
/* KL(N(mu, exp(logvar)) || N(0, 1)) per element: -0.5 (1 + logvar - mu^2 - exp(logvar)). */
sup_t *sup_gaussian_kl(struct sup_ctx *c, sup_t *mu, sup_t *logvar, enum sup_reduction red);

/* ---- non-differentiable helpers (never recorded) ---------------------------------------------- */

sup_t *sup_argmax(struct sup_ctx *c, sup_t *a, int dim, bool keepdim); /* i64, first maximum */
/* k largest (or smallest) along dim, sorted; values and/or indices (i64) may be requested. */
enum sup_status sup_topk(struct sup_ctx *c, sup_t *a, int64_t k, int dim, bool largest, sup_t **values,
			 sup_t **indices);
/* Stable sort along dim. */
enum sup_status sup_sort(struct sup_ctx *c, sup_t *a, int dim, bool descending, sup_t **values,
			 sup_t **indices);
sup_t *sup_one_hot(struct sup_ctx *c, sup_t *ids, int64_t n_classes, enum sup_dtype dt);
/* Multi-indices of the nonzero elements, row-major order: i64 [count, ndim]. */
sup_t *sup_nonzero(struct sup_ctx *c, sup_t *a);

#ifdef __cplusplus
}
#endif
#endif
