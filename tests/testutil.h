/* Minimal test harness: checks count failures, main returns non-zero when any failed. */
#ifndef SELFSUP_TESTUTIL_H
#define SELFSUP_TESTUTIL_H

#include "selfsup/autograd.h"
#include "selfsup/ops.h"

#include <math.h>
#include <stdio.h>

struct tu_state {
	int checks, failures;
};

/* The harness's counters; tests are single-threaded programs. */
struct tu_state *tu_state(void);

#define TU_CHECK(cond)                                                                      \
	do {                                                                                \
		tu_state()->checks++;                                                       \
		if (!(cond)) {                                                              \
			tu_state()->failures++;                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                           \
	} while (0)

#define TU_CHECK_MSG(cond, ...)                                                  \
	do {                                                                     \
		tu_state()->checks++;                                            \
		if (!(cond)) {                                                   \
			tu_state()->failures++;                                  \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
		}                                                                \
	} while (0)

#define TU_CHECK_NEAR(a, b, tol)                                                                    \
	do {                                                                                        \
		double tu_a_ = (a), tu_b_ = (b);                                                    \
		TU_CHECK_MSG(fabs(tu_a_ - tu_b_) <= (tol), "%s = %.10g, %s = %.10g", #a, tu_a_, #b, tu_b_); \
	} while (0)

/* Prints a summary; returns the process exit status. */
int tu_finish(const char *suite);

/* A fresh context (default allocator) for a test. */
void tu_ctx(struct sup_ctx *c, uint64_t seed);

/* Random tensors in the context's arena. tu_leaf: f64, uniform in [lo, hi), requires grad. */
struct sup_tensor *tu_rand(struct sup_ctx *c, struct sup_rng *r, enum sup_dtype dt, int ndim,
			   const int64_t *shape, double lo, double hi);
struct sup_tensor *tu_leaf(struct sup_ctx *c, struct sup_rng *r, int ndim, const int64_t *shape, double lo,
			   double hi);
/* An index tensor (i64) of the given shape with values uniform in [0, n). */
struct sup_tensor *tu_index(struct sup_ctx *c, struct sup_rng *r, int ndim, const int64_t *shape, int64_t n);
/* Max |a - b| over elements (shapes must match); INFINITY when they do not. */
double tu_max_abs_diff(const struct sup_tensor *a, const struct sup_tensor *b);

/* Writes dir/name as an IDX file: n random hw x hw byte images (stream seed), or n labels
 * 0, 1, 0, ... (n < 65536). A failure to create it is a test failure. */
void tu_write_idx(const char *dir, const char *name, int64_t n, int hw, bool images, uint64_t seed);
/* Runs `cd dir && OMP_NUM_THREADS=1 bin args` through the shell, stdout dropped, stderr appended
 * to dir/err.txt; returns the exit status (-1 when it did not exit). */
int tu_sh(const char *dir, const char *bin, const char *args);

#define TU_SHAPE(...) (sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)), ((const int64_t[]){ __VA_ARGS__ })

#endif
