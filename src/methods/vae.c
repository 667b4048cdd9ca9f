/* "vae": the variational auto-encoder of Kingma & Welling, "Auto-Encoding Variational Bayes",
 * ICLR 2014.
 *   encoder q(z|x) = N(mu(x), diag exp(logvar(x))): an MLP with one hidden layer and separate
 *     linear heads for mu and logvar (appendix C.2, Gaussian MLP encoder);
 *   reparameterisation z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (sec. 2.4);
 *   decoder p(x|z) = Bernoulli(sigmoid(f(z))): an MLP with one hidden layer (appendix C.1);
 *   loss = -ELBO = -log p(x|z) + KL(q(z|x) || N(0, I)) with the KL in closed form (appendix B,
 *     the estimator of eq. 10), one sample of z per example (L = 1, sec. 5), summed over pixels
 *     and averaged over the batch (the per-example bound in nats).
 * Evaluation: encode = mu(x); nll = the importance-weighted estimate of Burda, Grosse &
 * Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016, eq. 8 / sec. 5:
 *   log p(x) ~= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x),
 * which tends to log p(x) from below as k grows (k = 1 is the ELBO). The Bernoulli decoder
 * models binary images: train and evaluate on data=fashion-mnist-binary (fixed threshold 0.5).
 * sample: z ~ N(0, I), returns the decoder's Bernoulli means (the usual way of showing them);
 * reconstruct: the Bernoulli means at z = mu(x). */
#include "methods/genimg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vae {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_linear fc1, fc_mu, fc_logvar, fc3, fc4;
	int64_t c, h, w, d, z;
	int iw;
};

