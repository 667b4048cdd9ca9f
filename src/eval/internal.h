/* Helpers shared by the files of src/eval/ (not public). */
#ifndef SELFSUP_EVAL_INTERNAL_H
#define SELFSUP_EVAL_INTERNAL_H

#include "selfsup/eval.h"

#include <stdarg.h>
#include <stdio.h>

/* Writes a message into err (when err and err_size are non-zero) and returns s, so that error
 * paths read `return eval_fail(err, err_size, SUP_ERR_ARG, "...", ...);`. */
__attribute__((format(printf, 4, 5))) static inline enum sup_status eval_fail(char *err, size_t err_size,
									     enum sup_status s, const char *fmt, ...)
{
	if (err && err_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return s;
}

/* Heap memory for eval buffers: plain malloc is enough (big, short-lived, freed before return);
 * 64-byte alignment keeps GEMM operands on cache lines. Returns NULL on overflow or failure. */
void *sup_eval_alloc(size_t count, size_t elem);

#endif
