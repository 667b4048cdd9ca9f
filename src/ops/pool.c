/* Pooling and upsampling ops (NCHW): max_pool2d, avg_pool2d, adaptive_avg_pool2d,
 * upsample_nearest2d, on the plane kernels of kernels/pool.h.
 *
 * Backward passes are the adjoints of the forward maps (docs/autograd/conv.md):
 *   max:      dx[argmax of window] += dy          (argmax saved by forward, first maximum)
 *   avg:      dx[window] += dy / (KH*KW)          (count_include_pad: fixed divisor)
 *   adaptive: dx[window] += dy / |window|
 *   upsample: dx[h, w] += sum of dy over its sh x sw block. */
#include "kernels/pool.h"
#include "op_internal.h"

#include <stdio.h>

enum pool_kind { POOL_MAX, POOL_AVG, POOL_ADAPTIVE, POOL_UPSAMPLE };

struct pool_saved {
	enum pool_kind kind;
	struct sup_pool_geom g;
	int32_t *idx; /* max pool: chosen in-plane position per output element */
};

/* ---- kernel dispatch -------------------------------------------------------------------------- */

/* Forward or backward of one kind, picking the kernel by dtype and backend. dst/src are y/x
 * (forward) or dx/dy (backward). */
static void run(struct sup_ctx *c, enum sup_dtype dt, const struct pool_saved *s, bool backward, void *dst,
		const void *src)
{
	const struct sup_pool_geom *g = &s->g;
	const bool fast = sup_use_fast(c, dt), f64 = dt == SUP_F64;
#define PICK(name, ...)                                                     \
	do {                                                                \
		if (f64)                                                    \
			sup_ref_##name##_f64(__VA_ARGS__);                  \
		else if (fast)                                              \
			sup_cpu_##name##_f32(__VA_ARGS__);                  \
		else                                                        \
			sup_ref_##name##_f32(__VA_ARGS__);                  \
	} while (0)
	switch (s->kind) {
	case POOL_MAX:
		if (backward)
			PICK(max_pool2d_bwd, dst, src, s->idx, g);
		else
			PICK(max_pool2d_fwd, dst, s->idx, src, g);
		break;
	case POOL_AVG:
		if (backward)
			PICK(avg_pool2d_bwd, dst, src, g);
		else
			PICK(avg_pool2d_fwd, dst, src, g);
		break;
	case POOL_ADAPTIVE:
		if (backward)
			PICK(adaptive_avg_pool2d_bwd, dst, src, g);
		else
			PICK(adaptive_avg_pool2d_fwd, dst, src, g);
		break;
	case POOL_UPSAMPLE:
		if (backward)
			PICK(upsample_nearest2d_bwd, dst, src, g);
		else
			PICK(upsample_nearest2d_fwd, dst, src, g);
		break;
	}
#undef PICK
}

/* ---- backward --------------------------------------------------------------------------------- */

static void pool_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *x = n->in[0];
	void *gx = sup_grad_buf(c, x);
	if (!gx || c->err)
		return;
	run(c, x->dtype, n->saved, true, gx, n->out->grad);
}

const struct sup_op_def sup_opdef_max_pool2d = { "max_pool2d", pool_backward };
const struct sup_op_def sup_opdef_avg_pool2d = { "avg_pool2d", pool_backward };
const struct sup_op_def sup_opdef_adaptive_avg_pool2d = { "adaptive_avg_pool2d", pool_backward };
const struct sup_op_def sup_opdef_upsample_nearest2d = { "upsample_nearest2d", pool_backward };

/* ---- shared op body --------------------------------------------------------------------------- */

/* Checks x (float, rank 4), fills the plane fields of s->g; false + error when bad. */
static bool begin(struct sup_ctx *c, const char *op, sup_t *x, struct pool_saved *s)
{
	if (!sup_op_inputs_ok(c, 1, &x) || !sup_check_float(c, op, 1, &x))
		return false;
	if (x->ndim != 4) {
		sup_op_fail_shape(c, op, x, NULL, "input must be [N, C, H, W]");
		return false;
	}
	s->g.NC = x->shape[0] * x->shape[1];
	s->g.H = x->shape[2];
	s->g.W = x->shape[3];
	return true;
}

/* Runs the forward of s on x into a new [N, C, OH, OW] tensor and records it. */
static sup_t *finish(struct sup_ctx *c, const struct sup_op_def *op, sup_t *x, const struct pool_saved *tmpl)
{
	x = sup_contiguous(c, x);
	struct pool_saved *s = sup_ctx_alloc(c, sizeof *s);
	if (!x || !s)
		return NULL;
	*s = *tmpl;
	const int64_t shape[4] = { x->shape[0], x->shape[1], s->g.OH, s->g.OW };
	sup_t *out = sup_tensor_new(c, x->dtype, 4, shape);
	if (!out)
		return NULL;
	if (s->kind == POOL_MAX) {
		s->idx = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)sup_tensor_numel(out));
		if (!s->idx)
			return NULL;
	}
	run(c, x->dtype, s, false, out->data, x->data);
	struct sup_node *n = sup_record(c, op, out, 1, &x);
	if (n)
		n->saved = s;
	return c->err ? NULL : out;
}

