/* selfsup autograd: reverse-mode differentiation over the context's tape, and gradcheck.
 *
 * Ops record themselves while grad mode is on (ops.h); backward walks the tape newest-first and
 * each op accumulates into its inputs' gradients, so fan-out and weight tying need no special
 * care. Leaves keep their gradients in t->grad (parameters in their model's gradient block,
 * other leaves until sup_ctx_reset() or sup_grad_release(); a persistent leaf used again after a
 * reset gets a fresh gradient); an intermediate's gradient is freed
 * as soon as its producer's backward has consumed it, so after backward its t->grad is NULL
 * (docs/autograd/README.md). */
#ifndef SELFSUP_AUTOGRAD_H
#define SELFSUP_AUTOGRAD_H

#include "selfsup/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* d loss / d everything on the tape. loss must hold one element and require grad. The tape is
 * consumed (a second backward needs a new forward). Returns the context's status. */
enum sup_status sup_backward(struct sup_ctx *c, struct sup_tensor *out);
/* Same with an explicit output gradient (contiguous, out's dtype and numel), as
 * torch.autograd.backward(out, grad). */
enum sup_status sup_backward_grad(struct sup_ctx *c, struct sup_tensor *out, const void *grad);

/* backward() frees each node's output gradient right after the node's backward, with
 * sup_grad_release() (ops.h): nothing reads or accumulates into that gradient later (only nodes
 * recorded after the producer consume its output, and the tape runs newest-first). */

/* ---- gradcheck ----------------------------------------------------------------------------- */

/* Builds the function under test from its inputs; must be deterministic given the context RNG
 * (gradcheck restores the RNG before every call). */
typedef struct sup_tensor *(*sup_gradcheck_fn)(struct sup_ctx *c, struct sup_tensor *const *inputs,
					       void *user);

struct sup_gradcheck_opts {
	double eps;  /* central-difference step; 0 means 1e-6 */
	double atol; /* 0 means 1e-6 */
	double rtol; /* 0 means 1e-4 */
	uint64_t seed; /* for the projection r */
};

struct sup_gradcheck_report {
	int64_t checked;   /* elements compared */
	int64_t skipped;   /* elements at a kink (left and right derivatives disagree) */
	double max_err;    /* max |analytic - numeric| - (atol + rtol |numeric|), <= 0 when all pass */
	int worst_input;
	int64_t worst_index;
	double worst_analytic, worst_numeric;
	bool ok;
};

/* Checks d/dx sum(r * f(x)) (r fixed, uniform in [-1, 1)) for every input that requires grad
 * against central differences. Inputs must be contiguous f64 leaves living in the context's
 * arena or elsewhere; the function's tensors are released after every evaluation. Returns
 * SUP_OK when the check could run (see report->ok for the verdict) or the error that stopped it. */
enum sup_status sup_gradcheck(struct sup_ctx *c, sup_gradcheck_fn fn, void *user, struct sup_tensor *const *inputs,
			      int n_inputs, const struct sup_gradcheck_opts *opts,
			      struct sup_gradcheck_report *report);

#ifdef __cplusplus
}
#endif
#endif
