/* Graph data: the shared Cora folder against ../shared/data/README.md §2 counts, the LINQS form
 * of the same graph, hand-made folders (unlabeled and isolated nodes, zero feature rows, no
 * optional files), corrupt folders, the normalised adjacency, augmentations, negatives and the
 * GAE edge split. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "selfsup/data.h"
#include "selfsup/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool find_data(char *dir, size_t n, const char *sub)
{
	char base[512];
	if (!sup_shared_data_dir(base, sizeof base))
		return false;
	snprintf(dir, n, "%s/%s", base, sub);
	struct stat sb;
	return stat(dir, &sb) == 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static bool is_edge(const struct sup_graph *g, int64_t u, int64_t v)
{
	for (int64_t k = g->adj_indptr[u]; k < g->adj_indptr[u + 1]; k++)
		if (g->edge_dst[k] == v)
			return true;
	return false;
}

static int64_t class_count(const struct sup_graph *g, const char *name)
{
	int k = 0;
	while (k < g->n_classes && strcmp(g->class_names[k], name) != 0)
		k++;
	int64_t n = 0;
	for (int64_t i = 0; i < g->n_nodes; i++)
		n += g->y[i] == k;
	return k < g->n_classes ? n : -1;
}

/* Symmetric, D^-1/2 (A+I) D^-1/2 entries, self loops on the diagonal. */
static void check_norm_adj(const struct sup_graph *g, int64_t want_nnz)
{
	struct sup_csr_buf a;
	char err[256];
	TU_CHECK(sup_graph_norm_adj(&a, g, err, sizeof err) == SUP_OK);
	TU_CHECK_MSG(want_nnz < 0 || a.nnz == want_nnz, "nnz %lld", (long long)a.nnz);
	TU_CHECK(a.nnz == g->n_edges + g->n_nodes);
	int64_t bad = 0;
	for (int64_t i = 0; i < a.rows; i++) {
		double di = (double)(a.indptr[i + 1] - a.indptr[i]);
		bool diag = false;
		for (int64_t k = a.indptr[i]; k < a.indptr[i + 1]; k++) {
			int64_t j = a.indices[k];
			double dj = (double)(a.indptr[j + 1] - a.indptr[j]);
			diag |= j == i;
			bad += fabs(a.values[k] - 1.0 / sqrt(di * dj)) > 1e-6;
			bad += k > a.indptr[i] && a.indices[k - 1] >= j;
			bad += j != i && !is_edge(g, j, i);
		}
		bad += !diag;
	}
	TU_CHECK(bad == 0);
	/* Usable with the ops: A @ 1 on a tiny graph is checked in test_small_folder. */
	sup_csr_buf_free(&a);
}

