/* Shared op plumbing: input checks, error messages, recording nodes, gradient buffers. */
#include "op_internal.h"

#include <string.h>

bool sup_op_inputs_ok(const struct sup_ctx *c, int n, sup_t *const *in)
{
	if (c->err)
		return false;
	for (int i = 0; i < n; i++)
		if (!in[i])
			return false;
	return true;
}

sup_t *sup_op_fail_shape(struct sup_ctx *c, const char *op, const sup_t *a, const sup_t *b, const char *why)
{
	char sa[128], sb[128];
	sup_shape_str(sa, sizeof sa, a->ndim, a->shape);
	if (b)
		sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: %s (shapes %s and %s)", op, why, sa,
			     sup_shape_str(sb, sizeof sb, b->ndim, b->shape));
	else
		sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: %s (shape %s)", op, why, sa);
	return NULL;
}

sup_t *sup_op_fail_dtype(struct sup_ctx *c, const char *op, const sup_t *a)
{
	sup_ctx_fail(c, SUP_ERR_DTYPE, "%s: unsupported dtype %s", op, sup_dtype_name(a->dtype));
	return NULL;
}

sup_t *sup_op_fail_arg(struct sup_ctx *c, const char *op, const char *why)
{
	sup_ctx_fail(c, SUP_ERR_ARG, "%s: %s", op, why);
	return NULL;
}

bool sup_check_float(struct sup_ctx *c, const char *op, int n, sup_t *const *in)
{
	const sup_t *first = NULL;
	for (int i = 0; i < n; i++) {
		if (!in[i])
			continue;
		if (!sup_dtype_is_float(in[i]->dtype)) {
			sup_op_fail_dtype(c, op, in[i]);
			return false;
		}
		if (first && first->dtype != in[i]->dtype) {
			sup_ctx_fail(c, SUP_ERR_DTYPE, "%s: mixed dtypes %s and %s", op, sup_dtype_name(first->dtype),
				     sup_dtype_name(in[i]->dtype));
			return false;
		}
		first = first ? first : in[i];
	}
	return true;
}

bool sup_check_index(struct sup_ctx *c, const char *op, const sup_t *idx)
{
	if (idx->dtype == SUP_I64 || idx->dtype == SUP_I32)
		return true;
	sup_ctx_fail(c, SUP_ERR_DTYPE, "%s: index tensor must be i64 or i32, got %s", op,
		     sup_dtype_name(idx->dtype));
	return false;
}

int sup_check_axis(struct sup_ctx *c, const char *op, int axis, int ndim)
{
	int a = axis < 0 ? axis + ndim : axis;
	if (a < 0 || a >= ndim) {
		sup_ctx_fail(c, SUP_ERR_ARG, "%s: axis %d out of range for a rank-%d tensor", op, axis, ndim);
		return -1;
	}
	return a;
}

int64_t sup_index_at(const sup_t *idx, int64_t i)
{
	return idx->dtype == SUP_I64 ? ((const int64_t *)idx->data)[i] : ((const int32_t *)idx->data)[i];
}

bool sup_needs_grad(const struct sup_ctx *c, int n, sup_t *const *in)
{
	if (!sup_grad_enabled(c))
		return false;
	for (int i = 0; i < n; i++)
		if (in[i] && in[i]->requires_grad)
			return true;
	return false;
}

struct sup_node *sup_record(struct sup_ctx *c, const struct sup_op_def *op, sup_t *out, int n, sup_t *const *in)
{
	if (!out || !sup_needs_grad(c, n, in))
		return NULL;
	struct sup_node *node = sup_ctx_calloc(c, sizeof *node);
	sup_t **ins = sup_ctx_alloc(c, sizeof(sup_t *) * (size_t)(n ? n : 1));
	if (!node || !ins)
		return NULL;
	memcpy(ins, in, sizeof(sup_t *) * (size_t)n);
	node->op = op;
	node->out = out;
	node->n_in = n;
	node->in = ins;
	node->prev = c->tape;
	c->tape = node;
	c->tape_len++;
	out->requires_grad = true;
	out->node = node;
	return node;
}

/* A fresh (uninitialised) pooled gradient buffer for t; records out-of-memory. */
static void grad_alloc(struct sup_ctx *c, sup_t *t)
{
	const size_t size = sup_tensor_nbytes(t);
	t->grad = sup_pool_alloc(&c->grad_pool, size);
	t->grad_fresh = t->grad_pooled = t->grad != NULL;
	t->grad_pool = &c->grad_pool;
	t->grad_gen = c->grad_pool.generation;
	if (!t->grad)
		sup_ctx_fail(c, SUP_ERR_NOMEM, "out of memory allocating a %zu-byte gradient buffer", size);
}

static bool grad_stale(const struct sup_ctx *c, const sup_t *t)
{
	return t->grad_pooled && (t->grad_pool != &c->grad_pool || t->grad_gen != c->grad_pool.generation);
}

static void grad_forget(sup_t *t)
{
	t->grad = NULL;
	t->grad_pooled = false;
	t->grad_fresh = false;
}

void sup_grad_forget_stale(const struct sup_ctx *c, sup_t *t)
{
	if (t && grad_stale(c, t))
		grad_forget(t);
}

void sup_grad_release(struct sup_ctx *c, sup_t *t)
{
	if (!t || !t->grad_pooled)
		return;
	if (!grad_stale(c, t)) /* a stale block is no longer t's to free */
		sup_pool_free(&c->grad_pool, t->grad);
	grad_forget(t);
}

void *sup_grad_buf(struct sup_ctx *c, sup_t *t)
{
	if (!t || !t->requires_grad)
		return NULL;
	sup_grad_forget_stale(c, t);
	if (!t->grad)
		grad_alloc(c, t);
	if (t->grad_fresh) {
		memset(t->grad, 0, sup_tensor_nbytes(t));
		t->grad_fresh = false;
	}
	return t->grad;
}

void *sup_grad_buf_acc(struct sup_ctx *c, sup_t *t, bool *acc)
{
	*acc = true;
	if (!t || !t->requires_grad)
		return NULL;
	sup_grad_forget_stale(c, t);
	if (!t->grad)
		grad_alloc(c, t);
	*acc = !t->grad_fresh;
	t->grad_fresh = false;
	return t->grad;
}

sup_t *sup_view_of(struct sup_ctx *c, const sup_t *a)
{
	sup_t *v = sup_ctx_alloc(c, sizeof *v);
	if (!v)
		return NULL;
	*v = *a;
	v->grad = NULL;
	v->grad_fresh = false;
	v->grad_pooled = false;
	v->requires_grad = false;
	v->node = NULL;
	return v;
}
