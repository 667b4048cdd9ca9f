/* ELECTRA: pre-training text encoders as discriminators rather than generators.
 *
 * Clark, Luong, Le, Manning 2020, ICLR, §3 (eqs. 1-2 and the objective after them):
 *   m_i ~ unif{1, n} for k = ceil(0.15 n) positions,  x^masked = REPLACE(x, m, [MASK])
 *   x^_i ~ p_G(x_i | x^masked) for i in m,            x^corrupt = REPLACE(x, m, x^)
 *   L_MLM = E[sum_{i in m} -log p_G(x_i | x^masked)]
 *   L_Disc = E[sum_t -1(x^corrupt_t = x_t) log D(x^corrupt, t) - 1(x^corrupt_t != x_t) log(1 - D)]
 *   min L_MLM + lambda L_Disc, lambda = 50; no gradient flows through the sampling.
 * D(x, t) = sigmoid(w^T h_D(x)_t), after the reference code's dense + GELU layer, predicts "replaced" here (1 = x^corrupt_t != x_t), the
 * reference code's convention; a token the generator happened to sample correctly counts as
 * original (§3: "if the generator happens to generate the correct token, that token is
 * considered real"). Replaced-token detection runs over all (non-padding) positions.
 * §3.2 "Weight sharing": a smaller generator shares the token and positional embeddings with the
 * discriminator; as in the reference code the generator projects the shared embeddings (width d)
 * to its own hidden size and its MLM head (dense, GELU, LayerNorm) maps back to d before the
 * decoder tied to the shared token embeddings. §3.2 "Smaller generators": 1/4 to 1/2 of the
 * discriminator's width works best (ELECTRA-Small: 1/4).
 * The representation is the discriminator: encode = mean of its final hidden states over the
 * non-padding positions. */
#include "methods/textm.h"

#include "selfsup/autograd.h"
#include "selfsup/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct electra {
	int probe_layers; /* evaluation features: textm_probe_features */
	struct sup_model model;
	struct sup_optim optim;
	struct sup_text_encoder disc;
	struct sup_linear gen_proj, gen_dense, disc_dense, disc_out;
	struct sup_transformer_block gen_blocks[SUP_TEXT_ENCODER_MAX_LAYERS];
	struct sup_layer_norm gen_ln_f, gen_head_ln;
	int gen_bias, gen_layers;
	double lambda;
	struct sup_mlm_opts mo;
};

