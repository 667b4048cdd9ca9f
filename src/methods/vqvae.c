/* "vqvae": the vector-quantised variational auto-encoder of van den Oord, Vinyals & Kavukcuoglu,
 * "Neural Discrete Representation Learning", NeurIPS 2017.
 *   encoder (sec. 4.1): two strided 4x4 convolutions (stride 2) and two residual blocks (ReLU,
 *     3x3 conv, ReLU, 1x1 conv), then a 1x1 convolution to the code dimension D: z_e(x) is a
 *     7 x 7 grid of D-vectors on 28 x 28 images;
 *   quantisation (sec. 3.1, eq. 1-2): z_q = the nearest of K codebook vectors (nn.h's sup_vq);
 *   decoder: 3x3 conv, two residual blocks, two transposed 4x4 convolutions (stride 2);
 *   straight-through estimator (sec. 3.2): the decoder's gradient is copied from z_q to z_e;
 *   loss (eq. 3) = reconstruction + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2, beta = 0.25
 *     (sec. 4.1); with ema the codebook follows exponential moving averages instead of its loss
 *     term (appendix A.1, decay 0.99).
 *   Reconstruction: squared error (the paper's Gaussian decoder; default, on 8-bit data) or the
 *     Bernoulli cross-entropy (recon=bce, on binarised data), both means per pixel.
 * Step stats: the codebook perplexity exp(H(code usage)) of the batch (K means every code used
 * equally, 1 means collapse) and the reconstruction error per pixel.
 * encode = z_e(x) flattened ([B, D * 7 * 7]). nll (recon=bce only) = the negative ELBO with the
 * uniform prior over codes of sec. 3.1: -log p(x | z_q) + (latents) log K, an upper bound that
 * ignores the learned prior the paper fits afterwards (a PixelCNN over codes, sec. 4.2).
 * sample: codes drawn from that uniform prior, decoded; reconstruct: the decoder at z_q(x). */
#include "methods/genimg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vq_res {
	struct sup_conv2d c3, c1;
};

struct vqvae {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_conv2d e1, e2, e_out, d_in;
	struct vq_res eres[2], dres[2];
	struct sup_conv2d d1, d2; /* transposed */
	struct sup_vq vq;
	int64_t c, h, w, lh, lw, dim;
	bool bce;
};

