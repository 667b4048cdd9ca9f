/* Basic modules: Linear, Conv2d / ConvTranspose2d, BatchNorm, LayerNorm, Embedding, Dropout, MLP. */
#include "selfsup/nn.h"

#include <math.h>
#include <stdio.h>

#define T(m, i) sup_model_tensor((m), (i))

int sup_linear_declare(struct sup_linear *l, struct sup_model *m, const char *prefix, int64_t in, int64_t out,
		       bool bias)
{
	l->in = in;
	l->out = out;
	l->weight = sup_model_add(m, prefix, "weight", SUP_KIND_PARAM, 2, (const int64_t[]){ out, in },
				  SUP_INIT_KAIMING_UNIFORM, sqrt(5.0), 0);
	l->bias = -1;
	if (bias) {
		l->bias = sup_model_add(m, prefix, "bias", SUP_KIND_PARAM, 1, (const int64_t[]){ out },
					SUP_INIT_FAN_IN_UNIFORM, 0, SUP_PARAM_NO_DECAY);
		if (l->bias >= 0)
			sup_model_set_fans(m, l->bias, in, out);
	}
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_linear_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_linear *l,
				      struct sup_tensor *x)
{
	return sup_linear(c, x, T(m, l->weight), l->bias >= 0 ? T(m, l->bias) : NULL);
}

static int conv_common(struct sup_conv2d *l, struct sup_model *m, const char *prefix, int64_t in, int64_t out,
		       int kernel, bool bias)
{
	l->in = in;
	l->out = out;
	l->kh = l->kw = kernel;
	const int64_t shape[4] = { l->transposed ? in : out, l->transposed ? out : in, kernel, kernel };
	l->weight = sup_model_add(m, prefix, "weight", SUP_KIND_PARAM, 4, shape, SUP_INIT_KAIMING_UNIFORM, sqrt(5.0), 0);
	l->bias = -1;
	if (bias) {
		l->bias = sup_model_add(m, prefix, "bias", SUP_KIND_PARAM, 1, (const int64_t[]){ out },
					SUP_INIT_FAN_IN_UNIFORM, 0, SUP_PARAM_NO_DECAY);
		/* PyTorch derives the bias bound from the weight's fan_in (dim 1 * kernel area). */
		if (l->bias >= 0)
			sup_model_set_fans(m, l->bias, shape[1] * kernel * kernel, 0);
	}
	return m->err ? -1 : 0;
}

int sup_conv2d_declare(struct sup_conv2d *l, struct sup_model *m, const char *prefix, int64_t in, int64_t out,
		       int kernel, int stride, int padding, bool bias)
{
	*l = (struct sup_conv2d){ .args = { .stride = { stride, stride }, .padding = { padding, padding } } };
	return conv_common(l, m, prefix, in, out, kernel, bias);
}

int sup_conv_transpose2d_declare(struct sup_conv2d *l, struct sup_model *m, const char *prefix, int64_t in,
				 int64_t out, int kernel, int stride, int padding, int output_padding, bool bias)
{
	*l = (struct sup_conv2d){ .transposed = true,
				  .args = { .stride = { stride, stride },
					    .padding = { padding, padding },
					    .output_padding = { output_padding, output_padding } } };
	return conv_common(l, m, prefix, in, out, kernel, bias);
}

struct sup_tensor *sup_conv2d_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_conv2d *l,
				      struct sup_tensor *x)
{
	struct sup_tensor *b = l->bias >= 0 ? T(m, l->bias) : NULL;
	return l->transposed ? sup_conv_transpose2d(c, x, T(m, l->weight), b, &l->args)
			     : sup_conv2d(c, x, T(m, l->weight), b, &l->args);
}