/* Window/stride/padding checks shared by max and avg pooling (PyTorch's rules, floor mode). */
static bool window_geom(struct sup_ctx *c, const char *op, sup_t *x, const struct sup_pool2d_args *a,
			struct sup_pool_geom *g)
{
	char why[200];
	if (!a)
		return sup_op_fail_arg(c, op, "args must not be NULL (the kernel size is required)"), false;
	for (int i = 0; i < 2; i++) {
		if (a->kernel[i] < 1 || a->stride[i] < 0 || a->padding[i] < 0)
			return sup_op_fail_arg(c, op, "kernel must be >= 1, stride and padding >= 0"), false;
		if (2 * a->padding[i] > a->kernel[i]) {
			snprintf(why, sizeof why, "padding %d exceeds half the kernel size %d", a->padding[i], a->kernel[i]);
			return sup_op_fail_arg(c, op, why), false;
		}
	}
	g->KH = a->kernel[0], g->KW = a->kernel[1];
	g->sh = a->stride[0] ? a->stride[0] : a->kernel[0];
	g->sw = a->stride[1] ? a->stride[1] : a->kernel[1];
	g->ph = a->padding[0], g->pw = a->padding[1];
	if (g->KH > g->H + 2 * g->ph || g->KW > g->W + 2 * g->pw) {
		snprintf(why, sizeof why, "kernel %lldx%lld larger than padded input %lldx%lld", (long long)g->KH,
			 (long long)g->KW, (long long)(g->H + 2 * g->ph), (long long)(g->W + 2 * g->pw));
		return sup_op_fail_shape(c, op, x, NULL, why), false;
	}
	g->OH = (g->H + 2 * g->ph - g->KH) / g->sh + 1;
	g->OW = (g->W + 2 * g->pw - g->KW) / g->sw + 1;
	return true;
}

/* ---- ops -------------------------------------------------------------------------------------- */

sup_t *sup_max_pool2d(struct sup_ctx *c, sup_t *x, const struct sup_pool2d_args *args)
{
	struct pool_saved s = { .kind = POOL_MAX };
	if (!begin(c, "max_pool2d", x, &s) || !window_geom(c, "max_pool2d", x, args, &s.g))
		return NULL;
	if (s.g.H * s.g.W > INT32_MAX)
		return sup_op_fail_shape(c, "max_pool2d", x, NULL, "planes larger than 2^31 elements");
	return finish(c, &sup_opdef_max_pool2d, x, &s);
}

sup_t *sup_avg_pool2d(struct sup_ctx *c, sup_t *x, const struct sup_pool2d_args *args)
{
	struct pool_saved s = { .kind = POOL_AVG };
	if (!begin(c, "avg_pool2d", x, &s) || !window_geom(c, "avg_pool2d", x, args, &s.g))
		return NULL;
	return finish(c, &sup_opdef_avg_pool2d, x, &s);
}

sup_t *sup_adaptive_avg_pool2d(struct sup_ctx *c, sup_t *x, int out_h, int out_w)
{
	struct pool_saved s = { .kind = POOL_ADAPTIVE };
	if (!begin(c, "adaptive_avg_pool2d", x, &s))
		return NULL;
	if (out_h < 1 || out_w < 1)
		return sup_op_fail_arg(c, "adaptive_avg_pool2d", "output size must be >= 1");
	if (s.g.H < 1 || s.g.W < 1)
		return sup_op_fail_shape(c, "adaptive_avg_pool2d", x, NULL, "input planes must not be empty");
	s.g.OH = out_h, s.g.OW = out_w;
	return finish(c, &sup_opdef_adaptive_avg_pool2d, x, &s);
}

sup_t *sup_upsample_nearest2d(struct sup_ctx *c, sup_t *x, int scale_h, int scale_w)
{
	struct pool_saved s = { .kind = POOL_UPSAMPLE };
	if (!begin(c, "upsample_nearest2d", x, &s))
		return NULL;
	if (scale_h < 1 || scale_w < 1)
		return sup_op_fail_arg(c, "upsample_nearest2d", "scales must be integers >= 1");
	s.g.sh = scale_h, s.g.sw = scale_w;
	s.g.OH = s.g.H * scale_h, s.g.OW = s.g.W * scale_w;
	return finish(c, &sup_opdef_upsample_nearest2d, x, &s);
}
