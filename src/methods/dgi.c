/* DGI: Deep Graph Infomax. Veličković, Fedus, Hamilton, Liò, Bengio, Hjelm, "Deep Graph Infomax",
 * ICLR 2019 (and the authors' code, PetarV-/DGI, which fixes what the paper leaves open).
 *
 * The recipe (§3.3 and §3.4, transductive setting of §4.3):
 *   encoder     E(X, A) = PReLU(Â X Θ + b): one GCN layer (Kipf & Welling 2017) of 512 units
 *               with a PReLU of one slope, Â = D~^-1/2 (A + I) D~^-1/2 (§4.3 eq. 4);
 *   corruption  C(X, A) = (P X, A): the rows of X shuffled by a fresh permutation every step
 *               (§4.3, "row-wise shuffling of the feature matrix");
 *   readout     s = σ(mean_i h_i) (§4.3, "a simple averaging of all the nodes' features");
 *   discriminator D(h_i, s) = σ(h_i^T W s) (bilinear, §4.3 eq. 5);
 *   loss        eq. 1, the BCE of D on the N real pairs (h_i, s) (label 1) and the N corrupted
 *               pairs (h~_j, s) (label 0), mean over the 2N scores.
 * Features are row-normalised first (the code's preprocess_features). Adam, lr 0.001 (§4.3),
 * full batch, one step per epoch; early stopping on the training loss with a patience of 20
 * epochs (§4.3): as in the code, the parameters that produced the lowest loss are kept (before
 * that step's update), and when the loss has not improved for `patience` steps the method
 * restores them and asks the driver to stop (struct sup_step_stats.stop).
 * encode() is E(X, A) of the real graph, [N, 512]; the paper evaluates it with logistic
 * regression on the train nodes (accuracy on the test nodes: 82.3 ± 0.6 on Cora, Table 2).
 *
 * State. The best parameters live in a second model "best" of the same layout, and the early
 * stopping counters (best loss, steps since it) in a buffer of the model, so both are in the
 * checkpoint and a resumed run continues exactly. */
#include "methods/graph_util.h"
#include "selfsup/autograd.h"

#include <math.h>
#include <stdlib.h>

struct dgi_net {
	struct sup_gcn_encoder enc;
	struct sup_bilinear disc;
	int track; /* buffer [2]: lowest loss so far, steps since it improved */
};

struct dgi {
	struct sup_model model, best;
	struct sup_optim optim;
	struct dgi_net net, best_net;
	int64_t features, patience;
	bool row_normalize;
};

