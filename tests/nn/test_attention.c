/* Multi-head attention: gradchecks (self, cross, causal, padding), agreement with a plain-loop
 * computation, the causal and padding properties (exact), fully masked rows, dropout modes. */
#include "nntest.h"

#include <string.h>

struct attn_case {
	struct sup_model *m;
	struct sup_attention *a;
	struct sup_tensor *x, *kv; /* kv NULL: self-attention */
	bool causal;
	const struct sup_tensor *padding;
};

static struct sup_tensor *attn_fn(struct sup_ctx *c, struct sup_tensor *const *inputs, void *user)
{
	(void)inputs;
	struct attn_case *k = user;
	return sup_attention_forward(c, k->m, k->a, k->x, k->kv, k->causal, k->padding);
}

static void build(struct sup_model *m, struct sup_attention *a, int64_t D, int64_t H, uint64_t seed)
{
	sup_model_init(m, sup_allocator_default());
	TU_CHECK(sup_attention_declare(a, m, "attn", D, H, 0.0) == 0);
	struct sup_rng r = sup_rng_make(seed, 7);
	TU_CHECK(sup_model_build(m, &r) == SUP_OK);
}

static struct sup_tensor *padding_mask(struct sup_ctx *c, int64_t B, int64_t S, const uint8_t *v)
{
	struct sup_tensor *p = sup_tensor_new(c, SUP_U8, 2, (const int64_t[]){ B, S });
	memcpy(p->data, v, (size_t)(B * S));
	return p;
}

static void test_gradchecks(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(3, 0);
	struct sup_model m;
	struct sup_attention a;
	build(&m, &a, 6, 2, 11);
	double *store = nntest_model_to_f64(&m);
	struct sup_tensor *x = tu_leaf(&c, &r, TU_SHAPE(2, 3, 6), -1, 1);
	struct sup_tensor *kv = tu_leaf(&c, &r, TU_SHAPE(2, 4, 6), -1, 1);
	const uint8_t pad_self[6] = { 0, 0, 1, 0, 0, 0 }, pad_cross[8] = { 0, 1, 0, 0, 0, 0, 1, 1 };
	struct attn_case k = { .m = &m, .a = &a, .x = x };
	nntest_gradcheck(&c, &m, attn_fn, &k, &x, 1, "self-attention");
	k.causal = true;
	nntest_gradcheck(&c, &m, attn_fn, &k, &x, 1, "causal self-attention");
	k.padding = padding_mask(&c, 2, 3, pad_self);
	nntest_gradcheck(&c, &m, attn_fn, &k, &x, 1, "causal self-attention with padding");
	k = (struct attn_case){ .m = &m, .a = &a, .x = x, .kv = kv, .padding = padding_mask(&c, 2, 4, pad_cross) };
	struct sup_tensor *both[2] = { x, kv };
	nntest_gradcheck(&c, &m, attn_fn, &k, both, 2, "cross-attention with padding");
	free(store);
	sup_model_deinit(&m);
	sup_ctx_deinit(&c);
}

