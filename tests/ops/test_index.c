/* Behaviour tests of the shape and indexing ops: forward values worked out by hand (PyTorch's
 * documented examples where one exists), gradients of scatter/gather pairs and repeated ids, and
 * the errors for bad shapes, axes and indices. */
#include "testutil.h"

#include <stdint.h>
#include <string.h>

static struct sup_tensor *mk(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
			     const double *vals)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	if (t)
		for (int64_t i = 0; i < sup_tensor_numel(t); i++)
			sup_tensor_set(t, i, vals[i]);
	return t;
}

/* Checks shape and every value of t. */
static void expect(const struct sup_tensor *t, int ndim, const int64_t *shape, const double *vals, const char *what)
{
	TU_CHECK_MSG(t != NULL, "%s: NULL result", what);
	if (!t)
		return;
	bool same = t->ndim == ndim;
	for (int i = 0; same && i < ndim; i++)
		same = t->shape[i] == shape[i];
	TU_CHECK_MSG(same, "%s: wrong shape", what);
	if (!same)
		return;
	for (int64_t i = 0; i < sup_shape_numel(ndim, shape); i++)
		TU_CHECK_MSG(sup_tensor_get(t, i) == vals[i], "%s: element %lld is %g, expected %g", what, (long long)i,
			     sup_tensor_get(t, i), vals[i]);
}

static void expect_grad(const struct sup_tensor *t, const double *vals, const char *what)
{
	for (int64_t i = 0; i < sup_tensor_numel(t); i++)
		TU_CHECK_MSG(sup_tensor_grad_get(t, i) == vals[i], "%s: grad %lld is %g, expected %g", what, (long long)i,
			     sup_tensor_grad_get(t, i), vals[i]);
}

/* The op returned NULL and recorded status st with every fragment in its message; clears it. */
static void expect_error(struct sup_ctx *c, const struct sup_tensor *t, enum sup_status st, const char *frag1,
			 const char *frag2)
{
	TU_CHECK(t == NULL);
	TU_CHECK_MSG(c->err == st, "status %s, expected %s (%s)", sup_status_str(c->err), sup_status_str(st),
		     sup_ctx_error(c));
	TU_CHECK_MSG(strstr(sup_ctx_error(c), frag1) != NULL, "'%s' not in '%s'", frag1, sup_ctx_error(c));
	if (frag2)
		TU_CHECK_MSG(strstr(sup_ctx_error(c), frag2) != NULL, "'%s' not in '%s'", frag2, sup_ctx_error(c));
	sup_ctx_clear_error(c);
}

