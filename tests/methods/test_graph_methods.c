/* DGI, GAE and VGAE on a tiny hand-made graph folder (written with sup_npy_save): 12 nodes, one of
 * them isolated, one with an all-zero feature row, two unlabelled. Checks: the loader and the
 * normalised adjacency on that folder; the helpers (row normalisation, row permutation, GAE's
 * edge weights against hand-computed numbers); one full step of each method against the loss
 * computed independently here in double precision from the method's own initial parameters;
 * DGI's initial loss near ln 2; the loss decreasing over a few steps; embedding shapes and
 * finiteness; determinism under a seed; DGI's early stopping (stop signal, best parameters
 * restored) and a checkpoint round trip of its parts (model, best copy, counters). */
#define _POSIX_C_SOURCE 200809L

#include "methods/graph_util.h"
#include "selfsup/data.h"
#include "tiny_graph.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct sup_method sup_method_dgi, sup_method_gae, sup_method_vgae;

static char g_dir[64];

/* The loaded graph and the pieces of a batch. */
struct fixture {
	struct sup_graph g;
	struct sup_csr_buf adj_buf;
	struct sup_csr adj, x;
	float dense[N * F];
	int64_t labels[N];
};

static bool fixture_load(struct fixture *f)
{
	char err[256];
	const struct sup_allocator al = sup_allocator_default();
	memset(f, 0, sizeof *f);
	if (sup_graph_load_folder(&f->g, g_dir, &al, err, sizeof err) != SUP_OK ||
	    sup_graph_norm_adj(&f->adj_buf, &f->g, err, sizeof err) != SUP_OK) {
		TU_CHECK_MSG(false, "%s", err);
		return false;
	}
	sup_csr_buf_view(&f->adj_buf, &f->adj);
	sup_graph_features_csr(&f->g, &f->x);
	for (int i = 0; i < N; i++) {
		f->labels[i] = f->g.y[i];
		for (int64_t k = f->g.x_indptr[i]; k < f->g.x_indptr[i + 1]; k++)
			f->dense[i * F + f->g.x_indices[k]] = f->g.x_values[k];
	}
	return true;
}

static void fixture_free(struct fixture *f)
{
	sup_csr_buf_free(&f->adj_buf);
	sup_graph_free(&f->g);
}

static void make_batch(struct fixture *f, struct sup_ctx *c, struct sup_method_batch *b)
{
	memset(b, 0, sizeof *b);
	b->kind = SUP_BATCH_GRAPH;
	b->n_views = 1;
	b->views[0] = sup_tensor_wrap(c, SUP_F32, 2, (const int64_t[]){N, F}, f->dense);
	b->labels = sup_tensor_wrap(c, SUP_I64, 1, (const int64_t[]){N}, f->labels);
	b->graph = &f->adj;
	b->features = &f->x;
}

static void test_loader(struct fixture *f)
{
	TU_CHECK(f->g.n_nodes == N && f->g.n_features == F && f->g.n_edges == 2 * N_UND);
	int unl = 0;
	for (int i = 0; i < N; i++)
		unl += f->g.y[i] == -1;
	TU_CHECK(unl == 2);
	TU_CHECK(f->g.x_indptr[12] == f->g.x_indptr[11]); /* the all-zero row */
	/* the isolated node has only its self loop, weight 1/sqrt(1)^2 */
	TU_CHECK(f->adj.indptr[11] - f->adj.indptr[10] == 1);
	TU_CHECK_NEAR(((const float *)f->adj.values)[f->adj.indptr[10]], 1.0, 1e-7);
	TU_CHECK(f->adj.nnz == 2 * N_UND + N);
}

/* ---- helpers ---------------------------------------------------------------------------------- */