static const struct sup_cfg_key electra_keys[] = {
    TEXTM_ENCODER_KEYS("4", "128", "4", "512",
		       "ELECTRA-Small 12 x 256 (Clark et al. 2020 app. A) scaled to a 1-hour, 2-core budget"),
    {"generator_size", SUP_CFG_FLOAT, "0.25", NULL, "generator width as a fraction of the discriminator's",
     "Clark et al. 2020 sec. 3.2 and app. A (ELECTRA-Small: 1/4)", 0},
    {"disc_weight", SUP_CFG_FLOAT, "50", NULL, "lambda: weight of the discriminator loss",
     "Clark et al. 2020 sec. 3.1", 0},
    {"mask_prob", SUP_CFG_FLOAT, "0.15", NULL, "fraction of positions masked for the generator",
     "Clark et al. 2020 sec. 3.1 and app. A", 0},
    {"mask.span", SUP_CFG_FLOAT, "1", NULL, "mean length of the masked spans (1: independent positions)",
     "1: Clark et al. 2020 sec. 3.1; > 1: geometric spans, Joshi et al. 2020 (SpanBERT) sec. 3.1", 0},
    {"weight_decay", SUP_CFG_FLOAT, "0.01", NULL, "AdamW weight decay (not on biases, LN scales)",
     "Clark et al. 2020 app. A", 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "peak AdamW learning rate",
     "as mlm (workload W3) for a like-for-like comparison; ELECTRA-Small uses 5e-4 at batch 128", 0},
    {"warmup_epochs", SUP_CFG_INT, "1", NULL, "linear warm-up", "Clark et al. 2020 app. A (10k steps), scaled", 0},
    TEXTM_CORRUPTION_KEYS("Clark et al. 2020 sec. 3.1 and app. A (BERT's WordPiece sub-words); bpe: 55.3% "
			  "fortune-8 probe (2 seeds) against 48.1% with bytes"),
    {"log_every", SUP_CFG_INT, "20", NULL, "optimizer steps between metrics.jsonl records", NULL, SUP_CFG_RUNCTL},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void electra_free(void *state)
{
	struct electra *e = state;
	if (!e)
		return;
	sup_optim_deinit(&e->optim);
	sup_model_deinit(&e->model);
	free(e);
}

/* The generator's modules next to the discriminator in one model (one optimizer, one backward:
 * the shared embeddings get the gradients of both losses, as in §3.2). */
static void electra_declare_generator(struct electra *e, const struct sup_text_encoder_config *ec, double size)
{
	struct sup_model *md = &e->model;
	int64_t heads = (int64_t)llround((double)ec->heads * size), dg = (int64_t)llround((double)ec->dim * size);
	heads = heads < 1 ? 1 : heads;
	dg = dg < heads ? heads : dg - dg % heads;
	e->gen_layers = ec->layers;
	sup_linear_declare(&e->gen_proj, md, "generator.embeddings_project", ec->dim, dg, true);
	for (int i = 0; i < ec->layers; i++) {
		char name[64];
		snprintf(name, sizeof name, "generator.blocks.%d", i);
		sup_transformer_block_declare(&e->gen_blocks[i], md, name, dg, heads, 4 * dg, ec->dropout, false);
	}
	sup_layer_norm_declare(&e->gen_ln_f, md, "generator.ln_f", dg);
	sup_linear_declare(&e->gen_dense, md, "generator_head.dense", dg, ec->dim, true);
	sup_layer_norm_declare(&e->gen_head_ln, md, "generator_head.ln", ec->dim);
	e->gen_bias = sup_model_add(md, "generator_head", "bias", SUP_KIND_PARAM, 1, (const int64_t[]){ec->vocab},
				    SUP_INIT_ZEROS, 0, SUP_PARAM_NO_DECAY);
}

static enum sup_status electra_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				    struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	struct sup_text_encoder_config ec;
	enum sup_status s = textm_encoder_config(&ec, cfg, data, false, "electra", err, err_size);
	if (s != SUP_OK)
		return s;
	double size = sup_config_float(cfg, "generator_size");
	struct electra *e = calloc(1, sizeof *e);
	if (!e)
		return SUP_ERR_NOMEM;
	e->lambda = sup_config_float(cfg, "disc_weight");
	/* §3: every chosen position becomes [MASK] (no 80/10/10). */
	e->mo = sup_mlm_opts_default((int32_t)ec.vocab, 0);
	e->mo.mask_prob = sup_config_float(cfg, "mask_prob");
	e->mo.p_mask = 1.0;
	e->mo.p_random = 0.0;
	e->mo.mean_span = sup_config_float(cfg, "mask.span");
	e->probe_layers = (int)sup_config_int(cfg, "probe_layers");
	if (!(size > 0 && size <= 1) || !(e->mo.mask_prob > 0 && e->mo.mask_prob <= 1) || !(e->lambda >= 0) ||
	    !(e->mo.mean_span >= 1 && e->mo.mean_span <= 64)) {
		snprintf(err, err_size,
			 "electra: need 0 < generator_size <= 1, 0 < mask_prob <= 1, disc_weight >= 0, 1 <= mask.span <= 64");
		free(e);
		return SUP_ERR_ARG;
	}
	struct sup_model *md = &e->model;
	sup_model_init(md, sup_allocator_default());
	sup_text_encoder_declare(&e->disc, md, "discriminator", &ec);
	sup_linear_declare(&e->disc_dense, md, "discriminator_head.dense", ec.dim, ec.dim, true);
	sup_linear_declare(&e->disc_out, md, "discriminator_head.out", ec.dim, 1, true);
	electra_declare_generator(e, &ec, size);
	s = sup_model_build(md, rng);
	if (s == SUP_OK)
		s = textm_optim_init(&e->optim, md, sup_config_float(cfg, "weight_decay"));
	if (s != SUP_OK) {
		snprintf(err, err_size, "electra: %s", md->err_msg[0] ? md->err_msg : sup_status_str(s));
		electra_free(e);
		return s;
	}
	*state = e;
	return SUP_OK;
}

static int electra_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct electra *e = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &e->model, &e->optim};
	return 1;
}

