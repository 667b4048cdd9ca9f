/* The data-parallel semantics of the layers below dist (docs/dist.md), checked with K "processes"
 * that are threads sharing a struct sup_comm (threadcomm.h), so they run in every build, MPI or
 * not:
 * - sup_nt_xent_gathered over 2 shards: the mean of the shards' losses is sup_nt_xent of the
 *   whole batch, and each shard's input gradient / K is the whole batch's (f64, 1e-12);
 * - sup_all_gather: rank-order forward, allreduce-then-slice backward;
 * - dropout on shards draws the whole tensor's mask, and the RNG ends where one process's does;
 * - sup_model_allreduce_grads averages; sup_model_merge_running_stats reproduces sequential EMA
 *   updates split over processes;
 * - the gathered memory-bank update and NCE's Z estimated over shards equal one process's;
 * - SimCLR (sync BN + gathered negatives) and MoCo v2 (shuffling BN over the group, gathered keys
 *   in the queue): 2 shards x B/2 give the parameters, BN statistics and queue of 1 x B after a
 *   few steps (rtol 1e-4); so do InstDisc, PIRL and CMC (memory banks included; CMC also with
 *   in-batch InfoNCE). The same equivalence through `mpirun -np 2 selfsup train` is
 *   tests/dist/mpi_equivalence.sh. */
#define _POSIX_C_SOURCE 200809L

#include "selfsup/autograd.h"
#include "selfsup/losses.h"
#include "selfsup/method.h"
#include "testutil.h"
#include "threadcomm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 2

/* ---- NT-Xent over gathered negatives ------------------------------------------------------------ */

#define NX 6 /* examples in the whole batch */
#define DX 5

struct xent_job {
	const struct sup_comm *comm;
	const double *z; /* [2 NX, DX]: rows i and NX + i are the views of example i */
	double loss, dz[2 * NX * DX];
	enum sup_status st;
};

static void *xent_run(void *arg)
{
	struct xent_job *j = arg;
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 1);
	c.comm = j->comm;
	const int k = sup_comm_rank(j->comm), size = sup_comm_size(j->comm);
	const int64_t n = NX / size;
	/* This shard's rows in the local layout: its view-1 rows, then its view-2 rows. */
	struct sup_tensor *z = sup_tensor_new(&c, SUP_F64, 2, (const int64_t[]){2 * n, DX});
	for (int v = 0; v < 2; v++)
		memcpy((double *)z->data + v * n * DX, j->z + (v * NX + k * n) * DX, sizeof(double) * (size_t)(n * DX));
	z->requires_grad = true;
	struct sup_tensor *loss = size > 1 || j->comm ? sup_nt_xent_gathered(&c, z, 0.5, NULL) : sup_nt_xent(&c, z, 0.5, NULL);
	if (loss && sup_backward(&c, loss) == SUP_OK) {
		j->loss = sup_tensor_get(loss, 0);
		memcpy(j->dz, z->grad, sizeof(double) * (size_t)(2 * n * DX));
	}
	j->st = sup_ctx_status(&c);
	sup_ctx_deinit(&c);
	return NULL;
}

static void test_nt_xent_gathered(void)
{
	double z[2 * NX * DX];
	struct sup_rng r = sup_rng_make(3, 3);
	for (int i = 0; i < 2 * NX * DX; i++)
		z[i] = sup_rng_normal(&r);
	static struct xent_job full, single, half[K];
	full = (struct xent_job){.z = z};
	xent_run(&full);
	/* One process through the gathered entry point: the same numbers, bit for bit. */
	struct sup_comm one = {.rank = 0, .size = 1};
	single = (struct xent_job){.comm = &one, .z = z};
	xent_run(&single);
	TU_CHECK(full.st == SUP_OK && single.st == SUP_OK);
	TU_CHECK(full.loss == single.loss && memcmp(full.dz, single.dz, sizeof full.dz) == 0);
	struct tc_group g;
	struct tc_rank ranks[K];
	tc_init(&g, ranks, K);
	pthread_t t[K];
	for (int k = 0; k < K; k++) {
		half[k] = (struct xent_job){.comm = &ranks[k].comm, .z = z};
		pthread_create(&t[k], NULL, xent_run, &half[k]);
	}
	for (int k = 0; k < K; k++)
		pthread_join(t[k], NULL);
	tc_deinit(&g);
	TU_CHECK(half[0].st == SUP_OK && half[1].st == SUP_OK);
	TU_CHECK_NEAR((half[0].loss + half[1].loss) / K, full.loss, 1e-12);
	/* d(global loss)/dz = (1/K) sum_r d(loss_r)/dz: shard k holds the sum over r for its rows. */
	const int64_t n = NX / K;
	double e = 0;
	for (int k = 0; k < K; k++)
		for (int v = 0; v < 2; v++)
			for (int64_t i = 0; i < n * DX; i++)
				e = fmax(e, fabs(half[k].dz[v * n * DX + i] / K - full.dz[(v * NX + k * n) * DX + i]));
	TU_CHECK_MSG(e < 1e-12, "shard gradients differ from the whole batch's by %g", e);
}

