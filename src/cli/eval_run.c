/* Evaluation protocols of `selfsup eval` and `train ... eval=`: open a checkpoint, encode the
 * train and test splits once (lazily, shared by all protocols of one call), run the protocols of
 * src/eval/ on the features and collect named metrics (fractions, not percents). A graph is one
 * data set holding every split: its nodes are encoded once, linear and knn use its node masks,
 * and linkpred scores the edges held out of training (source_graph.c). */
#define _POSIX_C_SOURCE 200809L /* strtok_r */

#include "cli/cli.h"
#include "selfsup/data.h"
#include "selfsup/eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eval_job {
	struct cli_loaded l;
	const char *data;
	struct cli_source src[2]; /* train, test */
	bool opened[2];
	/* The labelled companion set of the feature protocols when it differs from data
	 * (fortunes -> fortune-8), else unused: features then come from src. */
	struct cli_source lsrc[2];
	bool lopened[2];
	float *x[2];
	int64_t *y[2];
	int64_t n[2], d;
	bool graph; /* one graph holds every split (masks); encoded once into x[0] */
	char **opts; /* evaluation options (finetune.*) */
	int n_opts;
};

static int add_metric(struct cli_metrics *m, const char *name, double v, char *err, size_t es)
{
	if (m->n >= CLI_MAX_METRICS) {
		snprintf(err, es, "too many metrics");
		return CLI_FAIL;
	}
	snprintf(m->names[m->n], sizeof m->names[m->n], "%s", name);
	m->values[m->n++] = v;
	return CLI_OK;
}

/* The labelled source of split s (0 train, 1 test), opened on first use. Unlabelled pretraining
 * corpora are evaluated on their labelled companion set (fortunes -> fortune-8's 80/20 split);
 * the nll protocols keep j->data. */
static int labelled_source(struct eval_job *j, int s, struct cli_source **out, char *err, size_t es)
{
	const char *ld = cli_source_labelled(j->data);
	bool own = strcmp(ld, j->data) != 0;
	struct cli_source *src = own ? &j->lsrc[s] : &j->src[s];
	bool *opened = own ? &j->lopened[s] : &j->opened[s];
	if (!*opened) {
		enum sup_status st = cli_source_open(src, ld, s == 0, err, es);
		if (st != SUP_OK)
			return st == SUP_ERR_NOT_FOUND ? CLI_USAGE : CLI_FAIL;
		*opened = true;
	}
	*out = src;
	return CLI_OK;
}

/* Features of split s (0 train, 1 test), encoded on first use. */
static int features(struct eval_job *j, int s, char *err, size_t es)
{
	if (j->graph)
		s = 0;
	if (j->x[s])
		return CLI_OK;
	struct cli_source *src = NULL;
	int code = labelled_source(j, s, &src, err, es);
	if (code != CLI_OK)
		return code;
	int64_t d = 0;
	code = cli_encode_split(&j->l, src, 256, &j->x[s], &d, &j->y[s], err, es);
	if (code != CLI_OK)
		return code;
	if (!j->y[s]) {
		snprintf(err, es, "data set %s has no labels to evaluate with", j->data);
		return CLI_USAGE;
	}
	j->n[s] = src->n;
	j->d = d;
	return CLI_OK;
}

static struct sup_eval_set eval_set(const struct eval_job *j, int s)
{
	if (j->graph)
		s = 0;
	return (struct sup_eval_set){ .x = j->x[s], .labels = j->y[s], .label_dtype = SUP_I64, .n = j->n[s], .d = j->d };
}

/* Features of both splits, encoded on first use. */
static int train_test_features(struct eval_job *j, struct sup_eval_set *tr, struct sup_eval_set *te, char *err,
			       size_t es)
{
	int code = features(j, 0, err, es);
	if (code == CLI_OK)
		code = features(j, 1, err, es);
	if (code == CLI_OK) {
		*tr = eval_set(j, 0);
		*te = eval_set(j, 1);
	}
	return code;
}

/* ---- graphs: node splits by mask, link prediction on the held-out edges ---------------------- */

/* The nodes of a graph's mask as an eval set (features and labels copied into x, y). An empty
 * mask gives n = 0. */
