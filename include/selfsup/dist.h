/* selfsup dist layer: the process group of data-parallel training (`mpirun -np K selfsup train`).
 *
 * MPI does the transport; the semantics SSL methods need (gradient averaging, gathered
 * negatives with their backward, synchronised and shuffled batch norm, queues of gathered keys)
 * live in the layers below, written against the communicator hooks of base.h (struct sup_comm),
 * so nothing below this layer depends on MPI. This layer makes a struct sup_comm out of
 * MPI_COMM_WORLD, or a one-process one when selfsup is built without MPI or started without a
 * launcher. docs/dist.md describes running across hosts and the equivalence guarantees.
 *
 * Failure model: every collective waits with a deadline (sup_dist_set_timeout). A collective
 * that fails or passes it returns SUP_ERR_COMM with a message (sup_dist_error); the caller then
 * ends the whole job with sup_dist_abort (MPI_Abort), so that no process is left waiting for a
 * peer that died or hung. A process killed outright is noticed by the launcher (mpirun), which
 * ends the others. */
#ifndef SELFSUP_DIST_H
#define SELFSUP_DIST_H

#include "selfsup/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sup_dist; /* opaque, heap */

/* True when selfsup was built with MPI (the SELFSUP_MPI build option and an MPI library). */
bool sup_dist_built_with_mpi(void);
/* The number of processes the launcher started, from its environment (OpenMPI's
 * OMPI_COMM_WORLD_SIZE, PMI's PMI_SIZE); 2 (meaning "several, ask MPI") when only a rank
 * variable is set (PMIX_RANK, PMI_RANK, OMPI_COMM_WORLD_RANK); 1 when not started by a launcher. */
int sup_dist_launched_size(void);

/* Joins the process group. Started by an MPI launcher and built with MPI: initialises MPI (every
 * process of the job must call this); otherwise a group of one. SUP_ERR_STATE with a message
 * when the launcher started several processes but selfsup was built without MPI (each process
 * would train alone and they would overwrite each other's run folder); SUP_ERR_COMM when MPI
 * fails to start. */
enum sup_status sup_dist_open(struct sup_dist **out, int *argc, char ***argv, char *err, size_t err_size);
/* Leaves the group (MPI_Finalize). NULL-safe. */
void sup_dist_close(struct sup_dist *d);
/* The group as communicator hooks, valid until close; never NULL for an open group. */
const struct sup_comm *sup_dist_comm(const struct sup_dist *d);
/* Seconds a collective may wait for the other processes before it fails with SUP_ERR_COMM
 * (<= 0: forever). Default 600. Every process should set the same value. */
void sup_dist_set_timeout(struct sup_dist *d, double seconds);
/* Waits until every process has called it, for at most timeout seconds (<= 0: without a
 * deadline; the dist.timeout of sup_dist_set_timeout does not apply). For waits whose length is
 * legitimately unbounded, such as the other processes waiting while rank 0 evaluates a seed of
 * `seeds=N eval=...` alone: a process that dies still ends the job (the launcher), one that fails
 * ends it with sup_dist_abort. SUP_ERR_COMM with a message when the collective fails or times
 * out; SUP_OK at once in a group of one. */
enum sup_status sup_dist_barrier(struct sup_dist *d, double timeout);
/* The message of the last failed collective ("" when none). */
const char *sup_dist_error(const struct sup_dist *d);
/* Ends every process of the job with exit status code (MPI_Abort); in a group of one, returns
 * without doing anything so that the caller's normal exit path runs. Only main() calls it. */
void sup_dist_abort(struct sup_dist *d, int code);

#ifdef __cplusplus
}
#endif
#endif
