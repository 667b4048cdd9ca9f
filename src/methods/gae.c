/* GAE and VGAE: (variational) graph auto-encoders. Kipf & Welling, "Variational Graph
 * Auto-Encoders", NIPS Workshop on Bayesian Deep Learning 2016 (and the authors' code, tkipf/gae,
 * which fixes the loss weighting and the KL scale).
 *
 * The recipe (§2):
 *   encoder   a two-layer GCN (Kipf & Welling 2017) on the TRAINING graph (the held-out edges of
 *             the link-prediction split are never seen): H = ReLU(Â X W0), 32 units;
 *             GAE:  Z = Â H W1 (16 units);
 *             VGAE: μ = Â H W_μ, log σ = Â H W_σ (two heads sharing the first layer, eq. 1),
 *                   Z = μ + σ ε with ε ~ N(0, I) (reparameterisation);
 *             no biases (the code's GraphConvolution layers have none), Glorot weights;
 *   decoder   p(A_ij = 1 | z_i, z_j) = σ(z_i^T z_j), the inner product (eq. 2);
 *   loss      the reconstruction BCE over all N^2 pairs of the label matrix A_train + I, positives
 *             weighted by pos_weight = (N^2 - E) / E and the mean scaled by
 *             norm = N^2 / (2 (N^2 - E)) (E = directed training edges; the code's train.py);
 *             VGAE adds KL(q(Z | X, A) || N(0, I)) / N (eq. 3 as the code scales it: the mean
 *             over nodes of the per-node KL, divided by N).
 * Features as given (the code feeds Cora's binary features unnormalised). Adam, lr 0.01, 200
 * epochs, full batch (§4). The 85/5/10 edge split (§4: validation and test sets hold 5% and 10%
 * of the edges, with as many sampled non-edges) is requested from the data source through the
 * config keys edge_split.val / edge_split.test. encode() is Z (GAE) or μ (VGAE) of the training
 * graph, [N, 16]; the `linkpred` protocol scores the test edges with σ(z_u . z_v) (Table 1, Cora:
 * GAE AUC 91.0, AP 92.0; VGAE 91.4, 92.6). */
#include "methods/graph_util.h"
#include "selfsup/autograd.h"

#include <math.h>
#include <stdlib.h>

struct gae {
	struct sup_model model;
	struct sup_optim optim;
	struct sup_gcn l0, mu, logstd; /* logstd: VGAE only */
	bool variational, row_normalize;
	int64_t features;
};

