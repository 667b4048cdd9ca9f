/* "cmc": Contrastive Multiview Coding.
 *
 * Tian, Krishnan, Isola, "Contrastive Multiview Coding", arXiv 1906.05849 (2019; ECCV 2020).
 * Two views of one image, the L and ab channels of CIE Lab (§3.1, §4.2 "L and ab"), each with its
 * own encoder f_1, f_2 (§3.2); an embedding of one view must pick out the other view of the same
 * image among negatives (eq. 2-4, the two-view objective L = L(V1, V2) + L(V2, V1)). The
 * negatives come either from the other images of the batch (in-batch InfoNCE, the softmax of
 * eq. 2 over the batch; `contrast=infonce`, the default) or from a memory bank per view with NCE
 * (§3.3 "approximating the softmax with NCE", the InstDisc machinery: tau 0.07, momentum 0.5;
 * `contrast=nce`, optionally `nce.loss=softmax`). The default is the in-batch form because it
 * learns far better on Fashion-MNIST at this budget (15 epochs: 88.5 % linear probe against
 * 85.4 % with the banks; docs/methods/memory_bank.md). The representation is the concatenation
 * [f_1(v_1), f_2(v_2)] (§4.2).
 *
 * Views on 1-channel data (Fashion-MNIST). A grayscale image is its own L channel and has no
 * chrominance (ab = 0 everywhere), so the paper's L/ab split would contrast the image against a
 * constant. `views=augment` (the default for 1-channel data under `views=auto`) therefore forms
 * the two views as two independently augmented crops of the L channel, each through its own
 * encoder: CMC's structure (one encoder per view, cross-view contrast, memory banks,
 * concatenated representation) is kept, but the views differ by augmentation, not by modality,
 * which is not an experiment of the paper. Hand-made second modalities (gradients, edge maps)
 * were rejected because they are not in the paper either and would add a design choice of ours.
 * On 3-channel data (CIFAR-10, ImageFolder) `views=auto` is the paper's L / ab split.
 *
 * Departures: W1 ConvNet per view instead of half-width AlexNet/ResNet (`encoder=`); noise
 * samples shared by the batch (see instdisc.c); cosine learning-rate schedule.
 *
 * Data-parallel (`mpirun -np K`): the run of one process on the global batch, up to rounding,
 * with either contrast (memory_bank.h lists how for the banks; in-batch InfoNCE gathers the
 * other view's embeddings; docs/dist.md). */
#include "methods/image_ssl.h"
#include "methods/memory_bank.h"

#include <math.h>
#include <stdlib.h>

enum { CMC_NCE, CMC_INFONCE };

struct cmc {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_image_encoder enc[2]; /* view 1 (L), view 2 (ab or a second L crop) */
	struct mb_head fc[2];
	struct sup_memory_bank bank[2];
	struct sup_nce nce[2]; /* nce[0]: anchor view 1 against bank 2; nce[1]: the reverse */
	struct mb_views views;
	struct sup_bn_sync bn_sync; /* over the step context's group (data-parallel runs) */
	bool lab;
	int contrast;
	double tau;
	int64_t n;
	int64_t z_epochs; /* nce.z_epochs */
	enum mb_loss loss; /* nce.loss */
	bool represent_embedding;
};

