/* The image grids `selfsup train` leaves in the run folder of a generative image method (issue 9):
 *   samples.png          16 samples (method.h's sample, seed 0), 8 per row;
 *   reconstructions.png  rows of k <= 8 inputs, each followed by the row of their reconstructions
 *                        (method.h's reconstruct): the first k test images (when the data set
 *                        has a test split), then the first k training images.
 * Written after the last checkpoint, so a failure here never touches it. */
#include "cli/cli.h"

#include <string.h>

#define GRID_SAMPLES 16
#define GRID_COLS    8

/* Copies the k images of src [k, C, H, W] to rows [at, at + k) of dst. */
static void put_rows(struct sup_tensor *dst, int64_t at, const struct sup_tensor *src)
{
	const int64_t n = sup_tensor_numel(src);
	for (int64_t i = 0; i < n; i++)
		sup_tensor_set(dst, at * (n / src->shape[0]) + i, sup_tensor_get(src, i));
}

/* Inputs and reconstructions of the first k examples of src into grid rows [at, at + 2k). */
static enum sup_status recon_rows(const struct sup_method *m, void *state, struct sup_ctx *c,
				  const struct cli_source *src, int64_t k, struct sup_tensor *grid, int64_t at)
{
	int64_t idx[GRID_COLS];
	for (int64_t i = 0; i < k; i++)
		idx[i] = i;
	struct sup_method_batch b;
	enum sup_status s = src->get(src, c, idx, k, 1, 0, 0, &b);
	if (s != SUP_OK)
		return s;
	struct sup_tensor *y = m->reconstruct(state, c, &b);
	if (!y)
		return sup_ctx_status(c);
	if (sup_tensor_numel(y) != sup_tensor_numel(b.views[0]))
		return sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: reconstructions of the wrong shape", m->name);
	put_rows(grid, at, b.views[0]);
	put_rows(grid, at + k, y);
	return SUP_OK;
}

static int write_reconstructions(const struct sup_method *m, void *state, struct sup_ctx *c,
				 const struct cli_source *train, const char *data, const char *path, char *err,
				 size_t err_size)
{
	struct cli_source test = {0};
	char terr[256];
	bool has_test = cli_source_open(&test, data, false, terr, sizeof terr) == SUP_OK && test.n > 0;
	int64_t k = train->n < GRID_COLS ? train->n : GRID_COLS;
	if (has_test && test.n < k)
		k = test.n;
	const struct sup_data_info *d = &train->info;
	const int64_t n = (has_test ? 4 : 2) * k;
	struct sup_tensor *grid =
	    k > 0 ? sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){n, d->channels, d->height, d->width}) : NULL;
	enum sup_status s = grid ? SUP_OK : k > 0 ? sup_ctx_status(c) : sup_ctx_fail(c, SUP_ERR_ARG, "no images");
	if (s == SUP_OK && has_test)
		s = recon_rows(m, state, c, &test, k, grid, 0);
	if (s == SUP_OK)
		s = recon_rows(m, state, c, train, k, grid, n - 2 * k);
	if (test.get)
		cli_source_close(&test);
	if (s != SUP_OK) {
		snprintf(err, err_size, "%s: %s", path, sup_ctx_error(c)[0] ? sup_ctx_error(c) : sup_status_str(s));
		return CLI_FAIL;
	}
	return sup_plot_grid_png(path, grid, (int)k, err, err_size) == SUP_OK ? CLI_OK : CLI_FAIL;
}

int cli_train_write_grids(const struct sup_method *m, void *state, const struct cli_source *train, const char *data,
			  const char *dir, char *err, size_t err_size)
{
	if (train->kind != SUP_BATCH_IMAGES || train->info.modality != SUP_MODALITY_IMAGE || !*dir ||
	    (!m->sample && !m->reconstruct))
		return CLI_OK;
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 0);
	char path[1200];
	int code = CLI_OK;
	if (m->sample) {
		snprintf(path, sizeof path, "%s/samples.png", dir);
		struct sup_tensor *t = m->sample(state, &c, GRID_SAMPLES, NULL);
		if (!t) {
			snprintf(err, err_size, "%s: sampling failed: %s", path, sup_ctx_error(&c));
			code = CLI_FAIL;
		} else if (sup_plot_grid_png(path, t, GRID_COLS, err, err_size) != SUP_OK) {
			code = CLI_FAIL;
		}
		sup_ctx_reset(&c);
	}
	if (code == CLI_OK && m->reconstruct) {
		snprintf(path, sizeof path, "%s/reconstructions.png", dir);
		code = write_reconstructions(m, state, &c, train, data, path, err, err_size);
	}
	sup_ctx_deinit(&c);
	return code;
}