/* Generator logits [M, V] at the flattened positions pos of the masked ids x [B, T]. */
static struct sup_tensor *electra_generator(struct electra *e, struct sup_ctx *c, struct sup_tensor *x,
					    struct sup_tensor *pad, struct sup_tensor *pos)
{
	struct sup_model *md = &e->model;
	struct sup_tensor *p = sup_slice(c, sup_model_tensor(md, e->disc.pos_emb.weight), 0, 0, x->shape[1], 1);
	struct sup_tensor *h = sup_add(c, sup_embedding_forward(c, md, &e->disc.tok_emb, x), p);
	h = sup_linear_forward(c, md, &e->gen_proj, sup_dropout(c, h, e->disc.cfg.dropout, md->training));
	for (int i = 0; i < e->gen_layers; i++)
		h = sup_transformer_block_forward(c, md, &e->gen_blocks[i], h, false, pad, NULL, NULL);
	h = sup_layer_norm_forward(c, md, &e->gen_ln_f, h);
	h = sup_index_select(c, sup_reshape(c, h, 2, (const int64_t[]){-1, h ? h->shape[2] : 1}), 0, pos);
	h = sup_layer_norm_forward(c, md, &e->gen_head_ln, sup_gelu(c, sup_linear_forward(c, md, &e->gen_dense, h), false));
	return sup_add(c, sup_text_encoder_logits(c, md, &e->disc, h), sup_model_tensor(md, e->gen_bias));
}

int64_t textm_electra_corrupt(struct sup_ctx *c, const struct sup_tensor *gen_logits, const int64_t *pos, int64_t m,
			      const int32_t *orig, int64_t n, int32_t *corrupt, float *replaced)
{
	struct sup_tensor *lg = gen_logits ? sup_tensor_to(c, gen_logits, SUP_F32) : NULL;
	if (!lg)
		return -1;
	int64_t V = lg->shape[1], nrep = 0;
	double *p = sup_ctx_alloc(c, sizeof(double) * (size_t)V);
	if (!p)
		return -1;
	memcpy(corrupt, orig, sizeof(int32_t) * (size_t)n);
	for (int64_t i = 0; i < n; i++)
		replaced[i] = 0;
	for (int64_t k = 0; k < m; k++) {
		const float *row = (const float *)lg->data + k * V;
		double mx = -INFINITY, z = 0;
		for (int64_t v = 0; v < V; v++)
			if (!sup_token_is_special((int32_t)v) && row[v] > mx)
				mx = row[v];
		for (int64_t v = 0; v < V; v++)
			z += p[v] = sup_token_is_special((int32_t)v) ? 0 : exp(row[v] - mx);
		double u = sup_rng_uniform(&c->rng) * z, acc = 0;
		int32_t tok = -1;
		for (int64_t v = 0; v < V && tok < 0; v++) {
			acc += p[v];
			if (p[v] > 0 && u < acc)
				tok = (int32_t)v;
		}
		for (int64_t v = V - 1; tok < 0 && v >= 0; v--) /* u rounded up to z */
			tok = p[v] > 0 ? (int32_t)v : -1;
		corrupt[pos[k]] = tok;
		replaced[pos[k]] = tok != orig[pos[k]];
		nrep += tok != orig[pos[k]];
	}
	return nrep;
}

/* Discriminator loss (BCE over the non-padding positions) of the corrupted ids; *acc its accuracy. */
static struct sup_tensor *electra_disc_loss(struct electra *e, struct sup_ctx *c, struct sup_tensor *x,
					    struct sup_tensor *pad, const float *replaced, double *acc)
{
	struct sup_model *md = &e->model;
	int64_t N = sup_tensor_numel(x), nr = 0;
	for (int64_t i = 0; i < N; i++)
		nr += !((const uint8_t *)pad->data)[i];
	struct sup_tensor *keep = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){nr});
	struct sup_tensor *y = sup_tensor_new(c, SUP_F32, 1, (const int64_t[]){nr});
	if (!keep || !y)
		return NULL;
	for (int64_t i = 0, k = 0; i < N; i++) {
		if (((const uint8_t *)pad->data)[i])
			continue;
		((int64_t *)keep->data)[k] = i;
		((float *)y->data)[k++] = replaced[i];
	}
	struct sup_tensor *h = sup_text_encoder_forward(c, md, &e->disc, x, pad);
	h = sup_index_select(c, sup_reshape(c, h, 2, (const int64_t[]){-1, e->disc.cfg.dim}), 0, keep);
	struct sup_tensor *logit = sup_linear_forward(c, md, &e->disc_out, sup_gelu(c, sup_linear_forward(c, md, &e->disc_dense, h), false));
	logit = sup_reshape(c, logit, 1, (const int64_t[]){nr});
	int64_t ok = 0;
	for (int64_t i = 0; logit && i < nr; i++)
		ok += (sup_tensor_get(logit, i) > 0) == (((float *)y->data)[i] > 0.5f);
	*acc = nr ? (double)ok / (double)nr : 0;
	return sup_bce_with_logits(c, logit, y, SUP_REDUCE_MEAN);
}

