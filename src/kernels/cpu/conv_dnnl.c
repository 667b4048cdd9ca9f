/* Convolution passes on oneDNN primitives (kernels/conv.h has the contract).
 *
 * oneDNN's fast convolutions (jit:avx512_core and friends) work on blocked layouts (nChw16c
 * activations, OIhw16i16o-like weights), while every tensor of ours is NCHW. Each pass therefore
 * reorders its inputs into the layouts the primitive asked for (format "any"), runs, and
 * reorders its output back, accumulating with a sum post-op where the contract says "+=". The
 * blocked copies and the primitive's scratchpad live in a work buffer the caller provides (from
 * the step arena, released right after), so a pass allocates nothing through our hooks once its
 * geometry has been seen. PyTorch's mkldnn convolution does the same round trip.
 *
 * Creating primitives is slow (JIT code generation) and allocates, so a cache per context keeps
 * one entry per (geometry, pass, bias, accumulate, thread count): the first step creates, later
 * steps only point memory objects at new buffers (dnnl_memory_set_data_handle) and execute. The
 * thread count is part of the key because oneDNN fixes a primitive's split of the work over
 * threads when it creates it (omp_get_max_threads() then): after omp_set_num_threads, a cached
 * primitive would keep running on the old count. The cache holds at most SUP_DNNL_CONV_MAX_ENTRIES
 * entries (sup_dnnl_conv_set_limit) and evicts the least recently used one, destroying its
 * primitives, so a run that meets ever new shapes (batch sizes, image sizes) does not grow it
 * without bound; one training step needs far fewer entries than the limit. oneDNN itself
 * allocates a few small bookkeeping objects inside each dnnl_primitive_execute (its argument
 * map); those go to the C++ allocator, outside our allocator hooks. */
#include "kernels/conv.h"

#ifdef SELFSUP_HAVE_DNNL

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <string.h>

/* One tensor argument of a pass: the user's NCHW/OIHW memory and, when the primitive wants
 * another layout, its own memory in the work buffer with the reorder between them. */
struct dc_slot {
	int arg;               /* DNNL_ARG_* of the main primitive */
	dnnl_memory_t user;    /* the caller's buffer (handle set per run) */
	dnnl_memory_t own;     /* NULL when the primitive reads/writes the user layout */
	dnnl_primitive_t move; /* user -> own for inputs, own -> user for the output */
	size_t off, bytes;     /* own's place in the work buffer */
};

struct dc_entry {
	struct sup_conv_geom g;
	enum sup_conv_pass pass;
	bool bias, accumulate;
	int threads;       /* omp_get_max_threads() when it was made */
	uint64_t last_use; /* the cache's clock at the last prepare that returned it */
	bool ok;           /* false: oneDNN cannot run this geometry; the caller falls back */
	dnnl_primitive_t prim;
	struct dc_slot in[2], out;
	dnnl_memory_t bias_mem, scratch;
	size_t scratch_off, work_bytes;
};

struct sup_dnnl_conv {
	struct sup_allocator alloc;
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	struct dc_entry *entries;
	int n, cap;       /* entries in use, allocated */
	int limit;        /* most entries kept */
	uint64_t clock;   /* counts prepares, for least-recently-used eviction */
	uint64_t builds;  /* entries made (tests check hits and evictions) */
};

#define WORK_ALIGN 64

static size_t align_work(size_t n)
{
	return (n + WORK_ALIGN - 1) & ~(size_t)(WORK_ALIGN - 1);
}

struct sup_dnnl_conv *sup_dnnl_conv_new(struct sup_allocator alloc)
{
	struct sup_dnnl_conv *dc = sup_alloc(&alloc, sizeof *dc, 64);
	if (!dc)
		return NULL;
	memset(dc, 0, sizeof *dc);
	dc->alloc = alloc;
	dc->limit = SUP_DNNL_CONV_MAX_ENTRIES;
	if (dnnl_engine_create(&dc->engine, dnnl_cpu, 0) != dnnl_success) {
		sup_free(&alloc, dc);
		return NULL;
	}
	if (dnnl_stream_create(&dc->stream, dc->engine, dnnl_stream_default_flags) != dnnl_success) {
		dnnl_engine_destroy(dc->engine);
		sup_free(&alloc, dc);
		return NULL;
	}
	return dc;
}

