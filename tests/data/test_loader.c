/* Loader: identical batches with 0, 1 and 3 workers, every index exactly once per epoch, drop-last,
 * per-epoch shuffles, labels (and unlabeled samples), restarting and freeing mid-epoch (the
 * sanitizer build checks for leaks and races on the slots), and option errors. */
#include "testutil.h"
#include "selfsup/data.h"

#include <stdlib.h>
#include <string.h>

enum { N = 37, C = 1, H = 8, W = 8 };

static uint8_t g_img[N * C * H * W], g_lab[N];

static struct sup_image_set make_set(void)
{
	struct sup_rng r = sup_rng_make(2, 0);
	for (int i = 0; i < N * C * H * W; i++)
		g_img[i] = (uint8_t)sup_rng_below(&r, 256);
	for (int i = 0; i < N; i++)
		g_lab[i] = (uint8_t)(i % 10);
	g_lab[5] = SUP_LABEL_NONE;
	struct sup_image_set s = { .n_classes = 10 };
	sup_tensor_init(&s.images, SUP_U8, 4, (const int64_t[]){ N, C, H, W }, g_img);
	sup_tensor_init(&s.labels, SUP_U8, 1, (const int64_t[]){ N }, g_lab);
	return s;
}

/* All batches of `epochs` epochs, concatenated: views, then labels and indices as floats. */
static size_t collect(const struct sup_image_set *s, const struct sup_multiview *mv, int workers, bool drop_last,
		      int epochs, float *out)
{
	struct sup_loader_opts o = { .batch_size = 5, .shuffle = true, .drop_last = drop_last, .n_workers = workers,
				     .prefetch = 2, .seed = 99 };
	struct sup_loader *l;
	char err[256];
	TU_CHECK_MSG(sup_loader_new(&l, s, mv, &o, sup_allocator_default(), err, sizeof err) == SUP_OK, "%s", err);
	if (!l)
		return 0;
	size_t k = 0;
	TU_CHECK(sup_loader_next(l) == NULL); /* no epoch started yet */
	for (int e = 0; e < epochs; e++) {
		sup_loader_epoch(l, e);
		const struct sup_batch *b;
		int64_t steps = 0;
		while ((b = sup_loader_next(l))) {
			TU_CHECK(b->step == steps && b->epoch == e && b->n_views == mv->n_views);
			steps++;
			for (int v = 0; v < b->n_views; v++) {
				size_t n = (size_t)sup_tensor_numel(&b->views[v]);
				memcpy(out + k, b->views[v].data, n * sizeof(float));
				k += n;
			}
			for (int64_t i = 0; i < b->size; i++) {
				out[k++] = (float)((int64_t *)b->labels.data)[i];
				out[k++] = (float)((int64_t *)b->indices.data)[i];
			}
		}
		TU_CHECK(steps == sup_loader_n_batches(l));
	}
	sup_loader_free(l);
	return k;
}

static void test_determinism_and_coverage(void)
{
	struct sup_image_set s = make_set();
	struct sup_multiview mv = { .n_views = 2 };
	for (int v = 0; v < 2; v++) {
		sup_transform_add(&mv.views[v], sup_aug_resized_crop(6, 6));
		sup_transform_add(&mv.views[v], sup_aug_hflip(0.5f));
		sup_transform_add(&mv.views[v], sup_aug_color_jitter(0.4f, 0.4f, 0.4f, 0.1f, 0.8f));
	}
	size_t cap = 3 * (N * 2 * 36 + 2 * N);
	float *a = malloc(cap * sizeof(float)), *b = malloc(cap * sizeof(float)), *c = malloc(cap * sizeof(float));
	size_t na = collect(&s, &mv, 0, false, 3, a), nb = collect(&s, &mv, 1, false, 3, b),
	       nc = collect(&s, &mv, 3, false, 3, c);
	TU_CHECK(na == cap && nb == na && nc == na);
	TU_CHECK(memcmp(a, b, na * sizeof(float)) == 0);
	TU_CHECK(memcmp(a, c, na * sizeof(float)) == 0);
	free(a);
	free(b);
	free(c);

	/* Every index once per epoch; the shuffle changes with the epoch; labels follow indices. */
	struct sup_loader_opts o = { .batch_size = 5, .shuffle = true, .n_workers = 3, .prefetch = 3, .seed = 1 };
	struct sup_loader *l;
	char err[256];
	TU_CHECK(sup_loader_new(&l, &s, &mv, &o, sup_allocator_default(), err, sizeof err) == SUP_OK);
	int64_t first[2][N];
	for (int e = 0; e < 2; e++) {
		int seen[N] = { 0 }, k = 0, labels_ok = 1;
		sup_loader_epoch(l, e);
		const struct sup_batch *bt;
		while ((bt = sup_loader_next(l))) {
			TU_CHECK(bt->views[0].shape[0] == bt->size && bt->views[1].shape[2] == 6);
			for (int64_t i = 0; i < bt->size; i++) {
				int64_t idx = ((int64_t *)bt->indices.data)[i], lab = ((int64_t *)bt->labels.data)[i];
				seen[idx]++;
				first[e][k++] = idx;
				labels_ok &= idx == 5 ? lab == -1 : lab == idx % 10;
			}
		}
		TU_CHECK(labels_ok);
		int once = k == N;
		for (int i = 0; i < N; i++)
			once &= seen[i] == 1;
		TU_CHECK(once);
	}
	TU_CHECK(memcmp(first[0], first[1], sizeof first[0]) != 0);
	sup_loader_free(l);

	/* drop_last: 7 full batches, 35 distinct indices; no shuffle: natural order. */
	o.drop_last = true;
	o.shuffle = false;
	TU_CHECK(sup_loader_new(&l, &s, &mv, &o, sup_allocator_default(), err, sizeof err) == SUP_OK);
	TU_CHECK(sup_loader_n_batches(l) == 7);
	sup_loader_epoch(l, 0);
	int64_t expect = 0, in_order = 1, count = 0;
	const struct sup_batch *bt;
	while ((bt = sup_loader_next(l))) {
		in_order &= bt->size == 5;
		for (int64_t i = 0; i < bt->size; i++)
			in_order &= ((int64_t *)bt->indices.data)[i] == expect++;
		count++;
	}
	TU_CHECK(in_order && count == 7 && expect == 35);
	sup_loader_free(l);
}

