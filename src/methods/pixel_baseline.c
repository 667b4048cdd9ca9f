/* "pixel_baseline": the two reference points of the generative image methods (issue 9). A
 * BASELINE fixture, not a method of the survey (hidden from `selfsup list` unless --all).
 *
 * 1. The independent-pixel density model: p(x) = prod_d p_d(x_d), each p_d a categorical over
 *    the pixel's levels (2 on binarised data: a Bernoulli; 256 on 8-bit data) fitted by counting
 *    the training images, with add-alpha (Laplace) smoothing so that a level never seen in
 *    training keeps a finite likelihood. Its test NLL is what every density model must beat
 *    (by >= 30%). Training is one pass of counting (epochs=1 covers the training set).
 * 2. A random projection of the inputs, encode(x) = x R with R [D, k] ~ N(0, 1/k) drawn once
 *    (Johnson & Lindenstrauss 1984; Achlioptas 2003), the features a linear probe on learned
 *    latents of the same dimension k must beat.
 * Both are buffers (counts, projection) so the checkpoint holds the whole model. */
#include "methods/genimg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pixbase {
	struct sup_model model;
	int counts, n_seen, proj;
	int levels;
	double alpha;
	int64_t d, k;
};

static const struct sup_cfg_key pixbase_keys[] = {
    {"likelihood", SUP_CFG_ENUM, "bernoulli", "bernoulli|categorical",
     "per-pixel Bernoulli (binarised data) or 256-way categorical (8-bit data)", NULL, 0},
    {"alpha", SUP_CFG_FLOAT, "1", NULL, "add-alpha smoothing of the pixel counts", "Laplace's rule of succession", 0},
    {"code_dim", SUP_CFG_INT, "20", NULL, "dimension of the random projection (match the latent size probed)",
     "the VAE's latent size (Kingma & Welling 2014, sec. 5)", 0},
    {"epochs", SUP_CFG_INT, "1", NULL, "one counting pass over the training set", NULL, 0},
    {"batch_size", SUP_CFG_INT, "500", NULL, "images per counting step (divides 60000: no image is dropped)",
     NULL, 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void pixbase_free(void *state)
{
	struct pixbase *t = state;
	if (!t)
		return;
	sup_model_deinit(&t->model);
	free(t);
}

static enum sup_status pixbase_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				    struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	enum sup_status s = genimg_check_images(data, "pixel_baseline", err, err_size);
	if (s != SUP_OK)
		return s;
	struct pixbase *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->levels = sup_config_enum(cfg, "likelihood") == 0 ? 2 : 256;
	t->alpha = sup_config_float(cfg, "alpha");
	t->d = (int64_t)data->channels * data->height * data->width;
	t->k = sup_config_int(cfg, "code_dim");
	if (t->k < 1 || !(t->alpha > 0)) {
		snprintf(err, err_size, "pixel_baseline: code_dim must be >= 1 and alpha > 0");
		pixbase_free(t);
		return SUP_ERR_ARG;
	}
	sup_model_init(&t->model, sup_allocator_default());
	t->counts = sup_model_add(&t->model, "", "counts", SUP_KIND_BUFFER, 2, (const int64_t[]){t->levels, t->d},
				  SUP_INIT_ZEROS, 0, 0);
	t->n_seen = sup_model_add(&t->model, "", "n_seen", SUP_KIND_BUFFER, 1, (const int64_t[]){1}, SUP_INIT_ZEROS, 0, 0);
	t->proj = sup_model_add(&t->model, "", "projection", SUP_KIND_BUFFER, 2, (const int64_t[]){t->d, t->k},
				SUP_INIT_NORMAL, 1.0 / sqrt((double)t->k), 0);
	s = sup_model_build(&t->model, rng);
	if (s != SUP_OK) {
		snprintf(err, err_size, "pixel_baseline: %s", t->model.err_msg);
		pixbase_free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int pixbase_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct pixbase *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, NULL};
	return 1;
}

/* The batch as levels [B, D]: the binary pixels, or round(255 x). */
static struct sup_tensor *levels_of(struct pixbase *t, struct sup_ctx *c, struct sup_tensor *x)
{
	if (t->levels == 2)
		return genimg_require_binary(c, x, "pixel_baseline") == SUP_OK ? genimg_to_levels(c, x) : NULL;
	return genimg_to_levels(c, x);
}

static enum sup_status pixbase_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				    const struct sup_step_info *si, struct sup_step_stats *out)
{
	(void)si;
	struct pixbase *t = state;
	struct sup_tensor *lv = levels_of(t, c, b->views[0]);
	if (!lv)
		return sup_ctx_status(c);
	const int64_t B = lv->shape[0];
	int64_t *v = lv->data;
	if (t->levels == 2) /* binary levels are 255 * x: back to 0/1 */
		for (int64_t i = 0; i < B * t->d; i++)
			v[i] = v[i] ? 1 : 0;
	float *cnt = sup_model_tensor(&t->model, t->counts)->data;
	for (int64_t i = 0; i < B; i++)
		for (int64_t j = 0; j < t->d; j++)
			cnt[v[i * t->d + j] * t->d + j] += 1.0f;
	float *n = sup_model_tensor(&t->model, t->n_seen)->data;
	n[0] += (float)B;
	out->loss = genimg_pixel_model_nll(cnt, t->levels, t->d, n[0], t->alpha, v, B) / (double)B;
	out->n = 0;
	return SUP_OK;
}

static enum sup_status pixbase_nll(void *state, struct sup_ctx *c, const struct sup_method_batch *b, double *nats,
				   double *dims)
{
	struct pixbase *t = state;
	struct sup_tensor *lv = levels_of(t, c, b->views[0]);
	if (!lv)
		return sup_ctx_status(c);
	const int64_t B = lv->shape[0];
	int64_t *v = lv->data;
	if (t->levels == 2)
		for (int64_t i = 0; i < B * t->d; i++)
			v[i] = v[i] ? 1 : 0;
	const float *cnt = sup_model_tensor(&t->model, t->counts)->data;
	double n = sup_tensor_get(sup_model_tensor(&t->model, t->n_seen), 0);
	*nats = genimg_pixel_model_nll(cnt, t->levels, t->d, n, t->alpha, v, B);
	*dims = (double)(B * t->d);
	return SUP_OK;
}

static struct sup_tensor *pixbase_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	struct pixbase *t = state;
	sup_no_grad_begin(c);
	struct sup_tensor *h = sup_matmul(c, genimg_flatten(c, b->views[0]), sup_model_tensor(&t->model, t->proj),
					  false, false);
	sup_no_grad_end(c);
	return h;
}

const struct sup_method sup_method_pixel_baseline = {
    .name = "pixel_baseline",
    .family = "generative",
    .branch = "baseline: independent pixels + random projection",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "independent-pixel model (per-pixel categorical, Laplace smoothing); random projection "
	     "(Johnson & Lindenstrauss 1984)",
    .default_data = "fashion-mnist-binary",
    .fixture = true,
    .batch_kind = SUP_BATCH_IMAGES,
    .n_views = 1,
    .config = pixbase_keys,
    .init = pixbase_init,
    .parts = pixbase_parts,
    .train_step = pixbase_step,
    .encode = pixbase_encode,
    .nll = pixbase_nll,
    .free = pixbase_free,
};