static void slot_destroy(struct dc_slot *s)
{
	dnnl_primitive_destroy(s->move);
	dnnl_memory_destroy(s->own);
	dnnl_memory_destroy(s->user);
	memset(s, 0, sizeof *s);
}

static void entry_destroy(struct dc_entry *e)
{
	dnnl_primitive_destroy(e->prim);
	slot_destroy(&e->in[0]);
	slot_destroy(&e->in[1]);
	slot_destroy(&e->out);
	dnnl_memory_destroy(e->bias_mem);
	dnnl_memory_destroy(e->scratch);
	e->prim = NULL;
	e->bias_mem = e->scratch = NULL;
}

void sup_dnnl_conv_free(struct sup_dnnl_conv *dc)
{
	if (!dc)
		return;
	for (int i = 0; i < dc->n; i++)
		entry_destroy(&dc->entries[i]);
	sup_free(&dc->alloc, dc->entries);
	dnnl_stream_destroy(dc->stream);
	dnnl_engine_destroy(dc->engine);
	sup_free(&dc->alloc, dc);
}

/* ---- building an entry ------------------------------------------------------------------------- */

/* User memory descriptors: x [N, C, H, W], y [N, K, OH, OW], w [K, C/G, KH, KW] (as goihw when
 * grouped: the same bytes), b [K]. */
struct dc_mds {
	dnnl_memory_desc_t x, y, w, b;
};

static bool user_mds(const struct sup_conv_geom *g, struct dc_mds *m)
{
	const dnnl_dims_t xd = { g->N, g->C, g->H, g->W }, yd = { g->N, g->K, g->OH, g->OW }, bd = { g->K };
	bool ok = dnnl_memory_desc_init_by_tag(&m->x, 4, xd, dnnl_f32, dnnl_nchw) == dnnl_success &&
		  dnnl_memory_desc_init_by_tag(&m->y, 4, yd, dnnl_f32, dnnl_nchw) == dnnl_success &&
		  dnnl_memory_desc_init_by_tag(&m->b, 1, bd, dnnl_f32, dnnl_a) == dnnl_success;
	if (g->G == 1) {
		const dnnl_dims_t wd = { g->K, g->C, g->KH, g->KW };
		ok = ok && dnnl_memory_desc_init_by_tag(&m->w, 4, wd, dnnl_f32, dnnl_oihw) == dnnl_success;
	} else {
		const dnnl_dims_t wd = { g->G, g->K / g->G, g->C / g->G, g->KH, g->KW };
		ok = ok && dnnl_memory_desc_init_by_tag(&m->w, 5, wd, dnnl_f32, dnnl_goihw) == dnnl_success;
	}
	return ok;
}

/* The same shapes with layout "any": the primitive chooses. */
static bool any_mds(const struct dc_mds *u, struct dc_mds *a)
{
	*a = *u;
	return dnnl_memory_desc_init_by_tag(&a->x, u->x.ndims, u->x.dims, dnnl_f32, dnnl_format_tag_any) ==
		       dnnl_success &&
	       dnnl_memory_desc_init_by_tag(&a->y, u->y.ndims, u->y.dims, dnnl_f32, dnnl_format_tag_any) ==
		       dnnl_success &&
	       dnnl_memory_desc_init_by_tag(&a->w, u->w.ndims, u->w.dims, dnnl_f32, dnnl_format_tag_any) ==
		       dnnl_success;
}

/* Attributes: user-provided scratchpad (from the work buffer), optionally a sum post-op. */
static dnnl_primitive_attr_t make_attr(bool sum)
{
	dnnl_primitive_attr_t attr = NULL;
	if (dnnl_primitive_attr_create(&attr) != dnnl_success)
		return NULL;
	bool ok = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
	if (ok && sum) {
		dnnl_post_ops_t po = NULL;
		ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success &&
		     dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
		dnnl_post_ops_destroy(po);
	}
	if (!ok) {
		dnnl_primitive_attr_destroy(attr);
		return NULL;
	}
	return attr;
}

