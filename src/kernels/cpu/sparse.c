/* Fast f32 CSR x dense: output rows in parallel, each row an axpy over its entries in storage
 * order (vectorised over D), so results do not depend on the thread count. */
#include "kernels/sparse.h"

#include <string.h>

#define GRAIN 32768 /* multiply-adds below which the kernel stays single-threaded */

SUP_SPMM_DECL(cpu, f32, float)
{
	if (R == 0 || D == 0)
		return;
	const int64_t work = (indptr[R] + R) * D;
	/* dynamic: row lengths of graph adjacency matrices are skewed (power-law degrees); chunks
	 * only change which thread computes a row, never the order of its sum. */
#pragma omp parallel for schedule(dynamic, 64) if (work >= GRAIN)
	for (int64_t r = 0; r < R; r++) {
		float *o = out + r * D;
		if (!accumulate)
			memset(o, 0, sizeof(float) * (size_t)D);
		for (int64_t k = indptr[r]; k < indptr[r + 1]; k++) {
			const float v = values[k];
			const float *xr = x + (int64_t)indices[k] * D;
#pragma omp simd
			for (int64_t d = 0; d < D; d++)
				o[d] += v * xr[d];
		}
	}
}
