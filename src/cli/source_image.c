/* Image data sources of the driver: IDX folders (Fashion-MNIST), CIFAR-10 binary batches and
 * ImageFolder trees, held in memory as u8 [N, C, H, W], with the training views of a method.
 *
 * Views. A source opened for evaluation (cli_encode_split, `embed`) gives the plain images in
 * [0, 1]. The training driver calls cli_source_augment_config when the method's config has an
 * `aug.recipe` key: view v of example i in epoch e is then transform v of a sup_multiview applied with
 * the stream sup_aug_rng(seed, e, i, v), so a batch is a pure function of (seed, epoch, indices)
 * (bit-identical resume; the same bits at any thread count, since every example has its own
 * stream and its own scratch).
 *
 * Recipes (the value of `aug.recipe`), all at the input size (no resizing of the data set):
 *   simclr   Chen et al. 2020, appendix A: resized crop, flip 0.5, colour jitter
 *            (0.8s, 0.8s, 0.8s, 0.2s) with p 0.8, grayscale 0.2, blur (p 0.5) only with aug.blur
 *            (the paper drops it for CIFAR, B.9).
 *   instdisc / mocov1   Wu et al. 2018 and He et al. 2020 (main_moco.py, v1): resized crop,
 *            grayscale 0.2, colour jitter (0.4s, 0.4s, 0.4s, 0.4s) always, flip 0.5.
 *   mocov2   Chen, Fan, Girshick, He 2020 ("Improved baselines", §2 and main_moco.py --aug-plus):
 *            resized crop, jitter (0.4s, 0.4s, 0.4s, 0.1s) with p 0.8, grayscale 0.2, blur
 *            sigma in [0.1, 2] with p 0.5 when aug.blur, flip 0.5.
 *   none     every view is the plain image.
 * On one channel (Fashion-MNIST) grayscale, saturation and hue change nothing (data.h), so the
 * jitter reduces to brightness and contrast. aug.crop_min is the lower end of the crop's area
 * fraction (torchvision's 0.08 in SimCLR; 0.2 in InstDisc/MoCo). */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"
#include "selfsup/data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct image_src {
	struct sup_allocator al;
	struct sup_image_set set;
	bool augment;
	struct sup_multiview mv;
	size_t scratch_floats; /* per example: the largest over the views */
};

static enum sup_status index_labels(struct sup_ctx *c, const struct image_src *d, const int64_t *idx, int64_t n,
				    struct sup_method_batch *b)
{
	b->labels = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	b->index = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	if (!b->labels || !b->index)
		return sup_ctx_status(c);
	int64_t *lab = b->labels->data;
	for (int64_t i = 0; i < n; i++) {
		uint8_t y = ((const uint8_t *)d->set.labels.data)[idx[i]];
		lab[i] = y == SUP_LABEL_NONE ? -1 : y;
	}
	memcpy(b->index->data, idx, sizeof(int64_t) * (size_t)n);
	return SUP_OK;
}

/* View v of the batch: plain images, or transform v applied per example in parallel. */
static struct sup_tensor *make_view(const struct image_src *d, struct sup_ctx *c, const int64_t *idx, int64_t n,
				    int v, uint64_t seed, int64_t epoch)
{
	const struct sup_tensor *im = &d->set.images;
	const int ch = (int)im->shape[1], h = (int)im->shape[2], w = (int)im->shape[3];
	const int64_t per = (int64_t)ch * h * w;
	struct sup_tensor *x = sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){n, ch, h, w});
	if (!x)
		return NULL;
	float *out = x->data;
	if (!d->augment) {
		for (int64_t i = 0; i < n; i++)
			sup_image_u8_to_float(out + i * per, (const uint8_t *)im->data + idx[i] * per, per);
		return x;
	}
	/* The scratch is taken before the parallel loop: the arena is not thread-safe. */
	float *scratch = sup_ctx_alloc(c, sizeof(float) * d->scratch_floats * (size_t)n);
	if (!scratch)
		return NULL;
	const struct sup_transform *t = &d->mv.views[v < d->mv.n_views ? v : d->mv.n_views - 1];
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++) {
		struct sup_image img = {out + i * per, ch, h, w};
		sup_transform_apply(t, (const uint8_t *)im->data + idx[i] * per, ch, h, w, &img,
				    scratch + (size_t)i * d->scratch_floats, sup_aug_rng(seed, epoch, idx[i], v), v);
	}
	return x;
}

