/* Fast f32 convolution: im2col + GEMM over chunks of images (kernels/conv.h has the contract).
 *
 * A chunk of nb images and one group g is lowered to col [Cg*KH*KW, nb*OH*OW] (row r = (c, kh,
 * kw), column j = (image, oh, ow)); then
 *   fwd:        y_g  [Kg, nb*P]  = w_g [Kg, CKK] @ col
 *   bwd_data:   col              = w_g^T @ dy_g [Kg, nb*P];  dx_g += col2im(col)
 *   bwd_weight: dw_g [Kg, CKK]  += dy_g @ col^T
 * where y_g/dy_g are the chunk's outputs of the group, packed into [Kg, nb*P] (a copy) so that
 * one GEMM covers the chunk; with nb == 1 the GEMM reads/writes the tensor in place. Batching
 * images matters for the deep layers, whose per-image GEMMs are tiny (P = 7*7 = 49 columns).
 *
 * Two ways to use the cores, chosen by the plan:
 *  - chunk-parallel (BLAS built sequential or with OpenMP, which runs single-threaded inside our
 *    parallel region): threads take whole chunks (static schedule), so each image's outputs and
 *    input gradients are written by one thread; the weight gradient is summed per thread into a
 *    private partial and the partials are added in thread order.
 *  - chunk-serial (a pthreads OpenBLAS, whose calls from several of our threads at once contend
 *    for its own thread pool; or a single chunk): chunks run one after another, BLAS threads
 *    each GEMM itself, and the im2col/col2im/pack loops around it are split over images and
 *    channels (`par`), still one writer per element. */
#include "kernels/conv.h"
#include "kernels/gemm.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

/* im2col floats one thread may hold: large enough for wide GEMMs (the deep W1 layers get 8-16
 * images per chunk), small enough to stay near the caches and keep step memory bounded. */
#define COL_BUDGET ((int64_t)1 << 19)
/* Below this many multiply-adds a pass runs on one thread. */
#define PARALLEL_MIN_MACS ((int64_t)1 << 18)

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

void sup_cpu_conv2d_plan(struct sup_conv_plan *p, const struct sup_conv_geom *g, enum sup_conv_pass pass)
{
	const int64_t Cg = g->C / g->G, Kg = g->K / g->G, P = g->OH * g->OW;
	const int64_t ckk = Cg * g->KH * g->KW;
	memset(p, 0, sizeof *p);
	p->pass = pass;
	p->direct = g->KH == 1 && g->KW == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
		    g->OH == g->H && g->OW == g->W;
	int nt = omp_get_max_threads();
	if (g->N * g->K * P * ckk < PARALLEL_MIN_MACS)
		nt = 1;
	const bool blas_nests = openblas_get_parallel() != 1; /* 0: sequential, 2: OpenMP build */
	int64_t per_image = ckk * P > 0 ? ckk * P : 1;
	int64_t chunk = p->direct ? 1 : COL_BUDGET / per_image;
	chunk = chunk < 1 ? 1 : chunk;
	if (blas_nests)
		chunk = min64(chunk, (g->N + nt - 1) / nt);
	chunk = chunk < 1 ? 1 : chunk;
	int64_t nchunks = g->N > 0 ? (g->N + chunk - 1) / chunk : 0;
	p->inner_parallel = nt > 1 && blas_nests && nchunks < 2;
	if (nchunks < 2 || !blas_nests)
		nt = 1;
	else if (nchunks < nt)
		nt = (int)nchunks;
	p->nthreads = nt;
	p->chunk = chunk;
	p->col = p->direct ? 0 : round16((size_t)(ckk * chunk * P));
	p->pack = chunk > 1 ? round16((size_t)(Kg * chunk * P)) : 0;
	p->partial = pass == SUP_CONV_BWD_WEIGHT && nt > 1 ? round16((size_t)(g->K * ckk)) : 0;
	if (pass == SUP_CONV_BWD_WEIGHT && p->direct)
		p->pack = 0;
	p->per_thread = p->col + p->pack + p->partial;
	p->floats = p->per_thread * (size_t)nt;
}

