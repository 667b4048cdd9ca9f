/* The image-encoder selector: methods name their backbone in the config ("convnet", "resnet18",
 * ...) and get features [N, feat_dim] without knowing which one runs. */
#include "selfsup/nn.h"

#include <string.h>

static const char *const kind_names[] = { "convnet", "resnet18", "resnet34", "resnet50" };
_Static_assert(sizeof kind_names / sizeof kind_names[0] == SUP_IMAGE_ENCODER_KIND_COUNT,
	       "one name per image encoder kind");

int sup_image_encoder_kind_from_name(const char *name)
{
	for (int k = 0; name && k < SUP_IMAGE_ENCODER_KIND_COUNT; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

const char *sup_image_encoder_kind_name(enum sup_image_encoder_kind kind)
{
	return (unsigned)kind < SUP_IMAGE_ENCODER_KIND_COUNT ? kind_names[kind] : "?";
}

int sup_image_encoder_declare(struct sup_image_encoder *e, struct sup_model *m, const char *prefix,
			      const struct sup_image_encoder_config *cfg)
{
	int k = sup_image_encoder_kind_from_name(cfg->name);
	if (k < 0)
		return sup_model_fail(m, SUP_ERR_ARG,
				      "%s: unknown image encoder '%s' (valid: convnet, resnet18, resnet34, resnet50)",
				      prefix ? prefix : "", cfg->name ? cfg->name : "(null)");
	memset(e, 0, sizeof *e);
	e->kind = (enum sup_image_encoder_kind)k;
	if (e->kind == SUP_IMAGE_ENCODER_CONVNET) {
		const struct sup_convnet_config cc = { .in_channels = cfg->in_channels };
		sup_convnet_declare(&e->u.convnet, m, prefix, &cc);
		e->feat_dim = e->u.convnet.feat_dim;
	} else {
		static const int depth[] = { 0, 18, 34, 50 };
		const struct sup_resnet_config rc = {
			.depth = depth[k],
			.in_channels = cfg->in_channels,
			.stem = cfg->cifar_stem ? SUP_RESNET_STEM_CIFAR : SUP_RESNET_STEM_IMAGENET,
		};
		sup_resnet_declare(&e->u.resnet, m, prefix, &rc);
		e->feat_dim = e->u.resnet.feat_dim;
	}
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_image_encoder_forward(struct sup_ctx *c, struct sup_model *m,
					     const struct sup_image_encoder *e, struct sup_tensor *x)
{
	return e->kind == SUP_IMAGE_ENCODER_CONVNET ? sup_convnet_forward(c, m, &e->u.convnet, x)
						    : sup_resnet_forward(c, m, &e->u.resnet, x);
}

double sup_image_encoder_flops(const struct sup_image_encoder *e, int64_t n, int64_t h, int64_t w)
{
	return e->kind == SUP_IMAGE_ENCODER_CONVNET ? sup_convnet_flops(&e->u.convnet, n, h, w)
						    : sup_resnet_flops(&e->u.resnet, n, h, w);
}