static enum sup_status image_get(const struct cli_source *s, struct sup_ctx *c, const int64_t *idx, int64_t n,
				 int n_views, uint64_t seed, int64_t epoch, struct sup_method_batch *b)
{
	const struct image_src *d = s->impl;
	memset(b, 0, sizeof *b);
	b->kind = SUP_BATCH_IMAGES;
	b->n_views = n_views;
	for (int v = 0; v < n_views; v++)
		if (!(b->views[v] = make_view(d, c, idx, n, v, seed, epoch)))
			return sup_ctx_status(c);
	return index_labels(c, d, idx, n, b);
}

static void image_free(struct cli_source *s)
{
	struct image_src *d = s->impl;
	if (d) {
		sup_image_set_free(&d->set, &d->al);
		free(d);
	}
	s->impl = NULL;
}

static bool file_exists(const char *dir, const char *name)
{
	char path[1200];
	struct stat sb;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &sb) == 0;
}

/* Which layout dir holds, and the load. ImageFolder roots with train/ and test/ (or val/)
 * sub-trees use them as the splits; otherwise the root is the training split and there is no
 * test split. */
static enum sup_status load_set(struct image_src *d, const char *dir, bool train, char *err, size_t es)
{
	if (file_exists(dir, "train-images-idx3-ubyte") || file_exists(dir, "train-images-idx3-ubyte.gz"))
		return sup_image_set_load_idx(&d->set, dir, train, &d->al, err, es);
	if (file_exists(dir, "data_batch_1.bin"))
		return sup_image_set_load_cifar(&d->set, dir, train, SUP_CIFAR10, &d->al, err, es);
	if (file_exists(dir, "train.bin") && file_exists(dir, "test.bin"))
		return sup_image_set_load_cifar(&d->set, dir, train, SUP_CIFAR100_FINE, &d->al, err, es);
	char sub[1200];
	const struct sup_image_folder_opts fo = {0, 0, 0};
	if (file_exists(dir, "train")) {
		const char *split = train ? "train" : file_exists(dir, "test") ? "test" : "val";
		snprintf(sub, sizeof sub, "%s/%s", dir, split);
		return sup_image_set_load_folder(&d->set, sub, &fo, &d->al, err, es);
	}
	if (!train) {
		snprintf(err, es, "%s is an ImageFolder without train/ and test/ sub-folders: no test split", dir);
		return SUP_ERR_NOT_FOUND;
	}
	return sup_image_set_load_folder(&d->set, dir, &fo, &d->al, err, es);
}

enum sup_status cli_source_open_image(struct cli_source *s, const char *dir, bool train, char *err, size_t es)
{
	struct image_src *d = calloc(1, sizeof *d);
	if (!d)
		return SUP_ERR_NOMEM;
	d->al = sup_allocator_default();
	enum sup_status st = load_set(d, dir, train, err, es);
	if (st != SUP_OK) {
		free(d);
		return st;
	}
	const struct sup_tensor *im = &d->set.images;
	s->impl = d;
	s->kind = SUP_BATCH_IMAGES;
	s->n = im->shape[0];
	s->info.modality = SUP_MODALITY_IMAGE;
	s->info.n_examples = s->n;
	s->info.n_classes = d->set.n_classes;
	s->info.channels = (int)im->shape[1];
	s->info.height = (int)im->shape[2];
	s->info.width = (int)im->shape[3];
	s->get = image_get;
	s->free = image_free;
	return SUP_OK;
}

/* ---- recipes ---------------------------------------------------------------------------------- */

