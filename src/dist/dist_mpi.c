/* The dist layer over MPI: struct sup_comm hooks on a duplicate of MPI_COMM_WORLD.
 *
 * Collectives are the non-blocking MPI-3 ones (MPI_Iallreduce, MPI_Iallgather, MPI_Ibcast)
 * completed by polling MPI_Test against a deadline, so that a peer that hangs (or a transport
 * that never reports its death) turns into SUP_ERR_COMM with a message after the timeout instead
 * of a process blocked forever. The poll yields the core between tests for the first 50 ms (a
 * collective only advances inside MPI calls, so a large one needs many tests), then sleeps
 * between them: ranks are often oversubscribed on CPU cores (two ranks x OpenMP threads), and a
 * busy-waiting rank would take the core its peer needs to finish the work it is waiting for. The communicator returns errors
 * (MPI_ERRORS_RETURN) instead of aborting inside MPI, so that the message says which collective
 * failed; the caller then ends the job with sup_dist_abort. */
#define _POSIX_C_SOURCE 200809L

#include "selfsup/dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

struct sup_dist {
	struct sup_comm comm;
	MPI_Comm world;	  /* duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN */
	bool initialised; /* this object called MPI_Init (and so calls MPI_Finalize) */
	double timeout;	  /* seconds; <= 0: none */
	char err[256];
};

bool sup_dist_built_with_mpi(void)
{
	return true;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static enum sup_status mpi_fail(struct sup_dist *d, const char *what, int rc)
{
	char msg[MPI_MAX_ERROR_STRING] = "";
	int len = 0;
	MPI_Error_string(rc, msg, &len);
	snprintf(d->err, sizeof d->err, "rank %d: %s failed: %s", d->comm.rank, what, msg);
	return SUP_ERR_COMM;
}

/* Completes req, or fails once the deadline passes (the request is then abandoned: the group is
 * unusable and the job is about to be aborted). */
static enum sup_status wait_req_for(struct sup_dist *d, MPI_Request *req, const char *what, double timeout)
{
	const double t0 = now_s();
	for (;;) {
		int done = 0;
		int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
		if (rc != MPI_SUCCESS)
			return mpi_fail(d, what, rc);
		if (done)
			return SUP_OK;
		/* A non-blocking collective advances only inside MPI calls (no progress thread), so the
		 * first stretch of waiting polls without sleeping: a 46 MB gradient allreduce (W2) needs
		 * thousands of tests, and a sleep between them made it 8x slower. sched_yield still hands
		 * the core to a peer sharing it. After that stretch the wait is for a slow or dead peer:
		 * sleep between tests so that the waiting process stops taking a core. */
		const double waited = now_s() - t0;
		if (waited < 0.05) {
			sched_yield();
			continue;
		}
		if (timeout > 0 && waited > timeout) {
			snprintf(d->err, sizeof d->err,
				 "rank %d: %s: no answer from the other %d processes after %.0f s (a process died or "
				 "hangs; dist.timeout sets the limit)",
				 d->comm.rank, what, d->comm.size - 1, timeout);
			return SUP_ERR_COMM;
		}
		struct timespec ts = {0, 200000}; /* 200 us: short against a training step */
		nanosleep(&ts, NULL);
	}
}

static enum sup_status wait_req(struct sup_dist *d, MPI_Request *req, const char *what)
{
	return wait_req_for(d, req, what, d->timeout);
}

static enum sup_status allreduce(struct sup_dist *d, void *buf, int64_t n, MPI_Datatype t, const char *what)
{
	/* MPI counts are int: large buffers go in pieces (each one collective, in order). */
	const size_t es = t == MPI_DOUBLE ? sizeof(double) : sizeof(float);
	for (int64_t at = 0; at < n;) {
		const int cnt = n - at > INT_MAX / 2 ? INT_MAX / 2 : (int)(n - at);
		MPI_Request req;
		int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + (size_t)at * es, cnt, t, MPI_SUM, d->world, &req);
		if (rc != MPI_SUCCESS)
			return mpi_fail(d, what, rc);
		enum sup_status st = wait_req(d, &req, what);
		if (st != SUP_OK)
			return st;
		at += cnt;
	}
	return SUP_OK;
}

static enum sup_status hook_allreduce_f32(void *user, float *buf, int64_t n)
{
	return allreduce(user, buf, n, MPI_FLOAT, "allreduce (f32)");
}

static enum sup_status hook_allreduce_f64(void *user, double *buf, int64_t n)
{
	return allreduce(user, buf, n, MPI_DOUBLE, "allreduce (f64)");
}