static const struct sup_cfg_key vae_keys[] = {
    {"hidden", SUP_CFG_INT, "400", NULL, "hidden units of the encoder and decoder MLPs",
     "W6 / PyTorch examples/vae; Kingma & Welling 2014 sec. 5 used 500 on MNIST", 0},
    {"latent", SUP_CFG_INT, "20", NULL, "latent dimension", "Kingma & Welling 2014, sec. 5 (Fig. 2: 20 on MNIST)", 0},
    {"iw_samples", SUP_CFG_INT, "100", NULL, "importance samples k of the NLL estimate",
     "Burda et al. 2016 sec. 5 use 5000; 100 keeps the test pass to minutes on 2 cores", 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "Adam learning rate", "W6 / PyTorch examples/vae", 0},
    {"epochs", SUP_CFG_INT, "30", NULL, "passes over the training set", "sized to ~15 min on 2 cores", 0},
    {"batch_size", SUP_CFG_INT, "128", NULL, "examples per step", "W6 / PyTorch examples/vae (paper: M = 100)", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void vae_free(void *state)
{
	struct vae *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t);
}

static enum sup_status vae_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	enum sup_status s = genimg_check_images(data, "vae", err, err_size);
	if (s != SUP_OK)
		return s;
	int64_t hid = sup_config_int(cfg, "hidden"), z = sup_config_int(cfg, "latent");
	int64_t iw = sup_config_int(cfg, "iw_samples");
	if (hid < 1 || z < 1 || iw < 1) {
		snprintf(err, err_size, "vae: hidden, latent and iw_samples must be >= 1");
		return SUP_ERR_ARG;
	}
	struct vae *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->c = data->channels, t->h = data->height, t->w = data->width;
	t->d = t->c * t->h * t->w;
	t->z = z;
	t->iw = (int)iw;
	struct sup_model *m = &t->model;
	sup_model_init(m, sup_allocator_default());
	sup_linear_declare(&t->fc1, m, "encoder.fc1", t->d, hid, true);
	sup_linear_declare(&t->fc_mu, m, "encoder.fc_mu", hid, z, true);
	sup_linear_declare(&t->fc_logvar, m, "encoder.fc_logvar", hid, z, true);
	sup_linear_declare(&t->fc3, m, "decoder.fc1", z, hid, true);
	sup_linear_declare(&t->fc4, m, "decoder.fc2", hid, t->d, true);
	s = sup_model_build(m, rng);
	if (s == SUP_OK)
		s = genimg_adam_init(&t->optim, m);
	if (s != SUP_OK) {
		snprintf(err, err_size, "vae: %s", m->err_msg[0] ? m->err_msg : sup_status_str(s));
		vae_free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int vae_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct vae *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

static void vae_encode_dist(struct vae *t, struct sup_ctx *c, struct sup_tensor *x, struct sup_tensor **mu,
			    struct sup_tensor **logvar)
{
	struct sup_tensor *h = sup_relu(c, sup_linear_forward(c, &t->model, &t->fc1, genimg_flatten(c, x)));
	*mu = sup_linear_forward(c, &t->model, &t->fc_mu, h);
	*logvar = sup_linear_forward(c, &t->model, &t->fc_logvar, h);
}

/* Decoder logits [B, D]. */
static struct sup_tensor *vae_decode(struct vae *t, struct sup_ctx *c, struct sup_tensor *z)
{
	struct sup_tensor *h = sup_relu(c, sup_linear_forward(c, &t->model, &t->fc3, z));
	return sup_linear_forward(c, &t->model, &t->fc4, h);
}

/* -ELBO per example [B] with the given noise (sec. 2.4 reparameterisation, appendix B KL). */
static struct sup_tensor *neg_elbo(struct vae *t, struct sup_ctx *c, struct sup_tensor *x, struct sup_tensor *eps,
				   struct sup_tensor **rec_out)
{
	struct sup_tensor *mu, *logvar;
	vae_encode_dist(t, c, x, &mu, &logvar);
	struct sup_tensor *z = sup_add(c, mu, sup_mul(c, eps, sup_exp(c, sup_mul_scalar(c, logvar, 0.5))));
	struct sup_tensor *rec = genimg_bernoulli_nll_rows(c, vae_decode(t, c, z), x);
	struct sup_tensor *kl = sup_sum(c, sup_gaussian_kl(c, mu, logvar, SUP_REDUCE_NONE), (const int[]){1}, 1, false);
	if (rec_out)
		*rec_out = rec;
	return sup_add(c, rec, kl);
}

struct sup_tensor *genimg_vae_neg_elbo(void *state, struct sup_ctx *c, struct sup_tensor *x, struct sup_tensor *eps)
{
	return neg_elbo(state, c, x, eps, NULL);
}

static enum sup_status vae_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct vae *t = state;
	struct sup_tensor *x = b->views[0];
	sup_model_set_training(&t->model, true);
	struct sup_tensor *eps = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){x->shape[0], t->z});
	if (!eps)
		return sup_ctx_status(c);
	sup_tensor_fill_normal(eps, &c->rng, 0.0, 1.0);
	struct sup_tensor *rec = NULL;
	struct sup_tensor *loss = sup_mean(c, neg_elbo(t, c, x, eps, &rec), NULL, 0, false);
	sup_model_zero_grad(&t->model);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&t->optim, si->lr);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 1;
	out->names[0] = "recon_nats";
	out->values[0] = genimg_sum(rec) / (double)x->shape[0];
	return SUP_OK;
}