static int graph_subset(const struct eval_job *j, const uint8_t *mask, struct sup_eval_set *out, float **x,
			int64_t **y, char *err, size_t es)
{
	const int64_t N = j->n[0], D = j->d;
	int64_t n = 0;
	for (int64_t i = 0; mask && i < N; i++)
		n += mask[i] != 0;
	*x = malloc(sizeof(float) * (size_t)(n * D + 1));
	*y = malloc(sizeof(int64_t) * (size_t)(n + 1));
	if (!*x || !*y) {
		snprintf(err, es, "out of memory");
		return CLI_FAIL;
	}
	for (int64_t i = 0, k = 0; mask && i < N; i++) {
		if (!mask[i])
			continue;
		memcpy(*x + k * D, j->x[0] + i * D, sizeof(float) * (size_t)D);
		(*y)[k++] = j->y[0][i];
	}
	*out = (struct sup_eval_set){ .x = *x, .labels = *y, .label_dtype = SUP_I64, .n = n, .d = D };
	return CLI_OK;
}

/* Node classification on a graph (the transductive protocol of GCN / DGI): the probe (or kNN) is
 * fitted on the nodes of train_mask and scored on test_mask; the linear probe picks its L2
 * strength on val_mask (a hold-out of the train nodes when the data set has no val nodes) and
 * is not refitted on them, so only the train nodes' labels are learned from. The grid reaches
 * stronger L2 than the default one: a few labelled nodes (Cora: 140) against hundreds of
 * dimensions (DGI: 512), where the validation accuracy often peaks at or above the default
 * grid's largest value (0.1). Unlabelled nodes (y = -1) are left out by the protocols. */
static const double graph_l2_grid[] = { 10, 3, 1, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4, 1e-5, 1e-6 };

static int graph_node_task(struct eval_job *j, struct cli_metrics *m, bool linear, char *err, size_t es)
{
	int code = features(j, 0, err, es);
	if (code != CLI_OK)
		return code;
	const struct sup_graph *g = cli_graph_source_graph(&j->src[0]);
	struct sup_eval_set set[3];
	float *x[3] = { 0 };
	int64_t *y[3] = { 0 };
	const uint8_t *masks[3] = { g->train_mask, g->val_mask, g->test_mask };
	for (int k = 0; k < 3 && code == CLI_OK; k++)
		code = graph_subset(j, masks[k], &set[k], &x[k], &y[k], err, es);
	if (code == CLI_OK && (set[0].n == 0 || set[2].n == 0)) {
		snprintf(err, es, "data set %s has no train/test node masks (train_mask.npy, test_mask.npy)", j->data);
		code = CLI_USAGE;
	}
	if (code == CLI_OK && linear) {
		struct sup_linear_probe_opts o;
		sup_linear_probe_opts_default(&o);
		o.refit = false;
		o.n_l2 = (int)(sizeof graph_l2_grid / sizeof graph_l2_grid[0]);
		memcpy(o.l2, graph_l2_grid, sizeof graph_l2_grid);
		struct sup_linear_probe_result r;
		if (sup_eval_linear_probe(&set[0], set[1].n ? &set[1] : NULL, &set[2], &o, &r, err, es) != SUP_OK)
			code = CLI_FAIL;
		else
			code = add_metric(m, "linear_acc", r.top1, err, es);
	} else if (code == CLI_OK) {
		struct sup_knn_opts o;
		sup_knn_opts_default(&o);
		struct sup_knn_result r;
		if (sup_eval_knn(&set[0], &set[2], &o, &r, NULL, err, es) != SUP_OK)
			code = CLI_FAIL;
		else
			code = add_metric(m, "knn_acc", r.top1, err, es);
	}
	for (int k = 0; k < 3; k++)
		free(x[k]), free(y[k]);
	return code;
}

/* Pairs (u, v) of two id lists as the [n, 2] i64 array of sup_eval_linkpred (malloc'd). */
static int64_t *pairs_of(const int32_t *u, const int32_t *v, int64_t n)
{
	int64_t *p = malloc(sizeof(int64_t) * (size_t)(2 * n + 1));
	for (int64_t i = 0; p && i < n; i++)
		p[2 * i] = u[i], p[2 * i + 1] = v[i];
	return p;
}

/* Link prediction (Kipf & Welling 2016, §4): the test edges held out of the training graph
 * against as many non-edges, scored by sigmoid(z_u . z_v) of the method's embeddings. */
