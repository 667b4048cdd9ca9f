/* W5 dgi-cora (shared/WORKLOADS.md): Deep Graph Infomax (Velickovic et al., ICLR 2019, §3.4 and
 * the authors' code) on the Planetoid Cora graph, full batch.
 *   X: 2708 x 1433 sparse binary features, row-normalised (DGI's preprocess_features);
 *   Â = D~^-1/2 (A + I) D~^-1/2 (Kipf & Welling 2017), built here as a CSR (nnz 13264);
 *   encoder: 1 GCN layer 1433 -> 512 + PReLU with one slope, X W and Â (X W) as sparse x dense;
 *   readout s = sigmoid(mean of the node embeddings); bilinear discriminator h @ (W s) + b;
 *   corruption: a new row permutation of X every step (inside the step);
 *   loss: BCE with logits on the 2 x 2708 scores (1 for the real graph, 0 for the corrupted);
 *   Adam, lr 1e-3, no weight decay.
 * Data: $SELFSUP_SHARED_DATA if set, else ../shared/data if it exists, else /work/shared/data. */
#include "workload.h"
#include "selfsup/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define W5_HIDDEN 512
#define W5_LR 1e-3
#define W5_ADJ_NNZ 13264 /* WORKLOADS.md: Cora's normalised adjacency with self loops */

struct w5 {
	struct sup_allocator alloc;
	struct sup_model model;
	struct sup_optim opt;
	bool opt_ready;
	struct sup_gcn_encoder enc;
	struct sup_bilinear disc;
	int64_t n, f;
	struct sup_tensor x_indptr, x_indices, x_values; /* loaded .npy blocks (owned) */
	struct sup_csr x, xp, adj;
	int64_t *xp_indptr, *perm, *a_indptr;
	int32_t *xp_indices, *a_indices;
	float *xp_values, *a_values, *labels;
	struct sup_rng rng; /* the corruption permutations */
};

static void w5_teardown(void *st)
{
	struct w5 *s = st;
	if (!s)
		return;
	if (s->opt_ready)
		sup_optim_deinit(&s->opt);
	sup_model_deinit(&s->model);
	sup_free(&s->alloc, s->x_indptr.data);
	sup_free(&s->alloc, s->x_indices.data);
	sup_free(&s->alloc, s->x_values.data);
	free(s->xp_indptr);
	free(s->perm);
	free(s->a_indptr);
	free(s->xp_indices);
	free(s->a_indices);
	free(s->xp_values);
	free(s->a_values);
	free(s->labels);
	free(s);
}

static const char *data_dir(void)
{
	const char *env = getenv("SELFSUP_SHARED_DATA");
	struct stat sb;
	if (env && *env)
		return env;
	if (stat("../shared/data", &sb) == 0 && S_ISDIR(sb.st_mode))
		return "../shared/data";
	return "/work/shared/data";
}

/* Loads <dir>/planetoid/cora/<name>.npy and checks its dtype and rank. */
static bool load(struct w5 *s, struct sup_tensor *t, const char *name, enum sup_dtype dt, int ndim, char *err,
		 size_t err_size)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/planetoid/cora/%s.npy", data_dir(), name);
	if (sup_npy_load(t, &s->alloc, path, err, err_size) != SUP_OK)
		return false;
	if (t->dtype != dt || t->ndim != ndim) {
		snprintf(err, err_size, "%s: expected %s with %d axes, got %s with %d", path, sup_dtype_name(dt), ndim,
			 sup_dtype_name(t->dtype), t->ndim);
		return false;
	}
	return true;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Â = D~^-1/2 (A + I) D~^-1/2 from the directed edge list (both directions are inserted, then
 * each row is sorted and deduplicated, so any symmetric or not edge list gives a symmetric Â). */
