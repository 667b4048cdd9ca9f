#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

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

void tu_write_idx(const char *dir, const char *name, int64_t n, int hw, bool images, uint64_t seed)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	TU_CHECK_MSG(f != NULL, "cannot create %s", path);
	if (!f)
		return;
	const unsigned char hdr_img[] = {0, 0, 8, 3, 0, 0, (unsigned char)(n >> 8), (unsigned char)n,
					 0, 0, 0, (unsigned char)hw, 0, 0, 0, (unsigned char)hw};
	const unsigned char hdr_lab[] = {0, 0, 8, 1, 0, 0, (unsigned char)(n >> 8), (unsigned char)n};
	fwrite(images ? hdr_img : hdr_lab, 1, images ? sizeof hdr_img : sizeof hdr_lab, f);
	struct sup_rng r = sup_rng_make(seed, 0);
	for (int64_t i = 0; i < n * (images ? (int64_t)hw * hw : 1); i++) {
		unsigned char v = images ? (unsigned char)(sup_rng_uniform(&r) * 255) : (unsigned char)(i % 2);
		fwrite(&v, 1, 1, f);
	}
	fclose(f);
}

int tu_sh(const char *dir, const char *bin, const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "cd '%s' && OMP_NUM_THREADS=1 '%s' %s >/dev/null 2>>'%s/err.txt'", dir, bin, args,
		 dir);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
