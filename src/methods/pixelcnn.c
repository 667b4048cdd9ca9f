/* "pixelcnn": van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks",
 * ICML 2016, sec. 3.4-3.5 and Fig. 5, with the gated activation of van den Oord et al.,
 * "Conditional Image Generation with PixelCNN Decoders", NeurIPS 2016, eq. 2 as an option.
 *   p(x) = prod_i p(x_i | x_<i) in raster order; every conditional comes out of one pass of a
 *   stack of masked convolutions (nn.h's sup_masked_conv2d): a 7x7 mask-A layer (sees only
 *   pixels before i), then residual blocks (Fig. 5: ReLU, 1x1 2h->h, ReLU, 3x3 mask B h->h,
 *   ReLU, 1x1 h->2h, + input), then ReLU, 1x1, ReLU, 1x1 to the output (sec. 3.5; a 1x1
 *   convolution of one channel group needs no mask).
 *   output=binary: one Bernoulli logit per pixel (binarised data, data=fashion-mnist-binary);
 *   output=softmax256: a 256-way softmax per pixel (sec. 5.3, discrete likelihood of the 8-bit
 *     values round(255 x), data=fashion-mnist); its test NLL in bits/dim is eval=bpd.
 *   gated: the 3x3 layer of each block gives 2h channels and the block uses
 *     tanh(first half) * sigmoid(second half) (eq. 2) instead of ReLU.
 * Loss: the exact NLL per image (nats), averaged over the batch.
 * encode: the last block's features, averaged over positions ([B, 2h]) for eval=linear.
 * sample: pixel by pixel in raster order, H * W forward passes. */
#include "methods/genimg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PCNN_MAX_BLOCKS 16

struct pcnn_block {
	struct sup_conv2d in1x1, out1x1;
	struct sup_masked_conv2d conv3;
};

struct pixelcnn {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_masked_conv2d first;
	struct pcnn_block blocks[PCNN_MAX_BLOCKS];
	struct sup_conv2d head1, head2;
	int n_blocks;
	int64_t c, h, w, ch, n_out;
	bool softmax, gated;
};