static size_t scratch_bytes(const_dnnl_primitive_desc_t pd)
{
	const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	return md ? dnnl_memory_desc_get_size(md) : 0;
}

/* A reorder primitive from -> to (with "+=" when sum); *scratch grows to its scratchpad size. */
static dnnl_primitive_t make_reorder(struct sup_dnnl_conv *dc, const dnnl_memory_desc_t *from,
				     const dnnl_memory_desc_t *to, bool sum, size_t *scratch)
{
	dnnl_primitive_attr_t attr = make_attr(sum);
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t p = NULL;
	if (attr && dnnl_reorder_primitive_desc_create(&pd, from, dc->engine, to, dc->engine, attr) == dnnl_success) {
		size_t s = scratch_bytes(pd);
		*scratch = s > *scratch ? s : *scratch;
		if (dnnl_primitive_create(&p, pd) != dnnl_success)
			p = NULL;
	}
	dnnl_primitive_desc_destroy(pd);
	dnnl_primitive_attr_destroy(attr);
	return p;
}

/* Sets up one slot: user memory for `user`, and when the primitive's layout `want` differs (or
 * the output must accumulate), own memory in the work buffer plus the reorder. */
static bool slot_init(struct sup_dnnl_conv *dc, struct dc_slot *s, int arg, const dnnl_memory_desc_t *user,
		      const dnnl_memory_desc_t *want, bool is_output, bool accumulate, size_t *work, size_t *scratch)
{
	s->arg = arg;
	if (dnnl_memory_create(&s->user, user, dc->engine, DNNL_MEMORY_NONE) != dnnl_success)
		return false;
	if (dnnl_memory_desc_equal(user, want) && !(is_output && accumulate))
		return true;
	s->bytes = dnnl_memory_desc_get_size(want);
	s->off = *work;
	*work += align_work(s->bytes);
	if (dnnl_memory_create(&s->own, want, dc->engine, DNNL_MEMORY_NONE) != dnnl_success)
		return false;
	s->move = is_output ? make_reorder(dc, want, user, accumulate, scratch)
			    : make_reorder(dc, user, want, false, scratch);
	return s->move != NULL;
}

/* Strides, dilations (oneDNN counts the gaps: d - 1) and paddings. oneDNN derives the output
 * size as (H + pl + pr - extent) / stride + 1, rounded down: the right padding is what the last
 * output row needs, or 0 when the last input rows are unused (a 1x1 stride-2 convolution of an
 * even size: the rounding gives the same OH). False for a geometry no padding reproduces. */
static bool conv_params(const struct sup_conv_geom *g, dnnl_dims_t st, dnnl_dims_t dil, dnnl_dims_t pl,
			dnnl_dims_t pr)
{
	st[0] = g->sh, st[1] = g->sw;
	dil[0] = g->dh - 1, dil[1] = g->dw - 1;
	pl[0] = g->ph, pl[1] = g->pw;
	const int64_t need_h = (g->OH - 1) * g->sh + (g->KH - 1) * g->dh + 1 - g->H - g->ph;
	const int64_t need_w = (g->OW - 1) * g->sw + (g->KW - 1) * g->dw + 1 - g->W - g->pw;
	pr[0] = need_h > 0 ? need_h : 0;
	pr[1] = need_w > 0 ? need_w : 0;
	return need_h > -g->sh && need_w > -g->sw;
}

