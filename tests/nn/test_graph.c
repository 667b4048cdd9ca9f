/* GCN layer and encoder, DGI bilinear discriminator: dense references, sparse-feature path ==
 * dense path, whole-module gradchecks (f64 retyping, see f64model.h), initialisation, errors. */
#include "testutil.h"
#include "f64model.h"
#include "selfsup/nn.h"

#include <string.h>

#define NMAX 8
#define FMAX 8

/* A CSR built from a small dense matrix (its nonzeros), values in dtype dt. */
struct csr_store {
	int64_t indptr[NMAX + 1];
	int32_t indices[NMAX * FMAX];
	double vd[NMAX * FMAX];
	float vf[NMAX * FMAX];
	struct sup_csr a;
};

static void dense_to_csr(struct csr_store *s, const double *d, int64_t rows, int64_t cols, enum sup_dtype dt)
{
	int64_t nnz = 0;
	s->indptr[0] = 0;
	for (int64_t i = 0; i < rows; i++) {
		for (int64_t j = 0; j < cols; j++)
			if (d[i * cols + j] != 0) {
				s->indices[nnz] = (int32_t)j;
				s->vd[nnz] = d[i * cols + j];
				s->vf[nnz] = (float)d[i * cols + j];
				nnz++;
			}
		s->indptr[i + 1] = nnz;
	}
	s->a = (struct sup_csr){ .rows = rows, .cols = cols, .nnz = nnz, .indptr = s->indptr, .indices = s->indices,
				 .values = dt == SUP_F64 ? (const void *)s->vd : (const void *)s->vf, .dtype = dt };
}

/* Â = D~^-1/2 (A + I) D~^-1/2 of a 5-node graph (a path 0-1-2-3 and an edge 1-4), dense. */
#define NN 5
static void norm_adj(double *ah)
{
	static const int edges[][2] = { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 1, 4 } };
	double a[NN * NN] = { 0 }, deg[NN] = { 0 };
	for (int i = 0; i < NN; i++)
		a[i * NN + i] = 1;
	for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
		a[edges[e][0] * NN + edges[e][1]] = 1;
		a[edges[e][1] * NN + edges[e][0]] = 1;
	}
	for (int i = 0; i < NN; i++)
		for (int j = 0; j < NN; j++)
			deg[i] += a[i * NN + j];
	for (int i = 0; i < NN; i++)
		for (int j = 0; j < NN; j++)
			ah[i * NN + j] = a[i * NN + j] / sqrt(deg[i] * deg[j]);
}

/* Sparse-ish features: about half the entries zero. */
static void features(double *x, int64_t n, int64_t f, struct sup_rng *r)
{
	for (int64_t i = 0; i < n * f; i++)
		x[i] = sup_rng_uniform(r) < 0.5 ? 0.0 : 2.0 * sup_rng_uniform(r) - 1.0;
	x[0] = 0.7; /* at least one nonzero in row 0 */
}

static void set_param(struct sup_model *m, int idx, struct sup_rng *r)
{
	sup_tensor_fill_uniform(sup_model_tensor(m, idx), r, -1, 1);
}

/* GCN layer against Â X W + b computed with plain loops; both multiplication orders and the
 * sparse-feature path. */
