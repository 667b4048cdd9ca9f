/* MoCo v1 and v2.
 *   v1: He, Fan, Wu, Xie, Girshick, "Momentum Contrast for Unsupervised Visual Representation
 *       Learning", CVPR 2020 (registered as "moco").
 *   v2: Chen, Fan, Girshick, He, "Improved Baselines with Momentum Contrastive Learning", arXiv
 *       2003.04297, 2020 (registered as "mocov2").
 *
 * Recipe (v1 §3.1-3.3, Algorithm 1): a query encoder f_q (backbone + head) and a key encoder f_k
 * of the same layout, initialised as a copy and never trained by gradients. For two views x_q,
 * x_k of N images: q = f_q(x_q), k = f_k(x_k) (no gradient), both L2-normalised; InfoNCE (eq. 1)
 * with logits [q.k, q.queue] / tau, the positive first; an optimizer step on f_q; the momentum
 * update theta_k <- m theta_k + (1 - m) theta_q (eq. 2, parameters only: f_k's BN running
 * statistics follow its own forward passes); then the N keys are enqueued in the queue of K
 * negatives, replacing the oldest (FIFO, §3.2).
 *
 * Shuffling BN (§3.3). On 8 GPUs each GPU normalises its own sub-batch; the keys' mini-batch is
 * shuffled before being distributed and unshuffled after, so a query and its positive key get
 * batch statistics from different subsets and cannot "cheat" through BN. On one process this is
 * emulated exactly as the multi-GPU run computes it: f_q runs on bn_splits consecutive
 * sub-batches of the batch in order, f_k on bn_splits sub-batches of a random permutation of it
 * (drawn from the context RNG, which checkpoints save), and the keys are put back in order.
 * Running statistics are then updated once per sub-batch (eval mode only reads them).
 *
 * Symmetric loss (option `symmetric`, off by default as in v1 and v2): each view is a query once,
 * loss = InfoNCE(q1, k2) + InfoNCE(q2, k1), and both views' keys are enqueued (2N per step), as
 * the authors' CIFAR-10 demo (`symmetric`) and MoCo v3 (Chen, Xie, He, ICCV 2021, §3: "ctr(q1,
 * k2) + ctr(q2, k1)"). A step then costs two query and two key passes.
 *
 * Differences of v2 (Chen et al. 2020, §2, Table 1): a 2-layer MLP head (hidden = backbone width,
 * ReLU, no BN), tau 0.2, the stronger augmentation (jitter with p 0.8, blur) and a cosine
 * learning-rate schedule.
 *
 * State that must survive a resume: the queue and its write pointer are buffers of their own
 * part ("queue", "queue_ptr"); f_k is the part "momentum" (its parameters and BN buffers). The
 * queue is [K, D] with one key per row (the reference code stores its transpose [D, K]).
 *
 * Scaling to Fashion-MNIST (60,000 images; ImageNet's 1.28M use K = 65536, m = 0.999): K = 4096
 * and m = 0.99 as the authors' CIFAR-10 demo (facebookresearch/moco, colab/moco_cifar10_demo:
 * moco_k 4096, moco_m 0.99, bn_splits 8); with only hundreds of steps per epoch, m = 0.999 would
 * leave f_k about 1,000 steps (four epochs) behind f_q. v1's default schedule is v2's cosine, not
 * v1's step decay: at 60 epochs cosine gave 87.62 % linear against 87.32 % for the step decay
 * (README, issue 6). Both default to 50 epochs, the most that fits an hour on 2 cores
 * (bench/step_time.sh). */
#include "image_ssl.h"
#include "selfsup/autograd.h"
#include "selfsup/losses.h"

#include <math.h>
#include <stdlib.h>

#define MOCO_MAX_SPLITS 64

struct moco_net {
	struct sup_image_encoder enc;
	struct sup_mlp head;
};

