/* GPT: generative pre-training of a causal Transformer language model.
 *
 * Radford, Narasimhan, Salimans, Sutskever 2018, "Improving Language Understanding by Generative
 * Pre-Training", §3.1: maximise L1(U) = sum_i log P(u_i | u_{i-k}, ..., u_{i-1}; Theta) with
 *   h_0 = U W_e + W_p,  h_l = transformer_block(h_{l-1}),  P(u) = softmax(h_n W_e^T)   (eq. 2),
 * i.e. masked (causal) self-attention and the output projection tied to the token embedding W_e.
 * Here the tokens are bytes (vocabulary 260 with the specials of data.h), so the loss is the
 * next-byte cross-entropy at every position, and the held-out NLL gives bits per byte. The blocks
 * are pre-LN with a final LN (GPT-2, Radford et al. 2019 §2.3).
 *
 * Sampling (`selfsup sample`): autoregressive with temperature and top-k truncation (Fan et al.
 * 2018; GPT-2's samples use k = 40). A fortune starts after [SEP] (the packing puts one after
 * every entry), so the context is [SEP] + prompt and a sample ends at the next [SEP].
 *
 * encode (probes): mean of the final hidden states over the non-padding positions. */
#include "methods/textm.h"

#include "selfsup/autograd.h"
#include "selfsup/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gpt {
	int probe_layers; /* evaluation features: textm_probe_features */
	struct sup_model model;
	struct sup_optim optim;
	struct sup_text_encoder enc;
	double temperature;
	int64_t top_k, length;
};

static const struct sup_cfg_key gpt_keys[] = {
    TEXTM_ENCODER_KEYS("4", "128", "4", "512",
		       "GPT's 12 x 768 (Radford et al. 2018 sec. 4.1) scaled to a 1-hour, 2-core budget"),
    {"weight_decay", SUP_CFG_FLOAT, "0.01", NULL, "AdamW decoupled weight decay (not on biases, LN scales)",
     "Radford et al. 2018 sec. 4.1 (w = 0.01); workload W4", 0},
    {"sample.temperature", SUP_CFG_FLOAT, "0.8", NULL, "softmax temperature of `selfsup sample`", NULL, 0},
    {"sample.top_k", SUP_CFG_INT, "40", NULL, "sample among the k most likely bytes (0: all)",
     "Fan et al. 2018; Radford et al. 2019 (k = 40)", 0},
    {"sample.length", SUP_CFG_INT, "160", NULL, "bytes generated per sample (at most; stops at [SEP])", NULL, 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "peak AdamW learning rate", "workload W4 (small model: 1e-3)", 0},
    {"warmup_epochs", SUP_CFG_INT, "1", NULL, "linear warm-up",
     "Radford et al. 2018 sec. 4.1 (2000 updates), scaled: one epoch of ~520 steps", 0},
    {"epochs", SUP_CFG_INT, "6", NULL, "passes over the 90% training split",
     "chosen to finish in under 60 minutes on 2 cores (bench/run_text.sh)", 0},
    {"batch_size", SUP_CFG_INT, "32", NULL, "rows of 128 bytes per step (4096 tokens)",
     "workload W4: 16 x 256 = 4096 tokens per step", 0},
    {"log_every", SUP_CFG_INT, "20", NULL, "optimizer steps between metrics.jsonl records", NULL, SUP_CFG_RUNCTL},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void gpt_free(void *state)
{
	struct gpt *g = state;
	if (!g)
		return;
	sup_optim_deinit(&g->optim);
	sup_model_deinit(&g->model);
	free(g);
}

static enum sup_status gpt_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	struct sup_text_encoder_config ec;
	enum sup_status s = textm_encoder_config(&ec, cfg, data, true, "gpt", err, err_size);
	if (s != SUP_OK)
		return s;
	/* Its loss is reported, and its samples decoded, as bytes. */
	if (data->vocab_size != SUP_TOK_BYTE_VOCAB) {
		snprintf(err, err_size, "gpt models bytes (data=fortunes); %s is in BPE tokens", data->name);
		return SUP_ERR_ARG;
	}
	struct gpt *g = calloc(1, sizeof *g);
	if (!g)
		return SUP_ERR_NOMEM;
	g->temperature = sup_config_float(cfg, "sample.temperature");
	g->top_k = sup_config_int(cfg, "sample.top_k");
	g->length = sup_config_int(cfg, "sample.length");
	g->probe_layers = (int)sup_config_int(cfg, "probe_layers");
	sup_model_init(&g->model, sup_allocator_default());
	sup_text_encoder_declare(&g->enc, &g->model, "transformer", &ec);
	s = sup_model_build(&g->model, rng);
	if (s == SUP_OK)
		s = textm_optim_init(&g->optim, &g->model, sup_config_float(cfg, "weight_decay"));
	if (s != SUP_OK) {
		snprintf(err, err_size, "gpt: %s", g->model.err_msg[0] ? g->model.err_msg : sup_status_str(s));
		gpt_free(g);
		return s;
	}
	*state = g;
	return SUP_OK;
}