static void test_concat_stack(struct sup_ctx *c, enum sup_dtype dt)
{
	struct sup_tensor *a = mk(c, dt, TU_SHAPE(2, 2), (const double[]){ 1, 2, 3, 4 });
	struct sup_tensor *b = mk(c, dt, TU_SHAPE(1, 2), (const double[]){ 5, 6 });
	struct sup_tensor *col = mk(c, dt, TU_SHAPE(2, 1), (const double[]){ 7, 8 });
	struct sup_tensor *ab[2] = { a, b }, *acol[2] = { a, col };
	expect(sup_concat(c, ab, 2, 0), TU_SHAPE(3, 2), (const double[]){ 1, 2, 3, 4, 5, 6 }, "concat dim 0");
	expect(sup_concat(c, acol, 2, -1), TU_SHAPE(2, 3), (const double[]){ 1, 2, 7, 3, 4, 8 }, "concat dim -1");
	struct sup_tensor *tcol[2] = { sup_transpose(c, a, 0, 1), col };
	expect(sup_concat(c, tcol, 2, 1), TU_SHAPE(2, 3), (const double[]){ 1, 3, 7, 2, 4, 8 }, "concat a^T");
	expect(sup_concat(c, &a, 1, 0), TU_SHAPE(2, 2), (const double[]){ 1, 2, 3, 4 }, "concat of one");

	struct sup_tensor *u = mk(c, dt, TU_SHAPE(2), (const double[]){ 1, 2 });
	struct sup_tensor *v = mk(c, dt, TU_SHAPE(2), (const double[]){ 3, 4 });
	struct sup_tensor *uv[2] = { u, v };
	expect(sup_stack(c, uv, 2, 0), TU_SHAPE(2, 2), (const double[]){ 1, 2, 3, 4 }, "stack dim 0");
	expect(sup_stack(c, uv, 2, -1), TU_SHAPE(2, 2), (const double[]){ 1, 3, 2, 4 }, "stack dim -1");
	struct sup_tensor *aa[2] = { a, sup_transpose(c, a, 0, 1) };
	expect(sup_stack(c, aa, 2, 1), TU_SHAPE(2, 2, 2), (const double[]){ 1, 2, 1, 3, 3, 4, 2, 4 }, "stack dim 1");

	/* errors */
	struct sup_tensor *w = mk(c, dt, TU_SHAPE(2, 3), (const double[]){ 0, 0, 0, 0, 0, 0 });
	struct sup_tensor *aw[2] = { a, w }, *ub[2] = { u, b };
	expect_error(c, sup_concat(c, aw, 2, 0), SUP_ERR_SHAPE, "[2, 2]", "[2, 3]");
	expect_error(c, sup_concat(c, ub, 2, 0), SUP_ERR_SHAPE, "concat", "[1, 2]");
	expect_error(c, sup_concat(c, ab, 2, 2), SUP_ERR_ARG, "concat", "axis 2");
	expect_error(c, sup_concat(c, ab, 0, 0), SUP_ERR_ARG, "concat", NULL);
	expect_error(c, sup_stack(c, ab, 2, 0), SUP_ERR_SHAPE, "[2, 2]", "[1, 2]");
	expect_error(c, sup_stack(c, uv, 2, 2), SUP_ERR_ARG, "stack", "axis 2");
	struct sup_tensor *other = mk(c, dt == SUP_F32 ? SUP_F64 : SUP_F32, TU_SHAPE(1, 2), (const double[]){ 5, 6 });
	struct sup_tensor *mixed[2] = { a, other };
	expect_error(c, sup_concat(c, mixed, 2, 0), SUP_ERR_DTYPE, "concat", "mixed");
	/* A NULL input (an earlier failure) returns NULL without a new error. */
	struct sup_tensor *with_null[2] = { a, NULL };
	TU_CHECK(sup_concat(c, with_null, 2, 0) == NULL && c->err == SUP_OK);
}

static void test_pad(struct sup_ctx *c)
{
	struct sup_tensor *a = mk(c, SUP_F32, TU_SHAPE(1, 2), (const double[]){ 1, 2 });
	const int64_t pads[] = { 1, 0, 0, 2 };
	expect(sup_pad(c, a, pads, 9), TU_SHAPE(2, 4), (const double[]){ 9, 9, 9, 9, 1, 2, 9, 9 }, "pad");
	struct sup_tensor *b = mk(c, SUP_F64, TU_SHAPE(2, 2), (const double[]){ 1, 2, 3, 4 });
	const int64_t pads2[] = { 0, 0, 1, 1 };
	expect(sup_pad(c, sup_transpose(c, b, 0, 1), pads2, 0), TU_SHAPE(2, 4), (const double[]){ 0, 1, 3, 0, 0, 2, 4, 0 },
	       "pad of a^T");
	const int64_t bad[] = { 0, 0, -1, 0 };
	expect_error(c, sup_pad(c, a, bad, 0), SUP_ERR_ARG, "pad", "negative");
}