struct moco {
	struct sup_model q_model, k_model, queue_model;
	struct sup_optim optim;
	bool optim_ready;
	struct moco_net q, k; /* same declarations in q_model and k_model */
	int queue, queue_ptr; /* entries of queue_model */
	int64_t K, dim;
	double tau, m;
	int splits;
	bool symmetric;
};

#define MOCO_COMMON_KEYS                                                                                               \
	{"encoder.name", SUP_CFG_ENUM, "convnet", IMAGE_SSL_ENCODER_CHOICES, "backbone",                               \
	 "W1 ConvNet (shared/WORKLOADS.md); the papers: ResNet-50", 0},                                                \
	    {"encoder.cifar_stem", SUP_CFG_BOOL, "true", NULL, "ResNets: conv3x3 stem without max-pool",               \
	     "MoCo CIFAR-10 demo", 0},                                                                                 \
	    {"dim", SUP_CFG_INT, "128", NULL, "output width of the head (key/query dimension)", "MoCo §4, v2 §2", 0},  \
	    {"queue_size", SUP_CFG_INT, "4096", NULL, "K: negatives in the queue",                                     \
	     "MoCo CIFAR-10 demo (ImageNet: 65536)", 0},                                                               \
	    {"momentum", SUP_CFG_FLOAT, "0.99", NULL, "m of the key encoder's EMA",                                     \
	     "MoCo CIFAR-10 demo (ImageNet: 0.999, MoCo §4.1)", 0},                                                    \
	    {"bn_splits", SUP_CFG_INT, "8", NULL, "sub-batches of shuffling BN (1: off)",                               \
	     "MoCo §3.3 (8 GPUs); CIFAR-10 demo bn_splits 8", 0},                                                      \
	    {"optim.kind", SUP_CFG_ENUM, "sgd", IMAGE_SSL_OPTIM_CHOICES, "optimizer", "MoCo §4.1", 0},                 \
	    {"optim.momentum", SUP_CFG_FLOAT, "0.9", NULL, "SGD momentum", "MoCo §4.1", 0},                            \
	    {"optim.weight_decay", SUP_CFG_FLOAT, "1e-4", NULL, "weight decay", "MoCo §4.1", 0},                       \
	    {"lr", SUP_CFG_FLOAT, "0.03", NULL, "learning rate at batch 256", "MoCo §4.1", 0},                         \
	    {"batch_size", SUP_CFG_INT, "256", NULL, "images per step", "MoCo §4.1", 0},                               \
	    {"symmetric", SUP_CFG_BOOL, "false", NULL,                                                                 \
	     "both views as queries: InfoNCE(q1, k2) + InfoNCE(q2, k1), 2N keys enqueued per step",                    \
	     "off: MoCo §3.1, v2 §2; on: MoCo CIFAR-10 demo, MoCo v3 §3", 0},                                           \
	{                                                                                                              \
		"log_every", SUP_CFG_INT, "10", NULL, "steps between metrics.jsonl records", NULL, SUP_CFG_RUNCTL      \
	}

