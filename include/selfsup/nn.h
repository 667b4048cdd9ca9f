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
/* Records the model's first error (later ones are dropped); returns -1 for `return` chaining. */
int sup_model_fail(struct sup_model *m, enum sup_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
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

/* ---- modules -----------------------------------------------------------------------------------
 * A module is a small struct of tensor indices into its model plus hyper-parameters. Declaring
 * (sup_<module>_declare) adds its tensors under a name prefix; forward takes the context, the
 * (built) model and the input, and follows the model's train/eval mode. Declaration functions
 * return 0, or -1 with the model's sticky error set. Layouts and names follow PyTorch so that
 * checkpoints load there: Linear weight [out, in], Conv2d weight [out, in/groups, kh, kw]. */

#include "selfsup/ops.h"

struct sup_linear {
	int weight, bias; /* bias = -1 when absent */
	int64_t in, out;
};
/* PyTorch's default initialisation: kaiming_uniform(a = sqrt(5)) weight, U(+-1/sqrt(in)) bias. */
int sup_linear_declare(struct sup_linear *l, struct sup_model *m, const char *prefix, int64_t in, int64_t out,
		       bool bias);
/* x [..., in] -> [..., out] */
struct sup_tensor *sup_linear_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_linear *l,
				      struct sup_tensor *x);

struct sup_conv2d {
	int weight, bias;
	int64_t in, out;
	int kh, kw;
	struct sup_conv2d_args args;
	bool transposed; /* ConvTranspose2d: weight [in, out/groups, kh, kw] */
};
int sup_conv2d_declare(struct sup_conv2d *l, struct sup_model *m, const char *prefix, int64_t in, int64_t out,
		       int kernel, int stride, int padding, bool bias);
int sup_conv_transpose2d_declare(struct sup_conv2d *l, struct sup_model *m, const char *prefix, int64_t in,
				 int64_t out, int kernel, int stride, int padding, int output_padding, bool bias);
struct sup_tensor *sup_conv2d_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_conv2d *l,
				      struct sup_tensor *x);

/* BatchNorm1d/2d (axis 1 of [N, C] or [N, C, H, W]): weight/bias (NO_DECAY) and the buffers
 * running_mean, running_var, as PyTorch names them. */
struct sup_batch_norm {
	int weight, bias, running_mean, running_var; /* weight = bias = -1 when not affine */
	int64_t features;
	double momentum, eps;
};
int sup_batch_norm_declare(struct sup_batch_norm *l, struct sup_model *m, const char *prefix, int64_t features,
			   bool affine);
struct sup_tensor *sup_batch_norm_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_batch_norm *l,
					  struct sup_tensor *x);

struct sup_layer_norm {
	int weight, bias;
	int64_t features;
	double eps;
};
int sup_layer_norm_declare(struct sup_layer_norm *l, struct sup_model *m, const char *prefix, int64_t features);
struct sup_tensor *sup_layer_norm_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_layer_norm *l,
					  struct sup_tensor *x);

struct sup_embedding {
	int weight;
	int64_t num, dim;
};
/* Initialised N(0, std^2) (BERT/GPT use std = 0.02; PyTorch's default is 1). */
int sup_embedding_declare(struct sup_embedding *l, struct sup_model *m, const char *prefix, int64_t num,
			  int64_t dim, double std);
struct sup_tensor *sup_embedding_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_embedding *l,
					 struct sup_tensor *ids);

/* Dropout follows the model's mode. */
struct sup_tensor *sup_dropout_forward(struct sup_ctx *c, struct sup_model *m, double p, struct sup_tensor *x);

/* An MLP head: Linear(+BatchNorm1d)+ReLU between layers, a plain Linear last (SimCLR's
 * projection head, BYOL's/SimSiam's projector and predictor). dims has n_layers + 1 sizes.
 * Names are those of the equivalent nn.Sequential: each hidden block is Linear, [BatchNorm1d],
 * ReLU at consecutive indices (prefix.0.weight, prefix.1.running_mean, ...), then the last
 * Linear and, with last_bn, its BatchNorm1d. */
#define SUP_MLP_MAX_LAYERS 4
struct sup_mlp {
	int n_layers;
	struct sup_linear fc[SUP_MLP_MAX_LAYERS];
	struct sup_batch_norm bn[SUP_MLP_MAX_LAYERS];
	bool batch_norm;   /* BN after every hidden Linear (bias then omitted) */
	bool last_bn;      /* BN (not affine) after the last Linear too (SimSiam's projector) */
};
int sup_mlp_declare(struct sup_mlp *l, struct sup_model *m, const char *prefix, int n_layers, const int64_t *dims,
		    bool batch_norm, bool last_bn);
struct sup_tensor *sup_mlp_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_mlp *l,
				   struct sup_tensor *x);

/* ---- attention, Transformer blocks, recurrent layers (src/nn/attention.c, transformer.c, rnn.c) */

/* (end of the attention / Transformer / RNN section) */

/* ---- graph, masked and quantising layers (src/nn/graph.c, masked.c, vq.c) -------------------- */

/* (end of the graph / masked / VQ section) */

/* ---- encoders (src/nn/convnet.c, resnet.c) --------------------------------------------------- */

/* Image encoders: x [N, C, H, W] -> features [N, feat_dim]. Each has a config, a declare that
 * adds its tensors under a prefix (0, or -1 with the model's sticky error), and a forward that
 * follows the model's train/eval mode (batch-norm statistics). docs/nn/encoders.md has the
 * architectures and the parameter counts they are tested against. */

/* The small ConvNet of workload W1: four conv3x3 (no bias) + BatchNorm2d + ReLU blocks with
 * in -> 32 (s1) -> 64 (s2) -> 128 (s2) -> 128 (s1) channels, then global average pooling -> 128.
 * Names are those of the equivalent nn.Sequential: prefix.0 conv, prefix.1 bn, (2 ReLU), 3, 4,
 * ..., 10. Convolutions get PyTorch's default initialisation. */
