/* Text methods (gpt, mlm, electra; issue 8): the causal mask of GPT, its NLL against an
 * independent log-softmax, generation determinism under a seed, the masking statistics the
 * methods use, ELECTRA's replaced-token labels, and a few steps lowering each loss on a tiny
 * corpus. Tiny models (1-2 layers, d = 32, T = 16): seconds. */
#include "testutil.h"

#include "methods/textm.h"
#include "selfsup/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const struct sup_method sup_method_gpt, sup_method_mlm, sup_method_electra;

#define TT 16
#define TB 8

static const struct sup_data_info info = {
    .name = "tiny", .modality = SUP_MODALITY_TEXT, .n_examples = TB, .vocab_size = SUP_TOK_BYTE_VOCAB, .seq_len = TT};

/* A method built with a tiny config (plus extra overrides). */
static void *build(const struct sup_method *m, struct sup_config **cfg, const char *extra)
{
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
	char err[256] = "";
	TU_CHECK(sup_config_new(cfg, schemas, 2, err, sizeof err) == SUP_OK);
	const char *kv[] = {"layers=2", "dim=32", "heads=2", "ffn=64", extra};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
		if (kv[i])
			TU_CHECK_MSG(sup_config_override(*cfg, kv[i], err, sizeof err) == SUP_OK, "%s", err);
	struct sup_rng rng = sup_rng_make(7, 1);
	void *st = NULL;
	TU_CHECK_MSG(m->init(&st, *cfg, &info, &rng, err, sizeof err) == SUP_OK, "%s", err);
	return st;
}

/* A tiny corpus: rows of a repeated English phrase at different offsets (learnable quickly). */
static struct sup_tensor *corpus_batch(struct sup_ctx *c, int64_t pad_last)
{
	static const char text[] = "the cat sat on the mat and the dog sat on the log. ";
	struct sup_tensor *x = sup_tensor_new(c, SUP_I64, TU_SHAPE(TB, TT));
	for (int64_t b = 0; b < TB; b++)
		for (int64_t t = 0; t < TT; t++)
			((int64_t *)x->data)[b * TT + t] = (unsigned char)text[(b * 5 + t) % (sizeof text - 1)];
	for (int64_t t = TT - pad_last; t < TT; t++)
		((int64_t *)x->data)[(TB - 1) * TT + t] = SUP_TOK_PAD;
	return x;
}

static void test_causal_mask(void)
{
	struct sup_config *cfg = NULL;
	void *g = build(&sup_method_gpt, &cfg, NULL);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *x = corpus_batch(&c, 0), *x2 = sup_tensor_clone(&c, x);
	const int64_t t0 = 7;
	for (int64_t b = 0; b < TB; b++)
		((int64_t *)x2->data)[b * TT + t0] = 'Q';
	struct sup_tensor *l1 = sup_contiguous(&c, textm_gpt_logits(g, &c, x));
	struct sup_tensor *l2 = sup_contiguous(&c, textm_gpt_logits(g, &c, x2));
	TU_CHECK(l1 && l2);
	int64_t V = SUP_TOK_BYTE_VOCAB;
	double before = 0, after = 0;
	for (int64_t b = 0; l1 && l2 && b < TB; b++)
		for (int64_t t = 0; t < TT; t++)
			for (int64_t v = 0; v < V; v++) {
				double d = fabs(sup_tensor_get(l1, (b * TT + t) * V + v) - sup_tensor_get(l2, (b * TT + t) * V + v));
				if (t < t0)
					before = d > before ? d : before;
				else
					after = d > after ? d : after;
			}
	TU_CHECK_MSG(before == 0, "logits before the perturbed token changed by %g", before);
	TU_CHECK_MSG(after > 1e-4, "logits from the perturbed token on did not change (%g)", after);
	sup_ctx_deinit(&c);
	sup_method_gpt.free(g);
	sup_config_free(cfg);
}