static const struct sup_cfg_key moco_v1_keys[] = {
    MOCO_COMMON_KEYS,
    {"mlp", SUP_CFG_BOOL, "false", NULL, "2-layer MLP head instead of a linear fc", "MoCo v1: linear fc", 0},
    {"tau", SUP_CFG_FLOAT, "0.07", NULL, "InfoNCE temperature", "MoCo §3.1 / §4.1", 0},
    {"aug.recipe", SUP_CFG_ENUM, "mocov1", "none|simclr|instdisc|mocov1|mocov2", "training views",
     "MoCo §4.1 (InstDisc's augmentation)", 0},
    {"aug.crop_min", SUP_CFG_FLOAT, "0.2", NULL, "lower area fraction of the crop", "MoCo code (scale 0.2-1)", 0},
    {"aug.jitter", SUP_CFG_FLOAT, "1", NULL, "colour-jitter strength (x 0.4)", "MoCo code", 0},
    {"schedule", SUP_CFG_ENUM, "cosine", "const|cosine|step", "schedule (step: x0.1 at 60% and 80% of the steps)",
     "MoCo §4.1 decays x0.1 at epochs 120 and 160 of 200 (step); cosine is v2's change (v2 §2): at 60 epochs "
     "cosine gave 87.62% linear against 87.32% for step", 0},
    {"epochs", SUP_CFG_INT, "50", NULL, "passes over the training set",
     "the most that fits an hour on 2 cores: median 0.29 s per step with 2 threads (bench/step_time.sh, "
     "2026-12-02), ~57 min; linear probe 87.20% (+4.8 over the random encoder), kNN 84.3%; 60 epochs: 87.62% "
     "but ~62-70 min", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static const struct sup_cfg_key moco_v2_keys[] = {
    MOCO_COMMON_KEYS,
    {"mlp", SUP_CFG_BOOL, "true", NULL, "2-layer MLP head (hidden = backbone width, ReLU)", "MoCo v2 §2", 0},
    {"tau", SUP_CFG_FLOAT, "0.2", NULL, "InfoNCE temperature", "MoCo v2 §2 / Table 1", 0},
    {"aug.recipe", SUP_CFG_ENUM, "mocov2", "none|simclr|instdisc|mocov1|mocov2", "training views", "MoCo v2 §2", 0},
    {"aug.crop_min", SUP_CFG_FLOAT, "0.2", NULL, "lower area fraction of the crop", "MoCo v2 code (scale 0.2-1)", 0},
    {"aug.jitter", SUP_CFG_FLOAT, "1", NULL, "colour-jitter strength (x 0.4)", "MoCo v2 code", 0},
    {"aug.blur", SUP_CFG_BOOL, "false", NULL, "Gaussian blur (p 0.5)",
     "v2 adds it at 224px; off at 28px as SimCLR B.9 and the MoCo CIFAR-10 demo", 0},
    {"schedule", SUP_CFG_ENUM, "cosine", "const|cosine|step", "schedule (step: x0.1 at 60% and 80% of the steps)",
     "MoCo v2 §2", 0},
    {"epochs", SUP_CFG_INT, "50", NULL, "passes over the training set",
     "the most that fits an hour on 2 cores: median 0.29 s per step with 2 threads (bench/step_time.sh, "
     "2026-12-02), ~57 min; linear probe 87.20% (+4.8 over the random encoder), kNN 83.1%, against 86.78% at "
     "15 and 86.94% at 30 epochs; 60 epochs: 87.65% but ~62-70 min", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void moco_free(void *state)
{
	struct moco *s = state;
	if (!s)
		return;
	if (s->optim_ready)
		sup_optim_deinit(&s->optim);
	sup_model_deinit(&s->q_model);
	sup_model_deinit(&s->k_model);
	sup_model_deinit(&s->queue_model);
	free(s);
}

static void moco_declare_net(struct moco_net *n, struct sup_model *m, const struct sup_config *cfg,
			     const struct sup_data_info *data, int64_t dim)
{
	image_ssl_declare_encoder(&n->enc, m, "encoder", cfg, data);
	const int64_t f = n->enc.feat_dim;
	if (sup_config_bool(cfg, "mlp"))
		sup_mlp_declare(&n->head, m, "head", 2, (const int64_t[]){f, f, dim}, false, false);
	else
		sup_mlp_declare(&n->head, m, "head", 1, (const int64_t[]){f, dim}, false, false);
}

/* The queue starts as random unit vectors (the reference code: randn, normalised per key). */
static void moco_queue_init(struct moco *s)
{
	float *qd = sup_model_tensor(&s->queue_model, s->queue)->data;
	for (int64_t i = 0; i < s->K; i++) {
		double n2 = 0;
		for (int64_t j = 0; j < s->dim; j++)
			n2 += (double)qd[i * s->dim + j] * qd[i * s->dim + j];
		float inv = (float)(1.0 / fmax(sqrt(n2), 1e-12));
		for (int64_t j = 0; j < s->dim; j++)
			qd[i * s->dim + j] *= inv;
	}
	*(float *)sup_model_tensor(&s->queue_model, s->queue_ptr)->data = 0;
}

static enum sup_status moco_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				 struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	if (!image_ssl_check_data("moco", data, err, err_size))
		return SUP_ERR_ARG;
	const int64_t dim = sup_config_int(cfg, "dim"), K = sup_config_int(cfg, "queue_size");
	const int64_t splits = sup_config_int(cfg, "bn_splits"), batch = sup_config_int(cfg, "batch_size");
	const double m = sup_config_float(cfg, "momentum"), tau = sup_config_float(cfg, "tau");
	const bool symmetric = sup_config_bool(cfg, "symmetric");
	if (dim < 1 || K < batch * (symmetric ? 2 : 1) || K > (1 << 24) || !(tau > 0) || !(m >= 0 && m <= 1) || splits < 1 ||
	    splits > MOCO_MAX_SPLITS || batch % splits) {
		snprintf(err, err_size,
			 "moco: need dim >= 1, batch_size (symmetric: 2 batch_size) <= queue_size <= 2^24, tau > 0, 0 <= momentum <= 1 and "
			 "bn_splits in 1..%d dividing batch_size",
			 MOCO_MAX_SPLITS);
		return SUP_ERR_ARG;
	}
	struct moco *s = calloc(1, sizeof *s);
	if (!s)
		return SUP_ERR_NOMEM;
	*s = (struct moco){.K = K, .dim = dim, .tau = tau, .m = m, .splits = (int)splits, .symmetric = symmetric};
	sup_model_init(&s->q_model, sup_allocator_default());
	sup_model_init(&s->k_model, sup_allocator_default());
	sup_model_init(&s->queue_model, sup_allocator_default());
	moco_declare_net(&s->q, &s->q_model, cfg, data, dim);
	moco_declare_net(&s->k, &s->k_model, cfg, data, dim);
	s->queue = sup_model_add(&s->queue_model, "", "queue", SUP_KIND_BUFFER, 2, (const int64_t[]){K, dim},
				 SUP_INIT_NORMAL, 1.0, 0);
	s->queue_ptr = sup_model_add(&s->queue_model, "", "queue_ptr", SUP_KIND_BUFFER, 1, (const int64_t[]){1},
				     SUP_INIT_ZEROS, 0, 0);
	struct sup_rng rk = sup_rng_make(rng->key, 0x6b6579 /* key encoder: overwritten by the copy */);
	enum sup_status st = sup_model_build(&s->q_model, rng);
	if (st == SUP_OK)
		st = sup_model_build(&s->k_model, &rk);
	if (st == SUP_OK)
		st = sup_model_build(&s->queue_model, rng);
	if (st == SUP_OK)
		st = sup_model_copy(&s->k_model, &s->q_model); /* Algorithm 1: f_k.params = f_q.params */
	const struct sup_optim_config oc = image_ssl_optim_config(cfg);
	if (st == SUP_OK)
		st = sup_optim_init(&s->optim, &s->q_model, &oc);
	s->optim_ready = st == SUP_OK;
	if (st != SUP_OK) {
		const char *msg = s->q_model.err_msg[0]	  ? s->q_model.err_msg
				  : s->queue_model.err_msg[0] ? s->queue_model.err_msg
							      : sup_status_str(st);
		snprintf(err, err_size, "moco: %s", msg);
		moco_free(s);
		return st;
	}
	moco_queue_init(s);
	*state = s;
	return SUP_OK;
}

/* On K processes each one encodes bn_splits / K of the shuffled key sub-batches (docs/dist.md). */
static enum sup_status moco_check_processes(const struct sup_config *cfg, int processes, char *err, size_t err_size)
{
	const int64_t splits = sup_config_int(cfg, "bn_splits");
	if (processes > 1 && splits % processes) {
		snprintf(err, err_size,
			 "moco: bn_splits %lld must be a multiple of the %d processes (each encodes bn_splits / %d of "
			 "the shuffled sub-batches)",
			 (long long)splits, processes, processes);
		return SUP_ERR_ARG;
	}
	return SUP_OK;
}

static int moco_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct moco *s = state;
	if (cap < 3)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &s->q_model, &s->optim};
	out[1] = (struct sup_ckpt_part){"momentum", "momentum.", &s->k_model, NULL};
	out[2] = (struct sup_ckpt_part){"queue", "", &s->queue_model, NULL};
	return 3;
}

/* The network on x [N, ...] with BN statistics per consecutive sub-batch of N / splits. */
static struct sup_tensor *moco_forward_split(struct sup_ctx *c, struct sup_model *m, const struct moco_net *n,
					     struct sup_tensor *x, int splits)
{
	if (!x)
		return NULL;
	const int64_t N = x->shape[0], per = N / splits;
	struct sup_tensor *h[MOCO_MAX_SPLITS];
	for (int i = 0; i < splits; i++)
		h[i] = sup_image_encoder_forward(c, m, &n->enc, sup_slice(c, x, 0, i * per, (i + 1) * per, 1));
	struct sup_tensor *feat = splits == 1 ? h[0] : sup_concat(c, h, splits, 0);
	return sup_mlp_forward(c, m, &n->head, feat);
}

/* The shuffle of shuffling BN over a batch of N: a permutation drawn from c->rng (the identity
 * without sub-batches, bn_splits 1) and its inverse, as I64 index tensors. */
static bool moco_shuffle(const struct moco *s, struct sup_ctx *c, int64_t N, struct sup_tensor **perm,
			 struct sup_tensor **inv)
{
	*perm = sup_tensor_new(c, SUP_I64, 1, &N);
	*inv = sup_tensor_new(c, SUP_I64, 1, &N);
	if (!*perm || !*inv)
		return false;
	int64_t *p = (*perm)->data, *ip = (*inv)->data;
	if (s->splits > 1)
		sup_rng_permutation(&c->rng, p, N);
	else
		for (int64_t i = 0; i < N; i++)
			p[i] = i;
	for (int64_t i = 0; i < N; i++)
		ip[p[i]] = i;
	return true;
}

/* Keys of x_k with shuffled BN (§3.3): permute, encode per sub-batch, unpermute, normalise.
 * No gradient; f_k in training mode (its BN uses batch statistics, as in the reference).
 * Data-parallel (K = c->comm's size > 1, docs/dist.md): what one process computes on the global
 * batch of N = K n images, split over the processes as the reference code splits it over GPUs.
 * Every process holds the same c->rng, so all draw the same permutation of the global batch; the
 * x_k shards are gathered (the reference's concat_all_gather of x), process r encodes the
 * permuted rows [r n, (r + 1) n), i.e. sub-batches r S/K .. (r + 1) S/K - 1 of the one-process
 * run, and the encoded rows are gathered back. Returns the normalised keys of the whole global
 * batch [N, D] (every process the same); the caller merges f_k's running statistics
 * (sup_model_merge_running_stats). */
static struct sup_tensor *moco_keys(struct moco *s, struct sup_ctx *c, struct sup_tensor *xk_local)
{
	const int K = sup_comm_size(c->comm), rank = sup_comm_rank(c->comm);
	const int64_t n = xk_local->shape[0], N = n * K;
	struct sup_tensor *perm, *inv;
	if (!moco_shuffle(s, c, N, &perm, &inv))
		return NULL;
	sup_no_grad_begin(c);
	sup_model_set_training(&s->k_model, true);
	struct sup_tensor *xk = K > 1 ? sup_all_gather(c, xk_local) : xk_local;
	struct sup_tensor *mine =
	    K > 1 ? sup_contiguous(c, sup_slice(c, perm, 0, (int64_t)rank * n, (int64_t)(rank + 1) * n, 1)) : perm;
	struct sup_tensor *k = moco_forward_split(c, &s->k_model, &s->k, sup_index_select(c, xk, 0, mine), s->splits / K);
	if (K > 1)
		k = sup_all_gather(c, k);
	k = sup_l2_normalize(c, sup_index_select(c, k, 0, inv), 1, 1e-12);
	sup_no_grad_end(c);
	return k;
}

/* queue[ptr .. ptr + N) (mod K) = k; ptr = (ptr + N) mod K (FIFO: the oldest keys go first). */
static void moco_enqueue(struct moco *s, const struct sup_tensor *k)
{
	float *qd = sup_model_tensor(&s->queue_model, s->queue)->data;
	float *ptr = sup_model_tensor(&s->queue_model, s->queue_ptr)->data;
	int64_t at = (int64_t)*ptr;
	const float *kd = k->data;
	for (int64_t i = 0; i < k->shape[0]; i++) {
		memcpy(qd + at * s->dim, kd + i * s->dim, sizeof(float) * (size_t)s->dim);
		at = (at + 1) % s->K;
	}
	*ptr = (float)at;
}

/* One step. Data-parallel (docs/dist.md): this process holds n = N/K images of the global batch
 * of N. Queries: the process's S/K consecutive sub-batches, as the one-process run splits them.
 * Keys: moco_keys (shuffled BN over the global batch). The loss is the mean over the local
 * queries with the replicated queue as negatives, gradients are averaged, and every process
 * enqueues the keys of the whole global batch. Symmetric: the same for (q of view 2, k of view
 * 1), the two losses summed, both terms against the queue as it was before the step; the first
 * view's keys are enqueued first. Running statistics of both encoders are merged so
 * that they equal the one-process run's sequence of S sub-batch updates. K = 1: all of that is
 * the plain one-process step. */
static enum sup_status moco_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				 const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct moco *s = state;
	if (b->n_views < 2)
		return sup_ctx_fail(c, SUP_ERR_ARG, "moco: needs two views per image, got %d", b->n_views);
	const int K = sup_comm_size(c->comm), rank = sup_comm_rank(c->comm);
	const int64_t n = b->views[0]->shape[0];
	/* The global batch (K local shards of n) must split into bn_splits sub-batches, and those over
	 * the processes (the driver checks both before training: moco_check_processes). */
	if (n * K % s->splits || s->splits % K)
		return sup_ctx_fail(c, SUP_ERR_ARG,
				    "moco: the batch of %lld must split into bn_splits %d sub-batches, a multiple of the %d "
				    "processes",
				    (long long)(n * K), s->splits, K);
	float *q_before = NULL, *k_before = NULL;
	if (K > 1) {
		q_before = sup_ctx_alloc(c, sizeof(float) * (size_t)(s->q_model.n_buffers + 1));
		k_before = sup_ctx_alloc(c, sizeof(float) * (size_t)(s->k_model.n_buffers + 1));
		if (!q_before || !k_before)
			return sup_ctx_status(c);
	}
	sup_model_set_training(&s->q_model, true);
	struct sup_tensor *queue = sup_model_tensor(&s->queue_model, s->queue);
	struct sup_tensor *loss = NULL, *keys[2] = {NULL, NULL}; /* keys[v]: normalised keys of view v */
	struct sup_contrastive_stats cs = {0};
	const int terms = s->symmetric ? 2 : 1;
	for (int t = 0; t < terms; t++) {
		const int vq = t, vk = 1 - t;
		if (K > 1) {
			memcpy(q_before, s->q_model.buffers, sizeof(float) * (size_t)s->q_model.n_buffers);
			memcpy(k_before, s->k_model.buffers, sizeof(float) * (size_t)s->k_model.n_buffers);
		}
		struct sup_tensor *q = moco_forward_split(c, &s->q_model, &s->q, b->views[vq], s->splits / K);
		struct sup_tensor *k_all = keys[vk] = moco_keys(s, c, b->views[vk]);
		struct sup_tensor *k =
		    K > 1 ? sup_contiguous(c, sup_slice(c, k_all, 0, (int64_t)rank * n, (int64_t)(rank + 1) * n, 1))
			  : k_all;
		if (K > 1) {
			/* Both encoders ran S/K sub-batches through every BN layer (momentum 0.1, the BN
			 * default the encoders declare); merged per term, so that the order of updates
			 * is the one-process run's (term 1's S sub-batches, then term 2's). */
			enum sup_status st = sup_model_merge_running_stats(&s->q_model, q_before, s->splits / K, 0.1, c->comm);
			if (st == SUP_OK)
				st = sup_model_merge_running_stats(&s->k_model, k_before, s->splits / K, 0.1, c->comm);
			if (st != SUP_OK)
				return sup_ctx_fail(c, st, "moco: a collective over %d processes failed", K);
		}
		struct sup_contrastive_stats ct = {0};
		struct sup_tensor *term = sup_info_nce_queue(c, q, k, queue, s->tau, &ct);
		if (!term)
			return sup_ctx_status(c);
		loss = t ? sup_add(c, loss, term) : term;
		cs.acc += ct.acc / terms;
		cs.pos_sim += ct.pos_sim / terms;
		cs.neg_sim += ct.neg_sim / terms;
	}
	if (!loss)
		return sup_ctx_status(c);
	sup_model_zero_grad(&s->q_model);
	if (sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	const enum sup_status st = K > 1 ? sup_model_allreduce_grads(&s->q_model, c->comm, 0) : SUP_OK;
	if (st != SUP_OK)
		return sup_ctx_fail(c, st, "moco: a collective over %d processes failed", K);
	sup_optim_step(&s->optim, si->lr);
	sup_model_ema(&s->k_model, &s->q_model, s->m);
	for (int v = 0; v < 2; v++)
		if (keys[v])
			moco_enqueue(s, keys[v]);
	image_ssl_contrastive_stats(out, loss, &cs);
	return SUP_OK;
}

/* The representation: f_q's backbone output, before the head (the key encoder is its moving
 * average). */
static struct sup_tensor *moco_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					bool training)
{
	struct moco *s = state;
	sup_model_set_training(&s->q_model, training);
	return sup_image_encoder_forward(c, &s->q_model, &s->q.enc, b->views[0]);
}

