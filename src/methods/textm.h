/* Pieces shared by the text methods (gpt.c, mlm.c, electra.c); internal, not a public header.
 * Tests include it (tests see src/) to reach the recipe functions they check directly. */
#ifndef SELFSUP_METHODS_TEXTM_H
#define SELFSUP_METHODS_TEXTM_H

#include "selfsup/method.h"
#include "selfsup/nn.h"
#include "selfsup/optim.h"

/* The encoder keys every text method has (layers, dim, heads, ffn, dropout, probe_layers), as
 * config rows. */
#define TEXTM_ENCODER_KEYS(layers, dim, heads, ffn, cite)                                                        \
	{"layers", SUP_CFG_INT, layers, NULL, "Transformer blocks", cite, 0},                                    \
	    {"dim", SUP_CFG_INT, dim, NULL, "model width d", cite, 0},                                           \
	    {"heads", SUP_CFG_INT, heads, NULL, "attention heads (dim / heads = 32 per head)", cite, 0},         \
	    {"ffn", SUP_CFG_INT, ffn, NULL, "MLP hidden size (4 d, Vaswani et al. 2017 sec. 3.3)", cite, 0},     \
	    {"dropout", SUP_CFG_FLOAT, "0", NULL, "dropout on embeddings, attention and residual branches",       \
	     "0 as workloads W3/W4 (one-hour budget: the model underfits, so dropout only slows it)", 0},         \
	    {"probe_layers", SUP_CFG_INT, "1", NULL,                                                               \
	     "layers whose mean-pooled states the evaluations concatenate (1: the output alone)",                   \
	     "1: the issue's protocol; 4: Devlin et al. 2019 sec. 5.3 (feature-based, top four layers)", 0}

/* The tokenizer, length and batch of the encoders pretrained by corruption (mlm, electra). The
 * driver reads `tokenizer` to pick the token set of fortunes (cli_text_data_for: data=fortunes
 * becomes fortunes-bpe); the method itself only sees the vocabulary of the data it is given. */
#define TEXTM_CORRUPTION_KEYS(tokenizer_cite)                                                                     \
	{"tokenizer", SUP_CFG_ENUM, "bpe", "bpe|byte",                                                               \
	 "tokens of the fortunes sets (bpe: 4096 byte-level BPE tokens learned from the training split)",            \
	 tokenizer_cite, 0},                                                                                         \
	    {"epochs", SUP_CFG_INT, "18", NULL, "passes over the 90% training split",                                \
	     "3276 steps of 4096 tokens with BPE, the compute of gpt's 6 byte epochs (3330 steps); under 60 "        \
	     "minutes on 2 cores (bench/run_text.sh)", 0},                                                           \
	{                                                                                                            \
		"batch_size", SUP_CFG_INT, "32", NULL, "rows of 128 tokens per step", "workload W3", 0                 \
	}

/* Checks the data set (text, vocabulary, sequence length) and fills the encoder config from the
 * keys above. */
enum sup_status textm_encoder_config(struct sup_text_encoder_config *ec, const struct sup_config *cfg,
				     const struct sup_data_info *data, bool causal, const char *method, char *err,
				     size_t err_size);
/* AdamW with BERT's/GPT's exclusion of biases and LayerNorm scales from the decay. */
enum sup_status textm_optim_init(struct sup_optim *o, struct sup_model *m, double weight_decay);
/* u8 [B, T]: 1 where ids[b, t] == SUP_TOK_PAD (the attention's key_padding convention). */
struct sup_tensor *textm_padding(struct sup_ctx *c, const struct sup_tensor *ids);
/* Mean of h [B, T, D] over the non-padding positions of ids -> [B, D]. */
struct sup_tensor *textm_mean_pool(struct sup_ctx *c, struct sup_tensor *h, const struct sup_tensor *ids);
/* The probe's features of ids [B, T]: the mean-pooled states (textm_mean_pool) of the encoder's
 * last n_layers layers, concatenated oldest first -> [B, n_layers * D]; n_layers = 1 is the final
 * output alone. Concatenating the top layers is BERT's feature-based recipe (Devlin et al. 2019
 * §5.3, table 7: the top four hidden layers). */
struct sup_tensor *textm_probe_features(struct sup_ctx *c, struct sup_model *m, const struct sup_text_encoder *e,
					struct sup_tensor *ids, int n_layers);
/* ids as a host array of int32 (arena). */
int32_t *textm_ids_i32(struct sup_ctx *c, const struct sup_tensor *ids);

/* GPT (gpt.c): next-byte logits [B, T, V] of ids (eval or train mode as the model is). Tests
 * perturb token t and check the logits of positions < t. */
struct sup_tensor *textm_gpt_logits(void *gpt_state, struct sup_ctx *c, struct sup_tensor *ids);

/* ELECTRA (electra.c, Clark et al. 2020 §3): draws x^_i ~ p_G(x_i | x^masked) at the M masked
 * positions pos[0..M) of the flattened ids from the generator logits [M, V] (no gradient;
 * special tokens are never drawn), writes the corrupted sequence into corrupt (a copy of orig
 * elsewhere) and the discriminator targets into replaced: 1 where corrupt differs from orig,
 * 0 elsewhere (so 0 where the generator happened to draw the original token). Returns the
 * number of replaced positions, or -1 with c's error set. */
int64_t textm_electra_corrupt(struct sup_ctx *c, const struct sup_tensor *gen_logits, const int64_t *pos, int64_t m,
			      const int32_t *orig, int64_t n, int32_t *corrupt, float *replaced);

#endif