static void test_gather_scatter(struct sup_ctx *c)
{
	/* torch.gather(t, 1, [[0, 0], [1, 0]]) with t = [[1, 2], [3, 4]] -> [[1, 1], [4, 3]] */
	struct sup_tensor *t = mk(c, SUP_F64, TU_SHAPE(2, 2), (const double[]){ 1, 2, 3, 4 });
	t->requires_grad = true;
	struct sup_tensor *i1 = mk(c, SUP_I64, TU_SHAPE(2, 2), (const double[]){ 0, 0, 1, 0 });
	struct sup_tensor *g = sup_gather(c, t, 1, i1);
	expect(g, TU_SHAPE(2, 2), (const double[]){ 1, 1, 4, 3 }, "gather dim 1");
	TU_CHECK(sup_backward_grad(c, g, (const double[]){ 1, 10, 100, 1000 }) == SUP_OK);
	expect_grad(t, (const double[]){ 11, 0, 1000, 100 }, "gather backward (repeats sum)");
	struct sup_tensor *i0 = mk(c, SUP_I32, TU_SHAPE(1, 2), (const double[]){ 1, 0 });
	expect(sup_gather(c, t, 0, i0), TU_SHAPE(1, 2), (const double[]){ 3, 2 }, "gather dim 0, i32");

	/* PyTorch's scatter_add_ example: 3 x 5 zeros, src ones(2, 5). */
	struct sup_tensor *z = sup_tensor_zeros(c, SUP_F64, TU_SHAPE(3, 5));
	struct sup_tensor *src = sup_tensor_new(c, SUP_F64, TU_SHAPE(2, 5));
	for (int i = 0; i < 10; i++)
		sup_tensor_set(src, i, 1 + (i == 9) * 9); /* the last src element is outside the index */
	z->requires_grad = src->requires_grad = true;
	struct sup_tensor *idx = mk(c, SUP_I64, TU_SHAPE(2, 4), (const double[]){ 0, 1, 2, 0, 2, 0, 0, 1 });
	struct sup_tensor *s = sup_scatter_add(c, z, 0, idx, src);
	expect(s, TU_SHAPE(3, 5), (const double[]){ 1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0 }, "scatter_add");
	double go[15];
	for (int i = 0; i < 15; i++)
		go[i] = i;
	TU_CHECK(sup_backward_grad(c, s, go) == SUP_OK);
	expect_grad(z, go, "scatter_add grad a");
	/* grad_src[i][j] = go[idx[i][j]][j] = 5 idx + j for j < 4, 0 outside the index. */
	expect_grad(src, (const double[]){ 0, 6, 12, 3, 0, 10, 1, 2, 8, 0 }, "scatter_add grad src");

	struct sup_tensor *oob = mk(c, SUP_I64, TU_SHAPE(1, 2), (const double[]){ 0, 2 });
	expect_error(c, sup_gather(c, t, 0, oob), SUP_ERR_ARG, "gather", "index 2");
	expect_error(c, sup_scatter_add(c, z, 0, mk(c, SUP_I64, TU_SHAPE(1, 1), (const double[]){ -1 }), src), SUP_ERR_ARG,
		     "scatter_add", "index -1");
	expect_error(c, sup_gather(c, t, 0, mk(c, SUP_I64, TU_SHAPE(2), (const double[]){ 0, 1 })), SUP_ERR_SHAPE, "gather",
		     "[2, 2]");
	expect_error(c, sup_gather(c, t, 1, mk(c, SUP_I64, TU_SHAPE(3, 1), (const double[]){ 0, 1, 0 })), SUP_ERR_SHAPE,
		     "[3, 1]", "[2, 2]");
	expect_error(c, sup_gather(c, t, 2, i1), SUP_ERR_ARG, "gather", "axis");
	expect_error(c, sup_gather(c, t, 0, t), SUP_ERR_DTYPE, "gather", "f64");
	expect_error(c, sup_scatter_add(c, z, 0, idx, mk(c, SUP_F64, TU_SHAPE(2, 3), (const double[]){ 0, 0, 0, 0, 0, 0 })),
		     SUP_ERR_SHAPE, "scatter_add", "[2, 3]");
}

