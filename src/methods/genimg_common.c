/* Shared pieces of the generative image methods (see genimg.h). */
#include "methods/genimg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum sup_status genimg_check_images(const struct sup_data_info *data, const char *method, char *err, size_t err_size)
{
	if (data->modality != SUP_MODALITY_IMAGE || data->channels < 1 || data->height < 1 || data->width < 1) {
		snprintf(err, err_size, "%s trains on images (data=fashion-mnist or fashion-mnist-binary), not on %s",
			 method, data->name ? data->name : "this data");
		return SUP_ERR_ARG;
	}
	return SUP_OK;
}

enum sup_status genimg_adam_init(struct sup_optim *o, struct sup_model *m)
{
	const struct sup_optim_config oc = {.kind = SUP_OPTIM_ADAM}; /* beta 0.9, 0.999, eps 1e-8 */
	return sup_optim_init(o, m, &oc);
}

struct sup_tensor *genimg_flatten(struct sup_ctx *c, struct sup_tensor *x)
{
	return x ? sup_reshape(c, x, 2, (const int64_t[]){x->shape[0], -1}) : NULL;
}

enum sup_status genimg_require_binary(struct sup_ctx *c, const struct sup_tensor *x, const char *who)
{
	if (!x)
		return sup_ctx_status(c);
	for (int64_t i = 0, n = sup_tensor_numel(x); i < n; i++) {
		double v = sup_tensor_get(x, i);
		if (v != 0.0 && v != 1.0)
			return sup_ctx_fail(c, SUP_ERR_ARG,
					    "%s: the Bernoulli likelihood needs binary images (data=fashion-mnist-binary); "
					    "found the value %g",
					    who, v);
	}
	return SUP_OK;
}

struct sup_tensor *genimg_to_levels(struct sup_ctx *c, const struct sup_tensor *x)
{
	if (!x)
		return NULL;
	struct sup_tensor *y = sup_tensor_new(c, SUP_I64, x->ndim, x->shape);
	if (!y)
		return NULL;
	int64_t *p = y->data;
	for (int64_t i = 0, n = sup_tensor_numel(x); i < n; i++) {
		double v = floor(sup_tensor_get(x, i) * 255.0 + 0.5);
		p[i] = v < 0 ? 0 : v > 255 ? 255 : (int64_t)v;
	}
	return y;
}

struct sup_tensor *genimg_bernoulli_nll_rows(struct sup_ctx *c, struct sup_tensor *logits, struct sup_tensor *x)
{
	struct sup_tensor *l = sup_bce_with_logits(c, genimg_flatten(c, logits), genimg_flatten(c, x), SUP_REDUCE_NONE);
	return sup_sum(c, l, (const int[]){1}, 1, false);
}

struct sup_tensor *genimg_as_images(struct sup_ctx *c, struct sup_tensor *out, bool logits,
				    const struct sup_tensor *x)
{
	struct sup_tensor *y = logits ? sup_sigmoid(c, out) : sup_clamp(c, out, 0.0, 1.0);
	return y ? sup_reshape(c, y, x->ndim, x->shape) : NULL;
}

double genimg_logmeanexp(const double *a, int k)
{
	double mx = -INFINITY, s = 0;
	for (int i = 0; i < k; i++)
		mx = a[i] > mx ? a[i] : mx;
	if (!isfinite(mx))
		return mx;
	for (int i = 0; i < k; i++)
		s += exp(a[i] - mx);
	return mx + log(s / k);
}

double genimg_sum(const struct sup_tensor *t)
{
	double s = 0;
	for (int64_t i = 0, n = t ? sup_tensor_numel(t) : 0; i < n; i++)
		s += sup_tensor_get(t, i);
	return s;
}

double genimg_pixel_model_nll(const float *counts, int levels, int64_t d, double n, double alpha,
			      const int64_t *x_levels, int64_t b)
{
	double total = 0, denom = log(n + alpha * levels);
	for (int64_t i = 0; i < b; i++)
		for (int64_t j = 0; j < d; j++) {
			int64_t v = x_levels[i * d + j];
			total -= log((double)counts[v * d + j] + alpha) - denom;
		}
	return total;
}

/* ---- the MLP auto-encoder of ae and dae ------------------------------------------------------ */