static void test_helpers(struct fixture *f)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	const struct sup_csr *xn = sup_graph_csr_row_normalize(&c, &f->x);
	TU_CHECK(xn != NULL);
	for (int i = 0; xn && i < N; i++) {
		double s = 0;
		for (int64_t k = xn->indptr[i]; k < xn->indptr[i + 1]; k++)
			s += ((const float *)xn->values)[k];
		TU_CHECK_NEAR(s, i == 11 ? 0.0 : 1.0, 1e-6);
	}
	int64_t perm[N];
	for (int i = 0; i < N; i++)
		perm[i] = (i * 5 + 3) % N;
	const struct sup_csr *xp = sup_graph_csr_permute_rows(&c, &f->x, perm);
	TU_CHECK(xp && xp->nnz == f->x.nnz && xp->indptr[N] == f->x.nnz);
	for (int i = 0; xp && i < N; i++) {
		int64_t a = xp->indptr[i], b = f->x.indptr[perm[i]];
		TU_CHECK(xp->indptr[i + 1] - a == f->x.indptr[perm[i] + 1] - b);
		for (int64_t k = 0; k < xp->indptr[i + 1] - a; k++)
			TU_CHECK(xp->indices[a + k] == f->x.indices[b + k]);
	}
	/* GAE weights by hand: 4 nodes, path 0-1-2 (E = 4 directed), with self loops stored as the
	 * normalised adjacency has them: pos_weight = (16 - 4) / 4 = 3, norm = 16 / (2 * 12) = 2/3. */
	const int64_t ip[5] = {0, 2, 5, 7, 8};
	const int32_t ix[8] = {0, 1, 0, 1, 2, 1, 2, 3};
	const float v[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	struct sup_csr a = {.rows = 4, .cols = 4, .nnz = 8, .indptr = ip, .indices = ix, .values = v, .dtype = SUP_F32};
	double pw, norm;
	sup_gae_edge_weights(&a, &pw, &norm);
	TU_CHECK_NEAR(pw, 3.0, 1e-12);
	TU_CHECK_NEAR(norm, 2.0 / 3.0, 1e-12);
	/* the positives of A + I, diagonal included, row-major (node 3: only its self loop) */
	struct sup_tensor *pr, *pc;
	TU_CHECK(sup_gae_positive_pairs(&c, &a, &pr, &pc) == SUP_OK);
	const int64_t want_r[9] = {0, 0, 1, 1, 1, 2, 2, 3}, want_c[9] = {0, 1, 0, 1, 2, 1, 2, 3};
	TU_CHECK(pr && pr->shape[0] == 8);
	for (int k = 0; pr && k < 8; k++)
		TU_CHECK(sup_tensor_get(pr, k) == want_r[k] && sup_tensor_get(pc, k) == want_c[k]);
	const int64_t ip2[3] = {0, 1, 2};
	const int32_t ix2[2] = {1, 0}; /* no self loops stored: the diagonal is added */
	struct sup_csr a2 = {.rows = 2, .cols = 2, .nnz = 2, .indptr = ip2, .indices = ix2, .values = v, .dtype = SUP_F32};
	TU_CHECK(sup_gae_positive_pairs(&c, &a2, &pr, &pc) == SUP_OK);
	const int64_t w2r[4] = {0, 0, 1, 1}, w2c[4] = {0, 1, 0, 1};
	TU_CHECK(pr && pr->shape[0] == 4);
	for (int k = 0; pr && k < 4; k++)
		TU_CHECK(sup_tensor_get(pr, k) == w2r[k] && sup_tensor_get(pc, k) == w2c[k]);
	/* Cora's numbers: N = 2708, 4488 training edges of the 85/5/10 split (8976 directed). */
	const double n2 = 2708.0 * 2708.0;
	TU_CHECK_NEAR((n2 - 8976) / 8976, 816.0, 0.05);
	sup_ctx_deinit(&c);
}

/* ---- method plumbing ------------------------------------------------------------------------- */

struct run {
	const struct sup_method *m;
	struct sup_config *cfg;
	void *state;
	struct sup_ctx c;
	int64_t step;
};

static bool run_open(struct run *r, const struct sup_method *m, uint64_t seed, const char *const *kv)
{
	char err[256];
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
	memset(r, 0, sizeof *r);
	r->m = m;
	TU_CHECK(sup_config_new(&r->cfg, schemas, 2, err, sizeof err) == SUP_OK);
	for (int i = 0; kv && kv[i]; i++)
		TU_CHECK_MSG(sup_config_override(r->cfg, kv[i], err, sizeof err) == SUP_OK, "%s", err);
	struct sup_data_info info = {.name = "tiny", .modality = SUP_MODALITY_GRAPH, .n_examples = N, .n_classes = 3,
				     .dim = F};
	struct sup_rng rng = sup_rng_make(seed, 1);
	enum sup_status s = m->init(&r->state, r->cfg, &info, &rng, err, sizeof err);
	TU_CHECK_MSG(s == SUP_OK, "%s", err);
	tu_ctx(&r->c, seed);
	return s == SUP_OK;
}