/* nll = sum over predicted positions of -log softmax(logits)[next], computed here directly. */
static void test_gpt_nll(void)
{
	struct sup_config *cfg = NULL;
	void *g = build(&sup_method_gpt, &cfg, NULL);
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_tensor *x = corpus_batch(&c, 5);
	struct sup_method_batch b = {.kind = SUP_BATCH_TOKENS, .n_views = 1, .views = {x}};
	double nats = 0, dims = 0;
	TU_CHECK(sup_method_gpt.nll(g, &c, &b, &nats, &dims) == SUP_OK);
	struct sup_tensor *lg = sup_contiguous(&c, textm_gpt_logits(g, &c, x));
	double ref = 0, n = 0;
	int64_t V = SUP_TOK_BYTE_VOCAB;
	for (int64_t r = 0; r < TB; r++)
		for (int64_t t = 0; t + 1 < TT; t++) {
			int64_t next = (int64_t)sup_tensor_get(x, r * TT + t + 1);
			if (next == SUP_TOK_PAD)
				continue;
			double mx = -1e30, z = 0;
			for (int64_t v = 0; v < V; v++)
				mx = fmax(mx, sup_tensor_get(lg, (r * TT + t) * V + v));
			for (int64_t v = 0; v < V; v++)
				z += exp(sup_tensor_get(lg, (r * TT + t) * V + v) - mx);
			ref += log(z) + mx - sup_tensor_get(lg, (r * TT + t) * V + next);
			n++;
		}
	TU_CHECK_NEAR(dims, n, 0);
	TU_CHECK_NEAR(dims, TB * (TT - 1) - 5, 0);
	TU_CHECK_NEAR(nats, ref, 1e-3 * ref);
	sup_ctx_deinit(&c);
	sup_method_gpt.free(g);
	sup_config_free(cfg);
}

static void test_generation_determinism(void)
{
	struct sup_config *cfg = NULL;
	void *g = build(&sup_method_gpt, &cfg, "sample.length=24");
	struct sup_ctx c1, c2, c3;
	tu_ctx(&c1, 42);
	tu_ctx(&c2, 42);
	tu_ctx(&c3, 43);
	struct sup_tensor *s1 = sup_method_gpt.sample(g, &c1, 3, "The ");
	struct sup_tensor *s2 = sup_method_gpt.sample(g, &c2, 3, "The ");
	struct sup_tensor *s3 = sup_method_gpt.sample(g, &c3, 3, "The ");
	TU_CHECK(s1 && s2 && s3);
	if (s1 && s2 && s3) {
		TU_CHECK(s1->shape[0] == 3 && s1->shape[1] == 4 + 24);
		TU_CHECK(tu_max_abs_diff(s1, s2) == 0);
		TU_CHECK_MSG(tu_max_abs_diff(s1, s3) > 0, "another seed drew the same samples");
		TU_CHECK(sup_tensor_get(s1, 0) == 'T' && sup_tensor_get(s1, 3) == ' '); /* the prompt comes first */
		for (int64_t i = 0; i < sup_tensor_numel(s1); i++) {
			int64_t id = (int64_t)sup_tensor_get(s1, i);
			TU_CHECK(id >= 0 && id < SUP_TOK_BYTE_VOCAB && id != SUP_TOK_MASK && id != SUP_TOK_CLS);
		}
	}
	sup_ctx_deinit(&c1);
	sup_ctx_deinit(&c2);
	sup_ctx_deinit(&c3);
	sup_method_gpt.free(g);
	sup_config_free(cfg);
}

/* 15% of the eligible positions chosen; of those 80% [MASK], 10% random, 10% kept (BERT), and
 * 100% [MASK] with ELECTRA's options; specials never chosen. */