static void test_cora(struct sup_graph *cora)
{
	char dir[600], err[512];
	struct sup_allocator al = sup_allocator_default();
	memset(cora, 0, sizeof *cora);
	if (!find_data(dir, sizeof dir, "planetoid/cora")) {
		printf("skipping Cora: no shared data folder (set SELFSUP_SHARED_DATA)\n");
		return;
	}
	struct sup_graph *g = cora;
	TU_CHECK_MSG(sup_graph_load_folder(g, dir, &al, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(g->n_nodes == 2708 && g->n_features == 1433 && g->x_indptr[g->n_nodes] == 49216);
	TU_CHECK(g->n_classes == 7 && g->n_edges == 10556 && g->n_dropped_edges == 0);
	int64_t tr = 0, va = 0, te = 0, overlap = 0;
	for (int64_t i = 0; i < g->n_nodes; i++) {
		tr += g->train_mask[i], va += g->val_mask[i], te += g->test_mask[i];
		overlap += g->train_mask[i] + g->val_mask[i] + g->test_mask[i] > 1;
	}
	TU_CHECK(tr == 140 && va == 500 && te == 1000 && overlap == 0);
	const char *names[7] = {"Theory",	   "Reinforcement_Learning", "Genetic_Algorithms",
				"Neural_Networks", "Probabilistic_Methods",  "Case_Based",
				"Rule_Learning"};
	const int64_t want[7] = {351, 217, 418, 818, 426, 298, 180};
	for (int k = 0; k < 7; k++)
		TU_CHECK_MSG(strcmp(g->class_names[k], names[k]) == 0 && class_count(g, names[k]) == want[k],
			     "class %d", k);
	check_norm_adj(g, 13264);
}

static void test_linqs(const struct sup_graph *cora)
{
	char dir[600], err[512];
	struct sup_allocator al = sup_allocator_default();
	if (!cora->n_nodes || !find_data(dir, sizeof dir, "linqs/cora")) {
		printf("skipping LINQS Cora: data not found\n");
		return;
	}
	struct sup_graph g;
	TU_CHECK_MSG(sup_graph_load_linqs(&g, dir, "cora", &al, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(g.n_nodes == 2708 && g.n_features == 1433 && g.x_indptr[g.n_nodes] == 49216 && g.n_classes == 7);
	TU_CHECK_MSG(g.n_edges == 10556, "%lld edges", (long long)g.n_edges);
	for (int k = 0; k < 7; k++)
		TU_CHECK(class_count(&g, cora->class_names[k]) == class_count(cora, cora->class_names[k]));
	TU_CHECK(strcmp(g.class_names[0], "Case_Based") == 0); /* strcmp order */
	/* Same graph up to node order: same degree multiset, same multiset of feature row sizes. */
	int64_t *d1 = malloc(2708 * sizeof *d1), *d2 = malloc(2708 * sizeof *d2);
	for (int pass = 0; pass < 2; pass++) {
		for (int64_t i = 0; i < 2708; i++) {
			const int64_t *p1 = pass ? cora->x_indptr : cora->adj_indptr,
				      *p2 = pass ? g.x_indptr : g.adj_indptr;
			d1[i] = p1[i + 1] - p1[i];
			d2[i] = p2[i + 1] - p2[i];
		}
		qsort(d1, 2708, sizeof *d1, cmp_i64);
		qsort(d2, 2708, sizeof *d2, cmp_i64);
		TU_CHECK_MSG(memcmp(d1, d2, 2708 * sizeof *d1) == 0, "pass %d", pass);
	}
	free(d1);
	free(d2);
	check_norm_adj(&g, 13264);
	sup_graph_free(&g);
}

/* ---- hand-made folders ------------------------------------------------------------------------ */

static void save(const char *dir, const char *name, enum sup_dtype dt, int ndim, const int64_t *shape, void *data)
{
	char path[256], err[256];
	struct sup_tensor t;
	sup_tensor_init(&t, dt, ndim, shape, data);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	TU_CHECK_MSG(sup_npy_save(path, &t, err, sizeof err) == SUP_OK, "%s", err);
}

/* 5 nodes, 3 features: node 1 and 3 unlabeled, node 2 has no features, node 4 is isolated. The
 * edge list is unsorted with a duplicate and a self loop. */
static void write_small(const char *dir, int32_t bad_edge, int64_t y_len)
{
	mkdir(dir, 0700);
	int64_t indptr[6] = {0, 2, 3, 3, 5, 6}, shape[2] = {5, 3};
	int32_t indices[6] = {0, 2, 1, 0, 1, 2};
	float data[6] = {1, 3, 2, 1, 1, 5};
	int32_t y[5] = {0, -1, 2, -1, 0};
	int32_t edges[2][8] = {{1, 0, 2, 1, 0, 3, 3, 1}, {0, 1, 1, 2, 1, 1, 3, bad_edge}};
	uint8_t train[5] = {1, 0, 0, 0, 1};
	save(dir, "x_indptr.npy", SUP_I64, 1, (int64_t[]){6}, indptr);
	save(dir, "x_indices.npy", SUP_I32, 1, (int64_t[]){6}, indices);
	save(dir, "x_data.npy", SUP_F32, 1, (int64_t[]){6}, data);
	save(dir, "x_shape.npy", SUP_I64, 1, (int64_t[]){2}, shape);
	save(dir, "y.npy", SUP_I32, 1, (int64_t[]){y_len}, y);
	save(dir, "edge_index.npy", SUP_I32, 2, (int64_t[]){2, 8}, edges);
	save(dir, "train_mask.npy", SUP_U8, 1, (int64_t[]){5}, train);
}

static void remove_small(const char *dir)
{
	const char *files[8] = {"x_indptr.npy", "x_indices.npy",  "x_data.npy",	    "x_shape.npy",
				"y.npy",	"edge_index.npy", "train_mask.npy", "class_names.txt"};
	char path[256];
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		remove(path);
	}
	rmdir(dir);
}

static void test_small_folder(void)
{
	char dir[64], err[512], path[128];
	struct sup_allocator al = sup_allocator_default();
	snprintf(dir, sizeof dir, "/tmp/selfsup-graph-%d", (int)getpid());
	write_small(dir, 3, 5);
	struct sup_graph g;
	TU_CHECK_MSG(sup_graph_load_folder(&g, dir, &al, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(g.n_nodes == 5 && g.n_features == 3 && g.n_classes == 3 && strcmp(g.class_names[1], "1") == 0);
	TU_CHECK(g.y[1] == -1 && g.y[2] == 2);
	/* Input: 1-0 0-1 2-1 1-2 0-1 3-1 3-3 1-3; the repeat of 0-1 and the self loop 3-3 go. */
	const int32_t src[6] = {0, 1, 1, 1, 2, 3}, dst[6] = {1, 0, 2, 3, 1, 1};
	TU_CHECK_MSG(g.n_edges == 6 && g.n_dropped_edges == 2, "%lld edges, %lld dropped", (long long)g.n_edges,
		     (long long)g.n_dropped_edges);
	TU_CHECK(memcmp(g.edge_src, src, sizeof src) == 0 && memcmp(g.edge_dst, dst, sizeof dst) == 0);
	TU_CHECK(g.adj_indptr[4] == 6 && g.adj_indptr[5] == 6);
	TU_CHECK(g.train_mask[4] == 1 && g.val_mask[0] == 0 && g.test_mask[4] == 0);
	sup_graph_row_normalize(&g);
	TU_CHECK_NEAR(g.x_values[0], 0.25, 1e-7);
	TU_CHECK(g.x_indptr[3] == g.x_indptr[2]); /* the zero row stays empty */
	TU_CHECK_NEAR(g.x_values[5], 1.0, 1e-7);
	check_norm_adj(&g, 11);
	/* The propagation matrix works with sup_spmm: A_hat @ 1 for the isolated node is 1. */
	struct sup_csr_buf a;
	struct sup_csr view;
	TU_CHECK(sup_graph_norm_adj(&a, &g, err, sizeof err) == SUP_OK);
	sup_csr_buf_view(&a, &view);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *ones = sup_tensor_full(&c, SUP_F32, 2, (int64_t[]){5, 1}, 1.0);
	struct sup_tensor *r = sup_spmm(&c, &view, ones);
	TU_CHECK(r && fabs(sup_tensor_get(r, 4) - 1.0) < 1e-6 &&
		 fabs(sup_tensor_get(r, 0) - (0.5 + 1 / sqrt(8.0))) < 1e-6);
	sup_ctx_deinit(&c);
	sup_csr_buf_free(&a);
	sup_graph_free(&g);
	/* class_names.txt names the classes (and may name classes no node has). */
	snprintf(path, sizeof path, "%s/class_names.txt", dir);
	FILE *f = fopen(path, "w");
	fputs("a\nb\nc\nd\n", f);
	fclose(f);
	TU_CHECK(sup_graph_load_folder(&g, dir, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(g.n_classes == 4 && strcmp(g.class_names[3], "d") == 0);
	sup_graph_free(&g);
	remove_small(dir);
}

static void expect_error(const char *dir, enum sup_status want, const char *file)
{
	struct sup_allocator al = sup_allocator_default();
	struct sup_graph g;
	char err[512];
	enum sup_status st = sup_graph_load_folder(&g, dir, &al, err, sizeof err);
	TU_CHECK_MSG(st == want && strstr(err, file), "%s (%s): %s", sup_status_str(st), file, st ? err : "");
	TU_CHECK(g.n_nodes == 0 && g.edge_src == NULL);
}

static void test_corrupt(void)
{
	char dir[64], path[128];
	snprintf(dir, sizeof dir, "/tmp/selfsup-graph-bad-%d", (int)getpid());
	write_small(dir, 5, 5);
	expect_error(dir, SUP_ERR_FORMAT, "edge_index.npy");
	remove_small(dir);
	write_small(dir, 3, 4);
	expect_error(dir, SUP_ERR_SHAPE, "y.npy");
	remove_small(dir);
	write_small(dir, 3, 5);
	snprintf(path, sizeof path, "%s/x_data.npy", dir);
	remove(path);
	expect_error(dir, SUP_ERR_NOT_FOUND, "x_data.npy");
	save(dir, "x_data.npy", SUP_F32, 1, (int64_t[]){5}, (float[5]){0});
	expect_error(dir, SUP_ERR_SHAPE, "x_data.npy");
	save(dir, "x_data.npy", SUP_I32, 1, (int64_t[]){6}, (int32_t[6]){0});
	expect_error(dir, SUP_ERR_DTYPE, "x_data.npy");
	save(dir, "x_data.npy", SUP_F32, 1, (int64_t[]){6}, (float[6]){0});
	save(dir, "x_indices.npy", SUP_I32, 1, (int64_t[]){6}, (int32_t[6]){0, 1, 2, 3, 0, 0});
	expect_error(dir, SUP_ERR_FORMAT, "x_indices.npy");
	save(dir, "x_indices.npy", SUP_I32, 1, (int64_t[]){6}, (int32_t[6]){0});
	save(dir, "x_indptr.npy", SUP_I64, 1, (int64_t[]){6}, (int64_t[6]){0, 3, 2, 4, 5, 6});
	expect_error(dir, SUP_ERR_FORMAT, "x_indptr.npy");
	save(dir, "x_indptr.npy", SUP_I64, 1, (int64_t[]){6}, (int64_t[6]){0, 2, 3, 3, 5, 6});
	save(dir, "y.npy", SUP_I32, 1, (int64_t[]){5}, (int32_t[5]){0, -2, 0, 0, 0});
	expect_error(dir, SUP_ERR_FORMAT, "y.npy");
	remove_small(dir);
	expect_error(dir, SUP_ERR_NOT_FOUND, dir);
}

static void test_linqs_small(void)
{
	char dir[64], path[128], err[512];
	struct sup_allocator al = sup_allocator_default();
	snprintf(dir, sizeof dir, "/tmp/selfsup-linqs-%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(path, sizeof path, "%s/toy.content", dir);
	FILE *f = fopen(path, "w");
	fputs("p1\t0\t1\t0.5\tzeta\np2\t0\t0\t0\talpha\r\n\np3\t1\t0\t0\tzeta\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/toy.cites", dir);
	f = fopen(path, "w");
	fputs("p1\tp2\np2\tp1\np3\tp3\np1\tghost\n", f);
	fclose(f);
	struct sup_graph g;
	TU_CHECK_MSG(sup_graph_load_linqs(&g, dir, "toy", &al, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(g.n_nodes == 3 && g.n_features == 3 && g.x_indptr[3] == 3 && g.x_indptr[2] == 2);
	TU_CHECK(g.n_classes == 2 && strcmp(g.class_names[0], "alpha") == 0 && g.y[0] == 1 && g.y[1] == 0);
	TU_CHECK(g.n_edges == 2 && g.edge_src[0] == 0 && g.edge_dst[0] == 1 && g.n_dropped_edges == 6);
	TU_CHECK_NEAR(g.x_values[1], 0.5, 0);
	sup_graph_free(&g);
	f = fopen(path, "w");
	fputs("p1\tp2\np2\n", f);
	fclose(f);
	TU_CHECK(sup_graph_load_linqs(&g, dir, "toy", &al, err, sizeof err) == SUP_ERR_FORMAT &&
		 strstr(err, "toy.cites:2"));
	remove(path);
	snprintf(path, sizeof path, "%s/toy.content", dir);
	f = fopen(path, "w");
	fputs("p1\t0\t1\tzeta\np2\t0\tx\n", f);
	fclose(f);
	TU_CHECK(sup_graph_load_linqs(&g, dir, "toy", &al, err, sizeof err) == SUP_ERR_FORMAT &&
		 strstr(err, "toy.content:2"));
	f = fopen(path, "w");
	fputs("p1\t0\t1\tzeta\np1\t0\t1\tzeta\n", f);
	fclose(f);
	TU_CHECK(sup_graph_load_linqs(&g, dir, "toy", &al, err, sizeof err) == SUP_ERR_FORMAT &&
		 strstr(err, "repeats"));
	remove(path);
	TU_CHECK(sup_graph_load_linqs(&g, dir, "toy", &al, err, sizeof err) == SUP_ERR_NOT_FOUND &&
		 strstr(err, "toy.content"));
	rmdir(dir);
}

/* ---- augmentations, negatives, split ------------------------------------------------------------ */

static void test_views(const struct sup_graph *g)
{
	int64_t E = g->n_edges, N = g->n_nodes;
	int32_t *s = malloc((size_t)E * sizeof *s), *d = malloc((size_t)E * sizeof *d);
	TU_CHECK(sup_graph_drop_edges(g, 0.0, true, 1, s, d) == E);
	TU_CHECK(sup_graph_drop_edges(g, 1.0, true, 1, s, d) == 0);
	int64_t k = sup_graph_drop_edges(g, 0.3, true, 7, s, d), asym = 0, unknown = 0;
	TU_CHECK_NEAR((double)k / (double)E, 0.7, 0.03);
	for (int64_t i = 0; i < k; i++) {
		bool rev = false;
		for (int64_t j = 0; j < k && !rev; j++)
			rev = s[j] == d[i] && d[j] == s[i];
		asym += !rev;
		unknown += !is_edge(g, s[i], d[i]);
	}
	TU_CHECK(asym == 0 && unknown == 0);
	int64_t k2 = sup_graph_drop_edges(g, 0.3, false, 7, s, d), k3 = sup_graph_drop_edges(g, 0.3, false, 7, s, d);
	TU_CHECK(k2 == k3 && sup_graph_drop_edges(g, 0.3, false, 8, s, d) != k2);
	/* Feature masking: whole columns. */
	int64_t nnz = g->x_indptr[N];
	float *v = malloc((size_t)nnz * sizeof *v);
	int64_t masked = sup_graph_mask_features(g, 0.25, 3, v);
	TU_CHECK_NEAR((double)masked / (double)g->n_features, 0.25, 0.04);
	uint8_t *col_zero = calloc((size_t)g->n_features, 1), *col_kept = calloc((size_t)g->n_features, 1);
	int64_t changed = 0;
	for (int64_t q = 0; q < nnz; q++) {
		if (v[q] == 0.0f) {
			col_zero[g->x_indices[q]] = 1;
		} else {
			col_kept[g->x_indices[q]] = 1;
			changed += v[q] != g->x_values[q];
		}
	}
	TU_CHECK(changed == 0);
	int64_t mixed = 0, zero_cols = 0;
	for (int64_t c = 0; c < g->n_features; c++)
		mixed += col_zero[c] && col_kept[c], zero_cols += col_zero[c];
	TU_CHECK(mixed == 0 && zero_cols <= masked && zero_cols > 0);
	/* Node dropping: remaining edges join kept nodes only. */
	uint8_t *keep = malloc((size_t)N);
	k = sup_graph_drop_nodes(g, 0.2, 5, keep, s, d);
	int64_t kept = 0, bad = 0;
	for (int64_t i = 0; i < N; i++)
		kept += keep[i];
	for (int64_t i = 0; i < k; i++)
		bad += !keep[s[i]] || !keep[d[i]] || !is_edge(g, s[i], d[i]);
	int64_t want = 0;
	for (int64_t e = 0; e < E; e++)
		want += keep[g->edge_src[e]] && keep[g->edge_dst[e]];
	TU_CHECK(bad == 0 && k == want);
	TU_CHECK_NEAR((double)kept / (double)N, 0.8, 0.03);
	free(keep);
	free(v);
	free(col_zero);
	free(col_kept);
	free(s);
	free(d);
}

static void test_rwr(const struct sup_graph *g)
{
	int64_t nodes[64], *scratch = malloc((size_t)g->n_nodes * sizeof *scratch), bad = 0, total = 0;
	int32_t *s = malloc((size_t)g->n_edges * sizeof *s), *d = malloc((size_t)g->n_edges * sizeof *d);
	for (int64_t i = 0; i < g->n_nodes; i++)
		scratch[i] = -1;
	for (int64_t start = 0; start < g->n_nodes; start += 97) {
		int64_t n = sup_graph_rwr(g, start, 0.3, 64, 2000, 11, nodes);
		total += n;
		bad += nodes[0] != start || n < 1 || n > 64;
		/* Each node joins the walk from a node already in it, so it has a neighbour before it. */
		for (int64_t i = 1; i < n; i++) {
			bool linked = false;
			for (int64_t j = 0; j < i && !linked; j++)
				linked = is_edge(g, nodes[j], nodes[i]);
			bad += !linked;
			for (int64_t j = 0; j < i; j++)
				bad += nodes[j] == nodes[i];
		}
		int64_t m = sup_graph_induced_edges(g, nodes, n, scratch, s, d);
		int64_t want = 0;
		for (int64_t i = 0; i < n; i++)
			for (int64_t j = 0; j < n; j++)
				want += is_edge(g, nodes[i], nodes[j]);
		bad += m != want;
		for (int64_t e = 0; e < m; e++) {
			bad += s[e] >= n || d[e] >= n || !is_edge(g, nodes[s[e]], nodes[d[e]]);
			bad += e > 0 && (s[e - 1] > s[e] || (s[e - 1] == s[e] && d[e - 1] >= d[e]));
		}
	}
	for (int64_t i = 0; i < g->n_nodes; i++)
		bad += scratch[i] != -1;
	TU_CHECK_MSG(bad == 0, "%lld bad", (long long)bad);
	TU_CHECK(total > 28 * 4);
	free(scratch);
	free(s);
	free(d);
}

static void test_negatives_small(void)
{
	/* Path 0-1-2-3: 6 pairs, 3 edges, so 3 non-edges. */
	struct sup_graph g = {.alloc = sup_allocator_default(), .n_nodes = 4, .n_edges = 6};
	int32_t src[6] = {0, 1, 1, 2, 2, 3}, dst[6] = {1, 0, 2, 1, 3, 2};
	int64_t indptr[5] = {0, 1, 3, 5, 6};
	g.edge_src = src, g.edge_dst = dst, g.adj_indptr = indptr;
	int32_t s[4], d[4];
	char err[256];
	TU_CHECK(sup_graph_sample_negatives(&g, 3, 1, s, d, err, sizeof err) == SUP_OK);
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		TU_CHECK(s[i] < d[i] && d[i] - s[i] >= 2);
		seen |= 1 << (s[i] * 4 + d[i]);
	}
	TU_CHECK(seen == ((1 << 2) | (1 << 3) | (1 << 7))); /* {0,2}, {0,3}, {1,3} */
	TU_CHECK(sup_graph_sample_negatives(&g, 4, 1, s, d, err, sizeof err) == SUP_ERR_ARG);
}

static void test_split(const struct sup_graph *g)
{
	char err[256];
	struct sup_edge_split sp, sp2;
	TU_CHECK_MSG(sup_edge_split_make(&sp, g, 0.05, 0.10, 123, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK_MSG(sp.n_train == 2 * 4488 && sp.n_val == 263 && sp.n_test == 527, "%lld %lld %lld",
		     (long long)sp.n_train, (long long)sp.n_val, (long long)sp.n_test);
	/* Every undirected edge lands in exactly one part. */
	int64_t N = g->n_nodes, bad = 0;
	uint8_t *part = calloc((size_t)(N * N), 1);
	for (int64_t i = 0; i < sp.n_train; i++) {
		int64_t u = sp.train_src[i], v = sp.train_dst[i];
		bad += !is_edge(g, u, v) || (i > 0 && sp.train_src[i - 1] > u);
		if (u < v)
			part[u * N + v] += 1;
		else
			bad += !is_edge(g, v, u);
	}
	const int32_t *ps[2] = {sp.val_src, sp.test_src}, *pd[2] = {sp.val_dst, sp.test_dst};
	const int32_t *ns[2] = {sp.val_neg_src, sp.test_neg_src}, *nd[2] = {sp.val_neg_dst, sp.test_neg_dst};
	int64_t cnt[2] = {sp.n_val, sp.n_test};
	for (int k = 0; k < 2; k++)
		for (int64_t i = 0; i < cnt[k]; i++) {
			bad += ps[k][i] >= pd[k][i] || !is_edge(g, ps[k][i], pd[k][i]);
			part[ps[k][i] * N + pd[k][i]] += 1;
			bad += ns[k][i] >= nd[k][i] || is_edge(g, ns[k][i], nd[k][i]) ||
			       part[ns[k][i] * N + nd[k][i]] != 0;
			part[ns[k][i] * N + nd[k][i]] = 2; /* negatives distinct across val and test */
		}
	int64_t ones = 0;
	for (int64_t q = 0; q < N * N; q++)
		ones += part[q] == 1, bad += part[q] > 2;
	TU_CHECK_MSG(bad == 0 && ones == 5278, "%lld bad, %lld positives", (long long)bad, (long long)ones);
	free(part);
	TU_CHECK(sup_edge_split_make(&sp2, g, 0.05, 0.10, 123, err, sizeof err) == SUP_OK);
	TU_CHECK(memcmp(sp.test_src, sp2.test_src, (size_t)sp.n_test * 4) == 0 &&
		 memcmp(sp.val_neg_dst, sp2.val_neg_dst, (size_t)sp.n_val * 4) == 0);
	sup_edge_split_free(&sp2);
	TU_CHECK(sup_edge_split_make(&sp2, g, 0.05, 0.10, 124, err, sizeof err) == SUP_OK);
	TU_CHECK(memcmp(sp.test_src, sp2.test_src, (size_t)sp.n_test * 4) != 0);
	sup_edge_split_free(&sp2);
	TU_CHECK(sup_edge_split_make(&sp2, g, 0.5, 0.6, 1, err, sizeof err) == SUP_ERR_ARG);
	/* The training adjacency normalises like any edge list. */
	struct sup_csr_buf a;
	struct sup_allocator al = sup_allocator_default();
	TU_CHECK(sup_norm_adj_from_edges(&a, N, sp.train_src, sp.train_dst, sp.n_train, &al, err, sizeof err) ==
		 SUP_OK);
	TU_CHECK(a.nnz == sp.n_train + N);
	sup_csr_buf_free(&a);
	sup_edge_split_free(&sp);
}

int main(void)
{
	struct sup_graph cora;
	test_cora(&cora);
	test_linqs(&cora);
	test_small_folder();
	test_corrupt();
	test_linqs_small();
	test_negatives_small();
	if (cora.n_nodes) {
		test_views(&cora);
		test_rwr(&cora);
		test_split(&cora);
	}
	sup_graph_free(&cora);
	return tu_finish("graph");
}
