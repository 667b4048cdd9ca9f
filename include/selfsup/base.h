/* selfsup base layer: status codes, logging hook, allocator hooks, arena, counter-based RNG.
 *
 * Nothing here holds mutable global state: every function takes the object it acts on.
 * Fallible functions return enum sup_status and never print or exit. */
#ifndef SELFSUP_BASE_H
#define SELFSUP_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------------ */

enum sup_status {
	SUP_OK = 0,
	SUP_ERR_NOMEM,     /* an allocation failed */
	SUP_ERR_ARG,       /* a bad argument (value out of range, NULL where not allowed) */
	SUP_ERR_SHAPE,     /* shapes that do not fit together */
	SUP_ERR_DTYPE,     /* a dtype the operation does not support */
	SUP_ERR_IO,        /* a read or write failed at the OS level */
	SUP_ERR_FORMAT,    /* a file or string is truncated or malformed */
	SUP_ERR_NOT_FOUND, /* a named thing (file, key, method) does not exist */
	SUP_ERR_STATE,     /* the call is not valid in the object's current state */
	SUP_ERR_COMM,      /* a collective over processes failed or timed out (struct sup_comm) */
	SUP_STATUS_COUNT
};

/* Short English name of a status ("shape mismatch", ...); never NULL. */
const char *sup_status_str(enum sup_status s);

/* Formats a one-line message into the caller's buffer err (when err && err_size) and returns s,
 * so that the error paths of functions reporting through a buffer read
 * `return sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: truncated", path);`. */
