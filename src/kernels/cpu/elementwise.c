/* Fast elementwise kernels: contiguous f32, OpenMP over contiguous chunks.
 *
 * Each kernel splits its range into one chunk per thread (par_for); inside a chunk a switch on
 * the op calls an always-inlined loop with the op as a constant, so the per-element switch of
 * the scalar definitions folds away and simple ops vectorise. Small problems (< PAR_MIN
 * elements) stay on the calling thread. Sums (the gradient of a broadcast vector, PReLU's
 * slope) are split by output element and summed in row-major order, exactly as the reference
 * kernels do, so results do not depend on the thread count. */
/* No FP exception is ever inspected, so the compiler may if-convert selects such as PReLU's
 * (x > 0 ? x : w x) into vector blends; values are unchanged (IEEE results, no fast-math). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "kernels/elementwise.h"
#include "kernels/cpu/vmath.h"

#include "selfsup/base.h"

#include <omp.h>

#define PAR_MIN 32768

/* fn(arg, lo, hi) over [0, n) split in one contiguous chunk per thread when `par`. */
static void par_for(int64_t n, bool par, void (*fn)(const void *arg, int64_t lo, int64_t hi), const void *arg)
{
	if (n <= 0)
		return;
	if (!par || n < 2) {
		fn(arg, 0, n);
		return;
	}
#pragma omp parallel
	{
		const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
		fn(arg, n * t / nt, n * (t + 1) / nt);
	}
}

#define UNARY_OPS(X)                                                                                \
	X(SUP_EW_NEG) X(SUP_EW_EXP) X(SUP_EW_LOG) X(SUP_EW_SQRT) X(SUP_EW_RSQRT) X(SUP_EW_ABS)       \
	X(SUP_EW_RELU) X(SUP_EW_LEAKY_RELU) X(SUP_EW_ELU) X(SUP_EW_GELU) X(SUP_EW_GELU_TANH)        \
	X(SUP_EW_SIGMOID) X(SUP_EW_TANH) X(SUP_EW_SOFTPLUS) X(SUP_EW_ADD_SCALAR) X(SUP_EW_MUL_SCALAR) \
	X(SUP_EW_POW_SCALAR) X(SUP_EW_CLAMP)
#define BINARY_OPS(X) X(SUP_EW_ADD) X(SUP_EW_SUB) X(SUP_EW_MUL) X(SUP_EW_DIV) X(SUP_EW_POW) X(SUP_EW_MIN) X(SUP_EW_MAX)

/* ---- unary -------------------------------------------------------------------------------------- */

struct un_args {
	enum sup_ew_unary op;
	bool acc; /* backward: add into dx (true) or store (a fresh buffer) */
	float q0, q1;
	float *out; /* y (forward) or dx (backward) */
	const float *x, *y, *g;
};

/* The scalar definitions of kernels/elementwise.h, except that exp, sigmoid and softplus use the
 * vectorisable versions of vmath.h (libm's are scalar calls that keep the loop scalar). */
SUP_EW_INLINE float cpu_unary(enum sup_ew_unary op, float q0, float q1, float x)
{
	switch (op) {
	case SUP_EW_EXP: return sup_vm_expf(x);
	case SUP_EW_SIGMOID: return sup_vm_sigmoidf(x);
	case SUP_EW_SOFTPLUS: return sup_vm_softplusf(x);
	default: return sup_ew_unary_f32(op, q0, q1, x);
	}
}

SUP_EW_INLINE float cpu_unary_d(enum sup_ew_unary op, float q0, float q1, float x, float y)
{
	switch (op) {
	case SUP_EW_ELU: return x > 0 ? 1.0f : q0 * sup_vm_expf(x);
	case SUP_EW_SOFTPLUS: return sup_vm_sigmoidf(x);
	default: return sup_ew_unary_d_f32(op, q0, q1, x, y);
	}
}

SUP_EW_INLINE void un_fwd_loop(enum sup_ew_unary op, const struct un_args *u, int64_t lo, int64_t hi)
{
	float *restrict y = u->out;
	const float *restrict x = u->x;
	const float q0 = u->q0, q1 = u->q1;
#pragma omp simd
	for (int64_t i = lo; i < hi; i++)
		y[i] = cpu_unary(op, q0, q1, x[i]);
}

