/* Shared pieces of the generative image methods (issue 9: ae, dae, vae, vqvae, made, pixelcnn,
 * and the pixel_baseline fixture). Internal to src/methods/ and the method tests. */
#ifndef SELFSUP_METHODS_GENIMG_H
#define SELFSUP_METHODS_GENIMG_H

#include "selfsup/autograd.h"
#include "selfsup/method.h"

#include <stdio.h>

/* Image data of one channel group: SUP_ERR_ARG with a message naming the method otherwise. */
enum sup_status genimg_check_images(const struct sup_data_info *data, const char *method, char *err, size_t err_size);

/* Adam (Kingma & Ba 2015) with its paper defaults; the schedule gives the learning rate. */
enum sup_status genimg_adam_init(struct sup_optim *o, struct sup_model *m);

/* x [B, C, H, W] -> [B, C*H*W] (a view). */
struct sup_tensor *genimg_flatten(struct sup_ctx *c, struct sup_tensor *x);

/* Records an error unless every element of x is exactly 0 or 1: the Bernoulli likelihoods are
 * probabilities of binary vectors (data=fashion-mnist-binary). */
enum sup_status genimg_require_binary(struct sup_ctx *c, const struct sup_tensor *x, const char *who);
/* x in [0, 1] (byte / 255) -> i64 levels round(255 x) of x's shape. */
struct sup_tensor *genimg_to_levels(struct sup_ctx *c, const struct sup_tensor *x);

/* A decoder's output (Bernoulli logits when logits, else values) as images in [0, 1] shaped
 * like x: the sigmoid, or the values clipped (the reconstruct callbacks). */
struct sup_tensor *genimg_as_images(struct sup_ctx *c, struct sup_tensor *out, bool logits,
				    const struct sup_tensor *x);

/* Per-row Bernoulli negative log-likelihood: logits, x [B, ...] -> [B] (nats). */
struct sup_tensor *genimg_bernoulli_nll_rows(struct sup_ctx *c, struct sup_tensor *logits, struct sup_tensor *x);
/* log((1/k) sum_i exp(a_i)), stable. */
double genimg_logmeanexp(const double *a, int k);
/* Sum of a tensor's elements in double precision. */
double genimg_sum(const struct sup_tensor *t);

/* The independent-pixel model: per-pixel categorical over `levels` values (2: Bernoulli) with
 * add-alpha smoothing, fitted from counts [levels, D] of n training images. NLL in nats of the
 * images x_levels (i64 [B, D] in [0, levels)) summed over the batch. */
double genimg_pixel_model_nll(const float *counts, int levels, int64_t d, double n, double alpha,
			      const int64_t *x_levels, int64_t b);

/* Test hooks: the conditional parameters of every dimension, [B, n_out * D] for MADE (with its
 * current mask) and [B, n_out, H, W] logits for PixelCNN, so that tests can check that the
 * output for dimension d depends only on inputs before d in the ordering. */
struct sup_tensor *genimg_made_logits(void *state, struct sup_ctx *c, struct sup_tensor *x, int64_t mask_index);
struct sup_tensor *genimg_pixelcnn_logits(void *state, struct sup_ctx *c, struct sup_tensor *x);
/* The MADE degree (1..D) of input d under the mask of the last genimg_made_logits call. */
int64_t genimg_made_degree(void *state, int64_t d);
/* The VAE's negative ELBO per example (nats, [B]) with the given eps [B, Z] instead of a draw. */
struct sup_tensor *genimg_vae_neg_elbo(void *state, struct sup_ctx *c, struct sup_tensor *x, struct sup_tensor *eps);

#endif

/* ---- the MLP auto-encoder shared by ae and dae ---------------------------------------------- */
struct genimg_ae {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_mlp enc, dec;
	int64_t c, h, w, d, code;
	bool bce; /* Bernoulli cross-entropy reconstruction (else squared error) */
};
/* Reads the keys hidden, code_dim, loss; builds encoder d -> hidden -> code and decoder
 * code -> hidden -> d (ReLU between, linear code, logits out). */
enum sup_status genimg_ae_init(struct genimg_ae **out, const char *who, const struct sup_config *cfg,
			       const struct sup_data_info *data, struct sup_rng *rng, char *err, size_t err_size);
void genimg_ae_free(void *state);
int genimg_ae_parts(void *state, struct sup_ckpt_part *out, int cap);
struct sup_tensor *genimg_ae_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b);
/* The code h = encoder(x) (forward_features of ae and dae; genimg_ae_encode is it frozen). */
struct sup_tensor *genimg_ae_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				      bool training);
/* reconstruct of ae and dae: decoder(encoder(x)) as images (method.h). */
struct sup_tensor *genimg_ae_reconstruct(struct genimg_ae *t, struct sup_ctx *c, const struct sup_method_batch *b);
/* One Adam step on the reconstruction loss of target from input (the same tensor for a plain
 * auto-encoder, a corrupted copy for a denoising one); stats: recon_mse per pixel. */
enum sup_status genimg_ae_step(struct genimg_ae *t, struct sup_ctx *c, struct sup_tensor *input,
			       struct sup_tensor *target, double lr, struct sup_step_stats *out);
