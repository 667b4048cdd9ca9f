/* A struct sup_comm over K threads of one process, for testing the data-parallel semantics
 * (dist.h's contract) without MPI. Collectives meet at a barrier; reductions add the ranks'
 * buffers in rank order, so every rank gets bitwise the same sums, as MPI promises for one
 * reduction. Test-only: a failed allocation aborts the test program (the other ranks are waiting
 * at the barrier, so returning an error would hang them). */
#ifndef SELFSUP_TESTS_THREADCOMM_H
#define SELFSUP_TESTS_THREADCOMM_H

#include "selfsup/base.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TC_MAX_RANKS 4

struct tc_group {
	pthread_barrier_t bar;
	int size;
	const void *slot[TC_MAX_RANKS];
};

struct tc_rank {
	struct tc_group *g;
	struct sup_comm comm;
};

static enum sup_status tc_allreduce_f64(void *user, double *buf, int64_t n)
{
	struct tc_rank *r = user;
	double *tmp = calloc((size_t)n, sizeof *tmp);
	if (!tmp)
		abort();
	r->g->slot[r->comm.rank] = buf;
	pthread_barrier_wait(&r->g->bar);
	for (int k = 0; k < r->g->size; k++)
		for (int64_t i = 0; i < n; i++)
			tmp[i] += ((const double *)r->g->slot[k])[i];
	pthread_barrier_wait(&r->g->bar);
	memcpy(buf, tmp, sizeof(double) * (size_t)n);
	free(tmp);
	return SUP_OK;
}

static enum sup_status tc_allreduce_f32(void *user, float *buf, int64_t n)
{
	struct tc_rank *r = user;
	float *tmp = calloc((size_t)n, sizeof *tmp);
	if (!tmp)
		abort();
	r->g->slot[r->comm.rank] = buf;
	pthread_barrier_wait(&r->g->bar);
	for (int k = 0; k < r->g->size; k++)
		for (int64_t i = 0; i < n; i++)
			tmp[i] += ((const float *)r->g->slot[k])[i];
	pthread_barrier_wait(&r->g->bar);
	memcpy(buf, tmp, sizeof(float) * (size_t)n);
	free(tmp);
	return SUP_OK;
}

static enum sup_status tc_allgather(void *user, const void *send, void *recv, size_t bytes)
{
	struct tc_rank *r = user;
	r->g->slot[r->comm.rank] = send;
	pthread_barrier_wait(&r->g->bar);
	for (int k = 0; k < r->g->size; k++)
		memcpy((char *)recv + (size_t)k * bytes, r->g->slot[k], bytes);
	pthread_barrier_wait(&r->g->bar);
	return SUP_OK;
}

static enum sup_status tc_broadcast(void *user, void *buf, size_t bytes, int root)
{
	struct tc_rank *r = user;
	if (r->comm.rank == root)
		r->g->slot[root] = buf;
	pthread_barrier_wait(&r->g->bar);
	if (r->comm.rank != root)
		memcpy(buf, r->g->slot[root], bytes);
	pthread_barrier_wait(&r->g->bar);
	return SUP_OK;
}

static void tc_init(struct tc_group *g, struct tc_rank *ranks, int size)
{
	g->size = size;
	pthread_barrier_init(&g->bar, NULL, (unsigned)size);
	for (int k = 0; k < size; k++)
		ranks[k] = (struct tc_rank){g,
					    {.rank = k,
					     .size = size,
					     .user = &ranks[k],
					     .allreduce_f32 = tc_allreduce_f32,
					     .allreduce_f64 = tc_allreduce_f64,
					     .allgather = tc_allgather,
					     .broadcast = tc_broadcast}};
}

static void tc_deinit(struct tc_group *g)
{
	pthread_barrier_destroy(&g->bar);
}

#endif