static int proto_linkpred(struct eval_job *j, struct cli_metrics *m, char *err, size_t es)
{
	const struct sup_edge_split *sp = j->graph ? cli_graph_source_split(&j->src[0]) : NULL;
	if (!sp || sp->n_test < 1) {
		snprintf(err, es,
			 "linkpred needs a graph method trained with held-out edges (config keys edge_split.val/test: "
			 "gae, vgae); method %s on %s has none",
			 j->l.method->name, j->data);
		return CLI_USAGE;
	}
	int code = features(j, 0, err, es);
	if (code != CLI_OK)
		return code;
	int64_t *pos = pairs_of(sp->test_src, sp->test_dst, sp->n_test);
	int64_t *neg = pairs_of(sp->test_neg_src, sp->test_neg_dst, sp->n_test);
	struct sup_linkpred_result r;
	if (!pos || !neg) {
		snprintf(err, es, "out of memory");
		code = CLI_FAIL;
	} else if (sup_eval_linkpred(j->x[0], j->n[0], j->d, pos, sp->n_test, neg, sp->n_test, &r, err, es) != SUP_OK) {
		code = CLI_FAIL;
	} else {
		code = add_metric(m, "auc", r.auc, err, es);
		if (code == CLI_OK)
			code = add_metric(m, "ap", r.ap, err, es);
	}
	free(pos), free(neg);
	return code;
}

static int proto_linear(struct eval_job *j, struct cli_metrics *m, char *err, size_t es)
{
	if (j->graph)
		return graph_node_task(j, m, true, err, es);
	struct sup_eval_set tr, te;
	int code = train_test_features(j, &tr, &te, err, es);
	if (code != CLI_OK)
		return code;
	struct sup_linear_probe_opts o;
	sup_linear_probe_opts_default(&o);
	struct sup_linear_probe_result r;
	if (sup_eval_linear_probe(&tr, NULL, &te, &o, &r, err, es) != SUP_OK)
		return CLI_FAIL;
	code = add_metric(m, "linear_acc", r.top1, err, es);
	if (code == CLI_OK && r.has_top5)
		code = add_metric(m, "linear_top5", r.top5, err, es);
	return code;
}

static int proto_knn(struct eval_job *j, struct cli_metrics *m, char *err, size_t es)
{
	if (j->graph)
		return graph_node_task(j, m, false, err, es);
	struct sup_eval_set tr, te;
	int code = train_test_features(j, &tr, &te, err, es);
	if (code != CLI_OK)
		return code;
	struct sup_knn_opts o;
	sup_knn_opts_default(&o);
	struct sup_knn_result r;
	if (sup_eval_knn(&tr, &te, &o, &r, NULL, err, es) != SUP_OK)
		return CLI_FAIL;
	return add_metric(m, "knn_acc", r.top1, err, es);
}

static int proto_cluster(struct eval_job *j, struct cli_metrics *m, char *err, size_t es)
{
	int code = features(j, 1, err, es);
	if (code != CLI_OK)
		return code;
	struct sup_eval_set te = eval_set(j, 1);
	struct sup_kmeans_opts o;
	sup_kmeans_opts_default(&o);
	struct sup_cluster_result r;
	if (sup_eval_cluster(&te, &o, &r, NULL, err, es) != SUP_OK)
		return CLI_FAIL;
	code = add_metric(m, "nmi", r.nmi, err, es);
	return code == CLI_OK ? add_metric(m, "ari", r.ari, err, es) : code;
}

/* Total NLL (nats) and dimensions of the test split through the method's nll callback. */
static int test_nll(struct eval_job *j, double *nats, double *dims, int64_t *n, char *err, size_t es)
{
	if (!j->l.method->nll) {
		snprintf(err, es, "method %s is not a density model (no likelihood to evaluate)", j->l.method->name);
		return CLI_USAGE;
	}
	if (!j->opened[1]) {
		enum sup_status st = cli_source_open(&j->src[1], j->data, false, err, es);
		if (st != SUP_OK)
			return st == SUP_ERR_NOT_FOUND ? CLI_USAGE : CLI_FAIL;
		j->opened[1] = true;
	}
	const struct cli_source *src = &j->src[1];
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 0);
	int64_t *idx = malloc(sizeof(int64_t) * (size_t)(src->n + 1)), step = 256;
	int code = idx ? CLI_OK : CLI_FAIL;
	*nats = *dims = 0;
	for (int64_t i = 0; idx && i < src->n; i++)
		idx[i] = i;
	for (int64_t i0 = 0; code == CLI_OK && i0 < src->n; i0 += step) {
		int64_t b = src->n - i0 < step ? src->n - i0 : step;
		struct sup_method_batch bt;
		double bn = 0, bd = 0;
		if (src->get(src, &c, idx + i0, b, 1, 0, 0, &bt) != SUP_OK ||
		    j->l.method->nll(j->l.state, &c, &bt, &bn, &bd) != SUP_OK) {
			snprintf(err, es, "nll: %s", sup_ctx_error(&c));
			code = CLI_FAIL;
		}
		*nats += bn;
		*dims += bd;
		sup_ctx_reset(&c);
	}
	*n = src->n;
	free(idx);
	sup_ctx_deinit(&c);
	return code;
}