static const struct sup_cfg_key cmc_keys[] = {
    {"encoder", SUP_CFG_ENUM, "convnet", "convnet|resnet18|resnet34|resnet50", "backbone of each view",
     "W1 ConvNet (issue 6); AlexNet/ResNet halves in Tian et al. sec. 4", 0},
    {"views", SUP_CFG_ENUM, "auto", "auto|lab|augment",
     "lab: L vs ab of Lab (3 channels); augment: two augmented crops of L; auto: lab on 3 channels, else augment",
     "Tian et al. 2019, sec. 4.2 (L, ab)", 0},
    {"contrast", SUP_CFG_ENUM, "infonce", "nce|infonce", "negatives from the batch (eq. 2) or from memory banks (NCE)",
     "Tian et al. 2019, sec. 3.2-3.3; infonce: 88.5% linear on Fashion-MNIST vs 85.4% with the banks "
     "(docs/methods/memory_bank.md)", 0},
    {"embed_dim", SUP_CFG_INT, "128", NULL, "embedding dimension per view", "Tian et al.'s code (feat_dim 128)", 0},
    {"nce.tau", SUP_CFG_FLOAT, "0.07", NULL, "temperature", "Tian et al.'s code (nce_t 0.07)", 0},
    {"head", SUP_CFG_ENUM, "linear", MB_HEAD_CHOICES, "embedding head: one linear layer or linear-ReLU-linear",
     "linear: Tian et al. 2019, sec. 4; mlp: SimCLR sec. 2.1, MoCo v2 sec. 2", 0},
    MB_NCE_KEYS,
    {"nce.negatives", SUP_CFG_INT, "4096", NULL,
     "noise samples per step (paper: 16384 of 1.28M images; shared by the batch)",
     "Tian et al. 2019, sec. 4.2 (16384), scaled to 60k images", 0},
    {"bank.momentum", SUP_CFG_FLOAT, "0.5", NULL, "memory update momentum", "Tian et al.'s code (nce_m 0.5)", 0},
    {"represent", SUP_CFG_ENUM, "backbone", "backbone|embedding",
     "encode(): concatenated backbone features or concatenated embeddings", "Tian et al. 2019, sec. 4.2", 0},
    {"augment", SUP_CFG_BOOL, "true", NULL, "make augmented views in the method (the source gives raw images)",
     NULL, 0},
    {"aug.crop_scale", SUP_CFG_FLOAT, "0.2", NULL, "lower area bound of the random resized crop",
     "Tian et al.'s code: RandomResizedCrop(scale=(0.2, 1))", 0},
    {"aug.jitter", SUP_CFG_FLOAT, "0.4", NULL,
     "colour jitter strength in views=augment (lab: none, colour is a view)",
     "Wu et al.'s code ColorJitter(0.4), as for instdisc", 0},
    {"optim.kind", SUP_CFG_ENUM, "sgd", IMAGE_SSL_OPTIM_CHOICES, "optimizer", "Tian et al.'s code", 0},
    {"optim.momentum", SUP_CFG_FLOAT, "0.9", NULL, "SGD momentum", "Tian et al.'s code", 0},
    {"optim.weight_decay", SUP_CFG_FLOAT, "0.0001", NULL, "L2 weight decay (not on BN/bias)",
     "Tian et al.'s code (1e-4)", 0},
    {"lr", SUP_CFG_FLOAT, "0.03", NULL, "SGD learning rate (batch 256)", "Tian et al.'s code (0.03)", 0},
    {"batch_size", SUP_CFG_INT, "256", NULL, "images per step", "Tian et al.'s code (256)", 0},
    {"epochs", SUP_CFG_INT, "15", NULL, "passes over the data (paper: 240); two encoders per step, sized for 60 min",
     NULL, 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void cmc_free(void *state)
{
	struct cmc *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t);
}

static enum sup_status cmc_build(struct cmc *t, const struct sup_config *cfg, const struct sup_data_info *data,
				 struct sup_rng *rng, char *err, size_t err_size)
{
	int64_t dim = sup_config_int(cfg, "embed_dim"), negatives = sup_config_int(cfg, "nce.negatives");
	double mo = sup_config_float(cfg, "bank.momentum");
	static const char *const enc_name[2] = {"encoder_l", "encoder_ab"}, *const fc_name[2] = {"head_l", "head_ab"};
	static const char *const bank_name[2] = {"bank_l", "bank_ab"}, *const nce_name[2] = {"nce_l", "nce_ab"};
	sup_model_init(&t->model, sup_allocator_default());
	for (int k = 0; k < 2; k++) {
		int64_t ch = t->lab ? (k == 0 ? 1 : 2) : data->channels;
		mb_encoder_declare(&t->enc[k], &t->model, enc_name[k], cfg, ch, data->height);
		mb_head_declare(&t->fc[k], &t->model, fc_name[k], t->enc[k].feat_dim, dim, sup_config_enum(cfg, "head") == 1);
		if (t->contrast == CMC_NCE) {
			sup_memory_bank_declare(&t->bank[k], &t->model, bank_name[k], t->n, dim, mo);
			sup_nce_declare(&t->nce[k], &t->model, nce_name[k], t->tau, negatives);
		}
	}
	enum sup_status s = mb_model_status(&t->model, "cmc", err, err_size);
	if (s == SUP_OK)
		s = sup_model_build(&t->model, rng);
	if (s == SUP_OK)
		s = mb_optim_init(&t->optim, &t->model, cfg);
	if (s != SUP_OK)
		mb_model_status(&t->model, "cmc", err, err_size);
	return s;
}

static enum sup_status cmc_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	enum sup_status s = mb_check("cmc", cfg, data, err, err_size);
	if (s != SUP_OK)
		return s;
	int views = sup_config_enum(cfg, "views"); /* 0 auto, 1 lab, 2 augment */
	if (views == 1 && data->channels != 3) {
		snprintf(err, err_size, "cmc: views=lab needs 3-channel images; %s has %d (use views=augment)",
			 data->name ? data->name : "the data", data->channels);
		return SUP_ERR_ARG;
	}
	struct cmc *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->lab = views == 1 || (views == 0 && data->channels == 3);
	t->contrast = sup_config_enum(cfg, "contrast");
	t->tau = sup_config_float(cfg, "nce.tau");
	t->n = data->n_examples;
	t->z_epochs = sup_config_int(cfg, "nce.z_epochs");
	t->loss = (enum mb_loss)sup_config_enum(cfg, "nce.loss");
	t->represent_embedding = sup_config_enum(cfg, "represent") == 1;
	struct mb_aug_opts ao = {sup_config_bool(cfg, "augment"), sup_config_float(cfg, "aug.crop_scale"),
				 t->lab ? 0.0 : sup_config_float(cfg, "aug.jitter"), t->lab};
	s = mb_views_init(&t->views, data, &ao, (uint64_t)sup_config_int(cfg, "seed"), err, err_size);
	if (s == SUP_OK)
		s = cmc_build(t, cfg, data, rng, err, err_size);
	if (s != SUP_OK) {
		cmc_free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int cmc_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct cmc *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

/* The two view tensors: channel 0 and channels 1..2 of one Lab image, or two augmented crops. */
static void cmc_inputs(struct cmc *t, struct sup_ctx *c, const struct sup_tensor *x, const struct sup_tensor *idx,
		       int64_t epoch, bool train, struct sup_tensor **v1, struct sup_tensor **v2)
{
	if (t->lab) {
		struct sup_tensor *lab = train ? mb_views_make(c, &t->views, x, idx, epoch, 0) : mb_views_eval(c, &t->views, x);
		*v1 = sup_contiguous(c, sup_slice(c, lab, 1, 0, 1, 1));
		*v2 = sup_contiguous(c, sup_slice(c, lab, 1, 1, 3, 1));
	} else if (train) {
		*v1 = mb_views_make(c, &t->views, x, idx, epoch, 0);
		*v2 = mb_views_make(c, &t->views, x, idx, epoch, 1);
	} else {
		*v1 = *v2 = mb_views_eval(c, &t->views, x);
	}
}

/* Memory-bank NCE both ways (Tian et al. eq. 4 with the NCE of Wu et al.): view 1's embedding
 * against bank 2 (positive: bank 2's entry of the same image), and view 2's against bank 1. */
static struct sup_tensor *cmc_nce_loss(struct cmc *t, struct sup_ctx *c, struct sup_tensor *z[2],
				       const struct sup_tensor *idx)
{
	struct sup_tensor *noise = sup_memory_bank_sample(c, &c->rng, t->n, t->nce[0].negatives);
	struct sup_tensor *l[2];
	for (int k = 0; k < 2; k++) {
		const struct sup_memory_bank *other = &t->bank[1 - k];
		l[k] = mb_bank_loss(c, &t->model, &t->nce[k], t->loss, z[k], sup_memory_bank_rows(c, &t->model, other, idx),
				    sup_memory_bank_rows(c, &t->model, other, noise), t->n);
	}
	return sup_add(c, l[0], l[1]);
}

/* In-batch InfoNCE both ways: logits z1 z2^T / tau, the matching image on the diagonal.
 * Data-parallel: this process's B rows are rows [r B, (r + 1) B) of the global batch; its
 * anchors of each view meet the gathered embeddings of the other view (sup_all_gather: rank
 * order, and the gradient of every process's loss reaches the local rows), the positive of local
 * row i at global column r B + i. The mean of the processes' losses is the one-process loss, and
 * the averaged gradient its gradient (as SimCLR's gathered NT-Xent). */
static struct sup_tensor *cmc_infonce_loss(struct cmc *t, struct sup_ctx *c, struct sup_tensor *z[2])
{
	if (!z[0] || !z[1])
		return NULL;
	int64_t B = z[0]->shape[0], row0 = (int64_t)sup_comm_rank(c->comm) * B;
	struct sup_tensor *target = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){B});
	if (!target)
		return NULL;
	for (int64_t i = 0; i < B; i++)
		((int64_t *)target->data)[i] = row0 + i;
	if (sup_comm_size(c->comm) > 1) {
		struct sup_tensor *l[2];
		for (int k = 0; k < 2; k++) {
			struct sup_tensor *others = sup_all_gather(c, z[1 - k]);
			l[k] = sup_cross_entropy(c, sup_mul_scalar(c, sup_matmul(c, z[k], others, false, true), 1.0 / t->tau),
						 target, -100, 0, SUP_REDUCE_MEAN);
		}
		return sup_add(c, l[0], l[1]);
	}
	struct sup_tensor *logits = sup_mul_scalar(c, sup_matmul(c, z[0], z[1], false, true), 1.0 / t->tau);
	return sup_add(c, sup_cross_entropy(c, logits, target, -100, 0, SUP_REDUCE_MEAN),
		       sup_cross_entropy(c, sup_transpose(c, logits, 0, 1), target, -100, 0, SUP_REDUCE_MEAN));
}