enum sup_status sup_errf(char *err, size_t err_size, enum sup_status s, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- aborting on broken contracts ---------------------------------------------------------- */

/* A broken contract (a bug in the caller, not bad input) aborts with file:line. */
_Noreturn void sup_panic(const char *file, int line, const char *msg);
#define SUP_ASSERT(cond)                                                    \
	do {                                                                \
		if (!(cond))                                                \
			sup_panic(__FILE__, __LINE__, "assertion failed: " #cond); \
	} while (0)

/* ---- logging hook -------------------------------------------------------------------------- */

enum sup_log_level { SUP_LOG_DEBUG, SUP_LOG_INFO, SUP_LOG_WARN, SUP_LOG_ERROR, SUP_LOG_LEVEL_COUNT };

/* A logger is a callback with its own user pointer; a NULL fn drops every message. */
struct sup_logger {
	void (*fn)(void *user, enum sup_log_level level, const char *msg);
	void *user;
	enum sup_log_level min_level;
};

/* printf-style; formats into a bounded stack buffer (long messages are truncated). */
void sup_log_msg(const struct sup_logger *lg, enum sup_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- allocator hooks ----------------------------------------------------------------------- */

/* All library allocations go through one of these. alloc returns memory aligned to `align`
 * (a power of two, >= sizeof(void *)) or NULL; free accepts NULL. */
struct sup_allocator {
	void *(*alloc)(void *user, size_t size, size_t align);
	void (*free)(void *user, void *ptr);
	void *user;
};

/* The default allocator (aligned_alloc/free). Returned by value; it holds no state. */
struct sup_allocator sup_allocator_default(void);
void *sup_alloc(const struct sup_allocator *a, size_t size, size_t align);
void sup_free(const struct sup_allocator *a, void *ptr);

/* ---- arena --------------------------------------------------------------------------------- */

#define SUP_ARENA_ALIGN 64

struct sup_arena_chunk;

/* A bump allocator for one step's tensors and tape. reset() frees everything at once; when the
 * step needed more than one chunk (even one that a rewind freed again), reset() replaces them
 * with a single chunk of the high-water size, so that steady-state steps never call the
 * allocator. */
struct sup_arena {
	struct sup_allocator alloc;
	struct sup_arena_chunk *head; /* newest chunk first */
	size_t used;                  /* bytes handed out since the last reset (with padding) */
	size_t high_water;            /* max of `used` over the arena's life */
	size_t n_chunk_allocs;        /* calls made to the allocator (tests count these) */
};

void sup_arena_init(struct sup_arena *a, struct sup_allocator alloc, size_t initial_bytes);
void sup_arena_deinit(struct sup_arena *a);
/* 64-byte aligned, uninitialised; NULL when out of memory. size 0 gives a valid pointer. */
void *sup_arena_alloc(struct sup_arena *a, size_t size);
void *sup_arena_calloc(struct sup_arena *a, size_t size);
void sup_arena_reset(struct sup_arena *a);

/* A position to rewind to: everything allocated after the mark is released (chunks made since
 * are freed). Only valid while no reset happened in between. */
struct sup_arena_mark {
	struct sup_arena_chunk *chunk;
	size_t off;
	size_t used;
};
struct sup_arena_mark sup_arena_mark(const struct sup_arena *a);
void sup_arena_rewind(struct sup_arena *a, struct sup_arena_mark m);

/* ---- pool ---------------------------------------------------------------------------------- */

#define SUP_POOL_ALIGN 64

struct sup_pool_chunk;

/* A step allocator whose blocks can be freed one by one (best fit, neighbours coalesce), for
 * buffers that die during the step: gradients of intermediate tensors are freed as soon as
 * backward has consumed them, so a step needs only the gradients alive at the same time
 * rather than all of them. reset() frees every block; when the step needed more than one
 * chunk, reset() merges them into one, so that steady-state steps (the same requests in the
 * same order) never call the allocator. */
struct sup_pool {
	struct sup_allocator alloc;
	struct sup_pool_chunk *chunks; /* newest first */
	size_t capacity;               /* bytes in all chunks */
	size_t used;                   /* bytes in blocks in use (headers and padding included) */
	size_t high_water;             /* max of `used` over the pool's life */
	size_t n_chunk_allocs;         /* calls made to the allocator (tests count these) */
	/* Counts resets (and deinit): a block handed out under an older generation is gone. Lets
	 * holders of blocks that outlive a reset (a persistent tensor's gradient) tell. */
	uint64_t generation;
};

void sup_pool_init(struct sup_pool *p, struct sup_allocator alloc);
void sup_pool_deinit(struct sup_pool *p);
/* 64-byte aligned, uninitialised; NULL when out of memory. size 0 gives a valid pointer. */
void *sup_pool_alloc(struct sup_pool *p, size_t size);
/* ptr from sup_pool_alloc of this pool since the last reset, or NULL (ignored). */
void sup_pool_free(struct sup_pool *p, void *ptr);
void sup_pool_reset(struct sup_pool *p);

/* ---- counter-based RNG (Philox4x32-10, Salmon et al., SC'11) ------------------------------- */

/* The generator is a pure function of (key, counter): a stream is identified by a 64-bit key
 * (the seed mixed with a stream id) and element i of the stream depends only on i, so a loop
 * split over any number of threads draws the same numbers. */
void sup_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* An explicit generator state: key + position. Drawing advances `counter` (in 32-bit words). */
struct sup_rng {
	uint64_t key;
	uint64_t counter;
};

struct sup_rng sup_rng_make(uint64_t seed, uint64_t stream);
/* The i-th 32-bit word of stream `key`, without any state. */
uint32_t sup_rng_u32_at(uint64_t key, uint64_t i);
/* Uniform in [0, 1) with 24 random bits (exactly representable in float). */
float sup_rng_uniform_at(uint64_t key, uint64_t i);
/* Standard normal from words 2i and 2i+1 (Box-Muller). */
double sup_rng_normal_at(uint64_t key, uint64_t i);

uint32_t sup_rng_u32(struct sup_rng *r);
float sup_rng_uniform(struct sup_rng *r);
double sup_rng_normal(struct sup_rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint64_t sup_rng_below(struct sup_rng *r, uint64_t n);
/* Fisher-Yates permutation of 0..n-1 into perm. */
void sup_rng_permutation(struct sup_rng *r, int64_t *perm, int64_t n);

/* ---- communicator hooks (data parallelism) ---------------------------------------------------
 * What the layers above need from a group of processes that train one model together: rank and
 * size, and four collectives. dist.h implements them over MPI; a NULL communicator, or one of
 * size 1, means a single process and every collective is then the identity. The hooks live here,
 * beside the allocator and logger hooks, so that ops (gathered negatives), nn (synchronised
 * batch norm, gradient averaging) and methods can use them without depending on MPI.
 *
 * Contract: every process of the group calls the same collectives in the same order with the
 * same sizes. Each hook returns SUP_OK or SUP_ERR_COMM (a peer died, the transport failed, or
 * the call exceeded the implementation's timeout); after SUP_ERR_COMM the group is unusable and
 * the program must end every process (dist.h: sup_dist_abort). */
struct sup_comm {
	int rank, size; /* 0 <= rank < size */
	void *user;
	/* buf[0..n) := its element-wise sum over the group, in place. */
	enum sup_status (*allreduce_f32)(void *user, float *buf, int64_t n);
	enum sup_status (*allreduce_f64)(void *user, double *buf, int64_t n);
	/* recv[r * bytes, (r + 1) * bytes) := send of rank r; bytes is the same on every rank. */
	enum sup_status (*allgather)(void *user, const void *send, void *recv, size_t bytes);
	/* buf := root's buf on every rank. */
	enum sup_status (*broadcast)(void *user, void *buf, size_t bytes, int root);
};

/* Size and rank of a possibly NULL communicator (NULL: 1 and 0). */
int sup_comm_size(const struct sup_comm *c);
int sup_comm_rank(const struct sup_comm *c);
/* The collectives, valid on NULL or size-1 communicators (then: nothing to do, SUP_OK). */
enum sup_status sup_comm_allreduce_f32(const struct sup_comm *c, float *buf, int64_t n);
enum sup_status sup_comm_allreduce_f64(const struct sup_comm *c, double *buf, int64_t n);
enum sup_status sup_comm_allgather(const struct sup_comm *c, const void *send, void *recv, size_t bytes);
enum sup_status sup_comm_broadcast(const struct sup_comm *c, void *buf, size_t bytes, int root);

#ifdef __cplusplus
}
#endif
#endif