/* nll: nats per example; bpd / bits_per_byte: bits per dimension (pixel or byte). */
static int proto_density(struct eval_job *j, struct cli_metrics *m, const char *key, char *err, size_t es)
{
	double nats, dims;
	int64_t n;
	int code = test_nll(j, &nats, &dims, &n, err, es);
	if (code != CLI_OK)
		return code;
	if (strcmp(key, "nll_nats") == 0)
		return add_metric(m, key, nats / (double)(n ? n : 1), err, es);
	return add_metric(m, key, sup_eval_bits_per_dim(nats, dims), err, es);
}

static int proto_nll(struct eval_job *j, struct cli_metrics *m, char *err, size_t es)
{
	return proto_density(j, m, "nll_nats", err, es);
}

static int proto_bpd(struct eval_job *j, struct cli_metrics *m, char *err, size_t es)
{
	return proto_density(j, m, "bpd", err, es);
}

static int proto_bpb(struct eval_job *j, struct cli_metrics *m, char *err, size_t es)
{
	if (j->src[0].info.modality == SUP_MODALITY_TEXT && j->src[0].info.vocab_size != SUP_TOK_BYTE_VOCAB) {
		snprintf(err, es, "bits_per_byte needs byte tokens (data=fortunes), not %s", j->data);
		return CLI_USAGE;
	}
	return proto_density(j, m, "bits_per_byte", err, es);
}

/* Supervised fine-tuning of encoder + linear head (eval_finetune.c, src/eval/finetune.c). It
 * trains the loaded model in place and puts every parameter back afterwards, so the protocols
 * before and after it in one call see the checkpoint's weights. */
static int proto_finetune(struct eval_job *j, struct cli_metrics *m, char *err, size_t es)
{
	struct cli_source *tr = &j->src[0], *te = &j->src[0];
	int code = CLI_OK;
	if (!j->graph) {
		code = labelled_source(j, 0, &tr, err, es);
		if (code == CLI_OK)
			code = labelled_source(j, 1, &te, err, es);
	}
	struct sup_finetune_result r;
	if (code == CLI_OK)
		code = cli_eval_finetune(&j->l, tr, te, j->opts, j->n_opts, &r, err, es);
	if (code == CLI_OK)
		code = add_metric(m, "finetune_acc", r.top1, err, es);
	if (code == CLI_OK && r.has_top5)
		code = add_metric(m, "finetune_top5", r.top5, err, es);
	return code;
}

static const struct {
	const char *name;
	int (*run)(struct eval_job *j, struct cli_metrics *m, char *err, size_t es);
} protocols[] = {
	{ "linear", proto_linear },
	{ "knn", proto_knn },
	{ "cluster", proto_cluster },
	{ "nll", proto_nll },
	{ "bpd", proto_bpd },
	{ "perplexity", proto_bpb },
	{ "linkpred", proto_linkpred },
	{ "finetune", proto_finetune },
};
#define N_PROTOCOLS (sizeof protocols / sizeof protocols[0])

bool cli_eval_known(const char *protocol)
{
	for (size_t i = 0; i < N_PROTOCOLS; i++)
		if (strcmp(protocols[i].name, protocol) == 0)
			return true;
	return false;
}

void cli_eval_list(FILE *f)
{
	for (size_t i = 0; i < N_PROTOCOLS; i++)
		fprintf(f, " %s", protocols[i].name);
}

