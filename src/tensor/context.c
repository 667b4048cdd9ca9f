/* The execution context: step arena, tape head, grad mode, sticky first error. */
#include "selfsup/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sup_ctx_init(struct sup_ctx *c, struct sup_allocator alloc, uint64_t seed)
{
	memset(c, 0, sizeof *c);
	c->alloc = alloc;
	sup_arena_init(&c->arena, alloc, 0);
	sup_pool_init(&c->grad_pool, alloc);
	c->backend = SUP_BACKEND_CPU;
	c->rng = sup_rng_make(seed, 0x5e1f5c);
}

void sup_ctx_deinit(struct sup_ctx *c)
{
	sup_arena_deinit(&c->arena);
	sup_pool_deinit(&c->grad_pool);
	if (c->backend_free)
		c->backend_free(c->backend_state);
	c->backend_state = NULL;
	c->backend_free = NULL;
	c->backend_init = false;
	c->tape = NULL;
	c->tape_len = 0;
}

void sup_ctx_reset(struct sup_ctx *c)
{
	sup_arena_reset(&c->arena);
	sup_pool_reset(&c->grad_pool);
	c->tape = NULL;
	c->tape_len = 0;
	sup_ctx_clear_error(c);
}

enum sup_status sup_ctx_status(const struct sup_ctx *c)
{
	return c->err;
}

const char *sup_ctx_error(const struct sup_ctx *c)
{
	return c->err_msg;
}

enum sup_status sup_ctx_fail(struct sup_ctx *c, enum sup_status s, const char *fmt, ...)
{
	if (c->err != SUP_OK || s == SUP_OK)
		return c->err;
	c->err = s;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
	va_end(ap);
	return s;
}

void sup_ctx_clear_error(struct sup_ctx *c)
{
	c->err = SUP_OK;
	c->err_msg[0] = '\0';
}

struct sup_ctx_mark sup_ctx_mark(const struct sup_ctx *c)
{
	return (struct sup_ctx_mark){ .arena = sup_arena_mark(&c->arena), .tape = c->tape, .tape_len = c->tape_len };
}

void sup_ctx_rewind(struct sup_ctx *c, struct sup_ctx_mark m)
{
	sup_arena_rewind(&c->arena, m.arena);
	c->tape = m.tape;
	c->tape_len = m.tape_len;
}

void sup_no_grad_begin(struct sup_ctx *c)
{
	c->no_grad_depth++;
}

void sup_no_grad_end(struct sup_ctx *c)
{
	SUP_ASSERT(c->no_grad_depth > 0);
	c->no_grad_depth--;
}

bool sup_grad_enabled(const struct sup_ctx *c)
{
	return c->no_grad_depth == 0;
}

void *sup_ctx_alloc(struct sup_ctx *c, size_t size)
{
	void *p = sup_arena_alloc(&c->arena, size);
	if (!p)
		sup_ctx_fail(c, SUP_ERR_NOMEM, "out of memory allocating %zu bytes in the step arena", size);
	return p;
}

void *sup_ctx_calloc(struct sup_ctx *c, size_t size)
{
	void *p = sup_ctx_alloc(c, size);
	if (p)
		memset(p, 0, size);
	return p;
}
