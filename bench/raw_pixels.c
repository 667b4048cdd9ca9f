/* build/bench/raw_pixels [DIR]
 * The raw-pixel baseline of the representation protocols: the linear probe and the weighted kNN
 * of `selfsup eval linear,knn` (src/eval/, default options, as src/cli/eval_run.c runs them) on
 * the pixels themselves (x / 255, C*H*W features) of an IDX folder (default: Fashion-MNIST).
 * Prints one JSON line {"data","dim","linear_acc","knn_acc","seconds"}. */
#define _POSIX_C_SOURCE 200809L

#include "bench_time.h"
#include "selfsup/data.h"
#include "selfsup/eval.h"

#include <stdio.h>
#include <stdlib.h>

static int load(struct sup_image_set *set, float **x, int64_t **y, int64_t *n, int64_t *d, const char *dir, bool train,
		const struct sup_allocator *al)
{
	char err[512];
	if (sup_image_set_load_idx(set, dir, train, al, err, sizeof err) != SUP_OK) {
		fprintf(stderr, "raw_pixels: %s\n", err);
		return 1;
	}
	*n = set->images.shape[0];
	*d = set->images.shape[1] * set->images.shape[2] * set->images.shape[3];
	*x = malloc(sizeof(float) * (size_t)(*n * *d));
	*y = malloc(sizeof(int64_t) * (size_t)*n);
	if (!*x || !*y)
		return 1;
	sup_image_u8_to_float(*x, set->images.data, *n * *d);
	for (int64_t i = 0; i < *n; i++)
		(*y)[i] = ((const uint8_t *)set->labels.data)[i];
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : SUP_FASHION_MNIST_DIR;
	struct sup_allocator al = sup_allocator_default();
	struct sup_image_set tr = {0}, te = {0};
	float *xtr = NULL, *xte = NULL;
	int64_t *ytr = NULL, *yte = NULL, ntr, nte, d;
	double t0 = bench_wall_ms();
	if (load(&tr, &xtr, &ytr, &ntr, &d, dir, true, &al) || load(&te, &xte, &yte, &nte, &d, dir, false, &al))
		return 1;
	const struct sup_eval_set a = {xtr, ytr, SUP_I64, ntr, d}, b = {xte, yte, SUP_I64, nte, d};
	struct sup_linear_probe_opts lo;
	sup_linear_probe_opts_default(&lo);
	struct sup_linear_probe_result lr;
	struct sup_knn_opts ko;
	sup_knn_opts_default(&ko);
	struct sup_knn_result kr;
	char err[512];
	if (sup_eval_linear_probe(&a, NULL, &b, &lo, &lr, err, sizeof err) != SUP_OK ||
	    sup_eval_knn(&a, &b, &ko, &kr, NULL, err, sizeof err) != SUP_OK) {
		fprintf(stderr, "raw_pixels: %s\n", err);
		return 1;
	}
	printf("{\"data\":\"%s\",\"dim\":%lld,\"linear_acc\":%.4f,\"knn_acc\":%.4f,\"seconds\":%.1f}\n", dir, (long long)d,
	       lr.top1, kr.top1, (bench_wall_ms() - t0) * 1e-3);
	free(xtr);
	free(xte);
	free(ytr);
	free(yte);
	sup_image_set_free(&tr, &al);
	sup_image_set_free(&te, &al);
	return 0;
}