static struct sup_tensor *moco_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(moco_features, state, c, b);
}

#define MOCO_METHOD(NAME, PAPER, KEYS)                                                                                 \
	{                                                                                                              \
		.name = NAME, .family = "contrastive", .branch = "instance discrimination",                           \
		.modalities = SUP_MODALITY_IMAGE, .paper = PAPER, .default_data = "fashion-mnist", .fixture = false,   \
		.data_parallel = true,                                                                                  \
		.batch_kind = SUP_BATCH_IMAGES, .n_views = 2, .config = KEYS, .init = moco_init,                      \
		.check_processes = moco_check_processes, .parts = moco_parts, .train_step = moco_step, .on_epoch_end = NULL, .encode = moco_encode,            \
		.forward_features = moco_features,                                                                     \
		.sample = NULL, .nll = NULL, .free = moco_free,                                                        \
	}

const struct sup_method sup_method_moco =
    MOCO_METHOD("moco",
		"He, Fan, Wu, Xie, Girshick 2020, Momentum Contrast for Unsupervised Visual Representation Learning "
		"(CVPR)",
		moco_v1_keys);
const struct sup_method sup_method_mocov2 =
    MOCO_METHOD("mocov2", "Chen, Fan, Girshick, He 2020, Improved Baselines with Momentum Contrastive Learning",
		moco_v2_keys);
