/* Graph views and link-prediction data:
 *   edge dropping and feature masking: GRACE (Zhu, Xu, Yu, Liu, Wu, Wang, "Deep Graph Contrastive
 *     Representation Learning", ICML GRL+ workshop 2020, §3.2) and GraphCL (You et al., NeurIPS
 *     2020, §3.1 "edge perturbation", "attribute masking");
 *   node dropping: GraphCL §3.1;
 *   random walk with restart subgraphs: GCC (Qiu et al., KDD 2020, §3.2);
 *   negative edges and the 85/5/10 split: GAE / VGAE (Kipf and Welling, NIPS Bayesian Deep
 *     Learning workshop 2016, §4; their preprocessing "mask_test_edges").
 * Contracts in include/selfsup/data.h. Every draw is a pure function of (key, index), so a view
 * does not depend on thread count or on which other views were made first. */
#include "selfsup/data.h"

#include "data/data_hash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* u -> v is an edge of g (binary search in u's sorted neighbours). */
static bool has_edge(const struct sup_graph *g, int64_t u, int64_t v)
{
	int64_t lo = g->adj_indptr[u], hi = g->adj_indptr[u + 1];
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (g->edge_dst[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->adj_indptr[u + 1] && g->edge_dst[lo] == v;
}

static bool linked(const struct sup_graph *g, int64_t u, int64_t v)
{
	return has_edge(g, u, v) || has_edge(g, v, u);
}

/* ---- views --------------------------------------------------------------------------------- */

int64_t sup_graph_drop_edges(const struct sup_graph *g, double p, bool undirected, uint64_t key, int32_t *src_out,
			     int32_t *dst_out)
{
	uint64_t N = (uint64_t)g->n_nodes;
	int64_t w = 0;
	for (int64_t e = 0; e < g->n_edges; e++) {
		uint64_t u = (uint64_t)g->edge_src[e], v = (uint64_t)g->edge_dst[e];
		if (undirected && u > v) {
			uint64_t t = u;
			u = v, v = t;
		}
		/* The draw is indexed by the pair, so both directions see the same number. */
		if ((double)sup_rng_uniform_at(key, u * N + v) >= p)
			src_out[w] = g->edge_src[e], dst_out[w++] = g->edge_dst[e];
	}
	return w;
}

int64_t sup_graph_mask_features(const struct sup_graph *g, double p, uint64_t key, float *values_out)
{
	int64_t masked = 0;
	for (int64_t c = 0; c < g->n_features; c++)
		masked += (double)sup_rng_uniform_at(key, (uint64_t)c) < p;
	int64_t nnz = g->x_indptr[g->n_nodes];
	for (int64_t k = 0; k < nnz; k++)
		values_out[k] = (double)sup_rng_uniform_at(key, (uint64_t)g->x_indices[k]) < p ? 0.0f : g->x_values[k];
	return masked;
}

int64_t sup_graph_drop_nodes(const struct sup_graph *g, double p, uint64_t key, uint8_t *keep_out, int32_t *src_out,
			     int32_t *dst_out)
{
	for (int64_t i = 0; i < g->n_nodes; i++)
		keep_out[i] = (double)sup_rng_uniform_at(key, (uint64_t)i) >= p;
	int64_t w = 0;
	for (int64_t e = 0; e < g->n_edges; e++)
		if (keep_out[g->edge_src[e]] && keep_out[g->edge_dst[e]])
			src_out[w] = g->edge_src[e], dst_out[w++] = g->edge_dst[e];
	return w;
}

int64_t sup_graph_rwr(const struct sup_graph *g, int64_t start, double restart, int64_t max_nodes, int64_t max_steps,
		      uint64_t key, int64_t *nodes_out)
{
	SUP_ASSERT(start >= 0 && start < g->n_nodes && max_nodes >= 1);
	struct sup_rng r = sup_rng_make(key, (uint64_t)start);
	int64_t n = 0, cur = start;
	nodes_out[n++] = start;
	if (g->adj_indptr[start + 1] == g->adj_indptr[start])
		return n;
	for (int64_t step = 0; step < max_steps && n < max_nodes; step++) {
		int64_t deg = g->adj_indptr[cur + 1] - g->adj_indptr[cur];
		if ((double)sup_rng_uniform(&r) < restart || deg == 0) {
			cur = start;
			continue;
		}
		cur = g->edge_dst[g->adj_indptr[cur] + (int64_t)sup_rng_below(&r, (uint64_t)deg)];
		/* Subgraphs are small (GCC uses a few hundred nodes): a linear scan is cheaper than a set. */
		int64_t k = 0;
		while (k < n && nodes_out[k] != cur)
			k++;
		if (k == n)
			nodes_out[n++] = cur;
	}
	return n;
}

int64_t sup_graph_induced_edges(const struct sup_graph *g, const int64_t *nodes, int64_t n, int64_t *scratch,
				int32_t *src_out, int32_t *dst_out)
{
	for (int64_t i = 0; i < n; i++)
		scratch[nodes[i]] = i;
	int64_t w = 0;
	for (int64_t i = 0; i < n; i++) {
		int64_t row = w;
		for (int64_t k = g->adj_indptr[nodes[i]]; k < g->adj_indptr[nodes[i] + 1]; k++) {
			int64_t j = scratch[g->edge_dst[k]];
			if (j < 0)
				continue;
			/* Insertion keeps the row sorted by local id (rows are short). */
			int64_t q = w++;
			src_out[q] = (int32_t)i; /* the whole row has source i */
			for (; q > row && dst_out[q - 1] > j; q--)
				dst_out[q] = dst_out[q - 1];
			dst_out[q] = (int32_t)j;
		}
	}
	for (int64_t i = 0; i < n; i++)
		scratch[nodes[i]] = -1;
	return w;
}

/* ---- negatives ----------------------------------------------------------------------------- */

/* Unordered node pairs {u, v}, u != v, that are edges of g in at least one direction. */
static int64_t count_edge_pairs(const struct sup_graph *g)
{
	int64_t m = 0;
	for (int64_t e = 0; e < g->n_edges; e++) {
		int64_t u = g->edge_src[e], v = g->edge_dst[e];
		m += u < v || !has_edge(g, v, u);
	}
	return m;
}

/* Small or dense requests: list every non-edge pair and take a seeded partial shuffle (exact,
 * however dense the graph). */
#define NEG_ENUMERATE_LIMIT ((int64_t)1 << 22)

static enum sup_status negatives_enumerate(const struct sup_graph *g, int64_t n, uint64_t key, int32_t *src,
					   int32_t *dst, char *err, size_t err_size)
{
	int64_t N = g->n_nodes, m = 0;
	uint64_t *pairs = sup_alloc(&g->alloc, (size_t)(N * (N - 1) / 2 + 1) * sizeof *pairs, 64);
	if (!pairs)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "negative sampling: out of memory");
	for (int64_t u = 0; u < N; u++)
		for (int64_t v = u + 1; v < N; v++)
			if (!linked(g, u, v))
				pairs[m++] = (uint64_t)u * (uint64_t)N + (uint64_t)v;
	struct sup_rng r = sup_rng_make(key, 0);
	for (int64_t i = 0; i < n; i++) {
		int64_t j = i + (int64_t)sup_rng_below(&r, (uint64_t)(m - i));
		uint64_t t = pairs[i];
		pairs[i] = pairs[j], pairs[j] = t;
		src[i] = (int32_t)(pairs[i] / (uint64_t)N), dst[i] = (int32_t)(pairs[i] % (uint64_t)N);
	}
	sup_free(&g->alloc, pairs);
	return SUP_OK;
}

enum sup_status sup_graph_sample_negatives(const struct sup_graph *g, int64_t n, uint64_t key, int32_t *src_out,
					   int32_t *dst_out, char *err, size_t err_size)
{
	int64_t N = g->n_nodes;
	int64_t available = N * (N - 1) / 2 - count_edge_pairs(g);
	if (n < 0 || n > available)
		return sup_errf(err, err_size, SUP_ERR_ARG,
			    "negative sampling: %lld pairs asked, the graph has %lld non-edges", (long long)n,
			    (long long)available);
	int64_t total = N * (N - 1) / 2;
	if (total <= NEG_ENUMERATE_LIMIT && (total <= 65536 || 4 * (n + total - available) > total))
		return negatives_enumerate(g, n, key, src_out, dst_out, err, err_size);
	/* Otherwise rejection sampling of uniform pairs: edges plus negatives taken so far are at
	 * most a quarter of all pairs (or the graph is too large to list and, being real, sparse),
	 * so most draws are accepted. */
	struct dh_map seen;
	if (!dh_init(&seen, &g->alloc, (size_t)n))
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "negative sampling: out of memory");
	struct sup_rng r = sup_rng_make(key, 0);
	int64_t w = 0;
	while (w < n) {
		int64_t u = (int64_t)sup_rng_below(&r, (uint64_t)N), v = (int64_t)sup_rng_below(&r, (uint64_t)N);
		if (u == v)
			continue;
		if (u > v) {
			int64_t t = u;
			u = v, v = t;
		}
		uint64_t k = (uint64_t)u * (uint64_t)N + (uint64_t)v;
		if (linked(g, u, v) || dh_get(&seen, k, NULL))
			continue;
		if (!dh_put(&seen, k, 1)) {
			dh_free(&seen);
			return sup_errf(err, err_size, SUP_ERR_NOMEM, "negative sampling: out of memory");
		}
		src_out[w] = (int32_t)u, dst_out[w++] = (int32_t)v;
	}
	dh_free(&seen);
	return SUP_OK;
}

