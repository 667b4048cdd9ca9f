/* conv2d and conv_transpose2d (NCHW), on the convolution kernels of kernels/conv.h.
 *
 * Both ops are phrased with one convolution geometry (kernels/conv.h): conv2d maps the geometry's
 * input to its output; conv_transpose2d is the adjoint of that map in the input, i.e. it maps
 * the geometry's *output* shape [N, Cin_t, H, W] to its *input* shape [N, Cout_t, OH, OW] with
 * the same weight tensor [Cin_t, Cout_t/groups, KH, KW] (PyTorch's layout). So
 *   conv2d:            fwd = fwd pass,      dx = bwd_data,  dw = bwd_weight(x, dy)
 *   conv_transpose2d:  fwd = bwd_data pass, dx = fwd pass,  dw = bwd_weight(dy, x)
 * (docs/autograd/conv.md has the derivation). Non-contiguous inputs go through sup_contiguous
 * first, which is recorded, so their gradients flow as usual. */
#include "kernels/conv.h"
#include "op_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- kernel dispatch (reference or fast by backend and dtype) --------------------------------- */

static void free_dnnl(void *state)
{
	sup_dnnl_conv_free(state);
}

/* The context's oneDNN primitive cache, made on first use; NULL without oneDNN. */
static struct sup_dnnl_conv *dnnl_of(struct sup_ctx *c)
{
	if (!c->backend_init) {
		c->backend_init = true;
		c->backend_state = sup_dnnl_conv_new(c->alloc);
		c->backend_free = free_dnnl;
	}
	return c->backend_state;
}

/* Which fast passes go to oneDNN (measured on W1/W2 shapes, bench/README.md): all of them, except
 * forward and backward-data of convolutions with fewer than 16 input channels per group (the
 * image-facing first layers), where oneDNN picks slow reference-like kernels and im2col + GEMM
 * is faster. */
static bool dnnl_wanted(const struct sup_conv_geom *g, enum sup_conv_pass pass)
{
	return pass == SUP_CONV_BWD_WEIGHT || g->C / g->G >= 16;
}

/* Runs a fast f32 pass on oneDNN when the rule and the geometry allow it, with its work memory
 * at the end of the arena (released right after). Returns false when it did not run (the caller
 * falls back to im2col); a oneDNN failure after that point is recorded as the sticky error. */
static bool try_dnnl(struct sup_ctx *c, const struct sup_conv_geom *g, enum sup_conv_pass pass, bool accumulate,
		     void *out, const void *in0, const void *in1, const void *bias)
{
	if (!dnnl_wanted(g, pass))
		return false;
	struct sup_dnnl_conv *dc = dnnl_of(c);
	size_t bytes = 0;
	const struct sup_dnnl_conv_entry *e = dc ? sup_dnnl_conv_prepare(dc, g, pass, bias != NULL, accumulate, &bytes)
						 : NULL;
	if (!e)
		return false;
	struct sup_arena_mark m = sup_arena_mark(&c->arena);
	void *work = sup_ctx_alloc(c, bytes ? bytes : 1);
	if (work && !sup_dnnl_conv_run(dc, e, out, in0, in1, bias, work))
		sup_ctx_fail(c, SUP_ERR_STATE, "convolution: oneDNN failed to run a pass (%lldx%lld kernel, %lld -> %lld channels)",
			     (long long)g->KH, (long long)g->KW, (long long)g->C, (long long)g->K);
	sup_arena_rewind(&c->arena, m);
	return true;
}

/* Plans the fast pass and allocates its scratch at the end of the arena; the caller releases it
 * with sup_arena_rewind(mark) right after the kernel, so scratch never accumulates over a step. */
static float *fast_scratch(struct sup_ctx *c, struct sup_conv_plan *p, const struct sup_conv_geom *g,
			   enum sup_conv_pass pass, struct sup_arena_mark *mark)
{
	sup_cpu_conv2d_plan(p, g, pass);
	*mark = sup_arena_mark(&c->arena);
	return sup_ctx_alloc(c, sizeof(float) * (p->floats ? p->floats : 1));
}

static void run_fwd(struct sup_ctx *c, enum sup_dtype dt, void *y, const void *x, const void *w, const void *b,
		    const struct sup_conv_geom *g, bool accumulate)
{
	if (dt == SUP_F64) {
		sup_ref_conv2d_fwd_f64(y, x, w, b, g, accumulate);
	} else if (sup_use_fast(c, dt)) {
		if (try_dnnl(c, g, SUP_CONV_FWD, accumulate, y, x, w, b))
			return;
		struct sup_conv_plan p;
		struct sup_arena_mark m;
		float *work = fast_scratch(c, &p, g, SUP_CONV_FWD, &m);
		if (work)
			sup_cpu_conv2d_fwd_f32(y, x, w, b, g, accumulate, &p, work);
		sup_arena_rewind(&c->arena, m);
	} else {
		sup_ref_conv2d_fwd_f32(y, x, w, b, g, accumulate);
	}
}