/* Output columns [*lo, *hi) whose input column o*s + off lies in [0, W). */
static void valid_cols(int64_t O, int64_t W, int64_t s, int64_t off, int64_t *lo, int64_t *hi)
{
	int64_t a = off < 0 ? (-off + s - 1) / s : 0;
	int64_t b = W - 1 - off >= 0 ? (W - 1 - off) / s + 1 : 0;
	a = min64(a, O);
	b = min64(b, O);
	*lo = a;
	*hi = b > a ? b : a;
}

/* col rows (c, kh, kw) of one image (P columns at `col`, row stride ld) from x [Cg, H, W]. */
static void im2col(float *col, int64_t ld, const float *x, int64_t Cg, const struct sup_conv_geom *g)
{
	for (int64_t c = 0; c < Cg; c++)
		for (int64_t kh = 0; kh < g->KH; kh++)
			for (int64_t kw = 0; kw < g->KW; kw++) {
				float *row = col + ((c * g->KH + kh) * g->KW + kw) * ld;
				const int64_t offw = kw * g->dw - g->pw;
				int64_t lo, hi;
				valid_cols(g->OW, g->W, g->sw, offw, &lo, &hi);
				for (int64_t oh = 0; oh < g->OH; oh++) {
					float *dst = row + oh * g->OW;
					const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
					if (ih < 0 || ih >= g->H) {
						memset(dst, 0, sizeof(float) * (size_t)g->OW);
						continue;
					}
					const float *src = x + (c * g->H + ih) * g->W;
					for (int64_t ow = 0; ow < lo; ow++)
						dst[ow] = 0.0f;
					if (g->sw == 1)
						memcpy(dst + lo, src + lo + offw, sizeof(float) * (size_t)(hi - lo));
					else
						for (int64_t ow = lo; ow < hi; ow++)
							dst[ow] = src[ow * g->sw + offw];
					for (int64_t ow = hi; ow < g->OW; ow++)
						dst[ow] = 0.0f;
				}
			}
}

/* The adjoint of im2col: dx [Cg, H, W] += the col rows of one image. */
static void col2im(float *dx, const float *col, int64_t ld, int64_t Cg, const struct sup_conv_geom *g)
{
	for (int64_t c = 0; c < Cg; c++)
		for (int64_t kh = 0; kh < g->KH; kh++)
			for (int64_t kw = 0; kw < g->KW; kw++) {
				const float *row = col + ((c * g->KH + kh) * g->KW + kw) * ld;
				const int64_t offw = kw * g->dw - g->pw;
				int64_t lo, hi;
				valid_cols(g->OW, g->W, g->sw, offw, &lo, &hi);
				for (int64_t oh = 0; oh < g->OH; oh++) {
					const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
					if (ih < 0 || ih >= g->H)
						continue;
					const float *src = row + oh * g->OW;
					float *dst = dx + (c * g->H + ih) * g->W;
					for (int64_t ow = lo; ow < hi; ow++)
						dst[ow * g->sw + offw] += src[ow];
				}
			}
}

/* pack [Kg, nb*P] <- t[n0 + b, k0 + kk, :] for b < nb (the chunk's rows of one group). */
static void pack_rows(float *pack, const float *t, int64_t n0, int64_t nb, int64_t k0, int64_t Kg, int64_t Kt,
		      int64_t P, bool par)
{
#pragma omp parallel for schedule(static) if (par)
	for (int64_t kk = 0; kk < Kg; kk++)
		for (int64_t b = 0; b < nb; b++)
			memcpy(pack + kk * nb * P + b * P, t + ((n0 + b) * Kt + k0 + kk) * P, sizeof(float) * (size_t)P);
}