/* The primitive descriptor of the entry's pass (and the forward one, its hint). */
static dnnl_primitive_desc_t pass_pd(struct sup_dnnl_conv *dc, const struct dc_entry *e, const struct dc_mds *a,
				     const struct dc_mds *u)
{
	dnnl_dims_t st, dil, pl, pr;
	if (!conv_params(&e->g, st, dil, pl, pr))
		return NULL;
	dnnl_primitive_attr_t attr = make_attr(false);
	dnnl_convolution_desc_t fd, d;
	dnnl_primitive_desc_t fpd = NULL, pd = NULL;
	const dnnl_memory_desc_t *bias = e->bias ? &u->b : NULL;
	if (!attr || dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &a->x,
								&a->w, e->pass == SUP_CONV_FWD ? bias : NULL, &a->y,
								st, dil, pl, pr) != dnnl_success ||
	    dnnl_primitive_desc_create(&fpd, &fd, attr, dc->engine, NULL) != dnnl_success)
		goto done;
	if (e->pass == SUP_CONV_FWD) {
		pd = fpd;
		fpd = NULL;
		goto done;
	}
	dnnl_status_t s;
	if (e->pass == SUP_CONV_BWD_DATA)
		s = dnnl_dilated_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &a->x, &a->w, &a->y,
								     st, dil, pl, pr);
	else
		s = dnnl_dilated_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &a->x, &a->w, NULL,
									&a->y, st, dil, pl, pr);
	if (s != dnnl_success || dnnl_primitive_desc_create(&pd, &d, attr, dc->engine, fpd) != dnnl_success)
		pd = NULL;
done:
	dnnl_primitive_desc_destroy(fpd);
	dnnl_primitive_attr_destroy(attr);
	return pd;
}