static const struct sup_cfg_key dgi_keys[] = {
    {"hidden", SUP_CFG_INT, "512", NULL, "GCN units (the representation size)",
     "DGI, Velickovic et al. 2019, sec. 4.3 (transductive: 512 features)", 0},
    {"patience", SUP_CFG_INT, "20", NULL, "early stopping: epochs without a lower training loss",
     "DGI sec. 4.3 (patience of 20 epochs)", 0},
    {"row_normalize", SUP_CFG_BOOL, "true", NULL, "divide each feature row by its sum",
     "DGI code, utils/process.py preprocess_features", 0},
    {"weight_decay", SUP_CFG_FLOAT, "0", NULL, "L2 weight decay (Adam)", "DGI code, execute.py (l2_coef = 0.0)", 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "Adam learning rate", "DGI sec. 4.3 (Adam, learning rate 0.001)", 0},
    {"schedule", SUP_CFG_ENUM, "const", "const|cosine", "learning-rate schedule", "DGI code (constant rate)", 0},
    {"epochs", SUP_CFG_INT, "10000", NULL, "most epochs (full-batch steps); early stopping ends sooner",
     "DGI code, execute.py (nb_epochs = 10000)", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static int dgi_declare(struct dgi_net *n, struct sup_model *m, int64_t F, int64_t H)
{
	sup_gcn_encoder_declare(&n->enc, m, "encoder", 1, (const int64_t[]){F, H}, SUP_GCN_ACT_PRELU, true, 0.0);
	sup_bilinear_declare(&n->disc, m, "disc", H, true);
	n->track = sup_model_add(m, "", "early_stop", SUP_KIND_BUFFER, 1, (const int64_t[]){2}, SUP_INIT_ZEROS, 0, 0);
	return m->err ? -1 : 0;
}

static void dgi_free(void *state)
{
	struct dgi *d = state;
	if (!d)
		return;
	sup_optim_deinit(&d->optim);
	sup_model_deinit(&d->model);
	sup_model_deinit(&d->best);
	free(d);
}

static enum sup_status dgi_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	if (data->modality != SUP_MODALITY_GRAPH || data->dim < 1) {
		snprintf(err, err_size, "dgi trains on a graph with node features (data=cora), not on %s", data->name);
		return SUP_ERR_ARG;
	}
	const int64_t H = sup_config_int(cfg, "hidden"), patience = sup_config_int(cfg, "patience");
	if (H < 1 || patience < 1) {
		snprintf(err, err_size, "dgi: config keys 'hidden' and 'patience' must be >= 1 (got %lld, %lld)",
			 (long long)H, (long long)patience);
		return SUP_ERR_ARG;
	}
	struct dgi *d = calloc(1, sizeof *d);
	if (!d)
		return SUP_ERR_NOMEM;
	d->features = data->dim;
	d->patience = patience;
	d->row_normalize = sup_config_bool(cfg, "row_normalize");
	sup_model_init(&d->model, sup_allocator_default());
	sup_model_init(&d->best, sup_allocator_default());
	dgi_declare(&d->net, &d->model, data->dim, H);
	dgi_declare(&d->best_net, &d->best, data->dim, H);
	enum sup_status s = sup_model_build(&d->model, rng);
	if (s == SUP_OK) {
		struct sup_rng unused = *rng; /* "best" is overwritten by a copy of the model at once */
		s = sup_model_build(&d->best, &unused);
	}
	if (s == SUP_OK)
		s = sup_model_copy(&d->best, &d->model);
	if (s == SUP_OK) {
		struct sup_tensor *t = sup_model_tensor(&d->model, d->net.track);
		sup_tensor_set(t, 0, INFINITY); /* no loss seen yet */
		struct sup_optim_config oc = {.kind = SUP_OPTIM_ADAM, .weight_decay = sup_config_float(cfg, "weight_decay")};
		s = sup_optim_init(&d->optim, &d->model, &oc);
	}
	if (s != SUP_OK) {
		snprintf(err, err_size, "dgi: %s", d->model.err_msg[0] ? d->model.err_msg : sup_status_str(s));
		dgi_free(d);
		return s;
	}
	*state = d;
	return SUP_OK;
}

static int dgi_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct dgi *d = state;
	if (cap < 2)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &d->model, &d->optim};
	out[1] = (struct sup_ckpt_part){"best", "best.", &d->best, NULL};
	return 2;
}

static const struct sup_csr *dgi_features(struct dgi *d, struct sup_ctx *c, const struct sup_method_batch *b)
{
	if (!sup_graph_batch_ok(c, b, d->features, "dgi"))
		return NULL;
	return d->row_normalize ? sup_graph_csr_row_normalize(c, b->features) : b->features;
}

/* The loss of eq. 1 on the real graph x and its corruption xc; *acc: the fraction of the 2N
 * scores on the right side of 0. */
