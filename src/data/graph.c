/* Graph data: the .npy graph folder and the LINQS content/cites form (../shared/data/README.md
 * §2-3) into one struct sup_graph, the GCN propagation matrix D^-1/2 (A + I) D^-1/2 (Kipf and
 * Welling, ICLR 2017, §2 eq. 2) and row-normalised features. Contracts in include/selfsup/data.h.
 *
 * Loaders assume only the documented formats: labels may be -1, nodes may be isolated, feature
 * rows may be all zero, and every id is checked before it is used as an index. */
#define _POSIX_C_SOURCE 200809L /* fsync, symlink, fileno, mkdir with C11 */
#include "selfsup/data.h"

#include "data/data_hash.h"
#include "selfsup/io.h"
#include "selfsup/ops.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_dir(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool sup_shared_data_dir(char *buf, size_t size)
{
	const char *env = getenv("SELFSUP_SHARED_DATA");
	const char *cands[3] = {env, "../shared/data", "/work/shared/data"};
	for (int i = 0; i < 3; i++) {
		if (cands[i] && cands[i][0] && is_dir(cands[i])) {
			snprintf(buf, size, "%s", cands[i]);
			return true;
		}
	}
	return false;
}

void sup_graph_free(struct sup_graph *g)
{
	if (!g)
		return;
	const struct sup_allocator *a = &g->alloc;
	if (g->class_names)
		for (int k = 0; k < g->n_classes; k++)
			sup_free(a, g->class_names[k]);
	void *blocks[] = {g->x_indptr, g->x_indices,  g->x_values,   g->y,	  g->class_names, g->edge_src,
			  g->edge_dst, g->adj_indptr, g->train_mask, g->val_mask, g->test_mask};
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
		sup_free(a, blocks[i]);
	memset(g, 0, sizeof *g);
}

static void *galloc(struct sup_graph *g, int64_t count, size_t elem)
{
	return sup_alloc(&g->alloc, (size_t)(count > 0 ? count : 1) * elem, 64);
}

/* ---- shared steps ---------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Sorts keys (u * n + v), drops self loops and repeats, and stores the edge list and adj_indptr
 * of g (g->n_nodes set). Takes keys over (frees them). */
static enum sup_status set_edges(struct sup_graph *g, uint64_t *keys, int64_t m, char *err, size_t n)
{
	int64_t N = g->n_nodes;
	qsort(keys, (size_t)m, sizeof *keys, cmp_u64);
	int64_t e = 0;
	for (int64_t i = 0; i < m; i++) {
		uint64_t u = keys[i] / (uint64_t)N, v = keys[i] % (uint64_t)N;
		if (u == v || (e > 0 && keys[e - 1] == keys[i]))
			continue;
		keys[e++] = keys[i];
	}
	g->n_dropped_edges += m - e;
	g->n_edges = e;
	g->edge_src = galloc(g, e, sizeof(int32_t));
	g->edge_dst = galloc(g, e, sizeof(int32_t));
	g->adj_indptr = galloc(g, N + 1, sizeof(int64_t));
	if (!g->edge_src || !g->edge_dst || !g->adj_indptr) {
		sup_free(&g->alloc, keys);
		return sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
	}
	memset(g->adj_indptr, 0, (size_t)(N + 1) * sizeof *g->adj_indptr);
	for (int64_t i = 0; i < e; i++) {
		g->edge_src[i] = (int32_t)(keys[i] / (uint64_t)N);
		g->edge_dst[i] = (int32_t)(keys[i] % (uint64_t)N);
		g->adj_indptr[g->edge_src[i] + 1]++;
	}
	for (int64_t i = 0; i < N; i++)
		g->adj_indptr[i + 1] += g->adj_indptr[i];
	sup_free(&g->alloc, keys);
	return SUP_OK;
}

/* Zeroed masks when the data has none. */
static bool zero_masks(struct sup_graph *g)
{
	uint8_t **masks[3] = {&g->train_mask, &g->val_mask, &g->test_mask};
	for (int k = 0; k < 3; k++) {
		if (*masks[k])
			continue;
		*masks[k] = galloc(g, g->n_nodes, 1);
		if (!*masks[k])
			return false;
		memset(*masks[k], 0, (size_t)(g->n_nodes > 0 ? g->n_nodes : 1));
	}
	return true;
}