/* out[b, t, :] by plain loops from the f32 parameters, in double. */
static void naive_attention(double *out, struct sup_model *m, const struct sup_attention *a, const float *x,
			    const float *kv, int B, int Tq, int S, bool causal, const uint8_t *pad)
{
	const int D = (int)a->dim, H = (int)a->heads, dh = D / H;
	const struct sup_linear *lin[4] = { &a->q_proj, &a->k_proj, &a->v_proj, &a->out_proj };
	const float *W[4], *bias[4];
	for (int i = 0; i < 4; i++) {
		W[i] = sup_model_tensor(m, lin[i]->weight)->data;
		bias[i] = sup_model_tensor(m, lin[i]->bias)->data;
	}
	double q[8][16], k[8][16], v[8][16], ctx[16];
	for (int b = 0; b < B; b++) {
		for (int s = 0; s < S; s++)
			for (int o = 0; o < D; o++) {
				k[s][o] = bias[1][o];
				v[s][o] = bias[2][o];
				for (int i = 0; i < D; i++) {
					k[s][o] += (double)W[1][o * D + i] * kv[(b * S + s) * D + i];
					v[s][o] += (double)W[2][o * D + i] * kv[(b * S + s) * D + i];
				}
			}
		for (int t = 0; t < Tq; t++) {
			for (int o = 0; o < D; o++) {
				q[t][o] = bias[0][o];
				for (int i = 0; i < D; i++)
					q[t][o] += (double)W[0][o * D + i] * x[(b * Tq + t) * D + i];
			}
			for (int h = 0; h < H; h++) {
				double sc[8], mx = -INFINITY, z = 0;
				for (int s = 0; s < S; s++) {
					sc[s] = 0;
					for (int j = 0; j < dh; j++)
						sc[s] += q[t][h * dh + j] * k[s][h * dh + j];
					sc[s] /= sqrt((double)dh);
					bool hide = (causal && s > t) || (pad && pad[b * S + s]);
					sc[s] = hide ? -INFINITY : sc[s];
					mx = fmax(mx, sc[s]);
				}
				for (int s = 0; s < S; s++)
					z += sc[s] = exp(sc[s] - mx);
				for (int j = 0; j < dh; j++) {
					ctx[h * dh + j] = 0;
					for (int s = 0; s < S; s++)
						ctx[h * dh + j] += sc[s] / z * v[s][h * dh + j];
				}
			}
			for (int o = 0; o < D; o++) {
				double y = bias[3][o];
				for (int i = 0; i < D; i++)
					y += (double)W[3][o * D + i] * ctx[i];
				out[(b * Tq + t) * D + o] = y;
			}
		}
	}
}

static void test_against_loops(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_rng r = sup_rng_make(4, 0);
	struct sup_model m;
	struct sup_attention a;
	build(&m, &a, 8, 2, 12);
	enum { B = 2, Tq = 5, S = 6, D = 8 };
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, TU_SHAPE(B, Tq, D), -1, 1);
	struct sup_tensor *kv = tu_rand(&c, &r, SUP_F32, TU_SHAPE(B, S, D), -1, 1);
	const uint8_t pad[B * S] = { 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0 };
	double want[B * Tq * D];
	for (int variant = 0; variant < 3; variant++) {
		bool self = variant < 2, causal = variant == 1;
		struct sup_tensor *src = self ? x : kv, *padding = self ? NULL : padding_mask(&c, B, S, pad);
		struct sup_tensor *y = sup_attention_forward(&c, &m, &a, x, self ? NULL : kv, causal, padding);
		TU_CHECK(y && sup_ctx_status(&c) == SUP_OK && y->ndim == 3 && y->shape[1] == Tq && y->shape[2] == D);
		if (!y)
			break;
		naive_attention(want, &m, &a, x->data, src->data, B, Tq, self ? Tq : S, causal, self ? NULL : pad);
		double err = 0;
		for (int i = 0; i < B * Tq * D; i++)
			err = fmax(err, fabs(sup_tensor_get(y, i) - want[i]));
		TU_CHECK_MSG(err < 2e-5, "variant %d: max error %g", variant, err);
	}
	sup_model_deinit(&m);
	sup_ctx_deinit(&c);
}

static bool rows_equal(const struct sup_tensor *a, const struct sup_tensor *b, int64_t from, int64_t to)
{
	const size_t es = sup_dtype_size(a->dtype);
	return memcmp((char *)a->data + from * es, (char *)b->data + from * es, (size_t)(to - from) * es) == 0;
}

