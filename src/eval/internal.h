/* Helpers shared by the files of src/eval/ (not public). */
#ifndef SELFSUP_EVAL_INTERNAL_H
#define SELFSUP_EVAL_INTERNAL_H

#include "selfsup/eval.h"

#include <stdarg.h>
#include <stdio.h>


/* Heap memory for eval buffers: plain malloc is enough (big, short-lived, freed before return);
 * 64-byte alignment keeps GEMM operands on cache lines. Returns NULL on overflow or failure. */
void *sup_eval_alloc(size_t count, size_t elem);

#endif
