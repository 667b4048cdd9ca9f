/* Strided N-d copy and accumulate, for any layout (strides in elements, may be 0 on the source
 * side for broadcasting). These are the generic fallbacks that views and broadcasting rely on. */
#ifndef SELFSUP_KERNELS_STRIDED_H
#define SELFSUP_KERNELS_STRIDED_H

#include <stddef.h>
#include <stdint.h>

/* dst[i] = src[i] over the index space `shape` (ndim <= SUP_MAX_DIMS), elements of elsize bytes. */
void sup_strided_copy(void *dst, const int64_t *dst_stride, const void *src, const int64_t *src_stride,
		      int ndim, const int64_t *shape, size_t elsize);
/* dst[i] += src[i]; several i may map to one dst element (a broadcast gradient sums up). */
void sup_strided_add_f32(float *dst, const int64_t *dst_stride, const float *src, const int64_t *src_stride,
			 int ndim, const int64_t *shape);
void sup_strided_add_f64(double *dst, const int64_t *dst_stride, const double *src,
			 const int64_t *src_stride, int ndim, const int64_t *shape);

#endif