static enum sup_status cmc_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct cmc *t = state;
	const struct sup_tensor *idx = mb_index(c, b);
	struct sup_tensor *v[2], *z[2];
	cmc_inputs(t, c, b->views[0], idx, si->epoch, true, &v[0], &v[1]);
	sup_model_set_training(&t->model, true);
	/* Data-parallel (memory_bank.h, docs/dist.md): BN over the global batch, the one-process
	 * noise, Z and the bank updates from the global batch; in-batch negatives gathered. */
	mb_sync_bn(c, &t->model, &t->bn_sync, true);
	for (int k = 0; k < 2; k++)
		z[k] = mb_embed(c, &t->model, &t->fc[k], sup_image_encoder_forward(c, &t->model, &t->enc[k], v[k]));
	mb_sync_bn(c, &t->model, &t->bn_sync, false);
	for (int k = 0; t->contrast == CMC_NCE && k < 2 && si->epoch < t->z_epochs; k++)
		sup_nce_forget_z(&t->model, &t->nce[k]);
	struct sup_tensor *loss = t->contrast == CMC_NCE ? cmc_nce_loss(t, c, z, idx) : cmc_infonce_loss(t, c, z);
	if (mb_update(c, &t->model, &t->optim, loss, si->lr) != SUP_OK)
		return sup_ctx_status(c);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 1;
	out->names[0] = "view_sim"; /* mean cosine of the two views' embeddings of an image */
	out->values[0] =
	    mb_mean(sup_sum(c, sup_mul(c, sup_detach(c, z[0]), sup_detach(c, z[1])), (const int[]){1}, 1, false));
	if (t->contrast != CMC_NCE)
		return sup_ctx_status(c);
	for (int k = 0; k < 2; k++)
		if (sup_memory_bank_update_gathered(c, &t->model, &t->bank[k], z[k], idx) != SUP_OK)
			return sup_ctx_status(c);
	return SUP_OK;
}

