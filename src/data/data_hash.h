/* Private to src/data/ (text, tokenizer, graph): an open-addressing hash table from 64-bit keys
 * to int64 values, used both for integer keys (edge pairs, token pairs) and for byte strings
 * (key = 64-bit hash of the string, equality settled by the caller's compare callback, so that
 * two strings with the same hash are still kept apart).
 *
 * Contract: capacity is a power of two, kept at most half full; memory from the allocator given
 * to dh_init; no value may be DH_EMPTY's sentinel meaning (values are any int64). */
#ifndef SELFSUP_DATA_HASH_H
#define SELFSUP_DATA_HASH_H

#include "selfsup/base.h"

#include <stdbool.h>
#include <string.h>

struct dh_map {
	struct sup_allocator alloc;
	uint64_t *keys;
	int64_t *vals;
	uint8_t *used;
	size_t cap, n;
};

static inline uint64_t dh_mix(uint64_t x)
{
	/* splitmix64 finaliser: good avalanche for sequential integer keys. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static inline uint64_t dh_hash_bytes(const void *p, size_t n)
{
	/* FNV-1a, then a finaliser so that short strings spread over the whole table. */
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return dh_mix(h ^ n);
}

static inline bool dh_alloc_arrays(struct dh_map *m, size_t cap)
{
	m->keys = sup_alloc(&m->alloc, cap * sizeof *m->keys, 64);
	m->vals = sup_alloc(&m->alloc, cap * sizeof *m->vals, 64);
	m->used = sup_alloc(&m->alloc, cap, 64);
	if (!m->keys || !m->vals || !m->used) {
		sup_free(&m->alloc, m->keys);
		sup_free(&m->alloc, m->vals);
		sup_free(&m->alloc, m->used);
		m->keys = NULL, m->vals = NULL, m->used = NULL;
		return false;
	}
	memset(m->used, 0, cap);
	m->cap = cap;
	return true;
}

/* expected: number of keys expected (a hint; the table grows). false when out of memory. */
static inline bool dh_init(struct dh_map *m, const struct sup_allocator *a, size_t expected)
{
	size_t cap = 16;
	while (cap < 2 * expected + 2)
		cap <<= 1;
	m->alloc = *a;
	m->n = 0;
	return dh_alloc_arrays(m, cap);
}

static inline void dh_free(struct dh_map *m)
{
	sup_free(&m->alloc, m->keys);
	sup_free(&m->alloc, m->vals);
	sup_free(&m->alloc, m->used);
	m->keys = NULL, m->vals = NULL, m->used = NULL;
	m->cap = m->n = 0;
}

/* Integer keys: the slot holding key, or the empty slot where it would go. */
static inline size_t dh_slot(const struct dh_map *m, uint64_t key)
{
	size_t i = (size_t)dh_mix(key) & (m->cap - 1);
	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static inline bool dh_grow(struct dh_map *m)
{
	struct dh_map old = *m;
	if (!dh_alloc_arrays(m, old.cap * 2)) {
		*m = old;
		return false;
	}
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.used[i])
			continue;
		size_t j = (size_t)dh_mix(old.keys[i]) & (m->cap - 1);
		while (m->used[j])
			j = (j + 1) & (m->cap - 1);
		m->used[j] = 1, m->keys[j] = old.keys[i], m->vals[j] = old.vals[i];
	}
	dh_free(&old);
	return true;
}

static inline bool dh_get(const struct dh_map *m, uint64_t key, int64_t *val)
{
	size_t i = dh_slot(m, key);
	if (!m->used[i])
		return false;
	if (val)
		*val = m->vals[i];
	return true;
}

/* Inserts or overwrites; false when out of memory. */
static inline bool dh_put(struct dh_map *m, uint64_t key, int64_t val)
{
	if (2 * (m->n + 1) > m->cap && !dh_grow(m))
		return false;
	size_t i = dh_slot(m, key);
	if (!m->used[i])
		m->used[i] = 1, m->keys[i] = key, m->n++;
	m->vals[i] = val;
	return true;
}

/* Adds delta to the value of key (absent keys start at 0); false when out of memory. */
static inline bool dh_add(struct dh_map *m, uint64_t key, int64_t delta)
{
	int64_t v = 0;
	dh_get(m, key, &v);
	return dh_put(m, key, v + delta);
}

/* ---- byte-string keys ---------------------------------------------------------------------- */

/* Values of a string map are indices into the caller's own list of strings; eq(user, val, s, n)
 * says whether the string of value val equals s[0..n). Hashes may collide, so several slots may
 * hold the same 64-bit key: probing continues past slots whose string differs. */
typedef bool (*dh_eq_fn)(const void *user, int64_t val, const void *s, size_t n);

/* Value of the string, or -1 when absent. */
static inline int64_t dh_str_get(const struct dh_map *m, const void *s, size_t n, dh_eq_fn eq, const void *user)
{
	uint64_t h = dh_hash_bytes(s, n);
	size_t i = (size_t)dh_mix(h) & (m->cap - 1);
	for (; m->used[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == h && eq(user, m->vals[i], s, n))
			return m->vals[i];
	return -1;
}

/* Inserts a string that is known to be absent, under value val. false when out of memory. */
static inline bool dh_str_insert(struct dh_map *m, const void *s, size_t n, int64_t val)
{
	if (2 * (m->n + 1) > m->cap && !dh_grow(m))
		return false;
	uint64_t h = dh_hash_bytes(s, n);
	size_t i = (size_t)dh_mix(h) & (m->cap - 1);
	while (m->used[i])
		i = (i + 1) & (m->cap - 1);
	m->used[i] = 1, m->keys[i] = h, m->vals[i] = val, m->n++;
	return true;
}

#endif