SUP_EW_INLINE void un_bwd_loop(enum sup_ew_unary op, const struct un_args *u, int64_t lo, int64_t hi)
{
	float *restrict dx = u->out;
	const float *restrict x = u->x, *restrict y = u->y, *restrict g = u->g;
	const float q0 = u->q0, q1 = u->q1;
	if (u->acc) {
#pragma omp simd
		for (int64_t i = lo; i < hi; i++)
			dx[i] += g[i] * cpu_unary_d(op, q0, q1, x[i], y[i]);
	} else {
#pragma omp simd
		for (int64_t i = lo; i < hi; i++)
			dx[i] = g[i] * cpu_unary_d(op, q0, q1, x[i], y[i]);
	}
}

static void un_fwd_range(const void *arg, int64_t lo, int64_t hi)
{
	const struct un_args *u = arg;
	switch (u->op) {
#define X(OP)                               \
	case OP:                            \
		un_fwd_loop(OP, u, lo, hi); \
		break;
		UNARY_OPS(X)
#undef X
	default:
		break;
	}
}

static void un_bwd_range(const void *arg, int64_t lo, int64_t hi)
{
	const struct un_args *u = arg;
	switch (u->op) {
#define X(OP)                               \
	case OP:                            \
		un_bwd_loop(OP, u, lo, hi); \
		break;
		UNARY_OPS(X)
#undef X
	default:
		break;
	}
}

void sup_cpu_unary_f32(enum sup_ew_unary op, double p0, double p1, float *y, const float *x, int64_t n)
{
	const struct un_args u = { op, false, (float)p0, (float)p1, y, x, NULL, NULL };
	par_for(n, n >= PAR_MIN, un_fwd_range, &u);
}

void sup_cpu_unary_grad_f32(enum sup_ew_unary op, double p0, double p1, float *dx, const float *g, const float *x,
			    const float *y, int64_t n, bool acc)
{
	const struct un_args u = { op, acc, (float)p0, (float)p1, dx, x, y, g };
	par_for(n, n >= PAR_MIN, un_bwd_range, &u);
}

/* ---- binary, same shape --------------------------------------------------------------------------- */

struct bin_args {
	enum sup_ew_binary op;
	bool wrt_b, acc; /* acc: backward adds into d (true) or stores (a fresh buffer) */
	float *out; /* z (forward) or d (backward) */
	const float *a, *b, *z, *g;
	const struct sup_ew_chan *ch;
};

SUP_EW_INLINE void bin_fwd_loop(enum sup_ew_binary op, const struct bin_args *u, int64_t lo, int64_t hi)
{
	float *restrict z = u->out;
	const float *restrict a = u->a, *restrict b = u->b;
#pragma omp simd
	for (int64_t i = lo; i < hi; i++)
		z[i] = sup_ew_binary_f32(op, a[i], b[i]);
}

SUP_EW_INLINE void bin_bwd_loop(enum sup_ew_binary op, const struct bin_args *u, int64_t lo, int64_t hi)
{
	float *restrict d = u->out;
	const float *restrict a = u->a, *restrict b = u->b, *restrict z = u->z, *restrict g = u->g;
	if (u->wrt_b && u->acc) {
#pragma omp simd
		for (int64_t i = lo; i < hi; i++)
			d[i] += g[i] * sup_ew_binary_db_f32(op, a[i], b[i], z[i]);
	} else if (u->wrt_b) {
#pragma omp simd
		for (int64_t i = lo; i < hi; i++)
			d[i] = g[i] * sup_ew_binary_db_f32(op, a[i], b[i], z[i]);
	} else if (u->acc) {
#pragma omp simd
		for (int64_t i = lo; i < hi; i++)
			d[i] += g[i] * sup_ew_binary_da_f32(op, a[i], b[i], z[i]);
	} else {
#pragma omp simd
		for (int64_t i = lo; i < hi; i++)
			d[i] = g[i] * sup_ew_binary_da_f32(op, a[i], b[i], z[i]);
	}
}

#define BIN_RANGE(name, loop)                                   \
	static void name(const void *arg, int64_t lo, int64_t hi) \
	{                                                         \
		const struct bin_args *u = arg;                   \
		switch (u->op) {                                  \
			BINARY_OPS(loop)                          \
		default:                                          \
			break;                                    \
		}                                                 \
	}

#define X_BIN_FWD(OP)                        \
	case OP:                             \
		bin_fwd_loop(OP, u, lo, hi); \
		break;
