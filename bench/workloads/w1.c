/* W1 simclr-convnet (shared/WORKLOADS.md): SimCLR (Chen et al. 2020) on Fashion-MNIST-sized
 * images: 2 views x B = 256 images 1 x 28 x 28 through the W1 ConvNet as one batch of 512,
 * projector Linear(128, 128) + BN + ReLU + Linear(128, 64), NT-Xent with tau = 0.5, SGD momentum
 * 0.9, lr 0.1, weight decay 1e-4. */
#include "simclr.h"

static const struct simclr_spec w1_spec = {
	.enc = { .name = "convnet", .in_channels = 1 },
	.B = 256, .C = 1, .HW = 28,
	.hidden = 128, .out = 64,
	.tau = 0.5, .lr = 0.1, .weight_decay = 1e-4,
};

static void *w1_setup(uint64_t seed, char *err, size_t err_size)
{
	return simclr_new(&w1_spec, seed, sup_allocator_default(), err, err_size);
}

static double w1_step(void *state, struct sup_ctx *c)
{
	return simclr_step(state, c);
}

static void w1_teardown(void *state)
{
	simclr_free(state);
}

static double w1_flops(void)
{
	return simclr_flops(&w1_spec);
}

const struct workload workload_w1 = { "W1", "simclr-convnet", w1_setup, w1_step, w1_teardown, w1_flops };
