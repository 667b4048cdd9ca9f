/* layer_norm and batch_norm: fused forward (statistics, normalisation, affine) saving the
 * per-row / per-channel mean and rstd = 1 / sqrt(var + eps), and fused backward.
 * docs/autograd/norm.md derives the backward formulas. */
#include "kernels/norm.h"
#include "op_internal.h"

#include <math.h>
#include <string.h>
#include <stdio.h>

/* ---- layer norm -------------------------------------------------------------------------------- */

static void ln_forward(const struct sup_ctx *c, sup_t *out, void *stats, const sup_t *a, const sup_t *w,
		       const sup_t *b, int64_t R, int64_t C, double eps)
{
	const void *wd = w ? w->data : NULL, *bd = b ? b->data : NULL;
	if (a->dtype == SUP_F64) {
		double *s = stats;
		sup_ref_layer_norm_fwd_f64(out->data, s, s + R, a->data, wd, bd, R, C, eps);
	} else {
		float *s = stats;
		if (sup_use_fast(c, SUP_F32))
			sup_cpu_layer_norm_fwd_f32(out->data, s, s + R, a->data, wd, bd, R, C, eps);
		else
			sup_ref_layer_norm_fwd_f32(out->data, s, s + R, a->data, wd, bd, R, C, eps);
	}
}

/* in: a, weight (or NULL), bias (or NULL); iarg: R, C; saved: mean[R] then rstd[R]. */
static void layer_norm_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0], *w = n->in[1];
	void *dx = sup_grad_buf(c, a), *dw = sup_grad_buf(c, w), *db = sup_grad_buf(c, n->in[2]);
	if (!dx && !dw && !db)
		return;
	const int64_t R = n->iarg[0], C = n->iarg[1];
	const void *wd = w ? w->data : NULL, *dy = n->out->grad;
	if (a->dtype == SUP_F64) {
		const double *s = n->saved;
		sup_ref_layer_norm_bwd_f64(dx, dw, db, dy, a->data, s, s + R, wd, R, C);
	} else {
		const float *s = n->saved;
		if (sup_use_fast(c, SUP_F32))
			sup_cpu_layer_norm_bwd_f32(dx, dw, db, dy, a->data, s, s + R, wd, R, C);
		else
			sup_ref_layer_norm_bwd_f32(dx, dw, db, dy, a->data, s, s + R, wd, R, C);
	}
}

const struct sup_op_def sup_opdef_layer_norm = { "layer_norm", layer_norm_backward };

/* weight / bias of a norm: NULL, or 1-D of C elements. */
static bool check_affine(struct sup_ctx *c, const char *op, const sup_t *a, const sup_t *p, int64_t C,
			 const char *what)
{
	if (!p || (p->ndim == 1 && p->shape[0] == C))
		return true;
	char why[96];
	snprintf(why, sizeof why, "%s must be 1-D with %lld elements", what, (long long)C);
	sup_op_fail_shape(c, op, a, p, why);
	return false;
}

sup_t *sup_layer_norm(struct sup_ctx *c, sup_t *a, sup_t *weight, sup_t *bias, double eps)
{
	/* weight and bias may be NULL by choice; a NULL left by a failed op shows as c->err. */
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	sup_t *in[3] = { a, weight, bias };
	if (!sup_check_float(c, "layer_norm", 3, in))
		return NULL;
	if (a->ndim < 1)
		return sup_op_fail_shape(c, "layer_norm", a, NULL, "input needs at least 1 axis");
	const int64_t C = a->shape[a->ndim - 1];
	if (!check_affine(c, "layer_norm", a, weight, C, "weight") || !check_affine(c, "layer_norm", a, bias, C, "bias"))
		return NULL;
	if (!(eps >= 0) || !isfinite(eps))
		return sup_op_fail_arg(c, "layer_norm", "eps must be finite and >= 0");
	a = sup_contiguous(c, a);
	weight = weight ? sup_contiguous(c, weight) : NULL;
	bias = bias ? sup_contiguous(c, bias) : NULL;
	if (c->err)
		return NULL;
	const int64_t R = C ? sup_tensor_numel(a) / C : 0;
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, a->shape);
	void *stats = sup_ctx_alloc(c, 2 * (size_t)R * sup_dtype_size(a->dtype));
	if (!out || !stats)
		return NULL;
	ln_forward(c, out, stats, a, weight, bias, R, C, eps);
	sup_t *ins[3] = { a, weight, bias };
	struct sup_node *n = sup_record(c, &sup_opdef_layer_norm, out, 3, ins);
	if (n) {
		n->iarg[0] = R;
		n->iarg[1] = C;
		n->saved = stats;
	}
	return out;
}