/* Perturbing token t leaves positions < t bit-identical; padded keys are never read. */
static void test_mask_properties(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 3);
	struct sup_rng r = sup_rng_make(5, 0);
	struct sup_model m;
	struct sup_attention a;
	build(&m, &a, 8, 2, 13);
	enum { B = 2, Tq = 6, S = 5, D = 8, TP = 3 };
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, TU_SHAPE(B, Tq, D), -1, 1);
	struct sup_tensor *y0 = sup_attention_forward(&c, &m, &a, x, NULL, true, NULL);
	struct sup_tensor *x2 = sup_tensor_clone(&c, x);
	for (int b = 0; b < B; b++)
		for (int i = 0; i < D; i++)
			sup_tensor_set(x2, (b * Tq + TP) * D + i, 3.0 * (i % 2 ? 1 : -1));
	struct sup_tensor *y1 = sup_attention_forward(&c, &m, &a, x2, NULL, true, NULL);
	TU_CHECK(y0 && y1);
	for (int b = 0; y0 && y1 && b < B; b++) {
		TU_CHECK(rows_equal(y0, y1, b * Tq * D, (b * Tq + TP) * D));
		TU_CHECK(!rows_equal(y0, y1, (b * Tq + TP) * D, (b + 1) * Tq * D)); /* t >= TP does change */
	}
	/* Cross-attention: change a padded key/value position, then an unpadded one. */
	struct sup_tensor *kv = tu_rand(&c, &r, SUP_F32, TU_SHAPE(B, S, D), -1, 1);
	const uint8_t pad[B * S] = { 0, 0, 1, 0, 1, 1, 0, 0, 0, 0 };
	struct sup_tensor *padding = padding_mask(&c, B, S, pad);
	struct sup_tensor *z0 = sup_attention_forward(&c, &m, &a, x, kv, false, padding);
	struct sup_tensor *kv2 = sup_tensor_clone(&c, kv), *kv3 = sup_tensor_clone(&c, kv);
	for (int i = 0; i < D; i++) {
		sup_tensor_set(kv2, 2 * D + i, 5.0);         /* b 0, s 2: padded */
		sup_tensor_set(kv2, (S + 0) * D + i, -4.0);  /* b 1, s 0: padded */
		sup_tensor_set(kv3, 1 * D + i, 5.0);         /* b 0, s 1: visible */
	}
	struct sup_tensor *z1 = sup_attention_forward(&c, &m, &a, x, kv2, false, padding);
	struct sup_tensor *z2 = sup_attention_forward(&c, &m, &a, x, kv3, false, padding);
	TU_CHECK(z0 && z1 && z2 && rows_equal(z0, z1, 0, B * Tq * D));
	TU_CHECK(z0 && z2 && !rows_equal(z0, z2, 0, Tq * D));
	sup_model_deinit(&m);
	sup_ctx_deinit(&c);
}

/* Every key of batch 1 is padding: outputs and gradients stay finite (the finite mask value). */
static void test_fully_masked(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 4);
	struct sup_rng r = sup_rng_make(6, 0);
	struct sup_model m;
	struct sup_attention a;
	build(&m, &a, 4, 2, 14);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, TU_SHAPE(2, 3, 4), -1, 1);
	x->requires_grad = true;
	const uint8_t pad[6] = { 0, 0, 1, 1, 1, 1 };
	struct sup_tensor *y = sup_attention_forward(&c, &m, &a, x, NULL, true, padding_mask(&c, 2, 3, pad));
	TU_CHECK(y && sup_backward(&c, sup_sum(&c, sup_mul(&c, y, y), NULL, 0, false)) == SUP_OK);
	bool finite = y != NULL && x->grad != NULL;
	for (int i = 0; finite && i < 24; i++)
		finite = isfinite(sup_tensor_get(y, i)) && isfinite(sup_tensor_grad_get(x, i));
	for (int i = 0; finite && i < m.n_params; i++)
		finite = isfinite(m.grads[i]);
	TU_CHECK(finite);
	sup_model_deinit(&m);
	sup_ctx_deinit(&c);
}

