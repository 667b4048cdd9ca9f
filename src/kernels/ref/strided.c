/* Strided copy/accumulate: an odometer over the index space, innermost axis as a plain loop. */
#include "kernels/strided.h"

#include <string.h>

#define MAXD 6

/* Advances idx (odometer over the outer ndim-1 axes); returns 0 when done. */
static int next_index(int64_t *idx, int outer, const int64_t *shape)
{
	for (int d = outer - 1; d >= 0; d--) {
		if (++idx[d] < shape[d])
			return 1;
		idx[d] = 0;
	}
	return 0;
}

static int64_t offset_of(const int64_t *idx, const int64_t *stride, int outer)
{
	int64_t off = 0;
	for (int d = 0; d < outer; d++)
		off += idx[d] * stride[d];
	return off;
}

static int empty(int ndim, const int64_t *shape)
{
	for (int d = 0; d < ndim; d++)
		if (shape[d] == 0)
			return 1;
	return 0;
}

void sup_strided_copy(void *dst, const int64_t *dst_stride, const void *src, const int64_t *src_stride,
		      int ndim, const int64_t *shape, size_t elsize)
{
	if (empty(ndim, shape))
		return;
	if (ndim == 0) {
		memcpy(dst, src, elsize);
		return;
	}
	int64_t idx[MAXD] = { 0 };
	const int outer = ndim - 1;
	const int64_t n = shape[outer], ds = dst_stride[outer], ss = src_stride[outer];
	do {
		char *d = (char *)dst + offset_of(idx, dst_stride, outer) * (int64_t)elsize;
		const char *s = (const char *)src + offset_of(idx, src_stride, outer) * (int64_t)elsize;
		if (ds == 1 && ss == 1) {
			memcpy(d, s, (size_t)n * elsize);
		} else {
			for (int64_t i = 0; i < n; i++)
				memcpy(d + i * ds * (int64_t)elsize, s + i * ss * (int64_t)elsize, elsize);
		}
	} while (next_index(idx, outer, shape));
}

#define STRIDED_ADD(T)                                                                 \
	if (empty(ndim, shape))                                                        \
		return;                                                                \
	if (ndim == 0) {                                                               \
		dst[0] += src[0];                                                      \
		return;                                                                \
	}                                                                              \
	int64_t idx[MAXD] = { 0 };                                                     \
	const int outer = ndim - 1;                                                    \
	const int64_t n = shape[outer], ds = dst_stride[outer], ss = src_stride[outer]; \
	do {                                                                           \
		T *d = dst + offset_of(idx, dst_stride, outer);                        \
		const T *s = src + offset_of(idx, src_stride, outer);                  \
		for (int64_t i = 0; i < n; i++)                                        \
			d[i * ds] += s[i * ss];                                        \
	} while (next_index(idx, outer, shape));

void sup_strided_add_f32(float *dst, const int64_t *dst_stride, const float *src, const int64_t *src_stride,
			 int ndim, const int64_t *shape)
{
	STRIDED_ADD(float)
}

void sup_strided_add_f64(double *dst, const int64_t *dst_stride, const double *src,
			 const int64_t *src_stride, int ndim, const int64_t *shape)
{
	STRIDED_ADD(double)
}