#define X_BIN_BWD(OP)                        \
	case OP:                             \
		bin_bwd_loop(OP, u, lo, hi); \
		break;
BIN_RANGE(bin_fwd_range, X_BIN_FWD)
BIN_RANGE(bin_bwd_range, X_BIN_BWD)

void sup_cpu_binary_f32(enum sup_ew_binary op, float *z, const float *a, const float *b, int64_t n)
{
	const struct bin_args u = { .op = op, .out = z, .a = a, .b = b };
	par_for(n, n >= PAR_MIN, bin_fwd_range, &u);
}

void sup_cpu_binary_grad_f32(enum sup_ew_binary op, bool wrt_b, float *d, const float *g, const float *a,
			     const float *b, const float *z, int64_t n, bool acc)
{
	const struct bin_args u = { .op = op, .wrt_b = wrt_b, .acc = acc, .out = d, .a = a, .b = b, .z = z, .g = g };
	par_for(n, n >= PAR_MIN, bin_bwd_range, &u);
}

/* ---- binary, channel pattern ------------------------------------------------------------------ */

/* The value of a or b at full index k, channel c: the vector operand is read at c. */
#define CH_A(k, c) (va ? a[c] : a[k])
#define CH_B(k, c) (va ? b[k] : b[c])

/* Forward and the full operand's gradient over rows [lo, hi): a row is one (o, c) pair of
 * `inner` elements, or, when inner == 1, one o with its C channels. `va` is a constant. */
SUP_EW_INLINE void chan_fwd_loop(enum sup_ew_binary op, bool va, const struct bin_args *u, int64_t lo, int64_t hi)
{
	const int64_t C = u->ch->C, inner = u->ch->inner;
	float *restrict z = u->out;
	const float *restrict a = u->a, *restrict b = u->b;
	if (inner == 1) {
		for (int64_t o = lo; o < hi; o++)
			for (int64_t c = 0; c < C; c++)
				z[o * C + c] = sup_ew_binary_f32(op, CH_A(o * C + c, c), CH_B(o * C + c, c));
		return;
	}
	for (int64_t r = lo; r < hi; r++) {
		const int64_t c = r % C, k0 = r * inner;
		for (int64_t i = 0; i < inner; i++)
			z[k0 + i] = sup_ew_binary_f32(op, CH_A(k0 + i, c), CH_B(k0 + i, c));
	}
}

SUP_EW_INLINE float chan_partial(enum sup_ew_binary op, bool wrt_b, float av, float bv, float zv)
{
	return wrt_b ? sup_ew_binary_db_f32(op, av, bv, zv) : sup_ew_binary_da_f32(op, av, bv, zv);
}

SUP_EW_INLINE void chan_full_loop(enum sup_ew_binary op, bool va, const struct bin_args *u, int64_t lo, int64_t hi)
{
	const int64_t C = u->ch->C, inner = u->ch->inner;
	const bool wb = u->wrt_b;
	float *restrict d = u->out;
	const float *restrict a = u->a, *restrict b = u->b, *restrict z = u->z, *restrict g = u->g;
	if (!u->acc) /* a fresh buffer: clear this chunk's rows (cache-hot), then accumulate */
		for (int64_t k = lo * (inner == 1 ? C : inner); k < hi * (inner == 1 ? C : inner); k++)
			d[k] = 0.0f;
	if (inner == 1) {
		for (int64_t o = lo; o < hi; o++)
			for (int64_t c = 0; c < C; c++) {
				const int64_t k = o * C + c;
				d[k] += g[k] * chan_partial(op, wb, CH_A(k, c), CH_B(k, c), z[k]);
			}
		return;
	}
	for (int64_t r = lo; r < hi; r++) {
		const int64_t c = r % C, k0 = r * inner;
		for (int64_t i = 0; i < inner; i++)
			d[k0 + i] += g[k0 + i] * chan_partial(op, wb, CH_A(k0 + i, c), CH_B(k0 + i, c), z[k0 + i]);
	}
}

