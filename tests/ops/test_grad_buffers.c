/* Uninitialised gradient buffers (sup_grad_buf_acc, src/ops/op_internal.h): the first backward
 * contribution stores instead of zero + add. These graphs hit the cases where that could go
 * wrong: a tensor used twice by one op (x * x, u u^T), a tensor reached by several ops (store
 * then accumulate), reshape adopting its view's buffer then receiving more contributions,
 * permute copying, and a slice (partial cover, zeroed).
 *  - gradcheck in f64 against central differences: the op-level scheme (matmul beta, the view
 *    paths, the order of store and add), which both backends share;
 *  - f32 on the fast CPU kernels (their store paths) against the reference backend, with the
 *    arena pre-filled with NaN so a stored-over buffer that was read anyway shows up. */
#include "testutil.h"

#include <string.h>

/* Four scalar-valued graphs of the leaves a [6, 8] and b [8]. */
static struct sup_tensor *graph(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b, int which)
{
	switch (which) {
	case 0: /* x * x, then x used again by exp: store, add, add */
		return sup_sum(c, sup_add(c, sup_mul(c, a, a), sup_exp(c, sup_mul_scalar(c, a, 0.1))), NULL, 0, false);
	case 1: { /* u u^T (a == b in matmul), plus a bias broadcast (chan path) */
		struct sup_tensor *u = sup_tanh(c, a);
		struct sup_tensor *s = sup_matmul(c, u, u, false, true);
		return sup_sum(c, sup_mul(c, s, s), NULL, 0, false);
	}
	case 2: { /* a's reshape is recorded after sigmoid(a), so its backward runs first and adopts
		   * the view's buffer as a's gradient; sigmoid then adds into it */
		struct sup_tensor *q = sup_sum(c, sup_mul(c, sup_sigmoid(c, a), b), NULL, 0, false);
		struct sup_tensor *r = sup_reshape(c, sup_gelu(c, a, false), 2, (const int64_t[]){ 8, 6 });
		struct sup_tensor *p = sup_permute(c, sup_reshape(c, a, 3, (const int64_t[]){ 2, 3, 8 }), (const int[]){ 2, 0, 1 });
		struct sup_tensor *t = sup_add(c, sup_sum(c, sup_mul(c, r, r), NULL, 0, false),
					       sup_sum(c, sup_sigmoid(c, sup_contiguous(c, p)), NULL, 0, false));
		struct sup_tensor *v = sup_reshape(c, a, 1, (const int64_t[]){ 48 });
		return sup_add(c, sup_add(c, t, q), sup_sum(c, sup_mul(c, v, v), NULL, 0, false));
	}
	default: { /* slice (partial cover) and a channel-broadcast product w.r.t. both */
		struct sup_tensor *s = sup_slice(c, a, 1, 2, 7, 2);
		struct sup_tensor *m = sup_mean(c, sup_mul(c, a, b), (const int[]){ 0 }, 1, false);
		return sup_add(c, sup_sum(c, sup_exp(c, s), NULL, 0, false), sup_sum(c, sup_mul(c, m, m), NULL, 0, false));
	}
	}
}

static void run(enum sup_backend be, int which, float *ga, float *gb)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	c.backend = be;
	/* Dirty the arena: the next allocations reuse this NaN-filled memory. */
	struct sup_ctx_mark mark = sup_ctx_mark(&c);
	float *junk = sup_ctx_alloc(&c, 1 << 16);
	for (int i = 0; junk && i < (1 << 14); i++)
		junk[i] = NAN;
	sup_ctx_rewind(&c, mark);
	struct sup_rng r = sup_rng_make(7, (uint64_t)which);
	struct sup_tensor *a = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ 6, 8 }, -1, 1);
	struct sup_tensor *b = tu_rand(&c, &r, SUP_F32, 1, (const int64_t[]){ 8 }, -1, 1);
	a->requires_grad = b->requires_grad = true;
	struct sup_tensor *y = graph(&c, a, b, which);
	TU_CHECK_MSG(y && sup_backward(&c, y) == SUP_OK, "graph %d: %s", which, sup_ctx_error(&c));
	for (int i = 0; i < 48; i++)
		ga[i] = (float)sup_tensor_grad_get(a, i);
	for (int i = 0; i < 8; i++)
		gb[i] = (float)sup_tensor_grad_get(b, i);
	sup_ctx_deinit(&c);
}

static struct sup_tensor *gc_fn(struct sup_ctx *c, struct sup_tensor *const *in, void *user)
{
	return graph(c, in[0], in[1], *(const int *)user);
}

static void gradcheck_graphs(void)
{
	for (int which = 0; which < 4; which++) {
		struct sup_ctx c;
		tu_ctx(&c, 3);
		struct sup_rng r = sup_rng_make(11, (uint64_t)which);
		struct sup_tensor *in[2] = { tu_leaf(&c, &r, 2, (const int64_t[]){ 6, 8 }, -1, 1),
					     tu_leaf(&c, &r, 1, (const int64_t[]){ 8 }, -1, 1) };
		struct sup_gradcheck_report rep;
		const struct sup_gradcheck_opts o = { 0 };
		enum sup_status st = sup_gradcheck(&c, gc_fn, &which, in, 2, &o, &rep);
		TU_CHECK_MSG(st == SUP_OK && rep.ok, "graph %d: %s %s; worst input %d[%lld]: analytic %.9g numeric %.9g",
			     which, sup_status_str(st), sup_ctx_error(&c), rep.worst_input, (long long)rep.worst_index,
			     rep.worst_analytic, rep.worst_numeric);
		sup_ctx_deinit(&c);
	}
}

