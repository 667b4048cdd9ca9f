/* Transformer blocks and the text encoder: gradchecks of an encoder and a decoder block, names
 * and parameter count, tied logits, the causal property of a GPT-style encoder, and overfitting
 * 16 labelled sequences with a mean-pooled classification head and AdamW. */
#include "nntest.h"
#include "selfsup/optim.h"

#include <string.h>

struct block_case {
	struct sup_model *m;
	struct sup_transformer_block *b;
	struct sup_tensor *x, *memory;
	bool causal;
	const struct sup_tensor *padding;
};

static struct sup_tensor *block_fn(struct sup_ctx *c, struct sup_tensor *const *inputs, void *user)
{
	(void)inputs;
	struct block_case *k = user;
	return sup_transformer_block_forward(c, k->m, k->b, k->x, k->causal, k->padding, k->memory, NULL);
}

static void test_block_gradchecks(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(1, 0), ri = sup_rng_make(2, 0);
	for (int decoder = 0; decoder < 2; decoder++) {
		struct sup_model m;
		struct sup_transformer_block b;
		sup_model_init(&m, sup_allocator_default());
		TU_CHECK(sup_transformer_block_declare(&b, &m, "blocks.0", 4, 2, 6, 0.0, decoder) == 0);
		TU_CHECK(sup_model_build(&m, &ri) == SUP_OK);
		/* LayerNorm starts at (1, 0): move it so that its gradients are not at a special point. */
		for (int i = 0; i < m.n_entries; i++)
			if (strstr(m.entries[i].name, "ln"))
				sup_tensor_fill_uniform(&m.entries[i].t, &ri, 0.5, 1.5);
		double *store = nntest_model_to_f64(&m);
		struct sup_tensor *x = tu_leaf(&c, &r, TU_SHAPE(2, 3, 4), -1, 1);
		struct block_case k = { .m = &m, .b = &b, .x = x };
		if (!decoder) {
			const uint8_t pad[6] = { 0, 0, 1, 0, 0, 0 };
			struct sup_tensor *p = sup_tensor_new(&c, SUP_U8, 2, (const int64_t[]){ 2, 3 });
			memcpy(p->data, pad, 6);
			k.padding = p;
			nntest_gradcheck(&c, &m, block_fn, &k, &x, 1, "encoder block");
		} else {
			k.causal = true;
			k.memory = tu_leaf(&c, &r, TU_SHAPE(2, 2, 4), -1, 1);
			struct sup_tensor *both[2] = { x, k.memory };
			nntest_gradcheck(&c, &m, block_fn, &k, both, 2, "decoder block");
		}
		free(store);
		sup_model_deinit(&m);
	}
	sup_ctx_deinit(&c);
}

static const struct sup_text_encoder_config small_cfg = {
	.vocab = 16, .max_len = 8, .dim = 16, .heads = 2, .ffn = 32, .layers = 2, .dropout = 0.0
};

