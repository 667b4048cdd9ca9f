/* "made": Masked Autoencoder for Distribution Estimation, Germain, Gregor, Murray & Larochelle,
 * ICML 2015, on binarised images (data=fashion-mnist-binary).
 *   p(x) = prod_d p(x_d | x_<d) in an ordering; each conditional is a Bernoulli whose logit is
 *   output d of an auto-encoder whose weights are masked (eq. 12-13, nn.h's sup_made) so that
 *   output d only sees inputs earlier in the ordering. Loss: the exact NLL (eq. 1-2: the
 *   cross-entropy of the reconstruction) averaged over the batch.
 * Order- and connectivity-agnostic training (sec. 4.1-4.2): n_masks fixed mask sets (input
 *   ordering + hidden degrees), cycled one per minibatch (mask = step mod n_masks), so the one
 *   network learns all of those factorisations.
 * Test NLL (sec. 4.1, Table 6 "ensemble"): the probabilities of test_masks masks are averaged,
 *   -log (1/M) sum_m p(x | mask m), which is again a valid likelihood (a mixture).
 * encode: the first hidden layer's ReLU features under mask 0 (for eval=linear).
 * sample: pixel by pixel in mask 0's ordering, D forward passes. */
#include "methods/genimg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct made {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_made net;
	int64_t c, h, w, d;
	int64_t n_masks, test_masks, cur_mask;
};

static const struct sup_cfg_key made_keys[] = {
    {"hidden", SUP_CFG_INT, "500", NULL, "units of each hidden layer", "Germain et al. 2015, sec. 6.2 (MNIST: 500)", 0},
    {"layers", SUP_CFG_INT, "1", NULL, "hidden layers", "Germain et al. 2015, Table 6 (1 hidden layer)", 0},
    {"n_masks", SUP_CFG_INT, "32", NULL, "masks (orderings + connectivities) cycled during training",
     "Germain et al. 2015, Table 6 (32 masks)", 0},
    {"test_masks", SUP_CFG_INT, "32", NULL, "masks averaged at test time (ensemble)",
     "Germain et al. 2015, sec. 4.1 / Table 6", 0},
    {"order_agnostic", SUP_CFG_BOOL, "true", NULL, "a random input ordering per mask",
     "Germain et al. 2015, sec. 4.1", 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "Adam learning rate (the paper used Adagrad)", "Kingma & Ba 2015", 0},
    {"epochs", SUP_CFG_INT, "40", NULL, "passes over the training set", "sized to ~15 min on 2 cores", 0},
    {"batch_size", SUP_CFG_INT, "100", NULL, "examples per step", "Germain et al. 2015, sec. 6 (minibatch 100)", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void made_free(void *state)
{
	struct made *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t);
}

static enum sup_status made_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				 struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	enum sup_status s = genimg_check_images(data, "made", err, err_size);
	if (s != SUP_OK)
		return s;
	int64_t hid = sup_config_int(cfg, "hidden"), layers = sup_config_int(cfg, "layers");
	int64_t nm = sup_config_int(cfg, "n_masks"), tm = sup_config_int(cfg, "test_masks");
	if (hid < 1 || layers < 1 || layers > SUP_MADE_MAX_HIDDEN || nm < 1 || tm < 1) {
		snprintf(err, err_size, "made: hidden >= 1, layers in 1..%d, n_masks >= 1 and test_masks >= 1 required",
			 SUP_MADE_MAX_HIDDEN);
		return SUP_ERR_ARG;
	}
	struct made *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->c = data->channels, t->h = data->height, t->w = data->width;
	t->d = t->c * t->h * t->w;
	t->n_masks = nm, t->test_masks = tm, t->cur_mask = -1;
	int64_t sizes[SUP_MADE_MAX_HIDDEN];
	for (int i = 0; i < layers; i++)
		sizes[i] = hid;
	sup_model_init(&t->model, sup_allocator_default());
	/* The masks are a function of (seed, mask index): a fixed seed keeps them the same set in
	 * every process (training, resume, evaluation), whatever the run's seed. */
	sup_made_declare(&t->net, &t->model, "made", t->d, (int)layers, sizes, 1, 0x4d414445,
			 sup_config_bool(cfg, "order_agnostic"));
	s = sup_model_build(&t->model, rng);
	if (s == SUP_OK)
		s = sup_made_set_masks(&t->net, &t->model, 0);
	if (s == SUP_OK)
		s = genimg_adam_init(&t->optim, &t->model);
	if (s != SUP_OK) {
		snprintf(err, err_size, "made: %s", t->model.err_msg[0] ? t->model.err_msg : sup_status_str(s));
		made_free(t);
		return s;
	}
	/* The checkpoint restore (after init) may overwrite the mask buffers: the first use sets
	 * the wanted mask whatever they hold. */
	t->cur_mask = -1;
	*state = t;
	return SUP_OK;
}

static int made_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct made *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

/* Writing the masks costs O(D H); skip it when the wanted set is already in place. */
static enum sup_status use_mask(struct made *t, struct sup_ctx *c, int64_t k)
{
	if (k == t->cur_mask)
		return SUP_OK;
	enum sup_status s = sup_made_set_masks(&t->net, &t->model, k);
	if (s != SUP_OK)
		return sup_ctx_fail(c, s, "made: cannot set mask %lld", (long long)k);
	t->cur_mask = k;
	return SUP_OK;
}