/* Backward keeps its scratch to itself: the bias of a linear layer used twice gets its second
 * contribution through a scratch row, which must be released like every backward scratch, so
 * the arena holds as much after backward as before it (both backends, both dtypes). */
static void backward_scratch_released(void)
{
	for (int k = 0; k < 3; k++) {
		const enum sup_backend be = k == 1 ? SUP_BACKEND_REF : SUP_BACKEND_CPU;
		const enum sup_dtype dt = k == 2 ? SUP_F64 : SUP_F32;
		struct sup_ctx c;
		tu_ctx(&c, 2);
		c.backend = be;
		struct sup_rng r = sup_rng_make(3, (uint64_t)k);
		struct sup_tensor *x = tu_rand(&c, &r, dt, TU_SHAPE(5, 7), -1, 1);
		struct sup_tensor *w = tu_rand(&c, &r, dt, TU_SHAPE(3, 7), -1, 1);
		struct sup_tensor *b = tu_rand(&c, &r, dt, TU_SHAPE(3), -1, 1);
		w->requires_grad = b->requires_grad = true;
		struct sup_tensor *y = sup_add(&c, sup_linear(&c, x, w, b), sup_linear(&c, sup_neg(&c, x), w, b));
		struct sup_tensor *g = tu_rand(&c, &r, dt, TU_SHAPE(5, 3), -1, 1);
		const size_t used = c.arena.used;
		TU_CHECK(y && g && sup_backward_grad(&c, y, g->data) == SUP_OK);
		TU_CHECK_MSG(c.arena.used == used, "backend %d %s: backward left %zu bytes in the arena", (int)be,
			     sup_dtype_name(dt), c.arena.used - used);
		/* db = 2 * column sums of g (the two contributions) */
		for (int j = 0; j < 3; j++) {
			double want = 0;
			for (int i = 0; i < 5; i++)
				want += 2 * sup_tensor_get(g, i * 3 + j);
			TU_CHECK_NEAR(sup_tensor_grad_get(b, j), want, 1e-5);
		}
		sup_ctx_deinit(&c);
	}
}

/* A persistent leaf (its struct and data outside the arena, like a caller's input) that requires
 * grad gets a pooled gradient; sup_ctx_reset frees the pool's blocks, so in the next step that
 * pointer is stale. The leaf must then get a fresh gradient holding only the new step's value,
 * and the stale block, by now another tensor's gradient, must not be written. */
static void leaf_across_steps(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 4);
	float xd[6] = { 0.5f, -1, 2, 0.25f, 3, -2 };
	struct sup_tensor x;
	sup_tensor_init(&x, SUP_F32, 2, (const int64_t[]){ 2, 3 }, xd);
	x.requires_grad = true;
	for (int step = 0; step < 3; step++) {
		/* the other gradients of the step come first and take the pool's first blocks */
		struct sup_rng r = sup_rng_make(5, (uint64_t)step);
		struct sup_tensor *z = tu_rand(&c, &r, SUP_F32, TU_SHAPE(2, 3), -1, 1);
		z->requires_grad = true;
		const double k = 2 + step; /* d/dx sum(k x + z^2 x) = k + z^2, d/dz = 2 z x */
		struct sup_tensor *zz = sup_mul(&c, z, z);
		struct sup_tensor *y = sup_sum(&c, sup_mul(&c, sup_add_scalar(&c, zz, k), &x), NULL, 0, false);
		TU_CHECK_MSG(y && sup_backward(&c, y) == SUP_OK, "step %d: %s", step, sup_ctx_error(&c));
		bool ok_x = x.grad != NULL, ok_z = z->grad != NULL;
		for (int i = 0; i < 6 && ok_x && ok_z; i++) {
			const double zi = sup_tensor_get(z, i);
			ok_x = fabs(sup_tensor_grad_get(&x, i) - (k + zi * zi)) <= 1e-5;
			ok_z = fabs(sup_tensor_grad_get(z, i) - 2 * zi * xd[i]) <= 1e-5;
		}
		TU_CHECK_MSG(ok_x, "step %d: the leaf's gradient is not the step's own", step);
		TU_CHECK_MSG(ok_z, "step %d: another gradient was overwritten", step);
		sup_ctx_reset(&c);
	}
	/* Releasing a stale gradient forgets it and gives nothing back to the pool (its block is
	 * no longer the leaf's). */
	sup_grad_release(&c, &x);
	TU_CHECK(x.grad == NULL && !x.grad_pooled && c.grad_pool.used == 0);
	sup_ctx_deinit(&c);
}

int main(void)
{
	leaf_across_steps();
	backward_scratch_released();
	gradcheck_graphs();
	for (int which = 0; which < 4; which++) {
		float fa[48], fb[8], ra[48], rb[8];
		run(SUP_BACKEND_CPU, which, fa, fb);
		run(SUP_BACKEND_REF, which, ra, rb);
		double d = 0;
		for (int i = 0; i < 48; i++)
			d = fmax(d, isnan(fa[i]) ? INFINITY : fabs(fa[i] - ra[i]) / (1 + fabs(ra[i])));
		for (int i = 0; i < 8; i++)
			d = fmax(d, isnan(fb[i]) ? INFINITY : fabs(fb[i] - rb[i]) / (1 + fabs(rb[i])));
		TU_CHECK_MSG(d <= 1e-5, "graph %d: fast vs reference gradients differ by %g", which, d);
	}
	return tu_finish("ops/grad_buffers");
}