static void run_close(struct run *r)
{
	if (r->state)
		r->m->free(r->state);
	sup_config_free(r->cfg);
	sup_ctx_deinit(&r->c);
}

static double run_step(struct run *r, struct fixture *f, struct sup_step_stats *st)
{
	struct sup_method_batch b;
	make_batch(f, &r->c, &b);
	struct sup_step_info si = {0, r->step, 1000, sup_config_float(r->cfg, "lr")};
	memset(st, 0, sizeof *st);
	enum sup_status s = r->m->train_step(r->state, &r->c, &b, &si, st);
	TU_CHECK_MSG(s == SUP_OK, "%s", sup_ctx_error(&r->c));
	sup_ctx_reset(&r->c);
	r->step++;
	return st->loss;
}

static struct sup_model *run_model(struct run *r, int part)
{
	struct sup_ckpt_part p[SUP_MAX_PARTS];
	int n = r->m->parts(r->state, p, SUP_MAX_PARTS);
	return part < n ? p[part].model : NULL;
}

static const float *param(struct run *r, const char *name)
{
	struct sup_model *m = run_model(r, 0);
	int i = sup_model_find(m, name);
	TU_CHECK_MSG(i >= 0, "no parameter %s", name);
	return i >= 0 ? sup_model_tensor(m, i)->data : NULL;
}

/* Embeddings [N, D] into out (capacity N * cap); returns D. */
static int64_t run_encode(struct run *r, struct fixture *f, float *out, int64_t cap)
{
	struct sup_method_batch b;
	make_batch(f, &r->c, &b);
	struct sup_tensor *z = r->m->encode(r->state, &r->c, &b);
	int64_t d = z && z->ndim == 2 && z->shape[0] == N ? z->shape[1] : -1;
	TU_CHECK_MSG(d > 0 && d <= cap, "%s", sup_ctx_error(&r->c));
	for (int64_t k = 0; d > 0 && d <= cap && k < N * d; k++) {
		out[k] = (float)sup_tensor_get(z, k);
		TU_CHECK(isfinite(out[k]));
	}
	sup_ctx_reset(&r->c);
	return d;
}

/* ---- independent references (double) ------------------------------------------------------- */

/* out [N, cols] = Â (x [N, in] W [in, cols]) with x given as a CSR (vals: its values). */
static void ref_gcn_sparse(const struct fixture *f, const float *vals, const int64_t *perm, const float *w,
			   int64_t cols, double *out)
{
	double xw[N * 64] = {0};
	for (int i = 0; i < N; i++) {
		int64_t r = perm ? perm[i] : i;
		for (int64_t k = f->x.indptr[r]; k < f->x.indptr[r + 1]; k++)
			for (int64_t j = 0; j < cols; j++)
				xw[i * cols + j] += vals[k] * (double)w[f->x.indices[k] * cols + j];
	}
	const float *av = f->adj.values;
	for (int i = 0; i < N * cols; i++)
		out[i] = 0;
	for (int i = 0; i < N; i++)
		for (int64_t k = f->adj.indptr[i]; k < f->adj.indptr[i + 1]; k++)
			for (int64_t j = 0; j < cols; j++)
				out[i * cols + j] += av[k] * xw[f->adj.indices[k] * cols + j];
}

/* Â (h [N, in] W [in, cols]) with a dense h. */
static void ref_gcn_dense(const struct fixture *f, const double *h, int64_t in, const float *w, int64_t cols,
			  double *out)
{
	double hw[N * 64] = {0};
	for (int i = 0; i < N; i++)
		for (int64_t a = 0; a < in; a++)
			for (int64_t j = 0; j < cols; j++)
				hw[i * cols + j] += h[i * in + a] * (double)w[a * cols + j];
	const float *av = f->adj.values;
	for (int i = 0; i < N * cols; i++)
		out[i] = 0;
	for (int i = 0; i < N; i++)
		for (int64_t k = f->adj.indptr[i]; k < f->adj.indptr[i + 1]; k++)
			for (int64_t j = 0; j < cols; j++)
				out[i * cols + j] += av[k] * hw[f->adj.indices[k] * cols + j];
}