static const struct sup_cfg_key vqvae_keys[] = {
    {"hidden", SUP_CFG_INT, "32", NULL, "channels of the encoder and decoder",
     "van den Oord et al. 2017 sec. 4.1 (256), scaled down for 28x28 images on 2 CPU cores", 0},
    {"codebook_size", SUP_CFG_INT, "128", NULL, "K codes", "van den Oord et al. 2017 sec. 4.1 (K = 512), scaled down",
     0},
    {"code_dim", SUP_CFG_INT, "8", NULL, "D, the dimension of a code", "scaled for 28x28 images (paper: 64)", 0},
    {"beta", SUP_CFG_FLOAT, "0.25", NULL, "commitment weight", "van den Oord et al. 2017, sec. 4.1 (eq. 3)", 0},
    {"ema", SUP_CFG_BOOL, "true", NULL, "EMA codebook updates instead of the codebook loss",
     "van den Oord et al. 2017, appendix A.1; chosen because the codebook loss collapsed to ~4 of 128 codes here", 0},
    {"ema_decay", SUP_CFG_FLOAT, "0.99", NULL, "EMA decay gamma", "van den Oord et al. 2017, appendix A.1", 0},
    {"recon", SUP_CFG_ENUM, "mse", "mse|bce", "reconstruction loss (mse: Gaussian decoder; bce: binarised data)",
     "van den Oord et al. 2017, sec. 3.2", 0},
    {"lr", SUP_CFG_FLOAT, "0.0002", NULL, "Adam learning rate", "van den Oord et al. 2017, sec. 4.1 (2e-4)", 0},
    {"epochs", SUP_CFG_INT, "8", NULL, "passes over the training set", "sized to < 60 min on 2 cores", 0},
    {"batch_size", SUP_CFG_INT, "128", NULL, "examples per step", "van den Oord et al. 2017, sec. 4.1 (128)", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void vqvae_free(void *state)
{
	struct vqvae *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t);
}

static void res_declare(struct vq_res *r, struct sup_model *m, const char *prefix, int64_t h)
{
	char name[64];
	snprintf(name, sizeof name, "%s.conv3", prefix);
	sup_conv2d_declare(&r->c3, m, name, h, h / 2 > 0 ? h / 2 : 1, 3, 1, 1, true);
	snprintf(name, sizeof name, "%s.conv1", prefix);
	sup_conv2d_declare(&r->c1, m, name, h / 2 > 0 ? h / 2 : 1, h, 1, 1, 0, true);
}

static struct sup_tensor *res_forward(struct sup_ctx *c, struct sup_model *m, const struct vq_res *r,
				      struct sup_tensor *x)
{
	struct sup_tensor *u = sup_conv2d_forward(c, m, &r->c3, sup_relu(c, x));
	return sup_add(c, x, sup_conv2d_forward(c, m, &r->c1, sup_relu(c, u)));
}

static void vqvae_declare(struct vqvae *t, int64_t h, int64_t k, bool ema)
{
	struct sup_model *m = &t->model;
	sup_conv2d_declare(&t->e1, m, "encoder.conv1", t->c, h, 4, 2, 1, true);
	sup_conv2d_declare(&t->e2, m, "encoder.conv2", h, h, 4, 2, 1, true);
	res_declare(&t->eres[0], m, "encoder.res.0", h);
	res_declare(&t->eres[1], m, "encoder.res.1", h);
	sup_conv2d_declare(&t->e_out, m, "encoder.to_code", h, t->dim, 1, 1, 0, true);
	sup_vq_declare(&t->vq, m, "vq", k, t->dim, ema);
	sup_conv2d_declare(&t->d_in, m, "decoder.conv_in", t->dim, h, 3, 1, 1, true);
	res_declare(&t->dres[0], m, "decoder.res.0", h);
	res_declare(&t->dres[1], m, "decoder.res.1", h);
	sup_conv_transpose2d_declare(&t->d1, m, "decoder.deconv1", h, h, 4, 2, 1, 0, true);
	sup_conv_transpose2d_declare(&t->d2, m, "decoder.deconv2", h, t->c, 4, 2, 1, 0, true);
}

static enum sup_status vqvae_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				  struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	enum sup_status s = genimg_check_images(data, "vqvae", err, err_size);
	if (s != SUP_OK)
		return s;
	int64_t h = sup_config_int(cfg, "hidden"), k = sup_config_int(cfg, "codebook_size");
	int64_t dim = sup_config_int(cfg, "code_dim");
	if (h < 1 || k < 1 || dim < 1 || data->height % 4 || data->width % 4) {
		snprintf(err, err_size, "vqvae: hidden, codebook_size, code_dim >= 1 and image sides divisible by 4 required");
		return SUP_ERR_ARG;
	}
	struct vqvae *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->c = data->channels, t->h = data->height, t->w = data->width;
	t->lh = t->h / 4, t->lw = t->w / 4, t->dim = dim;
	t->bce = sup_config_enum(cfg, "recon") == 1;
	sup_model_init(&t->model, sup_allocator_default());
	vqvae_declare(t, h, k, sup_config_bool(cfg, "ema"));
	t->vq.beta = sup_config_float(cfg, "beta");
	t->vq.decay = sup_config_float(cfg, "ema_decay");
	s = sup_model_build(&t->model, rng);
	if (s == SUP_OK) {
		sup_vq_ema_init(&t->vq, &t->model);
		s = genimg_adam_init(&t->optim, &t->model);
	}
	if (s != SUP_OK) {
		snprintf(err, err_size, "vqvae: %s", t->model.err_msg[0] ? t->model.err_msg : sup_status_str(s));
		vqvae_free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int vqvae_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct vqvae *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

/* z_e(x) as [B, lh, lw, D] (channels last, the layout the codebook takes). */
static struct sup_tensor *vq_encode(struct vqvae *t, struct sup_ctx *c, struct sup_tensor *x)
{
	struct sup_model *m = &t->model;
	struct sup_tensor *y = sup_relu(c, sup_conv2d_forward(c, m, &t->e1, x));
	y = sup_conv2d_forward(c, m, &t->e2, y);
	y = res_forward(c, m, &t->eres[1], res_forward(c, m, &t->eres[0], y));
	y = sup_conv2d_forward(c, m, &t->e_out, sup_relu(c, y));
	return sup_contiguous(c, sup_permute(c, y, (const int[]){0, 2, 3, 1}));
}

/* z_q [B, lh, lw, D] -> decoder output [B, C, H, W] (logits with bce, values with mse). */
static struct sup_tensor *vq_decode(struct vqvae *t, struct sup_ctx *c, struct sup_tensor *zq)
{
	struct sup_model *m = &t->model;
	struct sup_tensor *y = sup_contiguous(c, sup_permute(c, zq, (const int[]){0, 3, 1, 2}));
	y = sup_conv2d_forward(c, m, &t->d_in, y);
	y = res_forward(c, m, &t->dres[1], res_forward(c, m, &t->dres[0], y));
	y = sup_relu(c, sup_conv2d_forward(c, m, &t->d1, sup_relu(c, y)));
	return sup_conv2d_forward(c, m, &t->d2, y);
}

/* Reconstruction loss, mean per pixel. */
static struct sup_tensor *recon_loss(struct vqvae *t, struct sup_ctx *c, struct sup_tensor *out, struct sup_tensor *x)
{
	return t->bce ? sup_bce_with_logits(c, out, x, SUP_REDUCE_MEAN) : sup_mse(c, out, x, SUP_REDUCE_MEAN);
}

static double recon_mse(struct vqvae *t, const struct sup_tensor *out, const struct sup_tensor *x)
{
	double se = 0;
	const int64_t n = sup_tensor_numel(x);
	for (int64_t i = 0; i < n; i++) {
		double v = sup_tensor_get(out, i);
		double e = (t->bce ? 1.0 / (1.0 + exp(-v)) : v) - sup_tensor_get(x, i);
		se += e * e;
	}
	return se / (double)n;
}

static enum sup_status vqvae_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				  const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct vqvae *t = state;
	struct sup_tensor *x = b->views[0];
	sup_model_set_training(&t->model, true);
	struct sup_tensor *ze = vq_encode(t, c, x);
	struct sup_vq_out q;
	if (sup_vq_forward(c, &t->model, &t->vq, ze, &q) != SUP_OK)
		return sup_ctx_status(c);
	struct sup_tensor *xr = vq_decode(t, c, q.quantized);
	struct sup_tensor *rec = recon_loss(t, c, xr, x);
	struct sup_tensor *loss = sup_add(c, rec, q.loss);
	sup_model_zero_grad(&t->model);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&t->optim, si->lr);
	if (t->vq.ema && sup_vq_ema_update(c, &t->model, &t->vq, sup_detach(c, ze), q.indices) != SUP_OK)
		return sup_ctx_status(c);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 3;
	out->names[0] = "perplexity";
	out->values[0] = q.perplexity;
	out->names[1] = "recon_mse";
	out->values[1] = recon_mse(t, xr, x);
	out->names[2] = "commitment";
	out->values[2] = sup_tensor_get(q.commitment_loss, 0);
	return SUP_OK;
}

