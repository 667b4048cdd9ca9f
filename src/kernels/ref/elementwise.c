/* Reference elementwise kernels: plain strided loops in the element type (the spec).
 *
 * Strided kernels walk the index space row by row: an odometer over the outer ndim - 1 axes,
 * the innermost axis as a plain loop. The contiguous output index advances by one per element,
 * so gradient accumulation into broadcast operands (stride 0) happens in row-major order. */
#include "kernels/elementwise.h"

#include "selfsup/tensor.h"

/* Advances idx over the outer axes; false when the walk is done. */
static bool next_row(int64_t *idx, int outer, const int64_t *shape)
{
	for (int d = outer - 1; d >= 0; d--) {
		if (++idx[d] < shape[d])
			return true;
		idx[d] = 0;
	}
	return false;
}

static int64_t row_off(const int64_t *idx, const int64_t *stride, int outer)
{
	int64_t off = 0;
	for (int d = 0; d < outer; d++)
		off += idx[d] * stride[d];
	return off;
}

static bool is_empty(int ndim, const int64_t *shape)
{
	for (int d = 0; d < ndim; d++)
		if (shape[d] == 0)
			return true;
	return false;
}

/* Opens a row walk: declares idx, i0 (contiguous index of the row start), outer and n. */
#define ROWS_BEGIN                                                    \
	SUP_ASSERT(ndim >= 1 && ndim <= SUP_MAX_DIMS);                \
	if (is_empty(ndim, shape))                                    \
		return;                                               \
	int64_t idx[SUP_MAX_DIMS] = { 0 }, i0 = 0;                    \
	const int outer = ndim - 1;                                   \
	const int64_t n = shape[outer];                               \
	do {
#define ROWS_END                                                      \
	i0 += n;                                                      \
	}                                                             \
	while (next_row(idx, outer, shape))

/* ---- unary -------------------------------------------------------------------------------------- */

#define UNARY(T, S)                                                                                 \
	const T q0 = (T)p0, q1 = (T)p1;                                                             \
	const int64_t sx = xs[ndim - 1];                                                            \
	ROWS_BEGIN                                                                                  \
	const T *xr = x + row_off(idx, xs, outer);                                                  \
	for (int64_t j = 0; j < n; j++)                                                             \
		y[i0 + j] = sup_ew_unary_##S(op, q0, q1, xr[j * sx]);                               \
	ROWS_END;

#define UNARY_GRAD(T, S)                                                                            \
	const T q0 = (T)p0, q1 = (T)p1;                                                             \
	const int64_t sx = xs[ndim - 1];                                                            \
	ROWS_BEGIN                                                                                  \
	const T *xr = x + row_off(idx, xs, outer);                                                  \
	for (int64_t j = 0; j < n; j++)                                                             \
		dx[i0 + j] += g[i0 + j] * sup_ew_unary_d_##S(op, q0, q1, xr[j * sx], y[i0 + j]);    \
	ROWS_END;

void sup_ref_unary_f32(enum sup_ew_unary op, double p0, double p1, float *y, const float *x, int ndim,
		       const int64_t *shape, const int64_t *xs)
{
	UNARY(float, f32)
}

void sup_ref_unary_f64(enum sup_ew_unary op, double p0, double p1, double *y, const double *x, int ndim,
		       const int64_t *shape, const int64_t *xs)
{
	UNARY(double, f64)
}

void sup_ref_unary_grad_f32(enum sup_ew_unary op, double p0, double p1, float *dx, const float *g, const float *x,
			    const float *y, int ndim, const int64_t *shape, const int64_t *xs)
{
	UNARY_GRAD(float, f32)
}

void sup_ref_unary_grad_f64(enum sup_ew_unary op, double p0, double p1, double *dx, const double *g,
			    const double *x, const double *y, int ndim, const int64_t *shape, const int64_t *xs)
{
	UNARY_GRAD(double, f64)
}

/* ---- binary ------------------------------------------------------------------------------------- */