/* ---- all_gather and dropout on shards ------------------------------------------------------------ */

struct shard_job {
	const struct sup_comm *comm;
	const float *x; /* [4, 3, 5] whole tensor */
	float gathered[4 * 3 * 5], dropped[4 * 3 * 5], grad[4 * 3 * 5];
	uint64_t counter;
	enum sup_status st;
};

static void *shard_run(void *arg)
{
	struct shard_job *j = arg;
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 9);
	c.comm = j->comm;
	const int k = sup_comm_rank(j->comm), size = sup_comm_size(j->comm);
	const int64_t rows = 4 / size, per = 15;
	struct sup_tensor *x =
	    sup_tensor_wrap(&c, SUP_F32, 3, (const int64_t[]){rows, 3, 5}, (void *)(j->x + k * rows * per));
	struct sup_tensor *d = sup_dropout(&c, x, 0.5, true);
	if (d)
		memcpy(j->dropped, d->data, sizeof(float) * (size_t)(rows * per));
	j->counter = c.rng.counter;
	struct sup_tensor *xl = sup_tensor_new(&c, SUP_F32, 3, (const int64_t[]){rows, 3, 5});
	memcpy(xl->data, x->data, sizeof(float) * (size_t)(rows * per));
	xl->requires_grad = true;
	struct sup_tensor *gx = sup_all_gather(&c, xl);
	if (gx) {
		memcpy(j->gathered, gx->data, sizeof(float) * 4 * 3 * 5);
		/* loss = sum(w * gathered) with w = rank + 1 + element index: the gradient of shard k is
		 * sum over ranks r of (r + 1 + global index of k's elements). */
		struct sup_tensor *w = sup_tensor_new(&c, SUP_F32, 3, (const int64_t[]){4, 3, 5});
		for (int64_t i = 0; i < 60; i++)
			((float *)w->data)[i] = (float)(k + 1 + i);
		struct sup_tensor *loss = sup_sum(&c, sup_mul(&c, gx, w), NULL, 0, false);
		if (loss && sup_backward(&c, loss) == SUP_OK)
			memcpy(j->grad, xl->grad, sizeof(float) * (size_t)(rows * per));
	}
	j->st = sup_ctx_status(&c);
	sup_ctx_deinit(&c);
	return NULL;
}

static void test_gather_and_dropout_shards(void)
{
	float x[60];
	for (int i = 0; i < 60; i++)
		x[i] = (float)i + 1;
	static struct shard_job full, half[K];
	full = (struct shard_job){.x = x};
	shard_run(&full);
	struct tc_group g;
	struct tc_rank ranks[K];
	tc_init(&g, ranks, K);
	pthread_t t[K];
	for (int k = 0; k < K; k++) {
		half[k] = (struct shard_job){.comm = &ranks[k].comm, .x = x};
		pthread_create(&t[k], NULL, shard_run, &half[k]);
	}
	for (int k = 0; k < K; k++)
		pthread_join(t[k], NULL);
	tc_deinit(&g);
	TU_CHECK(full.st == SUP_OK && half[0].st == SUP_OK && half[1].st == SUP_OK);
	bool same_mask = true, gathered = true, grads = true;
	for (int k = 0; k < K; k++) {
		for (int i = 0; i < 30; i++) {
			same_mask = same_mask && half[k].dropped[i] == full.dropped[k * 30 + i];
			/* sum over r of (r + 1 + e) for e = k * 30 + i: 1 + 2 + 2 e */
			grads = grads && half[k].grad[i] == (float)(3 + 2 * (k * 30 + i));
		}
		for (int i = 0; i < 60; i++)
			gathered = gathered && half[k].gathered[i] == x[i];
	}
	TU_CHECK_MSG(same_mask, "dropout on shards must draw the whole tensor's mask");
	TU_CHECK_MSG(half[0].counter == full.counter && half[1].counter == full.counter,
		     "the RNG must advance by the whole tensor on every shard (%llu %llu vs %llu)",
		     (unsigned long long)half[0].counter, (unsigned long long)half[1].counter,
		     (unsigned long long)full.counter);
	TU_CHECK_MSG(gathered, "all_gather must concatenate the shards in rank order");
	TU_CHECK_MSG(grads, "all_gather's backward must sum the gradient over ranks and keep this rank's rows");
}

