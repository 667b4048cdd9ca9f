/* MLM: BERT-style masked language modelling, with NSP or SOP as an optional sentence-level task.
 *
 * Devlin, Chang, Lee, Toutanova 2019, "BERT: Pre-training of Deep Bidirectional Transformers for
 * Language Understanding", §3.1:
 *   Task #1 (masked LM): 15% of the token positions are chosen; a chosen token becomes [MASK] 80%
 *     of the time, a random token 10%, stays unchanged 10%; the final hidden vectors of the chosen
 *     positions go through the output softmax over the vocabulary (cross-entropy on those only).
 *     The output head is the reference code's transform (dense, GELU, LayerNorm) followed by the
 *     decoder tied to the input embeddings plus an output bias.
 *   Task #2 (NSP, sentence_task=nsp): the input is [CLS] A [SEP] B [SEP]; B is A's continuation
 *     half of the time, else a random segment of another example; a classifier on the pooled
 *     [CLS] state (dense + tanh pooler, then 2-way linear) predicts which.
 * Lan et al. 2020, "ALBERT", §4.2 (sentence_task=sop): sentence-order prediction: B is A's
 *   continuation or A and B are swapped; both segments always come from the same text.
 * Liu et al. 2019 (RoBERTa) §4.2 find NSP unnecessary, and ELECTRA uses none: the default is
 *   sentence_task=none, which also makes the MLM/ELECTRA comparison like for like.
 *
 * Segments: each training row (a 128-byte window of the packed corpus) is cut into two halves,
 * its consecutive "segments"; data.h's sup_nsp_pairs/sup_pair_encode build the pairs. The encoder
 * has no segment (token-type) embedding: [SEP] marks the boundary.
 * encode (probes): mean of the final hidden states over the non-padding positions.
 *
 * Data-parallel (`mpirun -np K`, docs/dist.md): masks per global row, the loss over the global
 * batch's masked tokens, sentence pairs built from the gathered global batch. */
#include "methods/textm.h"

#include "selfsup/autograd.h"
#include "selfsup/data.h"

#include <stdlib.h>
#include <string.h>

enum { MLM_TASK_NONE, MLM_TASK_NSP, MLM_TASK_SOP };

struct mlm {
	int probe_layers; /* evaluation features: textm_probe_features */
	struct sup_model model;
	struct sup_optim optim;
	struct sup_text_encoder enc;
	struct sup_linear dense, pooler, classifier;
	struct sup_layer_norm ln;
	int bias;
	int task;
	struct sup_mlm_opts mo;
};

