/* The image loader: per-epoch order, K-view collation, and worker threads with a bounded ring of
 * batch slots (DESIGN.md section 3: a batch is borrowed until the next call).
 *
 * Determinism: batch b of epoch e holds samples order_e[b*B .. b*B+B-1], and view v of sample i
 * is made from the stream sup_aug_rng(seed, e, i, v). Which worker fills a batch, and when,
 * changes nothing in it, so any worker count gives identical batches.
 *
 * Slots: n_slots = prefetch + 1 slots; batch b lives in slot b % n_slots. `low` is the oldest
 * batch whose slot is still in use (the borrowed one, or the next to hand out once it has been
 * given back), so a worker may fill batch b only while b < low + n_slots. */
#define _POSIX_C_SOURCE 200809L
#include "selfsup/data.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORKERS 64

struct slot {
	struct sup_batch batch;
	float *view_data[SUP_MAX_VIEWS];
	int64_t *labels, *indices;
	int64_t ready_no; /* the batch number it holds, -1 while empty or being filled */
};

struct worker {
	struct sup_loader *l;
	pthread_t thread;
	float *scratch;
};

struct sup_loader {
	struct sup_allocator alloc;
	const struct sup_image_set *set;
	const struct sup_multiview *mv;
	struct sup_loader_opts o;
	int in_c, in_h, in_w;
	int out_c[SUP_MAX_VIEWS], out_h[SUP_MAX_VIEWS], out_w[SUP_MAX_VIEWS];
	size_t scratch_floats;
	int64_t n, n_batches;
	int64_t *order;
	int n_slots;
	struct slot *slots;
	float *own_scratch; /* for n_workers == 0 */
	struct worker *workers;
	int n_started;
	/* Everything below is guarded by mu. */
	pthread_mutex_t mu;
	pthread_cond_t work_cv;  /* workers wait for a batch to claim */
	pthread_cond_t ready_cv; /* the consumer waits for a batch / for busy == 0 */
	bool started, stop, shutdown;
	int64_t epoch, next_claim, next_out, low;
	int busy;
};

/* Fills slot s with batch b of epoch `epoch`. Reads only data that sup_loader_epoch does not
 * change while a worker is busy. */
static void fill(struct sup_loader *l, struct slot *s, int64_t epoch, int64_t b, float *scratch)
{
	const int64_t bs = l->o.batch_size, first = b * bs;
	const int64_t size = first + bs <= l->n ? bs : l->n - first;
	const int64_t in_floats = (int64_t)l->in_c * l->in_h * l->in_w;
	const uint8_t *img = l->set->images.data, *lab = l->set->labels.data;
	for (int64_t i = 0; i < size; i++) {
		const int64_t idx = l->order[first + i];
		s->indices[i] = idx;
		s->labels[i] = lab[idx] == SUP_LABEL_NONE ? -1 : lab[idx];
		for (int v = 0; v < l->mv->n_views; v++) {
			const int64_t per = (int64_t)l->out_c[v] * l->out_h[v] * l->out_w[v];
			struct sup_image out = { s->view_data[v] + i * per, 0, 0, 0 };
			sup_transform_apply(&l->mv->views[v], img + idx * in_floats, l->in_c, l->in_h, l->in_w, &out,
					    scratch, sup_aug_rng(l->o.seed, epoch, idx, v), v);
		}
	}
	struct sup_batch *bt = &s->batch;
	bt->n_views = l->mv->n_views;
	bt->size = size;
	bt->epoch = epoch;
	bt->step = b;
	for (int v = 0; v < l->mv->n_views; v++)
		sup_tensor_init(&bt->views[v], SUP_F32, 4, (const int64_t[]){ size, l->out_c[v], l->out_h[v], l->out_w[v] },
				s->view_data[v]);
	sup_tensor_init(&bt->labels, SUP_I64, 1, (const int64_t[]){ size }, s->labels);
	sup_tensor_init(&bt->indices, SUP_I64, 1, (const int64_t[]){ size }, s->indices);
}

static bool can_claim(const struct sup_loader *l)
{
	return l->started && !l->stop && l->next_claim < l->n_batches && l->next_claim < l->low + l->n_slots;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sup_loader *l = w->l;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->shutdown && !can_claim(l))
			pthread_cond_wait(&l->work_cv, &l->mu);
		if (l->shutdown)
			break;
		const int64_t b = l->next_claim++, epoch = l->epoch;
		struct slot *s = &l->slots[b % l->n_slots];
		s->ready_no = -1;
		l->busy++;
		pthread_mutex_unlock(&l->mu);
		fill(l, s, epoch, b, w->scratch);
		pthread_mutex_lock(&l->mu);
		l->busy--;
		s->ready_no = b;
		pthread_cond_broadcast(&l->ready_cv);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Allocates the slots' batch memory. */
