/* Pieces shared by the image instance-contrastive methods (simclr.c, moco.c; the optimizer also
 * by the memory-bank methods, memory_bank.c): the backbone and optimizer chosen by config keys. Internal to src/methods/. The config keys read here must be
 * in the method's schema: encoder.name, encoder.cifar_stem, optim.kind, optim.momentum,
 * optim.weight_decay. */
#ifndef SELFSUP_METHODS_IMAGE_SSL_H
#define SELFSUP_METHODS_IMAGE_SSL_H

#include "selfsup/losses.h"
#include "selfsup/method.h"

#include <stdio.h>
#include <string.h>

#define IMAGE_SSL_ENCODER_CHOICES "convnet|resnet18|resnet34|resnet50"
#define IMAGE_SSL_OPTIM_CHOICES	  "sgd|lars|adam|adamw"

/* An image data set with a backbone that can take it; false with a message otherwise. */
static inline bool image_ssl_check_data(const char *method, const struct sup_data_info *data, char *err,
					size_t err_size)
{
	if (data->modality == SUP_MODALITY_IMAGE && data->channels >= 1 && data->height >= 8 && data->width >= 8)
		return true;
	snprintf(err, err_size, "%s trains on images (data=fashion-mnist, a CIFAR or ImageFolder folder), not on %s",
		 method, data->name);
	return false;
}

static inline int image_ssl_declare_encoder(struct sup_image_encoder *e, struct sup_model *m, const char *prefix,
					    const struct sup_config *cfg, const struct sup_data_info *data)
{
	const struct sup_image_encoder_config ec = {
	    .name = sup_config_str(cfg, "encoder.name"),
	    .in_channels = data->channels,
	    .cifar_stem = sup_config_bool(cfg, "encoder.cifar_stem"),
	};
	return sup_image_encoder_declare(e, m, prefix, &ec);
}

/* LARS and the Adam(W) variants exclude biases and norm parameters from weight decay (and LARS
 * from the trust ratio), as SimCLR, appendix B.1, does; SGD decays every parameter (PyTorch). */
static inline struct sup_optim_config image_ssl_optim_config(const struct sup_config *cfg)
{
	static const enum sup_optim_kind kinds[] = {SUP_OPTIM_SGD, SUP_OPTIM_LARS, SUP_OPTIM_ADAM, SUP_OPTIM_ADAMW};
	enum sup_optim_kind k = kinds[sup_config_enum(cfg, "optim.kind")];
	return (struct sup_optim_config){
	    .kind = k,
	    .momentum = sup_config_float(cfg, "optim.momentum"),
	    .weight_decay = sup_config_float(cfg, "optim.weight_decay"),
	    .exclude_no_decay = k != SUP_OPTIM_SGD,
	};
}

/* The step statistics of the in-batch / queue InfoNCE methods (SimCLR, MoCo): the loss and the
 * contrastive accuracy and mean positive / negative similarity of the loss's logits. */
static inline void image_ssl_contrastive_stats(struct sup_step_stats *out, const struct sup_tensor *loss,
					       const struct sup_contrastive_stats *cs)
{
	*out = (struct sup_step_stats){ .loss = sup_tensor_get(loss, 0),
					.n = 3,
					.names = { "acc", "pos_sim", "neg_sim" },
					.values = { cs->acc, cs->pos_sim, cs->neg_sim } };
}

#endif