/* ---- gradient averaging and running-statistic merging ----------------------------------------------- */

struct model_job {
	const struct sup_comm *comm;
	float grads[8], bufs[64]; /* bufs: the model's whole (padded) buffer block */
	enum sup_status st;
};

static void *model_run(void *arg)
{
	struct model_job *j = arg;
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_batch_norm bn;
	sup_batch_norm_declare(&bn, &m, "bn", 4, true); /* 8 params (weight, bias), 8 buffers */
	struct sup_rng r = sup_rng_make(1, 1);
	j->st = sup_model_build(&m, &r);
	const int k = sup_comm_rank(j->comm);
	for (int i = 0; i < 8; i++)
		m.grads[i] = (float)((k + 1) * (i + 1));
	if (j->st == SUP_OK)
		j->st = sup_model_allreduce_grads(&m, j->comm, 3); /* buckets of 3: 3 + 3 + 2 */
	memcpy(j->grads, m.grads, sizeof j->grads);
	/* Running statistics: the whole batch's 4 sub-batch updates x_1..x_4 in order, rank k
	 * applying x_{2k+1}, x_{2k+2}. */
	/* The block is padded (every tensor starts at a multiple of 16 floats): all of it is merged. */
	float before[64];
	const int64_t nb = m.n_buffers;
	if (nb > 64) {
		j->st = SUP_ERR_ARG;
		sup_model_deinit(&m);
		return NULL;
	}
	for (int64_t i = 0; i < nb; i++)
		before[i] = m.buffers[i] = (float)(0.5 + 0.1 * (double)i);
	const int first = j->comm ? 2 * k : 0, count = j->comm ? 2 : 4;
	for (int u = first; u < first + count; u++)
		for (int64_t i = 0; i < nb; i++)
			m.buffers[i] = 0.9f * m.buffers[i] + 0.1f * (float)(u * u + i);
	if (j->st == SUP_OK)
		j->st = sup_model_merge_running_stats(&m, before, 2, 0.1, j->comm);
	memcpy(j->bufs, m.buffers, sizeof(float) * (size_t)nb);
	sup_model_deinit(&m);
	return NULL;
}

static void test_model_collectives(void)
{
	static struct model_job full, half[K];
	full = (struct model_job){0};
	model_run(&full);
	struct tc_group g;
	struct tc_rank ranks[K];
	tc_init(&g, ranks, K);
	pthread_t t[K];
	for (int k = 0; k < K; k++) {
		half[k] = (struct model_job){.comm = &ranks[k].comm};
		pthread_create(&t[k], NULL, model_run, &half[k]);
	}
	for (int k = 0; k < K; k++)
		pthread_join(t[k], NULL);
	tc_deinit(&g);
	TU_CHECK(half[0].st == SUP_OK && half[1].st == SUP_OK && full.st == SUP_OK);
	for (int i = 0; i < 8; i++) {
		TU_CHECK_NEAR(half[0].grads[i], 1.5 * (i + 1), 1e-6);
		TU_CHECK(half[0].grads[i] == half[1].grads[i]);
		TU_CHECK_NEAR(half[0].bufs[i], full.bufs[i], 1e-5);
		TU_CHECK(half[0].bufs[i] == half[1].bufs[i]);
	}
}