static void test_index_select(struct sup_ctx *c)
{
	struct sup_tensor *a = mk(c, SUP_F32, TU_SHAPE(3, 2), (const double[]){ 1, 2, 3, 4, 5, 6 });
	a->requires_grad = true;
	struct sup_tensor *i = mk(c, SUP_I64, TU_SHAPE(3), (const double[]){ 2, 0, 2 });
	struct sup_tensor *y = sup_index_select(c, a, 0, i);
	expect(y, TU_SHAPE(3, 2), (const double[]){ 5, 6, 1, 2, 5, 6 }, "index_select dim 0");
	TU_CHECK(sup_backward_grad(c, y, (const float[]){ 1, 2, 3, 4, 5, 6 }) == SUP_OK);
	expect_grad(a, (const double[]){ 3, 4, 0, 0, 6, 8 }, "index_select backward");
	expect(sup_index_select(c, a, -1, mk(c, SUP_I32, TU_SHAPE(1), (const double[]){ 1 })), TU_SHAPE(3, 1),
	       (const double[]){ 2, 4, 6 }, "index_select dim -1");
	expect(sup_index_select(c, sup_transpose(c, a, 0, 1), 1, i), TU_SHAPE(2, 3), (const double[]){ 5, 1, 5, 6, 2, 6 },
	       "index_select of a^T");
	expect_error(c, sup_index_select(c, a, 0, mk(c, SUP_I64, TU_SHAPE(2), (const double[]){ 0, -1 })), SUP_ERR_ARG,
		     "index_select", "index -1");
	expect_error(c, sup_index_select(c, a, 1, mk(c, SUP_I64, TU_SHAPE(1), (const double[]){ 2 })), SUP_ERR_ARG,
		     "index_select", "index 2");
	expect_error(c, sup_index_select(c, a, 0, mk(c, SUP_I64, TU_SHAPE(1, 1), (const double[]){ 0 })), SUP_ERR_SHAPE,
		     "1-D", "[1, 1]");
}

static void test_embedding(struct sup_ctx *c)
{
	struct sup_tensor *w = mk(c, SUP_F32, TU_SHAPE(3, 2), (const double[]){ 0, 1, 10, 11, 20, 21 });
	w->requires_grad = true;
	struct sup_tensor *ids = mk(c, SUP_I64, TU_SHAPE(2, 2), (const double[]){ 2, 0, 2, 2 });
	struct sup_tensor *e = sup_embedding(c, w, ids);
	expect(e, TU_SHAPE(2, 2, 2), (const double[]){ 20, 21, 0, 1, 20, 21, 20, 21 }, "embedding");
	/* grad rows: id 2 gets rows 0, 2, 3 of the output gradient, id 0 row 1, id 1 nothing. */
	TU_CHECK(sup_backward_grad(c, e, (const float[]){ 1, 2, 10, 20, 100, 200, 1000, 2000 }) == SUP_OK);
	expect_grad(w, (const double[]){ 10, 20, 0, 0, 1101, 2202 }, "embedding backward, repeated ids");

	struct sup_tensor *scalar_id = mk(c, SUP_I32, 0, NULL, (const double[]){ 1 });
	expect(sup_embedding(c, w, scalar_id), TU_SHAPE(2), (const double[]){ 10, 11 }, "embedding of a 0-d id");
	expect_error(c, sup_embedding(c, w, mk(c, SUP_I64, TU_SHAPE(3), (const double[]){ 0, 3, 1 })), SUP_ERR_ARG,
		     "embedding", "id 3");
	expect_error(c, sup_embedding(c, w, mk(c, SUP_I32, TU_SHAPE(1), (const double[]){ -2 })), SUP_ERR_ARG, "embedding",
		     "id -2");
	expect_error(c, sup_embedding(c, ids, ids), SUP_ERR_DTYPE, "embedding", "i64");
	expect_error(c, sup_embedding(c, sup_reshape(c, w, TU_SHAPE(6)), ids), SUP_ERR_SHAPE, "embedding", "[6]");
}

/* Large enough for the threaded paths (R * D >= 65536): ids r % 10, so each of the 10 rows of
 * the weight receives the output-gradient rows r = v, v + 10, ... summed in row order. */
