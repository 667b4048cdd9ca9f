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

/* Multi-head attention (Vaswani et al. 2017, §3.2). Parameters prefix.{q,k,v,out}_proj.{weight,
 * bias}, each Linear(D, D). Masks are additive with the finite value SUP_ATTN_MASKED, so a fully
 * masked query row gives finite outputs and gradients (no NaN); see docs/nn/attention.md. */
#define SUP_ATTN_MASKED (-1e9)
struct sup_attention {
	struct sup_linear q_proj, k_proj, v_proj, out_proj;
	int64_t dim, heads;
	double dropout; /* on the attention probabilities, training mode only */
};
/* dim % heads == 0. */
int sup_attention_declare(struct sup_attention *a, struct sup_model *m, const char *prefix, int64_t dim,
			  int64_t heads, double dropout);
/* x [B, T, D] queries; kv [B, S, D] the key/value source (NULL: self-attention, kv = x).
 * causal: query t sees keys s <= t (top-left aligned when T != S). key_padding: u8 [B, S],
 * nonzero = padding (never attended to), or NULL. Returns [B, T, D]. */
struct sup_tensor *sup_attention_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_attention *a,
					 struct sup_tensor *x, struct sup_tensor *kv, bool causal,
					 const struct sup_tensor *key_padding);

/* Pre-LN Transformer block. Encoder: x + attn(ln1(x)); x + mlp(ln2(x)). Decoder (cross = true):
 * causal self-attention, then x + cross_attn(ln_cross(x), memory), then the MLP. The MLP is
 * mlp.fc1 Linear(D, F), GELU (exact erf unless gelu_tanh), mlp.fc2 Linear(F, D); dropout on every
 * residual branch. Names: prefix.ln1, .attn, [.ln_cross, .cross_attn], .ln2, .mlp.fc1, .mlp.fc2. */
struct sup_transformer_block {
	struct sup_layer_norm ln1, ln_cross, ln2;
	struct sup_attention attn, cross_attn;
	struct sup_linear fc1, fc2;
	int64_t dim, ffn;
	double dropout;
	bool has_cross;
	bool gelu_tanh; /* false (default): exact erf GELU */
};
int sup_transformer_block_declare(struct sup_transformer_block *b, struct sup_model *m, const char *prefix,
				  int64_t dim, int64_t heads, int64_t ffn, double dropout, bool cross);
/* x [B, T, D] -> [B, T, D]. causal/padding (u8 [B, T] or NULL) apply to the self-attention;
 * memory [B, S, D] and memory_padding (u8 [B, S] or NULL) to the cross-attention; memory must be
 * given exactly when the block has cross-attention. A decoder block: causal = true + memory. */
struct sup_tensor *sup_transformer_block_forward(struct sup_ctx *c, struct sup_model *m,
						 const struct sup_transformer_block *b, struct sup_tensor *x,
						 bool causal, const struct sup_tensor *padding,
						 struct sup_tensor *memory, const struct sup_tensor *memory_padding);

/* Transformer text encoder (BERT-style; causal = GPT-style): tok_emb + pos_emb (N(0, 0.02)),
 * embedding dropout, blocks.0 .. blocks.{layers-1}, ln_f; logits tied to tok_emb. */
#define SUP_TEXT_ENCODER_MAX_LAYERS 24
struct sup_text_encoder_config {
	int64_t vocab, max_len, dim, heads, ffn;
	int layers;
	double dropout;
	bool causal;
	bool gelu_tanh;
};
struct sup_text_encoder {
	struct sup_text_encoder_config cfg;
	struct sup_embedding tok_emb, pos_emb;
	struct sup_transformer_block blocks[SUP_TEXT_ENCODER_MAX_LAYERS];
	struct sup_layer_norm ln_f;
};
int sup_text_encoder_declare(struct sup_text_encoder *e, struct sup_model *m, const char *prefix,
			     const struct sup_text_encoder_config *cfg);
/* ids [B, T] (i64/i32, T <= max_len), padding u8 [B, T] or NULL -> hidden states [B, T, D] (after ln_f). */
struct sup_tensor *sup_text_encoder_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_text_encoder *e,
					    struct sup_tensor *ids, const struct sup_tensor *padding);
/* Tied output projection: h [..., D] -> logits [..., vocab] = h tok_emb^T. */
struct sup_tensor *sup_text_encoder_logits(struct sup_ctx *c, struct sup_model *m, const struct sup_text_encoder *e,
					   struct sup_tensor *h);

/* GRU / LSTM over batch-first sequences, PyTorch's parameter names, layouts, gate order (LSTM
 * i, f, g, o; GRU r, z, n) and initialisation U(-1/sqrt(H), 1/sqrt(H)): prefix.weight_ih_l{k}
 * [G H, I], weight_hh_l{k} [G H, H], bias_ih_l{k}, bias_hh_l{k} [G H]; G = 3 (GRU) or 4 (LSTM). */
#define SUP_RNN_MAX_LAYERS 4
struct sup_rnn {
	int w_ih[SUP_RNN_MAX_LAYERS], w_hh[SUP_RNN_MAX_LAYERS], b_ih[SUP_RNN_MAX_LAYERS], b_hh[SUP_RNN_MAX_LAYERS];
	int64_t input, hidden;
	int layers;
	int gates; /* 3 = GRU, 4 = LSTM */
};
int sup_gru_declare(struct sup_rnn *r, struct sup_model *m, const char *prefix, int64_t input, int64_t hidden,
		    int layers);
int sup_lstm_declare(struct sup_rnn *r, struct sup_model *m, const char *prefix, int64_t input, int64_t hidden,
		     int layers);
/* x [B, T, I] -> every hidden state of the last layer [B, T, H]. h0 (and c0) [layers, B, H] or
 * NULL for zeros. *h_n (and *c_n), when the pointer is non-NULL, receive the last states
 * [layers, B, H]. */
struct sup_tensor *sup_gru_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_rnn *r,
				   struct sup_tensor *x, struct sup_tensor *h0, struct sup_tensor **h_n);
struct sup_tensor *sup_lstm_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_rnn *r,
				    struct sup_tensor *x, struct sup_tensor *h0, struct sup_tensor *c0,
				    struct sup_tensor **h_n, struct sup_tensor **c_n);

/* (end of the attention / Transformer / RNN section) */

/* ---- graph, masked and quantising layers (src/nn/graph.c, masked.c, vq.c) -------------------- */

/* (end of the graph / masked / VQ section) */

/* ---- encoders (src/nn/convnet.c, resnet.c) --------------------------------------------------- */

/* (end of the encoders section) */

#ifdef __cplusplus
}
#endif
#endif