static double bce(double z, double y)
{
	return (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
}

#define DGI_H 16

/* DGI's eq. 1 from the parameters, with the permutation perm for the corruption. */
static double ref_dgi_loss(struct run *r, const struct fixture *f, const int64_t *perm)
{
	float xn[N * F];
	for (int i = 0; i < N; i++) {
		double s = 0;
		for (int64_t k = f->x.indptr[i]; k < f->x.indptr[i + 1]; k++)
			s += f->g.x_values[k];
		for (int64_t k = f->x.indptr[i]; k < f->x.indptr[i + 1]; k++)
			xn[k] = s > 0 ? (float)(f->g.x_values[k] / s) : 0.0f;
	}
	const float *w = param(r, "encoder.layers.0.weight"), *b = param(r, "encoder.layers.0.bias");
	const float *a = param(r, "encoder.acts.0.weight"), *wd = param(r, "disc.weight"), *bd = param(r, "disc.bias");
	double h[2][N * DGI_H], s[DGI_H] = {0}, loss = 0;
	for (int v = 0; v < 2; v++) {
		ref_gcn_sparse(f, xn, v ? perm : NULL, w, DGI_H, h[v]);
		for (int k = 0; k < N * DGI_H; k++) {
			double t = h[v][k] + b[k % DGI_H];
			h[v][k] = t > 0 ? t : a[0] * t;
		}
	}
	for (int k = 0; k < N * DGI_H; k++)
		s[k % DGI_H] += h[0][k] / N;
	for (int j = 0; j < DGI_H; j++)
		s[j] = 1 / (1 + exp(-s[j]));
	for (int v = 0; v < 2; v++)
		for (int i = 0; i < N; i++) {
			double sc = bd[0];
			for (int p = 0; p < DGI_H; p++)
				for (int q = 0; q < DGI_H; q++)
					sc += h[v][i * DGI_H + p] * wd[p * DGI_H + q] * s[q];
			loss += bce(sc, v == 0) / (2 * N);
		}
	return loss;
}

static void test_dgi(struct fixture *f)
{
	const char *kv[] = {"hidden=16", "lr=0.01", NULL};
	struct run r;
	if (!run_open(&r, &sup_method_dgi, 3, kv))
		return;
	int64_t perm[N];
	struct sup_rng pr = r.c.rng; /* the step draws its permutation first */
	sup_rng_permutation(&pr, perm, N);
	double want = ref_dgi_loss(&r, f, perm);
	struct sup_step_stats st;
	double l0 = run_step(&r, f, &st);
	TU_CHECK_NEAR(l0, want, 1e-5);
	TU_CHECK_NEAR(l0, log(2.0), 0.05); /* scores near 0 at Glorot initialisation */
	TU_CHECK(!st.stop);
	double first = l0, last = 0;
	for (int k = 0; k < 40; k++)
		last = run_step(&r, f, &st);
	TU_CHECK_MSG(last < first - 0.05, "DGI loss %g -> %g", first, last);
	float z[N * DGI_H];
	TU_CHECK(run_encode(&r, f, z, DGI_H) == DGI_H);
	run_close(&r);
}

static void test_dgi_early_stop(struct fixture *f)
{
	const char *kv[] = {"hidden=16", "lr=0.05", "patience=3", NULL};
	struct run r;
	if (!run_open(&r, &sup_method_dgi, 5, kv))
		return;
	struct sup_step_stats st = {0};
	double best = INFINITY;
	int k = 0;
	for (; k < 2000 && !st.stop; k++) {
		run_step(&r, f, &st);
		if (st.loss < best)
			best = st.loss;
	}
	TU_CHECK_MSG(st.stop, "no early stop after %d steps", k);
	TU_CHECK_NEAR(st.values[1], best, 1e-6 * fabs(best) + 1e-7); /* best_loss stat */
	/* after the stop the model holds the best parameters again */
	struct sup_model *m = run_model(&r, 0), *b = run_model(&r, 1);
	TU_CHECK(m && b && m->n_params == b->n_params &&
		 memcmp(m->params, b->params, sizeof(float) * (size_t)m->n_params) == 0);
	run_close(&r);
}

/* Steps 3 + 3 straight, against 3, checkpoint, restore into a fresh model, 3 more. */
static void test_dgi_resume(struct fixture *f)
{
	const char *kv[] = {"hidden=16", "lr=0.01", "patience=2", NULL};
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/dgi.safetensors", g_dir);
	struct run a, b;
	struct sup_step_stats st;
	double la[6], lb[3];
	if (!run_open(&a, &sup_method_dgi, 9, kv) || !run_open(&b, &sup_method_dgi, 10, kv))
		return;
	for (int k = 0; k < 3; k++)
		la[k] = run_step(&a, f, &st);
	struct sup_ckpt_part parts[SUP_MAX_PARTS];
	int n = a.m->parts(a.state, parts, SUP_MAX_PARTS);
	struct sup_ckpt_meta meta = {.method = "dgi", .config_yaml = "", .data = "tiny", .rng = a.c.rng};
	TU_CHECK_MSG(sup_checkpoint_save(path, parts, n, &meta, err, sizeof err) == SUP_OK, "%s", err);
	for (int k = 3; k < 6; k++)
		la[k] = run_step(&a, f, &st);
	struct sup_safetensors *sf = NULL;
	struct sup_ckpt_meta m2;
	TU_CHECK_MSG(sup_checkpoint_open(&sf, &m2, path, err, sizeof err) == SUP_OK, "%s", err);
	n = b.m->parts(b.state, parts, SUP_MAX_PARTS);
	TU_CHECK(n == 2);
	TU_CHECK_MSG(sf && sup_checkpoint_restore(sf, parts, n, true, err, sizeof err) == SUP_OK, "%s", err);
	b.c.rng = m2.rng;
	b.step = 3;
	for (int k = 0; k < 3; k++)
		lb[k] = run_step(&b, f, &st);
	for (int k = 0; k < 3; k++)
		TU_CHECK_MSG(la[3 + k] == lb[k], "step %d: %.9g vs %.9g", 3 + k, la[3 + k], lb[k]);
	sup_safetensors_free(sf);
	run_close(&a);
	run_close(&b);
}

/* (V)GAE's loss from the parameters; eps: VGAE's noise [N, L] or NULL. */
static double ref_gae_loss(struct run *r, const struct fixture *f, const double *eps, int64_t H, int64_t L)
{
	double h[N * 64], mu[N * 64], ls[N * 64], z[N * 64];
	ref_gcn_sparse(f, f->g.x_values, NULL, param(r, "encoder.layers.0.weight"), H, h);
	for (int k = 0; k < N * H; k++)
		h[k] = h[k] > 0 ? h[k] : 0;
	ref_gcn_dense(f, h, H, param(r, eps ? "encoder.mu" ".weight" : "encoder.layers.1.weight"), L, mu);
	double kl = 0;
	if (eps) {
		ref_gcn_dense(f, h, H, param(r, "encoder.logstd.weight"), L, ls);
		for (int k = 0; k < N * L; k++) {
			z[k] = mu[k] + eps[k] * exp(ls[k]);
			kl += -0.5 * (1 + 2 * ls[k] - mu[k] * mu[k] - exp(2 * ls[k])) / ((double)N * N);
		}
	} else {
		memcpy(z, mu, sizeof(double) * (size_t)(N * L));
	}
	/* label matrix A + I and its weights, counted here from the edge list */
	int lab[N][N] = {{0}};
	for (int i = 0; i < N; i++)
		lab[i][i] = 1;
	for (int64_t e = 0; e < N_UND; e++)
		lab[und[e][0]][und[e][1]] = lab[und[e][1]][und[e][0]] = 1;
	const double E = 2.0 * N_UND, n2 = (double)N * N, pw = (n2 - E) / E, norm = n2 / (2 * (n2 - E));
	double rec = 0;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < L; k++)
				s += z[i * L + k] * z[j * L + k];
			rec += (lab[i][j] ? pw : 1.0) * bce(s, lab[i][j]) / n2;
		}
	return norm * rec + kl;
}