static int gpt_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct gpt *g = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &g->model, &g->optim};
	return 1;
}

struct sup_tensor *textm_gpt_logits(void *state, struct sup_ctx *c, struct sup_tensor *ids)
{
	struct gpt *g = state;
	struct sup_tensor *h = sup_text_encoder_forward(c, &g->model, &g->enc, ids, textm_padding(c, ids));
	return sup_text_encoder_logits(c, &g->model, &g->enc, h);
}

/* Next-token targets [B*T]: target of (b, t) is ids[b, t+1]; the last position of a row and
 * padding targets are ignored (-100). Sets *n to the number of predicted tokens. */
static struct sup_tensor *gpt_targets(struct sup_ctx *c, const struct sup_tensor *ids, int64_t *n)
{
	int64_t B = ids->shape[0], T = ids->shape[1];
	struct sup_tensor *y = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){B * T});
	*n = 0;
	for (int64_t b = 0; y && b < B; b++) {
		for (int64_t t = 0; t < T; t++) {
			int64_t next = t + 1 < T ? (int64_t)sup_tensor_get(ids, b * T + t + 1) : SUP_TOK_PAD;
			((int64_t *)y->data)[b * T + t] = next == SUP_TOK_PAD ? -100 : next;
			*n += next != SUP_TOK_PAD;
		}
	}
	return y;
}

/* The cross-entropy of the next token over all predicted positions (reduction as asked). */
static struct sup_tensor *gpt_loss(struct gpt *g, struct sup_ctx *c, struct sup_tensor *ids, enum sup_reduction red,
				   int64_t *n)
{
	int64_t B = ids->shape[0], T = ids->shape[1], V = g->enc.cfg.vocab;
	struct sup_tensor *logits = textm_gpt_logits(g, c, ids);
	struct sup_tensor *y = gpt_targets(c, ids, n);
	return sup_cross_entropy(c, sup_reshape(c, logits, 2, (const int64_t[]){B * T, V}), y, -100, 0, red);
}

static enum sup_status gpt_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct gpt *g = state;
	int64_t n = 0;
	sup_model_set_training(&g->model, true);
	struct sup_tensor *loss = gpt_loss(g, c, b->views[0], SUP_REDUCE_MEAN, &n);
	sup_model_zero_grad(&g->model);
	if (sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&g->optim, si->lr);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 1;
	out->names[0] = "bits_per_byte";
	out->values[0] = out->loss / log(2.0);
	return SUP_OK;
}

static enum sup_status gpt_nll(void *state, struct sup_ctx *c, const struct sup_method_batch *b, double *nats,
			       double *dims)
{
	struct gpt *g = state;
	int64_t n = 0;
	sup_model_set_training(&g->model, false);
	sup_no_grad_begin(c);
	struct sup_tensor *loss = gpt_loss(g, c, b->views[0], SUP_REDUCE_SUM, &n);
	sup_no_grad_end(c);
	if (!loss)
		return sup_ctx_status(c);
	/* Every predicted token is one byte of the held-out text, or the [SEP] that ends an entry
	 * (standing for the file's "%" separator line). */
	*nats = sup_tensor_get(loss, 0);
	*dims = (double)n;
	return SUP_OK;
}

static struct sup_tensor *gpt_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				       bool training)
{
	struct gpt *g = state;
	sup_model_set_training(&g->model, training);
	struct sup_tensor *ids = b->views[0];
	return textm_probe_features(c, &g->model, &g->enc, ids, g->probe_layers);
}

static struct sup_tensor *gpt_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(gpt_features, state, c, b);
}

/* Draws one token from logits[V] with temperature and top-k; special tokens other than [SEP]
 * are never drawn. */
