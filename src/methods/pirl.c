/* "pirl": Pretext-Invariant Representation Learning.
 *
 * Misra, van der Maaten, "Self-Supervised Learning of Pretext-Invariant Representations", CVPR
 * 2020. The representation of an image I should not change under the jigsaw transform t:
 * v_I = f(I) and v_It = g(t(I)) are pulled together and pushed away from other images (§3).
 *   f: the encoder's pooled features of I, a linear projection to 128-d (§3.2, "Implementation
 *      details").
 *   g: the image is cut into a 3x3 grid, one tile per cell (at a random offset in the cell), the
 *      tiles shuffled by a permutation from a fixed set (Noroozi & Favaro 2016; data.h); each tile
 *      goes through the same encoder and a linear projection to 128-d; the nine are concatenated
 *      in the shuffled order and projected to 128-d (§3.2).
 *   Memory bank: m_I, an exponential moving average of f(v_I) (§3.2, "Using a memory bank of
 *      negative samples"), the negatives D_N drawn from it.
 *   Loss (eq. 5): L(I, I^t) = lambda L_NCE(m_I, g(v_It)) + (1 - lambda) L_NCE(m_I, f(v_I)),
 *      lambda = 0.5, with L_NCE of eq. 4 (positive: m_I; negatives: m_I' for I' in D_N),
 *      tau = 0.07 (§3.2).
 * The representation is f's input, the encoder's pooled features (the paper evaluates res5
 * features; `represent=embedding` gives f(v_I)).
 *
 * Scale: the W1 ConvNet (`encoder=` for ResNets); on 28x28 images the cells are 9x9 and the tiles
 * 7x7, the ratio of the paper's 64-pixel tiles in 85-pixel cells. The NCE is that of InstDisc
 * (losses.h) with Z estimated once, as the paper's reference implementation does (eq. 3 leaves
 * the normaliser out; without it, 128-d unit vectors cannot make every negative term small); the
 * noise samples are shared by the batch. f and g see two independent augmentations of I, as in
 * the authors' pipeline.
 *
 * Data-parallel (`mpirun -np K`): the run of one process on the global batch, up to rounding
 * (memory_bank.h lists how; docs/dist.md). */
#include "methods/image_ssl.h"
#include "methods/memory_bank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PIRL_TILES 9

struct pirl {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_image_encoder enc;
	struct mb_head fc_f; /* f: the image head */
	struct sup_linear fc_patch, fc_g;
	struct sup_memory_bank bank;
	struct sup_nce nce_g, nce_f;
	struct mb_views views;
	struct sup_bn_sync bn_sync; /* over the step context's group (data-parallel runs) */
	uint8_t *perms; /* n_perms x 9 */
	int n_perms, tile;
	double lambda;
	int64_t n;
	int64_t z_epochs; /* nce.z_epochs */
	enum mb_loss loss; /* nce.loss */
	uint64_t seed;
	bool represent_embedding;
};

