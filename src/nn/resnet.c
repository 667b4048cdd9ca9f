/* ResNet-18/34/50: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
 * Table 1 (stage widths 64/128/256/512, blocks [2,2,2,2], [3,4,6,3], [3,4,6,3]) and sec. 3.3
 * (projection shortcuts, option B: a 1x1 convolution where the shape changes, identity
 * otherwise). Bottleneck blocks put the stride on the 3x3 convolution as torchvision does
 * ("ResNet v1.5"), which is also what the parameter counts in docs/nn/encoders.md assume.
 * The CIFAR stem (a 3x3 stride-1 convolution and no max-pool) is sec. 4.2's small-image variant
 * as SimCLR (Chen et al. 2020, appendix B.9) uses it with the ImageNet stage layout. */
#include "selfsup/nn.h"

#include <stdio.h>

#define T(m, i) sup_model_tensor((m), (i))

static const int64_t stage_width[4] = { 64, 128, 256, 512 };
static const int blocks_18[4] = { 2, 2, 2, 2 }, blocks_34_50[4] = { 3, 4, 6, 3 };

static int64_t conv_out(int64_t in, int kernel, int stride, int padding)
{
	if (in + 2 * padding < kernel)
		return 0;
	return (in + 2 * (int64_t)padding - kernel) / (stride ? stride : 1) + 1;
}

/* prefix + "." + name, or name alone under an empty prefix. A name too long for the model is a
 * sticky model error (the truncated name is returned; the build will then fail). */
static const char *join(struct sup_model *m, char *buf, const char *prefix, const char *name)
{
	if (snprintf(buf, SUP_NAME_MAX, "%s%s%s", prefix, prefix[0] ? "." : "", name) >= SUP_NAME_MAX)
		sup_model_fail(m, SUP_ERR_ARG, "resnet: name '%s.%s' longer than %d characters", prefix, name,
			       SUP_NAME_MAX - 1);
	return buf;
}

/* A bias-free convolution with torchvision's ResNet initialisation: kaiming normal, fan_out
 * mode (nn.init.kaiming_normal_(mode="fan_out", nonlinearity="relu")). */
static void conv_declare(struct sup_conv2d *l, struct sup_model *m, const char *name, int64_t in, int64_t out,
			 int kernel, int stride, int padding)
{
	sup_conv2d_declare(l, m, name, in, out, kernel, stride, padding, false);
	if (!m->err && l->weight >= 0) {
		m->entries[l->weight].init = SUP_INIT_KAIMING_NORMAL;
		m->entries[l->weight].init_a = 0;
	}
}

/* One block "layerS.B" taking `in` channels to width * expansion, the first conv of the
 * block's 3x3 pair (or the Bottleneck's 3x3) strided. */
static void block_declare(struct sup_resnet_block *b, struct sup_model *m, const char *prefix, bool bottleneck,
			  int64_t in, int64_t width, int stride)
{
	char n[SUP_NAME_MAX];
	const int64_t out = bottleneck ? 4 * width : width;
	*b = (struct sup_resnet_block){ .bottleneck = bottleneck, .has_down = stride != 1 || in != out };
	if (bottleneck) {
		conv_declare(&b->conv1, m, join(m, n, prefix, "conv1"), in, width, 1, 1, 0);
		conv_declare(&b->conv2, m, join(m, n, prefix, "conv2"), width, width, 3, stride, 1);
		conv_declare(&b->conv3, m, join(m, n, prefix, "conv3"), width, out, 1, 1, 0);
	} else {
		conv_declare(&b->conv1, m, join(m, n, prefix, "conv1"), in, width, 3, stride, 1);
		conv_declare(&b->conv2, m, join(m, n, prefix, "conv2"), width, width, 3, 1, 1);
	}
	sup_batch_norm_declare(&b->bn1, m, join(m, n, prefix, "bn1"), width, true);
	sup_batch_norm_declare(&b->bn2, m, join(m, n, prefix, "bn2"), width, true);
	if (bottleneck)
		sup_batch_norm_declare(&b->bn3, m, join(m, n, prefix, "bn3"), out, true);
	if (b->has_down) {
		/* torchvision: downsample = nn.Sequential(conv1x1, BatchNorm2d) -> .0 and .1 */
		conv_declare(&b->down_conv, m, join(m, n, prefix, "downsample.0"), in, out, 1, stride, 0);
		sup_batch_norm_declare(&b->down_bn, m, join(m, n, prefix, "downsample.1"), out, true);
	}
}

