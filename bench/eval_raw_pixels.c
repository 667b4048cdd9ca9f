/* Evaluation protocols on raw Fashion-MNIST pixels: the "raw input" baseline row of every results
 * table, and a speed check of src/eval. Pixels are scaled to [0, 1] (the probe standardises them
 * anyway); train = 60000 images, test = 10000, D = 784, 10 classes.
 *
 *   bench/eval_raw_pixels [--dir DIR] [--skip-knn] [--skip-linear] [--cluster] [--n-train N]
 *                         [--k K] [--tau T] [--json]
 *
 * Linear probe: default options (l2 grid 1e-6..1e-1 chosen on a seeded 10% hold-out, refit on
 * all 60000); Xiao et al. 2017 (the Fashion-MNIST paper, Table 3) report 84.2% for
 * LogisticRegression on raw pixels. kNN: k = 200, tau = 0.07 on L2-normalised pixels. --cluster
 * adds k-means (k = 10, 3 restarts) on the test images with NMI / ARI. Threads: OMP_NUM_THREADS
 * and OPENBLAS_NUM_THREADS as usual. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench_time.h"
#include "selfsup/data.h"
#include "selfsup/eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Float features in [0, 1] and int32 labels of the first n images of a set (n <= 0: all). */
static int to_eval_set(const struct sup_image_set *s, int64_t n, struct sup_eval_set *out)
{
	int64_t total = s->images.shape[0], d = 1;
	for (int i = 1; i < s->images.ndim; i++)
		d *= s->images.shape[i];
	if (n <= 0 || n > total)
		n = total;
	float *x = malloc((size_t)(n * d) * sizeof *x);
	int32_t *y = malloc((size_t)n * sizeof *y);
	if (!x || !y) {
		free(x), free(y);
		return -1;
	}
	const uint8_t *px = s->images.data, *py = s->labels.data;
	for (int64_t i = 0; i < n * d; i++)
		x[i] = (float)px[i] / 255.0f;
	for (int64_t i = 0; i < n; i++)
		y[i] = py[i];
	*out = (struct sup_eval_set){ .x = x, .labels = y, .label_dtype = SUP_I32, .n = n, .d = d };
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = SUP_FASHION_MNIST_DIR;
	bool knn = true, linear = true, cluster = false, json = false;
	int64_t n_train = 0;
	struct sup_knn_opts ko;
	sup_knn_opts_default(&ko);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--n-train") && i + 1 < argc)
			n_train = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--k") && i + 1 < argc)
			ko.k = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--tau") && i + 1 < argc)
			ko.tau = atof(argv[++i]);
		else if (!strcmp(argv[i], "--skip-knn"))
			knn = false;
		else if (!strcmp(argv[i], "--skip-linear"))
			linear = false;
		else if (!strcmp(argv[i], "--cluster"))
			cluster = true;
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else {
			fprintf(stderr, "usage: %s [--dir DIR] [--skip-knn] [--skip-linear] [--cluster] [--n-train N] [--k K] [--tau T] [--json]\n",
				argv[0]);
			return 2;
		}
	}
	struct sup_allocator al = sup_allocator_default();
	struct sup_image_set tr, te;
	char err[512];
	if (sup_image_set_load_idx(&tr, dir, true, &al, err, sizeof err) != SUP_OK ||
	    sup_image_set_load_idx(&te, dir, false, &al, err, sizeof err) != SUP_OK) {
		fprintf(stderr, "eval_raw_pixels: %s\n", err);
		return 1;
	}
	struct sup_eval_set train, test;
	if (to_eval_set(&tr, n_train, &train) || to_eval_set(&te, 0, &test)) {
		fprintf(stderr, "eval_raw_pixels: out of memory\n");
		return 1;
	}
	sup_image_set_free(&tr, &al);
	sup_image_set_free(&te, &al);
	int rc = 0;
	if (linear) {
		struct sup_linear_probe_result r;
		double t0 = bench_wall_ms();
		if (sup_eval_linear_probe(&train, NULL, &test, NULL, &r, err, sizeof err) != SUP_OK) {
			fprintf(stderr, "eval_raw_pixels: linear probe: %s\n", err);
			rc = 1;
		} else {
			double t = (bench_wall_ms() - t0) * 1e-3;
			if (json)
				printf("{\"protocol\":\"linear\",\"n_train\":%lld,\"top1\":%.4f,\"top5\":%.4f,\"l2\":%g,"
				       "\"val_top1\":%.4f,\"train_top1\":%.4f,\"iters\":%d,\"converged\":%s,\"seconds\":%.2f}\n",
				       (long long)train.n, r.top1, r.top5, r.l2, r.val_top1, r.train_top1, r.iters,
				       r.converged ? "true" : "false", t);
			else {
				printf("linear probe: top-1 %.2f%%  top-5 %.2f%%  l2 %g  (val %.2f%%, train %.2f%%)  %d L-BFGS "
				       "iterations%s  %.1f s\n",
				       100 * r.top1, 100 * r.top5, r.l2, 100 * r.val_top1, 100 * r.train_top1, r.iters,
				       r.converged ? "" : " (final fit hit max_iter)", t);
				for (int g = 0; g < r.n_l2; g++)
					printf("  l2 %-8g val top-1 %.2f%%\n", r.grid_l2[g], 100 * r.grid_val_top1[g]);
			}
		}
	}
	if (knn) {
		struct sup_knn_result r;
		double t0 = bench_wall_ms();
		if (sup_eval_knn(&train, &test, &ko, &r, NULL, err, sizeof err) != SUP_OK) {
			fprintf(stderr, "eval_raw_pixels: kNN: %s\n", err);
			rc = 1;
		} else {
			double t = (bench_wall_ms() - t0) * 1e-3;
			if (json)
				printf("{\"protocol\":\"knn\",\"n_train\":%lld,\"k\":%d,\"tau\":%g,\"top1\":%.4f,\"top5\":%.4f,"
				       "\"seconds\":%.2f}\n", (long long)train.n, r.k, ko.tau, r.top1, r.top5, t);
			else
				printf("kNN (k %d, tau %g): top-1 %.2f%%  top-5 %.2f%%  %.1f s\n", r.k, ko.tau, 100 * r.top1,
				       100 * r.top5, t);
		}
	}
	if (cluster) {
		struct sup_kmeans_opts o;
		sup_kmeans_opts_default(&o);
		o.n_init = 3;
		struct sup_cluster_result r;
		double t0 = bench_wall_ms();
		if (sup_eval_cluster(&test, &o, &r, NULL, err, sizeof err) != SUP_OK) {
			fprintf(stderr, "eval_raw_pixels: clustering: %s\n", err);
			rc = 1;
		} else {
			double t = (bench_wall_ms() - t0) * 1e-3;
			if (json)
				printf("{\"protocol\":\"cluster\",\"k\":%d,\"nmi\":%.4f,\"ari\":%.4f,\"seconds\":%.2f}\n", r.k,
				       r.nmi, r.ari, t);
			else
				printf("k-means (k %d, 3 restarts) on the test set: NMI %.4f  ARI %.4f  %.1f s\n", r.k, r.nmi,
				       r.ari, t);
		}
	}
	free((void *)train.x), free((void *)train.labels), free((void *)test.x), free((void *)test.labels);
	return rc;
}