static const struct sup_cfg_key pirl_keys[] = {
    {"encoder", SUP_CFG_ENUM, "convnet", "convnet|resnet18|resnet34|resnet50", "shared backbone of f and g",
     "W1 ConvNet (issue 6); ResNet-50 in Misra & van der Maaten 2020", 0},
    {"embed_dim", SUP_CFG_INT, "128", NULL, "dimension of f(v_I) and g(v_It)", "Misra & van der Maaten 2020, sec. 3.2",
     0},
    {"lambda", SUP_CFG_FLOAT, "0.5", NULL, "weight of the jigsaw term in eq. 5", "Misra & van der Maaten 2020, eq. 5",
     0},
    {"nce.tau", SUP_CFG_FLOAT, "0.07", NULL, "temperature", "Misra & van der Maaten 2020, sec. 3.2", 0},
    {"head", SUP_CFG_ENUM, "linear", MB_HEAD_CHOICES, "embedding head: one linear layer or linear-ReLU-linear",
     "linear: Misra & van der Maaten 2020, sec. 3.2; mlp: SimCLR sec. 2.1, MoCo v2 sec. 2", 0},
    MB_NCE_KEYS,
    {"nce.negatives", SUP_CFG_INT, "4096", NULL,
     "negatives |D_N| per step (paper: 32000 of 1.28M images; shared by the batch)",
     "Misra & van der Maaten 2020, sec. 3.2, scaled to 60k images", 0},
    {"bank.momentum", SUP_CFG_FLOAT, "0.5", NULL, "m_I <- normalise(m m_I + (1 - m) f(v_I))",
     "Misra & van der Maaten 2020, sec. 3.2 (moving average; 0.5 as Wu et al.)", 0},
    {"jigsaw.perms", SUP_CFG_INT, "100", NULL, "size of the fixed permutation set (maximal Hamming distance)",
     "Noroozi & Favaro 2016, sec. 3.2 / Table 3 (100 to 1000)", 0},
    {"jigsaw.tile", SUP_CFG_INT, "0", NULL, "tile size in pixels (0: 3/4 of a grid cell, 7 on 28x28)",
     "Misra & van der Maaten 2020, sec. 3.2 (64 of 85)", 0},
    {"represent", SUP_CFG_ENUM, "backbone", "backbone|embedding", "encode(): pooled encoder features or f(v_I)",
     "Misra & van der Maaten 2020, sec. 4 (res5 features)", 0},
    {"augment", SUP_CFG_BOOL, "true", NULL, "make augmented views in the method (the source gives raw images)",
     NULL, 0},
    {"aug.crop_scale", SUP_CFG_FLOAT, "0.2", NULL, "lower area bound of the random resized crop",
     "as instdisc (Wu et al.'s code)", 0},
    {"aug.jitter", SUP_CFG_FLOAT, "0.4", NULL, "colour jitter strength", "as instdisc (Wu et al.'s code)", 0},
    {"optim.kind", SUP_CFG_ENUM, "sgd", IMAGE_SSL_OPTIM_CHOICES, "optimizer", "Misra & van der Maaten 2020, sec. 4", 0},
    {"optim.momentum", SUP_CFG_FLOAT, "0.9", NULL, "SGD momentum", "Misra & van der Maaten 2020, sec. 4", 0},
    {"optim.weight_decay", SUP_CFG_FLOAT, "0.0001", NULL, "L2 weight decay (not on BN/bias)",
     "Misra & van der Maaten 2020, sec. 4 (1e-4)", 0},
    {"lr", SUP_CFG_FLOAT, "0.03", NULL, "SGD learning rate for batch 256",
     "Misra & van der Maaten 2020, sec. 4: 0.12 for batch 1024, scaled linearly", 0},
    {"batch_size", SUP_CFG_INT, "256", NULL, "images per step", NULL, 0},
    {"epochs", SUP_CFG_INT, "40", NULL, "passes over the data (paper: 800); 10 encoder passes per image",
     "linear probe 86.0% against 84.3% at 15 epochs; 0.23 s per step with 2 threads, ~38 min on 2 cores", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void pirl_free(void *state)
{
	struct pirl *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t->perms);
	free(t);
}

static enum sup_status pirl_build(struct pirl *t, const struct sup_config *cfg, const struct sup_data_info *data,
				  struct sup_rng *rng, char *err, size_t err_size)
{
	int64_t dim = sup_config_int(cfg, "embed_dim"), negatives = sup_config_int(cfg, "nce.negatives");
	double tau = sup_config_float(cfg, "nce.tau");
	struct sup_model *m = &t->model;
	sup_model_init(m, sup_allocator_default());
	mb_encoder_declare(&t->enc, m, "encoder", cfg, data->channels, data->height);
	mb_head_declare(&t->fc_f, m, "head_f", t->enc.feat_dim, dim, sup_config_enum(cfg, "head") == 1);
	sup_linear_declare(&t->fc_patch, m, "head_patch", t->enc.feat_dim, dim, true);
	sup_linear_declare(&t->fc_g, m, "head_g", PIRL_TILES * dim, dim, true);
	sup_memory_bank_declare(&t->bank, m, "bank", t->n, dim, sup_config_float(cfg, "bank.momentum"));
	sup_nce_declare(&t->nce_g, m, "nce_g", tau, negatives);
	sup_nce_declare(&t->nce_f, m, "nce_f", tau, negatives);
	enum sup_status s = mb_model_status(m, "pirl", err, err_size);
	if (s == SUP_OK)
		s = sup_model_build(m, rng);
	if (s == SUP_OK)
		s = mb_optim_init(&t->optim, m, cfg);
	if (s != SUP_OK)
		mb_model_status(m, "pirl", err, err_size);
	return s;
}

static enum sup_status pirl_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				 struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	enum sup_status s = mb_check("pirl", cfg, data, err, err_size);
	if (s != SUP_OK)
		return s;
	int cell = (data->height < data->width ? data->height : data->width) / 3;
	int64_t tile = sup_config_int(cfg, "jigsaw.tile"), np = sup_config_int(cfg, "jigsaw.perms");
	if (tile == 0)
		tile = (cell * 3 + 2) / 4 > 0 ? (cell * 3 + 2) / 4 : 1;
	if (tile < 1 || tile > cell || np < 1 || np > 1000) {
		snprintf(err, err_size, "pirl: jigsaw.tile must be in 1..%d and jigsaw.perms in 1..1000", cell);
		return SUP_ERR_ARG;
	}
	struct pirl *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->n = data->n_examples;
	t->z_epochs = sup_config_int(cfg, "nce.z_epochs");
	t->loss = (enum mb_loss)sup_config_enum(cfg, "nce.loss");
	t->tile = (int)tile;
	t->n_perms = (int)np;
	t->lambda = sup_config_float(cfg, "lambda");
	t->seed = (uint64_t)sup_config_int(cfg, "seed");
	t->represent_embedding = sup_config_enum(cfg, "represent") == 1;
	struct sup_allocator al = sup_allocator_default();
	t->perms = malloc((size_t)np * PIRL_TILES);
	/* The permutation set is part of the method, not of the run: a fixed seed. */
	if (!t->perms || sup_jigsaw_perms_make(t->perms, t->n_perms, 0x9127, &al) < 0) {
		pirl_free(t);
		return SUP_ERR_NOMEM;
	}
	struct mb_aug_opts ao = {sup_config_bool(cfg, "augment"), sup_config_float(cfg, "aug.crop_scale"),
				 sup_config_float(cfg, "aug.jitter"), false};
	s = mb_views_init(&t->views, data, &ao, t->seed, err, err_size);
	if (s == SUP_OK)
		s = pirl_build(t, cfg, data, rng, err, err_size);
	if (s != SUP_OK) {
		pirl_free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int pirl_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct pirl *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

/* The jigsaw tiles of every image of x [B, C, H, W]: [B * 9, C, tile, tile], image b's tiles at
 * rows 9b .. 9b + 8 in shuffled order. Permutation and offsets come from view 2's stream of the
 * image, so they are a function of (seed, epoch, index). */
static struct sup_tensor *pirl_tiles(struct pirl *t, struct sup_ctx *c, const struct sup_tensor *x,
				     const struct sup_tensor *idx, int64_t epoch)
{
	if (!x || !idx)
		return NULL;
	int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], T = t->tile;
	struct sup_tensor *out = sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){B * PIRL_TILES, C, T, T});
	if (!out)
		return NULL;
