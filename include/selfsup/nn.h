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

struct sup_bn_sync;

struct sup_model {
	struct sup_allocator alloc;
	struct sup_model_entry *entries;
	int n_entries, cap_entries;
	float *params, *grads, *buffers; /* blocks, 64-byte aligned, NULL before build */
	int64_t n_params, n_buffers;     /* elements */
	bool built;
	bool training; /* train/eval mode of every module in the model */
	/* Synchronised batch statistics for every BatchNorm of the model (data-parallel training);
	 * NULL = local statistics. See struct sup_bn_sync in ops.h. */
	const struct sup_bn_sync *bn_sync;
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

/* ---- data parallelism (struct sup_comm, base.h; docs/dist.md) ----------------------------------
 * Gradient averaging: the gradient block := its mean over the processes of comm, reduced in
 * buckets of bucket_elems floats (<= 0: 1 Mi). Call it between backward and the optimizer step
 * of a data-parallel step; each process's loss must be its shard's share of the global loss
 * (the mean over its rows when shards are equal), so the mean of the gradients is the gradient
 * of the global batch. Parameters then stay identical on every process. A NULL or size-1 comm
 * does nothing. SUP_ERR_COMM when a collective fails (the gradients are then undefined). */
enum sup_status sup_model_allreduce_grads(struct sup_model *m, const struct sup_comm *comm, int64_t bucket_elems);

/* A struct sup_bn_sync (ops.h) whose allreduce is comm's: set model->bn_sync to it for
 * synchronised batch norm (SimCLR's global BN). comm is borrowed and must outlive the hook. */
struct sup_bn_sync sup_bn_sync_of_comm(const struct sup_comm *comm);

/* Running statistics after sequential sub-batch updates split over processes (MoCo's shuffling
 * BN on K processes, docs/dist.md). Contract: every buffer of m is a batch-norm running
 * statistic of momentum `momentum` (running = (1 - mom) running + mom batch); before[] is the
 * buffer block at the start of the step, the same on every process; since then this process
 * updated every buffer `updates` times (its consecutive share of the step's sub-batches, the
 * processes holding them in rank order). Afterwards every process holds what one process applying
 * all K * updates updates in that order would hold:
 *     r = a^K r0 + sum_k a^(K-1-k) (r_k - a r0),   a = (1 - mom)^updates,
 * (the EMA is linear, so each process's contribution is its delta decayed by the updates made
 * after it). SUP_ERR_COMM when the collective fails. */
enum sup_status sup_model_merge_running_stats(struct sup_model *m, const float *before, int64_t updates,
					      double momentum, const struct sup_comm *comm);

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
/* As sup_text_encoder_forward, and states[0 .. n_states) receive the states [B, T, D] of the last
 * n_states layers, oldest first: states[n_states - 1] is the returned output (after ln_f), the
 * others are the outputs of blocks layers - n_states + 1 .. layers - 1 (the residual stream).
 * 1 <= n_states <= cfg.layers. Feature-based use of the hidden layers: Devlin et al. 2019 §5.3. */
struct sup_tensor *sup_text_encoder_forward_states(struct sup_ctx *c, struct sup_model *m,
						   const struct sup_text_encoder *e, struct sup_tensor *ids,
						   const struct sup_tensor *padding, int n_states,
						   struct sup_tensor **states);
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

/* Buffers that can only be filled after sup_model_build (PixelCNN and MADE masks, the EMA
 * statistics of a VQ codebook) are declared NaN; forgetting their set-up call makes the forward
 * (or update) fail with SUP_ERR_STATE instead of silently running unmasked. */

/* GCN layer (Kipf & Welling 2017, eq. 2): H' = Â H W + b, Â a normalised sparse adjacency
 * (built by the data layer). weight [in, out] named "weight" (the layout of the paper's code:
 * H @ W without a transpose; PyTorch Geometric's "lin.weight" is its transpose), bias [out]
 * "bias". Glorot-uniform weight and zero bias, as in the paper's code. */
struct sup_gcn {
	int weight, bias; /* bias = -1 when absent */
	int64_t in, out;
};
int sup_gcn_declare(struct sup_gcn *l, struct sup_model *m, const char *prefix, int64_t in, int64_t out, bool bias);
/* adj: Â as a CSR [N, N] with values in the features' dtype (must outlive the backward).
 * Exactly one of x (dense [N, in]) and xs (CSR [N, in]) is non-NULL. The product runs as
 * Â (H W) when out < in (always for sparse features: X W = sup_spmm(X, W)), else (Â H) W.
 * Returns [N, out]. */
struct sup_tensor *sup_gcn_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_gcn *l,
				   const struct sup_csr *adj, struct sup_tensor *x, const struct sup_csr *xs);