static void test_mid_epoch(void)
{
	struct sup_image_set s = make_set();
	struct sup_multiview mv;
	sup_multiview_simclr(&mv, 6, 0.5f, false);
	struct sup_loader_opts o = { .batch_size = 3, .shuffle = true, .n_workers = 3, .prefetch = 2, .seed = 5 };
	struct sup_loader *l;
	char err[256];
	/* Restart an epoch after two batches: the restarted epoch is the same as a fresh one. */
	TU_CHECK(sup_loader_new(&l, &s, &mv, &o, sup_allocator_default(), err, sizeof err) == SUP_OK);
	sup_loader_epoch(l, 4);
	const struct sup_batch *b = sup_loader_next(l);
	float keep[3 * 36];
	memcpy(keep, b->views[1].data, sizeof keep);
	sup_loader_next(l);
	sup_loader_epoch(l, 7);
	sup_loader_next(l);
	sup_loader_epoch(l, 4);
	b = sup_loader_next(l);
	TU_CHECK(b && b->step == 0 && b->epoch == 4 && memcmp(keep, b->views[1].data, sizeof keep) == 0);
	sup_loader_next(l);
	/* Free with workers busy and slots full mid-epoch (ASan: no leak, no use after free). */
	sup_loader_free(l);
	TU_CHECK(sup_loader_new(&l, &s, &mv, &o, sup_allocator_default(), err, sizeof err) == SUP_OK);
	sup_loader_epoch(l, 0);
	sup_loader_free(l);
	sup_loader_free(NULL);
}

static void test_errors(void)
{
	struct sup_image_set s = make_set();
	struct sup_multiview mv;
	sup_multiview_simclr(&mv, 6, 1, false);
	struct sup_loader *l = (struct sup_loader *)&s;
	char err[256];
	struct sup_loader_opts o = { .batch_size = 0, .n_workers = 1, .prefetch = 1 };
	TU_CHECK(sup_loader_new(&l, &s, &mv, &o, sup_allocator_default(), err, sizeof err) == SUP_ERR_ARG && l == NULL);
	o = (struct sup_loader_opts){ .batch_size = 64, .drop_last = true, .n_workers = 1, .prefetch = 1 };
	TU_CHECK(sup_loader_new(&l, &s, &mv, &o, sup_allocator_default(), err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK_MSG(strstr(err, "drop_last"), "%s", err);
	o.drop_last = false;
	o.prefetch = 0;
	TU_CHECK(sup_loader_new(&l, &s, &mv, &o, sup_allocator_default(), err, sizeof err) == SUP_ERR_ARG);
	o.prefetch = 1;
	sup_multiview_simclr(&mv, 6, 1, false);
	mv.views[1].steps[0] = sup_aug_center_crop(9, 9); /* larger than the 8x8 images */
	TU_CHECK(sup_loader_new(&l, &s, &mv, &o, sup_allocator_default(), err, sizeof err) == SUP_ERR_SHAPE);
	TU_CHECK_MSG(strstr(err, "view 1") && strstr(err, "step 0"), "%s", err);
}

int main(void)
{
	test_determinism_and_coverage();
	test_mid_epoch();
	test_errors();
	return tu_finish("loader");
}