/* The vector operand's gradient for channels [lo, hi), each summed over (o, i) in row-major order. */
SUP_EW_INLINE void chan_vec_loop(enum sup_ew_binary op, bool va, const struct bin_args *u, int64_t lo, int64_t hi)
{
	const int64_t outer = u->ch->outer, C = u->ch->C, inner = u->ch->inner;
	const bool wb = u->wrt_b;
	float *restrict d = u->out;
	const float *restrict a = u->a, *restrict b = u->b, *restrict z = u->z, *restrict g = u->g;
	if (inner == 1) {
		for (int64_t c = lo; c < hi && !u->acc; c++)
			d[c] = 0.0f;
		for (int64_t o = 0; o < outer; o++)
			for (int64_t c = lo; c < hi; c++) {
				const int64_t k = o * C + c;
				d[c] += g[k] * chan_partial(op, wb, CH_A(k, c), CH_B(k, c), z[k]);
			}
		return;
	}
	for (int64_t c = lo; c < hi; c++) {
		float acc = u->acc ? d[c] : 0.0f;
		for (int64_t o = 0; o < outer; o++) {
			const int64_t k0 = (o * C + c) * inner;
			for (int64_t i = 0; i < inner; i++)
				acc += g[k0 + i] * chan_partial(op, wb, CH_A(k0 + i, c), CH_B(k0 + i, c), z[k0 + i]);
		}
		d[c] = acc;
	}
}

#define X_CHAN(OP, loop)                                \
	if (u->ch->vec_a)                             \
		loop(OP, true, u, lo, hi);            \
	else                                          \
		loop(OP, false, u, lo, hi);           \
	break;
#define X_CHAN_FWD(OP) case OP: X_CHAN(OP, chan_fwd_loop)
#define X_CHAN_FULL(OP) case OP: X_CHAN(OP, chan_full_loop)
#define X_CHAN_VEC(OP) case OP: X_CHAN(OP, chan_vec_loop)
BIN_RANGE(chan_fwd_range, X_CHAN_FWD)
BIN_RANGE(chan_full_range, X_CHAN_FULL)
BIN_RANGE(chan_vec_range, X_CHAN_VEC)

/* Rows of the full operand that par_for splits (see chan_fwd_loop). */
static int64_t chan_rows(const struct sup_ew_chan *ch)
{
	return ch->inner == 1 ? ch->outer : ch->outer * ch->C;
}

void sup_cpu_binary_chan_f32(enum sup_ew_binary op, const struct sup_ew_chan *ch, float *z, const float *a,
			     const float *b)
{
	const struct bin_args u = { .op = op, .out = z, .a = a, .b = b, .ch = ch };
	par_for(chan_rows(ch), ch->outer * ch->C * ch->inner >= PAR_MIN, chan_fwd_range, &u);
}

void sup_cpu_binary_chan_grad_f32(enum sup_ew_binary op, const struct sup_ew_chan *ch, bool wrt_b, float *d,
				  const float *g, const float *a, const float *b, const float *z, bool acc)
{
	const struct bin_args u = { .op = op, .wrt_b = wrt_b, .acc = acc, .out = d, .a = a, .b = b, .z = z, .g = g, .ch = ch };
	const bool par = ch->outer * ch->C * ch->inner >= PAR_MIN;
	if (wrt_b == ch->vec_a) /* the full operand */
		par_for(chan_rows(ch), par, chan_full_range, &u);
	else
		par_for(ch->C, par, chan_vec_range, &u);
}

/* ---- PReLU ---------------------------------------------------------------------------------------- */

/* With one shared slope the tensor is one flat range of n = outer * C * inner elements: the
 * forward and dx loops run over elements (so they vectorise and split evenly across threads),
 * and the slope gradient is one sum over fixed blocks (below). Per channel, rows of `inner`
 * elements carry the channel r % C. */
struct prelu_args {
	float *y, *dx, *dw;
	const float *x, *w, *g;
	bool shared;
	int64_t outer, C, inner;
	bool acc;     /* dx: add (true) or store (a fresh buffer) */
	double *part; /* shared dw: one partial sum per block */
	int64_t blk, n;
};

static void prelu_fwd_flat(const void *arg, int64_t lo, int64_t hi)
{
	const struct prelu_args *p = arg;
	float *restrict y = p->y;
	const float *restrict x = p->x;
	const float wc = p->w[0];
#pragma omp simd
	for (int64_t k = lo; k < hi; k++)
	{
		/* Both sides computed, then selected: no branch, and no conditional multiply that
		 * -ftrapping-math would keep the vectoriser from if-converting. */
		const float v = x[k], neg = wc * v;
		y[k] = v > 0 ? v : neg;
	}
}