static void test_names_and_tied_logits(void)
{
	struct sup_model m;
	struct sup_text_encoder e;
	sup_model_init(&m, sup_allocator_default());
	TU_CHECK(sup_text_encoder_declare(&e, &m, "", &small_cfg) == 0);
	struct sup_rng ri = sup_rng_make(3, 0);
	TU_CHECK(sup_model_build(&m, &ri) == SUP_OK);
	static const char *const names[] = { "tok_emb.weight", "pos_emb.weight", "blocks.0.ln1.weight",
					     "blocks.0.attn.q_proj.weight", "blocks.0.attn.out_proj.bias",
					     "blocks.1.ln2.bias", "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc2.bias",
					     "ln_f.weight", "ln_f.bias" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		TU_CHECK_MSG(sup_model_find(&m, names[i]) >= 0, "%s", names[i]);
	TU_CHECK(sup_model_find(&m, "blocks.0.cross_attn.q_proj.weight") < 0);
	/* Count: embeddings + per layer (4 D^2 + 4 D + 2 D F + F + D + 4 D) + final LN; nothing for logits. */
	const int64_t V = 16, L = 8, D = 16, F = 32;
	int64_t want = V * D + L * D + 2 * (4 * D * D + 4 * D + 2 * D * F + F + D + 4 * D) + 2 * D, got = 0;
	for (int i = 0; i < m.n_entries; i++)
		got += sup_tensor_numel(&m.entries[i].t);
	TU_CHECK(got == want);
	/* Tied logits: h E^T, and the gradient reaches the token embedding through both uses. */
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_rng r = sup_rng_make(4, 0);
	struct sup_tensor *ids = tu_index(&c, &r, TU_SHAPE(2, 5), V);
	struct sup_tensor *h = sup_text_encoder_forward(&c, &m, &e, ids, NULL);
	struct sup_tensor *logits = sup_text_encoder_logits(&c, &m, &e, h);
	TU_CHECK(logits && logits->ndim == 3 && logits->shape[2] == V);
	const float *E = sup_model_tensor(&m, e.tok_emb.weight)->data;
	double err = 0;
	for (int n = 0; logits && n < 10; n++)
		for (int v = 0; v < V; v++) {
			double s = 0;
			for (int d = 0; d < D; d++)
				s += sup_tensor_get(h, n * D + d) * E[v * D + d];
			err = fmax(err, fabs(s - sup_tensor_get(logits, n * V + v)));
		}
	TU_CHECK(err < 1e-5);
	/* Layer states: the last is the output; the one before is block 0's output, recomputed by hand. */
	struct sup_tensor *st[2] = {NULL, NULL};
	struct sup_tensor *h2 = sup_text_encoder_forward_states(&c, &m, &e, ids, NULL, 2, st);
	struct sup_tensor *pos = sup_slice(&c, sup_model_tensor(&m, e.pos_emb.weight), 0, 0, 5, 1);
	struct sup_tensor *b0 = sup_transformer_block_forward(
	    &c, &m, &e.blocks[0], sup_add(&c, sup_embedding_forward(&c, &m, &e.tok_emb, ids), pos), false, NULL, NULL, NULL);
	double d_out = 0, d_b0 = 0;
	for (int64_t i = 0; h2 && st[0] && b0 && i < 2 * 5 * D; i++) {
		d_out = fmax(d_out, fabs(sup_tensor_get(h2, i) - sup_tensor_get(h, i)));
		d_b0 = fmax(d_b0, fabs(sup_tensor_get(st[0], i) - sup_tensor_get(b0, i)));
	}
	TU_CHECK_MSG(h2 && st[1] == h2 && st[0] && d_out == 0 && d_b0 == 0, "states: output %g, block 0 %g", d_out, d_b0);
	TU_CHECK(sup_text_encoder_forward_states(&c, &m, &e, ids, NULL, 3, st) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_deinit(&c);
	tu_ctx(&c, 2);
	struct sup_tensor *ids_bad = tu_index(&c, &r, TU_SHAPE(1, 9), V);
	TU_CHECK(sup_text_encoder_forward(&c, &m, &e, ids_bad, NULL) == NULL && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* GPT-style: changing token t leaves the logits of positions < t bit-identical. */
static void test_causal_encoder(void)
{
	struct sup_text_encoder_config cfg = small_cfg;
	cfg.causal = true;
	struct sup_model m;
	struct sup_text_encoder e;
	sup_model_init(&m, sup_allocator_default());
	sup_text_encoder_declare(&e, &m, "", &cfg);
	struct sup_rng ri = sup_rng_make(5, 0);
	TU_CHECK(sup_model_build(&m, &ri) == SUP_OK);
	struct sup_ctx c;
	tu_ctx(&c, 3);
	struct sup_rng r = sup_rng_make(6, 0);
	enum { B = 2, Tn = 8, TP = 5, V = 16 };
	struct sup_tensor *ids = tu_index(&c, &r, TU_SHAPE(B, Tn), V), *ids2 = sup_tensor_clone(&c, ids);
	for (int b = 0; b < B; b++)
		sup_tensor_set(ids2, b * Tn + TP, ((int64_t)sup_tensor_get(ids, b * Tn + TP) + 7) % V);
	struct sup_tensor *y0 = sup_text_encoder_logits(&c, &m, &e, sup_text_encoder_forward(&c, &m, &e, ids, NULL));
	struct sup_tensor *y1 = sup_text_encoder_logits(&c, &m, &e, sup_text_encoder_forward(&c, &m, &e, ids2, NULL));
	TU_CHECK(y0 && y1);
	for (int b = 0; y0 && y1 && b < B; b++) {
		const float *p0 = (const float *)y0->data + b * Tn * V, *p1 = (const float *)y1->data + b * Tn * V;
		TU_CHECK(memcmp(p0, p1, sizeof(float) * TP * V) == 0);
		TU_CHECK(memcmp(p0 + TP * V, p1 + TP * V, sizeof(float) * V) != 0);
	}
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* 16 random sequences with random labels: the encoder + mean pooling + Linear(D, 2) must reach
 * 100% training accuracy within the step budget (it takes 6 steps; with the encoder frozen the head
 * alone reaches 13/16 in 150, so the budget only passes when gradients reach the encoder). */
static void test_overfit(void)
{
	enum { N = 16, Tn = 8, V = 16, STEPS = 150 };
	struct sup_model m;
	struct sup_text_encoder e;
	struct sup_linear head;
	sup_model_init(&m, sup_allocator_default());
	sup_text_encoder_declare(&e, &m, "encoder", &small_cfg);
	sup_linear_declare(&head, &m, "head", small_cfg.dim, 2, true);
	struct sup_rng ri = sup_rng_make(7, 0);
	TU_CHECK(sup_model_build(&m, &ri) == SUP_OK);
	struct sup_optim o;
	struct sup_optim_config oc = { .kind = SUP_OPTIM_ADAMW, .weight_decay = 0.01, .exclude_no_decay = true };
	TU_CHECK(sup_optim_init(&o, &m, &oc) == SUP_OK);
	struct sup_ctx c;
	tu_ctx(&c, 4);
	struct sup_rng r = sup_rng_make(8, 0);
	int64_t ids_v[N * Tn], labels_v[N];
	for (int i = 0; i < N * Tn; i++)
		ids_v[i] = (int64_t)(sup_rng_uniform(&r) * V);
	for (int i = 0; i < N; i++)
		labels_v[i] = i % 2; /* balanced, assigned to random sequences */
	int correct = 0, step = 0;
	for (; step < STEPS && correct < N; step++) {
		struct sup_tensor *ids = sup_tensor_wrap(&c, SUP_I64, 2, (const int64_t[]){ N, Tn }, ids_v);
		struct sup_tensor *y = sup_tensor_wrap(&c, SUP_I64, 1, (const int64_t[]){ N }, labels_v);
		struct sup_tensor *h = sup_text_encoder_forward(&c, &m, &e, ids, NULL);
		struct sup_tensor *logits = sup_linear_forward(&c, &m, &head, sup_mean(&c, h, (const int[]){ 1 }, 1, false));
		struct sup_tensor *loss = sup_cross_entropy(&c, logits, y, -100, 0.0, SUP_REDUCE_MEAN);
		sup_model_zero_grad(&m);
		if (sup_backward(&c, loss) != SUP_OK)
			break;
		correct = 0;
		for (int i = 0; i < N; i++)
			correct += (sup_tensor_get(logits, 2 * i + 1) > sup_tensor_get(logits, 2 * i)) == (labels_v[i] == 1);
		sup_optim_step(&o, 3e-3);
		sup_ctx_reset(&c);
	}
	TU_CHECK_MSG(correct == N, "%d/%d correct after %d steps (%s)", correct, N, step, sup_ctx_error(&c));
	sup_ctx_deinit(&c);
	sup_optim_deinit(&o);
	sup_model_deinit(&m);
}

int main(void)
{
	test_block_gradchecks();
	test_names_and_tied_logits();
	test_causal_encoder();
	test_overfit();
	return tu_finish("transformer");
}
