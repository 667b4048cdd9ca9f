/* Shared pieces of the memory-bank methods (InstDisc, CMC, PIRL; src/methods/instdisc.c, cmc.c,
 * pirl.c): image views made inside train_step, encoder and optimizer set-up. Internal to
 * src/methods/; the recipes themselves stay in the method files.
 *
 * Why views are made here: the driver's image source (src/cli/source.c) hands every view as the
 * un-augmented image. These methods therefore ask for one view and make their own augmented
 * views from views[0], with every random choice drawn from sup_aug_rng(seed, epoch, index, view)
 * (data.h), so a view is a function of (seed, epoch, example, view) and a resume reproduces it.
 * Should the source start augmenting, `augment=false` turns the method-side augmentation off
 * (only the deterministic steps, such as CMC's Lab conversion, remain). */
#ifndef SELFSUP_METHODS_MEMORY_BANK_H
#define SELFSUP_METHODS_MEMORY_BANK_H

#include "selfsup/autograd.h"
#include "selfsup/data.h"
#include "selfsup/losses.h"
#include "selfsup/method.h"

struct mb_views {
	struct sup_transform t;	  /* random + deterministic steps (training views) */
	struct sup_transform det; /* the deterministic steps only (encode) */
	int in_c, in_h, in_w;
	int out_c, out_h, out_w;
	size_t scratch, scratch_det;
	uint64_t seed;
};

/* The augmentation of Wu et al.'s released code (lemniscate.pytorch, main.py): random resized
 * crop with area scale (crop_scale, 1) back to the input size, colour jitter (jitter, jitter,
 * jitter, jitter) (brightness and contrast only act on 1 channel), grayscale p 0.2, horizontal
 * flip p 0.5. jitter 0 leaves jitter and grayscale out (CMC, where colour is a view). With
 * to_lab (3 channels) the image then goes to CIE Lab, normalised per channel as CMC's code does.
 * augment false keeps only the deterministic steps. */
struct mb_aug_opts {
	bool augment;
	double crop_scale, jitter;
	bool to_lab;
};
enum sup_status mb_views_init(struct mb_views *v, const struct sup_data_info *d, const struct mb_aug_opts *o,
			      uint64_t seed, char *err, size_t err_size);
/* The views of x (f32 [B, C, H, W] in [0, 1]) for training: view `view` of example index[b]
 * at `epoch`. Returns a new arena tensor [B, out_c, out_h, out_w] (x itself when the transform
 * is empty). */
struct sup_tensor *mb_views_make(struct sup_ctx *c, const struct mb_views *v, const struct sup_tensor *x,
				 const struct sup_tensor *index, int64_t epoch, int view);
/* The deterministic steps only (evaluation inputs). */
struct sup_tensor *mb_views_eval(struct sup_ctx *c, const struct mb_views *v, const struct sup_tensor *x);

/* The checks shared by the three methods: an image data set, nce.z_epochs >= 0. */
enum sup_status mb_check(const char *method, const struct sup_config *cfg, const struct sup_data_info *d, char *err,
			 size_t err_size);
/* Declares the encoder named by config key "encoder" for in_channels (CIFAR stem for the ResNets
 * on images up to 64 pixels). */
int mb_encoder_declare(struct sup_image_encoder *e, struct sup_model *m, const char *prefix,
		       const struct sup_config *cfg, int64_t in_channels, int height);
/* The optimizer of config key optim.kind (IMAGE_SSL_OPTIM_CHOICES, image_ssl.h) with
 * optim.momentum and optim.weight_decay, batch-norm and bias parameters excluded from weight
 * decay. */
enum sup_status mb_optim_init(struct sup_optim *o, struct sup_model *m, const struct sup_config *cfg);
/* How the bank's entries enter the loss (config key nce.loss): NCE, Wu et al. eq. 5-7 with the
 * head's Z (sup_nce_forward), or the softmax cross-entropy over [positive, negatives] / tau
 * (InfoNCE with bank negatives: the `--softmax` loss of Tian et al.'s CMC code, which they found
 * better than NCE, and the memory-bank mechanism of MoCo §3.2 / §4.1). pos [B, D] holds each
 * anchor's positive, neg [M, D] the negatives shared by the batch. */
