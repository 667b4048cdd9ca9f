/* Vectorisable f32 exp, sigmoid and softplus for the fast elementwise kernels.
 *
 * Why: glibc's expf/log1pf are scalar calls (libm's vector variants need -ffast-math), so a loop
 * over them does not vectorise; on GAE's N x N softplus they were 70% of the step. These
 * versions are straight-line float arithmetic and selects that `omp simd` turns into vector code.
 *
 * Contract (tested against double-precision values in tests/kernels/test_vmath.c): relative error
 * below 4e-7 (about 3 ulp) wherever the true result is a normal float; subnormal results are
 * within 4e-7 FLT_MIN + one subnormal step of the truth; below e^-103.97 (half the smallest
 * subnormal) the result is 0; exp overflows to +inf for x > 88.72; NaN in gives NaN out.
 *
 * exp: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, with n rounded by the 1.5 * 2^23 trick
 * (no rounding instruction needed at baseline x86-64), then the degree-7 Taylor polynomial of e^r
 * (truncation r^8/8! < 6e-9) and 2^n assembled in the exponent bits.
 * log1p(e) for e in [0, 1]: u = 1 + e rounded, log u = k ln2 + 2 atanh(s), s = (m - 1)/(m + 1),
 * m = u / 2^k in [0.707, 1.414], odd series to s^9 (|s| <= 0.172, truncation < 1e-9); then the
 * rounding of u is undone to first order: log1p(e) = log u + (e - (u - 1)) / u. */
#ifndef SUP_KERNELS_CPU_VMATH_H
#define SUP_KERNELS_CPU_VMATH_H

#include <math.h>
#include <stdint.h>

#if defined(__GNUC__)
#define SUP_VM_INLINE static inline __attribute__((always_inline))
#else
#define SUP_VM_INLINE static inline
#endif

union sup_vm_bits {
	float f;
	int32_t i;
};

/* e^x. */
SUP_VM_INLINE float sup_vm_expf(float x)
{
	const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
	const float lo_lim = -103.972f, hi_lim = 88.72283f;
	float xc = x > lo_lim ? (x < hi_lim ? x : hi_lim) : lo_lim; /* NaN -> lo_lim (NaN restored below) */
	union sup_vm_bits t = { .f = xc * 1.44269504f + shift };
	float n = t.f - shift;
	int32_t ni = t.i - 0x4b400000; /* bits of `shift`: the integer n */
	float r = xc - n * 0.693359375f; /* ln2 split: the high part is exact in 9 bits */
	r = r - n * -2.12194440e-4f;
	float p = 1.0f / 5040;
	p = p * r + 1.0f / 720;
	p = p * r + 1.0f / 120;
	p = p * r + 1.0f / 24;
	p = p * r + 1.0f / 6;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	/* 2^n in two normal halves so that n = 128 (the top) and n down to -150 (subnormal results,
	 * rounded once by the last multiply) stay in range. */
	union sup_vm_bits s1 = { .i = (ni / 2 + 127) << 23 }, s2 = { .i = (ni - ni / 2 + 127) << 23 };
	float y = p * s1.f * s2.f;
	y = x < lo_lim ? 0.0f : y;
	y = x > hi_lim ? INFINITY : y;
	return x != x ? x : y;
}

/* log(1 + e) for e in [0, 1]. */
SUP_VM_INLINE float sup_vm_log1p_unit(float e)
{
	float u = 1.0f + e;
	float big = u > 1.41421356f ? 1.0f : 0.0f;
	float m = big != 0 ? 0.5f * u : u;
	float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
	float q = 1.0f / 9;
	q = q * s2 + 1.0f / 7;
	q = q * s2 + 1.0f / 5;
	q = q * s2 + 1.0f / 3;
	q = q * s2 + 1.0f;
	float lg = big * 0.693147181f + 2.0f * s * q;
	return lg + (e - (u - 1.0f)) / u;
}

/* 1 / (1 + e^-x), without overflow for either sign. */
SUP_VM_INLINE float sup_vm_sigmoidf(float x)
{
	float ax = x < 0 ? -x : x;
	float e = sup_vm_expf(-ax);
	float r = 1.0f / (1.0f + e);
	return x >= 0 ? r : e * r;
}

/* log(1 + e^x) = max(x, 0) + log1p(e^-|x|). */
SUP_VM_INLINE float sup_vm_softplusf(float x)
{
	float ax = x < 0 ? -x : x;
	float y = (x > 0 ? x : 0.0f) + sup_vm_log1p_unit(sup_vm_expf(-ax));
	return x != x ? x : y;
}

#endif