static enum sup_status hook_allgather(void *user, const void *send, void *recv, size_t bytes)
{
	struct sup_dist *d = user;
	if (bytes > (size_t)INT_MAX) {
		snprintf(d->err, sizeof d->err, "rank %d: allgather of %zu bytes per process is over MPI's int count",
			 d->comm.rank, bytes);
		return SUP_ERR_COMM;
	}
	MPI_Request req;
	int rc = MPI_Iallgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, d->world, &req);
	if (rc != MPI_SUCCESS)
		return mpi_fail(d, "allgather", rc);
	return wait_req(d, &req, "allgather");
}

static enum sup_status hook_broadcast(void *user, void *buf, size_t bytes, int root)
{
	struct sup_dist *d = user;
	for (size_t at = 0; at < bytes;) {
		const int cnt = bytes - at > (size_t)INT_MAX ? INT_MAX : (int)(bytes - at);
		MPI_Request req;
		int rc = MPI_Ibcast((char *)buf + at, cnt, MPI_BYTE, root, d->world, &req);
		if (rc != MPI_SUCCESS)
			return mpi_fail(d, "broadcast", rc);
		enum sup_status st = wait_req(d, &req, "broadcast");
		if (st != SUP_OK)
			return st;
		at += (size_t)cnt;
	}
	return SUP_OK;
}

enum sup_status sup_dist_open(struct sup_dist **out, int *argc, char ***argv, char *err, size_t err_size)
{
	*out = NULL;
	struct sup_dist *d = calloc(1, sizeof *d);
	if (!d)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory");
	d->timeout = 600;
	d->world = MPI_COMM_NULL;
	d->comm = (struct sup_comm){.rank = 0, .size = 1, .user = d};
	if (sup_dist_launched_size() <= 1) {
		/* Not started by a launcher: a group of one, without initialising MPI (an MPI singleton
		 * start costs time and may try to reach a runtime that is not there). */
		*out = d;
		return SUP_OK;
	}
	int provided = 0;
	/* FUNNELED: OpenMP threads compute, only the main thread calls MPI. */
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		free(d);
		return sup_errf(err, err_size, SUP_ERR_COMM, "MPI_Init_thread failed");
	}
	d->initialised = true;
	if (provided < MPI_THREAD_FUNNELED) {
		sup_dist_close(d);
		return sup_errf(err, err_size, SUP_ERR_COMM,
				"the MPI library gives thread level %d, selfsup needs MPI_THREAD_FUNNELED (%d)", provided,
				MPI_THREAD_FUNNELED);
	}
	if (MPI_Comm_dup(MPI_COMM_WORLD, &d->world) != MPI_SUCCESS ||
	    MPI_Comm_set_errhandler(d->world, MPI_ERRORS_RETURN) != MPI_SUCCESS ||
	    MPI_Comm_rank(d->world, &d->comm.rank) != MPI_SUCCESS || MPI_Comm_size(d->world, &d->comm.size) != MPI_SUCCESS) {
		sup_dist_close(d);
		return sup_errf(err, err_size, SUP_ERR_COMM, "cannot set up MPI_COMM_WORLD");
	}
	d->comm.allreduce_f32 = hook_allreduce_f32;
	d->comm.allreduce_f64 = hook_allreduce_f64;
	d->comm.allgather = hook_allgather;
	d->comm.broadcast = hook_broadcast;
	*out = d;
	return SUP_OK;
}

void sup_dist_close(struct sup_dist *d)
{
	if (!d)
		return;
	if (d->initialised) {
		if (d->world != MPI_COMM_NULL)
			MPI_Comm_free(&d->world);
		MPI_Finalize();
	}
	free(d);
}

const struct sup_comm *sup_dist_comm(const struct sup_dist *d)
{
	return &d->comm;
}

void sup_dist_set_timeout(struct sup_dist *d, double seconds)
{
	d->timeout = seconds;
}

enum sup_status sup_dist_barrier(struct sup_dist *d, double timeout)
{
	if (!d->initialised || d->comm.size <= 1)
		return SUP_OK;
	MPI_Request req;
	int rc = MPI_Ibarrier(d->world, &req);
	if (rc != MPI_SUCCESS)
		return mpi_fail(d, "barrier", rc);
	return wait_req_for(d, &req, "barrier", timeout);
}

const char *sup_dist_error(const struct sup_dist *d)
{
	return d->err;
}

void sup_dist_abort(struct sup_dist *d, int code)
{
	if (d && d->initialised && d->comm.size > 1)
		MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}