/* The job's model: a checkpoint, or one of the two baselines (see cli.h). */
static int open_model(struct eval_job *j, const char *ckpt, const char *data, const char *method, char **over,
		      int n_over, char *err, size_t es)
{
	if (n_over > 0 && strcmp(ckpt, "raw") == 0) {
		snprintf(err, es, "the raw-input baseline has no method config to override ('%s')", over[0]);
		return CLI_USAGE;
	}
	if (strcmp(ckpt, "raw") == 0) {
		if (!data || !*data) {
			snprintf(err, es, "the raw-input baseline needs data=");
			return CLI_USAGE;
		}
		j->data = data;
		return CLI_OK;
	}
	if (strcmp(ckpt, "random") == 0) {
		j->l.method = method ? sup_method_find(method) : NULL;
		if (!j->l.method) {
			snprintf(err, es, "the random-encoder baseline needs method=NAME (unknown method '%s')",
				 method ? method : "");
			return CLI_USAGE;
		}
		int code = cli_config_build(&j->l.cfg, j->l.method, NULL, NULL, over, n_over, err, es);
		j->data = code == CLI_OK ? cli_text_data_for(j->l.cfg, data && *data ? data : j->l.method->default_data)
					 : NULL;
		return code;
	}
	int code = cli_load_checkpoint(&j->l, ckpt, err, es);
	if (code != CLI_OK)
		return code;
	j->data = data && *data ? cli_text_data_like(data, j->l.meta.data) : j->l.meta.data;
	for (int i = 0; code == CLI_OK && i < n_over; i++)
		if (sup_config_override(j->l.cfg, over[i], err, es) != SUP_OK)
			code = CLI_USAGE;
	return code;
}

int cli_eval_check_options(const char *list, char **opts, int n_opts, char *err, size_t es)
{
	for (int i = 0; i < n_opts; i++) {
		size_t k = strcspn(opts[i], ".");
		bool listed = false;
		char buf[256];
		snprintf(buf, sizeof buf, "%s", list);
		for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
			listed = listed || (strlen(p) == k && strncmp(p, opts[i], k) == 0);
		if (!listed) {
			snprintf(err, es, "eval option '%s' belongs to protocol '%.*s', which is not in '%s'", opts[i],
				 (int)k, opts[i], list);
			return CLI_USAGE;
		}
	}
	return cli_finetune_check_options(opts, n_opts, err, es);
}

int cli_eval_run(const char *list, const char *ckpt, const char *data, const char *method, char **opts, int n_opts,
		 char **over, int n_over, struct cli_metrics *out, char *err, size_t es)
{
	struct eval_job j;
	memset(&j, 0, sizeof j);
	memset(out, 0, sizeof *out);
	j.opts = opts;
	j.n_opts = n_opts;
	int code = cli_eval_check_options(list, opts, n_opts, err, es);
	if (code != CLI_OK)
		return code;
	code = open_model(&j, ckpt, data, method, over, n_over, err, es);
	if (code != CLI_OK) {
		cli_loaded_free(&j.l);
		return code;
	}
	enum sup_status st = cli_source_open(&j.src[0], j.data, true, err, es);
	j.opened[0] = st == SUP_OK;
	if (st == SUP_OK && j.l.cfg)
		st = cli_source_configure(&j.src[0], j.l.cfg, err, es);
	j.graph = st == SUP_OK && j.src[0].kind == SUP_BATCH_GRAPH;
	code = st != SUP_OK ? (st == SUP_ERR_NOT_FOUND ? CLI_USAGE : CLI_FAIL)
	       : j.l.method ? cli_loaded_build(&j.l, &j.src[0].info, err, es)
			    : CLI_OK;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *save = NULL, *p = strtok_r(buf, ",", &save); code == CLI_OK && p; p = strtok_r(NULL, ",", &save)) {
		size_t i = 0;
		while (i < N_PROTOCOLS && strcmp(protocols[i].name, p) != 0)
			i++;
		if (i == N_PROTOCOLS) {
			snprintf(err, es, "unknown evaluation protocol '%s'", p);
			code = CLI_USAGE;
		} else {
			code = protocols[i].run(&j, out, err, es);
		}
	}
	for (int s = 0; s < 2; s++) {
		free(j.x[s]);
		free(j.y[s]);
		if (j.opened[s])
			cli_source_close(&j.src[s]);
		if (j.lopened[s])
			cli_source_close(&j.lsrc[s]);
	}
	cli_loaded_free(&j.l);
	return code;
}
