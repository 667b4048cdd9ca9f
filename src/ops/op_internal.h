/* Internal helpers shared by the op implementations (the files of src/ops/). Not installed.
 *
 * How an op is written:
 *   1. check inputs (sup_op_begin + the sup_check_* helpers), record errors with sup_ctx_fail;
 *   2. allocate the output in the arena and run the kernel (reference or fast, by backend/dtype);
 *   3. sup_record() the node with the attributes backward needs;
 *   4. backward: grad_out = n->out->grad (contiguous); for each input that requires grad,
 *      g = sup_grad_buf(c, in) and *accumulate* (+=) into it (or sup_grad_buf_acc, and store
 *      when told to, when the kernel writes every element). */
#ifndef SELFSUP_OP_INTERNAL_H
#define SELFSUP_OP_INTERNAL_H

#include "selfsup/ops.h"

/* Every differentiable op, in table order. Each op file defines `const struct sup_op_def
 * sup_opdef_<name>` for its ops; registry.c builds the table from this list. */
#define SUP_OP_LIST(X)                                                                           \
	X(add) X(sub) X(mul) X(div) X(pow) X(minimum) X(maximum) X(where)                        \
	X(add_scalar) X(mul_scalar) X(pow_scalar) X(clamp)                                       \
	X(neg) X(exp) X(log) X(sqrt) X(rsqrt) X(abs) X(relu) X(leaky_relu) X(elu) X(gelu)        \
	X(sigmoid) X(tanh) X(softplus) X(prelu)                                                  \
	X(sum) X(mean) X(max) X(logsumexp) X(var)                                                \
	X(matmul) X(linear) X(attention) X(spmm)                                                                        \
	X(reshape) X(permute) X(transpose) X(slice) X(contiguous) X(concat) X(stack) X(pad)      \
	X(gather) X(index_select) X(scatter_add) X(embedding)                                    \
	X(softmax) X(log_softmax) X(l2_normalize) X(layer_norm) X(batch_norm) X(dropout)         \
	X(conv2d) X(conv_transpose2d) X(max_pool2d) X(avg_pool2d) X(adaptive_avg_pool2d)         \
	X(upsample_nearest2d)                                                                    \
	X(cross_entropy) X(bce_with_logits) X(mse) X(gaussian_kl)                        \
	X(all_gather)

#define SUP_OP_DECLARE(name) extern const struct sup_op_def sup_opdef_##name;
SUP_OP_LIST(SUP_OP_DECLARE)
#undef SUP_OP_DECLARE

/* Returns false when any input is NULL (an earlier failure: stay silent) or the context already
 * holds an error; ops then return NULL at once. */
bool sup_op_inputs_ok(const struct sup_ctx *c, int n, sup_t *const *in);

/* Error helpers: record a sticky error mentioning the op name; always return NULL. */
sup_t *sup_op_fail_shape(struct sup_ctx *c, const char *op, const sup_t *a, const sup_t *b, const char *why);
sup_t *sup_op_fail_dtype(struct sup_ctx *c, const char *op, const sup_t *a);
sup_t *sup_op_fail_arg(struct sup_ctx *c, const char *op, const char *why);

/* Float input check: f32/f64, and equal dtypes across the n tensors (NULL entries skipped). */
bool sup_check_float(struct sup_ctx *c, const char *op, int n, sup_t *const *in);
/* Index input check: i32 or i64. */
bool sup_check_index(struct sup_ctx *c, const char *op, const sup_t *idx);
/* Normalises axis (may be negative) for rank ndim; records an error and returns -1 if invalid. */
int sup_check_axis(struct sup_ctx *c, const char *op, int axis, int ndim);
/* Reads element i (row-major logical index... of a contiguous index tensor) as int64. */
int64_t sup_index_at(const sup_t *idx, int64_t i);

/* True when grad mode is on and one of the inputs requires grad. */
bool sup_needs_grad(const struct sup_ctx *c, int n, sup_t *const *in);
/* Records a node for `out` if sup_needs_grad; sets out->requires_grad and out->node. Copies the
 * input pointer array into the arena. Returns the node (NULL when nothing was recorded or on
 * out-of-memory, which is recorded as the sticky error). */
struct sup_node *sup_record(struct sup_ctx *c, const struct sup_op_def *op, sup_t *out, int n,
			    sup_t *const *in);

/* The gradient buffer of t (contiguous, t's dtype and shape), zeroed on first use, for
 * backward code that accumulates (+=); NULL when t does not require grad (or on out-of-memory,
 * recorded).
 *
 * Gradient buffers are allocated uninitialised (t->grad_fresh): zeroing every intermediate's
 * gradient and then adding into it costs a write and a read of each buffer that the first
 * contribution does not need. Backward code that writes *every* element of the buffer can call
 * sup_grad_buf_acc instead: *acc tells whether to accumulate (the buffer holds a gradient
 * already) or to store (the first contribution: the caller must then overwrite all of it).
 * Either call ends the fresh state, so a tensor appearing twice among an op's inputs gets
 * store for the first call and accumulate for the second, provided the first write finishes
 * (per element) before the second adds. */
void *sup_grad_buf(struct sup_ctx *c, sup_t *t);
void *sup_grad_buf_acc(struct sup_ctx *c, sup_t *t, bool *acc);
/* sup_grad_release() (ops.h) frees a pooled gradient buffer. sup_grad_forget_stale() clears
 * t->grad when it is a pooled buffer from before the pool's last reset (or from another
 * context's pool): a persistent leaf's gradient from an earlier step, whose memory the pool
 * has handed out again. sup_grad_buf* call it; code that looks at t->grad itself first must
 * call it too. */
void sup_grad_forget_stale(const struct sup_ctx *c, sup_t *t);

/* Backend choice for a float op: the fast CPU kernels only for f32 on SUP_BACKEND_CPU. */
static inline bool sup_use_fast(const struct sup_ctx *c, enum sup_dtype dt)
{
	return c->backend == SUP_BACKEND_CPU && dt == SUP_F32;
}

/* A tensor header in the arena that views `a` (same data, strides), untracked. */
sup_t *sup_view_of(struct sup_ctx *c, const sup_t *a);

#endif