static void masking_stats(double p_mask, double p_random)
{
	struct sup_mlm_opts o = sup_mlm_opts_default(SUP_TOK_BYTE_VOCAB, 3);
	o.p_mask = p_mask;
	o.p_random = p_random;
	enum { T = 128, ROWS = 400 };
	int32_t ids[T], out[T], lab[T];
	int64_t chosen = 0, masked = 0, kept = 0, eligible = 0;
	for (int64_t r = 0; r < ROWS; r++) {
		for (int t = 0; t < T; t++)
			ids[t] = t % 17 == 0 ? SUP_TOK_SEP : (t >= 120 ? SUP_TOK_PAD : 'a' + (t * 7 + r) % 26);
		for (int t = 0; t < T; t++)
			eligible += !sup_token_is_special(ids[t]);
		chosen += sup_mlm_mask(&o, 0, r, ids, T, out, lab);
		for (int t = 0; t < T; t++) {
			if (lab[t] == o.ignore_index) {
				TU_CHECK(out[t] == ids[t]);
				continue;
			}
			TU_CHECK(!sup_token_is_special(ids[t]) && lab[t] == ids[t]);
			masked += out[t] == SUP_TOK_MASK;
			kept += out[t] == ids[t];
		}
	}
	TU_CHECK_NEAR((double)chosen / (double)eligible, 0.15, 0.005);
	TU_CHECK_NEAR((double)masked / (double)chosen, p_mask, 0.03);
	TU_CHECK_NEAR((double)kept / (double)chosen, 1 - p_mask - p_random, 0.03);
}

static void test_masking(void)
{
	masking_stats(0.8, 0.1);
	masking_stats(1.0, 0.0);
}

/* Peaked generator logits: at pos[0] the original token is (almost) certain -> label 0 although
 * masked; at pos[1] another token is certain -> label 1; unmasked positions keep their token. */
static void test_electra_labels(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 5);
	int32_t orig[6] = {'a', 'b', 'c', 'd', 'e', 'f'}, corrupt[6];
	float rep[6];
	int64_t pos[2] = {1, 4};
	struct sup_tensor *lg = sup_tensor_full(&c, SUP_F32, TU_SHAPE(2, SUP_TOK_BYTE_VOCAB), 0);
	sup_tensor_set(lg, 0 * SUP_TOK_BYTE_VOCAB + 'b', 40);	     /* samples the original 'b' */
	sup_tensor_set(lg, 1 * SUP_TOK_BYTE_VOCAB + 'z', 40);	     /* replaces 'e' by 'z' */
	sup_tensor_set(lg, 1 * SUP_TOK_BYTE_VOCAB + SUP_TOK_MASK, 99); /* specials are never drawn */
	int64_t n = textm_electra_corrupt(&c, lg, pos, 2, orig, 6, corrupt, rep);
	TU_CHECK(n == 1);
	const int32_t want[6] = {'a', 'b', 'c', 'd', 'z', 'f'};
	const float wrep[6] = {0, 0, 0, 0, 1, 0};
	for (int i = 0; i < 6; i++) {
		TU_CHECK_MSG(corrupt[i] == want[i], "position %d: %d", i, corrupt[i]);
		TU_CHECK(rep[i] == wrep[i]);
	}
	/* Uniform logits: labels agree with the draw wherever it landed. */
	sup_tensor_fill(lg, 0);
	int64_t pos2[2] = {0, 5}, m = 0;
	for (int trial = 0; trial < 50; trial++) {
		n = textm_electra_corrupt(&c, lg, pos2, 2, orig, 6, corrupt, rep);
		m = 0;
		for (int i = 0; i < 6; i++) {
			TU_CHECK(rep[i] == (corrupt[i] != orig[i]));
			m += rep[i] != 0;
		}
		TU_CHECK(n == m);
	}
	sup_ctx_deinit(&c);
}

/* Mean loss of the first and last 5 of 40 steps on the tiny corpus; the last must be lower. */
static void loss_decreases(const struct sup_method *m, const char *extra, double min_drop)
{
	struct sup_config *cfg = NULL;
	void *st = build(m, &cfg, extra);
	struct sup_ctx c;
	tu_ctx(&c, 9);
	double first = 0, last = 0;
	const int steps = 40;
	for (int s = 0; s < steps; s++) {
		struct sup_tensor *x = corpus_batch(&c, 3);
		struct sup_tensor *idx = sup_tensor_new(&c, SUP_I64, TU_SHAPE(TB));
		for (int64_t i = 0; i < TB; i++)
			((int64_t *)idx->data)[i] = i;
		struct sup_method_batch b = {.kind = SUP_BATCH_TOKENS, .n_views = 1, .views = {x}, .index = idx};
		struct sup_step_info si = {0, s, steps, 3e-3};
		struct sup_step_stats out = {0};
		TU_CHECK_MSG(m->train_step(st, &c, &b, &si, &out) == SUP_OK, "%s: %s", m->name, sup_ctx_error(&c));
		TU_CHECK(isfinite(out.loss));
		if (s < 5)
			first += out.loss / 5;
		if (s >= steps - 5)
			last += out.loss / 5;
		sup_ctx_reset(&c);
	}
	TU_CHECK_MSG(last < first - min_drop, "%s %s: loss %g -> %g", m->name, extra ? extra : "", first, last);
	/* encode gives [B, D] */
	struct sup_tensor *x = corpus_batch(&c, 3);
	struct sup_method_batch b = {.kind = SUP_BATCH_TOKENS, .n_views = 1, .views = {x}};
	struct sup_tensor *z = m->encode(st, &c, &b);
	TU_CHECK(z && z->ndim == 2 && z->shape[0] == TB && z->shape[1] == 32);
	sup_ctx_deinit(&c);
	m->free(st);
	sup_config_free(cfg);
}

