/* Step pool: best-fit blocks with coalescing inside large chunks. See base.h for the contract.
 *
 * Every block (free or in use) starts with a header and the blocks of a chunk form one list in
 * address order, so freeing merges a block with free neighbours in O(1) and allocation scans
 * the blocks for the smallest free one that fits. A step holds at most a few hundred blocks
 * (gradient buffers that are alive at the same time), so the scan costs nothing next to the
 * kernels that fill them. */
#include "selfsup/base.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct sup_pool_block {
	struct sup_pool_block *prev, *next; /* neighbours in address order, same chunk */
	size_t size;                        /* bytes including this header */
	bool free;
};

/* The header is padded so that the memory after it keeps the pool's alignment. */
#define POOL_HDR ((sizeof(struct sup_pool_block) + SUP_POOL_ALIGN - 1) & ~(size_t)(SUP_POOL_ALIGN - 1))
/* A split leaves a free remainder only when it can hold this much (header + one line). */
#define POOL_MIN_SPLIT (POOL_HDR + SUP_POOL_ALIGN)

struct sup_pool_chunk {
	struct sup_pool_chunk *next;
	size_t cap; /* bytes of blocks after the chunk header */
	_Alignas(SUP_POOL_ALIGN) unsigned char mem[];
};

static size_t align_up(size_t n)
{
	return (n + SUP_POOL_ALIGN - 1) & ~(size_t)(SUP_POOL_ALIGN - 1);
}

static struct sup_pool_block *chunk_first(struct sup_pool_chunk *ch)
{
	return (struct sup_pool_block *)(void *)ch->mem;
}

static void chunk_clear(struct sup_pool_chunk *ch)
{
	struct sup_pool_block *b = chunk_first(ch);
	*b = (struct sup_pool_block){ .size = ch->cap, .free = true };
}

static struct sup_pool_chunk *chunk_new(struct sup_pool *p, size_t cap)
{
	if (cap > SIZE_MAX - sizeof(struct sup_pool_chunk))
		return NULL; /* the header + cap would wrap around to a small request */
	struct sup_pool_chunk *ch = sup_alloc(&p->alloc, sizeof(struct sup_pool_chunk) + cap, SUP_POOL_ALIGN);
	if (!ch)
		return NULL;
	p->n_chunk_allocs++;
	ch->next = p->chunks;
	ch->cap = cap;
	chunk_clear(ch);
	p->chunks = ch;
	p->capacity += cap;
	return ch;
}

void sup_pool_init(struct sup_pool *p, struct sup_allocator alloc)
{
	memset(p, 0, sizeof *p);
	p->alloc = alloc;
}

static void free_chunks(struct sup_pool *p)
{
	struct sup_pool_chunk *ch = p->chunks;
	while (ch) {
		struct sup_pool_chunk *next = ch->next;
		sup_free(&p->alloc, ch);
		ch = next;
	}
	p->chunks = NULL;
	p->capacity = 0;
}

void sup_pool_deinit(struct sup_pool *p)
{
	free_chunks(p);
	p->used = 0;
	p->generation++;
}

/* Smallest free block of at least `need` bytes over all chunks; NULL when none fits. */
static struct sup_pool_block *best_fit(struct sup_pool *p, size_t need)
{
	struct sup_pool_block *best = NULL;
	for (struct sup_pool_chunk *ch = p->chunks; ch; ch = ch->next)
		for (struct sup_pool_block *b = chunk_first(ch); b; b = b->next)
			if (b->free && b->size >= need && (!best || b->size < best->size)) {
				best = b;
				if (b->size == need)
					return best;
			}
	return best;
}

void *sup_pool_alloc(struct sup_pool *p, size_t size)
{
	size_t body = align_up(size ? size : 1);
	if (body < size || body > SIZE_MAX - POOL_HDR)
		return NULL;
	size_t need = body + POOL_HDR;
	struct sup_pool_block *b = best_fit(p, need);
	if (!b) {
		/* Grow geometrically (the new chunk at least doubles the capacity) so that the first
		 * step makes few chunks; reset() merges them. */
		size_t cap = p->capacity > need ? p->capacity : need;
		if (cap < ((size_t)1 << 20))
			cap = (size_t)1 << 20;
		struct sup_pool_chunk *ch = chunk_new(p, align_up(cap));
		if (!ch)
			return NULL;
		b = chunk_first(ch);
	}
	if (b->size - need >= POOL_MIN_SPLIT) {
		struct sup_pool_block *rest = (struct sup_pool_block *)(void *)((unsigned char *)b + need);
		*rest = (struct sup_pool_block){ .prev = b, .next = b->next, .size = b->size - need, .free = true };
		if (b->next)
			b->next->prev = rest;
		b->next = rest;
		b->size = need;
	}
	b->free = false;
	p->used += b->size;
	if (p->used > p->high_water)
		p->high_water = p->used;
	return (unsigned char *)b + POOL_HDR;
}

void sup_pool_free(struct sup_pool *p, void *ptr)
{
	if (!ptr)
		return;
	struct sup_pool_block *b = (struct sup_pool_block *)(void *)((unsigned char *)ptr - POOL_HDR);
	SUP_ASSERT(!b->free);
	b->free = true;
	p->used -= b->size;
	if (b->next && b->next->free) {
		struct sup_pool_block *n = b->next;
		b->size += n->size;
		b->next = n->next;
		if (n->next)
			n->next->prev = b;
	}
	if (b->prev && b->prev->free) {
		struct sup_pool_block *q = b->prev;
		q->size += b->size;
		q->next = b->next;
		if (b->next)
			b->next->prev = q;
	}
}

void sup_pool_reset(struct sup_pool *p)
{
	if (p->chunks && p->chunks->next) {
		/* Several chunks: merge them into one of their total size. The next step repeats the
		 * same requests; if they still do not fit, it adds a chunk again and the capacity
		 * grows, bounded by the sum of one step's requests, so steady state is reached after
		 * a few steps and then makes no allocator calls. */
		size_t total = p->capacity;
		free_chunks(p);
		chunk_new(p, total); /* on failure the pool is empty and the next alloc retries */
	} else if (p->chunks) {
		chunk_clear(p->chunks);
	}
	p->used = 0;
	p->generation++;
}