/* Both views' features (or embeddings), concatenated (Tian et al. §4.2). */
static struct sup_tensor *cmc_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				       bool training)
{
	struct cmc *t = state;
	sup_model_set_training(&t->model, training);
	struct sup_tensor *v[2], *h[2];
	cmc_inputs(t, c, b->views[0], NULL, 0, false, &v[0], &v[1]);
	for (int k = 0; k < 2; k++) {
		h[k] = sup_image_encoder_forward(c, &t->model, &t->enc[k], v[k]);
		if (t->represent_embedding)
			h[k] = mb_embed(c, &t->model, &t->fc[k], h[k]);
	}
	return h[0] && h[1] ? sup_concat(c, h, 2, 1) : NULL;
}

static struct sup_tensor *cmc_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(cmc_features, state, c, b);
}

const struct sup_method sup_method_cmc = {
    .name = "cmc",
    .family = "contrastive",
    .branch = "instance discrimination",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "Tian, Krishnan, Isola 2019, Contrastive Multiview Coding",
    .default_data = "fashion-mnist",
    .batch_kind = SUP_BATCH_IMAGES,
    .data_parallel = true,
    .n_views = 1,
    .config = cmc_keys,
    .init = cmc_init,
    .parts = cmc_parts,
    .train_step = cmc_step,
    .encode = cmc_encode,
    .forward_features = cmc_features,
    .free = cmc_free,
};