static enum sup_status alloc_slots(struct sup_loader *l)
{
	l->slots = sup_alloc(&l->alloc, (size_t)l->n_slots * sizeof *l->slots, 64);
	if (!l->slots)
		return SUP_ERR_NOMEM;
	memset(l->slots, 0, (size_t)l->n_slots * sizeof *l->slots);
	const size_t bs = (size_t)l->o.batch_size;
	for (int k = 0; k < l->n_slots; k++) {
		struct slot *s = &l->slots[k];
		s->ready_no = -1;
		s->labels = sup_alloc(&l->alloc, 2 * bs * sizeof(int64_t), 64);
		if (!s->labels)
			return SUP_ERR_NOMEM;
		s->indices = s->labels + bs;
		for (int v = 0; v < l->mv->n_views; v++) {
			size_t per = (size_t)l->out_c[v] * l->out_h[v] * l->out_w[v];
			s->view_data[v] = sup_alloc(&l->alloc, bs * per * sizeof(float), 64);
			if (!s->view_data[v])
				return SUP_ERR_NOMEM;
		}
	}
	return SUP_OK;
}

static enum sup_status check_inputs(struct sup_loader *l, char *err, size_t err_size)
{
	const struct sup_image_set *set = l->set;
	const struct sup_loader_opts *o = &l->o;
	if (set->images.ndim != 4 || set->images.dtype != SUP_U8 || set->labels.dtype != SUP_U8 ||
	    set->labels.ndim != 1 || set->labels.shape[0] != set->images.shape[0] || set->images.shape[0] < 1)
		return sup_errf(err, err_size, SUP_ERR_ARG, "loader: the image set must hold u8 [N, C, H, W] images, N >= 1, and N u8 labels");
	if (o->batch_size < 1 || o->n_workers < 0 || o->n_workers > MAX_WORKERS || (o->n_workers > 0 && o->prefetch < 1))
		return sup_errf(err, err_size, SUP_ERR_ARG,
			     "loader: batch_size must be >= 1, n_workers in 0..%d and prefetch >= 1 with workers", MAX_WORKERS);
	if (l->mv->n_views < 1 || l->mv->n_views > SUP_MAX_VIEWS)
		return sup_errf(err, err_size, SUP_ERR_ARG, "loader: %d views (need 1..%d)", l->mv->n_views, SUP_MAX_VIEWS);
	l->n = set->images.shape[0];
	if (o->drop_last && l->n < o->batch_size)
		return sup_errf(err, err_size, SUP_ERR_ARG, "loader: drop_last with %lld samples and batch size %d leaves no batch",
			     (long long)l->n, o->batch_size);
	l->in_c = (int)set->images.shape[1];
	l->in_h = (int)set->images.shape[2];
	l->in_w = (int)set->images.shape[3];
	for (int v = 0; v < l->mv->n_views; v++) {
		size_t sf;
		char why[256];
		enum sup_status st = sup_transform_check(&l->mv->views[v], l->in_c, l->in_h, l->in_w, &l->out_c[v],
							 &l->out_h[v], &l->out_w[v], &sf, why, sizeof why);
		if (st)
			return sup_errf(err, err_size, st, "loader: view %d: %s", v, why);
		l->scratch_floats = sf > l->scratch_floats ? sf : l->scratch_floats;
	}
	l->n_batches = o->drop_last ? l->n / o->batch_size : (l->n + o->batch_size - 1) / o->batch_size;
	return SUP_OK;
}

static enum sup_status start_workers(struct sup_loader *l)
{
	l->workers = sup_alloc(&l->alloc, (size_t)l->o.n_workers * sizeof *l->workers, 64);
	if (!l->workers)
		return SUP_ERR_NOMEM;
	memset(l->workers, 0, (size_t)l->o.n_workers * sizeof *l->workers);
	for (int i = 0; i < l->o.n_workers; i++) {
		struct worker *w = &l->workers[i];
		w->l = l;
		w->scratch = sup_alloc(&l->alloc, l->scratch_floats * sizeof(float), 64);
		if (!w->scratch)
			return SUP_ERR_NOMEM;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			return SUP_ERR_STATE;
		l->n_started++;
	}
	return SUP_OK;
}