struct chunk_job {
	const struct sup_conv_geom *g;
	const struct sup_conv_plan *p;
	int64_t n0, nb;
	float *col, *pack;
	bool par; /* split the loops around the GEMMs over threads (chunk-serial mode) */
};

/* im2col of group gi of the chunk's images: one (image, channel) pair per iteration. */
static void im2col_chunk(const struct chunk_job *j, const float *x, int64_t gi)
{
	const struct sup_conv_geom *g = j->g;
	const int64_t Cg = g->C / g->G, P = g->OH * g->OW, L = j->nb * P, kk = g->KH * g->KW;
#pragma omp parallel for collapse(2) schedule(static) if (j->par)
	for (int64_t i = 0; i < j->nb; i++)
		for (int64_t c = 0; c < Cg; c++)
			im2col(j->col + c * kk * L + i * P, L, x + ((j->n0 + i) * g->C + gi * Cg + c) * g->H * g->W, 1, g);
}

/* dx += col2im for group gi; each (image, channel) plane of dx has one writer. */
static void col2im_chunk(const struct chunk_job *j, float *dx, int64_t gi)
{
	const struct sup_conv_geom *g = j->g;
	const int64_t Cg = g->C / g->G, P = g->OH * g->OW, L = j->nb * P, kk = g->KH * g->KW;
#pragma omp parallel for collapse(2) schedule(static) if (j->par)
	for (int64_t i = 0; i < j->nb; i++)
		for (int64_t c = 0; c < Cg; c++)
			col2im(dx + ((j->n0 + i) * g->C + gi * Cg + c) * g->H * g->W, j->col + c * kk * L + i * P, L, 1, g);
}

static void fwd_chunk(const struct chunk_job *j, float *y, const float *x, const float *w, const float *b,
		      bool accumulate)
{
	const struct sup_conv_geom *g = j->g;
	const int64_t Cg = g->C / g->G, Kg = g->K / g->G, P = g->OH * g->OW, HW = g->H * g->W;
	const int64_t ckk = Cg * g->KH * g->KW, L = j->nb * P, n0 = j->n0;
	const float beta = accumulate ? 1.0f : 0.0f;
	for (int64_t gi = 0; gi < g->G; gi++) {
		const float *wg = w + gi * Kg * ckk;
		if (j->p->direct) {
			for (int64_t i = 0; i < j->nb; i++)
				sup_cpu_gemm_f32(false, false, Kg, P, Cg, 1.0f, wg, Cg, x + ((n0 + i) * g->C + gi * Cg) * HW,
						 HW, beta, y + ((n0 + i) * g->K + gi * Kg) * P, P);
			continue;
		}
		im2col_chunk(j, x, gi);
		if (j->nb == 1) {
			sup_cpu_gemm_f32(false, false, Kg, P, ckk, 1.0f, wg, ckk, j->col, L, beta,
					 y + (n0 * g->K + gi * Kg) * P, P);
			continue;
		}
		sup_cpu_gemm_f32(false, false, Kg, L, ckk, 1.0f, wg, ckk, j->col, L, 0.0f, j->pack, L);
#pragma omp parallel for schedule(static) if (j->par)
		for (int64_t kk = 0; kk < Kg; kk++)
			for (int64_t i = 0; i < j->nb; i++) {
				float *dst = y + ((n0 + i) * g->K + gi * Kg + kk) * P;
				const float *src = j->pack + kk * L + i * P;
				if (accumulate)
					for (int64_t q = 0; q < P; q++)
						dst[q] += src[q];
				else
					memcpy(dst, src, sizeof(float) * (size_t)P);
			}
	}
	if (b) {
#pragma omp parallel for collapse(2) schedule(static) if (j->par)
		for (int64_t i = 0; i < j->nb; i++)
			for (int64_t k = 0; k < g->K; k++) {
				float *dst = y + ((n0 + i) * g->K + k) * P;
				for (int64_t q = 0; q < P; q++)
					dst[q] += b[k];
			}
	}
}