static bool add_class_name(struct sup_graph *g, int k, const char *s, size_t len)
{
	g->class_names[k] = sup_alloc(&g->alloc, len + 1, 16);
	if (!g->class_names[k])
		return false;
	memcpy(g->class_names[k], s, len);
	g->class_names[k][len] = '\0';
	return true;
}

/* ---- graph folder -------------------------------------------------------------------------- */

static bool is_int(enum sup_dtype dt)
{
	return dt == SUP_I32 || dt == SUP_I64 || dt == SUP_U8;
}

static int64_t iget(const struct sup_tensor *t, int64_t i)
{
	switch (t->dtype) {
	case SUP_I32: return ((const int32_t *)t->data)[i];
	case SUP_I64: return ((const int64_t *)t->data)[i];
	case SUP_U8: return ((const uint8_t *)t->data)[i];
	default: return 0;
	}
}

/* Loads dir/name; an absent optional file leaves t->data NULL and returns SUP_OK. Integer
 * files must hold an integer dtype, the others a float one. */
static enum sup_status load_npy(const char *dir, const char *name, bool optional, bool want_int,
				const struct sup_allocator *a, struct sup_tensor *t, char *err, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	enum sup_status st = sup_npy_load(t, a, path, err, n);
	if (st == SUP_ERR_NOT_FOUND && optional) {
		memset(t, 0, sizeof *t);
		return SUP_OK;
	}
	if (st == SUP_ERR_NOT_FOUND)
		return sup_errf(err, n, st, "%s: missing (required file of a graph folder)", path);
	if (st)
		return st;
	if (want_int ? !is_int(t->dtype) : !sup_dtype_is_float(t->dtype)) {
		sup_free(a, t->data);
		t->data = NULL;
		return sup_errf(err, n, SUP_ERR_DTYPE, "%s: dtype %s, expected %s", path, sup_dtype_name(t->dtype),
			    want_int ? "an integer type" : "a float type");
	}
	return SUP_OK;
}

static bool is_vector(const struct sup_tensor *t, int64_t len)
{
	return t->ndim == 1 && t->shape[0] == len;
}

enum { F_XPTR, F_XIND, F_XDAT, F_XSHAPE, F_Y, F_EDGE, F_TRAIN, F_VAL, F_TEST, F_COUNT };
static const char *const folder_files[F_COUNT] = {"x_indptr.npy",   "x_indices.npy", "x_data.npy",
						  "x_shape.npy",    "y.npy",	     "edge_index.npy",
						  "train_mask.npy", "val_mask.npy",  "test_mask.npy"};

