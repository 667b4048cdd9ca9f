/* selfsup nn layer. Models: every parameter of a module tree in one aligned f32 block, gradients in a
 * second block of the same layout, non-trainable state (batch-norm running statistics, queues)
 * in a third. Each parameter is a named view (PyTorch-style name) into the blocks, so zero-grad
 * is one memset, an optimizer is one loop, and the EMA of a momentum encoder is one loop over two
 * models of the same layout.
 *
 * Life cycle: sup_model_init -> modules declare their tensors (sup_model_add) -> sup_model_build
 * allocates the blocks and runs the initialisers -> tensors are reached by index
 * (sup_model_tensor) -> sup_model_deinit. Declaring after build is an error. */
#ifndef SELFSUP_NN_H
#define SELFSUP_NN_H

#include "selfsup/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SUP_NAME_MAX 128

/* Initialisers (PyTorch's names and defaults; a = the parameter each one takes). */
enum sup_init {
	SUP_INIT_ZEROS,
	SUP_INIT_ONES,
	SUP_INIT_CONST,           /* a */
	SUP_INIT_UNIFORM,         /* U(-a, a) */
	SUP_INIT_NORMAL,          /* N(0, a^2) */
	SUP_INIT_TRUNC_NORMAL,    /* N(0, a^2) truncated to [-2a, 2a] */
	SUP_INIT_KAIMING_UNIFORM, /* U(-b, b), b = sqrt(6 / ((1 + a^2) fan_in)) (PyTorch's Linear/Conv: a = sqrt(5)) */
	SUP_INIT_KAIMING_NORMAL,  /* N(0, 2 / fan_out) (ResNet convolutions, fan_out mode) */
	SUP_INIT_XAVIER_UNIFORM,  /* U(-b, b), b = a sqrt(6 / (fan_in + fan_out)) (a = gain) */
	SUP_INIT_FAN_IN_UNIFORM,  /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default bias) */
	SUP_INIT_COUNT
};

enum sup_tensor_kind {
	SUP_KIND_PARAM,  /* trainable: has a gradient, seen by optimizers */
	SUP_KIND_BUFFER, /* state saved with the model, no gradient (running stats, queues, banks) */
};

/* Flags of a parameter. */
#define SUP_PARAM_NO_DECAY 1u /* biases and norm scales: LARS/AdamW weight-decay exclusion */

struct sup_model_entry {
	char name[SUP_NAME_MAX];
	enum sup_tensor_kind kind;
	unsigned flags;
	enum sup_init init;
	double init_a;
	int64_t fan_in, fan_out; /* for the scaled initialisers; 0 = derived from the shape */
	int64_t offset;          /* elements into the param or buffer block */
	struct sup_tensor t;     /* valid after build; t.grad points into the gradient block */
};

struct sup_model {
	struct sup_allocator alloc;
	struct sup_model_entry *entries;
	int n_entries, cap_entries;
	float *params, *grads, *buffers; /* blocks, 64-byte aligned, NULL before build */
	int64_t n_params, n_buffers;     /* elements */
	bool built;
	bool training; /* train/eval mode of every module in the model */
	enum sup_status err; /* sticky first declaration error */
	char err_msg[256];
};

void sup_model_init(struct sup_model *m, struct sup_allocator alloc);
void sup_model_deinit(struct sup_model *m);

/* Declares a tensor; returns its index, or -1 with the model's sticky error set (duplicate
 * name, bad shape, already built, out of memory). The name is prefix + "." + name when prefix is
 * non-empty. */
int sup_model_add(struct sup_model *m, const char *prefix, const char *name, enum sup_tensor_kind kind,
		  int ndim, const int64_t *shape, enum sup_init init, double init_a, unsigned flags);
/* Overrides the fans used by the scaled initialisers (e.g. convolution weights). */
void sup_model_set_fans(struct sup_model *m, int idx, int64_t fan_in, int64_t fan_out);

/* Allocates the blocks and initialises every tensor from rng. Returns the sticky status. */
enum sup_status sup_model_build(struct sup_model *m, struct sup_rng *rng);

struct sup_tensor *sup_model_tensor(struct sup_model *m, int idx);
int sup_model_find(const struct sup_model *m, const char *name); /* -1 if absent */
void sup_model_zero_grad(struct sup_model *m);
void sup_model_set_training(struct sup_model *m, bool training);

/* Copies parameters and buffers from src (same layout: same names and shapes in order). */
enum sup_status sup_model_copy(struct sup_model *dst, const struct sup_model *src);
/* Momentum-encoder update: dst = m dst + (1 - m) src over the parameter block (MoCo eq. 2,
 * BYOL). Buffers are left alone. Same layout required. */
enum sup_status sup_model_ema(struct sup_model *dst, const struct sup_model *src, double m);

#ifdef __cplusplus
}
#endif
#endif
