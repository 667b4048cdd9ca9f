/* base layer: status strings, arena, gradient pool, RNG. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* An allocator that counts calls, to see that the arena reaches a steady state. */
struct counting {
	int allocs, frees;
};
static void *count_alloc(void *u, size_t size, size_t align)
{
	((struct counting *)u)->allocs++;
	return sup_allocator_default().alloc(NULL, size, align);
}
static void count_free(void *u, void *p)
{
	((struct counting *)u)->frees++;
	free(p);
}

/* An allocator that never allocates and remembers the smallest size it was asked for. */
static void *refuse_alloc(void *u, size_t size, size_t align)
{
	(void)align;
	size_t *smallest = u;
	*smallest = size < *smallest ? size : *smallest;
	return NULL;
}
static void refuse_free(void *u, void *p)
{
	(void)u, (void)p;
}

/* Requests near SIZE_MAX fail cleanly in the arena and the pool: their chunk header + size must
 * not wrap around into a small request that the allocator would grant. */
static void test_huge_requests(void)
{
	size_t smallest = SIZE_MAX;
	struct sup_allocator al = { refuse_alloc, refuse_free, &smallest };
	struct sup_arena a;
	struct sup_pool p;
	sup_arena_init(&a, al, 0);
	sup_pool_init(&p, al);
	bool all_null = true;
	for (size_t i = 0; i < 512; i++)
		all_null = all_null && sup_arena_alloc(&a, SIZE_MAX - i) == NULL && sup_pool_alloc(&p, SIZE_MAX - i) == NULL;
	TU_CHECK(all_null);
	TU_CHECK_MSG(smallest > SIZE_MAX / 2, "a huge request reached the allocator as %zu bytes", smallest);
	sup_arena_deinit(&a);
	sup_pool_deinit(&p);
}

static void test_status(void)
{
	for (int s = 0; s < SUP_STATUS_COUNT; s++)
		TU_CHECK(strlen(sup_status_str((enum sup_status)s)) > 0);
	TU_CHECK(strcmp(sup_status_str(SUP_ERR_SHAPE), "shape mismatch") == 0);
	TU_CHECK(strcmp(sup_status_str((enum sup_status)99), "unknown status") == 0);
}

static void test_arena(void)
{
	struct counting cnt = { 0 };
	struct sup_allocator al = { count_alloc, count_free, &cnt };
	struct sup_arena a;
	sup_arena_init(&a, al, 0);
	for (int step = 0; step < 5; step++) {
		for (int i = 0; i < 100; i++) {
			char *p = sup_arena_alloc(&a, 70000 + (size_t)i);
			TU_CHECK(p && ((uintptr_t)p % SUP_ARENA_ALIGN) == 0);
			if (p)
				memset(p, i, 70000);
		}
		int before = cnt.allocs;
		sup_arena_reset(&a);
		if (step >= 1)
			TU_CHECK_MSG(cnt.allocs == before, "step %d: reset allocated again", step);
	}
	int allocs_after_warmup = cnt.allocs;
	for (int i = 0; i < 100; i++)
		sup_arena_alloc(&a, 70000 + (size_t)i);
	TU_CHECK_MSG(cnt.allocs == allocs_after_warmup, "a steady-state step must not allocate");
	/* Scratch taken after a mark and rewound at once (the convolutions' work memory) raises the
	 * high-water mark in a chunk the rewind frees: the next reset must still grow the arena. */
	for (int step = 0; step < 4; step++) {
		sup_arena_reset(&a);
		if (step == 2)
			allocs_after_warmup = cnt.allocs;
		for (int i = 0; i < 10; i++) {
			sup_arena_alloc(&a, 70000);
			struct sup_arena_mark sm = sup_arena_mark(&a);
			sup_arena_alloc(&a, (size_t)1 << 24);
			sup_arena_rewind(&a, sm);
		}
	}
	TU_CHECK_MSG(cnt.allocs == allocs_after_warmup, "steps with rewound scratch must not allocate (%d calls)",
		     cnt.allocs - allocs_after_warmup);
	struct sup_arena_mark m = sup_arena_mark(&a);
	size_t used = a.used;
	sup_arena_alloc(&a, (size_t)1 << 26);
	sup_arena_rewind(&a, m);
	TU_CHECK(a.used == used);
	sup_arena_deinit(&a);
	TU_CHECK(cnt.allocs == cnt.frees);
}

/* The gradient pool: freed blocks are reused (best fit) and merge with free neighbours; live
 * blocks never overlap (each keeps the pattern written into it); a repeated sequence of requests
 * stops calling the allocator after a few resets. */

/* Whether p[0..n) all hold the byte v. */
static bool holds(const char *p, size_t n, int v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (char)v)
			return false;
	return true;
}

