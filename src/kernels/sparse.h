/* Sparse (CSR) x dense kernels.
 *
 * A CSR matrix of R rows: indptr[R + 1] (i64, indptr[0] == 0, non-decreasing), indices[nnz] (i32
 * column ids), values[nnz]. Row r holds the entries indptr[r] .. indptr[r + 1] - 1. The kernels
 * trust the structure: the op validates it before calling them. Kernels never allocate. */
#ifndef SELFSUP_KERNELS_SPARSE_H
#define SELFSUP_KERNELS_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* out[R, D] (=, or += when accumulate) A[R, *] @ x[*, D]; x and out contiguous rows of D. Each
 * output row sums its entries in storage order (reproducible for any thread count). */
#define SUP_SPMM_DECL(P, SFX, T)                                                                    \
	void sup_##P##_spmm_##SFX(T *out, const int64_t *indptr, const int32_t *indices, const T *values, \
				  int64_t R, const T *x, int64_t D, bool accumulate)

SUP_SPMM_DECL(ref, f32, float);
SUP_SPMM_DECL(ref, f64, double);
SUP_SPMM_DECL(cpu, f32, float);

/* The CSR of A^T (cols rows, same nnz) by a stable counting sort on the column ids: within each
 * row of A^T the entries keep A's row order, so the transpose is unique and deterministic.
 * t_indptr[cols + 1], t_indices[nnz] (row ids of A; the caller guarantees rows <= INT32_MAX),
 * t_values[nnz] of elsize bytes; `cursor` is caller scratch of cols int64. */
void sup_csr_transpose(int64_t *t_indptr, int32_t *t_indices, void *t_values, int64_t *cursor,
		       const int64_t *indptr, const int32_t *indices, const void *values, int64_t rows,
		       int64_t cols, size_t elsize);

#endif
