/* Step arena: a list of chunks handed out by bumping an offset. See base.h for the contract. */
#include "selfsup/base.h"

#include <string.h>

struct sup_arena_chunk {
	struct sup_arena_chunk *next; /* older chunk */
	size_t cap;
	size_t off;
	_Alignas(SUP_ARENA_ALIGN) unsigned char mem[];
};

static size_t align_up(size_t n)
{
	return (n + SUP_ARENA_ALIGN - 1) & ~(size_t)(SUP_ARENA_ALIGN - 1);
}

static struct sup_arena_chunk *chunk_new(struct sup_arena *a, size_t cap)
{
	if (cap > SIZE_MAX - sizeof(struct sup_arena_chunk))
		return NULL; /* the header + cap would wrap around to a small request */
	struct sup_arena_chunk *ch =
		sup_alloc(&a->alloc, sizeof(struct sup_arena_chunk) + cap, SUP_ARENA_ALIGN);
	if (!ch)
		return NULL;
	a->n_chunk_allocs++;
	ch->next = NULL;
	ch->cap = cap;
	ch->off = 0;
	return ch;
}

void sup_arena_init(struct sup_arena *a, struct sup_allocator alloc, size_t initial_bytes)
{
	memset(a, 0, sizeof *a);
	a->alloc = alloc;
	if (initial_bytes)
		a->head = chunk_new(a, align_up(initial_bytes));
}

void sup_arena_deinit(struct sup_arena *a)
{
	struct sup_arena_chunk *ch = a->head;
	while (ch) {
		struct sup_arena_chunk *next = ch->next;
		sup_free(&a->alloc, ch);
		ch = next;
	}
	a->head = NULL;
}

void *sup_arena_alloc(struct sup_arena *a, size_t size)
{
	size_t need = align_up(size ? size : 1);
	if (need < size)
		return NULL;
	struct sup_arena_chunk *ch = a->head;
	if (!ch || ch->cap - ch->off < need) {
		/* Grow geometrically so that a step touches few chunks before the first reset. */
		size_t cap = ch ? ch->cap * 2 : (size_t)1 << 20;
		if (cap < need)
			cap = need;
		struct sup_arena_chunk *fresh = chunk_new(a, cap);
		if (!fresh)
			return NULL;
		fresh->next = ch;
		a->head = ch = fresh;
	}
	void *p = ch->mem + ch->off;
	ch->off += need;
	a->used += need;
	if (a->used > a->high_water)
		a->high_water = a->used;
	return p;
}

void *sup_arena_calloc(struct sup_arena *a, size_t size)
{
	void *p = sup_arena_alloc(a, size);
	if (p)
		memset(p, 0, size);
	return p;
}

void sup_arena_reset(struct sup_arena *a)
{
	struct sup_arena_chunk *ch = a->head;
	if (ch && (ch->next || ch->cap < a->high_water)) {
		/* Several chunks, or one smaller than the high-water mark (the step reached it in a
		 * chunk that a rewind has freed since: scratch taken after a mark): replace them by
		 * one chunk that holds the high-water mark. */
		sup_arena_deinit(a);
		a->head = chunk_new(a, align_up(a->high_water));
	} else if (ch) {
		ch->off = 0;
	}
	a->used = 0;
}

struct sup_arena_mark sup_arena_mark(const struct sup_arena *a)
{
	return (struct sup_arena_mark){ .chunk = a->head, .off = a->head ? a->head->off : 0, .used = a->used };
}

void sup_arena_rewind(struct sup_arena *a, struct sup_arena_mark m)
{
	while (a->head && a->head != m.chunk) {
		struct sup_arena_chunk *next = a->head->next;
		if (!m.chunk && !next) {
			/* The mark predates the first chunk: keep that chunk, empty. */
			a->head->off = 0;
			a->used = 0;
			return;
		}
		sup_free(&a->alloc, a->head);
		a->head = next;
	}
	if (a->head)
		a->head->off = m.off;
	a->used = m.used;
}
