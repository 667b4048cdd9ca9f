/* io helpers: error messages, tensor checks, reading files, byte sinks with atomic file writes. */
#define _POSIX_C_SOURCE 200809L

#include "io/io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the io layer reads and writes little-endian data in place: little-endian hosts only"
#endif

void sup_io_prefix(char *err, size_t err_size, const char *prefix)
{
	if (!err || !err_size)
		return;
	char tmp[512];
	snprintf(tmp, sizeof tmp, "%s", err);
	snprintf(err, err_size, "%s: %s", prefix, tmp);
}

bool sup_io_shape_bytes(int ndim, const int64_t *shape, size_t elsize, size_t *bytes)
{
	/* Zero elements anywhere make the product 0 whatever the other sizes are. */
	for (int i = 0; i < ndim; i++) {
		if (shape[i] == 0) {
			*bytes = 0;
			return true;
		}
	}
	uint64_t n = elsize;
	for (int i = 0; i < ndim; i++) {
		uint64_t d = (uint64_t)shape[i];
		if (n > (uint64_t)INT64_MAX / d)
			return false;
		n *= d;
	}
	if (n > (uint64_t)SIZE_MAX)
		return false;
	*bytes = (size_t)n;
	return true;
}

enum sup_status sup_io_check_tensor(const struct sup_tensor *t, const char *what, size_t *nbytes, char *err,
				    size_t err_size)
{
	if (!t)
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s: NULL tensor", what);
	if ((unsigned)t->dtype >= SUP_DTYPE_COUNT)
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s: invalid dtype %d", what, (int)t->dtype);
	if (t->ndim < 0 || t->ndim > SUP_MAX_DIMS)
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s: rank %d outside 0..%d", what, t->ndim,
				   SUP_MAX_DIMS);
	char buf[160];
	for (int i = 0; i < t->ndim; i++)
		if (t->shape[i] < 0)
			return sup_errf(err, err_size, SUP_ERR_ARG, "%s: negative size in shape %s", what,
					   sup_shape_str(buf, sizeof buf, t->ndim, t->shape));
	if (!sup_io_shape_bytes(t->ndim, t->shape, sup_dtype_size(t->dtype), nbytes))
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s: shape %s too large", what,
				   sup_shape_str(buf, sizeof buf, t->ndim, t->shape));
	if (*nbytes && !t->data)
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s: NULL data with %zu bytes to write", what,
				   *nbytes);
	return SUP_OK;
}

enum sup_status sup_io_open_read(FILE **f, uint64_t *size, const char *path, char *err, size_t err_size)
{
	*f = NULL;
	if (!path)
		return sup_errf(err, err_size, SUP_ERR_ARG, "NULL path");
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return sup_errf(err, err_size, errno == ENOENT ? SUP_ERR_NOT_FOUND : SUP_ERR_IO, "%s: cannot open: %s",
				   path, strerror(errno));
	struct stat st;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: not a regular file", path);
	}
	*f = fp;
	*size = (uint64_t)st.st_size;
	return SUP_OK;
}

enum sup_status sup_io_read_exact(FILE *f, void *dst, size_t n, char *err, size_t err_size)
{
	if (n == 0)
		return SUP_OK;
	size_t got = fread(dst, 1, n, f);
	if (got == n)
		return SUP_OK;
	if (ferror(f))
		return sup_errf(err, err_size, SUP_ERR_IO, "read failed: %s", strerror(errno));
	return sup_errf(err, err_size, SUP_ERR_FORMAT, "truncated: file ended %zu bytes early", n - got);
}

/* ---- sinks ------------------------------------------------------------------------------------ */

static void sink_error(struct sup_io_sink *s, enum sup_status st, const char *what, int errnum)
{
	if (s->status)
		return;
	s->status = st;
	snprintf(s->msg, sizeof s->msg, "%s: %s: %s", s->path ? s->path : "memory", what, strerror(errnum));
}

void sup_io_sink_mem(struct sup_io_sink *s, void *mem, size_t cap)
{
	memset(s, 0, sizeof *s);
	s->mem = mem;
	s->cap = cap;
}