static bool build_adj(struct w5 *s, const struct sup_tensor *ei, char *err, size_t err_size)
{
	const int64_t N = s->n, E = ei->shape[1];
	const int32_t *src = ei->data, *dst = src + E;
	int64_t *cnt = calloc((size_t)N + 1, sizeof(int64_t));
	s->a_indptr = calloc((size_t)N + 1, sizeof(int64_t));
	s->a_indices = malloc(sizeof(int32_t) * (size_t)(2 * E + N));
	double *dinv = malloc(sizeof(double) * (size_t)N);
	bool ok = cnt && s->a_indptr && s->a_indices && dinv;
	for (int64_t e = 0; ok && e < E; e++)
		if (src[e] < 0 || src[e] >= N || dst[e] < 0 || dst[e] >= N) {
			snprintf(err, err_size, "edge_index: edge %lld (%d, %d) out of range for %lld nodes", (long long)e,
				 src[e], dst[e], (long long)N);
			ok = false;
		}
	if (ok) {
		for (int64_t e = 0; e < E; e++) {
			cnt[src[e] + 1]++;
			cnt[dst[e] + 1]++;
		}
		for (int64_t i = 0; i < N; i++)
			cnt[i + 1] += cnt[i] + 1; /* + the self loop */
		/* Row i owns slots [cnt[i], cnt[i + 1]); a_indptr serves as the write cursor until the
		 * compaction below rewrites it. */
		int64_t *fill = s->a_indptr;
		for (int64_t i = 0; i < N; i++) {
			fill[i] = cnt[i];
			s->a_indices[fill[i]++] = (int32_t)i;
		}
		for (int64_t e = 0; e < E; e++) {
			s->a_indices[fill[src[e]]++] = dst[e];
			s->a_indices[fill[dst[e]]++] = src[e];
		}
		int64_t nnz = 0;
		for (int64_t i = 0; i < N; i++) { /* sort, deduplicate and compact each row */
			int32_t *row = s->a_indices + cnt[i];
			int64_t len = cnt[i + 1] - cnt[i], k = 0;
			qsort(row, (size_t)len, sizeof(int32_t), cmp_i32);
			s->a_indptr[i] = nnz;
			for (int64_t j = 0; j < len; j++)
				if (k == 0 || row[j] != s->a_indices[nnz + k - 1])
					s->a_indices[nnz + k++] = row[j];
			nnz += k;
			dinv[i] = 1.0 / sqrt((double)k);
		}
		s->a_indptr[N] = nnz;
		s->a_values = malloc(sizeof(float) * (size_t)(nnz ? nnz : 1));
		ok = s->a_values != NULL;
		for (int64_t i = 0; ok && i < N; i++)
			for (int64_t k = s->a_indptr[i]; k < s->a_indptr[i + 1]; k++)
				s->a_values[k] = (float)(dinv[i] * dinv[s->a_indices[k]]);
		s->adj = (struct sup_csr){ .rows = N, .cols = N, .nnz = nnz, .indptr = s->a_indptr,
					   .indices = s->a_indices, .values = s->a_values, .dtype = SUP_F32 };
		if (ok && nnz != W5_ADJ_NNZ) {
			snprintf(err, err_size, "normalised adjacency has %lld nonzeros, W5 expects %d (is this Cora?)",
				 (long long)nnz, W5_ADJ_NNZ);
			ok = false;
		}
	} else if (!err[0]) {
		snprintf(err, err_size, "out of memory");
	}
	free(cnt);
	free(dinv);
	return ok;
}

/* X from the CSR files, each row divided by its sum (rows summing to 0 stay 0). */
static bool load_features(struct w5 *s, char *err, size_t err_size)
{
	struct sup_tensor shape;
	if (!load(s, &shape, "x_shape", SUP_I64, 1, err, err_size))
		return false;
	s->n = ((const int64_t *)shape.data)[0];
	s->f = ((const int64_t *)shape.data)[1];
	sup_free(&s->alloc, shape.data);
	if (!load(s, &s->x_indptr, "x_indptr", SUP_I64, 1, err, err_size) ||
	    !load(s, &s->x_indices, "x_indices", SUP_I32, 1, err, err_size) ||
	    !load(s, &s->x_values, "x_data", SUP_F32, 1, err, err_size))
		return false;
	const int64_t *ip = s->x_indptr.data, nnz = s->x_indices.shape[0];
	if (s->x_indptr.shape[0] != s->n + 1 || s->x_values.shape[0] != nnz || ip[s->n] != nnz) {
		snprintf(err, err_size, "x_indptr/x_indices/x_data do not describe one CSR of %lld rows", (long long)s->n);
		return false;
	}
	float *v = s->x_values.data;
	for (int64_t i = 0; i < s->n; i++) {
		double sum = 0;
		for (int64_t k = ip[i]; k < ip[i + 1]; k++)
			sum += v[k];
		for (int64_t k = ip[i]; k < ip[i + 1] && sum != 0; k++)
			v[k] = (float)(v[k] / sum);
	}
	s->x = (struct sup_csr){ .rows = s->n, .cols = s->f, .nnz = nnz, .indptr = ip, .indices = s->x_indices.data,
				 .values = v, .dtype = SUP_F32 };
	s->xp = s->x;
	s->xp_indptr = malloc(sizeof(int64_t) * (size_t)(s->n + 1));
	s->xp_indices = malloc(sizeof(int32_t) * (size_t)(nnz ? nnz : 1));
	s->xp_values = malloc(sizeof(float) * (size_t)(nnz ? nnz : 1));
	s->perm = malloc(sizeof(int64_t) * (size_t)s->n);
	s->labels = malloc(sizeof(float) * (size_t)(2 * s->n));
	if (!s->xp_indptr || !s->xp_indices || !s->xp_values || !s->perm || !s->labels) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	s->xp.indptr = s->xp_indptr;
	s->xp.indices = s->xp_indices;
	s->xp.values = s->xp_values;
	for (int64_t i = 0; i < 2 * s->n; i++)
		s->labels[i] = i < s->n ? 1.0f : 0.0f;
	return true;
}

