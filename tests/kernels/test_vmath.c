/* The vectorisable exp, sigmoid and softplus of src/kernels/cpu/vmath.h against double-precision
 * values: a dense sweep of [-100, 100], the ends of the ranges, and special values. The contract:
 * relative error < 4e-7 wherever the true result is a normal float, absolute error within
 * 4e-7 FLT_MIN + one subnormal step below it; +inf above the exp overflow; NaN in, NaN out. */
#include "testutil.h"

#include "kernels/cpu/vmath.h"

#include <float.h>
#include <math.h>

#define REL_TOL 4e-7

static double sigmoid_ref(double x)
{
	return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static double softplus_ref(double x)
{
	return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
}

/* Max relative error of f over the normal-result points of the sweep; *bad counts contract
 * violations outside them (overflow that is not +inf, subnormal results off by more than the
 * bound). */
static double sweep(float (*f)(float), double (*ref)(double), int *bad)
{
	double worst = 0;
	for (int i = 0; i <= 2000000; i++) {
		const float x = (float)(-100.0 + 200.0 * i / 2000000.0);
		const double t = ref((double)x), y = (double)f(x);
		if (t > FLT_MAX) {
			*bad += !isinf(y);
		} else if (t >= FLT_MIN) {
			const double e = fabs(y - t) / t;
			worst = e > worst ? e : worst;
		} else {
			*bad += !(fabs(y - t) <= REL_TOL * FLT_MIN + 0x1p-149);
		}
	}
	return worst;
}

static float vexp(float x)
{
	return sup_vm_expf(x);
}
static float vsig(float x)
{
	return sup_vm_sigmoidf(x);
}
static float vsoftplus(float x)
{
	return sup_vm_softplusf(x);
}

/* The same loops vectorised: results must not depend on whether a lane is vector or scalar. */
static void check_vector_loop(void)
{
	enum { N = 1031 };
	float x[N], y[N];
	for (int i = 0; i < N; i++)
		x[i] = -90.0f + 180.0f * (float)i / N;
#pragma omp simd
	for (int i = 0; i < N; i++)
		y[i] = sup_vm_softplusf(x[i]);
	int diff = 0;
	for (int i = 0; i < N; i++)
		diff += y[i] != vsoftplus(x[i]);
	TU_CHECK_MSG(diff == 0, "%d lanes differ between the vector and scalar softplus", diff);
}

int main(void)
{
	int bad = 0;
	double e = sweep(vexp, exp, &bad);
	TU_CHECK_MSG(e < REL_TOL && bad == 0, "exp: max rel err %.3g, %d range violations", e, bad);
	bad = 0;
	e = sweep(vsig, sigmoid_ref, &bad);
	TU_CHECK_MSG(e < REL_TOL && bad == 0, "sigmoid: max rel err %.3g, %d range violations", e, bad);
	bad = 0;
	e = sweep(vsoftplus, softplus_ref, &bad);
	TU_CHECK_MSG(e < REL_TOL && bad == 0, "softplus: max rel err %.3g, %d range violations", e, bad);

	/* Small |x| where log1p's rounding correction matters, and exact points. */
	for (int k = 1; k <= 30; k++) {
		const float x = -(float)k * 2.9f;
		const double t = softplus_ref(x);
		TU_CHECK_MSG(fabs(vsoftplus(x) - t) / t < REL_TOL, "softplus(%g) = %.9g, want %.9g", (double)x,
			     (double)vsoftplus(x), t);
	}
	TU_CHECK(vexp(0.0f) == 1.0f);
	TU_CHECK(vsig(0.0f) == 0.5f);
	TU_CHECK(isinf(vexp(89.0f)) && vexp(89.0f) > 0);
	TU_CHECK(vexp(-200.0f) == 0.0f);
	TU_CHECK(vexp(-100.0f) > 0 && vexp(-100.0f) < FLT_MIN); /* subnormal, not flushed */
	TU_CHECK(vexp(-INFINITY) == 0.0f && isinf(vexp(INFINITY)));
	TU_CHECK(vsig(INFINITY) == 1.0f && vsig(-INFINITY) == 0.0f);
	TU_CHECK(isinf(vsoftplus(INFINITY)) && vsoftplus(-INFINITY) == 0.0f);
	TU_CHECK(isnan(vexp(NAN)) && isnan(vsig(NAN)) && isnan(vsoftplus(NAN)));
	check_vector_loop();
	return tu_finish("kernels/vmath");
}
