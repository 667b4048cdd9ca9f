/* The dist layer of a build without MPI: a group of one process. */
#include "selfsup/dist.h"

#include <stdio.h>
#include <stdlib.h>

struct sup_dist {
	struct sup_comm comm;
};

bool sup_dist_built_with_mpi(void)
{
	return false;
}

enum sup_status sup_dist_open(struct sup_dist **out, int *argc, char ***argv, char *err, size_t err_size)
{
	(void)argc;
	(void)argv;
	*out = NULL;
	const int n = sup_dist_launched_size();
	if (n > 1)
		return sup_errf(err, err_size, SUP_ERR_STATE,
				"started by an MPI launcher, but this selfsup was built without MPI "
				"(install libopenmpi-dev and rebuild with -DSELFSUP_MPI=ON)");
	struct sup_dist *d = calloc(1, sizeof *d);
	if (!d)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory");
	d->comm = (struct sup_comm){.rank = 0, .size = 1};
	*out = d;
	return SUP_OK;
}

void sup_dist_close(struct sup_dist *d)
{
	free(d);
}

const struct sup_comm *sup_dist_comm(const struct sup_dist *d)
{
	return &d->comm;
}

void sup_dist_set_timeout(struct sup_dist *d, double seconds)
{
	(void)d;
	(void)seconds;
}

enum sup_status sup_dist_barrier(struct sup_dist *d, double timeout)
{
	(void)d;
	(void)timeout;
	return SUP_OK;
}

const char *sup_dist_error(const struct sup_dist *d)
{
	(void)d;
	return "";
}

void sup_dist_abort(struct sup_dist *d, int code)
{
	(void)d;
	(void)code;
}