/* dx (=|+=) conv^T(dy, w): the kernels accumulate, so a store zeroes dx first (except oneDNN's,
 * which stores). */
static void run_bwd_data(struct sup_ctx *c, enum sup_dtype dt, void *dx, const void *dy, const void *w,
			 const struct sup_conv_geom *g, bool accumulate)
{
	if (sup_use_fast(c, dt) && try_dnnl(c, g, SUP_CONV_BWD_DATA, accumulate, dx, dy, w, NULL))
		return;
	if (!accumulate)
		memset(dx, 0, (size_t)(g->N * g->C * g->H * g->W) * sup_dtype_size(dt));
	if (dt == SUP_F64) {
		sup_ref_conv2d_bwd_data_f64(dx, dy, w, g);
	} else if (sup_use_fast(c, dt)) {
		struct sup_conv_plan p;
		struct sup_arena_mark m;
		float *work = fast_scratch(c, &p, g, SUP_CONV_BWD_DATA, &m);
		if (work)
			sup_cpu_conv2d_bwd_data_f32(dx, dy, w, g, &p, work);
		sup_arena_rewind(&c->arena, m);
	} else {
		sup_ref_conv2d_bwd_data_f32(dx, dy, w, g);
	}
}

/* dw (=|+=) the weight gradient; as run_bwd_data. */
static void run_bwd_weight(struct sup_ctx *c, enum sup_dtype dt, void *dw, const void *x, const void *dy,
			   const struct sup_conv_geom *g, bool accumulate)
{
	if (sup_use_fast(c, dt) && try_dnnl(c, g, SUP_CONV_BWD_WEIGHT, accumulate, dw, x, dy, NULL))
		return;
	if (!accumulate)
		memset(dw, 0, (size_t)(g->K * (g->C / g->G) * g->KH * g->KW) * sup_dtype_size(dt));
	if (dt == SUP_F64) {
		sup_ref_conv2d_bwd_weight_f64(dw, x, dy, g);
	} else if (sup_use_fast(c, dt)) {
		struct sup_conv_plan p;
		struct sup_arena_mark m;
		float *work = fast_scratch(c, &p, g, SUP_CONV_BWD_WEIGHT, &m);
		if (work)
			sup_cpu_conv2d_bwd_weight_f32(dw, x, dy, g, &p, work);
		sup_arena_rewind(&c->arena, m);
	} else {
		sup_ref_conv2d_bwd_weight_f32(dw, x, dy, g);
	}
}

/* t [N, C, P] += b[c] (add) or db[c] += sum_{n,p} t (sum). */
static void run_channel(struct sup_ctx *c, enum sup_dtype dt, bool sum, void *dst, const void *src, int64_t N,
			int64_t C, int64_t P)
{
	if (dt == SUP_F64) {
		if (sum)
			sup_ref_channel_sum_f64(dst, src, N, C, P);
		else
			sup_ref_channel_add_f64(dst, src, N, C, P);
	} else if (sup_use_fast(c, dt)) {
		if (sum)
			sup_cpu_channel_sum_f32(dst, src, N, C, P);
		else
			sup_cpu_channel_add_f32(dst, src, N, C, P);
	} else {
		if (sum)
			sup_ref_channel_sum_f32(dst, src, N, C, P);
		else
			sup_ref_channel_add_f32(dst, src, N, C, P);
	}
}

/* ---- backward --------------------------------------------------------------------------------- */

static void conv2d_backward(struct sup_ctx *c, struct sup_node *n)
{
	const struct sup_conv_geom *g = n->saved;
	sup_t *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
	const enum sup_dtype dt = x->dtype;
	const void *dy = n->out->grad;
	bool ax, aw;
	void *gx = sup_grad_buf_acc(c, x, &ax), *gw = sup_grad_buf_acc(c, w, &aw), *gb = sup_grad_buf(c, b);
	if (c->err)
		return;
	if (gx)
		run_bwd_data(c, dt, gx, dy, w->data, g, ax);
	if (gw)
		run_bwd_weight(c, dt, gw, x->data, dy, g, aw);
	if (gb)
		run_channel(c, dt, true, gb, dy, g->N, g->K, g->OH * g->OW);
}

