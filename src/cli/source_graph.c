/* The graph data source of the `selfsup` driver: a node-attributed graph (the .npy graph folder of
 * ../shared/data/README.md §2) served as one SUP_BATCH_GRAPH batch holding the whole graph, the
 * transductive setting of GCN, DGI and (V)GAE.
 *
 * One batch (every epoch, and for evaluation):
 *   views[0]  f32 [N, F]: the node features as stored (Cora: binary bag of words), dense;
 *   features  the same matrix as a CSR, which the GCN layers multiply sparse x dense;
 *   labels    i64 [N], -1 for unlabelled nodes;
 *   graph     D~^-1/2 (A + I) D~^-1/2 (Kipf & Welling 2017, eq. 2) of the graph the method may
 *             see: the whole graph, or only the training edges when an edge split is configured.
 * Feature preprocessing (DGI row-normalises, GAE does not) belongs to the method's recipe, so the
 * source serves the features unchanged.
 *
 * Link prediction (GAE/VGAE, Kipf & Welling 2016 §4): a method that declares the config keys
 * `edge_split.val` and `edge_split.test` gets the split of sup_edge_split_make drawn from the
 * run's seed; its adjacency is built from the training edges only, and the `linkpred` protocol
 * scores the held-out test edges against as many sampled non-edges. Evaluation rebuilds the same
 * split from the checkpoint's config (same seed, same fractions). */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"
#include "selfsup/data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct graph_src {
	struct sup_graph g;
	struct sup_csr_buf adj_buf; /* the adjacency the method sees */
	struct sup_csr adj, feats;  /* views of adj_buf and of g's features */
	float *dense;		    /* [N, F] features, for views[0] */
	struct sup_edge_split split;
	bool has_split;
};

static bool is_dir(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool has_file(const char *dir, const char *name)
{
	char path[1200];
	struct stat sb;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

bool cli_graph_source_resolve(const char *data, char *dir, size_t size)
{
	char root[900];
	/* A bare name ("cora") is a Planetoid set of the shared data folder. */
	if (!strchr(data, '/') && sup_shared_data_dir(root, sizeof root)) {
		snprintf(dir, size, "%s/planetoid/%s", root, data);
		if (is_dir(dir) && has_file(dir, "edge_index.npy"))
			return true;
	}
	snprintf(dir, size, "%s", data);
	return is_dir(dir) && has_file(dir, "edge_index.npy");
}

static void graph_free(struct cli_source *s)
{
	struct graph_src *d = s->impl;
	if (d) {
		sup_edge_split_free(&d->split);
		sup_csr_buf_free(&d->adj_buf);
		sup_graph_free(&d->g);
		free(d->dense);
		free(d);
	}
	s->impl = NULL;
}

/* The whole graph, whatever idx asks for (the driver asks for all N nodes). */
static enum sup_status graph_get(const struct cli_source *s, struct sup_ctx *c, const int64_t *idx, int64_t n,
				 int n_views, uint64_t seed, int64_t epoch, struct sup_method_batch *b)
{
	(void)idx, (void)seed, (void)epoch;
	const struct graph_src *d = s->impl;
	const int64_t N = d->g.n_nodes, F = d->g.n_features;
	memset(b, 0, sizeof *b);
	if (n != N)
		return sup_ctx_fail(c, SUP_ERR_ARG, "graph source: a batch is the whole graph (%lld nodes), not %lld",
				    (long long)N, (long long)n);
	b->kind = SUP_BATCH_GRAPH;
	b->n_views = n_views < 1 ? 1 : n_views;
	for (int v = 0; v < b->n_views; v++)
		b->views[v] = sup_tensor_wrap(c, SUP_F32, 2, (const int64_t[]){N, F}, d->dense);
	b->labels = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){N});
	if (!b->labels || !b->views[b->n_views - 1])
		return sup_ctx_status(c);
	for (int64_t i = 0; i < N; i++)
		((int64_t *)b->labels->data)[i] = d->g.y[i];
	b->graph = &d->adj;
	b->features = &d->feats;
	return SUP_OK;
}

/* Builds the adjacency the method sees from the given directed edges. */
static enum sup_status graph_set_adj(struct graph_src *d, const int32_t *src, const int32_t *dst, int64_t n_edges,
				     char *err, size_t es)
{
	sup_csr_buf_free(&d->adj_buf);
	enum sup_status st = sup_norm_adj_from_edges(&d->adj_buf, d->g.n_nodes, src, dst, n_edges, &d->g.alloc, err, es);
	if (st == SUP_OK)
		sup_csr_buf_view(&d->adj_buf, &d->adj);
	return st;
}

static enum sup_status graph_configure(struct cli_source *s, const struct sup_config *cfg, char *err, size_t es)
{
	struct graph_src *d = s->impl;
	if (!sup_config_has(cfg, "edge_split.test") || !sup_config_has(cfg, "edge_split.val"))
		return SUP_OK;
	double val = sup_config_float(cfg, "edge_split.val"), test = sup_config_float(cfg, "edge_split.test");
	if (!(test > 0))
		return SUP_OK;
	sup_edge_split_free(&d->split);
	d->has_split = false;
	enum sup_status st =
	    sup_edge_split_make(&d->split, &d->g, val, test, (uint64_t)sup_config_int(cfg, "seed"), err, es);
	if (st != SUP_OK)
		return st;
	d->has_split = true;
	return graph_set_adj(d, d->split.train_src, d->split.train_dst, d->split.n_train, err, es);
}

enum sup_status cli_graph_source_open(struct cli_source *s, const char *dir, char *err, size_t es)
{
	struct graph_src *d = calloc(1, sizeof *d);
	if (!d)
		return SUP_ERR_NOMEM;
	s->impl = d;
	s->free = graph_free;
	const struct sup_allocator al = sup_allocator_default();
	enum sup_status st = sup_graph_load_folder(&d->g, dir, &al, err, es);
	if (st == SUP_OK)
		st = graph_set_adj(d, d->g.edge_src, d->g.edge_dst, d->g.n_edges, err, es);
	const int64_t N = d->g.n_nodes, F = d->g.n_features;
	if (st == SUP_OK && !(d->dense = calloc((size_t)(N * F > 0 ? N * F : 1), sizeof(float)))) {
		snprintf(err, es, "graph %s: out of memory for the %lld x %lld features", dir, (long long)N, (long long)F);
		st = SUP_ERR_NOMEM;
	}
	if (st != SUP_OK) {
		graph_free(s);
		return st;
	}
	for (int64_t i = 0; i < N; i++)
		for (int64_t k = d->g.x_indptr[i]; k < d->g.x_indptr[i + 1]; k++)
			d->dense[i * F + d->g.x_indices[k]] = d->g.x_values[k];
	sup_graph_features_csr(&d->g, &d->feats);
	s->kind = SUP_BATCH_GRAPH;
	s->n = N;
	s->info.modality = SUP_MODALITY_GRAPH;
	s->info.n_examples = N;
	s->info.n_classes = d->g.n_classes;
	s->info.dim = F;
	s->get = graph_get;
	s->configure = graph_configure;
	return SUP_OK;
}

const struct sup_graph *cli_graph_source_graph(const struct cli_source *s)
{
	return s->kind == SUP_BATCH_GRAPH && s->impl ? &((const struct graph_src *)s->impl)->g : NULL;
}

const struct sup_edge_split *cli_graph_source_split(const struct cli_source *s)
{
	const struct graph_src *d = s->kind == SUP_BATCH_GRAPH ? s->impl : NULL;
	return d && d->has_split ? &d->split : NULL;
}