enum sup_status sup_loader_new(struct sup_loader **out, const struct sup_image_set *set,
			       const struct sup_multiview *mv, const struct sup_loader_opts *opts,
			       struct sup_allocator alloc, char *err, size_t err_size)
{
	*out = NULL;
	struct sup_loader *l = sup_alloc(&alloc, sizeof *l, 64);
	if (!l)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "loader: out of memory");
	memset(l, 0, sizeof *l);
	l->alloc = alloc;
	l->set = set;
	l->mv = mv;
	l->o = *opts;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->work_cv, NULL);
	pthread_cond_init(&l->ready_cv, NULL);
	enum sup_status st = check_inputs(l, err, err_size);
	if (st) {
		sup_loader_free(l);
		return st;
	}
	l->n_slots = l->o.n_workers > 0 ? l->o.prefetch + 1 : 1;
	l->order = sup_alloc(&alloc, (size_t)l->n * sizeof(int64_t), 64);
	st = l->order ? alloc_slots(l) : SUP_ERR_NOMEM;
	if (!st && l->o.n_workers == 0) {
		l->own_scratch = sup_alloc(&alloc, l->scratch_floats * sizeof(float), 64);
		st = l->own_scratch ? SUP_OK : SUP_ERR_NOMEM;
	}
	if (!st && l->o.n_workers > 0)
		st = start_workers(l);
	if (st) {
		sup_errf(err, err_size, st, st == SUP_ERR_STATE ? "loader: cannot start worker threads"
							   : "loader: out of memory for %d batch slots", l->n_slots);
		sup_loader_free(l);
		return st;
	}
	*out = l;
	return SUP_OK;
}

void sup_loader_epoch(struct sup_loader *l, int64_t epoch)
{
	pthread_mutex_lock(&l->mu);
	/* Park the workers: none may read `order` or write a slot while the epoch changes. */
	l->stop = true;
	while (l->busy > 0)
		pthread_cond_wait(&l->ready_cv, &l->mu);
	l->epoch = epoch;
	if (l->o.shuffle) {
		struct sup_rng r = sup_rng_make(sup_rng_make(l->o.seed, 0x73687566ull /* "shuf" */).key, (uint64_t)epoch);
		sup_rng_permutation(&r, l->order, l->n);
	} else {
		for (int64_t i = 0; i < l->n; i++)
			l->order[i] = i;
	}
	for (int k = 0; k < l->n_slots; k++)
		l->slots[k].ready_no = -1;
	l->next_claim = l->next_out = l->low = 0;
	l->started = true;
	l->stop = false;
	pthread_cond_broadcast(&l->work_cv);
	pthread_mutex_unlock(&l->mu);
}

const struct sup_batch *sup_loader_next(struct sup_loader *l)
{
	if (l->o.n_workers == 0) {
		if (!l->started || l->next_out >= l->n_batches)
			return NULL;
		fill(l, &l->slots[0], l->epoch, l->next_out, l->own_scratch);
		l->next_out++;
		return &l->slots[0].batch;
	}
	pthread_mutex_lock(&l->mu);
	const struct sup_batch *res = NULL;
	if (l->started && l->next_out < l->n_batches) {
		const int64_t b = l->next_out;
		struct slot *s = &l->slots[b % l->n_slots];
		l->low = b; /* the previously borrowed batch is given back */
		pthread_cond_broadcast(&l->work_cv);
		while (s->ready_no != b)
			pthread_cond_wait(&l->ready_cv, &l->mu);
		l->next_out++;
		res = &s->batch;
	}
	pthread_mutex_unlock(&l->mu);
	return res;
}

int64_t sup_loader_n_batches(const struct sup_loader *l)
{
	return l->n_batches;
}

void sup_loader_free(struct sup_loader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->shutdown = true;
	pthread_cond_broadcast(&l->work_cv);
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; i < l->n_started; i++)
		pthread_join(l->workers[i].thread, NULL);
	if (l->workers)
		for (int i = 0; i < l->o.n_workers; i++)
			sup_free(&l->alloc, l->workers[i].scratch);
	sup_free(&l->alloc, l->workers);
	if (l->slots)
		for (int k = 0; k < l->n_slots; k++) {
			sup_free(&l->alloc, l->slots[k].labels);
			for (int v = 0; v < SUP_MAX_VIEWS; v++)
				sup_free(&l->alloc, l->slots[k].view_data[v]);
		}
	sup_free(&l->alloc, l->slots);
	sup_free(&l->alloc, l->order);
	sup_free(&l->alloc, l->own_scratch);
	pthread_cond_destroy(&l->work_cv);
	pthread_cond_destroy(&l->ready_cv);
	pthread_mutex_destroy(&l->mu);
	struct sup_allocator a = l->alloc;
	sup_free(&a, l);
}
