/* W2 resnet18-cifar-simclr (shared/WORKLOADS.md): SimCLR (Chen et al. 2020, appendix B.9: the
 * CIFAR-10 ResNet-18 with a 3x3 stride-1 stem and no max-pool) on 2 views x B = 32 images
 * 3 x 32 x 32 as one batch of 64, projector Linear(512, 512) + BN + ReLU + Linear(512, 128),
 * NT-Xent with tau = 0.2, SGD momentum 0.9, lr 0.1, no weight decay. Stage changes use the
 * 1x1 conv + BN projection shortcut (sup_resnet). */
#include "simclr.h"

static const struct simclr_spec w2_spec = {
	.enc = { .name = "resnet18", .in_channels = 3, .cifar_stem = true },
	.B = 32, .C = 3, .HW = 32,
	.hidden = 512, .out = 128,
	.tau = 0.2, .lr = 0.1, .weight_decay = 0.0,
};

static void *w2_setup(uint64_t seed, char *err, size_t err_size)
{
	return simclr_new(&w2_spec, seed, sup_allocator_default(), err, err_size);
}

static double w2_step(void *state, struct sup_ctx *c)
{
	return simclr_step(state, c);
}

static void w2_teardown(void *state)
{
	simclr_free(state);
}

static double w2_flops(void)
{
	return simclr_flops(&w2_spec);
}

const struct workload workload_w2 = { "W2", "resnet18-cifar-simclr", w2_setup, w2_step, w2_teardown, w2_flops };