/* Burda et al. 2016 eq. 8 per example, with k draws of z from q(z|x). */
static enum sup_status vae_nll(void *state, struct sup_ctx *c, const struct sup_method_batch *b, double *nats,
			       double *dims)
{
	struct vae *t = state;
	struct sup_tensor *x = b->views[0];
	const int64_t B = x->shape[0], Z = t->z;
	if (genimg_require_binary(c, x, "vae nll") != SUP_OK)
		return sup_ctx_status(c);
	sup_model_set_training(&t->model, false);
	sup_no_grad_begin(c);
	struct sup_tensor *mu, *logvar;
	vae_encode_dist(t, c, x, &mu, &logvar);
	double *logw = sup_ctx_alloc(c, sizeof(double) * (size_t)(B * t->iw));
	struct sup_tensor *eps = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){B, Z});
	struct sup_tensor *sd = sup_exp(c, sup_mul_scalar(c, logvar, 0.5));
	for (int i = 0; i < t->iw && logw && eps && sd && !c->err; i++) {
		struct sup_ctx_mark mk = sup_ctx_mark(c);
		sup_tensor_fill_normal(eps, &c->rng, 0.0, 1.0);
		struct sup_tensor *z = sup_add(c, mu, sup_mul(c, eps, sd));
		struct sup_tensor *rec = genimg_bernoulli_nll_rows(c, vae_decode(t, c, z), x);
		for (int64_t n = 0; rec && n < B; n++) {
			/* log p(z) - log q(z|x): the 2 pi terms cancel; z - mu = sd * eps. */
			double lp = 0;
			for (int64_t j = 0; j < Z; j++) {
				double zj = sup_tensor_get(z, n * Z + j), e = sup_tensor_get(eps, n * Z + j);
				lp += -0.5 * zj * zj + 0.5 * e * e + 0.5 * sup_tensor_get(logvar, n * Z + j);
			}
			logw[n * t->iw + i] = -sup_tensor_get(rec, n) + lp;
		}
		sup_ctx_rewind(c, mk);
	}
	sup_no_grad_end(c);
	if (c->err)
		return c->err;
	*nats = 0;
	for (int64_t n = 0; n < B; n++)
		*nats -= genimg_logmeanexp(logw + n * t->iw, t->iw);
	*dims = (double)(B * t->d);
	return SUP_OK;
}

/* mu(x), the mean of q(z|x). */
static struct sup_tensor *vae_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				       bool training)
{
	struct vae *t = state;
	sup_model_set_training(&t->model, training);
	struct sup_tensor *mu, *logvar;
	vae_encode_dist(t, c, b->views[0], &mu, &logvar);
	return mu;
}

static struct sup_tensor *vae_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(vae_features, state, c, b);
}

static struct sup_tensor *vae_sample(void *state, struct sup_ctx *c, int64_t n, const char *prompt)
{
	(void)prompt;
	struct vae *t = state;
	sup_model_set_training(&t->model, false);
	struct sup_tensor *z = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){n, t->z});
	if (!z)
		return NULL;
	sup_tensor_fill_normal(z, &c->rng, 0.0, 1.0);
	sup_no_grad_begin(c);
	struct sup_tensor *p = sup_sigmoid(c, vae_decode(t, c, z));
	sup_no_grad_end(c);
	return p ? sup_reshape(c, p, 4, (const int64_t[]){n, t->c, t->h, t->w}) : NULL;
}

/* The decoder's Bernoulli means at z = mu(x). */
static struct sup_tensor *vae_reconstruct(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	struct vae *t = state;
	struct sup_tensor *x = b->views[0], *mu, *logvar;
	sup_model_set_training(&t->model, false);
	sup_no_grad_begin(c);
	vae_encode_dist(t, c, x, &mu, &logvar);
	struct sup_tensor *y = genimg_as_images(c, vae_decode(t, c, mu), true, x);
	sup_no_grad_end(c);
	return y;
}

const struct sup_method sup_method_vae = {
    .name = "vae",
    .family = "generative",
    .branch = "auto-encoding",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "Kingma & Welling 2014, Auto-Encoding Variational Bayes (ICLR); IWAE NLL: Burda et al. 2016",
    .default_data = "fashion-mnist-binary",
    .batch_kind = SUP_BATCH_IMAGES,
    .n_views = 1,
    .config = vae_keys,
    .init = vae_init,
    .parts = vae_parts,
    .train_step = vae_step,
    .encode = vae_encode,
    .forward_features = vae_features,
    .sample = vae_sample,
    .reconstruct = vae_reconstruct,
    .nll = vae_nll,
    .free = vae_free,
};
