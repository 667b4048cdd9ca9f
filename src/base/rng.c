/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011, section 3.2 and the constants of its Table 2). */
#include "selfsup/base.h"

#include <math.h>

#define TWO_PI 6.283185307179586476925

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
	uint64_t p = (uint64_t)a * b;
	*hi = (uint32_t)(p >> 32);
	*lo = (uint32_t)p;
}

void sup_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
	uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
	uint32_t k0 = key[0], k1 = key[1];
	for (int round = 0; round < 10; round++) {
		uint32_t hi0, lo0, hi1, lo1;
		mulhilo(PHILOX_M0, c0, &hi0, &lo0);
		mulhilo(PHILOX_M1, c2, &hi1, &lo1);
		uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
		c0 = n0;
		c1 = lo1;
		c2 = n2;
		c3 = lo0;
		k0 += PHILOX_W0;
		k1 += PHILOX_W1;
	}
	out[0] = c0;
	out[1] = c1;
	out[2] = c2;
	out[3] = c3;
}

/* SplitMix64 finaliser: spreads (seed, stream) over the whole key space. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

struct sup_rng sup_rng_make(uint64_t seed, uint64_t stream)
{
	return (struct sup_rng){ .key = mix64(seed ^ mix64(stream)), .counter = 0 };
}

uint32_t sup_rng_u32_at(uint64_t key, uint64_t i)
{
	const uint64_t block = i >> 2;
	const uint32_t ctr[4] = { (uint32_t)block, (uint32_t)(block >> 32), 0, 0 };
	const uint32_t k[2] = { (uint32_t)key, (uint32_t)(key >> 32) };
	uint32_t out[4];
	sup_philox4x32(ctr, k, out);
	return out[i & 3];
}

float sup_rng_uniform_at(uint64_t key, uint64_t i)
{
	return (float)(sup_rng_u32_at(key, i) >> 8) * (1.0f / 16777216.0f);
}

double sup_rng_normal_at(uint64_t key, uint64_t i)
{
	/* 53-bit uniforms; u1 in (0, 1] keeps the log finite. */
	uint64_t a = ((uint64_t)sup_rng_u32_at(key, 4 * i) << 21) ^ (sup_rng_u32_at(key, 4 * i + 1) >> 11);
	uint64_t b = ((uint64_t)sup_rng_u32_at(key, 4 * i + 2) << 21) ^ (sup_rng_u32_at(key, 4 * i + 3) >> 11);
	double u1 = ((double)(a & ((1ull << 53) - 1)) + 1.0) / 9007199254740992.0;
	double u2 = (double)(b & ((1ull << 53) - 1)) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

uint32_t sup_rng_u32(struct sup_rng *r)
{
	return sup_rng_u32_at(r->key, r->counter++);
}

float sup_rng_uniform(struct sup_rng *r)
{
	return sup_rng_uniform_at(r->key, r->counter++);
}

double sup_rng_normal(struct sup_rng *r)
{
	/* normal_at(i) consumes words 4i..4i+3: keep the counter on a multiple of 4. */
	uint64_t i = (r->counter + 3) / 4;
	r->counter = 4 * (i + 1);
	return sup_rng_normal_at(r->key, i);
}

uint64_t sup_rng_below(struct sup_rng *r, uint64_t n)
{
	SUP_ASSERT(n >= 1);
	/* Rejection sampling on 64-bit draws removes the modulo bias. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	for (;;) {
		uint64_t x = ((uint64_t)sup_rng_u32(r) << 32) | sup_rng_u32(r);
		if (x < limit)
			return x % n;
	}
}

void sup_rng_permutation(struct sup_rng *r, int64_t *perm, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		perm[i] = i;
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)sup_rng_below(r, (uint64_t)i + 1);
		int64_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}
