/* Fine-tuning protocol (eval.h, docs/eval.md "Fine-tuning"): a linear head on the method's
 * differentiable representation (forward_features), encoder and head trained together with
 * cross-entropy, the epoch chosen on validation, test scored once with the chosen parameters.
 *
 * State that must not leak out of an evaluation: the method's parts are trained in place (the
 * representation lives in them and forward_features reads them), so their parameter and buffer
 * blocks and train/eval flags are copied on entry, before anything touches them, and copied back
 * on exit. The method's own optimizer is untouched: fine-tuning has optimizers of its own, one
 * per part model plus one for the head (an optimizer works on one model's blocks).
 *
 * Only what the loss reaches is optimised. Parameters the representation does not use
 * (projection heads, decoders, momentum encoders, memory banks) get no gradient, but weight
 * decay alone would still shrink them. So every parameter starts in a frozen optimizer group
 * (learning rate and decay 0: with a zero gradient SGD, Adam and AdamW leave it bit for bit)
 * and joins its own group at the first step whose gradient reaches it, as PyTorch's optimizers
 * skip a parameter whose .grad is None. */
#include "eval/internal.h"
#include "selfsup/autograd.h"
#include "selfsup/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FT_MAX_MODELS (SUP_MAX_PARTS + 1) /* the method's part models, then the head */
#define FT_PI	      3.14159265358979323846

/* The image set of src/cli/eval_finetune.c's tables, which cite the sources (tests/cli/test_cli.c
 * checks that they agree). */
void sup_finetune_opts_default(struct sup_finetune_opts *o)
{
	*o = (struct sup_finetune_opts){
	    .n_classes = 0,
	    .epochs = 3,
	    .batch_size = 256,
	    .optim = SUP_OPTIM_ADAM,
	    .lr = 1e-3,
	    .weight_decay = 0,
	    .momentum = 0.9,
	    .warmup = 0,
	    .schedule = SUP_FT_SCHED_COSINE,
	    .val_fraction = 0.1,
	    .eval_batch = 0,
	};
}

/* Copies of the parameter and buffer blocks and the train/eval flag of models 0..n-1. */
struct ft_snapshot {
	float *p[FT_MAX_MODELS], *b[FT_MAX_MODELS];
	bool training[FT_MAX_MODELS];
	int n;
};

struct ft {
	const struct sup_method *m;
	void *state;
	const struct sup_finetune_opts *o;
	struct sup_model *models[FT_MAX_MODELS];
	int n_models; /* the method's distinct part models, then the head */
	struct sup_optim optim[FT_MAX_MODELS];
	int frozen[FT_MAX_MODELS]; /* the group of optim[i] that no gradient has reached yet */
	int n_optim;
	struct sup_model head;
	struct sup_linear fc;
	struct ft_snapshot orig, best; /* orig: the method's parts; best: the parts and the head */
	bool have_orig, have_best;
	struct sup_ctx c;
	int64_t C, D;
	int64_t eval_batch; /* examples per scoring batch (opts, or the training batch) */
	bool graph;	    /* the splits give whole-graph batches */
};

