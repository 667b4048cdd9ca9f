/* selfsup tensor layer: dtypes, shapes, strided tensors, and the execution context that owns a
 * step's memory, tape and first error.
 *
 * Shapes have at most SUP_MAX_DIMS dimensions; strides are in elements and may be 0 (a
 * broadcast view). A tensor's struct and data normally live in the context's step arena and die
 * at sup_ctx_reset(); parameters are tensors whose struct and data live in a model's blocks. */
#ifndef SELFSUP_TENSOR_H
#define SELFSUP_TENSOR_H

#include "selfsup/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SUP_MAX_DIMS 6

enum sup_dtype { SUP_F32, SUP_F64, SUP_I32, SUP_I64, SUP_U8, SUP_DTYPE_COUNT };

size_t sup_dtype_size(enum sup_dtype dt);
const char *sup_dtype_name(enum sup_dtype dt); /* "f32", "f64", "i32", "i64", "u8" */
bool sup_dtype_is_float(enum sup_dtype dt);

/* Which kernels ops run: the plain reference loops (the executable spec) or the fast CPU ones.
 * f64 always runs on the reference kernels. */
enum sup_backend { SUP_BACKEND_CPU, SUP_BACKEND_REF, SUP_BACKEND_COUNT };

struct sup_node;

struct sup_tensor {
	enum sup_dtype dtype;
	int ndim;                     /* 0 = scalar */
	int64_t shape[SUP_MAX_DIMS];
	int64_t stride[SUP_MAX_DIMS]; /* elements; entries >= ndim are unused */
	void *data;                   /* address of element (0, ..., 0) */
	/* Gradient: contiguous (row-major in `shape`), same dtype; NULL until backward reaches the
	 * tensor. Parameters point it into their model's gradient block. */
	void *grad;
	bool requires_grad;
	/* The grad buffer was just allocated and holds garbage: the first backward contribution
	 * may store instead of add (src/ops/op_internal.h, sup_grad_buf_acc). False whenever grad
	 * was set from outside (parameters), so those always accumulate. */
	bool grad_fresh;
	/* grad was allocated from the context's gradient pool and belongs to this tensor: backward
	 * frees it once the tensor's producer has consumed it (src/autograd/backward.c). It is
	 * valid only until that pool's next reset: the pool and its generation at allocation are
	 * kept, and ops treat a pooled gradient from another pool or generation as no gradient (a
	 * persistent leaf used again after sup_ctx_reset gets a fresh buffer). */
	bool grad_pooled;
	const struct sup_pool *grad_pool;
	uint64_t grad_gen;
	struct sup_node *node; /* the op that produced it; NULL for leaves and untracked results */
};

/* ---- context ------------------------------------------------------------------------------- */

/* The context of one thread of model code: the step arena (tensors, saved activations, tape),
 * the tape, grad mode, the backend, a sticky first error and the RNG for stochastic ops.
 *
 * Errors are sticky: the first failing op records status + message, returns NULL, and every
 * later op given a NULL input returns NULL too, so model code reads y = relu(linear(x)) and the
 * caller checks sup_ctx_status() once. */
struct sup_ctx {
	struct sup_allocator alloc;
	struct sup_arena arena;
	/* Gradient buffers of arena tensors: unlike the arena, a buffer can be freed mid-step, and
	 * backward frees an intermediate's gradient as soon as its producer's backward has read
	 * it, so the gradients of a step do not all live at once. Reset with the arena. */
	struct sup_pool grad_pool;
	struct sup_logger log;
	struct sup_node *tape; /* newest node; each node links to the one recorded before it */
	int64_t tape_len;
	int no_grad_depth; /* > 0: ops record nothing */
	enum sup_backend backend;
	struct sup_rng rng; /* stochastic ops (dropout) draw from here */
	/* Backend state that outlives steps (oneDNN's convolution primitives, keyed by shape):
	 * made by the first op that wants it (backend_init then true, state NULL if unavailable),
	 * freed by sup_ctx_deinit through backend_free. */
	void *backend_state;
	void (*backend_free)(void *state);
	bool backend_init;
	/* The group this step is one shard of (data-parallel training), or NULL: one process. Read
	 * by sup_all_gather, and by dropout, which draws each element from its position in the
	 * global batch (ops.h) so that K shards of B/K rows see the masks one process of B would.
	 * sup_ctx_init sets NULL; the training driver sets it. Not owned. */
	const struct sup_comm *comm;
	enum sup_status err;
	char err_msg[512];
};

