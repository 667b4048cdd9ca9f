/* Launcher detection, shared by the MPI and the one-process builds of the dist layer. */
#include "selfsup/dist.h"

#include <stdlib.h>

int sup_dist_launched_size(void)
{
	/* OpenMPI sets OMPI_COMM_WORLD_SIZE; MPICH's hydra and Slurm's PMI set PMI_SIZE. */
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v) {
			long n = strtol(v, NULL, 10);
			if (n >= 1 && n < (1L << 20))
				return (int)n;
		}
	}
	return 1;
}