static enum sup_status check_opts(const struct sup_finetune_opts *o, char *err, size_t es)
{
	const char *bad = o->n_classes < 2			    ? "n_classes must be >= 2"
			  : o->epochs < 1			    ? "epochs must be >= 1"
			  : o->batch_size < 0			    ? "batch_size must be >= 0"
			  : o->max_steps < 0			    ? "max_steps must be >= 0"
			  : !(o->lr > 0 && isfinite(o->lr))	    ? "lr must be > 0"
			  : !(o->weight_decay >= 0)		    ? "weight_decay must be >= 0"
			  : !(o->momentum >= 0 && o->momentum < 1)  ? "momentum must be in [0, 1)"
			  : !(o->warmup >= 0 && o->warmup < 1)	    ? "warmup must be in [0, 1)"
			  : (unsigned)o->schedule >= SUP_FT_SCHED_COUNT ? "unknown schedule"
			  : !(o->grad_clip >= 0)		    ? "grad_clip must be >= 0"
			  : !(o->val_fraction >= 0 && o->val_fraction < 1) ? "val_fraction must be in [0, 1)"
			  : o->patience < 0			    ? "patience must be >= 0"
			  : o->eval_batch < 0			    ? "eval_batch must be >= 0"
			  : o->optim != SUP_OPTIM_ADAM && o->optim != SUP_OPTIM_ADAMW && o->optim != SUP_OPTIM_SGD
			      ? "optim must be Adam, AdamW or SGD"
			      : NULL;
	return bad ? sup_errf(err, es, SUP_ERR_ARG, "finetune: %s", bad) : SUP_OK;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static void snapshot_free(struct ft_snapshot *s)
{
	for (int i = 0; i < FT_MAX_MODELS; i++)
		free(s->p[i]), free(s->b[i]);
	memset(s, 0, sizeof *s);
}

/* A snapshot of the models there are now. */
static enum sup_status snapshot_alloc(struct ft *f, struct ft_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->n = f->n_models;
	for (int i = 0; i < s->n; i++) {
		s->p[i] = sup_eval_alloc((size_t)f->models[i]->n_params + 1, sizeof(float));
		s->b[i] = sup_eval_alloc((size_t)f->models[i]->n_buffers + 1, sizeof(float));
		if (!s->p[i] || !s->b[i])
			return SUP_ERR_NOMEM;
	}
	return SUP_OK;
}

static void snapshot_take(struct ft *f, struct ft_snapshot *s)
{
	for (int i = 0; i < s->n; i++) {
		const struct sup_model *m = f->models[i];
		memcpy(s->p[i], m->params, sizeof(float) * (size_t)m->n_params);
		memcpy(s->b[i], m->buffers, sizeof(float) * (size_t)m->n_buffers);
		s->training[i] = m->training;
	}
}

static void snapshot_put(struct ft *f, const struct ft_snapshot *s)
{
	for (int i = 0; i < s->n; i++) {
		struct sup_model *m = f->models[i];
		memcpy(m->params, s->p[i], sizeof(float) * (size_t)m->n_params);
		memcpy(m->buffers, s->b[i], sizeof(float) * (size_t)m->n_buffers);
		sup_model_set_training(m, s->training[i]);
	}
}

/* ||theta - theta_0|| / ||theta_0|| over the part models (not the head). */
static double param_change(const struct ft *f)
{
	double d2 = 0, n2 = 0;
	for (int i = 0; i < f->orig.n; i++) {
		const struct sup_model *m = f->models[i];
		for (int64_t k = 0; k < m->n_params; k++) {
			double a = m->params[k], b = f->orig.p[i][k];
			d2 += (a - b) * (a - b);
			n2 += b * b;
		}
	}
	return n2 > 0 ? sqrt(d2 / n2) : sqrt(d2);
}

/* ---- batches -------------------------------------------------------------------------------- */

/* The representation rows of the n examples asked for and their labels *y (i64 [n], checked to
 * lie in [-1, C)). h is the forward output of batch b; NULL passes through. */
static struct sup_tensor *example_rows(struct ft *f, const struct sup_method_batch *b, int64_t n,
				       struct sup_tensor *h, struct sup_tensor **y)
{
	struct sup_ctx *c = &f->c;
	*y = NULL;
	if (!h)
		return NULL;
	if (h->ndim != 2 || h->dtype != SUP_F32 || (f->D && h->shape[1] != f->D)) {
		sup_ctx_fail(c, SUP_ERR_SHAPE, "finetune: %s's representation is not f32 [B, %lld]", f->m->name,
			     (long long)f->D);
		return NULL;
	}
	const struct sup_tensor *lab = b->labels;
	if (!lab || lab->ndim != 1) {
		sup_ctx_fail(c, SUP_ERR_ARG, "finetune: the data set has no labels");
		return NULL;
	}
	int64_t N = lab->shape[0];
	if (f->graph) {
		if (!b->index || sup_tensor_numel(b->index) != n || h->shape[0] != N) {
			sup_ctx_fail(c, SUP_ERR_SHAPE, "finetune: a graph batch must name its %lld nodes in index",
				     (long long)n);
			return NULL;
		}
		h = sup_index_select(c, h, 0, b->index);
	} else if (h->shape[0] != n || N != n) {
		sup_ctx_fail(c, SUP_ERR_SHAPE, "finetune: %lld examples asked for, representation rows %lld, labels %lld",
			     (long long)n, (long long)h->shape[0], (long long)N);
		return NULL;
	}
	*y = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	for (int64_t i = 0; *y && i < n; i++) {
		int64_t node = f->graph ? (int64_t)sup_tensor_get(b->index, i) : i;
		int64_t v = node >= 0 && node < N ? (int64_t)sup_tensor_get(lab, node) : -2;
		if (v < -1 || v >= f->C) {
			sup_ctx_fail(c, SUP_ERR_ARG, "finetune: label %lld outside [0, %lld) (or a bad node index)",
				     (long long)v, (long long)f->C);
			return NULL;
		}
		((int64_t *)(*y)->data)[i] = v;
	}
	return *y ? h : NULL;
}

static int64_t labelled(const struct sup_tensor *y)
{
	int64_t k = 0;
	for (int64_t i = 0; y && i < y->shape[0]; i++)
		k += ((const int64_t *)y->data)[i] >= 0;
	return k;
}

/* Fails with the context's message, prefixed with where it happened. */
static enum sup_status ctx_err(struct ft *f, const char *where, char *err, size_t es)
{
	enum sup_status s = sup_ctx_status(&f->c);
	return sup_errf(err, es, s ? s : SUP_ERR_ARG, "%s: %s", where,
			sup_ctx_error(&f->c)[0] ? sup_ctx_error(&f->c) : sup_status_str(s));
}

/* ---- set-up --------------------------------------------------------------------------------- */

/* The method's part models, each once. */
static void collect_parts(struct ft *f)
{
	struct sup_ckpt_part parts[SUP_MAX_PARTS];
	int np = f->m->parts(f->state, parts, SUP_MAX_PARTS);
	for (int i = 0; i < np; i++) {
		bool seen = false;
		for (int k = 0; k < f->n_models; k++)
			seen = seen || f->models[k] == parts[i].model;
		if (!seen && parts[i].model)
			f->models[f->n_models++] = parts[i].model;
	}
}

/* D from one frozen forward of two train examples (which leaves the parts in eval mode). */
static enum sup_status probe_dim(struct ft *f, const struct sup_finetune_split *train, char *err, size_t es)
{
	const int64_t idx[2] = {0, 1}, n = train->n < 2 ? train->n : 2;
	struct sup_method_batch b;
	memset(&b, 0, sizeof b);
	enum sup_status s = train->get(train->user, &f->c, idx, n, &b);
	if (s != SUP_OK)
		return ctx_err(f, "finetune: train batch", err, es);
	f->graph = b.kind == SUP_BATCH_GRAPH;
	struct sup_tensor *h = f->m->encode(f->state, &f->c, &b);
	if (!h || h->ndim != 2 || h->shape[1] < 1) {
		if (h)
			sup_ctx_fail(&f->c, SUP_ERR_SHAPE, "%s's representation is not [B, D]", f->m->name);
		return ctx_err(f, "finetune: encode", err, es);
	}
	f->D = h->shape[1];
	sup_ctx_reset(&f->c);
	return SUP_OK;
}

/* The head (PyTorch's nn.Linear initialisation, drawn from the seed) and the optimizers. */
static enum sup_status setup_head_optim(struct ft *f, char *err, size_t es)
{
	const struct sup_finetune_opts *o = f->o;
	sup_model_init(&f->head, sup_allocator_default());
	sup_linear_declare(&f->fc, &f->head, "head", f->D, f->C, true);
	struct sup_rng rng = sup_rng_make(o->seed, (uint64_t)0x68656164 << 32); /* "head" */
	enum sup_status s = sup_model_build(&f->head, &rng);
	if (s != SUP_OK)
		return sup_errf(err, es, s, "finetune: head: %s", f->head.err_msg);
	f->models[f->n_models++] = &f->head;
	const struct sup_optim_config oc = {
	    .kind = o->optim,
	    .momentum = o->momentum,
	    .nesterov = o->optim == SUP_OPTIM_SGD && o->momentum > 0,
	    .weight_decay = o->weight_decay,
	    .exclude_no_decay = true,
	};
	for (int i = 0; i < f->n_models; i++) {
		if ((s = sup_optim_init(&f->optim[i], f->models[i], &oc)) != SUP_OK)
			return sup_errf(err, es, s, "finetune: optimizer: %s", sup_status_str(s));
		f->n_optim++;
		f->frozen[i] = sup_optim_add_group(&f->optim[i], 0, 0);
		SUP_ASSERT(f->frozen[i] >= 0);
		sup_optim_assign(&f->optim[i], "", f->frozen[i]); /* every parameter */
	}
	return SUP_OK;
}

/* Moves the frozen parameters that this step's gradient reaches (anywhere nonzero) to the group
 * sup_optim_init gave them: 1 for the no-decay ones (optim.h), else 0. */
static void thaw_reached(struct ft *f)
{
	for (int i = 0; i < f->n_optim; i++) {
		struct sup_optim *o = &f->optim[i];
		const struct sup_model *m = o->model;
		for (int e = 0; e < m->n_entries; e++) {
			const struct sup_model_entry *en = &m->entries[e];
			if (en->kind != SUP_KIND_PARAM || o->group_of[e] != f->frozen[i])
				continue;
			const float *g = m->grads + en->offset;
			int64_t n = sup_tensor_numel(&en->t), k = 0;
			while (k < n && g[k] == 0)
				k++;
			if (k < n)
				o->group_of[e] = o->cfg.exclude_no_decay && (en->flags & SUP_PARAM_NO_DECAY) ? 1 : 0;
		}
	}
}

/* ---- training and scoring ------------------------------------------------------------------- */

static double lr_at(const struct sup_finetune_opts *o, int64_t step, int64_t total, int64_t warm)
{
	if (step < warm)
		return o->lr * (double)(step + 1) / (double)warm;
	double p = total > warm ? (double)(step - warm) / (double)(total - warm) : 0;
	switch (o->schedule) {
	case SUP_FT_SCHED_LINEAR: return o->lr * (1 - p);
	case SUP_FT_SCHED_COSINE: return o->lr * 0.5 * (1 + cos(FT_PI * p));
	default: return o->lr;
	}
}

/* PyTorch's clip_grad_norm_ over encoder and head together: when the global L2 norm of all
 * gradients exceeds max_norm, every gradient is scaled by max_norm / (norm + 1e-6). */
static void clip_global(struct ft *f, double max_norm)
{
	double n2 = 0;
	for (int i = 0; i < f->n_models; i++) {
		double n = sup_clip_grad_norm(f->models[i], INFINITY); /* the model's norm; clips nothing */
		n2 += n * n;
	}
	if (!(sqrt(n2) > max_norm))
		return;
	const float scale = (float)(max_norm / (sqrt(n2) + 1e-6));
	for (int i = 0; i < f->n_models; i++)
		for (int64_t k = 0; k < f->models[i]->n_params; k++)
			f->models[i]->grads[k] *= scale;
}

/* One optimizer step on the examples idx[0..n) of train. *loss: its loss; a batch without
 * labelled rows is skipped (*loss NAN, *done false). */
static enum sup_status train_step(struct ft *f, const struct sup_finetune_split *train, const int64_t *idx,
				  int64_t n, double lr, double *loss, bool *done)
{
	struct sup_ctx *c = &f->c;
	struct sup_method_batch b;
	struct sup_tensor *y = NULL;
	*loss = NAN;
	*done = false;
	memset(&b, 0, sizeof b);
	if (train->get(train->user, c, idx, n, &b) != SUP_OK)
		return sup_ctx_status(c) ? sup_ctx_status(c) : sup_ctx_fail(c, SUP_ERR_ARG, "get failed");
	struct sup_tensor *h = example_rows(f, &b, n, f->m->forward_features(f->state, c, &b, true), &y);
	if (!h || labelled(y) == 0)
		return sup_ctx_status(c);
	struct sup_tensor *l = sup_cross_entropy(c, sup_linear_forward(c, &f->head, &f->fc, h), y, -1, 0,
						 SUP_REDUCE_MEAN);
	for (int i = 0; i < f->n_models; i++)
		sup_model_zero_grad(f->models[i]);
	if (!l || sup_backward(c, l) != SUP_OK)
		return sup_ctx_status(c);
	if (f->o->grad_clip > 0)
		clip_global(f, f->o->grad_clip);
	thaw_reached(f);
	for (int i = 0; i < f->n_optim; i++)
		sup_optim_step(&f->optim[i], lr);
	*loss = sup_tensor_get(l, 0);
	*done = true;
	return SUP_OK;
}

/* Top-1 (and top-5 when C > 5) of the head on the examples pos[0..n) of split, in eval mode
 * without gradients. Graph splits are scored in one whole-graph batch. */
static enum sup_status score(struct ft *f, const struct sup_finetune_split *split, const int64_t *pos, int64_t n,
			     double *top1, double *top5, const char *name, char *err, size_t es)
{
	float *scores = sup_eval_alloc((size_t)(n * f->C + 1), sizeof(float));
	int64_t *lab = sup_eval_alloc((size_t)n + 1, sizeof(int64_t));
	enum sup_status s = scores && lab ? SUP_OK : SUP_ERR_NOMEM;
	int64_t step = f->graph ? n : f->eval_batch;
	for (int64_t i0 = 0; s == SUP_OK && i0 < n; i0 += step) {
		int64_t k = n - i0 < step ? n - i0 : step;
		struct sup_method_batch b;
		struct sup_tensor *y = NULL, *z = NULL;
		memset(&b, 0, sizeof b);
		if (split->get(split->user, &f->c, pos + i0, k, &b) == SUP_OK) {
			struct sup_tensor *h = example_rows(f, &b, k, f->m->encode(f->state, &f->c, &b), &y);
			sup_no_grad_begin(&f->c);
			z = sup_contiguous(&f->c, sup_linear_forward(&f->c, &f->head, &f->fc, h));
			sup_no_grad_end(&f->c);
		}
		if (!z) {
			char where[64];
			snprintf(where, sizeof where, "finetune: scoring %s", name);
			s = ctx_err(f, where, err, es);
			break;
		}
		memcpy(scores + i0 * f->C, z->data, sizeof(float) * (size_t)(k * f->C));
		memcpy(lab + i0, y->data, sizeof(int64_t) * (size_t)k);
		sup_ctx_reset(&f->c);
	}
	if (s == SUP_ERR_NOMEM)
		sup_errf(err, es, s, "finetune: out of memory");
	if (s == SUP_OK)
		s = sup_eval_topk_accuracy(scores, n, f->C, lab, SUP_I64, 1, top1, NULL, err, es);
	if (s == SUP_OK && top5 && f->C > 5)
		s = sup_eval_topk_accuracy(scores, n, f->C, lab, SUP_I64, 5, top5, NULL, err, es);
	free(scores);
	free(lab);
	return s;
}

/* ---- the protocol --------------------------------------------------------------------------- */

/* Positions of the train split used for fitting (*fit) and held out for validation (*hold): the
 * first n_hold of a permutation drawn from the seed. */
static enum sup_status hold_out(const struct sup_finetune_opts *o, int64_t n, bool given_val, int64_t **fit,
				int64_t *n_fit, int64_t **hold, int64_t *n_hold, char *err, size_t es)
{
	*n_hold = given_val || o->val_fraction <= 0 ? 0 : (int64_t)llround(o->val_fraction * (double)n);
	if (!given_val && o->val_fraction > 0 && *n_hold < 1)
		*n_hold = 1;
	*n_fit = n - *n_hold;
	if (*n_fit < 1)
		return sup_errf(err, es, SUP_ERR_ARG, "finetune: %lld train examples leave none to fit after the %g hold-out",
				(long long)n, o->val_fraction);
	int64_t *perm = sup_eval_alloc((size_t)n, sizeof(int64_t));
	*fit = sup_eval_alloc((size_t)*n_fit, sizeof(int64_t));
	*hold = sup_eval_alloc((size_t)*n_hold + 1, sizeof(int64_t));
	if (!perm || !*fit || !*hold) {
		free(perm);
		return sup_errf(err, es, SUP_ERR_NOMEM, "finetune: out of memory");
	}
	struct sup_rng r = sup_rng_make(o->seed, (uint64_t)3 << 32);
	sup_rng_permutation(&r, perm, n);
	memcpy(*hold, perm, sizeof(int64_t) * (size_t)*n_hold);
	memcpy(*fit, perm + *n_hold, sizeof(int64_t) * (size_t)*n_fit);
	free(perm);
	return SUP_OK;
}

/* What the epochs need besides struct ft. */
struct ft_run {
	const struct sup_finetune_split *train, *val;
	const int64_t *fit, *vpos; /* train positions to fit; validation positions (of val) */
	int64_t n_fit, n_val;
	int64_t batch, spe, total, warm;
	struct sup_finetune_result *out;
};

static void report(const struct ft *f, const struct sup_finetune_progress *p)
{
	if (f->o->progress)
		f->o->progress(f->o->progress_user, p);
}

/* One epoch of steps in the epoch's order; *stop at max_steps. Returns the mean loss in *mean. */
static enum sup_status run_epoch(struct ft *f, struct ft_run *r, int64_t e, int64_t *order, double *mean,
				 char *err, size_t es)
{
	const struct sup_finetune_opts *o = f->o;
	int64_t *idx = sup_eval_alloc((size_t)r->batch, sizeof(int64_t));
	if (!idx)
		return sup_errf(err, es, SUP_ERR_NOMEM, "finetune: out of memory");
	struct sup_rng pr = sup_rng_make(o->seed, ((uint64_t)2 << 32) | (uint64_t)e);
	sup_rng_permutation(&pr, order, r->n_fit);
	double sum = 0;
	int64_t done = 0;
	enum sup_status s = SUP_OK;
	for (int64_t k = 0; k < r->spe && r->out->steps < r->total; k++) {
		for (int64_t i = 0; i < r->batch; i++)
			idx[i] = r->fit[order[k * r->batch + i]];
		double lr = lr_at(o, r->out->steps, r->total, r->warm), loss;
		bool stepped;
		if ((s = train_step(f, r->train, idx, r->batch, lr, &loss, &stepped)) != SUP_OK) {
			s = ctx_err(f, "finetune: step", err, es);
			break;
		}
		sup_ctx_reset(&f->c);
		if (!stepped)
			continue;
		if (!isfinite(loss)) {
			s = sup_errf(err, es, SUP_ERR_STATE, "finetune: the loss is %g at step %lld; try a lower lr", loss,
				     (long long)r->out->steps);
			break;
		}
		sum += loss;
		done++;
		r->out->steps++;
		report(f, &(struct sup_finetune_progress){e, o->epochs, r->out->steps, r->total, loss, lr, false, -1,
							  false});
	}
	free(idx);
	*mean = done ? sum / (double)done : NAN;
	if (s == SUP_OK && done == 0)
		s = sup_errf(err, es, SUP_ERR_ARG, "finetune: epoch %lld had no labelled training rows", (long long)e + 1);
	return s;
}

/* The epochs with validation after each, keeping the best parameters in f->best. */
static enum sup_status run_epochs(struct ft *f, struct ft_run *r, char *err, size_t es)
{
	const struct sup_finetune_opts *o = f->o;
	int64_t *order = sup_eval_alloc((size_t)r->n_fit, sizeof(int64_t));
	enum sup_status s = order ? SUP_OK : sup_errf(err, es, SUP_ERR_NOMEM, "finetune: out of memory");
	int64_t bad = 0;
	r->out->val_top1 = -1;
	for (int64_t e = 0; s == SUP_OK && e < o->epochs && r->out->steps < r->total; e++) {
		double mean = NAN, acc = -1;
		s = run_epoch(f, r, e, order, &mean, err, es);
		if (s == SUP_OK && r->n_val > 0)
			s = score(f, r->val, r->vpos, r->n_val, &acc, NULL, "the validation split", err, es);
		if (s != SUP_OK)
			break;
		r->out->epochs_run = e + 1;
		r->out->train_loss = mean;
		bool best = r->n_val == 0 || acc > r->out->val_top1;
		if (best && r->n_val > 0) {
			snapshot_take(f, &f->best);
			f->have_best = true;
			r->out->val_top1 = acc;
		}
		if (best)
			r->out->best_epoch = e + 1;
		bad = best ? 0 : bad + 1;
		report(f, &(struct sup_finetune_progress){e, o->epochs, r->out->steps, r->total, mean,
							  lr_at(o, r->out->steps ? r->out->steps - 1 : 0, r->total, r->warm),
							  true, acc, best});
		if (o->patience > 0 && bad >= o->patience)
			break;
	}
	free(order);
	return s;
}

/* Steps per epoch, the planned total and the warm-up, from the fit size and the options. */
static void plan(const struct sup_finetune_opts *o, struct ft_run *r)
{
	r->batch = o->batch_size > 0 && o->batch_size < r->n_fit ? o->batch_size : r->n_fit;
	r->spe = r->n_fit / r->batch; /* the last incomplete batch is dropped, as in training */
	r->total = o->epochs * r->spe;
	if (o->max_steps > 0 && o->max_steps < r->total)
		r->total = o->max_steps;
	r->warm = (int64_t)(o->warmup * (double)r->total);
}

static enum sup_status finetune(struct ft *f, const struct sup_finetune_split *train,
				const struct sup_finetune_split *val, const struct sup_finetune_split *test,
				struct sup_finetune_result *out, char *err, size_t es)
{
	collect_parts(f);
	if (snapshot_alloc(f, &f->orig) != SUP_OK)
		return sup_errf(err, es, SUP_ERR_NOMEM, "finetune: out of memory for parameter copies");
	/* Before anything touches the parts (the probe switches them to eval mode). */
	snapshot_take(f, &f->orig);
	f->have_orig = true;
	enum sup_status s = probe_dim(f, train, err, es);
	if (s == SUP_OK)
		s = setup_head_optim(f, err, es);
	if (s == SUP_OK && snapshot_alloc(f, &f->best) != SUP_OK)
		s = sup_errf(err, es, SUP_ERR_NOMEM, "finetune: out of memory for parameter copies");
	if (s != SUP_OK)
		return s;
	int64_t *fit = NULL, *hold = NULL, *vpos = NULL;
	struct ft_run r = {.train = train, .val = val ? val : train, .out = out};
	s = hold_out(f->o, train->n, val != NULL, &fit, &r.n_fit, &hold, &r.n_val, err, es);
	if (s == SUP_OK && val && !(vpos = sup_eval_alloc((size_t)val->n, sizeof(int64_t))))
		s = sup_errf(err, es, SUP_ERR_NOMEM, "finetune: out of memory");
	for (int64_t i = 0; vpos && i < val->n; i++)
		vpos[i] = i;
	if (s == SUP_OK) {
		r.fit = fit;
		r.vpos = val ? vpos : hold;
		r.n_val = val ? val->n : r.n_val;
		plan(f->o, &r);
		/* Scoring without gradients at the training batch needs no more memory than a
		 * training step, which had to fit anyway. */
		f->eval_batch = f->o->eval_batch > 0 ? f->o->eval_batch : r.batch;
		*out = (struct sup_finetune_result){.n_train = r.n_fit, .n_val = r.n_val, .n_test = test->n, .dim = f->D};
		s = run_epochs(f, &r, err, es);
	}
	if (s == SUP_OK && f->have_best)
		snapshot_put(f, &f->best);
	int64_t *tpos = s == SUP_OK ? sup_eval_alloc((size_t)test->n, sizeof(int64_t)) : NULL;
	if (s == SUP_OK && !tpos)
		s = sup_errf(err, es, SUP_ERR_NOMEM, "finetune: out of memory");
	for (int64_t i = 0; tpos && i < test->n; i++)
		tpos[i] = i;
	if (s == SUP_OK)
		s = score(f, test, tpos, test->n, &out->top1, &out->top5, "the test split", err, es);
	out->has_top5 = s == SUP_OK && f->C > 5;
	out->encoder_change = param_change(f);
	free(fit), free(hold), free(vpos), free(tpos);
	return s;
}

enum sup_status sup_eval_finetune(const struct sup_method *m, void *state, const struct sup_finetune_split *train,
				  const struct sup_finetune_split *val, const struct sup_finetune_split *test,
				  const struct sup_finetune_opts *opts, struct sup_finetune_result *out, char *err,
				  size_t err_size)
{
	memset(out, 0, sizeof *out);
	if (!m->forward_features)
		return sup_errf(err, err_size, SUP_ERR_ARG,
				"finetune: method %s has no differentiable representation (forward_features), so its "
				"encoder cannot be fine-tuned; use the frozen protocols (linear, knn)",
				m->name);
	enum sup_status s = check_opts(opts, err, err_size);
	if (s != SUP_OK)
		return s;
	if (train->n < 1 || test->n < 1 || (val && val->n < 1))
		return sup_errf(err, err_size, SUP_ERR_ARG, "finetune: empty split (train %lld, val %lld, test %lld)",
				(long long)train->n, (long long)(val ? val->n : -1), (long long)test->n);
	struct ft *f = calloc(1, sizeof *f);
	if (!f)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "finetune: out of memory");
	*f = (struct ft){.m = m, .state = state, .o = opts, .C = opts->n_classes};
	sup_ctx_init(&f->c, sup_allocator_default(), opts->seed);
	s = finetune(f, train, val, test, out, err, err_size);
	if (f->have_orig && !(s == SUP_OK && opts->keep))
		snapshot_put(f, &f->orig);
	else if (f->have_orig) /* keep: the fine-tuned parameters, the modes of entry */
		for (int i = 0; i < f->orig.n; i++)
			sup_model_set_training(f->models[i], f->orig.training[i]);
	for (int i = 0; i < f->n_optim; i++)
		sup_optim_deinit(&f->optim[i]);
	sup_model_deinit(&f->head);
	snapshot_free(&f->orig);
	snapshot_free(&f->best);
	sup_ctx_deinit(&f->c);
	free(f);
	return s;
}
