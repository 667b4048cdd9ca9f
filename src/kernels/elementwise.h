/* Elementwise kernels: unary maps, broadcasting binary maps, where, PReLU and dropout.
 *
 * The scalar definitions below (SUP_EW_SCALARS) are the one place where each function and its
 * derivative are written; the reference kernels (ref/elementwise.c: strided loops, f32 and f64)
 * and the fast kernels (cpu/elementwise.c: contiguous f32, OpenMP) both apply them, so the two
 * differ only in how they walk memory and the fast ones are bitwise equal to the reference.
 *
 * Conventions: outputs first; `n` counts elements; strided kernels walk the row-major index
 * space `shape` (1 <= ndim <= SUP_MAX_DIMS) and write their output contiguously; strides are in
 * elements and may be 0 (broadcast). Gradient kernels ACCUMULATE (+=). Kernels never allocate.
 * Derivatives at kinks follow PyTorch (docs/autograd/elementwise.md lists them). */
#ifndef SELFSUP_KERNELS_ELEMENTWISE_H
#define SELFSUP_KERNELS_ELEMENTWISE_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* Unary maps y = f(x; p0, p1). The parameters: leaky_relu slope (p0), elu alpha (p0),
 * add/mul scalar (p0), pow exponent (p0), clamp bounds (p0 = lo, p1 = hi). */
enum sup_ew_unary {
	SUP_EW_NEG,
	SUP_EW_EXP,
	SUP_EW_LOG,
	SUP_EW_SQRT,
	SUP_EW_RSQRT,
	SUP_EW_ABS,
	SUP_EW_RELU,
	SUP_EW_LEAKY_RELU,
	SUP_EW_ELU,
	SUP_EW_GELU,
	SUP_EW_GELU_TANH,
	SUP_EW_SIGMOID,
	SUP_EW_TANH,
	SUP_EW_SOFTPLUS,
	SUP_EW_ADD_SCALAR,
	SUP_EW_MUL_SCALAR,
	SUP_EW_POW_SCALAR,
	SUP_EW_CLAMP,
	SUP_EW_UNARY_COUNT
};

/* Binary maps z = f(a, b). */
enum sup_ew_binary { SUP_EW_ADD, SUP_EW_SUB, SUP_EW_MUL, SUP_EW_DIV, SUP_EW_POW, SUP_EW_MIN, SUP_EW_MAX, SUP_EW_BINARY_COUNT };

/* Always inlined so that a call with a constant op folds its switch away inside a loop. */
#define SUP_EW_INLINE static inline __attribute__((always_inline))

#define SUP_EW_SQRT1_2 0.70710678118654752440     /* 1 / sqrt(2) */
#define SUP_EW_INV_SQRT_2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */
#define SUP_EW_SQRT_2_PI 0.79788456080286535588    /* sqrt(2 / pi) */
#define SUP_EW_GELU_C 0.044715

/* The scalar definitions for element type T; F is the libm suffix (f for float, empty for
 * double). unary_d and binary_da/db return the partial derivative (the kernels multiply by the
 * incoming gradient); they receive the forward output too, which is cheaper for exp, sqrt,
 * sigmoid and tanh. */