/* ---- batch norm -------------------------------------------------------------------------------- */

/* The shape plan of a batch norm: x viewed as [N, C, S]. */
struct bn_dims {
	int64_t N, C, S;
};

/* ---- synchronised statistics (struct sup_bn_sync) ----
 * Plain loops in double over x viewed as [N, C, S]: the per-channel sums are the only work, and
 * the collective dominates their cost anyway. */

/* What a synchronised node keeps for backward: the constants it normalised with and the sync. */
struct bn_sync_saved {
	void *stats; /* mean[C], rstd[C] in a's dtype */
	const struct sup_bn_sync *sync;
	double count; /* values per channel over every process */
};

#define BN_AT(p, f64, i) ((f64) ? ((const double *)(p))[i] : (double)((const float *)(p))[i])

/* Global mean and biased variance of x viewed as [N, C, S] over every process, two-pass: the
 * sums and counts are added over the processes for the mean, then the sums of squared
 * deviations from that mean for the variance. The one-pass E[x^2] - mean^2 costs one collective
 * less but cancels catastrophically for a channel whose values barely vary (a unit that ReLU
 * almost silenced), and such a channel's rstd then multiplies the error into every gradient
 * below it. mean/var are in x's dtype, [C]; *count receives the global count. buf: 2C + 1. */
static enum sup_status bn_sync_stats(const struct sup_bn_sync *sync, const sup_t *a, const struct bn_dims *d,
				     void *mean, void *var, double *count, double *buf)
{
	const bool f64 = a->dtype == SUP_F64;
	const int64_t N = d->N, C = d->C, S = d->S;
	memset(buf, 0, sizeof(double) * (size_t)(2 * C + 1));
	for (int64_t i = 0; i < N; i++)
		for (int64_t ch = 0; ch < C; ch++)
			for (int64_t k = 0; k < S; k++)
				buf[ch] += BN_AT(a->data, f64, (i * C + ch) * S + k);
	buf[C] = (double)(N * S);
	enum sup_status st = sync->allreduce_sum(sync->user, buf, C + 1);
	if (st != SUP_OK)
		return st;
	*count = buf[C];
	double *mu = buf + C + 1; /* C more doubles: the global means */
	/* The mean in x's dtype, and the deviations from that rounded mean, as the one-process
	 * kernels compute them (kernels/cpu/norm.c): the output is normalised with the rounded
	 * mean, and a channel of tiny variance is sensitive to which mean its deviations use. */
	for (int64_t ch = 0; ch < C; ch++)
		mu[ch] = f64 ? buf[ch] / *count : (double)(float)(buf[ch] / *count);
	for (int64_t ch = 0; ch < C; ch++)
		buf[ch] = 0;
	for (int64_t i = 0; i < N; i++)
		for (int64_t ch = 0; ch < C; ch++)
			for (int64_t k = 0; k < S; k++) {
				const double dv = BN_AT(a->data, f64, (i * C + ch) * S + k) - mu[ch];
				buf[ch] += dv * dv;
			}
	if ((st = sync->allreduce_sum(sync->user, buf, C)) != SUP_OK)
		return st;
	for (int64_t ch = 0; ch < C; ch++) {
		const double v = buf[ch] / *count;
		if (f64) {
			((double *)mean)[ch] = mu[ch];
			((double *)var)[ch] = v;
		} else {
			((float *)mean)[ch] = (float)mu[ch];
			((float *)var)[ch] = (float)v;
		}
	}
	return SUP_OK;
}

