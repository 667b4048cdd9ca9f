/* Timing helpers shared by the benchmark programs (the programs in bench/ and bench/workloads/).
 *
 * Units: every clock reads milliseconds as a double; only differences of two readings of the
 * same clock mean anything (the origins are unspecified). A program that reports seconds
 * converts the difference: (bench_wall_ms() - t0) * 1e-3.
 *   bench_wall_ms     wall-clock time, CLOCK_MONOTONIC (not affected by clock adjustments)
 *   bench_cpu_ms      CPU time of the whole process (all threads), CLOCK_PROCESS_CPUTIME_ID
 *   bench_cmp_double  qsort comparator for doubles, ascending
 *   bench_sort        sorts v[0..n) ascending in place (n >= 0)
 *   bench_median      sorts v[0..n) in place (n >= 1) and returns its median: the middle element
 *                     for odd n, the mean of the two middle ones for even n; v[0] is then the
 *                     minimum and v[n - 1] the maximum
 *
 * clock_gettime is POSIX: each .c that includes this header must `#define _POSIX_C_SOURCE
 * 200809L` before its first #include of anything. */
#ifndef SELFSUP_BENCH_TIME_H
#define SELFSUP_BENCH_TIME_H

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#error "bench_time.h: #define _POSIX_C_SOURCE 200809L before the first #include"
#endif

#include <stdlib.h>
#include <time.h>

static inline double bench_wall_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static inline double bench_cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static inline void bench_sort(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
}

static inline double bench_median(double *v, int n)
{
	bench_sort(v, n);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