static void test_embedding_large(struct sup_ctx *c)
{
	const int64_t V = 10, D = 300, R = 301;
	struct sup_tensor *w = sup_tensor_new(c, SUP_F32, TU_SHAPE(V, D));
	struct sup_tensor *ids = sup_tensor_new(c, SUP_I64, TU_SHAPE(R));
	float *go = sup_ctx_alloc(c, sizeof(float) * (size_t)(R * D));
	if (!w || !ids || !go)
		return;
	for (int64_t i = 0; i < V * D; i++)
		((float *)w->data)[i] = (float)i;
	for (int64_t r = 0; r < R; r++)
		((int64_t *)ids->data)[r] = r % V;
	for (int64_t i = 0; i < R * D; i++)
		go[i] = (float)(i / D + 1); /* row r carries r + 1: sums are exact integers */
	w->requires_grad = true;
	struct sup_tensor *e = sup_embedding(c, w, ids);
	TU_CHECK(e && e->shape[0] == R && e->shape[1] == D);
	int bad = 0;
	for (int64_t r = 0; e && r < R; r++)
		for (int64_t j = 0; j < D; j++)
			bad += ((float *)e->data)[r * D + j] != (float)((r % V) * D + j);
	TU_CHECK_MSG(bad == 0, "%d wrong embedding values", bad);
	TU_CHECK(sup_backward_grad(c, e, go) == SUP_OK);
	bad = 0;
	for (int64_t v = 0; v < V; v++) {
		double want = 0;
		for (int64_t r = v; r < R; r += V)
			want += (double)(r + 1);
		for (int64_t j = 0; j < D; j++)
			bad += sup_tensor_grad_get(w, v * D + j) != want;
	}
	TU_CHECK_MSG(bad == 0, "%d wrong embedding gradients", bad);
}

static void test_views(struct sup_ctx *c)
{
	struct sup_tensor *a = mk(c, SUP_F64, TU_SHAPE(5, 2), (const double[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 });
	expect(sup_slice(c, a, 0, -4, 5, 2), TU_SHAPE(2, 2), (const double[]){ 2, 3, 6, 7 }, "slice negative start");
	expect(sup_slice(c, a, 0, -100, 100, 3), TU_SHAPE(2, 2), (const double[]){ 0, 1, 6, 7 }, "slice clamped");
	expect(sup_slice(c, a, 0, 4, 2, 1), TU_SHAPE(0, 2), NULL, "empty slice");
	/* A huge step (the size must not be computed as end - start + step - 1). */
	expect(sup_slice(c, a, 0, 1, INT64_MAX, INT64_MAX), TU_SHAPE(1, 2), (const double[]){ 2, 3 }, "slice huge step");
	struct sup_tensor *r = sup_reshape(c, a, TU_SHAPE(-1, 5));
	expect(r, TU_SHAPE(2, 5), (const double[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, "reshape -1");
	TU_CHECK(r && r->data == a->data); /* a view */
	struct sup_tensor *t = sup_reshape(c, sup_transpose(c, a, 0, 1), TU_SHAPE(10));
	expect(t, TU_SHAPE(10), (const double[]){ 0, 2, 4, 6, 8, 1, 3, 5, 7, 9 }, "reshape of a^T");
	TU_CHECK(t && t->data != a->data); /* a copy */
	expect(sup_permute(c, sup_reshape(c, a, TU_SHAPE(5, 1, 2)), (const int[]){ 2, 0, 1 }), TU_SHAPE(2, 5, 1),
	       (const double[]){ 0, 2, 4, 6, 8, 1, 3, 5, 7, 9 }, "permute");
	expect_error(c, sup_reshape(c, a, TU_SHAPE(3, -1)), SUP_ERR_SHAPE, "reshape", "[5, 2]");
	expect_error(c, sup_reshape(c, a, TU_SHAPE(4, 3)), SUP_ERR_SHAPE, "[5, 2]", "[4, 3]");
	expect_error(c, sup_permute(c, a, (const int[]){ 0, 0 }), SUP_ERR_ARG, "permute", NULL);
	expect_error(c, sup_slice(c, a, 0, 0, 2, 0), SUP_ERR_ARG, "slice", "step");
}

int main(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	test_concat_stack(&c, SUP_F32);
	test_concat_stack(&c, SUP_F64);
	sup_ctx_reset(&c);
	test_pad(&c);
	sup_ctx_reset(&c);
	test_gather_scatter(&c);
	sup_ctx_reset(&c);
	test_index_select(&c);
	sup_ctx_reset(&c);
	test_embedding(&c);
	test_embedding_large(&c);
	sup_ctx_reset(&c);
	test_views(&c);
	sup_ctx_deinit(&c);
	return tu_finish("index");
}
