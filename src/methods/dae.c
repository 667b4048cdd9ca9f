/* "dae": the denoising auto-encoder of Vincent, Larochelle, Bengio & Manzagol, "Extracting and
 * Composing Robust Features with Denoising Autoencoders", ICML 2008.
 *   x~ ~ q_D(x~ | x): the corruption of sec. 2.3, redrawn every step:
 *     masking: a fixed fraction nu of the pixels of each image, chosen at random, is set to 0
 *       ("destroyed"); nu = 0.25 (sec. 5 / Table 1 use 10%, 25%, 50%);
 *     gaussian: x~ = x + N(0, sigma^2) (the additive isotropic Gaussian corruption of Vincent
 *       et al. 2010, JMLR, sec. 4.2);
 *   the auto-encoder (the same network as ae.c, genimg_common.c) maps x~ to a reconstruction
 *   of the CLEAN x: loss = cross-entropy L_H(x, g(f(x~))) (eq. 2 / sec. 2.3), or squared error.
 * encode = f(x) on clean inputs. */
#include "methods/genimg.h"

#include <stdlib.h>
#include <string.h>

struct dae {
	struct genimg_ae *ae; /* the network, optimizer and reconstruction loss (ae.c's) */
	int corruption;	      /* 0 masking, 1 gaussian */
	double level;
};

static const struct sup_cfg_key dae_keys[] = {
    {"hidden", SUP_CFG_INT, "512", NULL, "hidden units of the encoder and decoder",
     "scaled from Hinton & Salakhutdinov 2006 (784-1000-500-250-30)", 0},
    {"code_dim", SUP_CFG_INT, "64", NULL, "size of the code (the representation)", NULL, 0},
    {"loss", SUP_CFG_ENUM, "bce", "bce|mse", "reconstruction loss", "Vincent et al. 2008, sec. 2.2-2.3", 0},
    {"corruption", SUP_CFG_ENUM, "masking", "masking|gaussian", "corruption process q_D",
     "Vincent et al. 2008, sec. 2.3 (masking); Vincent et al. 2010, sec. 4.2 (Gaussian)", 0},
    {"corruption_level", SUP_CFG_FLOAT, "0.25", NULL, "masking: fraction nu of pixels destroyed",
     "Vincent et al. 2008, sec. 5, Table 1 (25%)", 0},
    {"noise_std", SUP_CFG_FLOAT, "0.3", NULL, "gaussian: sigma of the additive noise",
     "Vincent et al. 2010, sec. 5 (sigma grid up to 0.5)", 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "Adam learning rate", "Kingma & Ba 2015", 0},
    {"epochs", SUP_CFG_INT, "20", NULL, "passes over the training set", "sized to ~10 min on 2 cores", 0},
    {"batch_size", SUP_CFG_INT, "128", NULL, "examples per step", NULL, 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void dae_free(void *state)
{
	struct dae *t = state;
	if (!t)
		return;
	genimg_ae_free(t->ae);
	free(t);
}

static enum sup_status dae_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	int corr = sup_config_enum(cfg, "corruption");
	double level = corr == 0 ? sup_config_float(cfg, "corruption_level") : sup_config_float(cfg, "noise_std");
	if (!(level >= 0) || (corr == 0 && level > 1)) {
		snprintf(err, err_size, "dae: corruption_level must be in [0, 1] and noise_std >= 0");
		return SUP_ERR_ARG;
	}
	struct dae *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->corruption = corr;
	t->level = level;
	enum sup_status s = genimg_ae_init(&t->ae, "dae", cfg, data, rng, err, err_size);
	if (s != SUP_OK) {
		free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int dae_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	return genimg_ae_parts(((struct dae *)state)->ae, out, cap);
}

static struct sup_tensor *dae_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				       bool training)
{
	return genimg_ae_features(((struct dae *)state)->ae, c, b, training);
}

static struct sup_tensor *dae_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(dae_features, state, c, b);
}

/* The reconstruction of a clean input (the corruption is a training device only). */
static struct sup_tensor *dae_reconstruct(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return genimg_ae_reconstruct(((struct dae *)state)->ae, c, b);
}

/* q_D(x~ | x) of sec. 2.3: exactly round(nu D) pixels of each image set to 0 (a partial
 * Fisher-Yates shuffle picks them), or additive Gaussian noise. */
static struct sup_tensor *corrupt(struct dae *t, struct sup_ctx *c, struct sup_tensor *x)
{
	struct sup_tensor *y = sup_tensor_clone(c, x);
	if (!y)
		return NULL;
	const int64_t B = x->shape[0], D = t->ae->d;
	float *p = y->data;
	if (t->corruption == 1) {
		for (int64_t i = 0; i < B * D; i++)
			p[i] += (float)(t->level * sup_rng_normal(&c->rng));
		return y;
	}
	int64_t *perm = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)D);
	const int64_t k = (int64_t)(t->level * (double)D + 0.5);
	for (int64_t i = 0; perm && i < B; i++) {
		for (int64_t j = 0; j < D; j++)
			perm[j] = j;
		for (int64_t j = 0; j < k; j++) {
			int64_t r = j + (int64_t)sup_rng_below(&c->rng, (uint64_t)(D - j)), tmp = perm[j];
			perm[j] = perm[r];
			perm[r] = tmp;
			p[i * D + perm[j]] = 0.0f;
		}
	}
	return perm ? y : NULL;
}

static enum sup_status dae_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct dae *t = state;
	struct sup_tensor *xt = corrupt(t, c, b->views[0]);
	if (!xt)
		return sup_ctx_status(c);
	return genimg_ae_step(t->ae, c, xt, b->views[0], si->lr, out);
}

const struct sup_method sup_method_dae = {
    .name = "dae",
    .family = "generative",
    .branch = "auto-encoding",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "Vincent, Larochelle, Bengio & Manzagol 2008, Extracting and Composing Robust Features with Denoising "
	     "Autoencoders (ICML)",
    .default_data = "fashion-mnist",
    .batch_kind = SUP_BATCH_IMAGES,
    .n_views = 1,
    .config = dae_keys,
    .init = dae_init,
    .parts = dae_parts,
    .train_step = dae_step,
    .encode = dae_encode,
    .forward_features = dae_features,
    .reconstruct = dae_reconstruct,
    .free = dae_free,
};