enum sup_gcn_act { SUP_GCN_ACT_NONE, SUP_GCN_ACT_RELU, SUP_GCN_ACT_PRELU, SUP_GCN_ACT_COUNT };

/* GCN encoder: 1 or 2 GCN layers with an activation between them (and after the last one
 * when act_last). DGI: 1 layer, PReLU with one slope, act_last; GAE: 2 layers, ReLU between.
 * dropout (training mode only) applies to the input of every layer, as in Kipf & Welling's code;
 * on sparse features it drops stored values. Names: prefix.layers.<i>.weight/.bias and, for
 * PReLU, prefix.acts.<i>.weight ([1], initialised 0.25 as PyTorch's nn.PReLU). */
#define SUP_GCN_MAX_LAYERS 2
struct sup_gcn_encoder {
	int n_layers;
	struct sup_gcn layer[SUP_GCN_MAX_LAYERS];
	int slope[SUP_GCN_MAX_LAYERS]; /* PReLU slope after layer i, -1 when none */
	enum sup_gcn_act act;
	bool act_last;
	double dropout;
};
/* dims has n_layers + 1 sizes (input, hidden..., output). */
int sup_gcn_encoder_declare(struct sup_gcn_encoder *e, struct sup_model *m, const char *prefix, int n_layers,
			    const int64_t *dims, enum sup_gcn_act act, bool act_last, double dropout);
struct sup_tensor *sup_gcn_encoder_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_gcn_encoder *e,
					   const struct sup_csr *adj, struct sup_tensor *x, const struct sup_csr *xs);

/* Bilinear discriminator of DGI (Velickovic et al. 2019, §3.4): score_i = h_i^T W s + b, laid out
 * as PyTorch's nn.Bilinear(D, D, 1): weight [1, D, D], bias [1]; initialised as DGI's code
 * (Xavier-uniform weight, zero bias). Computed as h @ (W s), never materialising N x D x D. */
struct sup_bilinear {
	int weight, bias; /* bias = -1 when absent */
	int64_t dim;
};
int sup_bilinear_declare(struct sup_bilinear *l, struct sup_model *m, const char *prefix, int64_t dim, bool bias);
/* h [N, D]; s [D] (one summary shared by every row) or [N, D] (one per row). Returns [N]. */
struct sup_tensor *sup_bilinear_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_bilinear *l,
					struct sup_tensor *h, struct sup_tensor *s);

/* PixelCNN masked convolution (van den Oord et al. 2016, "Pixel Recurrent Neural Networks",
 * §3.4): a stride-1 "same" Conv2d (odd kernel, padding kernel / 2) whose weight is multiplied by
 * a fixed mask buffer "mask" [out, in, k, k]. Type A (first layer) hides the centre pixel and
 * everything after it in raster order; type B (later layers) shows the centre. One channel group
 * (grayscale): the mask is the same for every (out, in) pair. */
enum sup_pixel_mask { SUP_PIXEL_MASK_A, SUP_PIXEL_MASK_B };
struct sup_masked_conv2d {
	struct sup_conv2d conv;
	int mask;
	enum sup_pixel_mask type;
};
int sup_masked_conv2d_declare(struct sup_masked_conv2d *l, struct sup_model *m, const char *prefix, int64_t in,
			      int64_t out, int kernel, enum sup_pixel_mask type, bool bias);
/* Writes the mask buffer; call after sup_model_build. */
void sup_masked_conv2d_init_mask(const struct sup_masked_conv2d *l, struct sup_model *m);
struct sup_tensor *sup_masked_conv2d_forward(struct sup_ctx *c, struct sup_model *m,
					     const struct sup_masked_conv2d *l, struct sup_tensor *x);

/* Masked linear: y = x (W . M)^T + b with a mask buffer "mask" [out, in] next to Linear's
 * weight/bias (same names and initialisation as sup_linear). */
struct sup_masked_linear {
	struct sup_linear lin;
	int mask;
};
int sup_masked_linear_declare(struct sup_masked_linear *l, struct sup_model *m, const char *prefix, int64_t in,
			      int64_t out, bool bias);
struct sup_tensor *sup_masked_linear_forward(struct sup_ctx *c, struct sup_model *m,
					     const struct sup_masked_linear *l, struct sup_tensor *x);