static const struct sup_cfg_key mlm_keys[] = {
    TEXTM_ENCODER_KEYS("4", "128", "4", "512",
		       "BERT-base 12 x 768 (Devlin et al. 2019 sec. 3) scaled to a 1-hour, 2-core budget"),
    {"mask_prob", SUP_CFG_FLOAT, "0.15", NULL, "fraction of positions predicted", "Devlin et al. 2019 sec. 3.1", 0},
    {"mask.p_mask", SUP_CFG_FLOAT, "0.8", NULL, "chosen position -> [MASK]", "Devlin et al. 2019 sec. 3.1", 0},
    {"mask.p_random", SUP_CFG_FLOAT, "0.1", NULL, "chosen position -> random token (rest unchanged)",
     "Devlin et al. 2019 sec. 3.1", 0},
    {"mask.span", SUP_CFG_FLOAT, "1", NULL, "mean length of the masked spans (1: independent positions)",
     "1: Devlin et al. 2019 sec. 3.1; > 1: geometric spans, Joshi et al. 2020 (SpanBERT) sec. 3.1", 0},
    {"sentence_task", SUP_CFG_ENUM, "none", "none|nsp|sop", "sentence-level task added to the MLM loss",
     "none: Liu et al. 2019 (RoBERTa) sec. 4.2; nsp: Devlin et al. 2019; sop: Lan et al. 2020 sec. 4.2", 0},
    {"weight_decay", SUP_CFG_FLOAT, "0.01", NULL, "AdamW weight decay (not on biases, LN scales)",
     "Devlin et al. 2019 app. A.2; workload W3", 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "peak AdamW learning rate", "workload W3 (small model: 1e-3)", 0},
    {"warmup_epochs", SUP_CFG_INT, "1", NULL, "linear warm-up", "Devlin et al. 2019 app. A.2 (10k steps), scaled",
     0},
    TEXTM_CORRUPTION_KEYS("Devlin et al. 2019 sec. 3 (WordPiece sub-words); bpe: 53.1% fortune-8 probe (2 seeds) "
			  "against 49.2% with bytes at equal compute"),
    {"log_every", SUP_CFG_INT, "20", NULL, "optimizer steps between metrics.jsonl records", NULL, SUP_CFG_RUNCTL},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void mlm_free(void *state)
{
	struct mlm *m = state;
	if (!m)
		return;
	sup_optim_deinit(&m->optim);
	sup_model_deinit(&m->model);
	free(m);
}

static enum sup_status mlm_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	struct sup_text_encoder_config ec;
	enum sup_status s = textm_encoder_config(&ec, cfg, data, false, "mlm", err, err_size);
	if (s != SUP_OK)
		return s;
	struct mlm *m = calloc(1, sizeof *m);
	if (!m)
		return SUP_ERR_NOMEM;
	m->task = sup_config_enum(cfg, "sentence_task");
	m->mo = sup_mlm_opts_default((int32_t)ec.vocab, 0);
	m->mo.mask_prob = sup_config_float(cfg, "mask_prob");
	m->mo.p_mask = sup_config_float(cfg, "mask.p_mask");
	m->mo.p_random = sup_config_float(cfg, "mask.p_random");
	m->mo.mean_span = sup_config_float(cfg, "mask.span");
	m->probe_layers = (int)sup_config_int(cfg, "probe_layers");
	if (!(m->mo.mask_prob > 0 && m->mo.mask_prob <= 1 && m->mo.p_mask >= 0 && m->mo.p_random >= 0 &&
	      m->mo.p_mask + m->mo.p_random <= 1 && m->mo.mean_span >= 1 && m->mo.mean_span <= 64)) {
		snprintf(err, err_size,
			 "mlm: need 0 < mask_prob <= 1, mask.p_mask + mask.p_random <= 1 and 1 <= mask.span <= 64");
		free(m);
		return SUP_ERR_ARG;
	}
	struct sup_model *md = &m->model;
	sup_model_init(md, sup_allocator_default());
	sup_text_encoder_declare(&m->enc, md, "bert", &ec);
	sup_linear_declare(&m->dense, md, "mlm_head.dense", ec.dim, ec.dim, true);
	sup_layer_norm_declare(&m->ln, md, "mlm_head.ln", ec.dim);
	m->bias = sup_model_add(md, "mlm_head", "bias", SUP_KIND_PARAM, 1, (const int64_t[]){ec.vocab}, SUP_INIT_ZEROS,
				0, SUP_PARAM_NO_DECAY);
	if (m->task != MLM_TASK_NONE) {
		sup_linear_declare(&m->pooler, md, "sentence_head.pooler", ec.dim, ec.dim, true);
		sup_linear_declare(&m->classifier, md, "sentence_head.classifier", ec.dim, 2, true);
	}
	s = sup_model_build(md, rng);
	if (s == SUP_OK)
		s = textm_optim_init(&m->optim, md, sup_config_float(cfg, "weight_decay"));
	if (s != SUP_OK) {
		snprintf(err, err_size, "mlm: %s", md->err_msg[0] ? md->err_msg : sup_status_str(s));
		mlm_free(m);
		return s;
	}
	*state = m;
	return SUP_OK;
}

static int mlm_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct mlm *m = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &m->model, &m->optim};
	return 1;
}