static struct sup_tensor *dgi_loss(struct dgi *d, struct sup_ctx *c, const struct sup_csr *adj,
				   const struct sup_csr *x, const struct sup_csr *xc, double *acc)
{
	struct sup_model *m = &d->model;
	struct sup_tensor *h = sup_gcn_encoder_forward(c, m, &d->net.enc, adj, NULL, x);
	struct sup_tensor *hc = sup_gcn_encoder_forward(c, m, &d->net.enc, adj, NULL, xc);
	struct sup_tensor *s = sup_sigmoid(c, sup_mean(c, h, (const int[]){0}, 1, false));
	struct sup_tensor *sc[2] = {sup_bilinear_forward(c, m, &d->net.disc, h, s),
				    sup_bilinear_forward(c, m, &d->net.disc, hc, s)};
	struct sup_tensor *logits = sup_concat(c, sc, 2, 0);
	const int64_t N = adj->rows;
	struct sup_tensor *lbl = sup_tensor_zeros(c, SUP_F32, 1, (const int64_t[]){2 * N});
	if (!logits || !lbl)
		return NULL;
	int64_t right = 0;
	for (int64_t i = 0; i < 2 * N; i++) {
		if (i < N)
			sup_tensor_set(lbl, i, 1.0);
		right += (sup_tensor_get(logits, i) > 0) == (i < N);
	}
	*acc = (double)right / (double)(2 * N);
	return sup_bce_with_logits(c, logits, lbl, SUP_REDUCE_MEAN);
}

static enum sup_status dgi_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct dgi *d = state;
	sup_model_set_training(&d->model, true);
	const struct sup_csr *x = dgi_features(d, c, b);
	int64_t *perm = x ? sup_ctx_alloc(c, sizeof(int64_t) * (size_t)x->rows) : NULL;
	if (!perm)
		return sup_ctx_status(c);
	/* the corruption: a fresh row permutation from the context RNG (checkpointed) */
	sup_rng_permutation(&c->rng, perm, x->rows);
	double acc = 0;
	struct sup_tensor *loss = dgi_loss(d, c, b->graph, x, sup_graph_csr_permute_rows(c, x, perm), &acc);
	if (!loss)
		return sup_ctx_status(c);
	const double l = sup_tensor_get(loss, 0);
	struct sup_tensor *track = sup_model_tensor(&d->model, d->net.track);
	double best = sup_tensor_get(track, 0), wait = sup_tensor_get(track, 1);
	if (l < best) {
		/* the parameters that gave this loss, before the update (the code's torch.save) */
		best = l, wait = 0;
		sup_tensor_set(track, 0, best);
		sup_tensor_set(track, 1, wait);
		sup_model_copy(&d->best, &d->model);
	} else {
		sup_tensor_set(track, 1, ++wait);
	}
	*out = (struct sup_step_stats){.loss = l, .n = 3, .names = {"disc_acc", "best_loss", "wait"},
				       .values = {acc, best, wait}};
	if (wait >= (double)d->patience) {
		/* stop without this step's update and go back to the best parameters */
		sup_model_copy(&d->model, &d->best);
		sup_tensor_set(track, 1, (double)d->patience); /* a resumed run stops at once */
		out->stop = true;
		return SUP_OK;
	}
	sup_model_zero_grad(&d->model);
	if (sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&d->optim, si->lr);
	return SUP_OK;
}

/* E(X, A) of the real graph. */
static struct sup_tensor *dgi_forward_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					       bool training)
{
	struct dgi *d = state;
	sup_model_set_training(&d->model, training);
	const struct sup_csr *x = dgi_features(d, c, b);
	return x ? sup_gcn_encoder_forward(c, &d->model, &d->net.enc, b->graph, NULL, x) : NULL;
}

static struct sup_tensor *dgi_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(dgi_forward_features, state, c, b);
}

const struct sup_method sup_method_dgi = {
    .name = "dgi",
    .family = "contrastive",
    .branch = "context-instance: mutual information",
    .modalities = SUP_MODALITY_GRAPH,
    .paper = "Velickovic et al. 2019, Deep Graph Infomax (ICLR)",
    .default_data = "cora",
    .batch_kind = SUP_BATCH_GRAPH,
    .n_views = 1,
    .config = dgi_keys,
    .init = dgi_init,
    .parts = dgi_parts,
    .train_step = dgi_step,
    .encode = dgi_encode,
    .forward_features = dgi_forward_features,
    .free = dgi_free,
};