int sup_batch_norm_declare(struct sup_batch_norm *l, struct sup_model *m, const char *prefix, int64_t features,
			   bool affine)
{
	const int64_t shape[1] = { features };
	*l = (struct sup_batch_norm){ .weight = -1, .bias = -1, .features = features, .momentum = 0.1, .eps = 1e-5 };
	if (affine) {
		l->weight = sup_model_add(m, prefix, "weight", SUP_KIND_PARAM, 1, shape, SUP_INIT_ONES, 0, SUP_PARAM_NO_DECAY);
		l->bias = sup_model_add(m, prefix, "bias", SUP_KIND_PARAM, 1, shape, SUP_INIT_ZEROS, 0, SUP_PARAM_NO_DECAY);
	}
	l->running_mean = sup_model_add(m, prefix, "running_mean", SUP_KIND_BUFFER, 1, shape, SUP_INIT_ZEROS, 0, 0);
	l->running_var = sup_model_add(m, prefix, "running_var", SUP_KIND_BUFFER, 1, shape, SUP_INIT_ONES, 0, 0);
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_batch_norm_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_batch_norm *l,
					  struct sup_tensor *x)
{
	const struct sup_batch_norm_args args = {
		.training = m->training, .momentum = l->momentum, .eps = l->eps, .sync = m->bn_sync
	};
	return sup_batch_norm(c, x, l->weight >= 0 ? T(m, l->weight) : NULL, l->bias >= 0 ? T(m, l->bias) : NULL,
			      T(m, l->running_mean), T(m, l->running_var), &args);
}

int sup_layer_norm_declare(struct sup_layer_norm *l, struct sup_model *m, const char *prefix, int64_t features)
{
	const int64_t shape[1] = { features };
	l->features = features;
	l->eps = 1e-5;
	l->weight = sup_model_add(m, prefix, "weight", SUP_KIND_PARAM, 1, shape, SUP_INIT_ONES, 0, SUP_PARAM_NO_DECAY);
	l->bias = sup_model_add(m, prefix, "bias", SUP_KIND_PARAM, 1, shape, SUP_INIT_ZEROS, 0, SUP_PARAM_NO_DECAY);
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_layer_norm_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_layer_norm *l,
					  struct sup_tensor *x)
{
	return sup_layer_norm(c, x, T(m, l->weight), T(m, l->bias), l->eps);
}

int sup_embedding_declare(struct sup_embedding *l, struct sup_model *m, const char *prefix, int64_t num,
			  int64_t dim, double std)
{
	l->num = num;
	l->dim = dim;
	l->weight = sup_model_add(m, prefix, "weight", SUP_KIND_PARAM, 2, (const int64_t[]){ num, dim }, SUP_INIT_NORMAL,
				  std, 0);
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_embedding_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_embedding *l,
					 struct sup_tensor *ids)
{
	return sup_embedding(c, T(m, l->weight), ids);
}

struct sup_tensor *sup_dropout_forward(struct sup_ctx *c, struct sup_model *m, double p, struct sup_tensor *x)
{
	return sup_dropout(c, x, p, m->training);
}

int sup_mlp_declare(struct sup_mlp *l, struct sup_model *m, const char *prefix, int n_layers, const int64_t *dims,
		    bool batch_norm, bool last_bn)
{
	if (n_layers < 1 || n_layers > SUP_MLP_MAX_LAYERS)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: an MLP has 1 to %d layers, not %d", prefix, SUP_MLP_MAX_LAYERS,
				      n_layers);
	l->n_layers = n_layers;
	l->batch_norm = batch_norm;
	l->last_bn = last_bn;
	int idx = 0;
	char name[SUP_NAME_MAX];
	for (int i = 0; i < n_layers; i++) {
		bool last = i == n_layers - 1, bn = last ? last_bn : batch_norm;
		snprintf(name, sizeof name, "%s.%d", prefix, idx++);
		sup_linear_declare(&l->fc[i], m, name, dims[i], dims[i + 1], !bn);
		if (bn) {
			snprintf(name, sizeof name, "%s.%d", prefix, idx++);
			sup_batch_norm_declare(&l->bn[i], m, name, dims[i + 1], !last);
		}
		idx++; /* ReLU */
	}
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_mlp_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_mlp *l,
				   struct sup_tensor *x)
{
	for (int i = 0; i < l->n_layers; i++) {
		bool last = i == l->n_layers - 1;
		x = sup_linear_forward(c, m, &l->fc[i], x);
		if (last ? l->last_bn : l->batch_norm)
			x = sup_batch_norm_forward(c, m, &l->bn[i], x);
		if (!last)
			x = sup_relu(c, x);
	}
	return x;
}