static const struct sup_cfg_key gae_keys[] = {
    {"hidden", SUP_CFG_INT, "32", NULL, "units of the first GCN layer", "VGAE, Kipf & Welling 2016, sec. 4", 0},
    {"latent", SUP_CFG_INT, "16", NULL, "size of the embedding Z", "VGAE sec. 4 (16-dim latent variables)", 0},
    {"edge_split.val", SUP_CFG_FLOAT, "0.05", NULL, "fraction of the edges held out for validation",
     "VGAE sec. 4 (5% of the citation links)", 0},
    {"edge_split.test", SUP_CFG_FLOAT, "0.1", NULL, "fraction of the edges held out for the test",
     "VGAE sec. 4 (10% of the citation links)", 0},
    {"row_normalize", SUP_CFG_BOOL, "false", NULL, "divide each feature row by its sum",
     "VGAE code, train.py (features used as given)", 0},
    {"lr", SUP_CFG_FLOAT, "0.01", NULL, "Adam learning rate", "VGAE sec. 4 (Adam, learning rate 0.01)", 0},
    {"schedule", SUP_CFG_ENUM, "const", "const|cosine", "learning-rate schedule", "VGAE code (constant rate)", 0},
    {"epochs", SUP_CFG_INT, "200", NULL, "full-batch steps", "VGAE sec. 4 (200 iterations)", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void gae_free(void *state)
{
	struct gae *g = state;
	if (!g)
		return;
	sup_optim_deinit(&g->optim);
	sup_model_deinit(&g->model);
	free(g);
}

static enum sup_status gae_init_common(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				       struct sup_rng *rng, bool variational, char *err, size_t err_size)
{
	const char *name = variational ? "vgae" : "gae";
	*state = NULL;
	if (data->modality != SUP_MODALITY_GRAPH || data->dim < 1) {
		snprintf(err, err_size, "%s trains on a graph with node features (data=cora), not on %s", name,
			 data->name);
		return SUP_ERR_ARG;
	}
	const int64_t H = sup_config_int(cfg, "hidden"), L = sup_config_int(cfg, "latent");
	const double test = sup_config_float(cfg, "edge_split.test");
	if (H < 1 || L < 1 || !(test > 0)) {
		snprintf(err, err_size, "%s: 'hidden' and 'latent' must be >= 1 and 'edge_split.test' > 0 (got %lld, %lld, %g)",
			 name, (long long)H, (long long)L, test);
		return SUP_ERR_ARG;
	}
	struct gae *g = calloc(1, sizeof *g);
	if (!g)
		return SUP_ERR_NOMEM;
	g->variational = variational;
	g->row_normalize = sup_config_bool(cfg, "row_normalize");
	g->features = data->dim;
	sup_model_init(&g->model, sup_allocator_default());
	sup_gcn_declare(&g->l0, &g->model, "encoder.layers.0", data->dim, H, false);
	sup_gcn_declare(&g->mu, &g->model, variational ? "encoder.mu" : "encoder.layers.1", H, L, false);
	if (variational)
		sup_gcn_declare(&g->logstd, &g->model, "encoder.logstd", H, L, false);
	enum sup_status s = sup_model_build(&g->model, rng);
	struct sup_optim_config oc = {.kind = SUP_OPTIM_ADAM};
	if (s == SUP_OK)
		s = sup_optim_init(&g->optim, &g->model, &oc);
	if (s != SUP_OK) {
		snprintf(err, err_size, "%s: %s", name, g->model.err_msg[0] ? g->model.err_msg : sup_status_str(s));
		gae_free(g);
		return s;
	}
	*state = g;
	return SUP_OK;
}

static enum sup_status gae_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size)
{
	return gae_init_common(state, cfg, data, rng, false, err, err_size);
}

static enum sup_status vgae_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				 struct sup_rng *rng, char *err, size_t err_size)
{
	return gae_init_common(state, cfg, data, rng, true, err, err_size);
}

static int gae_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct gae *g = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &g->model, &g->optim};
	return 1;
}

/* The first layer H = ReLU(Â X W0); NULL with c's error set on a bad batch. */
static struct sup_tensor *gae_hidden(struct gae *g, struct sup_ctx *c, const struct sup_method_batch *b)
{
	if (!sup_graph_batch_ok(c, b, g->features, g->variational ? "vgae" : "gae"))
		return NULL;
	const struct sup_csr *x = g->row_normalize ? sup_graph_csr_row_normalize(c, b->features) : b->features;
	return x ? sup_relu(c, sup_gcn_forward(c, &g->model, &g->l0, b->graph, NULL, x)) : NULL;
}

/* norm * mean over the N^2 pairs of the weighted BCE of σ(Z Z^T) against A + I. With
 * bce(z, y) = softplus(z) - y z and weight pos_weight on the positives, the weighted sum is
 *   Σ_all softplus(z_ij) + Σ_pos [(pos_weight - 1) softplus(z_ij) - pos_weight z_ij],
 * so the N^2 part is one softplus over Z Z^T (no dense label or weight matrices) and the rest
 * runs over the |A + I| positive pairs. Same value and gradient as the code's
 * weighted_cross_entropy_with_logits over the dense matrices. */