enum sup_status sup_io_sink_open_atomic(struct sup_io_sink *s, const char *path, char *err, size_t err_size)
{
	memset(s, 0, sizeof *s);
	if (!path || !*path)
		return sup_errf(err, err_size, SUP_ERR_ARG, "empty path");
	int n = snprintf(s->tmp_path, sizeof s->tmp_path, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof s->tmp_path)
		return sup_errf(err, err_size, SUP_ERR_ARG, "path too long (%zu bytes)", strlen(path));
	s->path = path;
	s->f = fopen(s->tmp_path, "wb");
	if (!s->f)
		return sup_errf(err, err_size, errno == ENOENT ? SUP_ERR_NOT_FOUND : SUP_ERR_IO,
				   "%s: cannot create %s: %s", path, s->tmp_path, strerror(errno));
	return SUP_OK;
}

void sup_io_sink_write(struct sup_io_sink *s, const void *p, size_t n)
{
	if (s->status || n == 0)
		return;
	if (s->f) {
		if (fwrite(p, 1, n, s->f) != n)
			sink_error(s, SUP_ERR_IO, "write failed", errno);
		return;
	}
	if (n > s->cap - s->pos) {
		s->status = SUP_ERR_STATE;
		snprintf(s->msg, sizeof s->msg, "internal: encoded size exceeds the computed size");
		return;
	}
	memcpy(s->mem + s->pos, p, n);
	s->pos += n;
}

void sup_io_sink_write_tensor(struct sup_io_sink *s, const struct sup_tensor *t)
{
	size_t es = sup_dtype_size(t->dtype);
	int64_t numel = sup_tensor_numel(t);
	if (numel == 0)
		return;
	if (sup_tensor_is_contiguous(t)) {
		sup_io_sink_write(s, t->data, (size_t)numel * es);
		return;
	}
	/* Gather through a small buffer with an odometer over the index space. */
	unsigned char buf[1 << 14];
	size_t used = 0;
	int64_t idx[SUP_MAX_DIMS] = { 0 };
	for (int64_t i = 0; i < numel && !s->status; i++) {
		const unsigned char *src = sup_tensor_ptr(t, idx);
		memcpy(buf + used, src, es);
		used += es;
		if (used + es > sizeof buf) {
			sup_io_sink_write(s, buf, used);
			used = 0;
		}
		for (int d = t->ndim - 1; d >= 0; d--) {
			if (++idx[d] < t->shape[d])
				break;
			idx[d] = 0;
		}
	}
	sup_io_sink_write(s, buf, used);
}

/* fsync of the folder makes the rename itself durable; file systems that cannot fsync a folder
 * (EINVAL) still renamed atomically, so its failure is not an error. */
static void fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

enum sup_status sup_io_sink_finish(struct sup_io_sink *s, char *err, size_t err_size)
{
	if (!s->f) {
		if (!s->status && s->pos != s->cap) {
			s->status = SUP_ERR_STATE;
			snprintf(s->msg, sizeof s->msg, "internal: encoded %zu of %zu bytes", s->pos, s->cap);
		}
		return s->status ? sup_errf(err, err_size, s->status, "%s", s->msg) : SUP_OK;
	}
	if (!s->status && fflush(s->f) != 0)
		sink_error(s, SUP_ERR_IO, "write failed", errno);
	if (!s->status && fsync(fileno(s->f)) != 0)
		sink_error(s, SUP_ERR_IO, "fsync failed", errno);
	if (fclose(s->f) != 0)
		sink_error(s, SUP_ERR_IO, "close failed", errno);
	s->f = NULL;
	if (!s->status && rename(s->tmp_path, s->path) != 0)
		sink_error(s, SUP_ERR_IO, "rename failed", errno);
	if (s->status) {
		(void)remove(s->tmp_path);
		return sup_errf(err, err_size, s->status, "%s", s->msg);
	}
	fsync_parent(s->path);
	return SUP_OK;
}