static const struct sup_cfg_key pcnn_keys[] = {
    {"output", SUP_CFG_ENUM, "binary", "binary|softmax256",
     "Bernoulli per pixel (binarised data) or 256-way softmax (8-bit data)", "van den Oord et al. 2016, sec. 5.3", 0},
    {"channels", SUP_CFG_INT, "32", NULL, "h: blocks carry 2h channels, their 3x3 layer h",
     "van den Oord et al. 2016 Fig. 5 (h = 128 on MNIST/CIFAR), scaled down for 2 CPU cores; 8-bit: 3.19 bpd "
     "with h 32 + gated vs 3.35 with h 16 ungated (2 epochs)", 0},
    {"blocks", SUP_CFG_INT, "4", NULL, "residual blocks after the mask-A layer",
     "van den Oord et al. 2016 (15 layers on CIFAR), scaled down for 2 CPU cores", 0},
    {"gated", SUP_CFG_BOOL, "true", NULL, "gated activation tanh * sigmoid in the blocks",
     "van den Oord et al. 2016b (PixelCNN decoders), eq. 2", 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "Adam learning rate", "Kingma & Ba 2015", 0},
    {"epochs", SUP_CFG_INT, "2", NULL, "passes over the training set", "sized to < 60 min on 2 cores", 0},
    {"batch_size", SUP_CFG_INT, "32", NULL, "examples per step", NULL, 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void pcnn_free(void *state)
{
	struct pixelcnn *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t);
}

static void pcnn_declare(struct pixelcnn *t)
{
	struct sup_model *m = &t->model;
	const int64_t h = t->ch, h2 = 2 * t->ch;
	char name[64];
	sup_masked_conv2d_declare(&t->first, m, "conv_a", t->c, h2, 7, SUP_PIXEL_MASK_A, true);
	for (int i = 0; i < t->n_blocks; i++) {
		struct pcnn_block *b = &t->blocks[i];
		snprintf(name, sizeof name, "blocks.%d.conv1", i);
		sup_conv2d_declare(&b->in1x1, m, name, h2, h, 1, 1, 0, true);
		snprintf(name, sizeof name, "blocks.%d.conv2", i);
		sup_masked_conv2d_declare(&b->conv3, m, name, h, t->gated ? h2 : h, 3, SUP_PIXEL_MASK_B, true);
		snprintf(name, sizeof name, "blocks.%d.conv3", i);
		sup_conv2d_declare(&b->out1x1, m, name, h, h2, 1, 1, 0, true);
	}
	sup_conv2d_declare(&t->head1, m, "head.0", h2, h2, 1, 1, 0, true);
	sup_conv2d_declare(&t->head2, m, "head.2", h2, t->n_out * t->c, 1, 1, 0, true);
}

static enum sup_status pcnn_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				 struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	enum sup_status s = genimg_check_images(data, "pixelcnn", err, err_size);
	if (s != SUP_OK)
		return s;
	int64_t ch = sup_config_int(cfg, "channels"), nb = sup_config_int(cfg, "blocks");
	if (data->channels != 1 || ch < 1 || nb < 0 || nb > PCNN_MAX_BLOCKS) {
		snprintf(err, err_size, "pixelcnn: grayscale images, channels >= 1 and blocks in 0..%d required",
			 PCNN_MAX_BLOCKS);
		return SUP_ERR_ARG;
	}
	struct pixelcnn *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->c = data->channels, t->h = data->height, t->w = data->width;
	t->ch = ch, t->n_blocks = (int)nb;
	t->softmax = sup_config_enum(cfg, "output") == 1;
	t->n_out = t->softmax ? 256 : 1;
	t->gated = sup_config_bool(cfg, "gated");
	sup_model_init(&t->model, sup_allocator_default());
	pcnn_declare(t);
	s = sup_model_build(&t->model, rng);
	if (s == SUP_OK) {
		sup_masked_conv2d_init_mask(&t->first, &t->model);
		for (int i = 0; i < t->n_blocks; i++)
			sup_masked_conv2d_init_mask(&t->blocks[i].conv3, &t->model);
		s = genimg_adam_init(&t->optim, &t->model);
	}
	if (s != SUP_OK) {
		snprintf(err, err_size, "pixelcnn: %s", t->model.err_msg[0] ? t->model.err_msg : sup_status_str(s));
		pcnn_free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int pcnn_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct pixelcnn *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

/* Features of the last block [B, 2h, H, W]. */
static struct sup_tensor *pcnn_features(struct pixelcnn *t, struct sup_ctx *c, struct sup_tensor *x)
{
	struct sup_model *m = &t->model;
	struct sup_tensor *y = sup_masked_conv2d_forward(c, m, &t->first, x);
	for (int i = 0; i < t->n_blocks; i++) {
		const struct pcnn_block *b = &t->blocks[i];
		struct sup_tensor *u = sup_conv2d_forward(c, m, &b->in1x1, sup_relu(c, y));
		u = sup_masked_conv2d_forward(c, m, &b->conv3, sup_relu(c, u));
		if (t->gated && u)
			u = sup_mul(c, sup_tanh(c, sup_slice(c, u, 1, 0, t->ch, 1)),
				    sup_sigmoid(c, sup_slice(c, u, 1, t->ch, 2 * t->ch, 1)));
		else
			u = sup_relu(c, u);
		y = sup_add(c, y, sup_conv2d_forward(c, m, &b->out1x1, u));
	}
	return y;
}

/* Logits [B, n_out, H, W] (channels = 1). */
static struct sup_tensor *pcnn_logits(struct pixelcnn *t, struct sup_ctx *c, struct sup_tensor *x)
{
	struct sup_tensor *y = sup_relu(c, pcnn_features(t, c, x));
	y = sup_relu(c, sup_conv2d_forward(c, &t->model, &t->head1, y));
	return sup_conv2d_forward(c, &t->model, &t->head2, y);
}

struct sup_tensor *genimg_pixelcnn_logits(void *state, struct sup_ctx *c, struct sup_tensor *x)
{
	return pcnn_logits(state, c, x);
}

/* NLL per image [B] in nats. */
static struct sup_tensor *pcnn_nll_rows(struct pixelcnn *t, struct sup_ctx *c, struct sup_tensor *x)
{
	struct sup_tensor *logits = pcnn_logits(t, c, x);
	if (!t->softmax)
		return genimg_bernoulli_nll_rows(c, logits, x);
	const int64_t B = x->shape[0], P = t->h * t->w;
	/* [B, 256, H, W] -> [B, H, W, 256] -> [B P, 256] rows for the cross-entropy. */
	struct sup_tensor *l2 = sup_reshape(c, sup_contiguous(c, sup_permute(c, logits, (const int[]){0, 2, 3, 1})), 2,
					    (const int64_t[]){B * P, 256});
	struct sup_tensor *tgt = genimg_to_levels(c, x);
	struct sup_tensor *ce = sup_cross_entropy(c, l2, tgt ? sup_reshape(c, tgt, 1, (const int64_t[]){B * P}) : NULL,
						  -1, 0.0, SUP_REDUCE_NONE);
	return sup_sum(c, sup_reshape(c, ce, 2, (const int64_t[]){B, P}), (const int[]){1}, 1, false);
}

static enum sup_status pcnn_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				 const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct pixelcnn *t = state;
	sup_model_set_training(&t->model, true);
	struct sup_tensor *loss = sup_mean(c, pcnn_nll_rows(t, c, b->views[0]), NULL, 0, false);
	sup_model_zero_grad(&t->model);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&t->optim, si->lr);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 1;
	out->names[0] = "bits_per_dim";
	out->values[0] = out->loss / ((double)(t->h * t->w) * log(2.0));
	return SUP_OK;
}