static enum sup_status vqvae_nll(void *state, struct sup_ctx *c, const struct sup_method_batch *b, double *nats,
				 double *dims)
{
	struct vqvae *t = state;
	struct sup_tensor *x = b->views[0];
	if (!t->bce)
		return sup_ctx_fail(c, SUP_ERR_ARG, "vqvae: nll needs the Bernoulli decoder (recon=bce, binarised data)");
	if (genimg_require_binary(c, x, "vqvae nll") != SUP_OK)
		return sup_ctx_status(c);
	sup_model_set_training(&t->model, false);
	sup_no_grad_begin(c);
	struct sup_vq_out q;
	enum sup_status s = sup_vq_forward(c, &t->model, &t->vq, vq_encode(t, c, x), &q);
	struct sup_tensor *rows = s == SUP_OK ? genimg_bernoulli_nll_rows(c, vq_decode(t, c, q.quantized), x) : NULL;
	sup_no_grad_end(c);
	if (!rows)
		return sup_ctx_status(c);
	const int64_t B = x->shape[0];
	*nats = genimg_sum(rows) + (double)(B * t->lh * t->lw) * log((double)t->vq.k);
	*dims = (double)sup_tensor_numel(x);
	return SUP_OK;
}

/* z_e(x) flattened, before quantisation (the codebook lookup has no useful gradient). */
static struct sup_tensor *vqvae_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					 bool training)
{
	struct vqvae *t = state;
	sup_model_set_training(&t->model, training);
	return genimg_flatten(c, vq_encode(t, c, b->views[0]));
}