/* MADE (Germain et al. 2015, §4): masked linears with ReLU between them, names
 * prefix.net.<2i>.weight/.bias/.mask (the indices of the equivalent nn.Sequential) and the buffer
 * prefix.order [D] holding the input degrees m^0(d) in 1..D of the current masks. Output
 * [B, n_out * D]: unit p * D + d is parameter p of the conditional of input d, which depends on
 * input d' only when m^0(d') < m^0(d). Masks are a function of (seed, mask index): hidden degrees
 * drawn uniformly in [min over the previous layer, D - 1] (connectivity-agnostic), and with
 * order_agnostic a random input ordering per mask index (else the natural one). */
#define SUP_MADE_MAX_HIDDEN 6
struct sup_made {
	int n_hidden;
	struct sup_masked_linear net[SUP_MADE_MAX_HIDDEN + 1];
	int order;
	int64_t d, n_out;
	uint64_t seed;
	bool order_agnostic;
};
/* D >= 2 inputs; hidden has n_hidden (1..SUP_MADE_MAX_HIDDEN) sizes; n_out >= 1. */
int sup_made_declare(struct sup_made *l, struct sup_model *m, const char *prefix, int64_t d, int n_hidden,
		     const int64_t *hidden, int64_t n_out, uint64_t seed, bool order_agnostic);
/* Writes the masks and ordering of mask `mask_index` (>= 0): call after build, and again with
 * another index to resample (order-agnostic training cycles through a fixed number of them). */
enum sup_status sup_made_set_masks(const struct sup_made *l, struct sup_model *m, int64_t mask_index);
struct sup_tensor *sup_made_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_made *l,
				    struct sup_tensor *x);

/* VQ codebook (van den Oord et al. 2017, eq. 3): K codes of dimension D, "embedding.weight"
 * [K, D], initialised U(-1/K, 1/K). With ema, the codebook is a buffer moved by
 * sup_vq_ema_update (appendix A.1, with Laplace smoothing of the counts) instead of by the
 * codebook loss, and the buffers "ema_cluster_size" [K] (N_i) and "ema_w" [K, D] (m_i) hold the
 * running statistics. */
struct sup_vq {
	int embedding;
	int ema_cluster_size, ema_w; /* -1 without ema */
	int64_t k, dim;
	double beta;  /* commitment weight, default 0.25 */
	double decay; /* EMA decay gamma, default 0.99 */
	double eps;   /* Laplace smoothing of the counts, default 1e-5 */
	bool ema;
};
int sup_vq_declare(struct sup_vq *l, struct sup_model *m, const char *prefix, int64_t k, int64_t dim, bool ema);
/* EMA only, after build: N_i = 1 and m_i = e_i, i.e. every code starts as if it had been
 * assigned to itself once. (A zero count, as some implementations use, sends a code that never
 * wins to m_i / N_i with N_i ~ eps: it explodes and stays dead.) */
void sup_vq_ema_init(const struct sup_vq *l, struct sup_model *m);

struct sup_vq_out {
	struct sup_tensor *quantized;       /* z + detach(e - z), z's shape: straight-through */
	struct sup_tensor *indices;         /* i64 [...] (z's leading axes): the nearest codes */
	struct sup_tensor *codebook_loss;   /* mean (sg[z] - e)^2 (no gradient with ema) */
	struct sup_tensor *commitment_loss; /* mean (z - sg[e])^2, before beta */
	struct sup_tensor *loss;            /* codebook + beta commitment (beta commitment with ema) */
	double perplexity;                  /* exp(entropy of the code usage in this batch) */
};
/* z [..., D] (f32 or f64, with the model's dtype). The losses are means over the elements of z
 * (as Sonnet and the usual PyTorch ports: eq. 3 with ||.||^2 divided by numel). Returns the
 * context's status. */
enum sup_status sup_vq_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_vq *l, struct sup_tensor *z,
			       struct sup_vq_out *out);
/* One EMA step from a batch: n_i = #{j : idx_j = i}, s_i = sum of the z_j assigned to i;
 * N_i <- gamma N_i + (1 - gamma) n_i, m_i <- gamma m_i + (1 - gamma) s_i, and
 * e_i = m_i / N~_i with N~_i = (N_i + eps) / (sum N + K eps) * sum N. Not recorded. */
enum sup_status sup_vq_ema_update(struct sup_ctx *c, struct sup_model *m, const struct sup_vq *l,
				  struct sup_tensor *z, struct sup_tensor *indices);

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
