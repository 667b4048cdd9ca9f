/* A gradcheck case: builds its inputs (f64 leaves that require grad, plus any index or constant
 * inputs) and the function of them to check. Each file in tests/ops/gradcases/ defines one
 * NULL-terminated array `gradcases_<group>`; test_gradcheck.c runs them all and fails for any
 * op of the table that no case covers. */
#ifndef SELFSUP_GRADCASE_H
#define SELFSUP_GRADCASE_H

#include "testutil.h"

struct gradcase {
	const char *op;   /* the op table name this case covers */
	const char *name; /* what the case exercises */
	/* Creates the inputs in the arena; returns how many (<= 8). */
	int (*setup)(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in);
	sup_gradcheck_fn fn;
	double atol, rtol; /* 0 = gradcheck defaults */
};

#define GRADCASE_GROUPS(X) X(elementwise) X(reduce) X(linalg) X(shape) X(norm) X(conv) X(loss) X(sparse)

#define GRADCASE_DECLARE(g) extern const struct gradcase gradcases_##g[] __attribute__((weak));
GRADCASE_GROUPS(GRADCASE_DECLARE)
#undef GRADCASE_DECLARE

#endif