#define SUP_CONVNET_BLOCKS 4
struct sup_convnet_config {
	int64_t in_channels; /* 1 (Fashion-MNIST) or 3; 0 means 1 */
};
struct sup_convnet {
	struct sup_conv2d conv[SUP_CONVNET_BLOCKS];
	struct sup_batch_norm bn[SUP_CONVNET_BLOCKS];
	int64_t feat_dim; /* 128 */
};
int sup_convnet_declare(struct sup_convnet *e, struct sup_model *m, const char *prefix,
			const struct sup_convnet_config *cfg);
struct sup_tensor *sup_convnet_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_convnet *e,
				       struct sup_tensor *x);

/* ResNet-18/34/50 (He, Zhang, Ren, Sun 2016, Table 1) as torchvision builds it: BasicBlock
 * (18, 34) or Bottleneck with expansion 4 and the stride on its 3x3 conv (50), a 1x1 conv + BN
 * projection shortcut where the shape changes, global average pooling, an optional Linear head.
 * Tensor names are torchvision's (conv1.weight, bn1.running_mean, layer2.0.downsample.0.weight,
 * fc.weight), and so is the initialisation: convolutions kaiming normal (fan_out), BN weight 1
 * and bias 0, the head PyTorch's Linear default. */
enum sup_resnet_stem {
	SUP_RESNET_STEM_IMAGENET, /* conv7x7 s2 p3 + BN + ReLU + maxpool3x3 s2 p1 */
	SUP_RESNET_STEM_CIFAR,    /* conv3x3 s1 p1 + BN + ReLU, no max-pool (SimCLR's CIFAR variant) */
};
struct sup_resnet_config {
	int depth;               /* 18, 34 or 50 */
	int64_t in_channels;     /* 0 means 3 */
	enum sup_resnet_stem stem;
	int64_t num_classes;     /* > 0: a Linear head "fc" (sup_resnet_logits); 0: none */
};
struct sup_resnet_block {
	struct sup_conv2d conv1, conv2, conv3; /* conv3 only in a Bottleneck */
	struct sup_batch_norm bn1, bn2, bn3;
	struct sup_conv2d down_conv;           /* projection shortcut, when has_down */
	struct sup_batch_norm down_bn;
	bool bottleneck, has_down;
};
#define SUP_RESNET_MAX_BLOCKS 16 /* ResNet-34/50: 3 + 4 + 6 + 3 */
struct sup_resnet {
	struct sup_resnet_config cfg;
	struct sup_conv2d conv1;
	struct sup_batch_norm bn1;
	struct sup_resnet_block blocks[SUP_RESNET_MAX_BLOCKS];
	int n_blocks;
	struct sup_linear fc; /* when cfg.num_classes > 0 */
	int64_t feat_dim;     /* 512 (18, 34) or 2048 (50) */
};
int sup_resnet_declare(struct sup_resnet *e, struct sup_model *m, const char *prefix,
		       const struct sup_resnet_config *cfg);
/* x [N, C, H, W] -> pooled features [N, feat_dim] (the head is not applied). */
struct sup_tensor *sup_resnet_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_resnet *e,
				      struct sup_tensor *x);
/* x -> class logits [N, num_classes] through the head (an error when the model has none). */
struct sup_tensor *sup_resnet_logits(struct sup_ctx *c, struct sup_model *m, const struct sup_resnet *e,
				     struct sup_tensor *x);

/* The backbone a method names in its config ("convnet", "resnet18", "resnet34", "resnet50"). */
enum sup_image_encoder_kind {
	SUP_IMAGE_ENCODER_CONVNET,
	SUP_IMAGE_ENCODER_RESNET18,
	SUP_IMAGE_ENCODER_RESNET34,
	SUP_IMAGE_ENCODER_RESNET50,
	SUP_IMAGE_ENCODER_KIND_COUNT
};
struct sup_image_encoder_config {
	const char *name;    /* one of the names above */
	int64_t in_channels; /* 0 means the encoder's default (convnet 1, resnets 3) */
	bool cifar_stem;     /* resnets: the CIFAR stem (small images) instead of ImageNet's */
};
struct sup_image_encoder {
	enum sup_image_encoder_kind kind;
	union {
		struct sup_convnet convnet;
		struct sup_resnet resnet;
	} u;
	int64_t feat_dim;
};
/* The kind named `name`, or -1. */
int sup_image_encoder_kind_from_name(const char *name);
const char *sup_image_encoder_kind_name(enum sup_image_encoder_kind kind);
/* An unknown name is a model error that lists the valid ones. No classification head. */
int sup_image_encoder_declare(struct sup_image_encoder *e, struct sup_model *m, const char *prefix,
			      const struct sup_image_encoder_config *cfg);
struct sup_tensor *sup_image_encoder_forward(struct sup_ctx *c, struct sup_model *m,
					     const struct sup_image_encoder *e, struct sup_tensor *x);
/* Forward floating-point operations (2 per multiply-add) of the convolutions and the head of
 * one pass over n images of h x w; element-wise work (BN, ReLU, pooling, additions) is left out.
 * Returns -1 for a shape the encoder cannot take (too small). */
double sup_convnet_flops(const struct sup_convnet *e, int64_t n, int64_t h, int64_t w);
double sup_resnet_flops(const struct sup_resnet *e, int64_t n, int64_t h, int64_t w);
double sup_image_encoder_flops(const struct sup_image_encoder *e, int64_t n, int64_t h, int64_t w);

/* (end of the encoders section) */

#ifdef __cplusplus
}
#endif
#endif