/* Rewrites the rows of ids [B, T] (host, in place) as [CLS] A [SEP] B [SEP] pairs of their two
 * halves (NSP or SOP) and writes the pair labels [B] (0 = natural order / is next). */
static enum sup_status mlm_make_pairs(struct mlm *m, struct sup_ctx *c, int32_t *ids, int64_t B, int64_t T,
				      uint64_t seed, uint64_t step, int64_t *labels)
{
	int32_t *tok = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)(B * T));
	int64_t *off = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(2 * B + 1)), n = 0;
	int64_t *doc = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(2 * B));
	struct sup_seg_pair *pairs = sup_ctx_alloc(c, sizeof *pairs * (size_t)(2 * B));
	int32_t *type = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)T);
	uint8_t *mask = sup_ctx_alloc(c, (size_t)T);
	if (!tok || !off || !doc || !pairs || !type || !mask)
		return sup_ctx_status(c);
	for (int64_t b = 0; b < B; b++) {
		int64_t len = 0;
		for (int64_t t = 0; t < T; t++)
			if (ids[b * T + t] != SUP_TOK_PAD)
				tok[n + len++] = ids[b * T + t];
		off[2 * b] = n;
		off[2 * b + 1] = n + len / 2;
		n += len;
		doc[2 * b] = doc[2 * b + 1] = b;
	}
	off[2 * B] = n;
	int64_t np = sup_nsp_pairs(pairs, doc, 2 * B, m->task == MLM_TASK_SOP, seed, step);
	if (np != B)
		return sup_ctx_fail(c, SUP_ERR_STATE, "mlm: %lld sentence pairs for %lld rows", (long long)np,
				    (long long)B);
	for (int64_t b = 0; b < B; b++) {
		enum sup_status s = sup_pair_encode(ids + b * T, type, mask, T, tok, off, &pairs[b]);
		if (s != SUP_OK)
			return sup_ctx_fail(c, s, "mlm: sentence pair of row %lld does not fit", (long long)b);
		labels[b] = pairs[b].label;
	}
	return SUP_OK;
}

/* mlm_make_pairs on the global batch of a data-parallel group (docs/dist.md). NSP takes its
 * random B segments from other rows of the batch, so a process cannot pair its rows alone: every
 * process gathers the rows of the whole batch (rank order = global order), builds the pairs of
 * all of them exactly as one process does (same seed and step: the context RNG is the same
 * everywhere) and keeps its own rows [r B, (r + 1) B) and their labels. SOP pairs within a row
 * but goes through the same path. One process: mlm_make_pairs. */
static enum sup_status mlm_make_pairs_global(struct mlm *m, struct sup_ctx *c, int32_t *ids, int64_t B, int64_t T,
					     uint64_t seed, uint64_t step, int64_t *labels)
{
	const int K = sup_comm_size(c->comm);
	if (K <= 1)
		return mlm_make_pairs(m, c, ids, B, T, seed, step, labels);
	const int64_t Bg = B * K, row0 = (int64_t)sup_comm_rank(c->comm) * B;
	int32_t *all = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)(Bg * T));
	int64_t *all_labels = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)Bg);
	if (!all || !all_labels)
		return sup_ctx_status(c);
	/* Equal shards (the driver's contract), so a plain allgather. */
	if (sup_comm_allgather(c->comm, ids, all, sizeof(int32_t) * (size_t)(B * T)) != SUP_OK)
		return sup_ctx_fail(c, SUP_ERR_COMM, "mlm: the allgather of the batch's rows failed");
	if (mlm_make_pairs(m, c, all, Bg, T, seed, step, all_labels) != SUP_OK)
		return sup_ctx_status(c);
	memcpy(ids, all + row0 * T, sizeof(int32_t) * (size_t)(B * T));
	memcpy(labels, all_labels + row0, sizeof(int64_t) * (size_t)B);
	return SUP_OK;
}