/* ---- memory bank update and NCE's Z over shards ------------------------------------------------------ */

#define BANK_N 10
#define BANK_D 3
#define BANK_B 4 /* rows of the whole batch */

struct bank_job {
	const struct sup_comm *comm;
	float memory[BANK_N * BANK_D];
	double z;
	enum sup_status st;
};

static void *bank_run(void *arg)
{
	struct bank_job *j = arg;
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_memory_bank bank;
	struct sup_nce nce;
	sup_memory_bank_declare(&bank, &m, "bank", BANK_N, BANK_D, 0.5);
	sup_nce_declare(&nce, &m, "nce", 0.5, 5);
	struct sup_rng r = sup_rng_make(2, 1);
	j->st = sup_model_build(&m, &r);
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 5);
	c.comm = j->comm;
	const int k = sup_comm_rank(j->comm), size = sup_comm_size(j->comm);
	const int64_t n = BANK_B / size;
	/* The whole batch: rows 0..3 of examples 7, 2, 7, 5 (a repeated index: updates in batch order). */
	static const int64_t idx_all[BANK_B] = {7, 2, 7, 5};
	struct sup_tensor *f = sup_tensor_new(&c, SUP_F32, 2, (const int64_t[]){n, BANK_D});
	struct sup_tensor *idx = sup_tensor_new(&c, SUP_I64, 1, (const int64_t[]){n});
	for (int64_t i = 0; i < n; i++) {
		((int64_t *)idx->data)[i] = idx_all[k * n + i];
		for (int d = 0; d < BANK_D; d++)
			((float *)f->data)[i * BANK_D + d] = (float)sin((double)((k * n + i) * BANK_D + d + 1));
	}
	struct sup_tensor *noise = sup_memory_bank_sample(&c, &c.rng, BANK_N, 5);
	struct sup_tensor *pos = sup_memory_bank_rows(&c, &m, &bank, idx);
	struct sup_tensor *neg = sup_memory_bank_rows(&c, &m, &bank, noise);
	if (j->st == SUP_OK && !sup_nce_forward(&c, &m, &nce, f, pos, neg, BANK_N))
		j->st = sup_ctx_status(&c);
	j->z = sup_nce_z(&m, &nce);
	if (j->st == SUP_OK)
		j->st = sup_memory_bank_update_gathered(&c, &m, &bank, f, idx);
	memcpy(j->memory, sup_model_tensor(&m, bank.memory)->data, sizeof j->memory);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
	return NULL;
}

static void test_bank_shards(void)
{
	static struct bank_job full, half[K];
	full = (struct bank_job){0};
	bank_run(&full);
	struct tc_group g;
	struct tc_rank ranks[K];
	tc_init(&g, ranks, K);
	pthread_t t[K];
	for (int k = 0; k < K; k++) {
		half[k] = (struct bank_job){.comm = &ranks[k].comm};
		pthread_create(&t[k], NULL, bank_run, &half[k]);
	}
	for (int k = 0; k < K; k++)
		pthread_join(t[k], NULL);
	tc_deinit(&g);
	TU_CHECK(full.st == SUP_OK && half[0].st == SUP_OK && half[1].st == SUP_OK);
	for (int k = 0; k < K; k++) {
		/* Every process applies the whole batch's updates in its order: the one-process bank,
		 * bit for bit (the same arithmetic on the same values). */
		TU_CHECK_MSG(memcmp(half[k].memory, full.memory, sizeof full.memory) == 0,
			     "rank %d: the gathered bank update differs from one process's", k);
		/* Z from the whole batch (its sum over processes: rounding of the addition order only). */
		TU_CHECK_NEAR(half[k].z, full.z, 1e-6 * full.z);
	}
	TU_CHECK(half[0].z == half[1].z);
}

/* ---- method steps: SimCLR and MoCo v2 on 2 shards vs 1 process ------------------------------------ */

#define HW 12
#define BATCH 8
#define STEPS 3
#define LR 0.01

static struct sup_config *make_config(const struct sup_method *m, const char *const *kv)
{
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
	struct sup_config *cfg = NULL;
	char err[256];
	if (sup_config_new(&cfg, schemas, 2, err, sizeof err) != SUP_OK)
		return NULL;
	for (int i = 0; kv && kv[i]; i++)
		if (sup_config_override(cfg, kv[i], err, sizeof err) != SUP_OK)
			fprintf(stderr, "config %s: %s\n", kv[i], err);
	return cfg;
}