#pragma omp parallel for schedule(static)
	for (int64_t b = 0; b < B; b++) {
		struct sup_rng r = sup_aug_rng(t->seed, epoch, (int64_t)sup_tensor_get(idx, b), 2);
		const uint8_t *perm = t->perms + PIRL_TILES * sup_rng_below(&r, (uint64_t)t->n_perms);
		struct sup_image img = {(float *)x->data + b * C * H * W, (int)C, (int)H, (int)W};
		sup_aug_jigsaw(&img, (int)T, perm, &r, (float *)out->data + b * PIRL_TILES * C * T * T);
	}
	return out;
}

/* g(v_It): per-tile projections concatenated in the shuffled order, then projected (§3.2). */
static struct sup_tensor *pirl_g(struct pirl *t, struct sup_ctx *c, struct sup_tensor *tiles, int64_t B)
{
	struct sup_tensor *p = sup_linear_forward(c, &t->model, &t->fc_patch,
						  sup_image_encoder_forward(c, &t->model, &t->enc, tiles));
	p = sup_reshape(c, p, 2, (const int64_t[]){B, -1});
	return sup_l2_normalize(c, sup_linear_forward(c, &t->model, &t->fc_g, p), 1, 1e-12);
}

static enum sup_status pirl_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				 const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct pirl *t = state;
	const struct sup_tensor *idx = mb_index(c, b);
	struct sup_tensor *xf = mb_views_make(c, &t->views, b->views[0], idx, si->epoch, 0);
	struct sup_tensor *xt = pirl_tiles(t, c, mb_views_make(c, &t->views, b->views[0], idx, si->epoch, 1), idx,
					   si->epoch);
	if (!xf || !xt)
		return sup_ctx_status(c);
	int64_t B = xf->shape[0];
	sup_model_set_training(&t->model, true);
	/* Data-parallel (memory_bank.h, docs/dist.md): BN over the global batch (images and tiles
	 * separately, as one process normalises its two passes), the one-process noise, Z and the
	 * bank update from the global batch. */
	mb_sync_bn(c, &t->model, &t->bn_sync, true);
	struct sup_tensor *vf = mb_embed(c, &t->model, &t->fc_f, sup_image_encoder_forward(c, &t->model, &t->enc, xf));
	struct sup_tensor *vg = pirl_g(t, c, xt, B);
	mb_sync_bn(c, &t->model, &t->bn_sync, false);
	struct sup_tensor *pos = sup_memory_bank_rows(c, &t->model, &t->bank, idx);
	struct sup_tensor *neg =
	    sup_memory_bank_rows(c, &t->model, &t->bank, sup_memory_bank_sample(c, &c->rng, t->n, t->nce_f.negatives));
	if (si->epoch < t->z_epochs) {
		sup_nce_forget_z(&t->model, &t->nce_g);
		sup_nce_forget_z(&t->model, &t->nce_f);
	}
	struct sup_tensor *lg = mb_bank_loss(c, &t->model, &t->nce_g, t->loss, vg, pos, neg, t->n);
	struct sup_tensor *lf = mb_bank_loss(c, &t->model, &t->nce_f, t->loss, vf, pos, neg, t->n);
	struct sup_tensor *loss = sup_add(c, sup_mul_scalar(c, lg, t->lambda), sup_mul_scalar(c, lf, 1 - t->lambda));
	if (mb_update(c, &t->model, &t->optim, loss, si->lr) != SUP_OK)
		return sup_ctx_status(c);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 3;
	out->names[0] = "nce_jigsaw";
	out->values[0] = sup_tensor_get(lg, 0);
	out->names[1] = "nce_image";
	out->values[1] = sup_tensor_get(lf, 0);
	out->names[2] = "fg_sim"; /* mean cosine of f(v_I) and g(v_It): the invariance PIRL asks for */
	out->values[2] =
	    mb_mean(sup_sum(c, sup_mul(c, sup_detach(c, vf), sup_detach(c, vg)), (const int[]){1}, 1, false));
	return sup_memory_bank_update_gathered(c, &t->model, &t->bank, vf, idx);
}

/* f(v_I): backbone features of the whole image (or its embedding); the bank serves training only. */
static struct sup_tensor *pirl_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					bool training)
{
	struct pirl *t = state;
	sup_model_set_training(&t->model, training);
	struct sup_tensor *h = sup_image_encoder_forward(c, &t->model, &t->enc, mb_views_eval(c, &t->views, b->views[0]));
	return t->represent_embedding ? mb_embed(c, &t->model, &t->fc_f, h) : h;
}

static struct sup_tensor *pirl_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(pirl_features, state, c, b);
}

const struct sup_method sup_method_pirl = {
    .name = "pirl",
    .family = "contrastive",
    .branch = "instance discrimination",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "Misra, van der Maaten 2020, Self-Supervised Learning of Pretext-Invariant Representations",
    .default_data = "fashion-mnist",
    .batch_kind = SUP_BATCH_IMAGES,
    .data_parallel = true,
    .n_views = 1,
    .config = pirl_keys,
    .init = pirl_init,
    .parts = pirl_parts,
    .train_step = pirl_step,
    .encode = pirl_encode,
    .forward_features = pirl_features,
    .free = pirl_free,
};