/* Loss of the sentence task from the [CLS] state h[:, 0]. */
static struct sup_tensor *mlm_sentence_loss(struct mlm *m, struct sup_ctx *c, struct sup_tensor *h,
					    struct sup_tensor *y, double *acc)
{
	int64_t B = h->shape[0], D = h->shape[2];
	struct sup_tensor *cls = sup_reshape(c, sup_contiguous(c, sup_slice(c, h, 1, 0, 1, 1)), 2,
					     (const int64_t[]){B, D});
	struct sup_tensor *pooled = sup_tanh(c, sup_linear_forward(c, &m->model, &m->pooler, cls));
	struct sup_tensor *logits = sup_linear_forward(c, &m->model, &m->classifier, pooled);
	struct sup_tensor *am = sup_argmax(c, logits, 1, false);
	int64_t ok = 0;
	for (int64_t b = 0; am && b < B; b++)
		ok += sup_tensor_get(am, b) == sup_tensor_get(y, b);
	*acc = (double)ok / (double)B;
	return sup_cross_entropy(c, logits, y, -100, 0, SUP_REDUCE_MEAN);
}

/* MLM head on the chosen positions pos [M] of h [B, T, D]: logits [M, V]. */
static struct sup_tensor *mlm_head(struct mlm *m, struct sup_ctx *c, struct sup_tensor *h, struct sup_tensor *pos)
{
	int64_t D = h->shape[2];
	struct sup_tensor *x = sup_index_select(c, sup_reshape(c, h, 2, (const int64_t[]){-1, D}), 0, pos);
	x = sup_layer_norm_forward(c, &m->model, &m->ln, sup_gelu(c, sup_linear_forward(c, &m->model, &m->dense, x), false));
	return sup_add(c, sup_text_encoder_logits(c, &m->model, &m->enc, x), sup_model_tensor(&m->model, m->bias));
}