static const dnnl_memory_desc_t *arg_md(const_dnnl_primitive_desc_t pd, int arg)
{
	return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

static bool entry_build(struct sup_dnnl_conv *dc, struct dc_entry *e)
{
	struct dc_mds u, a;
	if (!user_mds(&e->g, &u) || !any_mds(&u, &a))
		return false;
	dnnl_primitive_desc_t pd = pass_pd(dc, e, &a, &u);
	if (!pd)
		return false;
	size_t work = 0, scratch = scratch_bytes(pd);
	bool ok = dnnl_primitive_create(&e->prim, pd) == dnnl_success;
	/* Argument roles per pass: two inputs and one output. */
	const int args[3][3] = {
		[SUP_CONV_FWD] = { DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST },
		[SUP_CONV_BWD_DATA] = { DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC },
		[SUP_CONV_BWD_WEIGHT] = { DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS },
	};
	const dnnl_memory_desc_t *users[3][3] = {
		[SUP_CONV_FWD] = { &u.x, &u.w, &u.y },
		[SUP_CONV_BWD_DATA] = { &u.y, &u.w, &u.x },
		[SUP_CONV_BWD_WEIGHT] = { &u.x, &u.y, &u.w },
	};
	const int *ar = args[e->pass];
	const dnnl_memory_desc_t *const *um = users[e->pass];
	for (int i = 0; i < 2 && ok; i++) {
		const dnnl_memory_desc_t *want = arg_md(pd, ar[i]);
		ok = want && slot_init(dc, &e->in[i], ar[i], um[i], want, false, false, &work, &scratch);
	}
	const dnnl_memory_desc_t *want_out = ok ? arg_md(pd, ar[2]) : NULL;
	ok = ok && want_out && slot_init(dc, &e->out, ar[2], um[2], want_out, true, e->accumulate, &work, &scratch);
	if (ok && e->bias)
		ok = dnnl_memory_create(&e->bias_mem, &u.b, dc->engine, DNNL_MEMORY_NONE) == dnnl_success;
	if (ok && scratch) {
		const dnnl_dims_t sd = { (dnnl_dim_t)scratch };
		dnnl_memory_desc_t smd;
		e->scratch_off = work;
		work += align_work(scratch);
		ok = dnnl_memory_desc_init_by_tag(&smd, 1, sd, dnnl_u8, dnnl_a) == dnnl_success &&
		     dnnl_memory_create(&e->scratch, &smd, dc->engine, DNNL_MEMORY_NONE) == dnnl_success;
	}
	dnnl_primitive_desc_destroy(pd);
	e->work_bytes = work;
	return ok;
}

static bool same_geom(const struct sup_conv_geom *a, const struct sup_conv_geom *b)
{
	return a->N == b->N && a->C == b->C && a->H == b->H && a->W == b->W && a->K == b->K && a->OH == b->OH &&
	       a->OW == b->OW && a->KH == b->KH && a->KW == b->KW && a->sh == b->sh && a->sw == b->sw &&
	       a->ph == b->ph && a->pw == b->pw && a->dh == b->dh && a->dw == b->dw && a->G == b->G;
}

/* A free slot for a new entry: a new one while under the limit (growing the array), else the
 * least recently used entry, destroyed. NULL when the array cannot grow. */
static struct dc_entry *free_slot(struct sup_dnnl_conv *dc)
{
	if (dc->n >= dc->limit && dc->n > 0) {
		struct dc_entry *lru = &dc->entries[0];
		for (int i = 1; i < dc->n; i++)
			if (dc->entries[i].last_use < lru->last_use)
				lru = &dc->entries[i];
		entry_destroy(lru);
		return lru;
	}
	if (dc->n == dc->cap) {
		int cap = dc->cap ? 2 * dc->cap : 16;
		cap = cap < dc->limit ? cap : dc->limit;
		struct dc_entry *grown = sup_alloc(&dc->alloc, sizeof *grown * (size_t)cap, 64);
		if (!grown)
			return NULL;
		if (dc->n)
			memcpy(grown, dc->entries, sizeof *grown * (size_t)dc->n);
		sup_free(&dc->alloc, dc->entries);
		dc->entries = grown;
		dc->cap = cap;
	}
	return &dc->entries[dc->n++];
}

const struct sup_dnnl_conv_entry *sup_dnnl_conv_prepare(struct sup_dnnl_conv *dc, const struct sup_conv_geom *g,
							enum sup_conv_pass pass, bool bias, bool accumulate,
							size_t *work_bytes)
{
	*work_bytes = 0;
	if (!dc || g->N < 1 || g->C < 1 || g->K < 1 || g->OH < 1 || g->OW < 1)
		return NULL;
	const int threads = omp_get_max_threads();
	dc->clock++;
	for (int i = 0; i < dc->n; i++) {
		struct dc_entry *e = &dc->entries[i];
		if (e->pass == pass && e->bias == bias && e->accumulate == accumulate && e->threads == threads &&
		    same_geom(&e->g, g)) {
			e->last_use = dc->clock;
			*work_bytes = e->work_bytes;
			return e->ok ? (const struct sup_dnnl_conv_entry *)e : NULL;
		}
	}
	struct dc_entry *e = free_slot(dc);
	if (!e)
		return NULL;
	memset(e, 0, sizeof *e);
	e->g = *g;
	e->pass = pass;
	e->bias = bias;
	e->accumulate = accumulate;
	e->threads = threads;
	e->last_use = dc->clock;
	e->ok = entry_build(dc, e);
	dc->builds++;
	if (!e->ok)
		entry_destroy(e); /* remembered as unsupported: the fallback runs without retrying */
	*work_bytes = e->work_bytes;
	return e->ok ? (const struct sup_dnnl_conv_entry *)e : NULL;
}

void sup_dnnl_conv_set_limit(struct sup_dnnl_conv *dc, int max_entries)
{
	if (!dc)
		return;
	dc->limit = max_entries > 1 ? max_entries : 1;
	while (dc->n > dc->limit) {
		/* drop the least recently used entries; the survivors stay packed at the front */
		int lru = 0;
		for (int i = 1; i < dc->n; i++)
			if (dc->entries[i].last_use < dc->entries[lru].last_use)
				lru = i;
		entry_destroy(&dc->entries[lru]);
		dc->entries[lru] = dc->entries[--dc->n];
	}
}

void sup_dnnl_conv_stats(const struct sup_dnnl_conv *dc, int *entries, uint64_t *builds)
{
	*entries = dc ? dc->n : 0;
	*builds = dc ? dc->builds : 0;
}

/* ---- running ----------------------------------------------------------------------------------- */

static bool exec2(struct sup_dnnl_conv *dc, dnnl_primitive_t p, dnnl_memory_t from, dnnl_memory_t to,
		  dnnl_memory_t scratch)
{
	dnnl_exec_arg_t args[3] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to }, { DNNL_ARG_SCRATCHPAD, scratch } };
	return dnnl_primitive_execute(p, dc->stream, scratch ? 3 : 2, args) == dnnl_success;
}