static void *w5_setup(uint64_t seed, char *err, size_t err_size)
{
	struct w5 *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	s->alloc = sup_allocator_default();
	sup_model_init(&s->model, s->alloc);
	struct sup_tensor ei = { 0 };
	bool ok = load_features(s, err, err_size) && load(s, &ei, "edge_index", SUP_I32, 2, err, err_size) &&
		  ei.shape[0] == 2 && build_adj(s, &ei, err, err_size);
	sup_free(&s->alloc, ei.data);
	if (ok) {
		sup_gcn_encoder_declare(&s->enc, &s->model, "encoder", 1, (const int64_t[]){ s->f, W5_HIDDEN },
					SUP_GCN_ACT_PRELU, true, 0.0);
		sup_bilinear_declare(&s->disc, &s->model, "disc", W5_HIDDEN, true);
		struct sup_rng r = sup_rng_make(seed, 5);
		const struct sup_optim_config cfg = { .kind = SUP_OPTIM_ADAM };
		ok = sup_model_build(&s->model, &r) == SUP_OK && sup_optim_init(&s->opt, &s->model, &cfg) == SUP_OK;
		s->opt_ready = ok;
		if (!ok && !err[0])
			snprintf(err, err_size, "model: %s", s->model.err_msg);
		s->rng = sup_rng_make(seed, 55);
	} else if (!err[0]) {
		snprintf(err, err_size, "edge_index must be [2, E]");
	}
	if (!ok) {
		w5_teardown(s);
		return NULL;
	}
	return s;
}

/* The corrupted features: row i of X~ is row perm[i] of X (DGI's shuffled features). */
static void corrupt(struct w5 *s)
{
	const int64_t *ip = s->x.indptr;
	const int32_t *ix = s->x.indices;
	const float *v = s->x.values;
	sup_rng_permutation(&s->rng, s->perm, s->n);
	s->xp_indptr[0] = 0;
	for (int64_t i = 0; i < s->n; i++) {
		int64_t r = s->perm[i], len = ip[r + 1] - ip[r], at = s->xp_indptr[i];
		memcpy(s->xp_indices + at, ix + ip[r], sizeof(int32_t) * (size_t)len);
		memcpy(s->xp_values + at, v + ip[r], sizeof(float) * (size_t)len);
		s->xp_indptr[i + 1] = at + len;
	}
}

static double w5_step(void *st, struct sup_ctx *c)
{
	struct w5 *s = st;
	corrupt(s);
	struct sup_model *m = &s->model;
	struct sup_tensor *h = sup_gcn_encoder_forward(c, m, &s->enc, &s->adj, NULL, &s->x);
	struct sup_tensor *hc = sup_gcn_encoder_forward(c, m, &s->enc, &s->adj, NULL, &s->xp);
	struct sup_tensor *summary = sup_sigmoid(c, sup_mean(c, h, (const int[]){ 0 }, 1, false));
	struct sup_tensor *scores[2] = { sup_bilinear_forward(c, m, &s->disc, h, summary),
					 sup_bilinear_forward(c, m, &s->disc, hc, summary) };
	struct sup_tensor *logits = sup_concat(c, scores, 2, 0);
	struct sup_tensor *lbl = sup_tensor_wrap(c, SUP_F32, 1, (const int64_t[]){ 2 * s->n }, s->labels);
	struct sup_tensor *loss = sup_bce_with_logits(c, logits, lbl, SUP_REDUCE_MEAN);
	sup_model_zero_grad(m);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return NAN;
	sup_optim_step(&s->opt, W5_LR);
	return sup_tensor_get(loss, 0);
}

/* Counted for Cora (nnz(X) = 49216, nnz(Â) = 13264, N = 2708, D = 512), multiply-adds as 2.
 * Per encoder pass: X W and Â (XW) forward, X^T G and Â^T G backward. Discriminator: W s once,
 * h @ (W s) per pass forward; backward twice the forward. Elementwise work is left out. */
static double w5_flops(void)
{
	const double nx = 49216, na = 13264, n = 2708, d = W5_HIDDEN;
	const double enc = 2 * (2 * nx * d + 2 * na * d);
	const double disc = 2 * d * d + 2 * (2 * n * d);
	return 2 * enc + 3 * disc;
}

const struct workload workload_w5 = {
	.name = "W5",
	.title = "dgi-cora",
	.setup = w5_setup,
	.step = w5_step,
	.teardown = w5_teardown,
	.flops = w5_flops,
};