static struct sup_tensor *vqvae_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(vqvae_features, state, c, b);
}

static struct sup_tensor *vqvae_sample(void *state, struct sup_ctx *c, int64_t n, const char *prompt)
{
	(void)prompt;
	struct vqvae *t = state;
	sup_model_set_training(&t->model, false);
	struct sup_tensor *idx = sup_tensor_new(c, SUP_I64, 3, (const int64_t[]){n, t->lh, t->lw});
	if (!idx)
		return NULL;
	for (int64_t i = 0; i < n * t->lh * t->lw; i++)
		((int64_t *)idx->data)[i] = (int64_t)sup_rng_below(&c->rng, (uint64_t)t->vq.k);
	sup_no_grad_begin(c);
	struct sup_tensor *zq = sup_embedding(c, sup_model_tensor(&t->model, t->vq.embedding), idx);
	struct sup_tensor *y = vq_decode(t, c, zq);
	y = t->bce ? sup_sigmoid(c, y) : sup_clamp(c, y, 0.0, 1.0);
	sup_no_grad_end(c);
	return y;
}

/* The decoder's output at the quantised code of x, as images. */
static struct sup_tensor *vqvae_reconstruct(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	struct vqvae *t = state;
	struct sup_tensor *x = b->views[0], *y = NULL;
	sup_model_set_training(&t->model, false);
	sup_no_grad_begin(c);
	struct sup_vq_out q;
	if (sup_vq_forward(c, &t->model, &t->vq, vq_encode(t, c, x), &q) == SUP_OK)
		y = genimg_as_images(c, vq_decode(t, c, q.quantized), t->bce, x);
	sup_no_grad_end(c);
	return y;
}

const struct sup_method sup_method_vqvae = {
    .name = "vqvae",
    .family = "generative",
    .branch = "auto-encoding",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "van den Oord, Vinyals & Kavukcuoglu 2017, Neural Discrete Representation Learning (NeurIPS)",
    .default_data = "fashion-mnist",
    .batch_kind = SUP_BATCH_IMAGES,
    .n_views = 1,
    .config = vqvae_keys,
    .init = vqvae_init,
    .parts = vqvae_parts,
    .train_step = vqvae_step,
    .encode = vqvae_encode,
    .forward_features = vqvae_features,
    .sample = vqvae_sample,
    .reconstruct = vqvae_reconstruct,
    .nll = vqvae_nll,
    .free = vqvae_free,
};
