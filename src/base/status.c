/* Status strings, contract panics, logging and allocator hooks. */
#include "selfsup/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const status_names[] = {
	[SUP_OK] = "ok",
	[SUP_ERR_NOMEM] = "out of memory",
	[SUP_ERR_ARG] = "invalid argument",
	[SUP_ERR_SHAPE] = "shape mismatch",
	[SUP_ERR_DTYPE] = "unsupported dtype",
	[SUP_ERR_IO] = "I/O error",
	[SUP_ERR_FORMAT] = "malformed input",
	[SUP_ERR_NOT_FOUND] = "not found",
	[SUP_ERR_STATE] = "invalid state",
	[SUP_ERR_COMM] = "communication failed",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == SUP_STATUS_COUNT,
	       "every status has a name");

const char *sup_status_str(enum sup_status s)
{
	if ((unsigned)s >= SUP_STATUS_COUNT)
		return "unknown status";
	return status_names[s];
}

enum sup_status sup_errf(char *err, size_t err_size, enum sup_status s, const char *fmt, ...)
{
	if (err && err_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return s;
}

_Noreturn void sup_panic(const char *file, int line, const char *msg)
{
	fprintf(stderr, "%s:%d: %s\n", file, line, msg);
	abort();
}

void sup_log_msg(const struct sup_logger *lg, enum sup_log_level level, const char *fmt, ...)
{
	if (!lg || !lg->fn || level < lg->min_level)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	lg->fn(lg->user, level, buf);
}

static void *default_alloc(void *user, size_t size, size_t align)
{
	(void)user;
	if (align < sizeof(void *))
		align = sizeof(void *);
	/* aligned_alloc needs size to be a multiple of align. */
	size_t rounded = (size + align - 1) / align * align;
	if (rounded < size)
		return NULL;
	return aligned_alloc(align, rounded ? rounded : align);
}

static void default_free(void *user, void *ptr)
{
	(void)user;
	free(ptr);
}

struct sup_allocator sup_allocator_default(void)
{
	return (struct sup_allocator){ .alloc = default_alloc, .free = default_free, .user = NULL };
}

void *sup_alloc(const struct sup_allocator *a, size_t size, size_t align)
{
	return a->alloc(a->user, size, align);
}

void sup_free(const struct sup_allocator *a, void *ptr)
{
	if (ptr)
		a->free(a->user, ptr);
}