static enum sup_status pcnn_nll(void *state, struct sup_ctx *c, const struct sup_method_batch *b, double *nats,
				double *dims)
{
	struct pixelcnn *t = state;
	struct sup_tensor *x = b->views[0];
	if (!t->softmax && genimg_require_binary(c, x, "pixelcnn nll (output=binary)") != SUP_OK)
		return sup_ctx_status(c);
	sup_model_set_training(&t->model, false);
	sup_no_grad_begin(c);
	struct sup_tensor *rows = pcnn_nll_rows(t, c, x);
	sup_no_grad_end(c);
	if (!rows)
		return sup_ctx_status(c);
	*nats = genimg_sum(rows);
	*dims = (double)sup_tensor_numel(x);
	return SUP_OK;
}

/* The last hidden feature maps averaged over positions. */
static struct sup_tensor *pcnn_pooled(void *state, struct sup_ctx *c, const struct sup_method_batch *b, bool training)
{
	struct pixelcnn *t = state;
	sup_model_set_training(&t->model, training);
	return sup_mean(c, pcnn_features(t, c, b->views[0]), (const int[]){2, 3}, 2, false);
}

static struct sup_tensor *pcnn_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(pcnn_pooled, state, c, b);
}

/* Draws pixel (r, q) of every image from its conditional given the pixels drawn before it. */
static void draw_pixel(struct pixelcnn *t, struct sup_ctx *c, struct sup_tensor *x, const struct sup_tensor *logits,
		       int64_t r, int64_t q)
{
	const int64_t n = x->shape[0], P = t->h * t->w, pos = r * t->w + q;
	for (int64_t i = 0; i < n; i++) {
		double u = sup_rng_uniform(&c->rng), v;
		if (!t->softmax) {
			double p = 1.0 / (1.0 + exp(-sup_tensor_get(logits, i * P + pos)));
			v = u < p ? 1.0 : 0.0;
		} else { /* inverse CDF of the softmax over the 256 levels */
			double mx = -INFINITY, z = 0, acc = 0;
			for (int k = 0; k < 256; k++)
				mx = fmax(mx, sup_tensor_get(logits, (i * 256 + k) * P + pos));
			for (int k = 0; k < 256; k++)
				z += exp(sup_tensor_get(logits, (i * 256 + k) * P + pos) - mx);
			int k = 0;
			for (; k < 255; k++) {
				acc += exp(sup_tensor_get(logits, (i * 256 + k) * P + pos) - mx) / z;
				if (u < acc)
					break;
			}
			v = k / 255.0;
		}
		sup_tensor_set(x, i * P + pos, v);
	}
}

static struct sup_tensor *pcnn_sample(void *state, struct sup_ctx *c, int64_t n, const char *prompt)
{
	(void)prompt;
	struct pixelcnn *t = state;
	sup_model_set_training(&t->model, false);
	struct sup_tensor *x = sup_tensor_zeros(c, SUP_F32, 4, (const int64_t[]){n, 1, t->h, t->w});
	sup_no_grad_begin(c);
	for (int64_t r = 0; x && r < t->h && !c->err; r++)
		for (int64_t q = 0; q < t->w && !c->err; q++) {
			struct sup_ctx_mark mk = sup_ctx_mark(c);
			struct sup_tensor *logits = pcnn_logits(t, c, x);
			if (logits)
				draw_pixel(t, c, x, logits, r, q);
			sup_ctx_rewind(c, mk);
		}
	sup_no_grad_end(c);
	return c->err ? NULL : x;
}

const struct sup_method sup_method_pixelcnn = {
    .name = "pixelcnn",
    .family = "generative",
    .branch = "autoregressive",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "van den Oord, Kalchbrenner & Kavukcuoglu 2016, Pixel Recurrent Neural Networks (ICML), sec. 3.4-3.5",
    .default_data = "fashion-mnist-binary",
    .batch_kind = SUP_BATCH_IMAGES,
    .n_views = 1,
    .config = pcnn_keys,
    .init = pcnn_init,
    .parts = pcnn_parts,
    .train_step = pcnn_step,
    .encode = pcnn_encode,
    .forward_features = pcnn_pooled,
    .sample = pcnn_sample,
    .nll = pcnn_nll,
    .free = pcnn_free,
};
