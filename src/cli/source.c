/* Data sources of the `selfsup` driver: the synthetic vector set (the toy fixture's data) here;
 * image folders (source_image.c), graph folders (source_graph.c), text corpora (source_text.c)
 * and image variants (source_image_variants.c) in their own files. */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"
#include "selfsup/data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- synthetic: x = A z + 0.05 e in R^8 with z ~ N(0, I_2), label = quadrant of z -------------- */

#define SYN_DIM 8
#define SYN_N	512

struct syn {
	float x[SYN_N * SYN_DIM];
	int64_t label[SYN_N];
};

/* The set is fixed (its own key), not drawn from the run's seed: every run sees the same data. */
static void syn_fill(struct syn *s, bool train)
{
	struct sup_rng ra = sup_rng_make(0x5eedda7a, 0), r = sup_rng_make(0x5eedda7a, train ? 1 : 2);
	double a[SYN_DIM][2];
	for (int i = 0; i < SYN_DIM; i++)
		for (int j = 0; j < 2; j++)
			a[i][j] = sup_rng_normal(&ra);
	for (int n = 0; n < SYN_N; n++) {
		double z0 = sup_rng_normal(&r), z1 = sup_rng_normal(&r);
		s->label[n] = (z0 > 0) * 2 + (z1 > 0);
		for (int i = 0; i < SYN_DIM; i++)
			s->x[n * SYN_DIM + i] = (float)(a[i][0] * z0 + a[i][1] * z1 + 0.05 * sup_rng_normal(&r));
	}
}

static enum sup_status index_tensor(struct sup_ctx *c, const int64_t *idx, int64_t n, struct sup_method_batch *b)
{
	b->index = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	if (!b->index)
		return sup_ctx_status(c);
	memcpy(b->index->data, idx, sizeof(int64_t) * (size_t)n);
	return SUP_OK;
}

static enum sup_status syn_get(const struct cli_source *s, struct sup_ctx *c, const int64_t *idx, int64_t n,
			       int n_views, uint64_t seed, int64_t epoch, struct sup_method_batch *b)
{
	(void)seed;
	(void)epoch;
	const struct syn *d = s->impl;
	memset(b, 0, sizeof *b);
	b->kind = SUP_BATCH_VECTORS;
	b->n_views = n_views;
	for (int v = 0; v < n_views; v++) {
		struct sup_tensor *x = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){n, SYN_DIM});
		if (!x)
			return sup_ctx_status(c);
		for (int64_t i = 0; i < n; i++)
			memcpy((float *)x->data + i * SYN_DIM, d->x + idx[i] * SYN_DIM, sizeof(float) * SYN_DIM);
		b->views[v] = x;
	}
	b->labels = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	if (!b->labels)
		return sup_ctx_status(c);
	for (int64_t i = 0; i < n; i++)
		((int64_t *)b->labels->data)[i] = d->label[idx[i]];
	return index_tensor(c, idx, n, b);
}

static void free_impl(struct cli_source *s)
{
	free(s->impl);
	s->impl = NULL;
}

/* ---- opening -------------------------------------------------------------------------------- */

enum sup_status cli_source_open(struct cli_source *s, const char *data, bool train, char *err, size_t err_size)
{
	if (cli_source_is_variant(data)) /* fashion-mnist-binary, binary:... (source_image_variants.c) */
		return cli_source_variant_open(s, data, train, err, err_size);
	memset(s, 0, sizeof *s);
	s->info.name = data;
	if (strcmp(data, "synthetic") == 0) {
		struct syn *d = malloc(sizeof *d);
		if (!d)
			return SUP_ERR_NOMEM;
		syn_fill(d, train);
		s->impl = d;
		s->kind = SUP_BATCH_VECTORS;
		s->n = SYN_N;
		s->info.modality = SUP_MODALITY_VECTOR;
		s->info.n_examples = SYN_N;
		s->info.n_classes = 4;
		s->info.dim = SYN_DIM;
		s->get = syn_get;
		s->free = free_impl;
		return SUP_OK;
	}
	char gdir[1024];
	if (cli_graph_source_resolve(data, gdir, sizeof gdir))
		return cli_graph_source_open(s, gdir, err, err_size);
	if (cli_source_is_text(data)) {
		enum sup_status st = cli_source_open_text(s, data, train, err, err_size);
		s->info.name = data;
		return st;
	}
	const char *dir = strcmp(data, "fashion-mnist") == 0 ? SUP_FASHION_MNIST_DIR : data;
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		if (strcmp(data, "fashion-mnist") == 0)
			snprintf(err, err_size,
				 "data set fashion-mnist not found at %s (apt-get install dataset-fashion-mnist)", dir);
		else
			snprintf(err, err_size,
				 "data '%s' is neither a registered data set (fashion-mnist, fashion-mnist-binary, cora, "
				 "fortunes, fortune-8, fortunes-bpe, fortune-8-bpe, synthetic) nor a folder",
				 data);
		return SUP_ERR_NOT_FOUND;
	}
	/* Image folders (IDX, CIFAR binary, ImageFolder): source_image.c. */
	return cli_source_open_image(s, dir, train, err, err_size);
}

enum sup_status cli_source_configure(struct cli_source *s, const struct sup_config *cfg, char *err, size_t err_size)
{
	return s->configure ? s->configure(s, cfg, err, err_size) : SUP_OK;
}

void cli_source_close(struct cli_source *s)
{
	if (s->free)
		s->free(s);
	memset(s, 0, sizeof *s);
}

bool cli_source_fits(const struct cli_source *s, const struct sup_method *m)
{
	return s->kind == m->batch_kind && (m->modalities & s->info.modality);
}
