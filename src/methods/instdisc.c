/* "instdisc": instance discrimination with a memory bank and NCE.
 *
 * Wu, Xiong, Yu, Lin, "Unsupervised Feature Learning via Non-Parametric Instance Discrimination",
 * CVPR 2018. Every image is its own class. The encoder maps an augmented image to a 128-d
 * L2-normalised embedding v = f(x) (§3.1); a memory bank V holds one embedding per training image
 * (§3.2). The non-parametric softmax P(i|v) = exp(v_i^T v / tau) / Z_i (eq. 2, tau = 0.07) is
 * trained by NCE (eq. 5-7) against m noise samples from the uniform P_n = 1/n, with Z estimated
 * once by Monte Carlo (eq. 8) and held constant, plus the proximal term lambda ||v_i^(t) -
 * v_i^(t-1)||^2 (eq. 10, §3.4). After each step the bank rows of the batch are moved towards the new
 * embeddings and re-normalised (v_i <- normalise(0.5 v_i + 0.5 f_i), the authors' code). The
 * weighted kNN of §3.4 is `eval=knn`.
 *
 * Departures (scale, not substance): the W1 ConvNet replaces the paper's ResNet (`encoder=`
 * selects ResNet-18/34/50); the m noise samples are shared by the rows of a batch (one GEMM
 * instead of B gathers of m rows; each row still sees m draws of P_n); the learning rate follows
 * the driver's cosine schedule instead of the paper's step decay (x0.1 at epochs 120 and 160 of 200).
 * Views are made here (memory_bank.h) with the augmentation of the authors' code.
 *
 * Data-parallel (`mpirun -np K`): the run of one process on the global batch, up to rounding
 * (memory_bank.h lists how; docs/dist.md). */
#include "methods/image_ssl.h"
#include "methods/memory_bank.h"

#include <math.h>
#include <stdlib.h>

struct instdisc {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_image_encoder enc;
	struct mb_head fc;
	struct sup_memory_bank bank;
	struct sup_nce nce;
	struct mb_views views;
	struct sup_bn_sync bn_sync; /* over the step context's group (data-parallel runs) */
	double prox;
	int64_t n;
	int64_t z_epochs; /* nce.z_epochs */
	enum mb_loss loss; /* nce.loss */
	bool represent_embedding;
};