int sup_resnet_declare(struct sup_resnet *e, struct sup_model *m, const char *prefix,
		       const struct sup_resnet_config *cfg)
{
	prefix = prefix ? prefix : "";
	*e = (struct sup_resnet){ .cfg = *cfg };
	if (!e->cfg.in_channels)
		e->cfg.in_channels = 3;
	const int d = cfg->depth;
	if (d != 18 && d != 34 && d != 50)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: ResNet depth must be 18, 34 or 50, not %d", prefix, d);
	if (e->cfg.in_channels < 1 || cfg->num_classes < 0 ||
	    (cfg->stem != SUP_RESNET_STEM_IMAGENET && cfg->stem != SUP_RESNET_STEM_CIFAR))
		return sup_model_fail(m, SUP_ERR_ARG, "%s: bad ResNet config (in_channels %lld, num_classes %lld, stem %d)",
				      prefix, (long long)e->cfg.in_channels, (long long)cfg->num_classes, (int)cfg->stem);
	char n[SUP_NAME_MAX], sub[SUP_NAME_MAX];
	if (cfg->stem == SUP_RESNET_STEM_CIFAR)
		conv_declare(&e->conv1, m, join(m, n, prefix, "conv1"), e->cfg.in_channels, 64, 3, 1, 1);
	else
		conv_declare(&e->conv1, m, join(m, n, prefix, "conv1"), e->cfg.in_channels, 64, 7, 2, 3);
	sup_batch_norm_declare(&e->bn1, m, join(m, n, prefix, "bn1"), 64, true);
	const bool bottleneck = d == 50;
	const int *counts = d == 18 ? blocks_18 : blocks_34_50;
	int64_t in = 64;
	for (int s = 0; s < 4; s++) {
		for (int k = 0; k < counts[s]; k++) {
			snprintf(sub, sizeof sub, "layer%d.%d", s + 1, k);
			block_declare(&e->blocks[e->n_blocks++], m, join(m, n, prefix, sub), bottleneck, in, stage_width[s],
				      k == 0 && s > 0 ? 2 : 1);
			in = bottleneck ? 4 * stage_width[s] : stage_width[s];
		}
	}
	e->feat_dim = in;
	if (cfg->num_classes > 0)
		sup_linear_declare(&e->fc, m, join(m, n, prefix, "fc"), in, cfg->num_classes, true);
	return m->err ? -1 : 0;
}

static struct sup_tensor *block_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_resnet_block *b,
					struct sup_tensor *x)
{
	struct sup_tensor *y = sup_relu(c, sup_batch_norm_forward(c, m, &b->bn1, sup_conv2d_forward(c, m, &b->conv1, x)));
	y = sup_batch_norm_forward(c, m, &b->bn2, sup_conv2d_forward(c, m, &b->conv2, y));
	if (b->bottleneck)
		y = sup_batch_norm_forward(c, m, &b->bn3, sup_conv2d_forward(c, m, &b->conv3, sup_relu(c, y)));
	struct sup_tensor *id = b->has_down ? sup_batch_norm_forward(c, m, &b->down_bn,
								      sup_conv2d_forward(c, m, &b->down_conv, x))
					    : x;
	return sup_relu(c, sup_add(c, y, id));
}

struct sup_tensor *sup_resnet_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_resnet *e,
				      struct sup_tensor *x)
{
	x = sup_relu(c, sup_batch_norm_forward(c, m, &e->bn1, sup_conv2d_forward(c, m, &e->conv1, x)));
	if (e->cfg.stem == SUP_RESNET_STEM_IMAGENET) {
		const struct sup_pool2d_args pool = { .kernel = { 3, 3 }, .stride = { 2, 2 }, .padding = { 1, 1 } };
		x = sup_max_pool2d(c, x, &pool);
	}
	for (int i = 0; i < e->n_blocks; i++)
		x = block_forward(c, m, &e->blocks[i], x);
	return sup_mean(c, x, (const int[]){ 2, 3 }, 2, false); /* adaptive avg pool (1, 1) + flatten */
}

struct sup_tensor *sup_resnet_logits(struct sup_ctx *c, struct sup_model *m, const struct sup_resnet *e,
				     struct sup_tensor *x)
{
	if (e->cfg.num_classes <= 0) {
		sup_ctx_fail(c, SUP_ERR_ARG, "resnet_logits: this ResNet was declared without a head (num_classes 0)");
		return NULL;
	}
	return sup_linear_forward(c, m, &e->fc, sup_resnet_forward(c, m, e, x));
}

/* Adds the FLOPs of convolution l on an h x w input to *flops and moves h, w to its output. */
static bool conv_flops(const struct sup_conv2d *l, int64_t n, int64_t *h, int64_t *w, double *flops)
{
	*h = conv_out(*h, l->kh, l->args.stride[0], l->args.padding[0]);
	*w = conv_out(*w, l->kw, l->args.stride[1], l->args.padding[1]);
	*flops += 2.0 * (double)(n * l->out * *h * *w) * (double)(l->in * l->kh * l->kw);
	return *h > 0 && *w > 0;
}

double sup_resnet_flops(const struct sup_resnet *e, int64_t n, int64_t h, int64_t w)
{
	double f = 0;
	if (!conv_flops(&e->conv1, n, &h, &w, &f))
		return -1;
	if (e->cfg.stem == SUP_RESNET_STEM_IMAGENET) {
		h = conv_out(h, 3, 2, 1);
		w = conv_out(w, 3, 2, 1);
	}
	for (int i = 0; i < e->n_blocks; i++) {
		const struct sup_resnet_block *b = &e->blocks[i];
		int64_t bh = h, bw = w, dh = h, dw = w;
		bool ok = conv_flops(&b->conv1, n, &bh, &bw, &f) && conv_flops(&b->conv2, n, &bh, &bw, &f) &&
			  (!b->bottleneck || conv_flops(&b->conv3, n, &bh, &bw, &f)) &&
			  (!b->has_down || conv_flops(&b->down_conv, n, &dh, &dw, &f));
		if (!ok)
			return -1;
		h = bh, w = bw;
	}
	if (e->cfg.num_classes > 0)
		f += 2.0 * (double)(n * e->feat_dim * e->cfg.num_classes);
	return f;
}