/* Checks shapes and ranges of the loaded arrays and copies them into g. */
static enum sup_status fill_from_arrays(struct sup_graph *g, const char *dir, struct sup_tensor *t, char *err, size_t n)
{
	if (t[F_XSHAPE].ndim != 1 || t[F_XSHAPE].shape[0] != 2)
		return sup_errf(err, n, SUP_ERR_SHAPE, "%s/x_shape.npy: expected shape (2,)", dir);
	int64_t N = iget(&t[F_XSHAPE], 0), F = iget(&t[F_XSHAPE], 1);
	if (N < 0 || F < 0 || N > INT32_MAX || F > INT32_MAX)
		return sup_errf(err, n, SUP_ERR_FORMAT, "%s/x_shape.npy: bad [N, F] = [%lld, %lld]", dir, (long long)N,
			    (long long)F);
	g->n_nodes = N, g->n_features = F;
	if (!is_vector(&t[F_XPTR], N + 1))
		return sup_errf(err, n, SUP_ERR_SHAPE, "%s/x_indptr.npy: expected shape (%lld,) for N = %lld", dir,
			    (long long)(N + 1), (long long)N);
	int64_t nnz = iget(&t[F_XPTR], N);
	if (!is_vector(&t[F_XIND], nnz) || !is_vector(&t[F_XDAT], nnz))
		return sup_errf(err, n, SUP_ERR_SHAPE, "%s/%s: expected shape (%lld,) (x_indptr[N])", dir,
			    is_vector(&t[F_XIND], nnz) ? "x_data.npy" : "x_indices.npy", (long long)nnz);
	g->x_indptr = galloc(g, N + 1, sizeof(int64_t));
	g->x_indices = galloc(g, nnz, sizeof(int32_t));
	g->x_values = galloc(g, nnz, sizeof(float));
	g->y = galloc(g, N, sizeof(int32_t));
	if (!g->x_indptr || !g->x_indices || !g->x_values || !g->y)
		return sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
	for (int64_t i = 0; i <= N; i++) {
		g->x_indptr[i] = iget(&t[F_XPTR], i);
		if ((i == 0 && g->x_indptr[0] != 0) || (i > 0 && g->x_indptr[i] < g->x_indptr[i - 1]))
			return sup_errf(err, n, SUP_ERR_FORMAT, "%s/x_indptr.npy: not a row-pointer array (entry %lld)",
				    dir, (long long)i);
	}
	for (int64_t k = 0; k < nnz; k++) {
		int64_t col = iget(&t[F_XIND], k);
		if (col < 0 || col >= F)
			return sup_errf(err, n, SUP_ERR_FORMAT, "%s/x_indices.npy: column %lld out of range [0, %lld)", dir,
				    (long long)col, (long long)F);
		g->x_indices[k] = (int32_t)col;
		g->x_values[k] = (float)sup_tensor_get(&t[F_XDAT], k);
	}
	if (!is_vector(&t[F_Y], N))
		return sup_errf(err, n, SUP_ERR_SHAPE, "%s/y.npy: expected shape (%lld,)", dir, (long long)N);
	int64_t max_y = -1;
	for (int64_t i = 0; i < N; i++) {
		int64_t y = iget(&t[F_Y], i);
		if (y < -1 || y > INT32_MAX / 2)
			return sup_errf(err, n, SUP_ERR_FORMAT,
				    "%s/y.npy: label %lld of node %lld (expected -1 or a class id)", dir, (long long)y,
				    (long long)i);
		g->y[i] = (int32_t)y;
		max_y = y > max_y ? y : max_y;
	}
	g->n_classes = (int)(max_y + 1);
	uint8_t **masks[3] = {&g->train_mask, &g->val_mask, &g->test_mask};
	for (int k = 0; k < 3; k++) {
		const struct sup_tensor *m = &t[F_TRAIN + k];
		if (!m->data)
			continue;
		if (!is_vector(m, N))
			return sup_errf(err, n, SUP_ERR_SHAPE, "%s/%s: expected shape (%lld,)", dir,
				    folder_files[F_TRAIN + k], (long long)N);
		if (!(*masks[k] = galloc(g, N, 1)))
			return sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
		for (int64_t i = 0; i < N; i++)
			(*masks[k])[i] = iget(m, i) != 0;
	}
	return zero_masks(g) ? SUP_OK : sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
}

static enum sup_status fill_edges(struct sup_graph *g, const char *dir, const struct sup_tensor *e, char *err, size_t n)
{
	if (e->ndim != 2 || e->shape[0] != 2)
		return sup_errf(err, n, SUP_ERR_SHAPE, "%s/edge_index.npy: expected shape (2, E)", dir);
	int64_t E = e->shape[1], N = g->n_nodes;
	uint64_t *keys = sup_alloc(&g->alloc, (size_t)(E + 1) * sizeof *keys, 64);
	if (!keys)
		return sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
	for (int64_t i = 0; i < E; i++) {
		int64_t u = iget(e, i), v = iget(e, E + i);
		if (u < 0 || u >= N || v < 0 || v >= N) {
			sup_free(&g->alloc, keys);
			return sup_errf(err, n, SUP_ERR_FORMAT,
				    "%s/edge_index.npy: edge %lld (%lld -> %lld) has a node id outside [0, %lld)", dir,
				    (long long)i, (long long)u, (long long)v, (long long)N);
		}
		keys[i] = (uint64_t)u * (uint64_t)N + (uint64_t)v;
	}
	return set_edges(g, keys, E, err, n);
}