static void test_gae(struct fixture *f, bool variational)
{
	const char *kv[] = {"hidden=8", "latent=4", NULL};
	const struct sup_method *m = variational ? &sup_method_vgae : &sup_method_gae;
	struct run r;
	if (!run_open(&r, m, 4, kv))
		return;
	double eps[N * 4];
	struct sup_ctx tmp;
	tu_ctx(&tmp, 0);
	struct sup_tensor *e = sup_tensor_new(&tmp, SUP_F32, 2, (const int64_t[]){N, 4});
	struct sup_rng er = r.c.rng; /* VGAE's only draw of the step */
	sup_tensor_fill_normal(e, &er, 0.0, 1.0);
	for (int k = 0; k < N * 4; k++)
		eps[k] = sup_tensor_get(e, k);
	sup_ctx_deinit(&tmp);
	double want = ref_gae_loss(&r, f, variational ? eps : NULL, 8, 4);
	struct sup_step_stats st;
	double l0 = run_step(&r, f, &st);
	TU_CHECK_NEAR(l0, want, 1e-5 * fabs(want));
	TU_CHECK(st.n == (variational ? 2 : 1));
	double last = 0;
	for (int k = 0; k < 30; k++)
		last = run_step(&r, f, &st);
	TU_CHECK_MSG(last < 0.9 * l0, "%s loss %g -> %g", m->name, l0, last);
	float z[N * 4];
	TU_CHECK(run_encode(&r, f, z, 4) == 4);
	run_close(&r);
}