void genimg_ae_free(void *state)
{
	struct genimg_ae *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t);
}

enum sup_status genimg_ae_init(struct genimg_ae **out, const char *who, const struct sup_config *cfg,
			       const struct sup_data_info *data, struct sup_rng *rng, char *err, size_t err_size)
{
	*out = NULL;
	enum sup_status s = genimg_check_images(data, who, err, err_size);
	if (s != SUP_OK)
		return s;
	int64_t hid = sup_config_int(cfg, "hidden"), code = sup_config_int(cfg, "code_dim");
	if (hid < 1 || code < 1) {
		snprintf(err, err_size, "%s: hidden and code_dim must be >= 1", who);
		return SUP_ERR_ARG;
	}
	struct genimg_ae *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->c = data->channels, t->h = data->height, t->w = data->width;
	t->d = t->c * t->h * t->w;
	t->code = code;
	t->bce = sup_config_enum(cfg, "loss") == 0;
	sup_model_init(&t->model, sup_allocator_default());
	sup_mlp_declare(&t->enc, &t->model, "encoder", 2, (const int64_t[]){t->d, hid, code}, false, false);
	sup_mlp_declare(&t->dec, &t->model, "decoder", 2, (const int64_t[]){code, hid, t->d}, false, false);
	s = sup_model_build(&t->model, rng);
	if (s == SUP_OK)
		s = genimg_adam_init(&t->optim, &t->model);
	if (s != SUP_OK) {
		snprintf(err, err_size, "%s: %s", who, t->model.err_msg[0] ? t->model.err_msg : sup_status_str(s));
		genimg_ae_free(t);
		return s;
	}
	*out = t;
	return SUP_OK;
}

int genimg_ae_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct genimg_ae *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

struct sup_tensor *genimg_ae_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				      bool training)
{
	struct genimg_ae *t = state;
	sup_model_set_training(&t->model, training);
	return sup_mlp_forward(c, &t->model, &t->enc, genimg_flatten(c, b->views[0]));
}

struct sup_tensor *genimg_ae_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(genimg_ae_features, state, c, b);
}

struct sup_tensor *genimg_ae_reconstruct(struct genimg_ae *t, struct sup_ctx *c, const struct sup_method_batch *b)
{
	struct sup_tensor *x = b->views[0];
	sup_model_set_training(&t->model, false);
	sup_no_grad_begin(c);
	struct sup_tensor *h = sup_mlp_forward(c, &t->model, &t->enc, genimg_flatten(c, x));
	struct sup_tensor *y = genimg_as_images(c, sup_mlp_forward(c, &t->model, &t->dec, h), t->bce, x);
	sup_no_grad_end(c);
	return y;
}

enum sup_status genimg_ae_step(struct genimg_ae *t, struct sup_ctx *c, struct sup_tensor *input,
			       struct sup_tensor *target, double lr, struct sup_step_stats *out)
{
	sup_model_set_training(&t->model, true);
	struct sup_tensor *x = genimg_flatten(c, target);
	struct sup_tensor *h = sup_mlp_forward(c, &t->model, &t->enc, genimg_flatten(c, input));
	struct sup_tensor *logits = sup_mlp_forward(c, &t->model, &t->dec, h);
	struct sup_tensor *rows = t->bce ? genimg_bernoulli_nll_rows(c, logits, x)
					 : sup_sum(c, sup_mse(c, logits, x, SUP_REDUCE_NONE), (const int[]){1}, 1, false);
	struct sup_tensor *loss = sup_mean(c, rows, NULL, 0, false);
	sup_model_zero_grad(&t->model);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&t->optim, lr);
	out->loss = sup_tensor_get(loss, 0);
	/* The reconstruction's squared error per pixel, comparable across losses and methods. */
	double se = 0;
	for (int64_t i = 0, n = sup_tensor_numel(logits); i < n; i++) {
		double v = sup_tensor_get(logits, i);
		double r = t->bce ? 1.0 / (1.0 + exp(-v)) : v;
		double e = r - sup_tensor_get(x, i);
		se += e * e;
	}
	out->n = 1;
	out->names[0] = "recon_mse";
	out->values[0] = se / (double)sup_tensor_numel(logits);
	return SUP_OK;
}
