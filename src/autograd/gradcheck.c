/* Finite-difference gradient check (central differences in f64, kinks skipped). */
#include "selfsup/autograd.h"

#include <math.h>
#include <string.h>

struct gc_state {
	struct sup_ctx *c;
	sup_gradcheck_fn fn;
	void *user;
	struct sup_tensor *const *inputs;
	int n;
	struct sup_rng rng0; /* the RNG at entry: restored before every evaluation */
	double *r;           /* projection, heap */
	int64_t out_numel;
};

/* sum(r * f(x)) without recording; everything made is released. NAN on failure. */
static double eval_projected(struct gc_state *s)
{
	struct sup_ctx *c = s->c;
	struct sup_ctx_mark m = sup_ctx_mark(c);
	c->rng = s->rng0;
	sup_no_grad_begin(c);
	struct sup_tensor *y = s->fn(c, s->inputs, s->user);
	sup_no_grad_end(c);
	double acc = NAN;
	if (y && !c->err && sup_tensor_numel(y) == s->out_numel) {
		acc = 0.0;
		for (int64_t i = 0; i < s->out_numel; i++)
			acc += s->r[i] * sup_tensor_get(y, i);
	}
	sup_ctx_rewind(c, m);
	return acc;
}

static enum sup_status check_inputs(struct sup_ctx *c, struct sup_tensor *const *inputs, int n)
{
	for (int i = 0; i < n; i++) {
		const struct sup_tensor *t = inputs[i];
		if (!t)
			return sup_ctx_fail(c, SUP_ERR_ARG, "gradcheck: input %d is NULL", i);
		if (t->requires_grad && (t->dtype != SUP_F64 || !sup_tensor_is_contiguous(t) || t->node))
			return sup_ctx_fail(c, SUP_ERR_ARG,
					    "gradcheck: input %d must be a contiguous f64 leaf", i);
	}
	return SUP_OK;
}

/* Runs forward + backward once; copies each checked input's gradient into `analytic`. */
static enum sup_status analytic_grads(struct gc_state *s, double **analytic)
{
	struct sup_ctx *c = s->c;
	struct sup_ctx_mark m = sup_ctx_mark(c);
	c->rng = s->rng0;
	for (int i = 0; i < s->n; i++) {
		sup_grad_release(c, s->inputs[i]); /* a pooled gradient goes back to the pool */
		s->inputs[i]->grad = NULL;
	}
	struct sup_tensor *y = s->fn(c, s->inputs, s->user);
	enum sup_status st = c->err;
	if (!st && (!y || y->dtype != SUP_F64))
		st = sup_ctx_fail(c, SUP_ERR_DTYPE, "gradcheck: the function must return an f64 tensor");
	if (!st && !y->requires_grad)
		st = sup_ctx_fail(c, SUP_ERR_STATE, "gradcheck: the output does not depend on any input");
	if (!st) {
		s->out_numel = sup_tensor_numel(y);
		s->r = sup_alloc(&c->alloc, sizeof(double) * (size_t)(s->out_numel ? s->out_numel : 1), 64);
		if (!s->r)
			st = sup_ctx_fail(c, SUP_ERR_NOMEM, "gradcheck: out of memory");
	}
	if (!st) {
		struct sup_rng rr = sup_rng_make(0, 0x9c);
		for (int64_t i = 0; i < s->out_numel; i++)
			s->r[i] = 2.0 * sup_rng_uniform(&rr) - 1.0;
		st = sup_backward_grad(c, y, s->r);
	}
	for (int i = 0; !st && i < s->n; i++) {
		struct sup_tensor *t = s->inputs[i];
		if (!t->requires_grad)
			continue;
		int64_t k = sup_tensor_numel(t);
		for (int64_t j = 0; j < k; j++)
			analytic[i][j] = t->grad ? ((double *)t->grad)[j] : 0.0;
	}
	for (int i = 0; i < s->n; i++) {
		sup_grad_release(c, s->inputs[i]); /* a pooled gradient goes back to the pool */
		s->inputs[i]->grad = NULL;
	}
	sup_ctx_rewind(c, m);
	return st;
}

static void compare_one(struct gc_state *s, const struct sup_gradcheck_opts *o, int i, int64_t j, double a,
			struct sup_gradcheck_report *rep, double f0)
{
	double *x = (double *)s->inputs[i]->data;
	double keep = x[j];
	x[j] = keep + o->eps;
	double fp = eval_projected(s);
	x[j] = keep - o->eps;
	double fm = eval_projected(s);
	x[j] = keep;
	double num = (fp - fm) / (2.0 * o->eps);
	double right = (fp - f0) / o->eps, left = (f0 - fm) / o->eps;
	if (fabs(right - left) > 1e-3 * (1.0 + fabs(num))) {
		rep->skipped++;
		return;
	}
	rep->checked++;
	double err = fabs(a - num) - (o->atol + o->rtol * fabs(num));
	if (isnan(err))
		err = INFINITY;
	if (rep->checked == 1 || err > rep->max_err) {
		rep->max_err = err;
		rep->worst_input = i;
		rep->worst_index = j;
		rep->worst_analytic = a;
		rep->worst_numeric = num;
	}
}

enum sup_status sup_gradcheck(struct sup_ctx *c, sup_gradcheck_fn fn, void *user, struct sup_tensor *const *inputs,
			      int n_inputs, const struct sup_gradcheck_opts *opts,
			      struct sup_gradcheck_report *report)
{
	struct sup_gradcheck_opts o = opts ? *opts : (struct sup_gradcheck_opts){ 0 };
	o.eps = o.eps > 0 ? o.eps : 1e-6;
	o.atol = o.atol > 0 ? o.atol : 1e-6;
	o.rtol = o.rtol > 0 ? o.rtol : 1e-4;
	memset(report, 0, sizeof *report);
	report->max_err = -INFINITY;
	if (c->err || check_inputs(c, inputs, n_inputs))
		return c->err;

	struct gc_state s = { .c = c, .fn = fn, .user = user, .inputs = inputs, .n = n_inputs, .rng0 = c->rng };
	double *analytic[16] = { 0 };
	if (n_inputs > 16)
		return sup_ctx_fail(c, SUP_ERR_ARG, "gradcheck: at most 16 inputs");
	enum sup_status st = SUP_OK;
	for (int i = 0; i < n_inputs && !st; i++) {
		if (!inputs[i]->requires_grad)
			continue;
		analytic[i] = sup_alloc(&c->alloc, sizeof(double) * (size_t)(sup_tensor_numel(inputs[i]) + 1), 64);
		if (!analytic[i])
			st = sup_ctx_fail(c, SUP_ERR_NOMEM, "gradcheck: out of memory");
	}
	if (!st)
		st = analytic_grads(&s, analytic);
	if (!st) {
		double f0 = eval_projected(&s);
		for (int i = 0; i < n_inputs; i++) {
			if (!inputs[i]->requires_grad)
				continue;
			int64_t k = sup_tensor_numel(inputs[i]);
			for (int64_t j = 0; j < k; j++)
				compare_one(&s, &o, i, j, analytic[i][j], report, f0);
		}
		st = c->err;
		report->ok = !st && report->checked > 0 && report->max_err <= 0;
	}
	for (int i = 0; i < n_inputs; i++)
		sup_free(&c->alloc, analytic[i]);
	sup_free(&c->alloc, s.r);
	c->rng = s.rng0;
	return st;
}