/* class_names.txt (optional): line k names class k; n_classes grows to the number of lines. */
static enum sup_status read_class_names(struct sup_graph *g, const char *dir, char *err, size_t n)
{
	char path[4096], line[1024];
	snprintf(path, sizeof path, "%s/class_names.txt", dir);
	FILE *f = fopen(path, "rb");
	int lines = 0;
	char **names = NULL;
	if (f) {
		while (fgets(line, sizeof line, f))
			lines++;
		rewind(f);
	}
	int total = lines > g->n_classes ? lines : g->n_classes;
	names = sup_alloc(&g->alloc, (size_t)(total + 1) * sizeof *names, 64);
	if (!names) {
		if (f)
			fclose(f);
		return sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
	}
	memset(names, 0, (size_t)(total + 1) * sizeof *names);
	g->class_names = names;
	g->n_classes = total;
	bool ok = true;
	for (int k = 0; k < total && ok; k++) {
		if (k < lines && fgets(line, sizeof line, f)) {
			size_t len = strcspn(line, "\r\n");
			ok = add_class_name(g, k, line, len);
		} else {
			snprintf(line, sizeof line, "%d", k);
			ok = add_class_name(g, k, line, strlen(line));
		}
	}
	if (f)
		fclose(f);
	return ok ? SUP_OK : sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
}

enum sup_status sup_graph_load_folder(struct sup_graph *g, const char *dir, const struct sup_allocator *alloc,
				      char *err, size_t err_size)
{
	memset(g, 0, sizeof *g);
	g->alloc = *alloc;
	struct sup_tensor t[F_COUNT];
	memset(t, 0, sizeof t);
	enum sup_status st = SUP_OK;
	if (!is_dir(dir))
		return sup_errf(err, err_size, SUP_ERR_NOT_FOUND, "%s: not a folder", dir);
	for (int k = 0; k < F_COUNT && !st; k++)
		st = load_npy(dir, folder_files[k], k >= F_TRAIN, k != F_XDAT, alloc, &t[k], err, err_size);
	if (!st)
		st = fill_from_arrays(g, dir, t, err, err_size);
	if (!st)
		st = fill_edges(g, dir, &t[F_EDGE], err, err_size);
	if (!st)
		st = read_class_names(g, dir, err, err_size);
	for (int k = 0; k < F_COUNT; k++)
		sup_free(alloc, t[k].data);
	if (st)
		sup_graph_free(g);
	return st;
}

/* ---- LINQS ----------------------------------------------------------------------------------- */

/* Paper ids of the .content file: id i is ids[id_at[i] .. id_at[i] + id_len[i]). */
struct id_table {
	const char *buf;
	const int64_t *at, *len;
};

static bool id_eq(const void *user, int64_t val, const void *s, size_t n)
{
	const struct id_table *t = user;
	return (size_t)t->len[val] == n && memcmp(t->buf + t->at[val], s, n) == 0;
}

static enum sup_status read_text(const char *path, const struct sup_allocator *a, char **buf, int64_t *len, char *err,
				 size_t n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return sup_errf(err, n, errno == ENOENT ? SUP_ERR_NOT_FOUND : SUP_ERR_IO, "%s: cannot open", path);
	long size = -1;
	if (fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	if (size < 0 || fseek(f, 0, SEEK_SET) != 0 || !(*buf = sup_alloc(a, (size_t)size + 1, 64))) {
		fclose(f);
		return sup_errf(err, n, size < 0 ? SUP_ERR_IO : SUP_ERR_NOMEM, "%s: cannot read", path);
	}
	size_t got = fread(*buf, 1, (size_t)size, f);
	fclose(f);
	if (got != (size_t)size) {
		sup_free(a, *buf);
		return sup_errf(err, n, SUP_ERR_IO, "%s: read failed", path);
	}
	(*buf)[size] = '\0';
	*len = size;
	return SUP_OK;
}

static bool next_line(const char *buf, int64_t len, int64_t *p, int64_t *ls, int64_t *le)
{
	if (*p >= len)
		return false;
	const char *nl = memchr(buf + *p, '\n', (size_t)(len - *p));
	*ls = *p;
	*le = nl ? nl - buf : len;
	*p = *le + 1;
	if (*le > *ls && buf[*le - 1] == '\r')
		(*le)--;
	return true;
}

/* The next field of [*p, le) separated by tabs or spaces; false at the end. */
static bool next_field(const char *buf, int64_t le, int64_t *p, int64_t *fs, int64_t *fe)
{
	while (*p < le && (buf[*p] == '\t' || buf[*p] == ' '))
		(*p)++;
	if (*p >= le)
		return false;
	*fs = *p;
	while (*p < le && buf[*p] != '\t' && buf[*p] != ' ')
		(*p)++;
	*fe = *p;
	return true;
}

static int64_t count_fields(const char *buf, int64_t ls, int64_t le)
{
	int64_t p = ls, fs, fe, k = 0;
	while (next_field(buf, le, &p, &fs, &fe))
		k++;
	return k;
}

/* A feature value; false when the field is not a number. */
static bool parse_value(const char *buf, int64_t fs, int64_t fe, float *v)
{
	char tmp[64];
	size_t n = (size_t)(fe - fs);
	if (n == 1 && (buf[fs] == '0' || buf[fs] == '1')) { /* bag-of-words files are mostly these */
		*v = (float)(buf[fs] - '0');
		return true;
	}
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, buf + fs, n);
	tmp[n] = '\0';
	char *end;
	*v = strtof(tmp, &end);
	return *end == '\0';
}