static void prelu_dx_flat(const void *arg, int64_t lo, int64_t hi)
{
	const struct prelu_args *p = arg;
	float *restrict dx = p->dx;
	const float *restrict x = p->x, *restrict g = p->g;
	const float wc = p->w[0];
	if (p->acc) {
#pragma omp simd
		for (int64_t k = lo; k < hi; k++)
			dx[k] += g[k] * (x[k] > 0 ? 1.0f : wc);
	} else {
#pragma omp simd
		for (int64_t k = lo; k < hi; k++)
			dx[k] = g[k] * (x[k] > 0 ? 1.0f : wc);
	}
}

/* Partial sums of g x over x <= 0 for blocks [lo, hi) of p->blk elements, each in double with
 * 8 lanes (vectorisable, and far more accurate than one float accumulator). */
static void prelu_dw_blocks(const void *arg, int64_t lo, int64_t hi)
{
	const struct prelu_args *p = arg;
	const float *restrict x = p->x, *restrict g = p->g;
	for (int64_t b = lo; b < hi; b++) {
		const int64_t k0 = b * p->blk, k1 = k0 + p->blk < p->n ? k0 + p->blk : p->n;
		double lane[8] = { 0 };
		int64_t k = k0;
		for (; k + 8 <= k1; k += 8) {
#pragma omp simd
			for (int j = 0; j < 8; j++)
			{
				const double prod = (double)g[k + j] * (double)x[k + j];
				lane[j] += x[k + j] > 0 ? 0.0 : prod;
			}
		}
		for (; k < k1; k++)
			lane[0] += x[k] > 0 ? 0.0 : (double)g[k] * (double)x[k];
		p->part[b] = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
	}
}

static void prelu_fwd_range(const void *arg, int64_t lo, int64_t hi)
{
	const struct prelu_args *p = arg;
	const int64_t C = p->C, inner = p->inner;
	float *restrict y = p->y;
	const float *restrict x = p->x;
	for (int64_t r = lo; r < hi; r++) {
		const float wc = p->w[r % C];
		for (int64_t i = 0; i < inner; i++) {
			const float v = x[r * inner + i];
			y[r * inner + i] = v > 0 ? v : wc * v;
		}
	}
}

static void prelu_dx_range(const void *arg, int64_t lo, int64_t hi)
{
	const struct prelu_args *p = arg;
	const int64_t C = p->C, inner = p->inner;
	float *restrict dx = p->dx;
	const float *restrict x = p->x, *restrict g = p->g;
	for (int64_t r = lo; r < hi; r++) {
		const float wc = p->w[r % C];
		for (int64_t i = 0; i < inner; i++) {
			const int64_t k = r * inner + i;
			dx[k] = (p->acc ? dx[k] : 0.0f) + g[k] * (x[k] > 0 ? 1.0f : wc);
		}
	}
}

/* Slope gradient for channels [lo, hi), each summed in row-major order. */
static void prelu_dw_range(const void *arg, int64_t lo, int64_t hi)
{
	const struct prelu_args *p = arg;
	const int64_t C = p->C, inner = p->inner;
	const float *restrict x = p->x, *restrict g = p->g;
	for (int64_t c = lo; c < hi; c++) {
		float acc = p->dw[c];
		for (int64_t o = 0; o < p->outer; o++)
			for (int64_t i = 0; i < inner; i++) {
				const int64_t k = (o * C + c) * inner + i;
				if (!(x[k] > 0))
					acc += g[k] * x[k];
			}
		p->dw[c] = acc;
	}
}

void sup_cpu_prelu_f32(float *y, const float *x, const float *w, bool shared, int64_t outer, int64_t C,
		       int64_t inner)
{
	const struct prelu_args p = { .y = y, .x = x, .w = w, .shared = shared, .outer = outer, .C = C, .inner = inner };
	const int64_t n = outer * C * inner;
	if (shared)
		par_for(n, n >= PAR_MIN, prelu_fwd_flat, &p);
	else
		par_for(outer * C, n >= PAR_MIN, prelu_fwd_range, &p);
}

/* The shared slope's sum uses a block count that depends on n only (never on the thread
 * count), so the result is reproducible across thread counts. */
#define PRELU_DW_BLOCKS 256
#define PRELU_DW_MIN_BLK 4096

