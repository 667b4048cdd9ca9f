/* The small ConvNet of workload W1 (shared/WORKLOADS.md): four conv3x3 + BatchNorm2d + ReLU
 * blocks and global average pooling. It is the Fashion-MNIST-sized encoder of the SimCLR
 * recipe (Chen, Kornblith, Norouzi, Hinton 2020, sec. 2.1: base encoder f followed by average
 * pooling), small enough to train on a CPU in minutes.
 */
#include "selfsup/nn.h"

#include <stdio.h>

/* Output size of a convolution window along one axis; 0 when the window does not fit. */
static int64_t conv_out(int64_t in, int kernel, int stride, int padding)
{
	if (in + 2 * padding < kernel)
		return 0;
	return (in + 2 * (int64_t)padding - kernel) / (stride ? stride : 1) + 1;
}

static const int64_t convnet_width[SUP_CONVNET_BLOCKS] = { 32, 64, 128, 128 };
static const int convnet_stride[SUP_CONVNET_BLOCKS] = { 1, 2, 2, 1 };

int sup_convnet_declare(struct sup_convnet *e, struct sup_model *m, const char *prefix,
			const struct sup_convnet_config *cfg)
{
	int64_t in = cfg && cfg->in_channels ? cfg->in_channels : 1;
	if (in < 1)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: convnet in_channels must be >= 1, not %lld", prefix,
				      (long long)in);
	char conv[SUP_NAME_MAX], bn[SUP_NAME_MAX];
	prefix = prefix ? prefix : "";
	const char *dot = prefix[0] ? "." : "";
	for (int i = 0; i < SUP_CONVNET_BLOCKS; i++) {
		/* nn.Sequential indices: conv 3i, bn 3i + 1, ReLU 3i + 2. */
		if (snprintf(conv, sizeof conv, "%s%s%d", prefix, dot, 3 * i) >= SUP_NAME_MAX ||
		    snprintf(bn, sizeof bn, "%s%s%d", prefix, dot, 3 * i + 1) >= SUP_NAME_MAX)
			return sup_model_fail(m, SUP_ERR_ARG, "convnet: prefix '%s' too long", prefix);
		sup_conv2d_declare(&e->conv[i], m, conv, in, convnet_width[i], 3, convnet_stride[i], 1, false);
		sup_batch_norm_declare(&e->bn[i], m, bn, convnet_width[i], true);
		in = convnet_width[i];
	}
	e->feat_dim = in;
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_convnet_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_convnet *e,
				       struct sup_tensor *x)
{
	for (int i = 0; i < SUP_CONVNET_BLOCKS; i++)
		x = sup_relu(c, sup_batch_norm_forward(c, m, &e->bn[i], sup_conv2d_forward(c, m, &e->conv[i], x)));
	/* Global average pooling as a mean over H and W: [N, C, H, W] -> [N, C]. */
	return sup_mean(c, x, (const int[]){ 2, 3 }, 2, false);
}

double sup_convnet_flops(const struct sup_convnet *e, int64_t n, int64_t h, int64_t w)
{
	double flops = 0;
	for (int i = 0; i < SUP_CONVNET_BLOCKS; i++) {
		const struct sup_conv2d *l = &e->conv[i];
		h = conv_out(h, l->kh, l->args.stride[0], l->args.padding[0]);
		w = conv_out(w, l->kw, l->args.stride[1], l->args.padding[1]);
		if (h <= 0 || w <= 0)
			return -1;
		flops += 2.0 * (double)(n * l->out * h * w) * (double)(l->in * l->kh * l->kw);
	}
	return flops;
}