/* probe_layers: the features are the mean-pooled states of the last layers, the output last
 * (so its columns equal the one-layer features); more layers than the encoder has is an error. */
static void test_probe_layers(void)
{
	const struct sup_method *ms[3] = {&sup_method_gpt, &sup_method_mlm, &sup_method_electra};
	for (int i = 0; i < 3; i++) {
		struct sup_config *cfg1 = NULL, *cfg2 = NULL;
		void *s1 = build(ms[i], &cfg1, NULL), *s2 = build(ms[i], &cfg2, "probe_layers=2");
		struct sup_ctx c;
		tu_ctx(&c, 1);
		struct sup_method_batch b = {.kind = SUP_BATCH_TOKENS, .n_views = 1};
		b.views[0] = corpus_batch(&c, 5);
		struct sup_tensor *f1 = ms[i]->encode(s1, &c, &b), *f2 = ms[i]->encode(s2, &c, &b);
		TU_CHECK_MSG(f1 && f2 && f1->shape[1] == 32 && f2->shape[1] == 64, "%s", ms[i]->name);
		double d = f1 && f2 ? 0 : 1;
		for (int64_t r = 0; f1 && f2 && r < TB; r++)
			for (int64_t j = 0; j < 32; j++)
				d = fmax(d, fabs(sup_tensor_get(f1, r * 32 + j) - sup_tensor_get(f2, r * 64 + 32 + j)));
		TU_CHECK_MSG(d == 0, "%s: output columns differ by %g", ms[i]->name, d);
		sup_ctx_deinit(&c);
		ms[i]->free(s1);
		ms[i]->free(s2);
		sup_config_free(cfg1);
		sup_config_free(cfg2);
		char err[256] = "";
		struct sup_config *cfg = NULL;
		const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), ms[i]->config};
		TU_CHECK(sup_config_new(&cfg, schemas, 2, err, sizeof err) == SUP_OK &&
			 sup_config_override(cfg, "layers=2", err, sizeof err) == SUP_OK &&
			 sup_config_override(cfg, "probe_layers=3", err, sizeof err) == SUP_OK);
		struct sup_rng rng = sup_rng_make(7, 1);
		void *st = NULL;
		TU_CHECK(ms[i]->init(&st, cfg, &info, &rng, err, sizeof err) == SUP_ERR_ARG && !st &&
			 strstr(err, "probe_layers"));
		sup_config_free(cfg);
	}
}

static void test_loss_decreases(void)
{
	loss_decreases(&sup_method_gpt, NULL, 0.5);
	loss_decreases(&sup_method_mlm, NULL, 0.3);
	loss_decreases(&sup_method_mlm, "sentence_task=sop", 0.3);
	loss_decreases(&sup_method_mlm, "sentence_task=nsp", 0.3);
	loss_decreases(&sup_method_electra, NULL, 0.3);
	loss_decreases(&sup_method_mlm, "mask.span=4", 0.3);
	loss_decreases(&sup_method_electra, "mask.span=4", 0.3);
}

int main(void)
{
	test_causal_mask();
	test_gpt_nll();
	test_generation_determinism();
	test_masking();
	test_electra_labels();
	test_probe_layers();
	test_loss_decreases();
	return tu_finish("methods/text_methods");
}