static void recipe_instdisc(struct sup_transform *t, int h, int w, float s)
{
	sup_transform_add(t, sup_aug_resized_crop(h, w));
	sup_transform_add(t, sup_aug_grayscale(0.2f));
	sup_transform_add(t, sup_aug_color_jitter(0.4f * s, 0.4f * s, 0.4f * s, 0.4f * s > 0.5f ? 0.5f : 0.4f * s, 1));
	sup_transform_add(t, sup_aug_hflip(0.5f));
}

static void recipe_mocov2(struct sup_transform *t, int h, int w, float s, bool blur)
{
	sup_transform_add(t, sup_aug_resized_crop(h, w));
	sup_transform_add(t, sup_aug_color_jitter(0.4f * s, 0.4f * s, 0.4f * s, 0.1f * s, 0.8f));
	sup_transform_add(t, sup_aug_grayscale(0.2f));
	if (blur)
		sup_transform_add(t, sup_aug_blur(0, 0.1f, 2.0f, 0.5f));
	sup_transform_add(t, sup_aug_hflip(0.5f));
}

int cli_source_augment_config(struct cli_source *s, const struct sup_config *cfg, int n_views, char *err, size_t es)
{
	const char *recipe = sup_config_str(cfg, "aug.recipe");
	if (strcmp(recipe, "none") == 0)
		return CLI_OK;
	if (s->get != image_get) {
		snprintf(err, es, "aug.recipe=%s applies to image data sets only", recipe);
		return CLI_USAGE;
	}
	struct image_src *d = s->impl;
	const int h = s->info.height, w = s->info.width;
	const float strength = sup_config_has(cfg, "aug.jitter") ? (float)sup_config_float(cfg, "aug.jitter") : 1.0f;
	const bool blur = sup_config_has(cfg, "aug.blur") && sup_config_bool(cfg, "aug.blur");
	struct sup_multiview *mv = &d->mv;
	memset(mv, 0, sizeof *mv);
	if (strcmp(recipe, "simclr") == 0) {
		sup_multiview_simclr(mv, h, strength, blur);
		mv->views[0].steps[0].out_w = mv->views[1].steps[0].out_w = w;
	} else if (strcmp(recipe, "instdisc") == 0 || strcmp(recipe, "mocov1") == 0) {
		recipe_instdisc(&mv->views[0], h, w, strength);
	} else if (strcmp(recipe, "mocov2") == 0) {
		recipe_mocov2(&mv->views[0], h, w, strength, blur);
	} else {
		snprintf(err, es, "unknown augmentation recipe aug.recipe=%s (none, simclr, instdisc, mocov1, mocov2)", recipe);
		return CLI_USAGE;
	}
	if (n_views < 1 || n_views > SUP_MAX_VIEWS) {
		snprintf(err, es, "aug.recipe=%s: %d views per example is outside 1..%d", recipe, n_views, SUP_MAX_VIEWS);
		return CLI_USAGE;
	}
	mv->n_views = n_views;
	for (int v = 1; v < n_views; v++)
		mv->views[v] = mv->views[0];
	if (sup_config_has(cfg, "aug.crop_min")) {
		float lo = (float)sup_config_float(cfg, "aug.crop_min");
		if (!(lo > 0 && lo <= 1)) {
			snprintf(err, es, "config key 'aug.crop_min' must be in (0, 1], got %g", (double)lo);
			return CLI_USAGE;
		}
		for (int v = 0; v < n_views; v++)
			mv->views[v].steps[0].scale_lo = lo;
	}
	size_t most = 0;
	for (int v = 0; v < n_views; v++) {
		int oc, oh, ow;
		size_t sf;
		char why[256] = "the views must keep the image shape";
		if (sup_transform_check(&mv->views[v], s->info.channels, h, w, &oc, &oh, &ow, &sf, why, sizeof why) !=
			SUP_OK ||
		    oc != s->info.channels || oh != h || ow != w) {
			snprintf(err, es, "aug.recipe=%s: %s", recipe, why);
			return CLI_USAGE;
		}
		most = sf > most ? sf : most;
	}
	d->scratch_floats = most;
	d->augment = true;
	return CLI_OK;
}
