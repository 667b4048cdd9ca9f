/* Helpers for the module tests: running a built model's modules in f64 and gradchecking them.
 *
 * How modules are gradchecked: model parameters are f32, and f32 central differences are too noisy
 * for tight tolerances. Modules reach their parameters only through sup_model_tensor(), which
 * returns &m->entries[i].t; nntest_model_to_f64() turns each of those parameter tensors into a
 * contiguous f64 leaf (values copied into storage the test owns). Every op then runs in f64 on
 * the reference kernels, and the very same tensor structs are valid sup_gradcheck inputs: gradcheck
 * perturbs their data in place and reads the gradients backward accumulated into them. Such a
 * model is only for gradchecking: do not build optimizers on it or zero its (f32) grad block. */
#ifndef SELFSUP_TESTS_NNTEST_H
#define SELFSUP_TESTS_NNTEST_H

#include "testutil.h"
#include "selfsup/nn.h"

#include <stdlib.h>
#include <string.h>

/* Returns the f64 storage to free() after the test (NULL on failure). */
static inline double *nntest_model_to_f64(struct sup_model *m)
{
	int64_t total = 0;
	for (int i = 0; i < m->n_entries; i++)
		if (m->entries[i].kind == SUP_KIND_PARAM)
			total += sup_tensor_numel(&m->entries[i].t);
	double *store = malloc(sizeof(double) * (size_t)(total + 1)), *p = store;
	if (!store)
		return NULL;
	for (int i = 0; i < m->n_entries; i++) {
		struct sup_tensor *t = &m->entries[i].t;
		if (m->entries[i].kind != SUP_KIND_PARAM)
			continue;
		int64_t n = sup_tensor_numel(t);
		for (int64_t j = 0; j < n; j++)
			p[j] = ((const float *)t->data)[j];
		int64_t shape[SUP_MAX_DIMS]; /* sup_tensor_init clears t first */
		memcpy(shape, t->shape, sizeof shape);
		sup_tensor_init(t, SUP_F64, t->ndim, shape, p);
		t->requires_grad = true;
		p += n;
	}
	return store;
}

/* Context for nntest_gradcheck: the function reads its inputs from `user`, not from the inputs
 * array, because the checked tensors are split over several sup_gradcheck calls (at most 16
 * inputs each). */
struct nntest_check {
	struct sup_tensor *xs[16]; /* inputs the test perturbs besides the parameters */
	int n_xs;
};

/* Gradchecks fn with respect to xs and every parameter of m (already f64). Returns true when all
 * elements agree; prints the worst element otherwise. */
static inline bool nntest_gradcheck(struct sup_ctx *c, struct sup_model *m, sup_gradcheck_fn fn, void *user,
				    struct sup_tensor *const *xs, int n_xs, const char *what)
{
	struct sup_tensor *all[256];
	int n = 0;
	for (int i = 0; i < n_xs; i++)
		all[n++] = xs[i];
	for (int i = 0; i < m->n_entries && n < 256; i++)
		if (m->entries[i].kind == SUP_KIND_PARAM)
			all[n++] = &m->entries[i].t;
	bool ok = true;
	int64_t checked = 0;
	for (int s = 0; s < n; s += 16) {
		int k = n - s < 16 ? n - s : 16;
		struct sup_gradcheck_report rep;
		struct sup_gradcheck_opts o = { .eps = 1e-6, .atol = 1e-7, .rtol = 1e-5 };
		enum sup_status st = sup_gradcheck(c, fn, user, all + s, k, &o, &rep);
		checked += rep.checked;
		if (st || !rep.ok) {
			const char *name = rep.worst_input + s < n_xs ? "input" : "parameter";
			fprintf(stderr, "%s: gradcheck failed (%s) at %s %d [%lld]: analytic %.9g numeric %.9g (%s)\n", what,
				st ? sup_ctx_error(c) : "mismatch", name, rep.worst_input + s, (long long)rep.worst_index,
				rep.worst_analytic, rep.worst_numeric, rep.skipped ? "some kinks skipped" : "");
			ok = false;
			sup_ctx_clear_error(c);
		}
	}
	TU_CHECK_MSG(ok && checked > 0, "%s: %lld elements checked", what, (long long)checked);
	return ok;
}

#endif
