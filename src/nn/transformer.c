/* Pre-LN Transformer blocks and the Transformer text encoder.
 *
 * Block: Vaswani et al. 2017 §3.1 (encoder/decoder layers) with the layer norm moved in front of
 * each sub-layer (Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture",
 * Fig. 1(b); the GPT-2 arrangement):
 *   x = x + drop(attn(LN1(x)))                    self-attention (causal in a decoder / GPT)
 *   x = x + drop(cross_attn(LN_cross(x), memory)) decoder only
 *   x = x + drop(FFN(LN2(x))),  FFN = Linear(D, F) GELU Linear(F, D)   (§3.3; GELU as in BERT/GPT)
 *
 * Text encoder: token + learned position embeddings (BERT, Devlin et al. 2019 §3; GPT, Radford
 * et al. 2018 §3.1) initialised N(0, 0.02), N blocks, a final LayerNorm (GPT-2), and logits tied to
 * the token embedding (Press & Wolf 2017): logits = h E^T, no extra parameters. */
#include "selfsup/nn.h"

#include <stdio.h>

#define T(m, i) sup_model_tensor((m), (i))

/* prefix.name into out[SUP_NAME_MAX]; a name that does not fit is a model error, never a silent
 * truncation (two truncated names could collide or mislabel a checkpoint). */
static void join(char *out, struct sup_model *m, const char *prefix, const char *name)
{
	int n = snprintf(out, SUP_NAME_MAX, "%s%s%s", prefix, prefix[0] ? "." : "", name);
	if (n < 0 || n >= SUP_NAME_MAX)
		sup_model_fail(m, SUP_ERR_ARG, "%s.%s: name longer than %d characters", prefix, name, SUP_NAME_MAX - 1);
}

int sup_transformer_block_declare(struct sup_transformer_block *b, struct sup_model *m, const char *prefix,
				  int64_t dim, int64_t heads, int64_t ffn, double dropout, bool cross)
{
	*b = (struct sup_transformer_block){ .dim = dim, .ffn = ffn, .dropout = dropout, .has_cross = cross };
	if (!(dropout >= 0 && dropout < 1))
		return sup_model_fail(m, SUP_ERR_ARG, "%s: dropout %g is not in [0, 1)", prefix, dropout);
	char name[SUP_NAME_MAX];
	join(name, m, prefix, "ln1");
	sup_layer_norm_declare(&b->ln1, m, name, dim);
	join(name, m, prefix, "attn");
	sup_attention_declare(&b->attn, m, name, dim, heads, dropout);
	if (cross) {
		join(name, m, prefix, "ln_cross");
		sup_layer_norm_declare(&b->ln_cross, m, name, dim);
		join(name, m, prefix, "cross_attn");
		sup_attention_declare(&b->cross_attn, m, name, dim, heads, dropout);
	}
	join(name, m, prefix, "ln2");
	sup_layer_norm_declare(&b->ln2, m, name, dim);
	join(name, m, prefix, "mlp.fc1");
	sup_linear_declare(&b->fc1, m, name, dim, ffn, true);
	join(name, m, prefix, "mlp.fc2");
	sup_linear_declare(&b->fc2, m, name, ffn, dim, true);
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_transformer_block_forward(struct sup_ctx *c, struct sup_model *m,
						 const struct sup_transformer_block *b, struct sup_tensor *x,
						 bool causal, const struct sup_tensor *padding,
						 struct sup_tensor *memory, const struct sup_tensor *memory_padding)
{
	if (!x || c->err)
		return NULL;
	if (b->has_cross != (memory != NULL)) {
		sup_ctx_fail(c, SUP_ERR_ARG, "transformer block: %s",
			     b->has_cross ? "a decoder block needs the encoder memory" : "memory given to a block without cross-attention");
		return NULL;
	}
	struct sup_tensor *h = sup_layer_norm_forward(c, m, &b->ln1, x);
	h = sup_attention_forward(c, m, &b->attn, h, NULL, causal, padding);
	x = sup_add(c, x, sup_dropout(c, h, b->dropout, m->training));
	if (b->has_cross) {
		h = sup_layer_norm_forward(c, m, &b->ln_cross, x);
		h = sup_attention_forward(c, m, &b->cross_attn, h, memory, false, memory_padding);
		x = sup_add(c, x, sup_dropout(c, h, b->dropout, m->training));
	}
	h = sup_layer_norm_forward(c, m, &b->ln2, x);
	h = sup_gelu(c, sup_linear_forward(c, m, &b->fc1, h), b->gelu_tanh);
	h = sup_linear_forward(c, m, &b->fc2, h);
	return sup_add(c, x, sup_dropout(c, h, b->dropout, m->training));
}

int sup_text_encoder_declare(struct sup_text_encoder *e, struct sup_model *m, const char *prefix,
			     const struct sup_text_encoder_config *cfg)
{
	*e = (struct sup_text_encoder){ .cfg = *cfg };
	if (cfg->layers < 0 || cfg->layers > SUP_TEXT_ENCODER_MAX_LAYERS)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: %d layers (0 to %d allowed)", prefix, cfg->layers,
				      SUP_TEXT_ENCODER_MAX_LAYERS);
	if (cfg->vocab < 1 || cfg->max_len < 1)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: vocabulary %lld and max length %lld must be >= 1", prefix,
				      (long long)cfg->vocab, (long long)cfg->max_len);
	char name[SUP_NAME_MAX];
	join(name, m, prefix, "tok_emb");
	sup_embedding_declare(&e->tok_emb, m, name, cfg->vocab, cfg->dim, 0.02);
	join(name, m, prefix, "pos_emb");
	sup_embedding_declare(&e->pos_emb, m, name, cfg->max_len, cfg->dim, 0.02);
	for (int i = 0; i < cfg->layers; i++) {
		char blk[SUP_NAME_MAX];
		snprintf(blk, sizeof blk, "blocks.%d", i);
		join(name, m, prefix, blk);
		sup_transformer_block_declare(&e->blocks[i], m, name, cfg->dim, cfg->heads, cfg->ffn, cfg->dropout, false);
		e->blocks[i].gelu_tanh = cfg->gelu_tanh;
	}
	join(name, m, prefix, "ln_f");
	sup_layer_norm_declare(&e->ln_f, m, name, cfg->dim);
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_text_encoder_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_text_encoder *e,
					    struct sup_tensor *ids, const struct sup_tensor *padding)
{
	struct sup_tensor *h = NULL;
	return sup_text_encoder_forward_states(c, m, e, ids, padding, 1, &h);
}