/* ---- link-prediction split ------------------------------------------------------------------- */

void sup_edge_split_free(struct sup_edge_split *s)
{
	if (!s)
		return;
	int32_t *blocks[] = {s->train_src,   s->train_dst, s->val_src,	s->val_dst,	 s->val_neg_src,
			     s->val_neg_dst, s->test_src,  s->test_dst, s->test_neg_src, s->test_neg_dst};
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
		sup_free(&s->alloc, blocks[i]);
	memset(s, 0, sizeof *s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int32_t *alloc_i32(const struct sup_allocator *a, int64_t n)
{
	return sup_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof(int32_t), 64);
}

enum sup_status sup_edge_split_make(struct sup_edge_split *s, const struct sup_graph *g, double val_fraction,
				    double test_fraction, uint64_t seed, char *err, size_t err_size)
{
	memset(s, 0, sizeof *s);
	s->alloc = g->alloc;
	const struct sup_allocator *a = &g->alloc;
	if (!(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction <= 1))
		return sup_errf(err, err_size, SUP_ERR_ARG, "edge split: fractions must be >= 0 and sum to at most 1");
	uint64_t N = (uint64_t)g->n_nodes;
	int64_t E = count_edge_pairs(g), m = 0;
	uint64_t *pairs = sup_alloc(a, (size_t)(E + 1) * sizeof *pairs, 64);
	int64_t *perm = sup_alloc(a, (size_t)(E + 1) * sizeof *perm, 64);
	uint64_t *train = sup_alloc(a, (size_t)(2 * E + 1) * sizeof *train, 64);
	if (!pairs || !perm || !train)
		goto nomem;
	for (int64_t e = 0; e < g->n_edges; e++) {
		uint64_t u = (uint64_t)g->edge_src[e], v = (uint64_t)g->edge_dst[e];
		if (u < v)
			pairs[m++] = u * N + v;
		else if (!has_edge(g, (int64_t)v, (int64_t)u))
			pairs[m++] = v * N + u;
	}
	qsort(pairs, (size_t)m, sizeof *pairs, cmp_u64); /* a fixed order before the seeded shuffle */
	struct sup_rng r = sup_rng_make(seed, 0x6c696e6bull);
	sup_rng_permutation(&r, perm, E);
	s->n_test = (int64_t)((double)E * test_fraction);
	s->n_val = (int64_t)((double)E * val_fraction);
	int64_t n_train_u = E - s->n_test - s->n_val;
	s->n_train = 2 * n_train_u;
	int32_t **lists[10] = {&s->test_src,  &s->test_dst,    &s->val_src,	&s->val_dst,	  &s->train_src,
			       &s->train_dst, &s->val_neg_src, &s->val_neg_dst, &s->test_neg_src, &s->test_neg_dst};
	int64_t sizes[5] = {s->n_test, s->n_val, s->n_train, s->n_val, s->n_test};
	for (int k = 0; k < 10; k++)
		if (!(*lists[k] = alloc_i32(a, sizes[k / 2])))
			goto nomem;
	/* Shuffled order: test first, then val, the rest is train (as mask_test_edges). */
	for (int64_t i = 0; i < E; i++) {
		uint64_t p = pairs[perm[i]];
		int32_t u = (int32_t)(p / N), v = (int32_t)(p % N);
		if (i < s->n_test) {
			s->test_src[i] = u, s->test_dst[i] = v;
		} else if (i < s->n_test + s->n_val) {
			s->val_src[i - s->n_test] = u, s->val_dst[i - s->n_test] = v;
		} else {
			int64_t j = i - s->n_test - s->n_val;
			train[2 * j] = p, train[2 * j + 1] = (uint64_t)v * N + (uint64_t)u;
		}
	}
	qsort(train, (size_t)s->n_train, sizeof *train, cmp_u64);
	for (int64_t i = 0; i < s->n_train; i++)
		s->train_src[i] = (int32_t)(train[i] / N), s->train_dst[i] = (int32_t)(train[i] % N);
	/* One draw of n_val + n_test distinct negatives, so val and test negatives are disjoint. */
	int64_t n_neg = s->n_val + s->n_test;
	int32_t *ns = alloc_i32(a, n_neg), *nd = alloc_i32(a, n_neg);
	enum sup_status st =
	    ns && nd ? sup_graph_sample_negatives(g, n_neg, dh_mix(seed ^ 0x6e6567ull), ns, nd, err, err_size)
		     : sup_errf(err, err_size, SUP_ERR_NOMEM, "edge split: out of memory");
	if (!st) {
		memcpy(s->val_neg_src, ns, (size_t)s->n_val * sizeof *ns);
		memcpy(s->val_neg_dst, nd, (size_t)s->n_val * sizeof *nd);
		memcpy(s->test_neg_src, ns + s->n_val, (size_t)s->n_test * sizeof *ns);
		memcpy(s->test_neg_dst, nd + s->n_val, (size_t)s->n_test * sizeof *nd);
	}
	sup_free(a, ns);
	sup_free(a, nd);
	sup_free(a, pairs);
	sup_free(a, perm);
	sup_free(a, train);
	if (st)
		sup_edge_split_free(s);
	return st;
nomem:
	sup_free(a, pairs);
	sup_free(a, perm);
	sup_free(a, train);
	sup_edge_split_free(s);
	return sup_errf(err, err_size, SUP_ERR_NOMEM, "edge split: out of memory");
}