/* The memory the primitive uses for slot s, user buffer `ptr`; inputs are reordered in. */
static dnnl_memory_t slot_bind(struct sup_dnnl_conv *dc, const struct dc_slot *s, const void *ptr, char *work,
			       dnnl_memory_t scratch, bool is_output, bool *ok)
{
	*ok = *ok && dnnl_memory_set_data_handle(s->user, (void *)ptr) == dnnl_success;
	if (!s->own)
		return s->user;
	*ok = *ok && dnnl_memory_set_data_handle(s->own, work + s->off) == dnnl_success;
	if (!is_output)
		*ok = *ok && exec2(dc, s->move, s->user, s->own, scratch);
	return s->own;
}

bool sup_dnnl_conv_run(struct sup_dnnl_conv *dc, const struct sup_dnnl_conv_entry *entry, void *out,
		       const void *in0, const void *in1, const void *bias, void *work)
{
	const struct dc_entry *e = (const struct dc_entry *)entry;
	char *wk = work;
	bool ok = true;
	if (e->scratch)
		ok = dnnl_memory_set_data_handle(e->scratch, wk + e->scratch_off) == dnnl_success;
	dnnl_exec_arg_t args[5];
	int n = 0;
	args[n++] = (dnnl_exec_arg_t){ e->in[0].arg, slot_bind(dc, &e->in[0], in0, wk, e->scratch, false, &ok) };
	args[n++] = (dnnl_exec_arg_t){ e->in[1].arg, slot_bind(dc, &e->in[1], in1, wk, e->scratch, false, &ok) };
	args[n++] = (dnnl_exec_arg_t){ e->out.arg, slot_bind(dc, &e->out, out, wk, e->scratch, true, &ok) };
	if (e->bias_mem) {
		ok = ok && dnnl_memory_set_data_handle(e->bias_mem, (void *)bias) == dnnl_success;
		args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, e->bias_mem };
	}
	if (e->scratch)
		args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, e->scratch };
	ok = ok && dnnl_primitive_execute(e->prim, dc->stream, n, args) == dnnl_success;
	if (e->out.own)
		ok = ok && exec2(dc, e->out.move, e->out.own, e->out.user, e->scratch);
	return ok && dnnl_stream_wait(dc->stream) == dnnl_success;
}

#else /* !SELFSUP_HAVE_DNNL: no cache; every pass falls back to im2col + GEMM. */

struct sup_dnnl_conv *sup_dnnl_conv_new(struct sup_allocator alloc)
{
	(void)alloc;
	return NULL;
}

void sup_dnnl_conv_free(struct sup_dnnl_conv *dc)
{
	(void)dc;
}

const struct sup_dnnl_conv_entry *sup_dnnl_conv_prepare(struct sup_dnnl_conv *dc, const struct sup_conv_geom *g,
							enum sup_conv_pass pass, bool bias, bool accumulate,
							size_t *work_bytes)
{
	(void)dc, (void)g, (void)pass, (void)bias, (void)accumulate;
	*work_bytes = 0;
	return NULL;
}

bool sup_dnnl_conv_run(struct sup_dnnl_conv *dc, const struct sup_dnnl_conv_entry *entry, void *out,
		       const void *in0, const void *in1, const void *bias, void *work)
{
	(void)dc, (void)entry, (void)out, (void)in0, (void)in1, (void)bias, (void)work;
	return false;
}

void sup_dnnl_conv_set_limit(struct sup_dnnl_conv *dc, int max_entries)
{
	(void)dc, (void)max_entries;
}

void sup_dnnl_conv_stats(const struct sup_dnnl_conv *dc, int *entries, uint64_t *builds)
{
	(void)dc;
	*entries = 0;
	*builds = 0;
}

#endif