/* Here the geometry's input is the op's output and the geometry's output is the op's input. */
static void conv_transpose2d_backward(struct sup_ctx *c, struct sup_node *n)
{
	const struct sup_conv_geom *g = n->saved;
	sup_t *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
	const enum sup_dtype dt = x->dtype;
	const void *dy = n->out->grad;
	bool ax, aw;
	void *gx = sup_grad_buf_acc(c, x, &ax), *gw = sup_grad_buf_acc(c, w, &aw), *gb = sup_grad_buf(c, b);
	if (c->err)
		return;
	if (gx)
		run_fwd(c, dt, gx, dy, w->data, NULL, g, ax);
	if (gw)
		run_bwd_weight(c, dt, gw, dy, x->data, g, aw);
	if (gb)
		run_channel(c, dt, true, gb, dy, g->N, g->C, g->H * g->W);
}

const struct sup_op_def sup_opdef_conv2d = { "conv2d", conv2d_backward };
const struct sup_op_def sup_opdef_conv_transpose2d = { "conv_transpose2d", conv_transpose2d_backward };

/* ---- argument and shape checks ---------------------------------------------------------------- */

/* Fills stride/padding/dilation/groups of g from args (NULL = defaults); false + error if bad. */
static bool read_args(struct sup_ctx *c, const char *op, const struct sup_conv2d_args *a, struct sup_conv_geom *g,
		      int64_t outpad[2])
{
	const struct sup_conv2d_args zero = { { 0, 0 }, { 0, 0 }, { 0, 0 }, 0, { 0, 0 } };
	if (!a)
		a = &zero;
	for (int i = 0; i < 2; i++)
		if (a->stride[i] < 0 || a->padding[i] < 0 || a->dilation[i] < 0 || a->output_padding[i] < 0 ||
		    a->groups < 0) {
			sup_op_fail_arg(c, op, "stride, padding, dilation, output_padding and groups must be >= 0");
			return false;
		}
	g->sh = a->stride[0] ? a->stride[0] : 1;
	g->sw = a->stride[1] ? a->stride[1] : 1;
	g->ph = a->padding[0];
	g->pw = a->padding[1];
	g->dh = a->dilation[0] ? a->dilation[0] : 1;
	g->dw = a->dilation[1] ? a->dilation[1] : 1;
	g->G = a->groups ? a->groups : 1;
	outpad[0] = a->output_padding[0];
	outpad[1] = a->output_padding[1];
	return true;
}

/* Rank, bias shape and channel/group divisibility common to both ops; cout: the op's output
 * channels. */
static bool check_common(struct sup_ctx *c, const char *op, sup_t *x, sup_t *w, sup_t *b, int64_t G,
			 int64_t cout)
{
	char why[160];
	if (x->ndim != 4)
		return sup_op_fail_shape(c, op, x, w, "input must be [N, C, H, W]"), false;
	if (w->ndim != 4)
		return sup_op_fail_shape(c, op, x, w, "weight must have 4 axes"), false;
	if (w->shape[0] < 1 || w->shape[1] < 1 || w->shape[2] < 1 || w->shape[3] < 1)
		return sup_op_fail_shape(c, op, x, w, "weight axes must be >= 1"), false;
	if (x->shape[1] % G != 0) {
		snprintf(why, sizeof why, "input channels %lld not divisible by groups %lld", (long long)x->shape[1],
			 (long long)G);
		return sup_op_fail_shape(c, op, x, w, why), false;
	}
	if (cout % G != 0) {
		snprintf(why, sizeof why, "output channels %lld not divisible by groups %lld", (long long)cout,
			 (long long)G);
		return sup_op_fail_shape(c, op, x, w, why), false;
	}
	if (b && (b->ndim != 1 || b->shape[0] != cout)) {
		snprintf(why, sizeof why, "bias must be [%lld] (one per output channel)", (long long)cout);
		return sup_op_fail_shape(c, op, b, w, why), false;
	}
	return true;
}

/* Records the node (inputs x, w and b when present) with a copy of the geometry. */
static void record(struct sup_ctx *c, const struct sup_op_def *op, sup_t *out, sup_t *x, sup_t *w, sup_t *b,
		   const struct sup_conv_geom *g)
{
	sup_t *ins[3] = { x, w, b };
	struct sup_node *n = sup_record(c, op, out, b ? 3 : 2, ins);
	if (!n)
		return;
	struct sup_conv_geom *s = sup_ctx_alloc(c, sizeof *s);
	if (s)
		*s = *g;
	n->saved = s;
}

/* ---- ops -------------------------------------------------------------------------------------- */