/* Rows [first, first + n) of the global batch of a step: two views of smooth noise per image. */
static void make_batch(struct sup_ctx *c, int64_t n, int64_t first, struct sup_method_batch *b)
{
	memset(b, 0, sizeof *b);
	b->kind = SUP_BATCH_IMAGES;
	b->n_views = 2;
	b->index = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n}); /* memory banks: rows of the data set */
	for (int64_t i = 0; i < n; i++)
		((int64_t *)b->index->data)[i] = first + i;
	for (int v = 0; v < 2; v++) {
		b->views[v] = sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){n, 1, HW, HW});
		for (int64_t i = 0; i < n; i++) {
			struct sup_rng ri = sup_rng_make(1000 + first + i, 0), rv = sup_rng_make(2000 + first + i, (uint64_t)v);
			for (int64_t p = 0; p < HW * HW; p++) {
				double x = sup_rng_uniform(&ri) + 0.3 * sup_rng_uniform(&rv);
				((float *)b->views[v]->data)[i * HW * HW + p] = (float)(x / 1.3);
			}
		}
	}
}

struct method_job {
	const struct sup_method *m;
	const struct sup_config *cfg;
	const struct sup_comm *comm;
	void *state;
	double loss;
	char err[512];
};

static void *method_run(void *arg)
{
	struct method_job *j = arg;
	const struct sup_data_info info = {.name = "tiny", .modality = SUP_MODALITY_IMAGE, .n_examples = 64,
					   .n_classes = 2, .channels = 1, .height = HW, .width = HW};
	struct sup_rng r = sup_rng_make(7, 1);
	if (j->m->init(&j->state, j->cfg, &info, &r, j->err, sizeof j->err) != SUP_OK)
		return NULL;
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 7);
	c.comm = j->comm;
	const int k = sup_comm_rank(j->comm), size = sup_comm_size(j->comm);
	const int64_t n = BATCH / size;
	for (int64_t step = 0; step < STEPS && !j->err[0]; step++) {
		struct sup_method_batch b;
		make_batch(&c, n, step * BATCH + k * n, &b);
		struct sup_step_info si = {0, step, STEPS, LR};
		struct sup_step_stats st = {0};
		if (j->m->train_step(j->state, &c, &b, &si, &st) != SUP_OK)
			snprintf(j->err, sizeof j->err, "step %lld: %s", (long long)step, sup_ctx_error(&c));
		j->loss = st.loss;
		sup_ctx_reset(&c);
	}
	sup_ctx_deinit(&c);
	return NULL;
}

/* Largest |a - b| / (1e-4 + |b|)-style violation over every part's parameters and buffers. */
static void compare_states(const char *what, const struct method_job *a, const struct method_job *ref)
{
	struct sup_ckpt_part pa[SUP_MAX_PARTS], pr[SUP_MAX_PARTS];
	int na = a->m->parts(a->state, pa, SUP_MAX_PARTS), nr = ref->m->parts(ref->state, pr, SUP_MAX_PARTS);
	TU_CHECK(na == nr);
	for (int p = 0; p < na && p < nr; p++) {
		const struct sup_model *ma = pa[p].model, *mr = pr[p].model;
		double worst = 0, va = 0, vr = 0;
		int64_t at = -1;
		int wblk = 0;
		for (int blk = 0; blk < 2; blk++) {
			const float *x = blk ? ma->buffers : ma->params, *y = blk ? mr->buffers : mr->params;
			const int64_t cnt = blk ? mr->n_buffers : mr->n_params;
			for (int64_t i = 0; i < cnt; i++) {
				double v = fabs((double)x[i] - y[i]) / (1e-4 * fabs(y[i]) + 1e-6);
				if (v > worst) {
					worst = v;
					at = i;
					wblk = blk;
					va = x[i];
					vr = y[i];
				}
			}
		}
		if (getenv("TC_DEBUG"))
			for (int e = 0; e < mr->n_entries; e++) {
				const struct sup_model_entry *en = &mr->entries[e], *ea = &ma->entries[e];
				double w = 0, mag = 0;
				int64_t nbad = 0;
				for (int64_t i = 0; i < sup_tensor_numel(&en->t); i++) {
					double y = sup_tensor_get(&en->t, i), x = sup_tensor_get(&ea->t, i);
					double v = fabs(x - y) / (1e-4 * fabs(y) + 1e-6);
					w = fmax(w, v);
					mag = fmax(mag, fabs(y));
					nbad += v > 1;
				}
				fprintf(stderr, "%-32s worst %9.3g  bad %lld/%lld  max|ref| %g\n", en->name, w, (long long)nbad,
					(long long)sup_tensor_numel(&en->t), mag);
			}
		const char *tname = "?";
		for (int e = 0; e < mr->n_entries; e++) {
			const struct sup_model_entry *en = &mr->entries[e];
			if ((en->kind == SUP_KIND_BUFFER) == (wblk == 1) && at >= en->offset &&
			    at < en->offset + sup_tensor_numel(&en->t))
				tname = en->name;
		}
		TU_CHECK_MSG(worst <= 1, "%s: part %s differs from one process (%.3g x tolerance at %s, element %lld: %g vs %g)",
			     what, pa[p].name, worst, tname, (long long)at, va, vr);
	}
}

