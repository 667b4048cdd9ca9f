/* autograd: tape recording, accumulation through fan-out, no-grad, sticky errors, steady-state
 * allocation, and gradcheck itself (it must catch a wrong backward). */
#include "testutil.h"
#include "ops/op_internal.h"

#include <stdlib.h>
#include <string.h>

/* A deliberately wrong op: y = x^2 with backward 3x (instead of 2x). */
static void bad_square_backward(struct sup_ctx *c, struct sup_node *n)
{
	double *g = sup_grad_buf(c, n->in[0]);
	const double *x = n->in[0]->data, *go = n->out->grad;
	for (int64_t i = 0; i < sup_tensor_numel(n->out); i++)
		g[i] += 3.0 * x[i] * go[i];
}
static const struct sup_op_def bad_square_def = { "bad_square", bad_square_backward };

static struct sup_tensor *bad_square(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_tensor *x = in[0], *y = sup_tensor_new_like(c, x);
	for (int64_t i = 0; i < sup_tensor_numel(x); i++)
		((double *)y->data)[i] = ((double *)x->data)[i] * ((double *)x->data)[i];
	sup_record(c, &bad_square_def, y, 1, &x);
	return y;
}

static void test_gradcheck_catches_wrong_backward(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(1, 1);
	struct sup_tensor *x = tu_leaf(&c, &r, TU_SHAPE(5), 0.5, 1.5);
	struct sup_gradcheck_report rep;
	TU_CHECK(sup_gradcheck(&c, bad_square, NULL, &x, 1, NULL, &rep) == SUP_OK);
	TU_CHECK_MSG(!rep.ok, "gradcheck accepted a wrong backward");
	TU_CHECK(rep.checked == 5);
	TU_CHECK_NEAR(rep.worst_analytic / rep.worst_numeric, 1.5, 1e-4);
	sup_ctx_deinit(&c);
}

/* (x W) W with a tied square weight: W receives gradient from both uses. */
static struct sup_tensor *tied(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_matmul(c, sup_matmul(c, in[0], in[1], false, false), in[1], false, true);
}

static void test_fan_out_and_tying(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_rng r = sup_rng_make(2, 1);
	struct sup_tensor *in[2] = { tu_leaf(&c, &r, TU_SHAPE(3, 4), -1, 1), tu_leaf(&c, &r, TU_SHAPE(4, 4), -1, 1) };
	struct sup_gradcheck_report rep;
	TU_CHECK(sup_gradcheck(&c, tied, NULL, in, 2, NULL, &rep) == SUP_OK);
	TU_CHECK_MSG(rep.ok, "weight tying: worst %g vs %g", rep.worst_analytic, rep.worst_numeric);
	sup_ctx_deinit(&c);
}

static void test_no_grad_and_detach(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 3);
	struct sup_rng r = sup_rng_make(3, 1);
	struct sup_tensor *a = tu_leaf(&c, &r, TU_SHAPE(2, 2), -1, 1), *b = tu_leaf(&c, &r, TU_SHAPE(2, 2), -1, 1);
	sup_no_grad_begin(&c);
	struct sup_tensor *y = sup_matmul(&c, a, b, false, false);
	sup_no_grad_end(&c);
	TU_CHECK(y && !y->requires_grad && c.tape_len == 0);
	struct sup_tensor *d = sup_detach(&c, a);
	TU_CHECK(d && !d->requires_grad && d->data == a->data);
	struct sup_tensor *z = sup_matmul(&c, d, b, false, false);
	TU_CHECK(z && z->requires_grad && c.tape_len == 1);
	double ones[4] = { 1, 1, 1, 1 };
	TU_CHECK(sup_backward_grad(&c, z, ones) == SUP_OK);
	TU_CHECK_MSG(a->grad == NULL, "detach must stop the gradient");
	TU_CHECK(b->grad != NULL);
	/* d/db sum(d @ b) = column sums of d, broadcast over b's columns. */
	TU_CHECK_NEAR(sup_tensor_grad_get(b, 0), sup_tensor_get(a, 0) + sup_tensor_get(a, 2), 1e-12);
	TU_CHECK(c.tape == NULL);
	sup_ctx_deinit(&c);
}