struct linqs {
	const char *buf; /* the .content file */
	int64_t len;
	int64_t *id_at, *id_len;
	int64_t *name_at, *name_len; /* distinct class names in order of appearance */
	int n_names;
	int32_t *cls; /* node -> index into name_* */
	struct dh_map ids, names;
};

static bool name_eq(const void *user, int64_t val, const void *s, size_t n)
{
	const struct linqs *l = user;
	return (size_t)l->name_len[val] == n && memcmp(l->buf + l->name_at[val], s, n) == 0;
}

/* Pass 1: node count, feature count and nonzeros, with every line's shape checked. */
static enum sup_status linqs_scan(const struct linqs *l, const char *path, int64_t *N, int64_t *F, int64_t *nnz,
				  char *err, size_t n)
{
	int64_t p = 0, ls, le, line = 0;
	*N = 0, *F = -1, *nnz = 0;
	while (next_line(l->buf, l->len, &p, &ls, &le)) {
		line++;
		int64_t k = count_fields(l->buf, ls, le);
		if (k == 0)
			continue;
		if (*F < 0)
			*F = k - 2;
		if (k < 2 || k - 2 != *F)
			return sup_errf(err, n, SUP_ERR_FORMAT, "%s:%lld: %lld fields, expected id, %lld values, class",
				    path, (long long)line, (long long)k, (long long)*F);
		int64_t q = ls, fs, fe;
		next_field(l->buf, le, &q, &fs, &fe);
		for (int64_t j = 0; j < *F; j++) {
			float v;
			next_field(l->buf, le, &q, &fs, &fe);
			if (!parse_value(l->buf, fs, fe, &v))
				return sup_errf(err, n, SUP_ERR_FORMAT, "%s:%lld: value %lld is not a number", path,
					    (long long)line, (long long)j + 1);
			*nnz += v != 0.0f;
		}
		(*N)++;
	}
	if (*N > INT32_MAX || *F > INT32_MAX)
		return sup_errf(err, n, SUP_ERR_FORMAT, "%s: too many nodes or features", path);
	if (*F < 0)
		*F = 0;
	return SUP_OK;
}