static struct sup_tensor *gae_recon_loss(struct sup_ctx *c, const struct sup_csr *adj, struct sup_tensor *z)
{
	double pw, norm;
	struct sup_tensor *rows = NULL, *cols = NULL;
	if (!z || sup_gae_positive_pairs(c, adj, &rows, &cols) != SUP_OK)
		return NULL;
	sup_gae_edge_weights(adj, &pw, &norm);
	struct sup_tensor *all = sup_sum(c, sup_softplus(c, sup_matmul(c, z, z, false, true)), NULL, 0, false);
	struct sup_tensor *zp = sup_sum(c, sup_mul(c, sup_index_select(c, z, 0, rows), sup_index_select(c, z, 0, cols)),
					(const int[]){1}, 1, false);
	struct sup_tensor *pos = sup_sum(
	    c, sup_sub(c, sup_mul_scalar(c, sup_softplus(c, zp), pw - 1.0), sup_mul_scalar(c, zp, pw)), NULL, 0, false);
	const double n2 = (double)adj->rows * (double)adj->rows;
	return sup_mul_scalar(c, sup_add(c, all, pos), norm / n2);
}

static enum sup_status gae_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct gae *g = state;
	sup_model_set_training(&g->model, true);
	struct sup_tensor *h = gae_hidden(g, c, b);
	struct sup_tensor *mu = sup_gcn_forward(c, &g->model, &g->mu, b->graph, h, NULL), *z = mu, *kl = NULL;
	if (g->variational && mu) {
		struct sup_tensor *logstd = sup_gcn_forward(c, &g->model, &g->logstd, b->graph, h, NULL);
		struct sup_tensor *eps = sup_tensor_new(c, SUP_F32, 2, mu->shape);
		if (eps)
			sup_tensor_fill_normal(eps, &c->rng, 0.0, 1.0);
		z = sup_add(c, mu, sup_mul(c, eps, sup_exp(c, logstd)));
		/* sum over nodes and dimensions / N^2: the code's (0.5 / N) mean_i sum_j (...) */
		const double n2 = (double)mu->shape[0] * (double)mu->shape[0];
		kl = sup_mul_scalar(c, sup_gaussian_kl(c, mu, sup_mul_scalar(c, logstd, 2.0), SUP_REDUCE_SUM), 1.0 / n2);
	}
	struct sup_tensor *rec = gae_recon_loss(c, b->graph, z);
	struct sup_tensor *loss = kl ? sup_add(c, rec, kl) : rec;
	if (!loss)
		return sup_ctx_status(c);
	sup_model_zero_grad(&g->model);
	if (sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&g->optim, si->lr);
	*out = (struct sup_step_stats){.loss = sup_tensor_get(loss, 0), .n = 1, .names = {"recon"},
				       .values = {sup_tensor_get(rec, 0)}};
	if (kl) {
		out->names[1] = "kl";
		out->values[1] = sup_tensor_get(kl, 0);
		out->n = 2;
	}
	return SUP_OK;
}

/* Z (GAE) or mu (VGAE) of the training graph. */
static struct sup_tensor *gae_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				       bool training)
{
	struct gae *g = state;
	sup_model_set_training(&g->model, training);
	return sup_gcn_forward(c, &g->model, &g->mu, b->graph, gae_hidden(g, c, b), NULL);
}

static struct sup_tensor *gae_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(gae_features, state, c, b);
}

const struct sup_method sup_method_gae = {
    .name = "gae",
    .family = "generative",
    .branch = "auto-encoding",
    .modalities = SUP_MODALITY_GRAPH,
    .paper = "Kipf & Welling 2016, Variational Graph Auto-Encoders (GAE)",
    .default_data = "cora",
    .batch_kind = SUP_BATCH_GRAPH,
    .n_views = 1,
    .config = gae_keys,
    .init = gae_init,
    .parts = gae_parts,
    .train_step = gae_step,
    .encode = gae_encode,
    .forward_features = gae_features,
    .free = gae_free,
};

const struct sup_method sup_method_vgae = {
    .name = "vgae",
    .family = "generative",
    .branch = "auto-encoding",
    .modalities = SUP_MODALITY_GRAPH,
    .paper = "Kipf & Welling 2016, Variational Graph Auto-Encoders (VGAE)",
    .default_data = "cora",
    .batch_kind = SUP_BATCH_GRAPH,
    .n_views = 1,
    .config = gae_keys,
    .init = vgae_init,
    .parts = gae_parts,
    .train_step = gae_step,
    .encode = gae_encode,
    .forward_features = gae_features,
    .free = gae_free,
};
