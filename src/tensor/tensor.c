/* Tensor headers, shapes, creation in the step arena, slow element access. */
#include "selfsup/tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} dtype_info[] = {
	[SUP_F32] = { "f32", 4 }, [SUP_F64] = { "f64", 8 }, [SUP_I32] = { "i32", 4 },
	[SUP_I64] = { "i64", 8 }, [SUP_U8] = { "u8", 1 },
};
_Static_assert(sizeof(dtype_info) / sizeof(dtype_info[0]) == SUP_DTYPE_COUNT, "every dtype described");

size_t sup_dtype_size(enum sup_dtype dt)
{
	SUP_ASSERT((unsigned)dt < SUP_DTYPE_COUNT);
	return dtype_info[dt].size;
}

const char *sup_dtype_name(enum sup_dtype dt)
{
	return (unsigned)dt < SUP_DTYPE_COUNT ? dtype_info[dt].name : "?";
}

bool sup_dtype_is_float(enum sup_dtype dt)
{
	return dt == SUP_F32 || dt == SUP_F64;
}

int64_t sup_shape_numel(int ndim, const int64_t *shape)
{
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	return n;
}

int64_t sup_tensor_numel(const struct sup_tensor *t)
{
	return sup_shape_numel(t->ndim, t->shape);
}

size_t sup_tensor_nbytes(const struct sup_tensor *t)
{
	return (size_t)sup_tensor_numel(t) * sup_dtype_size(t->dtype);
}

void sup_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride)
{
	int64_t s = 1;
	for (int i = ndim - 1; i >= 0; i--) {
		stride[i] = s;
		s *= shape[i];
	}
}

bool sup_tensor_is_contiguous(const struct sup_tensor *t)
{
	int64_t s = 1;
	for (int i = t->ndim - 1; i >= 0; i--) {
		if (t->shape[i] != 1 && t->stride[i] != s)
			return false;
		s *= t->shape[i];
	}
	return true;
}

bool sup_tensor_same_shape(const struct sup_tensor *a, const struct sup_tensor *b)
{
	if (a->ndim != b->ndim)
		return false;
	for (int i = 0; i < a->ndim; i++)
		if (a->shape[i] != b->shape[i])
			return false;
	return true;
}

char *sup_shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
	size_t n = 0;
	n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "[");
	for (int i = 0; i < ndim; i++)
		n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%lld", i ? ", " : "", (long long)shape[i]);
	snprintf(buf + n, n < size ? size - n : 0, "]");
	return buf;
}

void sup_tensor_init(struct sup_tensor *t, enum sup_dtype dt, int ndim, const int64_t *shape, void *data)
{
	SUP_ASSERT(ndim >= 0 && ndim <= SUP_MAX_DIMS);
	memset(t, 0, sizeof *t);
	t->dtype = dt;
	t->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		t->shape[i] = shape[i];
	sup_contiguous_strides(ndim, shape, t->stride);
	t->data = data;
}

static bool shape_ok(struct sup_ctx *c, int ndim, const int64_t *shape)
{
	if (ndim < 0 || ndim > SUP_MAX_DIMS) {
		sup_ctx_fail(c, SUP_ERR_SHAPE, "tensor rank %d outside 0..%d", ndim, SUP_MAX_DIMS);
		return false;
	}
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0) {
			char buf[128];
			sup_ctx_fail(c, SUP_ERR_SHAPE, "negative size in shape %s",
				     sup_shape_str(buf, sizeof buf, ndim, shape));
			return false;
		}
	}
	return true;
}

struct sup_tensor *sup_tensor_wrap(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
				   void *data)
{
	if (c->err || !shape_ok(c, ndim, shape))
		return NULL;
	struct sup_tensor *t = sup_ctx_alloc(c, sizeof *t);
	if (!t)
		return NULL;
	sup_tensor_init(t, dt, ndim, shape, data);
	return t;
}

struct sup_tensor *sup_tensor_new(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape)
{
	if (c->err || !shape_ok(c, ndim, shape))
		return NULL;
	size_t bytes = (size_t)sup_shape_numel(ndim, shape) * sup_dtype_size(dt);
	void *data = sup_ctx_alloc(c, bytes);
	return data ? sup_tensor_wrap(c, dt, ndim, shape, data) : NULL;
}

struct sup_tensor *sup_tensor_zeros(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	if (t)
		memset(t->data, 0, sup_tensor_nbytes(t));
	return t;
}