static void test_method_equivalence(const char *name, const char *const *kv)
{
	const struct sup_method *m = sup_method_find(name);
	struct sup_config *cfg = make_config(m, kv);
	TU_CHECK(m && cfg && m->data_parallel);
	if (!m || !cfg)
		return;
	static struct method_job full, half[K];
	full = (struct method_job){.m = m, .cfg = cfg};
	method_run(&full);
	TU_CHECK_MSG(!full.err[0], "%s one process: %s", name, full.err);
	struct tc_group g;
	struct tc_rank ranks[K];
	tc_init(&g, ranks, K);
	pthread_t t[K];
	for (int k = 0; k < K; k++) {
		half[k] = (struct method_job){.m = m, .cfg = cfg, .comm = &ranks[k].comm};
		pthread_create(&t[k], NULL, method_run, &half[k]);
	}
	for (int k = 0; k < K; k++)
		pthread_join(t[k], NULL);
	tc_deinit(&g);
	for (int k = 0; k < K; k++)
		TU_CHECK_MSG(!half[k].err[0], "%s rank %d: %s", name, k, half[k].err);
	if (!full.err[0] && !half[0].err[0] && !half[1].err[0]) {
		compare_states(name, &half[0], &full);
		compare_states(name, &half[1], &full);
		TU_CHECK_NEAR((half[0].loss + half[1].loss) / K, full.loss, 1e-4 * fabs(full.loss));
	}
	for (int k = 0; k < K; k++)
		m->free(half[k].state);
	m->free(full.state);
	sup_config_free(cfg);
}

int main(void)
{
	test_nt_xent_gathered();
	test_gather_and_dropout_shards();
	test_model_collectives();
	test_bank_shards();
	test_method_equivalence("simclr", (const char *const[]){"optim.kind=sgd", "optim.momentum=0", "proj_hidden=16", "proj_dim=8", NULL});
	test_method_equivalence("mocov2", (const char *const[]){"batch_size=8", "queue_size=16", "bn_splits=4", "dim=8",
								 NULL});
	test_method_equivalence("mocov2", (const char *const[]){"batch_size=8", "queue_size=16", "bn_splits=4", "dim=8",
								 "symmetric=true", NULL});
	/* Memory banks (InstDisc, PIRL, CMC): synchronised BN, the shared noise draw, the global Z
	 * estimate and the gathered bank updates; CMC's in-batch InfoNCE over gathered embeddings. */
	const char *bank[] = {"embed_dim=8", "nce.negatives=16", "lr=0.01", NULL};
	test_method_equivalence("instdisc", bank);
	test_method_equivalence("pirl", bank);
	test_method_equivalence("cmc", (const char *const[]){"embed_dim=8", "nce.negatives=16", "lr=0.01", "contrast=nce", NULL});
	test_method_equivalence("cmc", (const char *const[]){"embed_dim=8", "contrast=infonce", "lr=0.01", NULL});
	return tu_finish("dist/comm");
}