static void test_pool(void)
{
	struct counting cnt = { 0 };
	struct sup_allocator al = { count_alloc, count_free, &cnt };
	struct sup_pool p;
	sup_pool_init(&p, al);
	/* Coalescing: three neighbours freed in the order middle, left, right come back as one
	 * block that holds their sum (minus nothing: it is the same memory). */
	char *a = sup_pool_alloc(&p, 1000), *b = sup_pool_alloc(&p, 2000), *c = sup_pool_alloc(&p, 3000);
	TU_CHECK(a && b && c && (uintptr_t)a % SUP_POOL_ALIGN == 0 && (uintptr_t)b % SUP_POOL_ALIGN == 0);
	TU_CHECK(a < b && b < c && cnt.allocs == 1);
	memset(a, 1, 1000), memset(b, 2, 2000), memset(c, 3, 3000);
	TU_CHECK(holds(a, 1000, 1) && holds(b, 2000, 2) && holds(c, 3000, 3));
	sup_pool_free(&p, b);
	sup_pool_free(&p, a);
	sup_pool_free(&p, c);
	TU_CHECK(p.used == 0);
	char *big = sup_pool_alloc(&p, 6000);
	TU_CHECK(big == a && cnt.allocs == 1);
	/* Best fit: of two holes, the smaller one that fits is taken. */
	char *d = sup_pool_alloc(&p, 4096), *e = sup_pool_alloc(&p, 64), *f = sup_pool_alloc(&p, 1024);
	char *g = sup_pool_alloc(&p, 64);
	memset(e, 5, 64), memset(g, 7, 64);
	sup_pool_free(&p, d);
	sup_pool_free(&p, f);
	char *f2 = sup_pool_alloc(&p, 1000), *d2 = sup_pool_alloc(&p, 2000);
	TU_CHECK(f2 == f && d2 == d);
	memset(f2, 8, 1000), memset(d2, 9, 2000);
	TU_CHECK(holds(e, 64, 5) && holds(g, 64, 7) && holds(f2, 1000, 8) && holds(d2, 2000, 9));
	sup_pool_free(&p, NULL);
	/* Steady state: a step frees some buffers mid-way and keeps the rest to the end. */
	int allocs_before = 0;
	for (int step = 0; step < 8; step++) {
		sup_pool_reset(&p);
		if (step == 4)
			allocs_before = cnt.allocs;
		char *live[40] = { 0 };
		for (int i = 0; i < 40; i++) {
			live[i] = sup_pool_alloc(&p, ((size_t)1 << 16) * (size_t)(1 + i % 7));
			TU_CHECK(live[i] != NULL);
			if (live[i])
				memset(live[i], i, ((size_t)1 << 16) * (size_t)(1 + i % 7));
			if (i >= 3 && i % 3 == 0) {
				sup_pool_free(&p, live[i - 2]);
				live[i - 2] = NULL;
			}
		}
		/* every block still live holds its own pattern: no two overlapped */
		for (int i = 0; i < 40; i++)
			TU_CHECK_MSG(!live[i] || holds(live[i], ((size_t)1 << 16) * (size_t)(1 + i % 7), i),
				     "step %d: block %d was overwritten", step, i);
	}
	TU_CHECK_MSG(cnt.allocs == allocs_before, "steady-state steps must not allocate (%d calls)",
		     cnt.allocs - allocs_before);
	TU_CHECK(p.high_water >= p.used && p.capacity >= p.high_water);
	sup_pool_deinit(&p);
	TU_CHECK(cnt.allocs == cnt.frees);
}

static void test_philox(void)
{
	/* Known-answer test from the Random123 distribution (kat_vectors: philox4x32_10). */
	const uint32_t ctr[4] = { 0, 0, 0, 0 }, key[2] = { 0, 0 };
	uint32_t out[4];
	sup_philox4x32(ctr, key, out);
	TU_CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u);
	const uint32_t ctr2[4] = { 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu }, key2[2] = { 0xffffffffu, 0xffffffffu };
	sup_philox4x32(ctr2, key2, out);
	TU_CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u && out[3] == 0x6d5451fdu);
}

static void test_rng_stream(void)
{
	struct sup_rng r = sup_rng_make(7, 1);
	/* Sequential draws equal the stateless i-th draws: any split over threads gives the same. */
	for (uint64_t i = 0; i < 50; i++)
		TU_CHECK(sup_rng_u32(&r) == sup_rng_u32_at(r.key, i));
	struct sup_rng a = sup_rng_make(7, 1), b = sup_rng_make(7, 2), c = sup_rng_make(8, 1);
	TU_CHECK(a.key != b.key && a.key != c.key);
	double sum = 0, sq = 0;
	int n = 20000;
	for (int i = 0; i < n; i++) {
		double x = sup_rng_normal(&a);
		sum += x;
		sq += x * x;
	}
	TU_CHECK_NEAR(sum / n, 0.0, 0.05);
	TU_CHECK_NEAR(sq / n, 1.0, 0.05);
	float lo = 1, hi = 0;
	for (int i = 0; i < n; i++) {
		float u = sup_rng_uniform(&b);
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
	}
	TU_CHECK(lo >= 0 && hi < 1 && lo < 0.01f && hi > 0.99f);
	int64_t perm[100], seen[100] = { 0 };
	sup_rng_permutation(&c, perm, 100);
	for (int i = 0; i < 100; i++)
		seen[perm[i]]++;
	int ok = 1;
	for (int i = 0; i < 100; i++)
		ok &= seen[i] == 1;
	TU_CHECK(ok);
}

int main(void)
{
	test_status();
	test_arena();
	test_pool();
	test_huge_requests();
	test_philox();
	test_rng_stream();
	return tu_finish("base");
}