void sup_cpu_prelu_grad_f32(float *dx, float *dw, const float *g, const float *x, const float *w, bool shared,
			    int64_t outer, int64_t C, int64_t inner, bool acc_dx)
{
	double part[PRELU_DW_BLOCKS];
	const int64_t n = outer * C * inner;
	int64_t nblk = (n + PRELU_DW_MIN_BLK - 1) / PRELU_DW_MIN_BLK;
	nblk = nblk < 1 ? 1 : nblk > PRELU_DW_BLOCKS ? PRELU_DW_BLOCKS : nblk;
	const struct prelu_args p = { .dx = dx, .dw = dw, .x = x, .w = w, .g = g, .shared = shared, .outer = outer,
				      .C = C, .inner = inner, .acc = acc_dx, .part = part, .blk = (n + nblk - 1) / nblk, .n = n };
	const bool par = n >= PAR_MIN;
	if (dx)
		par_for(shared ? n : outer * C, par, shared ? prelu_dx_flat : prelu_dx_range, &p);
	if (dw && shared) {
		par_for(nblk, par, prelu_dw_blocks, &p);
		double acc = 0;
		for (int64_t b = 0; b < nblk; b++)
			acc += part[b];
		dw[0] += (float)acc;
	} else if (dw) {
		par_for(C, par, prelu_dw_range, &p);
	}
}

/* ---- dropout -------------------------------------------------------------------------------------- */

struct drop_args {
	uint8_t *keep;       /* mask being drawn */
	const uint8_t *mask; /* mask being applied */
	uint64_t key, base;
	double p;
	int64_t n;
	float s;
	float *out;
	const float *in;
};

/* Philox blocks [lo, hi) relative to the first block; one block gives 4 consecutive words,
 * the same words sup_rng_uniform_at() returns. */
static void mask_range(const void *arg, int64_t lo, int64_t hi)
{
	const struct drop_args *m = arg;
	const uint32_t key[2] = { (uint32_t)m->key, (uint32_t)(m->key >> 32) };
	const uint64_t first = m->base >> 2, end = m->base + (uint64_t)m->n;
	for (int64_t blk = lo; blk < hi; blk++) {
		const uint64_t block = first + (uint64_t)blk;
		const uint32_t ctr[4] = { (uint32_t)block, (uint32_t)(block >> 32), 0, 0 };
		uint32_t out[4];
		sup_philox4x32(ctr, key, out);
		for (int lane = 0; lane < 4; lane++) {
			const uint64_t word = 4 * block + (uint64_t)lane;
			if (word < m->base || word >= end)
				continue;
			/* as sup_rng_uniform_at: 24 random bits scaled into [0, 1) */
			const float u = (float)(out[lane] >> 8) * (1.0f / 16777216.0f);
			m->keep[word - m->base] = (double)u >= m->p;
		}
	}
}

void sup_cpu_dropout_mask(uint8_t *keep, uint64_t key, uint64_t base, double p, int64_t n)
{
	if (n <= 0)
		return;
	const struct drop_args m = { .keep = keep, .key = key, .base = base, .p = p, .n = n };
	const int64_t blocks = (int64_t)(((base + (uint64_t)n - 1) >> 2) - (base >> 2)) + 1;
	par_for(blocks, n >= PAR_MIN / 4, mask_range, &m);
}

static void drop_fwd_range(const void *arg, int64_t lo, int64_t hi)
{
	const struct drop_args *m = arg;
	float *restrict y = m->out;
	const float *restrict x = m->in;
	const uint8_t *restrict keep = m->mask;
	const float s = m->s;
	for (int64_t i = lo; i < hi; i++)
		y[i] = keep[i] ? x[i] * s : 0.0f;
}

static void drop_bwd_range(const void *arg, int64_t lo, int64_t hi)
{
	const struct drop_args *m = arg;
	float *restrict dx = m->out;
	const float *restrict g = m->in;
	const uint8_t *restrict keep = m->mask;
	const float s = m->s;
	for (int64_t i = lo; i < hi; i++)
		if (keep[i])
			dx[i] += g[i] * s;
}

void sup_cpu_dropout_f32(float *y, const float *x, const uint8_t *keep, double scale, int64_t n)
{
	const struct drop_args m = { .mask = keep, .s = (float)scale, .out = y, .in = x };
	par_for(n, n >= PAR_MIN, drop_fwd_range, &m);
}

void sup_cpu_dropout_grad_f32(float *dx, const float *g, const uint8_t *keep, double scale, int64_t n)
{
	const struct drop_args m = { .mask = keep, .s = (float)scale, .out = dx, .in = g };
	par_for(n, n >= PAR_MIN, drop_bwd_range, &m);
}
