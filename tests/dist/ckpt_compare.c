/* ckpt_compare A.safetensors B.safetensors [RTOL [ATOL [REPORT_ONLY]]]: exit 0 when both checkpoints hold the
 * same tensor names and shapes, every float tensor satisfies max|a - b| <= ATOL + RTOL max|b|
 * (defaults 1e-4 and 1e-6; normwise per tensor), and integer tensors are equal; otherwise prints the worst tensor and
 * exits 1 (2 on bad usage). REPORT_ONLY is a comma-separated list of name prefixes; a tensor
 * whose name starts with one of them is compared and reported but does not fail. Used by tests/dist/mpi_equivalence.sh to compare a one-process run
 * with an `mpirun -np 2` run: parameters, BN running statistics, queues, optimizer slots. */
#include "selfsup/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* name starts with one of the comma-separated prefixes of list (NULL: none). */
static bool report_only_match(const char *list, const char *name)
{
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		const size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len && strncmp(name, p, len) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ckpt_compare A.safetensors B.safetensors [RTOL [ATOL]]\n");
		return 2;
	}
	const double rtol = argc > 3 ? atof(argv[3]) : 1e-4, atol = argc > 4 ? atof(argv[4]) : 1e-6;
	const char *report_only = argc > 5 ? argv[5] : NULL;
	struct sup_allocator al = sup_allocator_default();
	struct sup_safetensors *a = NULL, *b = NULL;
	char err[512];
	if (sup_safetensors_load(&a, &al, argv[1], err, sizeof err) != SUP_OK ||
	    sup_safetensors_load(&b, &al, argv[2], err, sizeof err) != SUP_OK) {
		fprintf(stderr, "ckpt_compare: %s\n", err);
		sup_safetensors_free(a);
		return 2;
	}
	int bad = 0;
	double worst = 0;
	const char *worst_name = "";
	int64_t compared = 0;
	if (a->n_entries != b->n_entries) {
		fprintf(stderr, "ckpt_compare: %lld tensors vs %lld\n", (long long)a->n_entries, (long long)b->n_entries);
		bad = 1;
	}
	for (int64_t e = 0; e < a->n_entries; e++) {
		const struct sup_tensor *ta = &a->entries[e].tensor, *tb = sup_safetensors_get(b, a->entries[e].name);
		if (!tb || ta->dtype != tb->dtype || !sup_tensor_same_shape(ta, tb)) {
			fprintf(stderr, "ckpt_compare: %s: missing or of another dtype/shape in %s\n", a->entries[e].name,
				argv[2]);
			bad = 1;
			continue;
		}
		const int64_t n = sup_tensor_numel(ta);
		const bool fl = ta->dtype == SUP_F32 || ta->dtype == SUP_F64;
		double dmax = 0, ymax = 0;
		for (int64_t i = 0; i < n; i++) {
			const double x = sup_tensor_get(ta, i), y = sup_tensor_get(tb, i);
			const double d = fl ? fabs(x - y) : (x == y ? 0 : INFINITY);
			dmax = isnan(d) || d > dmax ? (isnan(d) ? INFINITY : d) : dmax;
			ymax = fabs(y) > ymax ? fabs(y) : ymax;
			compared++;
		}
		/* Normwise per tensor: max |a - b| <= ATOL + RTOL max |b|. Elementwise relative error is
		 * meaningless for the elements of a weight or momentum tensor that sit near zero, where
		 * rounding differences of the summation order are as large as the elements. */
		const double tw = dmax / (atol + rtol * ymax);
		const bool only_report = report_only_match(report_only, a->entries[e].name);
		if (tw > worst && !only_report) {
			worst = tw;
			worst_name = a->entries[e].name;
		}
		if (tw > 1) /* every tensor beyond tolerance, to see where a divergence starts */
			printf("  %-48s %.3g x tolerance%s\n", a->entries[e].name, tw, only_report ? " (reported only)" : "");
	}
	printf("ckpt_compare: %lld elements in %lld tensors; worst %.3g x tolerance (%s)\n", (long long)compared,
	       (long long)a->n_entries, worst, worst_name);
	if (worst > 1) {
		fprintf(stderr, "ckpt_compare: %s differs beyond rtol %g atol %g\n", worst_name, rtol, atol);
		bad = 1;
	}
	sup_safetensors_free(a);
	sup_safetensors_free(b);
	return bad;
}