static void bwd_data_chunk(const struct chunk_job *j, float *dx, const float *dy, const float *w)
{
	const struct sup_conv_geom *g = j->g;
	const int64_t Cg = g->C / g->G, Kg = g->K / g->G, P = g->OH * g->OW, HW = g->H * g->W;
	const int64_t ckk = Cg * g->KH * g->KW, L = j->nb * P, n0 = j->n0;
	for (int64_t gi = 0; gi < g->G; gi++) {
		const float *wg = w + gi * Kg * ckk;
		if (j->p->direct) {
			for (int64_t i = 0; i < j->nb; i++)
				sup_cpu_gemm_f32(true, false, Cg, P, Kg, 1.0f, wg, Cg, dy + ((n0 + i) * g->K + gi * Kg) * P, P,
						 1.0f, dx + ((n0 + i) * g->C + gi * Cg) * HW, HW);
			continue;
		}
		const float *dyp = dy + (n0 * g->K + gi * Kg) * P;
		if (j->nb > 1) {
			pack_rows(j->pack, dy, n0, j->nb, gi * Kg, Kg, g->K, P, j->par);
			dyp = j->pack;
		}
		sup_cpu_gemm_f32(true, false, ckk, L, Kg, 1.0f, wg, ckk, dyp, j->nb > 1 ? L : P, 0.0f, j->col, L);
		col2im_chunk(j, dx, gi);
	}
}

static void bwd_weight_chunk(const struct chunk_job *j, float *dw, const float *x, const float *dy)
{
	const struct sup_conv_geom *g = j->g;
	const int64_t Cg = g->C / g->G, Kg = g->K / g->G, P = g->OH * g->OW, HW = g->H * g->W;
	const int64_t ckk = Cg * g->KH * g->KW, L = j->nb * P, n0 = j->n0;
	for (int64_t gi = 0; gi < g->G; gi++) {
		float *dwg = dw + gi * Kg * ckk;
		if (j->p->direct) {
			for (int64_t i = 0; i < j->nb; i++)
				sup_cpu_gemm_f32(false, true, Kg, Cg, P, 1.0f, dy + ((n0 + i) * g->K + gi * Kg) * P, P,
						 x + ((n0 + i) * g->C + gi * Cg) * HW, HW, 1.0f, dwg, Cg);
			continue;
		}
		const float *dyp = dy + (n0 * g->K + gi * Kg) * P;
		if (j->nb > 1) {
			pack_rows(j->pack, dy, n0, j->nb, gi * Kg, Kg, g->K, P, j->par);
			dyp = j->pack;
		}
		im2col_chunk(j, x, gi);
		sup_cpu_gemm_f32(false, true, Kg, ckk, L, 1.0f, dyp, j->nb > 1 ? L : P, j->col, L, 1.0f, dwg, ckk);
	}
}

static struct chunk_job job_at(const struct sup_conv_geom *g, const struct sup_conv_plan *p, float *buf,
			       int64_t ci)
{
	struct chunk_job j = { g, p, ci * p->chunk, min64(p->chunk, g->N - ci * p->chunk), buf, buf + p->col,
			       p->inner_parallel };
	return j;
}

static int64_t n_chunks(const struct sup_conv_geom *g, const struct sup_conv_plan *p)
{
	return g->N > 0 ? (g->N + p->chunk - 1) / p->chunk : 0;
}

