/* CPU pooling / upsampling kernels (f32): the planes are independent, so each kernel splits them
 * into blocks over OpenMP threads and runs the per-plane reference loop on each block. Within a
 * plane the order of operations is the reference's, so the results are bitwise equal to the
 * reference kernels for any thread count. Blocks hold >= ~32K elements of work so that small
 * tensors stay on one thread. */
#include "kernels/pool.h"

#define MIN_BLOCK_WORK 32768

/* Planes per block: enough that a block does MIN_BLOCK_WORK element visits. */
static int64_t plane_block(int64_t work_per_plane)
{
	int64_t w = work_per_plane > 0 ? work_per_plane : 1;
	int64_t b = MIN_BLOCK_WORK / w;
	return b < 1 ? 1 : b;
}

/* The planes [p0, p0 + n) of g as a geometry of their own. */
static struct sup_pool_geom sub_geom(const struct sup_pool_geom *g, int64_t p0, int64_t n)
{
	struct sup_pool_geom s = *g;
	s.NC = g->NC - p0 < n ? g->NC - p0 : n;
	return s;
}

/* Runs STMT for every block i of `blk` planes, in parallel when there are several blocks;
 * STMT sees p0 (first plane) and s (the block's geometry). */
#define FOR_BLOCKS(g, work, STMT)                                                    \
	do {                                                                         \
		const int64_t blk = plane_block(work);                            \
		const int64_t nblk = ((g)->NC + blk - 1) / blk;                      \
		_Pragma("omp parallel for schedule(static) if (nblk > 1)")           \
		for (int64_t i = 0; i < nblk; i++) {                                 \
			const int64_t p0 = i * blk;                                  \
			const struct sup_pool_geom s = sub_geom(g, p0, blk);         \
			STMT;                                                        \
		}                                                                    \
	} while (0)

#define IN_OFF(g, p0) ((p0) * (g)->H * (g)->W)
#define OUT_OFF(g, p0) ((p0) * (g)->OH * (g)->OW)

void sup_cpu_max_pool2d_fwd_f32(float *y, int32_t *idx, const float *x, const struct sup_pool_geom *g)
{
	FOR_BLOCKS(g, g->OH * g->OW * g->KH * g->KW,
		   sup_ref_max_pool2d_fwd_f32(y + OUT_OFF(g, p0), idx + OUT_OFF(g, p0), x + IN_OFF(g, p0), &s));
}

void sup_cpu_max_pool2d_bwd_f32(float *dx, const float *dy, const int32_t *idx, const struct sup_pool_geom *g)
{
	/* idx holds in-plane positions, so a block's dx writes stay inside its own planes. */
	FOR_BLOCKS(g, g->OH * g->OW,
		   sup_ref_max_pool2d_bwd_f32(dx + IN_OFF(g, p0), dy + OUT_OFF(g, p0), idx + OUT_OFF(g, p0), &s));
}

void sup_cpu_avg_pool2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g)
{
	FOR_BLOCKS(g, g->OH * g->OW * g->KH * g->KW, sup_ref_avg_pool2d_fwd_f32(y + OUT_OFF(g, p0), x + IN_OFF(g, p0), &s));
}

void sup_cpu_avg_pool2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g)
{
	FOR_BLOCKS(g, g->OH * g->OW * g->KH * g->KW,
		   sup_ref_avg_pool2d_bwd_f32(dx + IN_OFF(g, p0), dy + OUT_OFF(g, p0), &s));
}

void sup_cpu_adaptive_avg_pool2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g)
{
	FOR_BLOCKS(g, g->H * g->W + g->OH * g->OW,
		   sup_ref_adaptive_avg_pool2d_fwd_f32(y + OUT_OFF(g, p0), x + IN_OFF(g, p0), &s));
}

void sup_cpu_adaptive_avg_pool2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g)
{
	FOR_BLOCKS(g, g->H * g->W + g->OH * g->OW,
		   sup_ref_adaptive_avg_pool2d_bwd_f32(dx + IN_OFF(g, p0), dy + OUT_OFF(g, p0), &s));
}

void sup_cpu_upsample_nearest2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g)
{
	FOR_BLOCKS(g, g->OH * g->OW, sup_ref_upsample_nearest2d_fwd_f32(y + OUT_OFF(g, p0), x + IN_OFF(g, p0), &s));
}

void sup_cpu_upsample_nearest2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g)
{
	FOR_BLOCKS(g, g->OH * g->OW,
		   sup_ref_upsample_nearest2d_bwd_f32(dx + IN_OFF(g, p0), dy + OUT_OFF(g, p0), &s));
}
