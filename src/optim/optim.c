/* SGD, LARS, Adam, AdamW over a model's parameter block (formulas in optim.h's citations; the
 * exact update equations are written out in docs/optim.md). */
#include "selfsup/optim.h"

#include <math.h>
#include <string.h>

enum sup_status sup_optim_init(struct sup_optim *o, struct sup_model *m, const struct sup_optim_config *cfg)
{
	memset(o, 0, sizeof *o);
	if (!m->built || (unsigned)cfg->kind >= SUP_OPTIM_KIND_COUNT)
		return SUP_ERR_ARG;
	o->cfg = *cfg;
	o->cfg.beta1 = cfg->beta1 > 0 ? cfg->beta1 : 0.9;
	o->cfg.beta2 = cfg->beta2 > 0 ? cfg->beta2 : 0.999;
	o->cfg.eps = cfg->eps > 0 ? cfg->eps : 1e-8;
	o->cfg.trust_coef = cfg->trust_coef > 0 ? cfg->trust_coef : 0.001;
	o->model = m;
	size_t bytes = sizeof(float) * (size_t)(m->n_params ? m->n_params : 1);
	o->slot1 = sup_alloc(&m->alloc, bytes, 64);
	o->slot2 = sup_alloc(&m->alloc, bytes, 64);
	o->group_of = sup_alloc(&m->alloc, (size_t)(m->n_entries ? m->n_entries : 1), 64);
	if (!o->slot1 || !o->slot2 || !o->group_of) {
		sup_optim_deinit(o);
		return SUP_ERR_NOMEM;
	}
	memset(o->slot1, 0, bytes);
	memset(o->slot2, 0, bytes);
	bool lars = cfg->kind == SUP_OPTIM_LARS;
	o->groups[0] = (struct sup_param_group){ 1.0, cfg->weight_decay, lars };
	o->groups[1] = (struct sup_param_group){ 1.0, cfg->exclude_no_decay ? 0.0 : cfg->weight_decay,
						 lars && !cfg->exclude_no_decay };
	o->n_groups = 2;
	for (int i = 0; i < m->n_entries; i++)
		o->group_of[i] = (cfg->exclude_no_decay && (m->entries[i].flags & SUP_PARAM_NO_DECAY)) ? 1 : 0;
	return SUP_OK;
}

void sup_optim_deinit(struct sup_optim *o)
{
	if (o->model) {
		sup_free(&o->model->alloc, o->slot1);
		sup_free(&o->model->alloc, o->slot2);
		sup_free(&o->model->alloc, o->group_of);
	}
	memset(o, 0, sizeof *o);
}

int sup_optim_add_group(struct sup_optim *o, double lr_scale, double weight_decay)
{
	if (o->n_groups >= SUP_OPTIM_MAX_GROUPS)
		return -1;
	o->groups[o->n_groups] = (struct sup_param_group){ lr_scale, weight_decay, o->cfg.kind == SUP_OPTIM_LARS };
	return o->n_groups++;
}

void sup_optim_assign(struct sup_optim *o, const char *prefix, int g)
{
	SUP_ASSERT(g >= 0 && g < o->n_groups);
	size_t n = strlen(prefix);
	for (int i = 0; i < o->model->n_entries; i++)
		if (strncmp(o->model->entries[i].name, prefix, n) == 0)
			o->group_of[i] = (unsigned char)g;
}

static double norm2(const float *x, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	return sqrt(s);
}

static void sgd_update(const struct sup_optim_config *c, float *w, const float *g, float *buf, int64_t n, double lr,
		       double wd, bool first)
{
	const float mom = (float)c->momentum;
	for (int64_t i = 0; i < n; i++) {
		float d = g[i] + (float)wd * w[i];
		if (mom != 0) {
			buf[i] = first ? d : mom * buf[i] + d;
			d = c->nesterov ? d + mom * buf[i] : buf[i];
		}
		w[i] -= (float)lr * d;
	}
}

/* LARS: local lr = lr * eta ||w|| / ||g + wd w|| (1 when either norm is 0 or not adapted). */
static void lars_update(const struct sup_optim_config *c, float *w, const float *g, float *buf, int64_t n, double lr,
			double wd, bool adapt)
{
	double trust = 1.0;
	if (adapt) {
		double wn = norm2(w, n), gn = 0;
		for (int64_t i = 0; i < n; i++) {
			double d = (double)g[i] + wd * w[i];
			gn += d * d;
		}
		gn = sqrt(gn);
		if (wn > 0 && gn > 0)
			trust = c->trust_coef * wn / gn;
	}
	const float local = (float)(lr * trust), mom = (float)c->momentum;
	for (int64_t i = 0; i < n; i++) {
		buf[i] = mom * buf[i] + local * (g[i] + (float)wd * w[i]);
		w[i] -= buf[i];
	}
}

static void adam_update(const struct sup_optim_config *c, float *w, const float *g, float *m1, float *m2, int64_t n,
			double lr, double wd, int64_t t)
{
	const bool decoupled = c->kind == SUP_OPTIM_ADAMW;
	const double b1 = c->beta1, b2 = c->beta2;
	const double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
	const float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2)), eps = (float)c->eps;
	const float decay = (float)(1.0 - lr * wd);
	for (int64_t i = 0; i < n; i++) {
		float d = g[i];
		if (decoupled)
			w[i] *= decay;
		else
			d += (float)wd * w[i];
		m1[i] = (float)b1 * m1[i] + (float)(1.0 - b1) * d;
		m2[i] = (float)b2 * m2[i] + (float)(1.0 - b2) * d * d;
		w[i] -= step * m1[i] / (sqrtf(m2[i]) * rbc2 + eps);
	}
}

void sup_optim_step(struct sup_optim *o, double lr)
{
	struct sup_model *m = o->model;
	o->steps++;
#pragma omp parallel for schedule(dynamic, 1) if (m->n_params > 65536)
	for (int i = 0; i < m->n_entries; i++) {
		const struct sup_model_entry *e = &m->entries[i];
		if (e->kind != SUP_KIND_PARAM)
			continue;
		const struct sup_param_group *gr = &o->groups[o->group_of[i]];
		const int64_t off = e->offset, n = sup_tensor_numel(&e->t);
		float *w = m->params + off, *s1 = o->slot1 + off, *s2 = o->slot2 + off;
		const float *g = m->grads + off;
		const double glr = lr * gr->lr_scale;
		switch (o->cfg.kind) {
		case SUP_OPTIM_SGD: sgd_update(&o->cfg, w, g, s1, n, glr, gr->weight_decay, o->steps == 1); break;
		case SUP_OPTIM_LARS: lars_update(&o->cfg, w, g, s1, n, glr, gr->weight_decay, gr->lars_adapt); break;
		case SUP_OPTIM_ADAM:
		case SUP_OPTIM_ADAMW: adam_update(&o->cfg, w, g, s1, s2, n, glr, gr->weight_decay, o->steps); break;
		default: SUP_ASSERT(0 && "bad optimizer kind");
		}
	}
}

double sup_clip_grad_norm(struct sup_model *m, double max_norm)
{
	double norm = norm2(m->grads, m->n_params);
	if (norm > max_norm) {
		const float scale = (float)(max_norm / (norm + 1e-6));
		for (int64_t i = 0; i < m->n_params; i++)
			m->grads[i] *= scale;
	}
	return norm;
}