void sup_ctx_init(struct sup_ctx *c, struct sup_allocator alloc, uint64_t seed);
void sup_ctx_deinit(struct sup_ctx *c);
/* End of a step: frees every arena tensor and the tape, clears the sticky error. */
void sup_ctx_reset(struct sup_ctx *c);

enum sup_status sup_ctx_status(const struct sup_ctx *c);
const char *sup_ctx_error(const struct sup_ctx *c); /* "" when no error */
/* Records the first error only (later ones are dropped); returns the recorded status. */
enum sup_status sup_ctx_fail(struct sup_ctx *c, enum sup_status s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sup_ctx_clear_error(struct sup_ctx *c);

/* A position in the arena and tape, to throw away everything made after it (gradcheck).
 * Gradient buffers are not rewound: backward frees those of intermediates, a leaf's stays in
 * the gradient pool until sup_grad_release() or the next reset. */
struct sup_ctx_mark {
	struct sup_arena_mark arena;
	struct sup_node *tape;
	int64_t tape_len;
};
struct sup_ctx_mark sup_ctx_mark(const struct sup_ctx *c);
void sup_ctx_rewind(struct sup_ctx *c, struct sup_ctx_mark m);

/* No-grad regions nest. */
void sup_no_grad_begin(struct sup_ctx *c);
void sup_no_grad_end(struct sup_ctx *c);
bool sup_grad_enabled(const struct sup_ctx *c);

/* Arena allocation that records SUP_ERR_NOMEM in the context on failure. */
void *sup_ctx_alloc(struct sup_ctx *c, size_t size);
void *sup_ctx_calloc(struct sup_ctx *c, size_t size);

/* ---- shapes -------------------------------------------------------------------------------- */

int64_t sup_shape_numel(int ndim, const int64_t *shape);
int64_t sup_tensor_numel(const struct sup_tensor *t);
size_t sup_tensor_nbytes(const struct sup_tensor *t); /* numel * dtype size */
bool sup_tensor_is_contiguous(const struct sup_tensor *t);
bool sup_tensor_same_shape(const struct sup_tensor *a, const struct sup_tensor *b);
/* Writes "[2, 3, 4]" (or "[]" for a scalar) into buf; returns buf. */
char *sup_shape_str(char *buf, size_t size, int ndim, const int64_t *shape);
/* Row-major contiguous strides for shape. */
void sup_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* ---- creation ------------------------------------------------------------------------------ */

/* New contiguous tensors in the step arena; NULL (sticky error set) on bad shape or no memory. */
struct sup_tensor *sup_tensor_new(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape);
struct sup_tensor *sup_tensor_zeros(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape);
struct sup_tensor *sup_tensor_full(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
				   double value);
struct sup_tensor *sup_tensor_scalar(struct sup_ctx *c, enum sup_dtype dt, double value);
struct sup_tensor *sup_tensor_new_like(struct sup_ctx *c, const struct sup_tensor *t); /* uninit */
/* A contiguous tensor over caller memory (not copied, not owned). */
struct sup_tensor *sup_tensor_wrap(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
				   void *data);
/* Fills caller storage (parameters, loader batches): contiguous, no grad, not on any tape. */
void sup_tensor_init(struct sup_tensor *t, enum sup_dtype dt, int ndim, const int64_t *shape, void *data);
/* A copy with the same dtype and values, contiguous, untracked (requires_grad false). */
struct sup_tensor *sup_tensor_clone(struct sup_ctx *c, const struct sup_tensor *t);
/* A contiguous copy converted to dtype dt (float <-> float, int -> float, float -> int truncates). */
struct sup_tensor *sup_tensor_to(struct sup_ctx *c, const struct sup_tensor *t, enum sup_dtype dt);

/* ---- element access (tests, data code; slow) ----------------------------------------------- */

/* Element at logical row-major index i (0 <= i < numel), converted to double. */
double sup_tensor_get(const struct sup_tensor *t, int64_t i);
void sup_tensor_set(struct sup_tensor *t, int64_t i, double v);
/* Address of the element at a multi-index (idx has ndim entries). */
void *sup_tensor_ptr(const struct sup_tensor *t, const int64_t *idx);
/* Gradient element at logical index i (0 when no gradient reached the tensor). */
double sup_tensor_grad_get(const struct sup_tensor *t, int64_t i);

/* Fill from the RNG: uniform in [lo, hi) or normal(mean, std). Float dtypes only. */
void sup_tensor_fill_uniform(struct sup_tensor *t, struct sup_rng *r, double lo, double hi);
void sup_tensor_fill_normal(struct sup_tensor *t, struct sup_rng *r, double mean, double std);
void sup_tensor_fill(struct sup_tensor *t, double value);

#ifdef __cplusplus
}
#endif
#endif