static const struct sup_cfg_key instdisc_keys[] = {
    {"encoder", SUP_CFG_ENUM, "convnet", "convnet|resnet18|resnet34|resnet50",
     "backbone (convnet = workload W1; resnet18 with the CIFAR stem for CIFAR-10)",
     "W1 ConvNet (issue 6); ResNet in Wu et al. 2018 sec. 4", 0},
    {"embed_dim", SUP_CFG_INT, "128", NULL, "dimension of the L2-normalised embedding",
     "Wu et al. 2018, sec. 3.1 (128-d)", 0},
    {"nce.tau", SUP_CFG_FLOAT, "0.07", NULL, "temperature of the non-parametric softmax",
     "Wu et al. 2018, sec. 3.1, eq. 2", 0},
    {"nce.negatives", SUP_CFG_INT, "4096", NULL,
     "noise samples m per step (shared by the batch; 6.8% of Fashion-MNIST, cheap as one GEMM)",
     "Wu et al. 2018, sec. 4 / Table 2: m = 4096", 0},
    {"head", SUP_CFG_ENUM, "linear", MB_HEAD_CHOICES, "embedding head: one linear layer or linear-ReLU-linear",
     "linear: Wu et al. 2018, sec. 3.1; mlp: SimCLR sec. 2.1, MoCo v2 sec. 2", 0},
    MB_NCE_KEYS,
    {"nce.prox", SUP_CFG_FLOAT, "30", NULL, "proximal regularisation lambda (0 = off)",
     "Wu et al. 2018, sec. 3.4, eq. 10, lambda = 30", 0},
    {"bank.momentum", SUP_CFG_FLOAT, "0.5", NULL, "memory update v <- normalise(m v + (1 - m) f)",
     "Wu et al.'s released code (lemniscate.pytorch, nce-m 0.5)", 0},
    {"represent", SUP_CFG_ENUM, "backbone", "backbone|embedding",
     "what encode() returns: pooled backbone features or the 128-d embedding",
     "Wu et al. 2018, sec. 4: linear probes on conv features, kNN on the embedding", 0},
    {"augment", SUP_CFG_BOOL, "true", NULL, "make augmented views in the method (the source gives raw images)",
     NULL, 0},
    {"aug.crop_scale", SUP_CFG_FLOAT, "0.2", NULL, "lower area bound of the random resized crop",
     "Wu et al.'s code: RandomResizedCrop(scale=(0.2, 1))", 0},
    {"aug.jitter", SUP_CFG_FLOAT, "0.4", NULL, "colour jitter strength (brightness, contrast, saturation, hue)",
     "Wu et al.'s code: ColorJitter(0.4, 0.4, 0.4, 0.4), RandomGrayscale(0.2)", 0},
    {"optim.kind", SUP_CFG_ENUM, "sgd", IMAGE_SSL_OPTIM_CHOICES, "optimizer", "Wu et al. 2018, sec. 4", 0},
    {"optim.momentum", SUP_CFG_FLOAT, "0.9", NULL, "SGD momentum", "Wu et al. 2018, sec. 4", 0},
    {"optim.weight_decay", SUP_CFG_FLOAT, "0.0005", NULL, "L2 weight decay (not on BN/bias)",
     "Wu et al. 2018, sec. 4", 0},
    {"lr", SUP_CFG_FLOAT, "0.03", NULL, "SGD learning rate (batch 256)", "Wu et al. 2018, sec. 4", 0},
    {"batch_size", SUP_CFG_INT, "256", NULL, "images per step", "Wu et al. 2018, sec. 4", 0},
    {"epochs", SUP_CFG_INT, "45", NULL, "passes over the data (paper: 200 on ImageNet)",
     "linear probe 86.4% against 85.7% at 30 epochs; 40 CPU-min with 1 thread incl. evaluation", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void instdisc_free(void *state)
{
	struct instdisc *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t);
}

static enum sup_status instdisc_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				     struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	enum sup_status s = mb_check("instdisc", cfg, data, err, err_size);
	if (s != SUP_OK)
		return s;
	struct instdisc *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->n = data->n_examples;
	t->z_epochs = sup_config_int(cfg, "nce.z_epochs");
	t->loss = (enum mb_loss)sup_config_enum(cfg, "nce.loss");
	t->prox = sup_config_float(cfg, "nce.prox");
	t->represent_embedding = sup_config_enum(cfg, "represent") == 1;
	int64_t dim = sup_config_int(cfg, "embed_dim");
	struct mb_aug_opts ao = {sup_config_bool(cfg, "augment"), sup_config_float(cfg, "aug.crop_scale"),
				 sup_config_float(cfg, "aug.jitter"), false};
	s = mb_views_init(&t->views, data, &ao, (uint64_t)sup_config_int(cfg, "seed"), err, err_size);
	if (s != SUP_OK) {
		instdisc_free(t);
		return s;
	}
	sup_model_init(&t->model, sup_allocator_default());
	mb_encoder_declare(&t->enc, &t->model, "encoder", cfg, data->channels, data->height);
	mb_head_declare(&t->fc, &t->model, "head", t->enc.feat_dim, dim, sup_config_enum(cfg, "head") == 1);
	sup_memory_bank_declare(&t->bank, &t->model, "bank", t->n, dim, sup_config_float(cfg, "bank.momentum"));
	sup_nce_declare(&t->nce, &t->model, "nce", sup_config_float(cfg, "nce.tau"),
			sup_config_int(cfg, "nce.negatives"));
	s = mb_model_status(&t->model, "instdisc", err, err_size);
	if (s == SUP_OK)
		s = sup_model_build(&t->model, rng);
	if (s == SUP_OK)
		s = mb_optim_init(&t->optim, &t->model, cfg);
	if (s != SUP_OK) {
		mb_model_status(&t->model, "instdisc", err, err_size);
		instdisc_free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int instdisc_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct instdisc *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

static enum sup_status instdisc_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				     const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct instdisc *t = state;
	const struct sup_tensor *idx = mb_index(c, b);
	struct sup_tensor *x = mb_views_make(c, &t->views, b->views[0], idx, si->epoch, 0);
	sup_model_set_training(&t->model, true);
	/* Data-parallel (memory_bank.h, docs/dist.md): BN over the global batch, the one-process
	 * noise (c->rng is the same everywhere), Z and the bank update from the global batch. */
	mb_sync_bn(c, &t->model, &t->bn_sync, true);
	struct sup_tensor *v = mb_embed(c, &t->model, &t->fc, sup_image_encoder_forward(c, &t->model, &t->enc, x));
	mb_sync_bn(c, &t->model, &t->bn_sync, false);
	/* v_i^(t-1) of the batch and m noise samples, read before this step's bank update. */
	struct sup_tensor *pos = sup_memory_bank_rows(c, &t->model, &t->bank, idx);
	struct sup_tensor *noise = sup_memory_bank_sample(c, &c->rng, t->n, t->nce.negatives);
	struct sup_tensor *neg = sup_memory_bank_rows(c, &t->model, &t->bank, noise);
	if (si->epoch < t->z_epochs)
		sup_nce_forget_z(&t->model, &t->nce);
	struct sup_tensor *nce = mb_bank_loss(c, &t->model, &t->nce, t->loss, v, pos, neg, t->n);
	struct sup_tensor *loss = nce;
	if (t->prox > 0 && v) /* eq. 10: lambda ||v_i^(t) - v_i^(t-1)||^2, per example */
		loss = sup_add(c, nce, sup_mul_scalar(c, sup_mse(c, v, pos, SUP_REDUCE_SUM), t->prox / (double)v->shape[0]));
	if (mb_update(c, &t->model, &t->optim, loss, si->lr) != SUP_OK)
		return sup_ctx_status(c);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 3;
	out->names[0] = "nce";
	out->values[0] = sup_tensor_get(nce, 0);
	out->names[1] = "pos_sim"; /* mean v_i^(t-1) . v_i^(t): how well the bank tracks the encoder */
	out->values[1] = mb_mean(sup_sum(c, sup_mul(c, sup_detach(c, v), pos), (const int[]){1}, 1, false));
	out->names[2] = "z";
	out->values[2] = sup_nce_z(&t->model, &t->nce);
	return sup_memory_bank_update_gathered(c, &t->model, &t->bank, v, idx);
}

/* The backbone features (or the embedding) of the evaluation view; the memory bank only serves
 * training, so the representation is an ordinary network output. */
static struct sup_tensor *instdisc_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					    bool training)
{
	struct instdisc *t = state;
	sup_model_set_training(&t->model, training);
	struct sup_tensor *h = sup_image_encoder_forward(c, &t->model, &t->enc, mb_views_eval(c, &t->views, b->views[0]));
	return t->represent_embedding ? mb_embed(c, &t->model, &t->fc, h) : h;
}

static struct sup_tensor *instdisc_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(instdisc_features, state, c, b);
}

const struct sup_method sup_method_instdisc = {
    .name = "instdisc",
    .family = "contrastive",
    .branch = "instance discrimination",
    .modalities = SUP_MODALITY_IMAGE,
    .paper = "Wu, Xiong, Yu, Lin 2018, Unsupervised Feature Learning via Non-Parametric Instance Discrimination",
    .default_data = "fashion-mnist",
    .batch_kind = SUP_BATCH_IMAGES,
    .data_parallel = true,
    .n_views = 1,
    .config = instdisc_keys,
    .init = instdisc_init,
    .parts = instdisc_parts,
    .train_step = instdisc_step,
    .encode = instdisc_encode,
    .forward_features = instdisc_features,
    .free = instdisc_free,
};
