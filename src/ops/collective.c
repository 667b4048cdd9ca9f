/* Collective ops over the context's communicator (c->comm): all_gather with the backward that
 * makes losses over gathered rows differentiate like the same loss on one process. */
#include "op_internal.h"

#include <string.h>

/* in: a; out: [K n, ...]; iarg[0] = K, iarg[1] = this process's rank (at forward time). */
static void all_gather_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0];
	void *dx = sup_grad_buf(c, a);
	if (!dx)
		return;
	const int64_t K = n->iarg[0], rank = n->iarg[1], numel = sup_tensor_numel(a);
	const size_t es = sup_dtype_size(a->dtype);
	/* Sum over the group of every process's gradient of the gathered tensor; each process keeps
	 * its own rows. The reduction runs on a copy: n->out->grad may be read by nothing else, but
	 * the tape does not promise that. */
	void *g = sup_ctx_alloc(c, (size_t)(K * numel) * es);
	if (!g)
		return;
	memcpy(g, n->out->grad, (size_t)(K * numel) * es);
	enum sup_status st = a->dtype == SUP_F64 ? sup_comm_allreduce_f64(c->comm, g, K * numel)
						  : sup_comm_allreduce_f32(c->comm, g, K * numel);
	if (st != SUP_OK) {
		sup_ctx_fail(c, st, "all_gather: backward: the allreduce over %lld processes failed", (long long)K);
		return;
	}
	if (a->dtype == SUP_F64) {
		const double *s = (const double *)g + rank * numel;
		for (int64_t i = 0; i < numel; i++)
			((double *)dx)[i] += s[i];
	} else {
		const float *s = (const float *)g + rank * numel;
		for (int64_t i = 0; i < numel; i++)
			((float *)dx)[i] += s[i];
	}
}

const struct sup_op_def sup_opdef_all_gather = { "all_gather", all_gather_backward };

sup_t *sup_all_gather(struct sup_ctx *c, sup_t *a)
{
	if (!sup_op_inputs_ok(c, 1, &a) || !sup_check_float(c, "all_gather", 1, &a))
		return NULL;
	if (a->ndim < 1)
		return sup_op_fail_shape(c, "all_gather", a, NULL, "input needs an axis 0 to concatenate along");
	a = sup_contiguous(c, a);
	if (!a)
		return NULL;
	const int K = sup_comm_size(c->comm);
	int64_t shape[SUP_MAX_DIMS];
	memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
	shape[0] *= K;
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, shape);
	if (!out)
		return NULL;
	/* Shapes must agree across the group: gather every process's axis-0 size first, so that a
	 * mismatch is an error on every process instead of a truncated or overrun receive. */
	if (K > 1) {
		int64_t mine = a->shape[0], *all = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)K);
		if (!all)
			return NULL;
		if (sup_comm_allgather(c->comm, &mine, all, sizeof mine) != SUP_OK) {
			sup_ctx_fail(c, SUP_ERR_COMM, "all_gather: the collective over %d processes failed", K);
			return NULL;
		}
		for (int r = 0; r < K; r++)
			if (all[r] != mine) {
				sup_ctx_fail(c, SUP_ERR_SHAPE, "all_gather: process %d has %lld rows, process %d has %lld",
					     r, (long long)all[r], sup_comm_rank(c->comm), (long long)mine);
				return NULL;
			}
	}
	const size_t bytes = (size_t)sup_tensor_numel(a) * sup_dtype_size(a->dtype);
	if (sup_comm_allgather(c->comm, a->data, out->data, bytes) != SUP_OK) {
		sup_ctx_fail(c, SUP_ERR_COMM, "all_gather: the collective over %d processes failed", K);
		return NULL;
	}
	struct sup_node *n = sup_record(c, &sup_opdef_all_gather, out, 1, &a);
	if (n) {
		n->iarg[0] = K;
		n->iarg[1] = sup_comm_rank(c->comm);
	}
	return out;
}