static void test_gcn_reference(void)
{
	const int64_t dims[][2] = { { 6, 3 }, { 3, 6 } }; /* out < in: Â (X W); out > in: (Â X) W */
	struct sup_rng r = sup_rng_make(11, 0);
	double ah[NN * NN];
	norm_adj(ah);
	struct csr_store adj, xs;
	dense_to_csr(&adj, ah, NN, NN, SUP_F32);
	for (int t = 0; t < 2; t++) {
		const int64_t fi = dims[t][0], fo = dims[t][1];
		struct sup_model m;
		sup_model_init(&m, sup_allocator_default());
		struct sup_gcn l;
		TU_CHECK(sup_gcn_declare(&l, &m, "gcn", fi, fo, true) == 0);
		TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
		TU_CHECK(sup_model_find(&m, "gcn.weight") == l.weight && sup_model_find(&m, "gcn.bias") == l.bias);
		set_param(&m, l.bias, &r);
		double xd[NN * FMAX];
		features(xd, NN, fi, &r);
		dense_to_csr(&xs, xd, NN, fi, SUP_F32);
		struct sup_ctx c;
		tu_ctx(&c, 1);
		struct sup_tensor *x = sup_tensor_new(&c, SUP_F32, 2, (const int64_t[]){ NN, fi });
		for (int64_t i = 0; i < NN * fi; i++)
			sup_tensor_set(x, i, xd[i]);
		struct sup_tensor *yd = sup_gcn_forward(&c, &m, &l, &adj.a, x, NULL);
		struct sup_tensor *ys = sup_gcn_forward(&c, &m, &l, &adj.a, NULL, &xs.a);
		TU_CHECK(sup_ctx_status(&c) == SUP_OK && yd && ys);
		const struct sup_tensor *w = sup_model_tensor(&m, l.weight), *b = sup_model_tensor(&m, l.bias);
		double err = 0;
		for (int i = 0; i < NN && yd && ys; i++)
			for (int o = 0; o < fo; o++) {
				double ref = sup_tensor_get(b, o);
				for (int j = 0; j < NN; j++)
					for (int k = 0; k < fi; k++)
						ref += ah[i * NN + j] * xd[j * fi + k] * sup_tensor_get(w, k * fo + o);
				err = fmax(err, fabs(sup_tensor_get(yd, i * fo + o) - ref));
				err = fmax(err, fabs(sup_tensor_get(ys, i * fo + o) - ref));
			}
		TU_CHECK_MSG(err < 1e-5, "in %lld out %lld: max error %g", (long long)fi, (long long)fo, err);
		sup_ctx_deinit(&c);
		sup_model_deinit(&m);
	}
}

/* Sparse features give the same output and the same parameter gradients as dense ones. */
static void test_sparse_equals_dense(void)
{
	struct sup_rng r = sup_rng_make(12, 0);
	double ah[NN * NN], xd[NN * 7];
	norm_adj(ah);
	features(xd, NN, 7, &r);
	struct csr_store adj, xs;
	dense_to_csr(&adj, ah, NN, NN, SUP_F32);
	dense_to_csr(&xs, xd, NN, 7, SUP_F32);
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_gcn_encoder e;
	TU_CHECK(sup_gcn_encoder_declare(&e, &m, "enc", 2, (const int64_t[]){ 7, 4, 3 }, SUP_GCN_ACT_PRELU, true, 0) == 0);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	const int64_t np = m.n_params;
	float *g[2];
	struct sup_tensor *y[2];
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *x = sup_tensor_new(&c, SUP_F32, 2, (const int64_t[]){ NN, 7 });
	for (int64_t i = 0; i < NN * 7; i++)
		sup_tensor_set(x, i, xd[i]);
	struct sup_tensor *rr = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ NN, 3 }, -1, 1);
	for (int p = 0; p < 2; p++) {
		sup_model_zero_grad(&m);
		y[p] = p ? sup_gcn_encoder_forward(&c, &m, &e, &adj.a, NULL, &xs.a)
			 : sup_gcn_encoder_forward(&c, &m, &e, &adj.a, x, NULL);
		sup_backward(&c, sup_sum(&c, sup_mul(&c, y[p], rr), NULL, 0, false));
		g[p] = malloc(sizeof(float) * (size_t)np);
		memcpy(g[p], m.grads, sizeof(float) * (size_t)np);
	}
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);
	TU_CHECK(tu_max_abs_diff(y[0], y[1]) < 1e-6);
	double gd = 0, gmax = 0;
	for (int64_t i = 0; i < np; i++) {
		gd = fmax(gd, fabs(g[0][i] - g[1][i]));
		gmax = fmax(gmax, fabs(g[0][i]));
	}
	TU_CHECK_MSG(gd < 1e-5 && gmax > 1e-3, "gradient difference %g (max gradient %g)", gd, gmax);
	TU_CHECK(sup_model_find(&m, "enc.layers.1.weight") >= 0 && sup_model_find(&m, "enc.acts.1.weight") >= 0);
	TU_CHECK_NEAR(sup_tensor_get(sup_model_tensor(&m, sup_model_find(&m, "enc.acts.0.weight")), 0), 0.25, 1e-7);
	free(g[0]);
	free(g[1]);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* ---- gradchecks of whole modules in f64 ----------------------------------------------------- */