static void test_dropout_and_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 5);
	struct sup_rng r = sup_rng_make(7, 0);
	struct sup_model m;
	struct sup_attention a;
	sup_model_init(&m, sup_allocator_default());
	TU_CHECK(sup_attention_declare(&a, &m, "attn", 8, 2, 0.5) == 0);
	struct sup_rng ri = sup_rng_make(1, 1);
	TU_CHECK(sup_model_build(&m, &ri) == SUP_OK);
	TU_CHECK(sup_model_find(&m, "attn.q_proj.weight") >= 0 && sup_model_find(&m, "attn.out_proj.bias") >= 0);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, TU_SHAPE(1, 4, 8), -1, 1);
	struct sup_tensor *y_train = sup_attention_forward(&c, &m, &a, x, NULL, false, NULL);
	sup_model_set_training(&m, false);
	struct sup_tensor *y_eval = sup_attention_forward(&c, &m, &a, x, NULL, false, NULL);
	a.dropout = 0;
	struct sup_tensor *y_plain = sup_attention_forward(&c, &m, &a, x, NULL, false, NULL);
	TU_CHECK(y_train && y_eval && y_plain && rows_equal(y_eval, y_plain, 0, 32) && !rows_equal(y_train, y_eval, 0, 32));
	/* Errors: bad padding shape, model-dimension mismatch, heads not dividing dim. */
	const uint8_t pad[3] = { 0 };
	TU_CHECK(sup_attention_forward(&c, &m, &a, x, NULL, false, padding_mask(&c, 1, 3, pad)) == NULL);
	TU_CHECK(sup_ctx_status(&c) == SUP_ERR_SHAPE && strstr(sup_ctx_error(&c), "padding"));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_attention_forward(&c, &m, &a, tu_rand(&c, &r, SUP_F32, TU_SHAPE(1, 4, 6), 0, 1), NULL, false, NULL) == NULL);
	TU_CHECK(sup_ctx_status(&c) == SUP_ERR_SHAPE);
	sup_model_deinit(&m);
	sup_model_init(&m, sup_allocator_default());
	TU_CHECK(sup_attention_declare(&a, &m, "bad", 10, 4, 0) == -1 && m.err == SUP_ERR_ARG && strstr(m.err_msg, "bad"));
	sup_model_deinit(&m);
	sup_ctx_deinit(&c);
}

/* The fused op has no gradient for its mask: a mask that requires grad is refused (SUP_ERR_ARG)
 * while grad mode is on instead of silently getting none; a constant mask, or any mask under
 * no-grad, is fine. */
static void test_mask_requires_grad(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 9);
	struct sup_rng r = sup_rng_make(9, 1);
	struct sup_tensor *q = tu_rand(&c, &r, SUP_F32, TU_SHAPE(2, 3, 4), -1, 1);
	struct sup_tensor *k = tu_rand(&c, &r, SUP_F32, TU_SHAPE(2, 5, 4), -1, 1);
	struct sup_tensor *v = tu_rand(&c, &r, SUP_F32, TU_SHAPE(2, 5, 4), -1, 1);
	struct sup_tensor *mask = tu_rand(&c, &r, SUP_F32, TU_SHAPE(1, 1, 3, 5), -1, 1);
	q->requires_grad = true;
	TU_CHECK(sup_attention(&c, q, k, v, mask, 2, 0.5) != NULL && sup_ctx_status(&c) == SUP_OK);
	mask->requires_grad = true;
	TU_CHECK(sup_attention(&c, q, k, v, mask, 2, 0.5) == NULL);
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_ERR_ARG && strstr(sup_ctx_error(&c), "mask requires grad"), "%s: %s",
		     sup_status_str(sup_ctx_status(&c)), sup_ctx_error(&c));
	sup_ctx_clear_error(&c);
	/* a mask computed from a tensor that requires grad (it requires grad by recording) */
	struct sup_tensor *bias = tu_rand(&c, &r, SUP_F32, TU_SHAPE(1, 1, 1, 5), -1, 1);
	bias->requires_grad = true;
	mask->requires_grad = false;
	TU_CHECK(sup_attention(&c, q, k, v, sup_add(&c, mask, bias), 2, 0.5) == NULL &&
		 sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	mask->requires_grad = true;
	sup_no_grad_begin(&c);
	TU_CHECK(sup_attention(&c, q, k, v, mask, 2, 0.5) != NULL && sup_ctx_status(&c) == SUP_OK);
	sup_no_grad_end(&c);
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_gradchecks();
	test_against_loops();
	test_mask_properties();
	test_fully_masked();
	test_dropout_and_errors();
	test_mask_requires_grad();
	return tu_finish("attention");
}