sup_t *sup_conv2d(struct sup_ctx *c, sup_t *x, sup_t *w, sup_t *b, const struct sup_conv2d_args *args)
{
	sup_t *in[3] = { x, w, b };
	struct sup_conv_geom g;
	int64_t outpad[2];
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, "conv2d", 3, in) ||
	    !read_args(c, "conv2d", args, &g, outpad))
		return NULL;
	if (outpad[0] || outpad[1])
		return sup_op_fail_arg(c, "conv2d", "output_padding applies to conv_transpose2d only");
	if (!check_common(c, "conv2d", x, w, b, g.G, w->ndim == 4 ? w->shape[0] : 0))
		return NULL;
	char why[200];
	g.N = x->shape[0], g.C = x->shape[1], g.H = x->shape[2], g.W = x->shape[3];
	g.K = w->shape[0], g.KH = w->shape[2], g.KW = w->shape[3];
	if (w->shape[1] * g.G != g.C) {
		snprintf(why, sizeof why, "weight expects %lld input channels (%lld per group x %lld groups), input has %lld",
			 (long long)(w->shape[1] * g.G), (long long)w->shape[1], (long long)g.G, (long long)g.C);
		return sup_op_fail_shape(c, "conv2d", x, w, why);
	}
	const int64_t ekh = (g.KH - 1) * g.dh + 1, ekw = (g.KW - 1) * g.dw + 1;
	if (ekh > g.H + 2 * g.ph || ekw > g.W + 2 * g.pw) {
		snprintf(why, sizeof why, "kernel %lldx%lld (dilated) larger than padded input %lldx%lld", (long long)ekh,
			 (long long)ekw, (long long)(g.H + 2 * g.ph), (long long)(g.W + 2 * g.pw));
		return sup_op_fail_shape(c, "conv2d", x, w, why);
	}
	g.OH = (g.H + 2 * g.ph - ekh) / g.sh + 1;
	g.OW = (g.W + 2 * g.pw - ekw) / g.sw + 1;
	x = sup_contiguous(c, x);
	w = sup_contiguous(c, w);
	b = b ? sup_contiguous(c, b) : NULL;
	const int64_t shape[4] = { g.N, g.K, g.OH, g.OW };
	sup_t *out = x && w ? sup_tensor_new(c, x->dtype, 4, shape) : NULL;
	if (!out || c->err)
		return NULL;
	run_fwd(c, x->dtype, out->data, x->data, w->data, b ? b->data : NULL, &g, false);
	if (c->err)
		return NULL;
	record(c, &sup_opdef_conv2d, out, x, w, b, &g);
	return out;
}

sup_t *sup_conv_transpose2d(struct sup_ctx *c, sup_t *x, sup_t *w, sup_t *b, const struct sup_conv2d_args *args)
{
	sup_t *in[3] = { x, w, b };
	struct sup_conv_geom g;
	int64_t op[2];
	const char *name = "conv_transpose2d";
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, name, 3, in) || !read_args(c, name, args, &g, op))
		return NULL;
	if ((op[0] >= g.sh && op[0] >= g.dh) || (op[1] >= g.sw && op[1] >= g.dw))
		return sup_op_fail_arg(c, name, "output_padding must be smaller than stride or dilation");
	const int64_t G = g.G;
	if (!check_common(c, name, x, w, b, G, w->ndim == 4 ? w->shape[1] * G : 0))
		return NULL;
	char why[200];
	if (w->shape[0] != x->shape[1]) {
		snprintf(why, sizeof why, "weight [Cin, Cout/groups, KH, KW] has Cin %lld, input has %lld channels",
			 (long long)w->shape[0], (long long)x->shape[1]);
		return sup_op_fail_shape(c, name, x, w, why);
	}
	/* Geometry of the forward convolution this op is the adjoint of. */
	g.N = x->shape[0], g.K = x->shape[1], g.OH = x->shape[2], g.OW = x->shape[3];
	g.C = w->shape[1] * G, g.KH = w->shape[2], g.KW = w->shape[3];
	g.H = (g.OH - 1) * g.sh - 2 * g.ph + (g.KH - 1) * g.dh + op[0] + 1;
	g.W = (g.OW - 1) * g.sw - 2 * g.pw + (g.KW - 1) * g.dw + op[1] + 1;
	if (g.OH < 1 || g.OW < 1 || g.H < 1 || g.W < 1) {
		snprintf(why, sizeof why, "output size %lldx%lld is not positive (padding too large)", (long long)g.H,
			 (long long)g.W);
		return sup_op_fail_shape(c, name, x, w, why);
	}
	x = sup_contiguous(c, x);
	w = sup_contiguous(c, w);
	b = b ? sup_contiguous(c, b) : NULL;
	const int64_t shape[4] = { g.N, g.C, g.H, g.W };
	sup_t *out = x && w ? sup_tensor_new(c, x->dtype, 4, shape) : NULL;
	if (!out || c->err)
		return NULL;
	run_bwd_data(c, x->dtype, out->data, x->data, w->data, &g, false);
	if (b)
		run_channel(c, x->dtype, false, out->data, b->data, g.N, g.C, g.H * g.W);
	if (c->err)
		return NULL;
	record(c, &sup_opdef_conv_transpose2d, out, x, w, b, &g);
	return out;
}