/* Pass 2: ids, sparse features and class names (ids of g and l filled). */
static enum sup_status linqs_fill(struct sup_graph *g, struct linqs *l, const char *path, char *err, size_t n)
{
	int64_t p = 0, ls, le, line = 0, i = 0, w = 0;
	g->x_indptr[0] = 0;
	while (next_line(l->buf, l->len, &p, &ls, &le)) {
		line++;
		int64_t q = ls, fs, fe;
		if (!next_field(l->buf, le, &q, &fs, &fe))
			continue;
		if (dh_str_get(&l->ids, l->buf + fs, (size_t)(fe - fs), id_eq,
			       &(struct id_table){l->buf, l->id_at, l->id_len}) >= 0)
			return sup_errf(err, n, SUP_ERR_FORMAT, "%s:%lld: paper id '%.*s' repeats", path, (long long)line,
				    (int)(fe - fs), l->buf + fs);
		l->id_at[i] = fs, l->id_len[i] = fe - fs;
		if (!dh_str_insert(&l->ids, l->buf + fs, (size_t)(fe - fs), i))
			return sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
		for (int64_t j = 0; j < g->n_features; j++) {
			float v = 0.0f;
			next_field(l->buf, le, &q, &fs, &fe);
			parse_value(l->buf, fs, fe, &v);
			if (v != 0.0f)
				g->x_indices[w] = (int32_t)j, g->x_values[w++] = v;
		}
		g->x_indptr[i + 1] = w;
		next_field(l->buf, le, &q, &fs, &fe);
		int64_t c = dh_str_get(&l->names, l->buf + fs, (size_t)(fe - fs), name_eq, l);
		if (c < 0) {
			c = l->n_names++;
			l->name_at[c] = fs, l->name_len[c] = fe - fs;
			if (!dh_str_insert(&l->names, l->buf + fs, (size_t)(fe - fs), c))
				return sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
		}
		l->cls[i++] = (int32_t)c;
	}
	return SUP_OK;
}

/* Classes in strcmp order of their names. */
static enum sup_status linqs_classes(struct sup_graph *g, const struct linqs *l, char *err, size_t n)
{
	int32_t *order = galloc(g, l->n_names, sizeof *order), *rank = galloc(g, l->n_names, sizeof *rank);
	g->class_names = galloc(g, l->n_names, sizeof *g->class_names);
	bool ok = order && rank && g->class_names;
	if (ok)
		memset(g->class_names, 0, (size_t)(l->n_names > 0 ? l->n_names : 1) * sizeof *g->class_names);
	g->n_classes = ok ? l->n_names : 0;
	/* Insertion sort: the number of classes is small. */
	for (int k = 0; ok && k < l->n_names; k++) {
		int j = k;
		for (; j > 0; j--) {
			int64_t o = order[j - 1], la = l->name_len[o], lb = l->name_len[k];
			int c = memcmp(l->buf + l->name_at[o], l->buf + l->name_at[k], (size_t)(la < lb ? la : lb));
			if (c < 0 || (c == 0 && la <= lb))
				break;
			order[j] = order[j - 1];
		}
		order[j] = k;
	}
	for (int k = 0; ok && k < l->n_names; k++) {
		rank[order[k]] = k;
		ok = add_class_name(g, k, l->buf + l->name_at[order[k]], (size_t)l->name_len[order[k]]);
	}
	for (int64_t i = 0; ok && i < g->n_nodes; i++)
		g->y[i] = rank[l->cls[i]];
	sup_free(&g->alloc, order);
	sup_free(&g->alloc, rank);
	return ok ? SUP_OK : sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
}