/* dx = w rstd (dy - sum(dy)/M - x_hat sum(dy x_hat)/M) with the sums over every process;
 * dw += local sum(dy x_hat), db += local sum(dy) (PyTorch's SyncBatchNorm backward). */
static void bn_sync_backward(struct sup_ctx *c, struct sup_node *n, void *dx, void *dw, void *db)
{
	const struct bn_sync_saved *sv = n->saved;
	const sup_t *a = n->in[0], *w = n->in[1];
	const int64_t N = n->iarg[0], C = n->iarg[1], S = n->iarg[2];
	const bool f64 = a->dtype == SUP_F64;
	const void *x = a->data, *dy = n->out->grad, *mean = sv->stats;
	const char *rstd = (const char *)sv->stats + (size_t)C * sup_dtype_size(a->dtype);
	double *sums = sup_ctx_calloc(c, sizeof(double) * 2 * (size_t)C), *glob = sup_ctx_alloc(c, sizeof(double) * 2 * (size_t)C);
	if (!sums || !glob)
		return;
	for (int64_t i = 0; i < N; i++)
		for (int64_t ch = 0; ch < C; ch++)
			for (int64_t k = 0; k < S; k++) {
				const int64_t e = (i * C + ch) * S + k;
				const double g = BN_AT(dy, f64, e), xh = (BN_AT(x, f64, e) - BN_AT(mean, f64, ch)) * BN_AT(rstd, f64, ch);
				sums[ch] += g;
				sums[C + ch] += g * xh;
			}
	memcpy(glob, sums, sizeof(double) * 2 * (size_t)C);
	enum sup_status st = sv->sync->allreduce_sum(sv->sync->user, glob, 2 * C);
	if (st != SUP_OK) {
		sup_ctx_fail(c, st, "batch_norm: synchronised backward: the allreduce failed");
		return;
	}
	for (int64_t ch = 0; ch < C && f64; ch++) {
		if (dw)
			((double *)dw)[ch] += sums[C + ch];
		if (db)
			((double *)db)[ch] += sums[ch];
	}
	for (int64_t ch = 0; ch < C && !f64; ch++) {
		if (dw)
			((float *)dw)[ch] += (float)sums[C + ch];
		if (db)
			((float *)db)[ch] += (float)sums[ch];
	}
	if (!dx)
		return;
	for (int64_t i = 0; i < N; i++)
		for (int64_t ch = 0; ch < C; ch++) {
			const double mu = BN_AT(mean, f64, ch), rs = BN_AT(rstd, f64, ch), sc = rs * (w ? BN_AT(w->data, f64, ch) : 1.0);
			const double mdy = glob[ch] / sv->count, mdyx = glob[C + ch] / sv->count;
			for (int64_t k = 0; k < S; k++) {
				const int64_t e = (i * C + ch) * S + k;
				const double xh = (BN_AT(x, f64, e) - mu) * rs, d = sc * (BN_AT(dy, f64, e) - mdy - xh * mdyx);
				if (f64)
					((double *)dx)[e] += d;
				else
					((float *)dx)[e] += (float)d;
			}
		}
}

/* in: a, weight, bias; iarg: N, C, S, training, synchronised; saved: mean[C] then rstd[C] (the constants the
 * output was normalised with: batch statistics, or the running ones in eval mode). */
static void batch_norm_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0], *w = n->in[1];
	void *dx = sup_grad_buf(c, a), *dw = sup_grad_buf(c, w), *db = sup_grad_buf(c, n->in[2]);
	if (!dx && !dw && !db)
		return;
	const int64_t N = n->iarg[0], C = n->iarg[1], S = n->iarg[2];
	const bool training = n->iarg[3] != 0;
	const void *wd = w ? w->data : NULL, *dy = n->out->grad;
	if (n->iarg[4]) {
		bn_sync_backward(c, n, dx, dw, db);
		return;
	}
	if (a->dtype == SUP_F64) {
		const double *s = n->saved;
		sup_ref_batch_norm_bwd_f64(dx, dw, db, dy, a->data, s, s + C, wd, N, C, S, training);
	} else {
		const float *s = n->saved;
		if (sup_use_fast(c, SUP_F32))
			sup_cpu_batch_norm_bwd_f32(dx, dw, db, dy, a->data, s, s + C, wd, N, C, S, training);
		else
			sup_ref_batch_norm_bwd_f32(dx, dw, db, dy, a->data, s, s + C, wd, N, C, S, training);
	}
}

