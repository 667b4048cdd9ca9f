#include "testutil.h"

#include <math.h>

struct tu_state *tu_state(void)
{
	/* The one piece of mutable static state in the project: the test counters of this program. */
	static struct tu_state s;
	return &s;
}

int tu_finish(const char *suite)
{
	struct tu_state *s = tu_state();
	printf("%s: %d checks, %d failures\n", suite, s->checks, s->failures);
	return s->failures ? 1 : (s->checks ? 0 : 1);
}

void tu_ctx(struct sup_ctx *c, uint64_t seed)
{
	sup_ctx_init(c, sup_allocator_default(), seed);
}

struct sup_tensor *tu_rand(struct sup_ctx *c, struct sup_rng *r, enum sup_dtype dt, int ndim,
			   const int64_t *shape, double lo, double hi)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	if (t)
		sup_tensor_fill_uniform(t, r, lo, hi);
	return t;
}

struct sup_tensor *tu_leaf(struct sup_ctx *c, struct sup_rng *r, int ndim, const int64_t *shape, double lo,
			   double hi)
{
	struct sup_tensor *t = tu_rand(c, r, SUP_F64, ndim, shape, lo, hi);
	if (t)
		t->requires_grad = true;
	return t;
}

struct sup_tensor *tu_index(struct sup_ctx *c, struct sup_rng *r, int ndim, const int64_t *shape, int64_t n)
{
	struct sup_tensor *t = sup_tensor_new(c, SUP_I64, ndim, shape);
	if (!t)
		return NULL;
	int64_t k = sup_tensor_numel(t);
	for (int64_t i = 0; i < k; i++)
		((int64_t *)t->data)[i] = (int64_t)sup_rng_below(r, (uint64_t)n);
	return t;
}

double tu_max_abs_diff(const struct sup_tensor *a, const struct sup_tensor *b)
{
	if (!a || !b || !sup_tensor_same_shape(a, b))
		return INFINITY;
	double m = 0;
	int64_t n = sup_tensor_numel(a);
	for (int64_t i = 0; i < n; i++) {
		double d = fabs(sup_tensor_get(a, i) - sup_tensor_get(b, i));
		if (!(d <= m))
			m = isnan(d) ? INFINITY : d;
	}
	return m;
}