struct gc_user {
	struct sup_model *m;
	const void *module;
	const struct sup_csr *adj, *xs;
	int kind; /* 0 gcn layer dense x, 1 gcn layer sparse x, 2 encoder dense x, 3 bilinear */
};

static struct sup_tensor *gc_fn(struct sup_ctx *c, struct sup_tensor *const *in, void *user)
{
	struct gc_user *u = user;
	struct sup_tensor *x = in[0];
	switch (u->kind) {
	case 0: return sup_gcn_forward(c, u->m, u->module, u->adj, x, NULL);
	case 1: return sup_gcn_forward(c, u->m, u->module, u->adj, NULL, u->xs);
	case 2: return sup_gcn_encoder_forward(c, u->m, u->module, u->adj, x, NULL);
	default: return sup_bilinear_forward(c, u->m, u->module, x, in[1]);
	}
}

/* Gradchecks fn(x[, s], params...) with every parameter of m made an f64 input. */
static void gradcheck_module(struct sup_model *m, struct gc_user *u, struct sup_ctx *c, struct sup_tensor *x,
			     struct sup_tensor *s, const char *what)
{
	struct f64model f;
	f64model_begin(&f, m);
	struct sup_tensor *in[16] = { x };
	int n = 1;
	if (s)
		in[n++] = s;
	n += f64model_params(&f, in + n, 16 - n);
	struct sup_gradcheck_report rep;
	enum sup_status st = sup_gradcheck(c, gc_fn, u, in, n, NULL, &rep);
	TU_CHECK_MSG(st == SUP_OK && rep.ok && rep.checked > 10, "%s: status %d (%s), worst input %d [%lld]: %g vs %g",
		     what, (int)st, sup_ctx_error(c), rep.worst_input, (long long)rep.worst_index, rep.worst_analytic,
		     rep.worst_numeric);
	f64model_end(&f);
}

static void test_gradchecks(void)
{
	struct sup_rng r = sup_rng_make(13, 0);
	double ah[NN * NN], xd[NN * 4];
	norm_adj(ah);
	features(xd, NN, 4, &r);
	struct csr_store adj, xs;
	dense_to_csr(&adj, ah, NN, NN, SUP_F64);
	dense_to_csr(&xs, xd, NN, 4, SUP_F64);
	struct sup_ctx c;
	tu_ctx(&c, 3);
	/* GCN layer: dense input in both orders, then sparse input (gradient to W and b only). */
	const int64_t dims[][2] = { { 4, 3 }, { 3, 4 } };
	for (int t = 0; t < 2; t++) {
		struct sup_model m;
		sup_model_init(&m, sup_allocator_default());
		struct sup_gcn l;
		sup_gcn_declare(&l, &m, "g", dims[t][0], dims[t][1], true);
		sup_model_build(&m, &r);
		set_param(&m, l.bias, &r);
		struct gc_user u = { &m, &l, &adj.a, &xs.a, 0 };
		gradcheck_module(&m, &u, &c, tu_leaf(&c, &r, 2, (const int64_t[]){ NN, dims[t][0] }, -1, 1), NULL,
				 t ? "gcn (A X) W" : "gcn A (X W)");
		if (t == 0) {
			u.kind = 1;
			struct sup_tensor *dummy = tu_rand(&c, &r, SUP_F64, 1, (const int64_t[]){ 1 }, 0, 1);
			gradcheck_module(&m, &u, &c, dummy, NULL, "gcn sparse features");
		}
		sup_model_deinit(&m);
	}
	/* Two-layer encoder with PReLU between and after (slopes checked too), and with ReLU. */
	for (int act = SUP_GCN_ACT_RELU; act <= SUP_GCN_ACT_PRELU; act++) {
		struct sup_model m;
		sup_model_init(&m, sup_allocator_default());
		struct sup_gcn_encoder e;
		sup_gcn_encoder_declare(&e, &m, "", 2, (const int64_t[]){ 4, 5, 3 }, act, act == SUP_GCN_ACT_PRELU, 0);
		sup_model_build(&m, &r);
		struct gc_user u = { &m, &e, &adj.a, NULL, 2 };
		gradcheck_module(&m, &u, &c, tu_leaf(&c, &r, 2, (const int64_t[]){ NN, 4 }, -1, 1), NULL,
				 act == SUP_GCN_ACT_RELU ? "encoder relu" : "encoder prelu");
		sup_model_deinit(&m);
	}
	/* Bilinear: shared summary [D] and per-row summaries [N, D]. */
	for (int per_row = 0; per_row < 2; per_row++) {
		struct sup_model m;
		sup_model_init(&m, sup_allocator_default());
		struct sup_bilinear b;
		sup_bilinear_declare(&b, &m, "disc", 4, true);
		sup_model_build(&m, &r);
		set_param(&m, b.bias, &r);
		struct gc_user u = { &m, &b, NULL, NULL, 3 };
		struct sup_tensor *s = per_row ? tu_leaf(&c, &r, 2, (const int64_t[]){ 3, 4 }, -1, 1)
					       : tu_leaf(&c, &r, 1, (const int64_t[]){ 4 }, -1, 1);
		gradcheck_module(&m, &u, &c, tu_leaf(&c, &r, 2, (const int64_t[]){ 3, 4 }, -1, 1), s,
				 per_row ? "bilinear per-row" : "bilinear shared");
		sup_model_deinit(&m);
	}
	sup_ctx_deinit(&c);
}