struct sup_tensor *sup_tensor_full(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
				   double value)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	if (t)
		sup_tensor_fill(t, value);
	return t;
}

struct sup_tensor *sup_tensor_scalar(struct sup_ctx *c, enum sup_dtype dt, double value)
{
	return sup_tensor_full(c, dt, 0, NULL, value);
}

struct sup_tensor *sup_tensor_new_like(struct sup_ctx *c, const struct sup_tensor *t)
{
	return sup_tensor_new(c, t->dtype, t->ndim, t->shape);
}

/* Offset in elements of logical row-major index i. */
static int64_t elem_offset(const struct sup_tensor *t, int64_t i)
{
	int64_t off = 0;
	for (int d = t->ndim - 1; d >= 0; d--) {
		int64_t n = t->shape[d];
		off += (i % n) * t->stride[d];
		i /= n;
	}
	return off;
}

static double load(const void *p, enum sup_dtype dt, int64_t off)
{
	switch (dt) {
	case SUP_F32: return ((const float *)p)[off];
	case SUP_F64: return ((const double *)p)[off];
	case SUP_I32: return ((const int32_t *)p)[off];
	case SUP_I64: return (double)((const int64_t *)p)[off];
	case SUP_U8: return ((const uint8_t *)p)[off];
	default: SUP_ASSERT(0 && "bad dtype");
	}
}

static void store(void *p, enum sup_dtype dt, int64_t off, double v)
{
	switch (dt) {
	case SUP_F32: ((float *)p)[off] = (float)v; break;
	case SUP_F64: ((double *)p)[off] = v; break;
	case SUP_I32: ((int32_t *)p)[off] = (int32_t)v; break;
	case SUP_I64: ((int64_t *)p)[off] = (int64_t)v; break;
	case SUP_U8: ((uint8_t *)p)[off] = (uint8_t)v; break;
	default: SUP_ASSERT(0 && "bad dtype");
	}
}

double sup_tensor_get(const struct sup_tensor *t, int64_t i)
{
	return load(t->data, t->dtype, elem_offset(t, i));
}

void sup_tensor_set(struct sup_tensor *t, int64_t i, double v)
{
	store(t->data, t->dtype, elem_offset(t, i), v);
}

double sup_tensor_grad_get(const struct sup_tensor *t, int64_t i)
{
	return t->grad ? load(t->grad, t->dtype, i) : 0.0;
}

void *sup_tensor_ptr(const struct sup_tensor *t, const int64_t *idx)
{
	int64_t off = 0;
	for (int d = 0; d < t->ndim; d++)
		off += idx[d] * t->stride[d];
	return (char *)t->data + off * (int64_t)sup_dtype_size(t->dtype);
}

struct sup_tensor *sup_tensor_to(struct sup_ctx *c, const struct sup_tensor *t, enum sup_dtype dt)
{
	if (!t)
		return NULL;
	struct sup_tensor *o = sup_tensor_new(c, dt, t->ndim, t->shape);
	if (!o)
		return NULL;
	int64_t n = sup_tensor_numel(t);
	if (dt == t->dtype && sup_tensor_is_contiguous(t)) {
		memcpy(o->data, t->data, sup_tensor_nbytes(t));
		return o;
	}
	for (int64_t i = 0; i < n; i++)
		store(o->data, dt, i, sup_tensor_get(t, i));
	return o;
}

struct sup_tensor *sup_tensor_clone(struct sup_ctx *c, const struct sup_tensor *t)
{
	return t ? sup_tensor_to(c, t, t->dtype) : NULL;
}

void sup_tensor_fill(struct sup_tensor *t, double value)
{
	int64_t n = sup_tensor_numel(t);
	for (int64_t i = 0; i < n; i++)
		sup_tensor_set(t, i, value);
}

void sup_tensor_fill_uniform(struct sup_tensor *t, struct sup_rng *r, double lo, double hi)
{
	SUP_ASSERT(sup_dtype_is_float(t->dtype));
	int64_t n = sup_tensor_numel(t);
	for (int64_t i = 0; i < n; i++)
		sup_tensor_set(t, i, lo + (hi - lo) * sup_rng_uniform(r));
}

void sup_tensor_fill_normal(struct sup_tensor *t, struct sup_rng *r, double mean, double std)
{
	SUP_ASSERT(sup_dtype_is_float(t->dtype));
	int64_t n = sup_tensor_numel(t);
	for (int64_t i = 0; i < n; i++)
		sup_tensor_set(t, i, mean + std * sup_rng_normal(r));
}
