/* build/bench/data_simclr [GRID.png] [--repeats N] [--batches N]
 * The SimCLR two-view pipeline on Fashion-MNIST (random resized crop 28x28, flip 0.5, colour
 * jitter s = 0.5 with p 0.8, grayscale 0.2: Chen et al. 2020, appendix A, without blur as for
 * CIFAR). Writes a PNG grid (8 rows: the original, then 7 augmented views of it) when a path is
 * given, then times the loader (batch 256, two views) with 0 (inline), 1 and 2 worker threads:
 * median samples/s over the repeats; a sample is two 1x28x28 views. */
#define _POSIX_C_SOURCE 200809L
#include "bench_time.h"
#include "selfsup/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRID_ROWS 8
#define GRID_COLS 8

static int write_grid(const struct sup_image_set *set, const struct sup_multiview *mv, const char *path)
{
	static float px[GRID_ROWS * GRID_COLS * 28 * 28];
	int c, h, w;
	size_t sf;
	char err[512];
	if (sup_transform_check(&mv->views[0], 1, 28, 28, &c, &h, &w, &sf, err, sizeof err))
		return fprintf(stderr, "data_simclr: %s\n", err), 1;
	float *scratch = malloc(sf * sizeof(float));
	for (int r = 0; r < GRID_ROWS; r++) {
		const int64_t idx = r * 1000 + 17; /* eight different images */
		const uint8_t *img = (const uint8_t *)set->images.data + idx * 28 * 28;
		sup_image_u8_to_float(px + r * GRID_COLS * 784, img, 784);
		for (int k = 1; k < GRID_COLS; k++) {
			/* Views of epochs 0, 0, 1, 1, 2, 2, 3: both views of a few epochs. */
			struct sup_image out = { px + (r * GRID_COLS + k) * 784, 0, 0, 0 };
			int view = (k - 1) % 2;
			sup_transform_apply(&mv->views[view], img, 1, 28, 28, &out, scratch,
					    sup_aug_rng(1, (k - 1) / 2, idx, view), view);
		}
	}
	free(scratch);
	struct sup_tensor t;
	sup_tensor_init(&t, SUP_F32, 4, (const int64_t[]){ GRID_ROWS * GRID_COLS, 1, 28, 28 }, px);
	if (sup_png_write_grid(path, &t, GRID_COLS, err, sizeof err))
		return fprintf(stderr, "data_simclr: %s\n", err), 1;
	printf("wrote %s (%d rows: original, then 7 views)\n", path, GRID_ROWS);
	return 0;
}

/* Samples per second of `batches` batches from epoch start, with `workers` threads. */
static double time_loader(const struct sup_image_set *set, const struct sup_multiview *mv, int workers, int batches,
			  int64_t epoch)
{
	struct sup_loader_opts o = { .batch_size = 256, .shuffle = true, .drop_last = true, .n_workers = workers,
				     .prefetch = 4, .seed = 1 };
	struct sup_loader *l;
	char err[512];
	if (sup_loader_new(&l, set, mv, &o, sup_allocator_default(), err, sizeof err)) {
		fprintf(stderr, "data_simclr: %s\n", err);
		return 0;
	}
	double t0 = bench_wall_ms(), checksum = 0;
	sup_loader_epoch(l, epoch);
	int64_t samples = 0;
	for (int b = 0; b < batches; b++) {
		const struct sup_batch *bt = sup_loader_next(l);
		if (!bt)
			break;
		samples += bt->size;
		checksum += ((const float *)bt->views[1].data)[b]; /* touch the batch */
	}
	double dt = (bench_wall_ms() - t0) * 1e-3;
	sup_loader_free(l);
	return checksum >= 0 ? (double)samples / dt : 0;
}

int main(int argc, char **argv)
{
	const char *png = NULL;
	int repeats = 5, batches = 40;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
			repeats = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--batches") && i + 1 < argc)
			batches = atoi(argv[++i]);
		else if (argv[i][0] != '-')
			png = argv[i];
		else {
			fprintf(stderr, "usage: data_simclr [GRID.png] [--repeats N] [--batches N]\n");
			return 2;
		}
	}
	if (repeats < 1 || repeats > 101 || batches < 1 || batches > 234) {
		fprintf(stderr, "data_simclr: repeats 1..101, batches 1..234 (one epoch of 60000 / 256)\n");
		return 2;
	}
	struct sup_allocator al = sup_allocator_default();
	struct sup_image_set set;
	char err[512];
	if (sup_image_set_load_idx(&set, SUP_FASHION_MNIST_DIR, true, &al, err, sizeof err)) {
		fprintf(stderr, "data_simclr: %s (install dataset-fashion-mnist)\n", err);
		return 1;
	}
	struct sup_multiview mv;
	sup_multiview_simclr(&mv, 28, 0.5f, false);
	int rc = png ? write_grid(&set, &mv, png) : 0;
	const int counts[] = { 0, 1, 2 };
	for (int k = 0; k < 3 && !rc; k++) {
		double r[101];
		for (int i = 0; i < repeats; i++)
			r[i] = time_loader(&set, &mv, counts[k], batches, i);
		bench_sort(r, repeats);
		printf("workers %d: median %.0f samples/s (%.0f views/s), min %.0f, max %.0f over %d x %d batches of 256\n",
		       counts[k], r[repeats / 2], 2 * r[repeats / 2], r[0], r[repeats - 1], repeats, batches);
	}
	sup_image_set_free(&set, &al);
	return rc;
}