/* Bilinear score against the naive triple sum h_i^T W s + b; init as DGI's code. */
static void test_bilinear_naive(void)
{
	struct sup_rng r = sup_rng_make(14, 0);
	const int64_t N = 6, D = 5;
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_bilinear b;
	sup_bilinear_declare(&b, &m, "disc", D, true);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	const struct sup_tensor *w = sup_model_tensor(&m, b.weight);
	TU_CHECK(w->ndim == 3 && w->shape[0] == 1 && w->shape[1] == D && w->shape[2] == D);
	double bound = sqrt(6.0 / (double)(D * D + D)), mx = 0;
	for (int64_t i = 0; i < D * D; i++)
		mx = fmax(mx, fabs(sup_tensor_get(w, i)));
	TU_CHECK(mx <= bound && mx > 0.5 * bound);
	TU_CHECK(sup_tensor_get(sup_model_tensor(&m, b.bias), 0) == 0);
	sup_tensor_fill(sup_model_tensor(&m, b.bias), 0.3);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *h = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ N, D }, -1, 1);
	struct sup_tensor *s1 = tu_rand(&c, &r, SUP_F32, 1, (const int64_t[]){ D }, -1, 1);
	struct sup_tensor *s2 = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ N, D }, -1, 1);
	struct sup_tensor *y1 = sup_bilinear_forward(&c, &m, &b, h, s1), *y2 = sup_bilinear_forward(&c, &m, &b, h, s2);
	TU_CHECK(sup_ctx_status(&c) == SUP_OK && y1 && y1->ndim == 1 && y1->shape[0] == N && y2);
	double err = 0;
	for (int64_t n = 0; n < N && y1 && y2; n++) {
		double ref1 = 0.3, ref2 = 0.3;
		for (int64_t i = 0; i < D; i++)
			for (int64_t j = 0; j < D; j++) {
				double hw = sup_tensor_get(h, n * D + i) * sup_tensor_get(w, i * D + j);
				ref1 += hw * sup_tensor_get(s1, j);
				ref2 += hw * sup_tensor_get(s2, n * D + j);
			}
		err = fmax(err, fmax(fabs(sup_tensor_get(y1, n) - ref1), fabs(sup_tensor_get(y2, n) - ref2)));
	}
	TU_CHECK_MSG(err < 1e-5, "max error %g", err);
	/* A summary of the wrong size is a shape error naming the shapes. */
	TU_CHECK(sup_bilinear_forward(&c, &m, &b, h, sup_tensor_new(&c, SUP_F32, 1, (const int64_t[]){ D + 1 })) == NULL);
	TU_CHECK(sup_ctx_status(&c) == SUP_ERR_SHAPE && strstr(sup_ctx_error(&c), "[6]"));
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* Glorot bound of the GCN weight; input errors; dropout only in training mode. */
static void test_init_errors_dropout(void)
{
	struct sup_rng r = sup_rng_make(15, 0);
	double ah[NN * NN], xd[NN * 6];
	norm_adj(ah);
	features(xd, NN, 6, &r);
	struct csr_store adj, xs;
	dense_to_csr(&adj, ah, NN, NN, SUP_F32);
	dense_to_csr(&xs, xd, NN, 6, SUP_F32);
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_gcn_encoder e;
	TU_CHECK(sup_gcn_encoder_declare(&e, &m, "enc", 1, (const int64_t[]){ 6, 40 }, SUP_GCN_ACT_NONE, false, 0.5) == 0);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	const struct sup_tensor *w = sup_model_tensor(&m, e.layer[0].weight);
	TU_CHECK(w->shape[0] == 6 && w->shape[1] == 40);
	double bound = sqrt(6.0 / 46.0), mx = 0;
	for (int64_t i = 0; i < 240; i++)
		mx = fmax(mx, fabs(sup_tensor_get(w, i)));
	TU_CHECK(mx <= bound && mx > 0.8 * bound);

	struct sup_ctx c;
	tu_ctx(&c, 5);
	struct sup_tensor *x = sup_tensor_new(&c, SUP_F32, 2, (const int64_t[]){ NN, 6 });
	for (int64_t i = 0; i < NN * 6; i++)
		sup_tensor_set(x, i, xd[i]);
	TU_CHECK(sup_gcn_forward(&c, &m, &e.layer[0], &adj.a, x, &xs.a) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_gcn_forward(&c, &m, &e.layer[0], &adj.a, NULL, NULL) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	struct csr_store bad;
	dense_to_csr(&bad, xd, NN, 5, SUP_F32);
	TU_CHECK(sup_gcn_forward(&c, &m, &e.layer[0], &adj.a, NULL, &bad.a) == NULL && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	sup_ctx_clear_error(&c);

	sup_model_set_training(&m, false);
	struct sup_tensor *ev_d = sup_gcn_encoder_forward(&c, &m, &e, &adj.a, x, NULL);
	struct sup_tensor *ev_s = sup_gcn_encoder_forward(&c, &m, &e, &adj.a, NULL, &xs.a);
	sup_model_set_training(&m, true);
	struct sup_tensor *tr_d = sup_gcn_encoder_forward(&c, &m, &e, &adj.a, x, NULL);
	struct sup_tensor *tr_s = sup_gcn_encoder_forward(&c, &m, &e, &adj.a, NULL, &xs.a);
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);
	TU_CHECK(tu_max_abs_diff(ev_d, ev_s) < 1e-6);
	TU_CHECK(tu_max_abs_diff(ev_d, tr_d) > 1e-3 && tu_max_abs_diff(ev_s, tr_s) > 1e-3);
	/* Sparse dropout keeps the inverted-dropout expectation: the mean over many draws of the
	 * training output approaches the eval output. */
	double acc[NN * 40] = { 0 };
	const int draws = 400;
	for (int k = 0; k < draws; k++) {
		struct sup_ctx_mark mk = sup_ctx_mark(&c);
		struct sup_tensor *y = sup_gcn_encoder_forward(&c, &m, &e, &adj.a, NULL, &xs.a);
		for (int64_t i = 0; y && i < NN * 40; i++)
			acc[i] += sup_tensor_get(y, i) / draws;
		sup_ctx_rewind(&c, mk);
	}
	double dev = 0;
	for (int64_t i = 0; i < NN * 40; i++)
		dev = fmax(dev, fabs(acc[i] - sup_tensor_get(ev_s, i)));
	TU_CHECK_MSG(dev < 0.15, "mean of dropped outputs is %g away from the eval output", dev);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

int main(void)
{
	test_gcn_reference();
	test_sparse_equals_dense();
	test_gradchecks();
	test_bilinear_naive();
	test_init_errors_dropout();
	return tu_finish("nn graph");
}
