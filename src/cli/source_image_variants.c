/* Image data-source variants for density models: a binarised view of an image data set.
 *
 *   data=fashion-mnist-binary    Fashion-MNIST with every intensity x in [0, 1] (x = byte / 255)
 *                                replaced by 1 when x > 0.5, else 0 (bytes >= 128 become 1)
 *   data=binary:<data>           the same fixed threshold applied to any image source
 *
 * A FIXED threshold (not the stochastic binarisation of Salakhutdinov & Murray 2008 used for
 * MNIST) keeps the test set one fixed set of binary vectors, so that the test NLL of the
 * Bernoulli models (VAE, MADE, binary PixelCNN) and of the independent-pixel baseline are
 * computed on identical data. The 256-way models use the plain source (data=fashion-mnist),
 * whose views are byte / 255 exactly, so round(255 x) recovers the 8-bit value.
 *
 * The variant wraps the underlying source: it opens it, keeps its get/free, and thresholds the
 * views after every get, so any source kind (and any augmentation it applies) works below it. */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#define BINARY_PREFIX "binary:"

struct binary_src {
	struct cli_source inner;
};

static const char *inner_name(const char *data)
{
	if (strcmp(data, "fashion-mnist-binary") == 0)
		return "fashion-mnist";
	if (strncmp(data, BINARY_PREFIX, strlen(BINARY_PREFIX)) == 0)
		return data + strlen(BINARY_PREFIX);
	return NULL;
}

bool cli_source_is_variant(const char *data)
{
	return inner_name(data) != NULL;
}

static enum sup_status binary_get(const struct cli_source *s, struct sup_ctx *c, const int64_t *idx, int64_t n,
				  int n_views, uint64_t seed, int64_t epoch, struct sup_method_batch *b)
{
	const struct binary_src *d = s->impl;
	enum sup_status st = d->inner.get(&d->inner, c, idx, n, n_views, seed, epoch, b);
	if (st != SUP_OK)
		return st;
	for (int v = 0; v < b->n_views; v++) {
		struct sup_tensor *x = b->views[v];
		if (!x || x->dtype != SUP_F32 || !sup_tensor_is_contiguous(x))
			return sup_ctx_fail(c, SUP_ERR_STATE, "binary data: view %d is not a contiguous f32 tensor", v);
		float *p = x->data;
		for (int64_t i = 0, m = sup_tensor_numel(x); i < m; i++)
			p[i] = p[i] > 0.5f ? 1.0f : 0.0f;
	}
	return SUP_OK;
}

static void binary_free(struct cli_source *s)
{
	struct binary_src *d = s->impl;
	if (d) {
		cli_source_close(&d->inner);
		free(d);
	}
	s->impl = NULL;
}

enum sup_status cli_source_variant_open(struct cli_source *s, const char *data, bool train, char *err,
					size_t err_size)
{
	const char *inner = inner_name(data);
	memset(s, 0, sizeof *s);
	if (!inner || !*inner || cli_source_is_variant(inner)) {
		snprintf(err, err_size, "data '%s': expected fashion-mnist-binary or binary:<image data>", data);
		return SUP_ERR_NOT_FOUND;
	}
	struct binary_src *d = calloc(1, sizeof *d);
	if (!d)
		return SUP_ERR_NOMEM;
	enum sup_status st = cli_source_open(&d->inner, inner, train, err, err_size);
	if (st != SUP_OK) {
		free(d);
		return st;
	}
	if (d->inner.kind != SUP_BATCH_IMAGES) {
		snprintf(err, err_size, "data '%s': binarisation applies to image data, '%s' is not", data, inner);
		cli_source_close(&d->inner);
		free(d);
		return SUP_ERR_NOT_FOUND;
	}
	*s = d->inner;
	s->info.name = data;
	s->impl = d;
	s->get = binary_get;
	s->free = binary_free;
	return SUP_OK;
}
