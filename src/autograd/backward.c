/* Reverse walk over the tape. */
#include "selfsup/autograd.h"
#include "../ops/op_internal.h"

#include <string.h>

enum sup_status sup_backward_grad(struct sup_ctx *c, struct sup_tensor *out, const void *grad)
{
	if (c->err)
		return c->err;
	if (!out)
		return sup_ctx_fail(c, SUP_ERR_ARG, "backward: no output tensor");
	if (!out->requires_grad)
		return sup_ctx_fail(c, SUP_ERR_STATE, "backward: the output does not require grad "
						      "(no parameter reached it, or it was computed under no-grad)");
	double *g = sup_grad_buf(c, out);
	if (!g)
		return c->err;
	int64_t n = sup_tensor_numel(out);
	if (out->dtype == SUP_F32) {
		float *gf = (float *)g;
		for (int64_t i = 0; i < n; i++)
			gf[i] += ((const float *)grad)[i];
	} else {
		for (int64_t i = 0; i < n; i++)
			g[i] += ((const double *)grad)[i];
	}
	sup_no_grad_begin(c);
	/* Once a node's backward has run, its output's gradient is complete and consumed: free
	 * it, so that a step holds only the gradients alive at the same time (leaves keep
	 * theirs: parameters point into their model's block, other leaves are read by callers). */
	for (struct sup_node *node = c->tape; node && !c->err; node = node->prev)
		if (node->out->grad) {
			node->op->backward(c, node);
			sup_grad_release(c, node->out);
		}
	sup_no_grad_end(c);
	c->tape = NULL;
	c->tape_len = 0;
	return c->err;
}

enum sup_status sup_backward(struct sup_ctx *c, struct sup_tensor *out)
{
	if (c->err)
		return c->err;
	if (!out)
		return sup_ctx_fail(c, SUP_ERR_ARG, "backward: no output tensor");
	if (sup_tensor_numel(out) != 1) {
		char buf[128];
		return sup_ctx_fail(c, SUP_ERR_SHAPE, "backward: output must be a single element, got shape %s",
				    sup_shape_str(buf, sizeof buf, out->ndim, out->shape));
	}
	if (!sup_dtype_is_float(out->dtype))
		return sup_ctx_fail(c, SUP_ERR_DTYPE, "backward: output dtype %s is not float",
				    sup_dtype_name(out->dtype));
	const float one_f = 1.0f;
	const double one_d = 1.0;
	return sup_backward_grad(c, out, out->dtype == SUP_F32 ? (const void *)&one_f : (const void *)&one_d);
}