/* The .cites file: both directions of every citation between known papers. */
static enum sup_status linqs_cites(struct sup_graph *g, const struct linqs *l, const char *path, char *err, size_t n)
{
	char *buf;
	int64_t len;
	enum sup_status st = read_text(path, &g->alloc, &buf, &len, err, n);
	if (st)
		return st;
	int64_t lines = 1;
	for (int64_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	uint64_t *keys = galloc(g, 2 * lines, sizeof *keys);
	if (!keys) {
		sup_free(&g->alloc, buf);
		return sup_errf(err, n, SUP_ERR_NOMEM, "graph: out of memory");
	}
	struct id_table ids = {l->buf, l->id_at, l->id_len};
	int64_t p = 0, ls, le, line = 0, m = 0;
	uint64_t N = (uint64_t)g->n_nodes;
	while (next_line(buf, len, &p, &ls, &le)) {
		line++;
		int64_t q = ls, fs[3], fe[3], k = 0;
		while (k < 3 && next_field(buf, le, &q, &fs[k], &fe[k]))
			k++;
		if (k == 0)
			continue;
		if (k != 2) {
			sup_free(&g->alloc, buf);
			sup_free(&g->alloc, keys);
			return sup_errf(err, n, SUP_ERR_FORMAT, "%s:%lld: expected '<cited id> <citing id>'", path,
				    (long long)line);
		}
		int64_t u = dh_str_get(&l->ids, buf + fs[0], (size_t)(fe[0] - fs[0]), id_eq, &ids);
		int64_t v = dh_str_get(&l->ids, buf + fs[1], (size_t)(fe[1] - fs[1]), id_eq, &ids);
		if (u < 0 || v < 0) {
			g->n_dropped_edges += 2;
			continue;
		}
		keys[m++] = (uint64_t)u * N + (uint64_t)v;
		keys[m++] = (uint64_t)v * N + (uint64_t)u;
	}
	sup_free(&g->alloc, buf);
	return set_edges(g, keys, m, err, n);
}

static void linqs_free(struct linqs *l, const struct sup_allocator *a)
{
	void *blocks[] = {(void *)l->buf, l->id_at, l->id_len, l->name_at, l->name_len, l->cls};
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
		sup_free(a, blocks[i]);
	if (l->ids.keys)
		dh_free(&l->ids);
	if (l->names.keys)
		dh_free(&l->names);
}

enum sup_status sup_graph_load_linqs(struct sup_graph *g, const char *dir, const char *name,
				     const struct sup_allocator *alloc, char *err, size_t err_size)
{
	memset(g, 0, sizeof *g);
	g->alloc = *alloc;
	char content[4096], cites[4096];
	snprintf(content, sizeof content, "%s/%s.content", dir, name);
	snprintf(cites, sizeof cites, "%s/%s.cites", dir, name);
	struct linqs l = {0};
	char *buf = NULL;
	enum sup_status st = read_text(content, alloc, &buf, &l.len, err, err_size);
	if (st)
		return st;
	l.buf = buf;
	int64_t N, F, nnz;
	st = linqs_scan(&l, content, &N, &F, &nnz, err, err_size);
	if (!st) {
		g->n_nodes = N, g->n_features = F;
		l.id_at = galloc(g, N, sizeof(int64_t)), l.id_len = galloc(g, N, sizeof(int64_t));
		l.name_at = galloc(g, N, sizeof(int64_t)), l.name_len = galloc(g, N, sizeof(int64_t));
		l.cls = galloc(g, N, sizeof(int32_t));
		g->x_indptr = galloc(g, N + 1, sizeof(int64_t));
		g->x_indices = galloc(g, nnz, sizeof(int32_t));
		g->x_values = galloc(g, nnz, sizeof(float));
		g->y = galloc(g, N, sizeof(int32_t));
		bool ok = l.id_at && l.id_len && l.name_at && l.name_len && l.cls && g->x_indptr && g->x_indices &&
			  g->x_values && g->y && dh_init(&l.ids, alloc, (size_t)N) && dh_init(&l.names, alloc, 16);
		st = ok ? SUP_OK : sup_errf(err, err_size, SUP_ERR_NOMEM, "graph: out of memory");
	}
	if (!st)
		st = linqs_fill(g, &l, content, err, err_size);
	if (!st)
		st = linqs_classes(g, &l, err, err_size);
	if (!st)
		st = linqs_cites(g, &l, cites, err, err_size);
	if (!st && !zero_masks(g))
		st = sup_errf(err, err_size, SUP_ERR_NOMEM, "graph: out of memory");
	linqs_free(&l, alloc);
	if (st)
		sup_graph_free(g);
	return st;
}

/* ---- matrices -------------------------------------------------------------------------------- */

void sup_graph_row_normalize(struct sup_graph *g)
{
	for (int64_t i = 0; i < g->n_nodes; i++) {
		double s = 0.0;
		for (int64_t k = g->x_indptr[i]; k < g->x_indptr[i + 1]; k++)
			s += fabs((double)g->x_values[k]);
		if (s == 0.0)
			continue;
		for (int64_t k = g->x_indptr[i]; k < g->x_indptr[i + 1]; k++)
			g->x_values[k] = (float)((double)g->x_values[k] / s);
	}
}

void sup_graph_features_csr(const struct sup_graph *g, struct sup_csr *out)
{
	*out = (struct sup_csr){.rows = g->n_nodes,
				.cols = g->n_features,
				.nnz = g->x_indptr[g->n_nodes],
				.indptr = g->x_indptr,
				.indices = g->x_indices,
				.values = g->x_values,
				.dtype = SUP_F32};
}

void sup_csr_buf_view(const struct sup_csr_buf *m, struct sup_csr *out)
{
	*out = (struct sup_csr){.rows = m->rows,
				.cols = m->cols,
				.nnz = m->nnz,
				.indptr = m->indptr,
				.indices = m->indices,
				.values = m->values,
				.dtype = SUP_F32};
}

void sup_csr_buf_free(struct sup_csr_buf *m)
{
	if (!m)
		return;
	sup_free(&m->alloc, m->indptr);
	sup_free(&m->alloc, m->indices);
	sup_free(&m->alloc, m->values);
	memset(m, 0, sizeof *m);
}

enum sup_status sup_norm_adj_from_edges(struct sup_csr_buf *out, int64_t n, const int32_t *src, const int32_t *dst,
					int64_t n_edges, const struct sup_allocator *alloc, char *err, size_t err_size)
{
	memset(out, 0, sizeof *out);
	out->alloc = *alloc;
	uint64_t N = (uint64_t)n;
	uint64_t *keys = sup_alloc(alloc, (size_t)(2 * n_edges + n + 1) * sizeof *keys, 64);
	int64_t m = 0;
	if (!keys)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "norm adj: out of memory");
	for (int64_t e = 0; e < n_edges; e++) {
		if (src[e] < 0 || src[e] >= n || dst[e] < 0 || dst[e] >= n) {
			sup_free(alloc, keys);
			return sup_errf(err, err_size, SUP_ERR_ARG, "norm adj: edge %lld has a node id outside [0, %lld)",
				    (long long)e, (long long)n);
		}
		if (src[e] == dst[e])
			continue;
		keys[m++] = (uint64_t)src[e] * N + (uint64_t)dst[e];
		keys[m++] = (uint64_t)dst[e] * N + (uint64_t)src[e];
	}
	for (int64_t i = 0; i < n; i++)
		keys[m++] = (uint64_t)i * N + (uint64_t)i;
	qsort(keys, (size_t)m, sizeof *keys, cmp_u64);
	int64_t u = 0;
	for (int64_t i = 0; i < m; i++)
		if (u == 0 || keys[u - 1] != keys[i])
			keys[u++] = keys[i];
	out->rows = out->cols = n;
	out->nnz = u;
	out->indptr = sup_alloc(alloc, (size_t)(n + 1) * sizeof *out->indptr, 64);
	out->indices = sup_alloc(alloc, (size_t)(u + 1) * sizeof *out->indices, 64);
	out->values = sup_alloc(alloc, (size_t)(u + 1) * sizeof *out->values, 64);
	if (!out->indptr || !out->indices || !out->values) {
		sup_free(alloc, keys);
		sup_csr_buf_free(out);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "norm adj: out of memory");
	}
	memset(out->indptr, 0, (size_t)(n + 1) * sizeof *out->indptr);
	for (int64_t k = 0; k < u; k++) {
		out->indptr[keys[k] / N + 1]++;
		out->indices[k] = (int32_t)(keys[k] % N);
	}
	for (int64_t i = 0; i < n; i++)
		out->indptr[i + 1] += out->indptr[i];
	/* The degree of A + I is the row length: every node has its self loop, so it is >= 1. */
	for (int64_t i = 0; i < n; i++)
		for (int64_t k = out->indptr[i]; k < out->indptr[i + 1]; k++) {
			int64_t j = out->indices[k];
			double di = (double)(out->indptr[i + 1] - out->indptr[i]),
			       dj = (double)(out->indptr[j + 1] - out->indptr[j]);
			out->values[k] = (float)(1.0 / sqrt(di * dj));
		}
	sup_free(alloc, keys);
	return SUP_OK;
}

enum sup_status sup_graph_norm_adj(struct sup_csr_buf *out, const struct sup_graph *g, char *err, size_t err_size)
{
	return sup_norm_adj_from_edges(out, g->n_nodes, g->edge_src, g->edge_dst, g->n_edges, &g->alloc, err, err_size);
}