static enum sup_status mlm_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct mlm *m = state;
	int64_t B = b->views[0]->shape[0], T = b->views[0]->shape[1];
	/* Data-parallel (docs/dist.md): this process holds rows [row0, row0 + B) of the global batch. */
	const int K = sup_comm_size(c->comm);
	const int64_t row0 = (int64_t)sup_comm_rank(c->comm) * B;
	int32_t *ids = textm_ids_i32(c, b->views[0]), *lab = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)(B * T));
	struct sup_tensor *sy = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){B});
	if (!ids || !lab || !sy)
		return sup_ctx_status(c);
	/* Per-step draws from the context RNG (saved with checkpoints: resume draws the same). */
	uint64_t seed = ((uint64_t)sup_rng_u32(&c->rng) << 32) | sup_rng_u32(&c->rng);
	if (m->task != MLM_TASK_NONE &&
	    mlm_make_pairs_global(m, c, ids, B, T, seed, (uint64_t)si->step, sy->data) != SUP_OK)
		return sup_ctx_status(c);
	struct sup_mlm_opts mo = m->mo;
	mo.seed = seed;
	int64_t M = 0;
	/* The mask of a row is a function of (seed, step, row of the global batch). */
	for (int64_t r = 0; r < B; r++)
		M += sup_mlm_mask(&mo, (uint64_t)si->step, row0 + r, ids + r * T, T, ids + r * T, lab + r * T);
	struct sup_tensor *x = sup_tensor_new(c, SUP_I64, 2, (const int64_t[]){B, T});
	struct sup_tensor *pos = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){M ? M : 1});
	struct sup_tensor *y = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){M ? M : 1});
	if (!x || !pos || !y)
		return sup_ctx_status(c);
	for (int64_t i = 0, k = 0; i < B * T; i++) {
		((int64_t *)x->data)[i] = ids[i];
		if (lab[i] != mo.ignore_index) {
			((int64_t *)pos->data)[k] = i;
			((int64_t *)y->data)[k++] = lab[i];
		}
	}
	/* The loss is the mean over the global batch's M_g chosen positions. Each process adds the
	 * cross-entropies of its own positions scaled by K / M_g, so that the average of the
	 * processes' losses (and gradients) is that mean whatever the split of positions. */
	double Mg = (double)M;
	if (K > 1 && sup_comm_allreduce_f64(c->comm, &Mg, 1) != SUP_OK)
		return sup_ctx_fail(c, SUP_ERR_COMM, "mlm: the allreduce of the masked-token count failed");
	if (Mg == 0)
		return sup_ctx_fail(c, SUP_ERR_ARG, "mlm: a batch with no maskable token");
	if (M == 0) { /* this shard has none: one ignored dummy position keeps the graph well formed */
		((int64_t *)pos->data)[0] = 0;
		((int64_t *)y->data)[0] = -100;
	}
	sup_model_set_training(&m->model, true);
	struct sup_tensor *h = sup_text_encoder_forward(c, &m->model, &m->enc, x, textm_padding(c, x));
	struct sup_tensor *logits = mlm_head(m, c, h, pos);
	struct sup_tensor *loss = K > 1 ? sup_mul_scalar(c, sup_cross_entropy(c, logits, y, -100, 0, SUP_REDUCE_SUM),
							(double)K / Mg)
				      : sup_cross_entropy(c, logits, y, -100, 0, SUP_REDUCE_MEAN);
	double mlm_loss = loss ? sup_tensor_get(loss, 0) : 0, sacc = 0;
	if (m->task != MLM_TASK_NONE)
		loss = sup_add(c, loss, mlm_sentence_loss(m, c, h, sy, &sacc));
	struct sup_tensor *am = sup_argmax(c, logits, 1, false);
	sup_model_zero_grad(&m->model);
	if (sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	if (sup_model_allreduce_grads(&m->model, c->comm, 0) != SUP_OK)
		return sup_ctx_fail(c, SUP_ERR_COMM, "mlm: the gradient allreduce failed");
	sup_optim_step(&m->optim, si->lr);
	int64_t ok = 0;
	for (int64_t i = 0; i < M; i++)
		ok += sup_tensor_get(am, i) == sup_tensor_get(y, i);
	out->loss = sup_tensor_get(loss, 0);
	out->n = m->task != MLM_TASK_NONE ? 3 : 2;
	out->names[0] = "mlm_loss";
	out->values[0] = mlm_loss;
	out->names[1] = "mlm_acc";
	out->values[1] = M ? (double)ok / (double)M : 0;
	out->weighted = 1u << 1; /* data-parallel: the global accuracy weighs each process's by its M */
	out->weights[1] = (double)M;
	out->names[2] = m->task == MLM_TASK_SOP ? "sop_acc" : "nsp_acc";
	out->values[2] = sacc;
	return SUP_OK;
}

static struct sup_tensor *mlm_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				       bool training)
{
	struct mlm *m = state;
	sup_model_set_training(&m->model, training);
	struct sup_tensor *ids = b->views[0];
	return textm_probe_features(c, &m->model, &m->enc, ids, m->probe_layers);
}

static struct sup_tensor *mlm_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(mlm_features, state, c, b);
}

const struct sup_method sup_method_mlm = {
    .name = "mlm",
    .family = "generative",
    .branch = "auto-encoding",
    .modalities = SUP_MODALITY_TEXT,
    .paper = "Devlin et al. 2019, BERT (sec. 3.1); SOP: Lan et al. 2020, ALBERT (sec. 4.2)",
    .default_data = "fortunes",
    .data_parallel = true,
    .batch_kind = SUP_BATCH_TOKENS,
    .n_views = 1,
    .config = mlm_keys,
    .init = mlm_init,
    .parts = mlm_parts,
    .train_step = mlm_step,
    .encode = mlm_encode,
    .forward_features = mlm_features,
    .free = mlm_free,
};
