/* Basic modules (src/nn/layers.c): gradchecks of Linear, Conv2d, ConvTranspose2d, BatchNorm,
 * LayerNorm, Embedding and the MLP head in f64 (nntest.h), PyTorch-style names, and train/eval
 * behaviour of BatchNorm and Dropout through the model's mode. */
#include "nntest.h"

#include <string.h>

enum layer_kind { L_LINEAR, L_CONV, L_CONVT, L_BN, L_LN, L_EMB, L_MLP };

struct layer_case {
	enum layer_kind kind;
	struct sup_model *m;
	struct sup_linear lin;
	struct sup_conv2d conv;
	struct sup_batch_norm bn;
	struct sup_layer_norm ln;
	struct sup_embedding emb;
	struct sup_mlp mlp;
	struct sup_tensor *x, *ids;
};

static struct sup_tensor *layer_fn(struct sup_ctx *c, struct sup_tensor *const *inputs, void *user)
{
	(void)inputs;
	struct layer_case *k = user;
	switch (k->kind) {
	case L_LINEAR: return sup_linear_forward(c, k->m, &k->lin, k->x);
	case L_CONV:
	case L_CONVT: return sup_conv2d_forward(c, k->m, &k->conv, k->x);
	case L_BN: return sup_batch_norm_forward(c, k->m, &k->bn, k->x);
	case L_LN: return sup_layer_norm_forward(c, k->m, &k->ln, k->x);
	case L_EMB: return sup_embedding_forward(c, k->m, &k->emb, k->ids);
	case L_MLP: return sup_mlp_forward(c, k->m, &k->mlp, k->x);
	}
	return NULL;
}

/* Declares the case's module in a fresh model, builds it, switches it to f64 and gradchecks. */
static void check(enum layer_kind kind, const char *what, int ndim, const int64_t *xshape)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(7, (uint64_t)kind);
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct layer_case k = { .kind = kind, .m = &m };
	const int64_t dims[3] = { 5, 6, 3 };
	switch (kind) {
	case L_LINEAR: sup_linear_declare(&k.lin, &m, "fc", 5, 4, true); break;
	case L_CONV: sup_conv2d_declare(&k.conv, &m, "conv", 2, 3, 3, 2, 1, true); break;
	case L_CONVT: sup_conv_transpose2d_declare(&k.conv, &m, "deconv", 2, 3, 3, 2, 1, 1, true); break;
	case L_BN: sup_batch_norm_declare(&k.bn, &m, "bn", 3, true); break;
	case L_LN: sup_layer_norm_declare(&k.ln, &m, "ln", 5); break;
	case L_EMB: sup_embedding_declare(&k.emb, &m, "emb", 7, 4, 1.0); break;
	case L_MLP: sup_mlp_declare(&k.mlp, &m, "head", 2, dims, true, false); break;
	}
	TU_CHECK_MSG(m.err == SUP_OK && sup_model_build(&m, &r) == SUP_OK, "%s: %s", what, m.err_msg);
	double *store = nntest_model_to_f64(&m);
	int n_x = 0;
	if (kind == L_EMB) {
		k.ids = tu_index(&c, &r, ndim, xshape, 7);
		((int64_t *)k.ids->data)[1] = ((int64_t *)k.ids->data)[0]; /* a repeated id accumulates */
	} else {
		k.x = tu_leaf(&c, &r, ndim, xshape, -1, 1);
		n_x = 1;
	}
	nntest_gradcheck(&c, &m, layer_fn, &k, &k.x, n_x, what);
	free(store);
	sup_model_deinit(&m);
	sup_ctx_deinit(&c);
}

static void test_names_and_modes(void)
{
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_mlp head;
	const int64_t dims[3] = { 8, 16, 4 };
	sup_mlp_declare(&head, &m, "projector", 2, dims, true, false);
	struct sup_rng r = sup_rng_make(1, 1);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	/* nn.Sequential(Linear(8,16,bias=False), BatchNorm1d(16), ReLU(), Linear(16,4)) */
	TU_CHECK(sup_model_find(&m, "projector.0.weight") >= 0 && sup_model_find(&m, "projector.0.bias") < 0);
	TU_CHECK(sup_model_find(&m, "projector.1.running_var") >= 0 && sup_model_find(&m, "projector.3.bias") >= 0);
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ 10, 8 }, -1, 1);
	/* Train mode updates the running statistics; eval mode uses them, so an example's output no
	 * longer depends on the rest of the batch. */
	struct sup_tensor *rv = sup_model_tensor(&m, sup_model_find(&m, "projector.1.running_var"));
	double before = sup_tensor_get(rv, 0);
	sup_mlp_forward(&c, &m, &head, x);
	TU_CHECK(sup_tensor_get(rv, 0) != before);
	sup_model_set_training(&m, false);
	struct sup_tensor *y_all = sup_mlp_forward(&c, &m, &head, x);
	struct sup_tensor *y_one = sup_mlp_forward(&c, &m, &head, sup_slice(&c, x, 0, 0, 1, 1));
	TU_CHECK(y_all && y_one && fabs(sup_tensor_get(y_all, 3) - sup_tensor_get(y_one, 3)) < 1e-6);
	/* Dropout: identity in eval mode, drops in train mode. */
	TU_CHECK(sup_dropout_forward(&c, &m, 0.5, x) == x);
	sup_model_set_training(&m, true);
	struct sup_tensor *d = sup_dropout_forward(&c, &m, 0.5, x);
	int zeros = 0;
	for (int i = 0; d && i < 80; i++)
		zeros += sup_tensor_get(d, i) == 0.0;
	TU_CHECK(zeros > 20 && zeros < 60);
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s", sup_ctx_error(&c));
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

int main(void)
{
	check(L_LINEAR, "Linear", 3, (const int64_t[]){ 2, 3, 5 });
	check(L_CONV, "Conv2d stride 2", 4, (const int64_t[]){ 2, 2, 5, 5 });
	check(L_CONVT, "ConvTranspose2d", 4, (const int64_t[]){ 2, 2, 3, 3 });
	check(L_BN, "BatchNorm2d (train)", 4, (const int64_t[]){ 3, 3, 2, 2 });
	check(L_LN, "LayerNorm", 2, (const int64_t[]){ 4, 5 });
	check(L_EMB, "Embedding", 2, (const int64_t[]){ 2, 3 });
	check(L_MLP, "MLP head with BatchNorm", 2, (const int64_t[]){ 6, 5 });
	test_names_and_modes();
	return tu_finish("layers");
}