#define BINARY(T, S)                                                                                \
	const int64_t sa = as[ndim - 1], sb = bs[ndim - 1];                                         \
	ROWS_BEGIN                                                                                  \
	const T *ar = a + row_off(idx, as, outer), *br = b + row_off(idx, bs, outer);               \
	for (int64_t j = 0; j < n; j++)                                                             \
		z[i0 + j] = sup_ew_binary_##S(op, ar[j * sa], br[j * sb]);                          \
	ROWS_END;

#define BINARY_GRAD(T, S)                                                                           \
	const int64_t sa = as[ndim - 1], sb = bs[ndim - 1], sd = ds[ndim - 1];                      \
	ROWS_BEGIN                                                                                  \
	const T *ar = a + row_off(idx, as, outer), *br = b + row_off(idx, bs, outer);               \
	T *dr = d + row_off(idx, ds, outer);                                                        \
	for (int64_t j = 0; j < n; j++) {                                                           \
		T av = ar[j * sa], bv = br[j * sb], zv = z[i0 + j];                                 \
		T p = wrt_b ? sup_ew_binary_db_##S(op, av, bv, zv) : sup_ew_binary_da_##S(op, av, bv, zv); \
		dr[j * sd] += g[i0 + j] * p;                                                        \
	}                                                                                           \
	ROWS_END;

void sup_ref_binary_f32(enum sup_ew_binary op, float *z, const float *a, const int64_t *as, const float *b,
			const int64_t *bs, int ndim, const int64_t *shape)
{
	BINARY(float, f32)
}

void sup_ref_binary_f64(enum sup_ew_binary op, double *z, const double *a, const int64_t *as, const double *b,
			const int64_t *bs, int ndim, const int64_t *shape)
{
	BINARY(double, f64)
}

void sup_ref_binary_grad_f32(enum sup_ew_binary op, bool wrt_b, float *d, const int64_t *ds, const float *g,
			     const float *a, const int64_t *as, const float *b, const int64_t *bs, const float *z,
			     int ndim, const int64_t *shape)
{
	BINARY_GRAD(float, f32)
}

void sup_ref_binary_grad_f64(enum sup_ew_binary op, bool wrt_b, double *d, const int64_t *ds, const double *g,
			     const double *a, const int64_t *as, const double *b, const int64_t *bs,
			     const double *z, int ndim, const int64_t *shape)
{
	BINARY_GRAD(double, f64)
}

/* ---- where -------------------------------------------------------------------------------------- */

#define WHERE(T)                                                                                    \
	const int64_t sc = cs[ndim - 1], sa = as[ndim - 1], sb = bs[ndim - 1];                      \
	ROWS_BEGIN                                                                                  \
	const uint8_t *cr = cond + row_off(idx, cs, outer);                                         \
	const T *ar = a + row_off(idx, as, outer), *br = b + row_off(idx, bs, outer);               \
	for (int64_t j = 0; j < n; j++)                                                             \
		z[i0 + j] = cr[j * sc] ? ar[j * sa] : br[j * sb];                                   \
	ROWS_END;

#define WHERE_GRAD(T)                                                                               \
	const int64_t sc = cs[ndim - 1], sd = ds[ndim - 1];                                         \
	ROWS_BEGIN                                                                                  \
	const uint8_t *cr = cond + row_off(idx, cs, outer);                                         \
	T *dr = d + row_off(idx, ds, outer);                                                        \
	for (int64_t j = 0; j < n; j++)                                                             \
		if ((cr[j * sc] != 0) == take)                                                      \
			dr[j * sd] += g[i0 + j];                                                    \
	ROWS_END;

void sup_ref_where_f32(float *z, const uint8_t *cond, const int64_t *cs, const float *a, const int64_t *as,
		       const float *b, const int64_t *bs, int ndim, const int64_t *shape)
{
	WHERE(float)
}

void sup_ref_where_f64(double *z, const uint8_t *cond, const int64_t *cs, const double *a, const int64_t *as,
		       const double *b, const int64_t *bs, int ndim, const int64_t *shape)
{
	WHERE(double)
}