static enum sup_status electra_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				    const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct electra *e = state;
	int64_t B = b->views[0]->shape[0], T = b->views[0]->shape[1], N = B * T, M = 0;
	int32_t *orig = textm_ids_i32(c, b->views[0]), *masked = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)N);
	int32_t *lab = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)N), *corrupt = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)N);
	float *replaced = sup_ctx_alloc(c, sizeof(float) * (size_t)N);
	struct sup_tensor *x = sup_tensor_new(c, SUP_I64, 2, (const int64_t[]){B, T});
	if (!orig || !masked || !lab || !corrupt || !replaced || !x)
		return sup_ctx_status(c);
	struct sup_mlm_opts mo = e->mo;
	mo.seed = ((uint64_t)sup_rng_u32(&c->rng) << 32) | sup_rng_u32(&c->rng);
	for (int64_t r = 0; r < B; r++)
		M += sup_mlm_mask(&mo, (uint64_t)si->step, r, orig + r * T, T, masked + r * T, lab + r * T);
	if (M == 0)
		return sup_ctx_fail(c, SUP_ERR_ARG, "electra: a batch with no maskable token");
	struct sup_tensor *pos = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){M});
	struct sup_tensor *y = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){M});
	if (!pos || !y)
		return sup_ctx_status(c);
	for (int64_t i = 0, k = 0; i < N; i++) {
		((int64_t *)x->data)[i] = masked[i];
		if (lab[i] != mo.ignore_index) {
			((int64_t *)pos->data)[k] = i;
			((int64_t *)y->data)[k++] = lab[i];
		}
	}
	sup_model_set_training(&e->model, true);
	struct sup_tensor *pad = textm_padding(c, x); /* masking keeps [PAD] where it is */
	struct sup_tensor *glogits = electra_generator(e, c, x, pad, pos);
	struct sup_tensor *lmlm = sup_cross_entropy(c, glogits, y, -100, 0, SUP_REDUCE_MEAN);
	/* Sampling reads the logits' values only: no gradient through it (§3). */
	int64_t nrep = textm_electra_corrupt(c, glogits, (const int64_t *)pos->data, M, orig, N, corrupt, replaced);
	if (nrep < 0)
		return sup_ctx_status(c);
	struct sup_tensor *xc = sup_tensor_new(c, SUP_I64, 2, (const int64_t[]){B, T});
	if (!xc)
		return sup_ctx_status(c);
	for (int64_t i = 0; i < N; i++)
		((int64_t *)xc->data)[i] = corrupt[i];
	double dacc = 0;
	struct sup_tensor *ldisc = electra_disc_loss(e, c, xc, pad, replaced, &dacc);
	struct sup_tensor *loss = sup_add(c, lmlm, sup_mul_scalar(c, ldisc, e->lambda));
	int64_t gok = M - nrep; /* a sample equal to the original is a correct generator draw */
	sup_model_zero_grad(&e->model);
	if (sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&e->optim, si->lr);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 4;
	out->names[0] = "mlm_loss";
	out->values[0] = sup_tensor_get(lmlm, 0);
	out->names[1] = "disc_loss";
	out->values[1] = sup_tensor_get(ldisc, 0);
	out->names[2] = "disc_acc";
	out->values[2] = dacc;
	out->names[3] = "gen_sample_acc";
	out->values[3] = (double)gok / (double)M;
	return SUP_OK;
}

/* The discriminator's states, mean-pooled (the generator is discarded after pre-training, §3). */
static struct sup_tensor *electra_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					   bool training)
{
	struct electra *e = state;
	sup_model_set_training(&e->model, training);
	struct sup_tensor *ids = b->views[0];
	return textm_probe_features(c, &e->model, &e->disc, ids, e->probe_layers);
}

static struct sup_tensor *electra_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(electra_features, state, c, b);
}

const struct sup_method sup_method_electra = {
    .name = "electra",
    .family = "generative-contrastive",
    .branch = "adversarial (replaced-token detection)",
    .modalities = SUP_MODALITY_TEXT,
    .paper = "Clark et al. 2020, ELECTRA: Pre-training Text Encoders as Discriminators Rather Than Generators (sec. 3)",
    .default_data = "fortunes",
    .batch_kind = SUP_BATCH_TOKENS,
    .n_views = 1,
    .config = electra_keys,
    .init = electra_init,
    .parts = electra_parts,
    .train_step = electra_step,
    .encode = electra_encode,
    .forward_features = electra_features,
    .free = electra_free,
};
