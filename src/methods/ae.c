/* "ae": a plain auto-encoder (the auto-encoding branch's reference point; Rumelhart, Hinton &
 * Williams 1986; Hinton & Salakhutdinov 2006) on images flattened to vectors:
 *   h = f(x) = W2 relu(W1 x + b1) + b2 (a linear code), x^ = g(h) = V2 relu(V1 h + c1) + c2,
 *   loss = cross-entropy of x given sigmoid(x^) (Vincent et al. 2008, sec. 2.2, for inputs in
 *   [0, 1]; summed over pixels, averaged over the batch) or squared error (loss=mse).
 * encode = the code h; reconstruct = g(f(x)) as images. The network (genimg_common.c) is the one
 * the denoising AE (dae.c) trains on corrupted inputs; here the input is the clean image. */
#include "methods/genimg.h"

static const struct sup_cfg_key ae_keys[] = {
    {"hidden", SUP_CFG_INT, "512", NULL, "hidden units of the encoder and decoder",
     "scaled from Hinton & Salakhutdinov 2006 (784-1000-500-250-30)", 0},
    {"code_dim", SUP_CFG_INT, "64", NULL, "size of the code (the representation)", NULL, 0},
    {"loss", SUP_CFG_ENUM, "bce", "bce|mse", "reconstruction loss", "Vincent et al. 2008, sec. 2.2 (cross-entropy)",
     0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "Adam learning rate", "Kingma & Ba 2015", 0},
    {"epochs", SUP_CFG_INT, "20", NULL, "passes over the training set", "sized to ~10 min on 2 cores", 0},
    {"batch_size", SUP_CFG_INT, "128", NULL, "examples per step", NULL, 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static enum sup_status ae_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
			       struct sup_rng *rng, char *err, size_t err_size)
{
	return genimg_ae_init((struct genimg_ae **)state, "ae", cfg, data, rng, err, err_size);
}

static enum sup_status ae_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
			       const struct sup_step_info *si, struct sup_step_stats *out)
{
	return genimg_ae_step(state, c, b->views[0], b->views[0], si->lr, out);
}

static struct sup_tensor *ae_reconstruct(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return genimg_ae_reconstruct(state, c, b);
}

const struct sup_method sup_method_ae = {
    .name = "ae",
    .family = "generative",
    .branch = "auto-encoding",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "auto-encoder (Hinton & Salakhutdinov 2006, Science); cross-entropy loss of Vincent et al. 2008",
    .default_data = "fashion-mnist",
    .batch_kind = SUP_BATCH_IMAGES,
    .n_views = 1,
    .config = ae_keys,
    .init = ae_init,
    .parts = genimg_ae_parts,
    .train_step = ae_step,
    .encode = genimg_ae_encode,
    .forward_features = genimg_ae_features,
    .reconstruct = ae_reconstruct,
    .free = genimg_ae_free,
};
