/* Helpers shared by the .npy and safetensors readers and writers (not public). */
#ifndef SELFSUP_IO_INTERNAL_H
#define SELFSUP_IO_INTERNAL_H

#include "selfsup/io.h"

#include <stdio.h>


/* Rewrites err as "<prefix>: <old message>" (path prefixes on file functions). */
void sup_io_prefix(char *err, size_t err_size, const char *prefix);

/* Checks a tensor that is about to be written: valid dtype and rank, non-negative shape, data
 * non-NULL when it has elements, byte size representable. what names it in messages. */
enum sup_status sup_io_check_tensor(const struct sup_tensor *t, const char *what, size_t *nbytes, char *err,
				    size_t err_size);

/* Overflow-checked numel * elsize of a shape already known non-negative; false on overflow. */
bool sup_io_shape_bytes(int ndim, const int64_t *shape, size_t elsize, size_t *bytes);

/* Opens path for reading and reports its size. SUP_ERR_NOT_FOUND / SUP_ERR_IO with a message. */
enum sup_status sup_io_open_read(FILE **f, uint64_t *size, const char *path, char *err, size_t err_size);
/* Reads exactly n bytes; SUP_ERR_IO (read error) or SUP_ERR_FORMAT (file shorter than it was). */
enum sup_status sup_io_read_exact(FILE *f, void *dst, size_t n, char *err, size_t err_size);

/* A byte sink: a caller-sized memory block, or the temporary file of an atomic write. Errors are
 * sticky; the first one is kept in status/msg. */
struct sup_io_sink {
	FILE *f;
	unsigned char *mem;
	size_t pos, cap;
	enum sup_status status;
	char msg[256];
	/* atomic file writes only */
	char tmp_path[4096];
	const char *path;
};

void sup_io_sink_mem(struct sup_io_sink *s, void *mem, size_t cap);
/* Creates "<path>.tmp.<pid>" for writing. */
enum sup_status sup_io_sink_open_atomic(struct sup_io_sink *s, const char *path, char *err, size_t err_size);
void sup_io_sink_write(struct sup_io_sink *s, const void *p, size_t n);
/* Writes t's elements in row-major order (any strides). */
void sup_io_sink_write_tensor(struct sup_io_sink *s, const struct sup_tensor *t);
/* Atomic file sinks: on no earlier error, flush + fsync + close + rename over path + fsync of
 * the folder; on any error the temporary file is removed. Memory sinks: checks the block was
 * filled exactly. Returns the sink's status with its message copied to err. */
enum sup_status sup_io_sink_finish(struct sup_io_sink *s, char *err, size_t err_size);

#endif
