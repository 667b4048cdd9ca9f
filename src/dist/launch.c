/* Launcher detection, shared by the MPI and the one-process builds of the dist layer. */
#include "selfsup/dist.h"

#include <stdlib.h>

int sup_dist_launched_size(void)
{
	/* OpenMPI sets OMPI_COMM_WORLD_SIZE; MPICH's hydra and Slurm's PMI set PMI_SIZE. */
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v) {
			long n = strtol(v, NULL, 10);
			if (n >= 1 && n < (1L << 20))
				return (int)n;
		}
	}
	/* A launcher that only says "you are rank r" (PMIx under Slurm: PMIX_RANK): the size is
	 * unknown here, so report "more than one" and let MPI_Init tell the truth. Treating such a
	 * start as a group of one would run K separate trainings into one run folder. */
	static const char *const rank_vars[] = {"PMIX_RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"};
	for (size_t i = 0; i < sizeof rank_vars / sizeof rank_vars[0]; i++) {
		const char *v = getenv(rank_vars[i]);
		if (v && *v)
			return 2;
	}
	return 1;
}
