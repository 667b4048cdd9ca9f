/* Gradchecking whole modules although model parameters are f32.
 *
 * Of the two ways the project allows (an f64 copy, or a loose-tolerance f32 directional
 * derivative) we take the f64 one, without duplicating any module code: a built model's tensor
 * views are retyped in place to f64 copies owned by the test (same shapes and strides), so the
 * module's own forward, which reaches its tensors through sup_model_tensor(), runs in f64 and
 * sup_gradcheck() can perturb every parameter element by element with tight tolerances.
 * f64model_end() restores the f32 views before the model is used or freed again. */
#ifndef SELFSUP_TESTS_F64MODEL_H
#define SELFSUP_TESTS_F64MODEL_H

#include "selfsup/nn.h"

#include <stdlib.h>

#define F64MODEL_MAX 32

struct f64model {
	struct sup_model *m;
	struct sup_tensor saved[F64MODEL_MAX];
	double *store[F64MODEL_MAX];
	int n;
};

static inline void f64model_begin(struct f64model *f, struct sup_model *m)
{
	SUP_ASSERT(m->built && m->n_entries <= F64MODEL_MAX);
	f->m = m;
	f->n = m->n_entries;
	for (int i = 0; i < f->n; i++) {
		struct sup_tensor *t = &m->entries[i].t;
		int64_t n = sup_tensor_numel(t);
		f->saved[i] = *t;
		f->store[i] = malloc(sizeof(double) * (size_t)(n ? n : 1));
		SUP_ASSERT(f->store[i]);
		for (int64_t j = 0; j < n; j++)
			f->store[i][j] = sup_tensor_get(t, j);
		t->dtype = SUP_F64;
		t->data = f->store[i];
		t->grad = NULL;
	}
}

static inline void f64model_end(struct f64model *f)
{
	for (int i = 0; i < f->n; i++) {
		f->m->entries[i].t = f->saved[i];
		free(f->store[i]);
	}
}

/* The model's parameters (not buffers) in declaration order; returns how many. */
static inline int f64model_params(struct f64model *f, struct sup_tensor **out, int max)
{
	int k = 0;
	for (int i = 0; i < f->n && k < max; i++)
		if (f->m->entries[i].kind == SUP_KIND_PARAM)
			out[k++] = &f->m->entries[i].t;
	return k;
}

#endif