struct sup_tensor *sup_text_encoder_forward_states(struct sup_ctx *c, struct sup_model *m,
						   const struct sup_text_encoder *e, struct sup_tensor *ids,
						   const struct sup_tensor *padding, int n_states,
						   struct sup_tensor **states)
{
	if (!ids || c->err)
		return NULL;
	if (n_states < 1 || n_states > e->cfg.layers) {
		sup_ctx_fail(c, SUP_ERR_ARG, "text encoder: %d layer states requested from %d layers", n_states,
			     e->cfg.layers);
		return NULL;
	}
	if (ids->ndim != 2 || ids->shape[1] > e->cfg.max_len) {
		char s[64];
		sup_shape_str(s, sizeof s, ids->ndim, ids->shape);
		sup_ctx_fail(c, SUP_ERR_SHAPE, "text encoder: ids must be [B, T] with T <= %lld, got %s",
			     (long long)e->cfg.max_len, s);
		return NULL;
	}
	/* Positions 0..T-1 are the first T rows of the position table: a slice, no index tensor. */
	struct sup_tensor *pos = sup_slice(c, T(m, e->pos_emb.weight), 0, 0, ids->shape[1], 1);
	struct sup_tensor *x = sup_add(c, sup_embedding_forward(c, m, &e->tok_emb, ids), pos);
	x = sup_dropout(c, x, e->cfg.dropout, m->training);
	const int base = e->cfg.layers - n_states; /* block i < layers - 1 gives states[i - base] */
	for (int i = 0; i < e->cfg.layers; i++) {
		x = sup_transformer_block_forward(c, m, &e->blocks[i], x, e->cfg.causal, padding, NULL, NULL);
		if (i >= base && i < e->cfg.layers - 1)
			states[i - base] = x;
	}
	x = sup_layer_norm_forward(c, m, &e->ln_f, x);
	states[n_states - 1] = x;
	return x;
}

struct sup_tensor *sup_text_encoder_logits(struct sup_ctx *c, struct sup_model *m, const struct sup_text_encoder *e,
					   struct sup_tensor *h)
{
	return sup_matmul(c, h, T(m, e->tok_emb.weight), false, true);
}