void sup_cpu_conv2d_fwd_f32(float *y, const float *x, const float *w, const float *b,
			    const struct sup_conv_geom *g, bool accumulate, const struct sup_conv_plan *p,
			    float *work)
{
	const int64_t nc = n_chunks(g, p);
	if (p->nthreads <= 1) {
		for (int64_t ci = 0; ci < nc; ci++) {
			struct chunk_job j = job_at(g, p, work, ci);
			fwd_chunk(&j, y, x, w, b, accumulate);
		}
		return;
	}
#pragma omp parallel num_threads(p->nthreads)
	{
		float *buf = work + (size_t)omp_get_thread_num() * p->per_thread;
#pragma omp for schedule(static)
		for (int64_t ci = 0; ci < nc; ci++) {
			struct chunk_job j = job_at(g, p, buf, ci);
			fwd_chunk(&j, y, x, w, b, accumulate);
		}
	}
}

void sup_cpu_conv2d_bwd_data_f32(float *dx, const float *dy, const float *w, const struct sup_conv_geom *g,
				 const struct sup_conv_plan *p, float *work)
{
	const int64_t nc = n_chunks(g, p);
	if (p->nthreads <= 1) {
		for (int64_t ci = 0; ci < nc; ci++) {
			struct chunk_job j = job_at(g, p, work, ci);
			bwd_data_chunk(&j, dx, dy, w);
		}
		return;
	}
#pragma omp parallel num_threads(p->nthreads)
	{
		float *buf = work + (size_t)omp_get_thread_num() * p->per_thread;
#pragma omp for schedule(static)
		for (int64_t ci = 0; ci < nc; ci++) {
			struct chunk_job j = job_at(g, p, buf, ci);
			bwd_data_chunk(&j, dx, dy, w);
		}
	}
}

void sup_cpu_conv2d_bwd_weight_f32(float *dw, const float *x, const float *dy, const struct sup_conv_geom *g,
				   const struct sup_conv_plan *p, float *work)
{
	const int64_t nc = n_chunks(g, p);
	if (p->nthreads <= 1) {
		for (int64_t ci = 0; ci < nc; ci++) {
			struct chunk_job j = job_at(g, p, work, ci);
			bwd_weight_chunk(&j, dw, x, dy);
		}
		return;
	}
	const int64_t nw = g->K * (g->C / g->G) * g->KH * g->KW;
#pragma omp parallel num_threads(p->nthreads)
	{
		const int nt = omp_get_num_threads();
		float *buf = work + (size_t)omp_get_thread_num() * p->per_thread;
		float *part = buf + p->col + p->pack;
		memset(part, 0, sizeof(float) * (size_t)nw);
#pragma omp for schedule(static)
		for (int64_t ci = 0; ci < nc; ci++) {
			struct chunk_job j = job_at(g, p, buf, ci);
			bwd_weight_chunk(&j, part, x, dy);
		}
		/* The implicit barrier above makes every partial complete; sum them in thread order. */
#pragma omp for schedule(static)
		for (int64_t i = 0; i < nw; i++) {
			float s = 0.0f;
			for (int t = 0; t < nt; t++)
				s += work[(size_t)t * p->per_thread + p->col + p->pack + (size_t)i];
			dw[i] += s;
		}
	}
}

void sup_cpu_channel_add_f32(float *t, const float *b, int64_t N, int64_t C, int64_t P)
{
#pragma omp parallel for schedule(static) if (N * C * P >= (1 << 16))
	for (int64_t nc = 0; nc < N * C; nc++) {
		float *row = t + nc * P;
		const float v = b[nc % C];
		for (int64_t p = 0; p < P; p++)
			row[p] += v;
	}
}

void sup_cpu_channel_sum_f32(float *db, const float *t, int64_t N, int64_t C, int64_t P)
{
	/* One channel per iteration, images and positions in order: a fixed summation order. */
#pragma omp parallel for schedule(static) if (N * C * P >= (1 << 16))
	for (int64_t c = 0; c < C; c++) {
		float acc = 0.0f;
		for (int64_t n = 0; n < N; n++) {
			const float *row = t + (n * C + c) * P;
			float s = 0.0f;
			for (int64_t p = 0; p < P; p++)
				s += row[p];
			acc += s;
		}
		db[c] += acc;
	}
}