const struct sup_op_def sup_opdef_batch_norm = { "batch_norm", batch_norm_backward };

static bool check_running(struct sup_ctx *c, const sup_t *a, const sup_t *r, int64_t C, const char *what)
{
	if (!r)
		return true;
	if (!sup_dtype_is_float(r->dtype)) {
		sup_ctx_fail(c, SUP_ERR_DTYPE, "batch_norm: %s must be f32 or f64, got %s", what,
			     sup_dtype_name(r->dtype));
		return false;
	}
	return check_affine(c, "batch_norm", a, r, C, what);
}

/* Validates everything; fills d. Returns false with the error recorded. */
static bool bn_check(struct sup_ctx *c, sup_t *a, sup_t *w, sup_t *b, const sup_t *rm, const sup_t *rv,
		     const struct sup_batch_norm_args *o, struct bn_dims *d)
{
	sup_t *in[3] = { a, w, b };
	if (!sup_check_float(c, "batch_norm", 3, in))
		return false;
	if (a->ndim != 2 && a->ndim != 4) {
		sup_op_fail_shape(c, "batch_norm", a, NULL, "input must be [N, C] or [N, C, H, W]");
		return false;
	}
	d->N = a->shape[0];
	d->C = a->shape[1];
	d->S = a->ndim == 4 ? a->shape[2] * a->shape[3] : 1;
	if (!check_affine(c, "batch_norm", a, w, d->C, "weight") || !check_affine(c, "batch_norm", a, b, d->C, "bias") ||
	    !check_running(c, a, rm, d->C, "running_mean") || !check_running(c, a, rv, d->C, "running_var"))
		return false;
	if (!(o->eps >= 0) || !isfinite(o->eps) || !(o->momentum >= 0 && o->momentum <= 1)) {
		sup_op_fail_arg(c, "batch_norm", "eps must be finite and >= 0, momentum in [0, 1]");
		return false;
	}
	if (!o->training && (!rm || !rv)) {
		sup_op_fail_arg(c, "batch_norm", "eval mode needs both running_mean and running_var");
		return false;
	}
	if (o->training && d->N * d->S < 2) {
		/* The unbiased running variance, and any useful normalisation, need two values. */
		sup_op_fail_shape(c, "batch_norm", a, NULL, "training needs more than one value per channel");
		return false;
	}
	return true;
}

/* Batch statistics into mean / rstd (T = a's dtype), and the in-place running-stat update:
 * running = (1 - m) running + m batch, with the unbiased variance. var is scratch of C. */
static bool bn_batch_stats(struct sup_ctx *c, const sup_t *a, const struct bn_dims *d, void *mean, void *rstd,
			   void *var, sup_t *rm, sup_t *rv, const struct sup_batch_norm_args *o, double *count)
{
	const bool f64 = a->dtype == SUP_F64;
	*count = (double)(d->N * d->S);
	if (o->sync) {
		double *buf = sup_ctx_alloc(c, sizeof(double) * (size_t)(2 * d->C + 1));
		if (!buf)
			return false;
		enum sup_status st = bn_sync_stats(o->sync, a, d, mean, var, count, buf);
		if (st != SUP_OK) {
			sup_ctx_fail(c, st, "batch_norm: synchronised statistics: the allreduce failed");
			return false;
		}
	} else if (f64)
		sup_ref_batch_norm_stats_f64(mean, var, a->data, d->N, d->C, d->S);
	else if (sup_use_fast(c, SUP_F32))
		sup_cpu_batch_norm_stats_f32(mean, var, a->data, d->N, d->C, d->S);
	else
		sup_ref_batch_norm_stats_f32(mean, var, a->data, d->N, d->C, d->S);
	const double M = *count, m = o->momentum;
	for (int64_t ch = 0; ch < d->C; ch++) {
		const double mu = f64 ? ((double *)mean)[ch] : ((float *)mean)[ch];
		const double v = f64 ? ((double *)var)[ch] : ((float *)var)[ch];
		const double rs = 1.0 / sqrt(v + o->eps);
		if (f64)
			((double *)rstd)[ch] = rs;
		else
			((float *)rstd)[ch] = (float)rs;
		if (rm)
			sup_tensor_set(rm, ch, (1 - m) * sup_tensor_get(rm, ch) + m * mu);
		if (rv)
			sup_tensor_set(rv, ch, (1 - m) * sup_tensor_get(rv, ch) + m * v * M / (M - 1));
	}
	return true;
}