void sup_ref_where_grad_f32(float *d, const int64_t *ds, const float *g, const uint8_t *cond, const int64_t *cs,
			    bool take, int ndim, const int64_t *shape)
{
	WHERE_GRAD(float)
}

void sup_ref_where_grad_f64(double *d, const int64_t *ds, const double *g, const uint8_t *cond,
			    const int64_t *cs, bool take, int ndim, const int64_t *shape)
{
	WHERE_GRAD(double)
}

/* ---- PReLU -------------------------------------------------------------------------------------- */

#define PRELU(T)                                                                                    \
	for (int64_t o = 0; o < outer; o++)                                                         \
		for (int64_t ch = 0; ch < C; ch++) {                                                \
			const T wc = w[shared ? 0 : ch];                                            \
			const int64_t base = (o * C + ch) * inner;                                  \
			for (int64_t i = 0; i < inner; i++) {                                       \
				T v = x[base + i];                                                  \
				y[base + i] = v > 0 ? v : wc * v;                                   \
			}                                                                           \
		}

#define PRELU_GRAD(T)                                                                               \
	for (int64_t o = 0; o < outer; o++)                                                         \
		for (int64_t ch = 0; ch < C; ch++) {                                                \
			const int64_t wi = shared ? 0 : ch, base = (o * C + ch) * inner;            \
			for (int64_t i = 0; i < inner; i++) {                                       \
				T v = x[base + i], gv = g[base + i];                                \
				if (dx)                                                             \
					dx[base + i] += gv * (v > 0 ? (T)1 : w[wi]);                \
				if (dw && !(v > 0))                                                 \
					dw[wi] += gv * v;                                           \
			}                                                                           \
		}

void sup_ref_prelu_f32(float *y, const float *x, const float *w, bool shared, int64_t outer, int64_t C,
		       int64_t inner)
{
	PRELU(float)
}

void sup_ref_prelu_f64(double *y, const double *x, const double *w, bool shared, int64_t outer, int64_t C,
		       int64_t inner)
{
	PRELU(double)
}

void sup_ref_prelu_grad_f32(float *dx, float *dw, const float *g, const float *x, const float *w, bool shared,
			    int64_t outer, int64_t C, int64_t inner)
{
	PRELU_GRAD(float)
}

void sup_ref_prelu_grad_f64(double *dx, double *dw, const double *g, const double *x, const double *w,
			    bool shared, int64_t outer, int64_t C, int64_t inner)
{
	PRELU_GRAD(double)
}

/* ---- dropout ------------------------------------------------------------------------------------ */

void sup_ref_dropout_mask(uint8_t *keep, uint64_t key, uint64_t base, double p, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		keep[i] = (double)sup_rng_uniform_at(key, base + (uint64_t)i) >= p;
}

#define DROPOUT(T)                                                                                  \
	const T s = (T)scale;                                                                       \
	for (int64_t i = 0; i < n; i++)                                                             \
		y[i] = keep[i] ? x[i] * s : (T)0;

#define DROPOUT_GRAD(T)                                                                             \
	const T s = (T)scale;                                                                       \
	for (int64_t i = 0; i < n; i++)                                                             \
		if (keep[i])                                                                        \
			dx[i] += g[i] * s;

void sup_ref_dropout_f32(float *y, const float *x, const uint8_t *keep, double scale, int64_t n)
{
	DROPOUT(float)
}

void sup_ref_dropout_f64(double *y, const double *x, const uint8_t *keep, double scale, int64_t n)
{
	DROPOUT(double)
}

void sup_ref_dropout_grad_f32(float *dx, const float *g, const uint8_t *keep, double scale, int64_t n)
{
	DROPOUT_GRAD(float)
}

void sup_ref_dropout_grad_f64(double *dx, const double *g, const uint8_t *keep, double scale, int64_t n)
{
	DROPOUT_GRAD(double)
}
