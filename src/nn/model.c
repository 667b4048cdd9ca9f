/* Model blocks: declaration, layout, initialisation, EMA. See nn.h. */
#include "selfsup/nn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sup_model_fail(struct sup_model *m, enum sup_status s, const char *fmt, ...)
{
	if (m->err == SUP_OK) {
		m->err = s;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m->err_msg, sizeof m->err_msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void sup_model_init(struct sup_model *m, struct sup_allocator alloc)
{
	memset(m, 0, sizeof *m);
	m->alloc = alloc;
	m->training = true;
}

void sup_model_deinit(struct sup_model *m)
{
	sup_free(&m->alloc, m->entries);
	sup_free(&m->alloc, m->params);
	sup_free(&m->alloc, m->grads);
	sup_free(&m->alloc, m->buffers);
	memset(m, 0, sizeof *m);
}

int sup_model_find(const struct sup_model *m, const char *name)
{
	for (int i = 0; i < m->n_entries; i++)
		if (strcmp(m->entries[i].name, name) == 0)
			return i;
	return -1;
}

static bool grow(struct sup_model *m)
{
	if (m->n_entries < m->cap_entries)
		return true;
	int cap = m->cap_entries ? 2 * m->cap_entries : 32;
	struct sup_model_entry *e = sup_alloc(&m->alloc, sizeof *e * (size_t)cap, 64);
	if (!e)
		return false;
	if (m->entries)
		memcpy(e, m->entries, sizeof *e * (size_t)m->n_entries);
	sup_free(&m->alloc, m->entries);
	m->entries = e;
	m->cap_entries = cap;
	return true;
}

int sup_model_add(struct sup_model *m, const char *prefix, const char *name, enum sup_tensor_kind kind,
		  int ndim, const int64_t *shape, enum sup_init init, double init_a, unsigned flags)
{
	if (m->err)
		return -1;
	if (m->built)
		return sup_model_fail(m, SUP_ERR_STATE, "model: cannot declare '%s' after build", name);
	char full[SUP_NAME_MAX];
	int len = snprintf(full, sizeof full, "%s%s%s", prefix && *prefix ? prefix : "", prefix && *prefix ? "." : "", name);
	if (len < 0 || len >= (int)sizeof full)
		return sup_model_fail(m, SUP_ERR_ARG, "model: tensor name too long: %s.%s", prefix, name);
	if (sup_model_find(m, full) >= 0)
		return sup_model_fail(m, SUP_ERR_ARG, "model: duplicate tensor name '%s'", full);
	if (ndim < 0 || ndim > SUP_MAX_DIMS || (unsigned)init >= SUP_INIT_COUNT)
		return sup_model_fail(m, SUP_ERR_ARG, "model: bad rank or initialiser for '%s'", full);
	for (int i = 0; i < ndim; i++)
		if (shape[i] < 0)
			return sup_model_fail(m, SUP_ERR_SHAPE, "model: negative size in the shape of '%s'", full);
	if (!grow(m))
		return sup_model_fail(m, SUP_ERR_NOMEM, "model: out of memory");
	struct sup_model_entry *e = &m->entries[m->n_entries];
	memset(e, 0, sizeof *e);
	memcpy(e->name, full, (size_t)len + 1);
	e->kind = kind;
	e->flags = flags;
	e->init = init;
	e->init_a = init_a;
	sup_tensor_init(&e->t, SUP_F32, ndim, shape, NULL);
	/* Offsets rounded to 16 floats keep every tensor 64-byte aligned inside its block. */
	int64_t *used = kind == SUP_KIND_PARAM ? &m->n_params : &m->n_buffers;
	e->offset = *used;
	*used += (sup_tensor_numel(&e->t) + 15) / 16 * 16;
	return m->n_entries++;
}

void sup_model_set_fans(struct sup_model *m, int idx, int64_t fan_in, int64_t fan_out)
{
	SUP_ASSERT(idx >= 0 && idx < m->n_entries);
	m->entries[idx].fan_in = fan_in;
	m->entries[idx].fan_out = fan_out;
}

/* PyTorch's fans: for [out, in, k...] fan_in = in * prod(k), fan_out = out * prod(k). */
static void fans(const struct sup_model_entry *e, double *fi, double *fo)
{
	const struct sup_tensor *t = &e->t;
	double recept = 1;
	for (int i = 2; i < t->ndim; i++)
		recept *= (double)t->shape[i];
	*fi = t->ndim >= 2 ? (double)t->shape[1] * recept : t->ndim == 1 ? (double)t->shape[0] : 1;
	*fo = t->ndim >= 2 ? (double)t->shape[0] * recept : t->ndim == 1 ? (double)t->shape[0] : 1;
	if (e->fan_in)
		*fi = (double)e->fan_in;
	if (e->fan_out)
		*fo = (double)e->fan_out;
}

static void init_entry(struct sup_model_entry *e, struct sup_rng *r)
{
	float *w = e->t.data;
	int64_t n = sup_tensor_numel(&e->t);
	double fi, fo, a = e->init_a, b;
	fans(e, &fi, &fo);
	for (int64_t i = 0; i < n; i++) {
		switch (e->init) {
		case SUP_INIT_ZEROS: w[i] = 0; break;
		case SUP_INIT_ONES: w[i] = 1; break;
		case SUP_INIT_CONST: w[i] = (float)a; break;
		case SUP_INIT_UNIFORM: w[i] = (float)(a * (2.0 * sup_rng_uniform(r) - 1.0)); break;
		case SUP_INIT_NORMAL: w[i] = (float)(a * sup_rng_normal(r)); break;
		case SUP_INIT_TRUNC_NORMAL: {
			double x;
			do
				x = sup_rng_normal(r);
			while (fabs(x) > 2.0);
			w[i] = (float)(a * x);
			break;
		}
		case SUP_INIT_KAIMING_UNIFORM:
			b = sqrt(6.0 / ((1.0 + a * a) * fi));
			w[i] = (float)(b * (2.0 * sup_rng_uniform(r) - 1.0));
			break;
		case SUP_INIT_KAIMING_NORMAL: w[i] = (float)(sqrt(2.0 / fo) * sup_rng_normal(r)); break;
		case SUP_INIT_XAVIER_UNIFORM:
			b = (a > 0 ? a : 1.0) * sqrt(6.0 / (fi + fo));
			w[i] = (float)(b * (2.0 * sup_rng_uniform(r) - 1.0));
			break;
		case SUP_INIT_FAN_IN_UNIFORM:
			b = 1.0 / sqrt(fi);
			w[i] = (float)(b * (2.0 * sup_rng_uniform(r) - 1.0));
			break;
		default: SUP_ASSERT(0 && "bad initialiser");
		}
	}
}

enum sup_status sup_model_build(struct sup_model *m, struct sup_rng *rng)
{
	if (m->err)
		return m->err;
	if (m->built) {
		sup_model_fail(m, SUP_ERR_STATE, "model: built twice");
		return m->err;
	}
	size_t pb = sizeof(float) * (size_t)(m->n_params ? m->n_params : 1);
	size_t bb = sizeof(float) * (size_t)(m->n_buffers ? m->n_buffers : 1);
	m->params = sup_alloc(&m->alloc, pb, 64);
	m->grads = sup_alloc(&m->alloc, pb, 64);
	m->buffers = sup_alloc(&m->alloc, bb, 64);
	if (!m->params || !m->grads || !m->buffers) {
		sup_model_fail(m, SUP_ERR_NOMEM, "model: out of memory for %lld parameters", (long long)m->n_params);
		return m->err;
	}
	memset(m->params, 0, pb);
	memset(m->grads, 0, pb);
	memset(m->buffers, 0, bb);
	for (int i = 0; i < m->n_entries; i++) {
		struct sup_model_entry *e = &m->entries[i];
		if (e->kind == SUP_KIND_PARAM) {
			e->t.data = m->params + e->offset;
			e->t.grad = m->grads + e->offset;
			e->t.requires_grad = true;
		} else {
			e->t.data = m->buffers + e->offset;
		}
		init_entry(e, rng);
	}
	m->built = true;
	return SUP_OK;
}

struct sup_tensor *sup_model_tensor(struct sup_model *m, int idx)
{
	SUP_ASSERT(m->built && idx >= 0 && idx < m->n_entries);
	return &m->entries[idx].t;
}

void sup_model_zero_grad(struct sup_model *m)
{
	if (m->grads)
		memset(m->grads, 0, sizeof(float) * (size_t)m->n_params);
}

void sup_model_set_training(struct sup_model *m, bool training)
{
	m->training = training;
}

static bool same_layout(const struct sup_model *a, const struct sup_model *b)
{
	if (!a->built || !b->built || a->n_entries != b->n_entries || a->n_params != b->n_params ||
	    a->n_buffers != b->n_buffers)
		return false;
	for (int i = 0; i < a->n_entries; i++)
		if (a->entries[i].kind != b->entries[i].kind || !sup_tensor_same_shape(&a->entries[i].t, &b->entries[i].t))
			return false;
	return true;
}

enum sup_status sup_model_copy(struct sup_model *dst, const struct sup_model *src)
{
	if (!same_layout(dst, src))
		return SUP_ERR_SHAPE;
	memcpy(dst->params, src->params, sizeof(float) * (size_t)src->n_params);
	memcpy(dst->buffers, src->buffers, sizeof(float) * (size_t)src->n_buffers);
	return SUP_OK;
}

enum sup_status sup_model_ema(struct sup_model *dst, const struct sup_model *src, double m)
{
	if (!same_layout(dst, src))
		return SUP_ERR_SHAPE;
	const float mf = (float)m, rest = (float)(1.0 - m);
	float *d = dst->params;
	const float *s = src->params;
	const int64_t n = src->n_params;
#pragma omp parallel for schedule(static) if (n > 65536)
	for (int64_t i = 0; i < n; i++)
		d[i] = mf * d[i] + rest * s[i];
	return SUP_OK;
}

/* ---- data parallelism ------------------------------------------------------------------------ */

enum sup_status sup_model_allreduce_grads(struct sup_model *m, const struct sup_comm *comm, int64_t bucket_elems)
{
	const int K = sup_comm_size(comm);
	if (K <= 1 || !m->grads)
		return SUP_OK;
	/* The gradient block is contiguous, so a bucket is a run of it: one collective per 4 MiB
	 * keeps the transport's temporary buffers bounded without paying per-tensor latency. Measured
	 * with bench/allreduce (2 processes, shared memory): W2's 46 MB of gradients take 26 ms in
	 * 4 MiB buckets, 31 ms in 16 MiB ones and 190 ms as one collective. */
	const int64_t bucket = bucket_elems > 0 ? bucket_elems : (int64_t)1 << 20;
	const float inv = 1.0f / (float)K;
	for (int64_t at = 0; at < m->n_params; at += bucket) {
		const int64_t n = m->n_params - at < bucket ? m->n_params - at : bucket;
		enum sup_status st = sup_comm_allreduce_f32(comm, m->grads + at, n);
		if (st != SUP_OK)
			return st;
		float *g = m->grads + at;
		for (int64_t i = 0; i < n; i++)
			g[i] *= inv;
	}
	return SUP_OK;
}

static enum sup_status bn_sync_comm_sum(void *user, double *buf, int64_t n)
{
	return sup_comm_allreduce_f64(user, buf, n);
}

struct sup_bn_sync sup_bn_sync_of_comm(const struct sup_comm *comm)
{
	/* The hook's user pointer is not const; the communicator is only read through it. */
	return (struct sup_bn_sync){ bn_sync_comm_sum, (void *)(uintptr_t)comm };
}

enum sup_status sup_model_merge_running_stats(struct sup_model *m, const float *before, int64_t updates,
					      double momentum, const struct sup_comm *comm)
{
	const int K = sup_comm_size(comm), rank = sup_comm_rank(comm);
	const int64_t n = m->n_buffers;
	if (K <= 1 || n == 0)
		return SUP_OK;
	double *acc = malloc(sizeof(double) * (size_t)n);
	if (!acc)
		return SUP_ERR_NOMEM;
	const double a = pow(1.0 - momentum, (double)updates);
	const double w = pow(a, (double)(K - 1 - rank)), aK = pow(a, (double)K);
	for (int64_t i = 0; i < n; i++)
		acc[i] = w * ((double)m->buffers[i] - a * (double)before[i]);
	enum sup_status st = sup_comm_allreduce_f64(comm, acc, n);
	if (st == SUP_OK)
		for (int64_t i = 0; i < n; i++)
			m->buffers[i] = (float)(aK * (double)before[i] + acc[i]);
	free(acc);
	return st;
}