/* Eval mode: the running statistics, copied so a later in-place update cannot change what the
 * backward of this call sees. */
static void bn_running_stats(const sup_t *a, int64_t C, void *mean, void *rstd, const sup_t *rm, const sup_t *rv,
			     double eps)
{
	for (int64_t ch = 0; ch < C; ch++) {
		const double mu = sup_tensor_get(rm, ch), rs = 1.0 / sqrt(sup_tensor_get(rv, ch) + eps);
		if (a->dtype == SUP_F64) {
			((double *)mean)[ch] = mu;
			((double *)rstd)[ch] = rs;
		} else {
			((float *)mean)[ch] = (float)mu;
			((float *)rstd)[ch] = (float)rs;
		}
	}
}

sup_t *sup_batch_norm(struct sup_ctx *c, sup_t *a, sup_t *weight, sup_t *bias, sup_t *running_mean,
		      sup_t *running_var, const struct sup_batch_norm_args *args)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	const struct sup_batch_norm_args o = args ? *args : (struct sup_batch_norm_args){ true, 0.1, 1e-5, NULL };
	struct bn_dims d;
	if (!bn_check(c, a, weight, bias, running_mean, running_var, &o, &d))
		return NULL;
	a = sup_contiguous(c, a);
	weight = weight ? sup_contiguous(c, weight) : NULL;
	bias = bias ? sup_contiguous(c, bias) : NULL;
	if (c->err)
		return NULL;
	const size_t es = sup_dtype_size(a->dtype);
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, a->shape);
	char *stats = sup_ctx_alloc(c, 3 * (size_t)d.C * es); /* mean, rstd, var (scratch) */
	if (!out || !stats)
		return NULL;
	void *mean = stats, *rstd = stats + (size_t)d.C * es;
	const bool sync = o.training && o.sync;
	double count = 0;
	if (o.training) {
		if (!bn_batch_stats(c, a, &d, mean, rstd, stats + 2 * (size_t)d.C * es, running_mean, running_var, &o,
				    &count))
			return NULL;
	} else
		bn_running_stats(a, d.C, mean, rstd, running_mean, running_var, o.eps);
	const void *wd = weight ? weight->data : NULL, *bd = bias ? bias->data : NULL;
	if (a->dtype == SUP_F64)
		sup_ref_batch_norm_apply_f64(out->data, a->data, mean, rstd, wd, bd, d.N, d.C, d.S);
	else if (sup_use_fast(c, SUP_F32))
		sup_cpu_batch_norm_apply_f32(out->data, a->data, mean, rstd, wd, bd, d.N, d.C, d.S);
	else
		sup_ref_batch_norm_apply_f32(out->data, a->data, mean, rstd, wd, bd, d.N, d.C, d.S);
	sup_t *ins[3] = { a, weight, bias };
	struct sup_node *n = sup_record(c, &sup_opdef_batch_norm, out, 3, ins);
	if (n) {
		n->iarg[0] = d.N;
		n->iarg[1] = d.C;
		n->iarg[2] = d.S;
		n->iarg[3] = o.training;
		n->iarg[4] = sync;
		n->saved = stats;
		struct bn_sync_saved *sv = sync ? sup_ctx_alloc(c, sizeof *sv) : NULL;
		if (sv) {
			*sv = (struct bn_sync_saved){ .stats = stats, .sync = o.sync, .count = count };
			n->saved = sv;
		}
	}
	return out;
}