static int32_t gpt_draw(const float *logits, int64_t V, double temperature, int64_t top_k, struct sup_rng *r,
			double *p)
{
	double mx = -INFINITY;
	for (int64_t v = 0; v < V; v++) {
		bool ok = !sup_token_is_special((int32_t)v) || v == SUP_TOK_SEP;
		p[v] = ok ? logits[v] / (temperature > 0 ? temperature : 1e-6) : -INFINITY;
		mx = p[v] > mx ? p[v] : mx;
	}
	if (top_k > 0 && top_k < V) {
		/* The k-th largest value: keep everything at least that large (ties kept). */
		for (int64_t round = 0; round < V - top_k; round++) {
			int64_t lo = -1;
			for (int64_t v = 0; v < V; v++)
				if (p[v] > -INFINITY && (lo < 0 || p[v] < p[lo]))
					lo = v;
			int64_t alive = 0;
			for (int64_t v = 0; v < V; v++)
				alive += p[v] > -INFINITY;
			if (lo < 0 || alive <= top_k)
				break;
			p[lo] = -INFINITY;
		}
	}
	double z = 0;
	for (int64_t v = 0; v < V; v++)
		z += p[v] = p[v] > -INFINITY ? exp(p[v] - mx) : 0;
	double u = sup_rng_uniform(r) * z, acc = 0;
	int32_t last = SUP_TOK_SEP;
	for (int64_t v = 0; v < V; v++) {
		if (p[v] <= 0)
			continue;
		last = (int32_t)v;
		acc += p[v];
		if (u < acc)
			return (int32_t)v;
	}
	return last;
}

/* n samples of [SEP] prompt ... : tokens [n, P + length] (prompt bytes, then the continuation,
 * [PAD] after the [SEP] that ends it). No KV cache: each new byte reruns the (at most max_len)
 * window, which is cheap at sample sizes. */
static struct sup_tensor *gpt_sample(void *state, struct sup_ctx *c, int64_t n, const char *prompt)
{
	struct gpt *g = state;
	int64_t P = prompt ? (int64_t)strlen(prompt) : 0, L = g->length, W = g->enc.cfg.max_len, V = g->enc.cfg.vocab;
	int64_t total = 1 + P + L;
	int64_t *seq = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(n * total));
	double *p = sup_ctx_alloc(c, sizeof(double) * (size_t)V);
	bool *done = sup_ctx_calloc(c, sizeof(bool) * (size_t)n);
	struct sup_tensor *out = sup_tensor_new(c, SUP_I64, 2, (const int64_t[]){n, P + L});
	if (!seq || !p || !done || !out)
		return NULL;
	for (int64_t i = 0; i < n; i++) {
		seq[i * total] = SUP_TOK_SEP;
		for (int64_t j = 0; j < P; j++)
			seq[i * total + 1 + j] = (unsigned char)prompt[j];
	}
	sup_model_set_training(&g->model, false);
	for (int64_t len = 1 + P; len < total; len++) {
		int64_t w = len < W ? len : W, s0 = len - w;
		struct sup_ctx_mark mk = sup_ctx_mark(c);
		sup_no_grad_begin(c);
		struct sup_tensor *ids = sup_tensor_new(c, SUP_I64, 2, (const int64_t[]){n, w});
		for (int64_t i = 0; ids && i < n; i++)
			memcpy((int64_t *)ids->data + i * w, seq + i * total + s0, sizeof(int64_t) * (size_t)w);
		struct sup_tensor *lg = sup_contiguous(c, textm_gpt_logits(g, c, ids));
		sup_no_grad_end(c);
		if (!lg)
			return NULL;
		for (int64_t i = 0; i < n; i++) {
			const float *row = (const float *)lg->data + (i * w + w - 1) * V;
			int32_t t = done[i] ? SUP_TOK_PAD : gpt_draw(row, V, g->temperature, g->top_k, &c->rng, p);
			seq[i * total + len] = t;
			done[i] = done[i] || t == SUP_TOK_SEP;
		}
		sup_ctx_rewind(c, mk);
	}
	for (int64_t i = 0; i < n; i++)
		memcpy((int64_t *)out->data + i * (P + L), seq + i * total + 1, sizeof(int64_t) * (size_t)(P + L));
	return out;
}

const struct sup_method sup_method_gpt = {
    .name = "gpt",
    .family = "generative",
    .branch = "autoregressive",
    .modalities = SUP_MODALITY_TEXT,
    .paper = "Radford et al. 2018, Improving Language Understanding by Generative Pre-Training (sec. 3.1)",
    .default_data = "fortunes",
    .batch_kind = SUP_BATCH_TOKENS,
    .n_views = 1,
    .config = gpt_keys,
    .init = gpt_init,
    .parts = gpt_parts,
    .train_step = gpt_step,
    .encode = gpt_encode,
    .forward_features = gpt_features,
    .sample = gpt_sample,
    .nll = gpt_nll,
    .free = gpt_free,
};
