/* The Transformer language model shared by W3 (bert-mlm-mini) and W4 (gpt-char), exactly as
 * shared/WORKLOADS.md fixes it: byte vocabulary 256 + 4 specials (260), token + learned position
 * embeddings N(0, 0.02), 4 pre-LN encoder layers, d = 256, 4 heads, FFN 1024 exact-erf GELU,
 * final LN, tied output projection, dropout 0; AdamW lr 1e-3, weight decay 0.01 on every
 * parameter (torch.optim.AdamW(model.parameters(), ...)). Only the inputs, the targets and the
 * causal flag differ between the two workloads. */
#ifndef SELFSUP_BENCH_TEXTLM_H
#define SELFSUP_BENCH_TEXTLM_H

#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { TEXTLM_VOCAB = 260, TEXTLM_DIM = 256, TEXTLM_HEADS = 4, TEXTLM_FFN = 1024, TEXTLM_LAYERS = 4 };
/* Special tokens after the 256 bytes. */
enum { TEXTLM_PAD = 256, TEXTLM_CLS = 257, TEXTLM_SEP = 258, TEXTLM_MASK = 259 };
#define TEXTLM_IGNORE (-100)

struct textlm {
	struct sup_model m;
	struct sup_text_encoder e;
	struct sup_optim o;
	int64_t B, T;
	int64_t *ids, *targets; /* [B, T] each, drawn once; targets TEXTLM_IGNORE where no loss */
};

static inline void textlm_free(struct textlm *s)
{
	if (!s)
		return;
	sup_optim_deinit(&s->o);
	sup_model_deinit(&s->m);
	free(s->ids);
	free(s->targets);
	free(s);
}

/* Model and optimizer (their blocks from `alloc`); ids/targets allocated (uninitialised) for the
 * caller to fill. */
static inline struct textlm *textlm_new(int64_t B, int64_t T, bool causal, uint64_t seed, struct sup_allocator alloc,
					char *err, size_t err_size)
{
	struct textlm *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	s->B = B;
	s->T = T;
	sup_model_init(&s->m, alloc);
	const struct sup_text_encoder_config cfg = { .vocab = TEXTLM_VOCAB, .max_len = T, .dim = TEXTLM_DIM,
						     .heads = TEXTLM_HEADS, .ffn = TEXTLM_FFN, .layers = TEXTLM_LAYERS,
						     .dropout = 0.0, .causal = causal };
	sup_text_encoder_declare(&s->e, &s->m, "", &cfg);
	struct sup_rng r = sup_rng_make(seed, 0);
	const struct sup_optim_config oc = { .kind = SUP_OPTIM_ADAMW, .weight_decay = 0.01 };
	enum sup_status st = sup_model_build(&s->m, &r);
	if (st == SUP_OK)
		st = sup_optim_init(&s->o, &s->m, &oc);
	s->ids = malloc(sizeof(int64_t) * (size_t)(B * T));
	s->targets = malloc(sizeof(int64_t) * (size_t)(B * T));
	if (st != SUP_OK || !s->ids || !s->targets) {
		snprintf(err, err_size, "model: %s", s->m.err ? s->m.err_msg : "out of memory");
		textlm_free(s);
		return NULL;
	}
	return s;
}

/* Forward (logits on every position), cross-entropy over the targets that are not ignored,
 * backward, AdamW update. */
static inline double textlm_step(struct textlm *s, struct sup_ctx *c)
{
	const int64_t N = s->B * s->T;
	struct sup_tensor *ids = sup_tensor_wrap(c, SUP_I64, 2, (const int64_t[]){ s->B, s->T }, s->ids);
	struct sup_tensor *tgt = sup_tensor_wrap(c, SUP_I64, 1, &N, s->targets);
	struct sup_tensor *h = sup_text_encoder_forward(c, &s->m, &s->e, ids, NULL);
	struct sup_tensor *logits = sup_text_encoder_logits(c, &s->m, &s->e, h);
	logits = sup_reshape(c, logits, 2, (const int64_t[]){ N, TEXTLM_VOCAB });
	struct sup_tensor *loss = sup_cross_entropy(c, logits, tgt, TEXTLM_IGNORE, 0.0, SUP_REDUCE_MEAN);
	sup_model_zero_grad(&s->m);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return NAN;
	sup_optim_step(&s->o, 1e-3);
	return sup_tensor_get(loss, 0);
}

/* Multiply-adds x 2 of the forward matmuls, x 3 for forward + backward (each matmul's backward is
 * two matmuls of the same size). Per token and layer: q, k, v, out projections 4 D^2, FFN 2 D F,
 * scores and the probability-weighted sum 2 T D (full T x T, as computed even when causal); the
 * tied logits D V per token. Elementwise work, norms and softmax are not counted. */
static inline double textlm_flops(int64_t B, int64_t T)
{
	const double D = TEXTLM_DIM, F = TEXTLM_FFN, V = TEXTLM_VOCAB, L = TEXTLM_LAYERS;
	const double per_token = L * 2.0 * (4 * D * D + 2 * D * F + 2 * (double)T * D) + 2.0 * D * V;
	return 3.0 * per_token * (double)(B * T);
}

static inline void textlm_teardown(void *state)
{
	textlm_free(state);
}

#endif