static void test_sticky_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 4);
	struct sup_rng r = sup_rng_make(4, 1);
	struct sup_tensor *a = tu_leaf(&c, &r, TU_SHAPE(2, 3), -1, 1), *b = tu_leaf(&c, &r, TU_SHAPE(4, 5), -1, 1);
	struct sup_tensor *y = sup_matmul(&c, a, b, false, false);
	TU_CHECK(y == NULL && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	TU_CHECK_MSG(strstr(sup_ctx_error(&c), "[2, 3]") && strstr(sup_ctx_error(&c), "[4, 5]"), "message: %s",
		     sup_ctx_error(&c));
	char first[512];
	snprintf(first, sizeof first, "%s", sup_ctx_error(&c));
	TU_CHECK(sup_matmul(&c, y, b, false, false) == NULL);
	TU_CHECK(sup_transpose(&c, a, 0, 7) == NULL);
	TU_CHECK_MSG(strcmp(first, sup_ctx_error(&c)) == 0, "the first error must stick");
	TU_CHECK(sup_backward(&c, y) == SUP_ERR_SHAPE);
	sup_ctx_reset(&c);
	TU_CHECK(sup_ctx_status(&c) == SUP_OK && sup_ctx_error(&c)[0] == '\0');
	/* A non-scalar output needs an explicit gradient. */
	a = tu_leaf(&c, &r, TU_SHAPE(2, 3), -1, 1);
	TU_CHECK(sup_backward(&c, sup_transpose(&c, a, 0, 1)) == SUP_ERR_SHAPE);
	sup_ctx_deinit(&c);
}

/* Backward frees the gradient of each intermediate once its producer has consumed it: a chain
 * of k ops needs about two gradient buffers at a time, not k. The leaf keeps its gradient,
 * intermediates (views included, whose buffer their input adopts) end with none. */
static void test_intermediate_grads_freed(void)
{
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 5);
	struct sup_rng r = sup_rng_make(5, 2);
	enum { N = 256, K = 8 };
	struct sup_tensor *x = tu_leaf(&c, &r, TU_SHAPE(N, N), -1, 1);
	struct sup_tensor *mid[2 * K], *h = x;
	for (int k = 0; k < K; k++) {
		h = mid[2 * k] = sup_mul_scalar(&c, h, 2.0);
		h = mid[2 * k + 1] = sup_reshape(&c, h, 2, (const int64_t[]){ N, N });
	}
	TU_CHECK(sup_backward(&c, sup_sum(&c, h, NULL, 0, false)) == SUP_OK);
	const size_t buf = (size_t)N * N * sup_dtype_size(x->dtype);
	TU_CHECK_MSG(c.grad_pool.high_water <= 3 * buf, "gradient pool high water %zu for buffers of %zu",
		     c.grad_pool.high_water, buf);
	TU_CHECK(c.grad_pool.used >= buf && c.grad_pool.used < 2 * buf); /* the leaf's */
	bool none = true;
	for (int k = 0; k < 2 * K; k++)
		none &= mid[k]->grad == NULL;
	TU_CHECK_MSG(none, "intermediate gradients must be freed");
	TU_CHECK(x->grad && sup_tensor_grad_get(x, 0) == 256.0 && sup_tensor_grad_get(x, N * N - 1) == 256.0);
	sup_ctx_deinit(&c);
}

struct counting {
	int allocs;
};
static void *count_alloc(void *u, size_t size, size_t align)
{
	((struct counting *)u)->allocs++;
	return sup_allocator_default().alloc(NULL, size, align);
}
static void count_free(void *u, void *p)
{
	(void)u;
	free(p);
}

/* After the first steps, a forward + backward step makes no allocator calls. */
static void test_steady_state_no_malloc(void)
{
	struct counting cnt = { 0 };
	struct sup_ctx c;
	sup_ctx_init(&c, (struct sup_allocator){ count_alloc, count_free, &cnt }, 5);
	float w[64 * 64];
	struct sup_rng r = sup_rng_make(5, 1);
	for (int i = 0; i < 64 * 64; i++)
		w[i] = sup_rng_uniform(&r) - 0.5f;
	struct sup_tensor W;
	sup_tensor_init(&W, SUP_F32, 2, (const int64_t[]){ 64, 64 }, w);
	W.requires_grad = true;
	int after_warmup = 0;
	for (int step = 0; step < 6; step++) {
		if (step == 3)
			after_warmup = cnt.allocs;
		W.grad = NULL;
		struct sup_tensor *x = sup_tensor_full(&c, SUP_F32, 2, (const int64_t[]){ 200, 64 }, 0.5);
		struct sup_tensor *h = x;
		for (int l = 0; l < 4; l++)
			h = sup_matmul(&c, h, &W, false, false);
		struct sup_tensor *g = sup_tensor_full(&c, SUP_F32, 2, (const int64_t[]){ 200, 64 }, 1.0);
		TU_CHECK(sup_backward_grad(&c, h, g->data) == SUP_OK);
		sup_ctx_reset(&c);
	}
	TU_CHECK_MSG(cnt.allocs == after_warmup, "steady-state steps allocated %d times", cnt.allocs - after_warmup);
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_gradcheck_catches_wrong_backward();
	test_fan_out_and_tying();
	test_no_grad_and_detach();
	test_sticky_errors();
	test_intermediate_grads_freed();
	test_steady_state_no_malloc();
	return tu_finish("autograd");
}