/* Same seed, same steps: bit-identical losses and embeddings. */
static void test_determinism(struct fixture *f, const struct sup_method *m, const char *const *kv, int64_t dim)
{
	struct run a, b;
	if (!run_open(&a, m, 11, kv) || !run_open(&b, m, 11, kv))
		return;
	struct sup_step_stats st;
	for (int k = 0; k < 5; k++) {
		double x = run_step(&a, f, &st), y = run_step(&b, f, &st);
		TU_CHECK_MSG(x == y, "%s step %d: %.9g vs %.9g", m->name, k, x, y);
	}
	float za[N * 64], zb[N * 64];
	TU_CHECK(run_encode(&a, f, za, 64) == dim && run_encode(&b, f, zb, 64) == dim);
	TU_CHECK(memcmp(za, zb, sizeof(float) * (size_t)(N * dim)) == 0);
	run_close(&a);
	run_close(&b);
}

static void test_bad_batch(void)
{
	const char *kv[] = {"hidden=8", "latent=4", NULL};
	struct run r;
	if (!run_open(&r, &sup_method_gae, 1, kv))
		return;
	struct sup_method_batch b = {.kind = SUP_BATCH_GRAPH};
	struct sup_step_info si = {0};
	struct sup_step_stats st;
	TU_CHECK(r.m->train_step(r.state, &r.c, &b, &si, &st) != SUP_OK);
	TU_CHECK(strstr(sup_ctx_error(&r.c), "sparse features") != NULL);
	run_close(&r);
}

int main(void)
{
	snprintf(g_dir, sizeof g_dir, "/tmp/selfsup_graphm_XXXXXX");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return 1;
	}
	tiny_graph_write(g_dir);
	struct fixture f;
	if (fixture_load(&f)) {
		test_loader(&f);
		test_helpers(&f);
		test_dgi(&f);
		test_dgi_early_stop(&f);
		test_dgi_resume(&f);
		test_gae(&f, false);
		test_gae(&f, true);
		const char *dgi_kv[] = {"hidden=16", NULL}, *gae_kv[] = {"hidden=8", "latent=4", NULL};
		test_determinism(&f, &sup_method_dgi, dgi_kv, 16);
		test_determinism(&f, &sup_method_gae, gae_kv, 4);
		test_determinism(&f, &sup_method_vgae, gae_kv, 4);
		test_bad_batch();
		fixture_free(&f);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", g_dir);
	return tu_finish("methods/graph_methods");
}
