/* Reference CSR kernels: the definition as plain loops (f32, f64), and the CSR transpose shared
 * by every backend. See kernels/sparse.h. */
#include "kernels/sparse.h"

#include <string.h>

#define SPMM(SFX, T)                                                                      \
	SUP_SPMM_DECL(ref, SFX, T)                                                        \
	{                                                                                 \
		for (int64_t r = 0; r < R; r++)                                           \
			for (int64_t d = 0; d < D; d++) {                                 \
				T acc = 0;                                                \
				for (int64_t k = indptr[r]; k < indptr[r + 1]; k++)       \
					acc += values[k] * x[(int64_t)indices[k] * D + d]; \
				out[r * D + d] = accumulate ? out[r * D + d] + acc : acc; \
			}                                                                 \
	}

SPMM(f32, float)
SPMM(f64, double)

void sup_csr_transpose(int64_t *t_indptr, int32_t *t_indices, void *t_values, int64_t *cursor,
		       const int64_t *indptr, const int32_t *indices, const void *values, int64_t rows,
		       int64_t cols, size_t elsize)
{
	const int64_t nnz = indptr[rows];
	/* Count entries per column, prefix-sum into row starts of A^T. */
	memset(t_indptr, 0, sizeof(int64_t) * (size_t)(cols + 1));
	for (int64_t k = 0; k < nnz; k++)
		t_indptr[indices[k] + 1]++;
	for (int64_t j = 0; j < cols; j++)
		t_indptr[j + 1] += t_indptr[j];
	memcpy(cursor, t_indptr, sizeof(int64_t) * (size_t)cols);
	/* Scatter in A's row order: stable, so each row of A^T lists A's rows ascending. */
	for (int64_t r = 0; r < rows; r++)
		for (int64_t k = indptr[r]; k < indptr[r + 1]; k++) {
			const int64_t dst = cursor[indices[k]]++;
			t_indices[dst] = (int32_t)r;
			memcpy((char *)t_values + (size_t)dst * elsize, (const char *)values + (size_t)k * elsize,
			       elsize);
		}
}