#define SUP_EW_SCALARS(T, S, F)                                                                     \
	SUP_EW_INLINE T sup_ew_sigmoid_##S(T x)                                                     \
	{                                                                                           \
		if (x >= 0)                                                                         \
			return 1 / (1 + exp##F(-x));                                                \
		T e = exp##F(x);                                                                    \
		return e / (1 + e);                                                                 \
	}                                                                                           \
	SUP_EW_INLINE T sup_ew_unary_##S(enum sup_ew_unary op, T p0, T p1, T x)                     \
	{                                                                                           \
		switch (op) {                                                                       \
		case SUP_EW_NEG: return -x;                                                         \
		case SUP_EW_EXP: return exp##F(x);                                                  \
		case SUP_EW_LOG: return log##F(x);                                                  \
		case SUP_EW_SQRT: return sqrt##F(x);                                                \
		case SUP_EW_RSQRT: return 1 / sqrt##F(x);                                           \
		case SUP_EW_ABS: return fabs##F(x);                                                 \
		case SUP_EW_RELU: return x < 0 ? (T)0 : x; /* NaN propagates */                     \
		case SUP_EW_LEAKY_RELU: return x > 0 ? x : p0 * x;                                  \
		case SUP_EW_ELU: return x > 0 ? x : p0 * expm1##F(x);                               \
		case SUP_EW_GELU: return (T)0.5 * x * (1 + erf##F(x * (T)SUP_EW_SQRT1_2));          \
		case SUP_EW_GELU_TANH:                                                              \
			return (T)0.5 * x *                                                         \
			       (1 + tanh##F((T)SUP_EW_SQRT_2_PI * (x + (T)SUP_EW_GELU_C * x * x * x))); \
		case SUP_EW_SIGMOID: return sup_ew_sigmoid_##S(x);                                  \
		case SUP_EW_TANH: return tanh##F(x);                                                \
		case SUP_EW_SOFTPLUS: return (x > 0 ? x : (T)0) + log1p##F(exp##F(-fabs##F(x)));   \
		case SUP_EW_ADD_SCALAR: return x + p0;                                              \
		case SUP_EW_MUL_SCALAR: return x * p0;                                              \
		case SUP_EW_POW_SCALAR: return pow##F(x, p0);                                       \
		case SUP_EW_CLAMP: return x < p0 ? p0 : x > p1 ? p1 : x;                            \
		default: return x;                                                                  \
		}                                                                                   \
	}                                                                                           \
	SUP_EW_INLINE T sup_ew_unary_d_##S(enum sup_ew_unary op, T p0, T p1, T x, T y)              \
	{                                                                                           \
		switch (op) {                                                                       \
		case SUP_EW_NEG: return -1;                                                         \
		case SUP_EW_EXP: return y;                                                          \
		case SUP_EW_LOG: return 1 / x;                                                      \
		case SUP_EW_SQRT: return (T)0.5 / y;                                                \
		case SUP_EW_RSQRT: return (T)-0.5 * y * y * y;                                      \
		case SUP_EW_ABS: return x > 0 ? (T)1 : x < 0 ? (T)-1 : (T)0;                        \
		case SUP_EW_RELU: return y > 0 ? (T)1 : (T)0;                                       \
		case SUP_EW_LEAKY_RELU: return x > 0 ? (T)1 : p0;                                   \
		case SUP_EW_ELU: return x > 0 ? (T)1 : p0 * exp##F(x);                              \
		case SUP_EW_GELU:                                                                   \
			return (T)0.5 * (1 + erf##F(x * (T)SUP_EW_SQRT1_2)) +                       \
			       x * exp##F((T)-0.5 * x * x) * (T)SUP_EW_INV_SQRT_2PI;                \
		case SUP_EW_GELU_TANH: {                                                            \
			T t = tanh##F((T)SUP_EW_SQRT_2_PI * (x + (T)SUP_EW_GELU_C * x * x * x));    \
			T du = (T)SUP_EW_SQRT_2_PI * (1 + 3 * (T)SUP_EW_GELU_C * x * x);            \
			return (T)0.5 * (1 + t) + (T)0.5 * x * (1 - t * t) * du;                    \
		}                                                                                   \
		case SUP_EW_SIGMOID: return y * (1 - y);                                            \
		case SUP_EW_TANH: return 1 - y * y;                                                 \
		case SUP_EW_SOFTPLUS: return sup_ew_sigmoid_##S(x);                                 \
		case SUP_EW_ADD_SCALAR: return 1;                                                   \
		case SUP_EW_MUL_SCALAR: return p0;                                                  \
		case SUP_EW_POW_SCALAR: return p0 == 0 ? (T)0 : p0 * pow##F(x, p0 - 1);             \
		case SUP_EW_CLAMP: return x >= p0 && x <= p1 ? (T)1 : (T)0;                         \
		default: return 0;                                                                  \
		}                                                                                   \
	}                                                                                           \
	/* minimum/maximum: ties and a NaN in a pick a (the gradient follows). */                   \
	SUP_EW_INLINE bool sup_ew_pick_a_##S(enum sup_ew_binary op, T a, T b)                       \
	{                                                                                           \
		return a != a || (op == SUP_EW_MIN ? a <= b : a >= b);                              \
	}                                                                                           \
	SUP_EW_INLINE T sup_ew_binary_##S(enum sup_ew_binary op, T a, T b)                          \
	{                                                                                           \
		switch (op) {                                                                       \
		case SUP_EW_ADD: return a + b;                                                      \
		case SUP_EW_SUB: return a - b;                                                      \
		case SUP_EW_MUL: return a * b;                                                      \
		case SUP_EW_DIV: return a / b;                                                      \
		case SUP_EW_POW: return pow##F(a, b);                                               \
		case SUP_EW_MIN: /* fall through */                                                 \
		case SUP_EW_MAX: return sup_ew_pick_a_##S(op, a, b) ? a : b;                        \
		default: return 0;                                                                  \
		}                                                                                   \
	}                                                                                           \
	SUP_EW_INLINE T sup_ew_binary_da_##S(enum sup_ew_binary op, T a, T b, T z)                  \
	{                                                                                           \
		(void)z;                                                                            \
		switch (op) {                                                                       \
		case SUP_EW_ADD: return 1;                                                          \
		case SUP_EW_SUB: return 1;                                                          \
		case SUP_EW_MUL: return b;                                                          \
		case SUP_EW_DIV: return 1 / b;                                                      \
		case SUP_EW_POW: return b == 0 ? (T)0 : b * pow##F(a, b - 1);                       \
		case SUP_EW_MIN: /* fall through */                                                 \
		case SUP_EW_MAX: return sup_ew_pick_a_##S(op, a, b) ? (T)1 : (T)0;                  \
		default: return 0;                                                                  \
		}                                                                                   \
	}                                                                                           \
	SUP_EW_INLINE T sup_ew_binary_db_##S(enum sup_ew_binary op, T a, T b, T z)                  \
	{                                                                                           \
		switch (op) {                                                                       \
		case SUP_EW_ADD: return 1;                                                          \
		case SUP_EW_SUB: return -1;                                                         \
		case SUP_EW_MUL: return a;                                                          \
		case SUP_EW_DIV: return -a / (b * b);                                               \
		case SUP_EW_POW: return a == 0 && b >= 0 ? (T)0 : z * log##F(a);                    \
		case SUP_EW_MIN: /* fall through */                                                 \
		case SUP_EW_MAX: return sup_ew_pick_a_##S(op, a, b) ? (T)0 : (T)1;                  \
		default: return 0;                                                                  \
		}                                                                                   \
	}

SUP_EW_SCALARS(float, f32, f)
SUP_EW_SCALARS(double, f64, )

/* ---- unary ------------------------------------------------------------------------------------ */

/* y = f(x): y contiguous over shape, x with strides xs. */
void sup_ref_unary_f32(enum sup_ew_unary op, double p0, double p1, float *y, const float *x, int ndim,
		       const int64_t *shape, const int64_t *xs);
void sup_ref_unary_f64(enum sup_ew_unary op, double p0, double p1, double *y, const double *x, int ndim,
		       const int64_t *shape, const int64_t *xs);
/* dx += g * f'(x, y): dx, g, y contiguous over shape, x with strides xs. */
void sup_ref_unary_grad_f32(enum sup_ew_unary op, double p0, double p1, float *dx, const float *g, const float *x,
			    const float *y, int ndim, const int64_t *shape, const int64_t *xs);
void sup_ref_unary_grad_f64(enum sup_ew_unary op, double p0, double p1, double *dx, const double *g,
			    const double *x, const double *y, int ndim, const int64_t *shape, const int64_t *xs);
/* Contiguous f32, n elements. The fast gradient kernels take `acc`: true adds into the
 * gradient as the reference kernels do; false stores (the buffer is fresh, contents ignored),
 * which gives the reference's result on a zeroed buffer without reading it. */
void sup_cpu_unary_f32(enum sup_ew_unary op, double p0, double p1, float *y, const float *x, int64_t n);
void sup_cpu_unary_grad_f32(enum sup_ew_unary op, double p0, double p1, float *dx, const float *g, const float *x,
			    const float *y, int64_t n, bool acc);

/* ---- binary ----------------------------------------------------------------------------------- */

/* z = f(a, b): z contiguous over shape; a, b with strides as, bs (0 on broadcast axes). */
void sup_ref_binary_f32(enum sup_ew_binary op, float *z, const float *a, const int64_t *as, const float *b,
			const int64_t *bs, int ndim, const int64_t *shape);
void sup_ref_binary_f64(enum sup_ew_binary op, double *z, const double *a, const int64_t *as, const double *b,
			const int64_t *bs, int ndim, const int64_t *shape);
/* d[ds . idx] += g[idx] * dz/da (wrt_b false) or dz/db (wrt_b true) at every idx of shape; g, z
 * contiguous. A 0 in ds sums over that axis (the gradient of a broadcast operand), in row-major
 * order. */
void sup_ref_binary_grad_f32(enum sup_ew_binary op, bool wrt_b, float *d, const int64_t *ds, const float *g,
			     const float *a, const int64_t *as, const float *b, const int64_t *bs, const float *z,
			     int ndim, const int64_t *shape);
void sup_ref_binary_grad_f64(enum sup_ew_binary op, bool wrt_b, double *d, const int64_t *ds, const double *g,
			     const double *a, const int64_t *as, const double *b, const int64_t *bs,
			     const double *z, int ndim, const int64_t *shape);
/* Same shape, all contiguous, n elements. */
void sup_cpu_binary_f32(enum sup_ew_binary op, float *z, const float *a, const float *b, int64_t n);
void sup_cpu_binary_grad_f32(enum sup_ew_binary op, bool wrt_b, float *d, const float *g, const float *a,
			     const float *b, const float *z, int64_t n, bool acc);

/* The channel pattern: one operand is full [outer, C, inner] (contiguous, the output's shape),
 * the other a contiguous vector of C elements broadcast over outer and inner: [N, C] + [C],
 * [N, C, H, W] + [1, C, 1, 1], [B, T, C] * [C], and a scalar tensor (C = 1). */
struct sup_ew_chan {
	int64_t outer, C, inner;
	bool vec_a; /* a is the vector (else b) */
};
void sup_cpu_binary_chan_f32(enum sup_ew_binary op, const struct sup_ew_chan *ch, float *z, const float *a,
			     const float *b);
/* Gradient w.r.t. a (wrt_b false) or b. For the vector operand d[c] += sum over outer, inner of
 * g * partial, each d[c] summed in row-major order by one thread (reproducible). */
void sup_cpu_binary_chan_grad_f32(enum sup_ew_binary op, const struct sup_ew_chan *ch, bool wrt_b, float *d,
				  const float *g, const float *a, const float *b, const float *z, bool acc);

/* ---- where ------------------------------------------------------------------------------------ */

/* z = cond ? a : b (cond nonzero), z contiguous over shape, operands strided. */
void sup_ref_where_f32(float *z, const uint8_t *cond, const int64_t *cs, const float *a, const int64_t *as,
		       const float *b, const int64_t *bs, int ndim, const int64_t *shape);
void sup_ref_where_f64(double *z, const uint8_t *cond, const int64_t *cs, const double *a, const int64_t *as,
		       const double *b, const int64_t *bs, int ndim, const int64_t *shape);
/* d[ds . idx] += g[idx] where (cond != 0) == take. */
void sup_ref_where_grad_f32(float *d, const int64_t *ds, const float *g, const uint8_t *cond, const int64_t *cs,
			    bool take, int ndim, const int64_t *shape);
void sup_ref_where_grad_f64(double *d, const int64_t *ds, const double *g, const uint8_t *cond,
			    const int64_t *cs, bool take, int ndim, const int64_t *shape);

/* ---- PReLU ------------------------------------------------------------------------------------ */

/* x, y contiguous [outer, C, inner]; w has C elements, or 1 when shared. y = x > 0 ? x : w x. */
void sup_ref_prelu_f32(float *y, const float *x, const float *w, bool shared, int64_t outer, int64_t C,
		       int64_t inner);
void sup_ref_prelu_f64(double *y, const double *x, const double *w, bool shared, int64_t outer, int64_t C,
		       int64_t inner);
void sup_cpu_prelu_f32(float *y, const float *x, const float *w, bool shared, int64_t outer, int64_t C,
		       int64_t inner);
/* dx += g (x > 0 ? 1 : w); dw += sum of g x over x <= 0 (row-major order per slope). dx or dw may
 * be NULL. */
void sup_ref_prelu_grad_f32(float *dx, float *dw, const float *g, const float *x, const float *w, bool shared,
			    int64_t outer, int64_t C, int64_t inner);
void sup_ref_prelu_grad_f64(double *dx, double *dw, const double *g, const double *x, const double *w,
			    bool shared, int64_t outer, int64_t C, int64_t inner);
void sup_cpu_prelu_grad_f32(float *dx, float *dw, const float *g, const float *x, const float *w, bool shared,
			    int64_t outer, int64_t C, int64_t inner, bool acc_dx);

/* ---- dropout ---------------------------------------------------------------------------------- */

/* keep[i] = sup_rng_uniform_at(key, base + i) >= p, for i < n. */
void sup_ref_dropout_mask(uint8_t *keep, uint64_t key, uint64_t base, double p, int64_t n);
void sup_cpu_dropout_mask(uint8_t *keep, uint64_t key, uint64_t base, double p, int64_t n);
/* y = keep ? x * scale : 0 (forward), dx += keep ? g * scale : 0 (backward); contiguous. */
void sup_ref_dropout_f32(float *y, const float *x, const uint8_t *keep, double scale, int64_t n);
void sup_ref_dropout_f64(double *y, const double *x, const uint8_t *keep, double scale, int64_t n);
void sup_ref_dropout_grad_f32(float *dx, const float *g, const uint8_t *keep, double scale, int64_t n);
void sup_ref_dropout_grad_f64(double *dx, const double *g, const uint8_t *keep, double scale, int64_t n);
void sup_cpu_dropout_f32(float *y, const float *x, const uint8_t *keep, double scale, int64_t n);
void sup_cpu_dropout_grad_f32(float *dx, const float *g, const uint8_t *keep, double scale, int64_t n);

#endif