struct sup_tensor *genimg_made_logits(void *state, struct sup_ctx *c, struct sup_tensor *x, int64_t mask_index)
{
	struct made *t = state;
	if (use_mask(t, c, mask_index) != SUP_OK)
		return NULL;
	return sup_made_forward(c, &t->model, &t->net, genimg_flatten(c, x));
}

int64_t genimg_made_degree(void *state, int64_t d)
{
	struct made *t = state;
	return (int64_t)sup_tensor_get(sup_model_tensor(&t->model, t->net.order), d);
}

static enum sup_status made_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				 const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct made *t = state;
	struct sup_tensor *x = b->views[0];
	sup_model_set_training(&t->model, true);
	struct sup_tensor *nll = genimg_bernoulli_nll_rows(c, genimg_made_logits(t, c, x, si->step % t->n_masks), x);
	struct sup_tensor *loss = sup_mean(c, nll, NULL, 0, false);
	sup_model_zero_grad(&t->model);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&t->optim, si->lr);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 0;
	return SUP_OK;
}

static enum sup_status made_nll(void *state, struct sup_ctx *c, const struct sup_method_batch *b, double *nats,
				double *dims)
{
	struct made *t = state;
	struct sup_tensor *x = b->views[0];
	const int64_t B = x->shape[0], M = t->test_masks;
	if (genimg_require_binary(c, x, "made nll") != SUP_OK)
		return sup_ctx_status(c);
	double *ll = sup_ctx_alloc(c, sizeof(double) * (size_t)(B * M));
	sup_no_grad_begin(c);
	for (int64_t k = 0; k < M && ll && !c->err; k++) {
		struct sup_ctx_mark mk = sup_ctx_mark(c);
		struct sup_tensor *nll = genimg_bernoulli_nll_rows(c, genimg_made_logits(t, c, x, k), x);
		for (int64_t n = 0; nll && n < B; n++)
			ll[n * M + k] = -sup_tensor_get(nll, n);
		sup_ctx_rewind(c, mk);
	}
	sup_no_grad_end(c);
	if (c->err)
		return c->err;
	*nats = 0;
	for (int64_t n = 0; n < B; n++)
		*nats -= genimg_logmeanexp(ll + n * M, (int)M);
	*dims = (double)(B * t->d);
	return SUP_OK;
}

/* The first hidden layer under mask 0 (MADE has no dropout or batch norm: training is unused). */
static struct sup_tensor *made_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					bool training)
{
	struct made *t = state;
	if (use_mask(t, c, 0) != SUP_OK)
		return NULL;
	sup_model_set_training(&t->model, training);
	return sup_relu(c, sup_masked_linear_forward(c, &t->model, &t->net.net[0], genimg_flatten(c, b->views[0])));
}

static struct sup_tensor *made_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(made_features, state, c, b);
}

/* Ancestral sampling in mask 0's ordering: the input of degree i is drawn given those before. */
static struct sup_tensor *made_sample(void *state, struct sup_ctx *c, int64_t n, const char *prompt)
{
	(void)prompt;
	struct made *t = state;
	const int64_t D = t->d;
	struct sup_tensor *x = sup_tensor_zeros(c, SUP_F32, 2, (const int64_t[]){n, D});
	int64_t *by_degree = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)D);
	if (!x || !by_degree || use_mask(t, c, 0) != SUP_OK)
		return NULL;
	for (int64_t d = 0; d < D; d++)
		by_degree[genimg_made_degree(t, d) - 1] = d;
	sup_no_grad_begin(c);
	for (int64_t i = 0; i < D && !c->err; i++) {
		struct sup_ctx_mark mk = sup_ctx_mark(c);
		struct sup_tensor *logits = sup_made_forward(c, &t->model, &t->net, x);
		const int64_t d = by_degree[i];
		for (int64_t r = 0; logits && r < n; r++) {
			double p = 1.0 / (1.0 + exp(-sup_tensor_get(logits, r * D + d)));
			sup_tensor_set(x, r * D + d, sup_rng_uniform(&c->rng) < p ? 1.0 : 0.0);
		}
		sup_ctx_rewind(c, mk);
	}
	sup_no_grad_end(c);
	return c->err ? NULL : sup_reshape(c, x, 4, (const int64_t[]){n, t->c, t->h, t->w});
}

const struct sup_method sup_method_made = {
    .name = "made",
    .family = "generative",
    .branch = "hybrid (autoregressive auto-encoder)",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "Germain, Gregor, Murray & Larochelle 2015, MADE: Masked Autoencoder for Distribution Estimation (ICML)",
    .default_data = "fashion-mnist-binary",
    .batch_kind = SUP_BATCH_IMAGES,
    .n_views = 1,
    .config = made_keys,
    .init = made_init,
    .parts = made_parts,
    .train_step = made_step,
    .encode = made_encode,
    .forward_features = made_features,
    .sample = made_sample,
    .nll = made_nll,
    .free = made_free,
};
