/* The single-process side of struct sup_comm (base.h): NULL or size-1 communicators make every
 * collective the identity, so code written for a group runs unchanged in one process. */
#include "selfsup/base.h"

#include <string.h>

static bool comm_single(const struct sup_comm *c)
{
	return !c || c->size <= 1;
}

int sup_comm_size(const struct sup_comm *c)
{
	return comm_single(c) ? 1 : c->size;
}

int sup_comm_rank(const struct sup_comm *c)
{
	return comm_single(c) ? 0 : c->rank;
}

enum sup_status sup_comm_allreduce_f32(const struct sup_comm *c, float *buf, int64_t n)
{
	return comm_single(c) || n <= 0 ? SUP_OK : c->allreduce_f32(c->user, buf, n);
}

enum sup_status sup_comm_allreduce_f64(const struct sup_comm *c, double *buf, int64_t n)
{
	return comm_single(c) || n <= 0 ? SUP_OK : c->allreduce_f64(c->user, buf, n);
}

enum sup_status sup_comm_allgather(const struct sup_comm *c, const void *send, void *recv, size_t bytes)
{
	if (comm_single(c)) {
		if (bytes && recv != send)
			memmove(recv, send, bytes);
		return SUP_OK;
	}
	return c->allgather(c->user, send, recv, bytes);
}

enum sup_status sup_comm_broadcast(const struct sup_comm *c, void *buf, size_t bytes, int root)
{
	return comm_single(c) ? SUP_OK : c->broadcast(c->user, buf, bytes, root);
}