enum mb_loss { MB_LOSS_NCE, MB_LOSS_SOFTMAX };
#define MB_LOSS_CHOICES "nce|softmax"
/* The schema entries of nce.loss and nce.z_epochs, the same in the three methods. */
#define MB_NCE_KEYS                                                                                                    \
	{"nce.loss", SUP_CFG_ENUM, "nce", MB_LOSS_CHOICES,                                                            \
	 "bank negatives through NCE (Z) or a softmax over [positive, negatives]",                                    \
	 "nce: Wu et al. 2018, eq. 5-7; softmax: Tian et al.'s CMC code (--softmax), MoCo sec. 4.1", 0},               \
	{"nce.z_epochs", SUP_CFG_INT, "1", NULL,                                                                      \
	 "epochs during which Z is re-estimated at every step (while the bank's random rows are replaced); then "     \
	 "constant",                                                                                                   \
	 "0: once at the first step (Wu et al. 2018, sec. 3.2); 1: the W1 ConvNet's initial embeddings are so alike " \
	 "that a Z taken from the random bank is ~300x too small and the NCE loss diverges "                         \
	 "(docs/methods/memory_bank.md)",                                                                              \
	 0 }
struct sup_tensor *mb_bank_loss(struct sup_ctx *c, struct sup_model *m, const struct sup_nce *l, enum mb_loss kind,
				struct sup_tensor *q, struct sup_tensor *pos, struct sup_tensor *neg, int64_t n_data);
/* The embedding head (config key `head`, MB_HEAD_CHOICES): one linear layer, as the three papers
 * define it (Wu et al. §3.1), or an MLP linear-ReLU-linear with hidden width = input width (the
 * head of SimCLR §2.1 and MoCo v2 §2, which Tian et al.'s PyContrast also gives InsDis, CMC and
 * PIRL). Parameters: prefix.weight/bias (linear), prefix.0.* and prefix.2.* (mlp). */
struct mb_head {
	struct sup_linear fc1, fc2; /* fc1 unused by the linear head */
	bool mlp;
};
#define MB_HEAD_CHOICES "linear|mlp"
int mb_head_declare(struct mb_head *h, struct sup_model *m, const char *prefix, int64_t in, int64_t out, bool mlp);
/* z = L2-normalise(head(h)) (Wu et al. §3.1: the 128-d embedding on the unit sphere). */
struct sup_tensor *mb_embed(struct sup_ctx *c, struct sup_model *m, const struct mb_head *head, struct sup_tensor *h);
/* The batch's example indices (b->index), or NULL with the context's error set. */
const struct sup_tensor *mb_index(struct sup_ctx *c, const struct sup_method_batch *b);
/* Mean of a [B] or [B, D] tensor's values (stats). */
double mb_mean(const struct sup_tensor *t);
/* Data-parallel steps (docs/dist.md, "Memory banks"). The three methods are made equivalent to
 * one process on the global batch as follows: batch norm is synchronised over c->comm while the
 * step's encoders run (mb_sync_bn(.., true) before, false after: evaluation runs alone); the
 * NCE noise indices are drawn from c->rng, which is identical on every process, so every process
 * draws the one-process noise of the step; the NCE loss of a row only involves that row, its
 * bank entry and the shared noise rows, so the mean over the local rows, averaged over the
 * processes, is the global mean; Z is estimated from the global batch (sup_nce_forward); the
 * bank is updated with the gathered rows in global order (sup_memory_bank_update_gathered), so
 * it stays identical everywhere. sync is the method's storage for the hook (it must outlive the
 * step's backward). */
void mb_sync_bn(struct sup_ctx *c, struct sup_model *m, struct sup_bn_sync *sync, bool on);
/* zero-grad, backward of loss, the gradient average over c->comm, the optimizer step at lr.
 * Returns the context's status. */
enum sup_status mb_update(struct sup_ctx *c, struct sup_model *m, struct sup_optim *o, struct sup_tensor *loss,
			  double lr);
/* Fails init with a message when the model has a sticky error or a step does not build. */
enum sup_status mb_model_status(const struct sup_model *m, const char *method, char *err, size_t err_size);

#endif
