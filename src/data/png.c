/* Image grids as PNG files (for people looking at augmentations, samples and filters), written
 * with libpng's simplified png_image API, which reports errors through png_image.message rather
 * than longjmp. */
#include "selfsup/data.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

#define GRID_PAD 2
#define GRID_BORDER 128

enum sup_status sup_png_write_grid(const char *path, const struct sup_tensor *images, int ncols, char *err,
				   size_t err_size)
{
	enum sup_status st = SUP_OK;
	if (images->ndim != 4 || (images->shape[1] != 1 && images->shape[1] != 3) || images->shape[0] < 1 ||
	    images->shape[2] < 1 || images->shape[3] < 1)
		st = SUP_ERR_SHAPE;
	else if (images->dtype != SUP_F32)
		st = SUP_ERR_DTYPE;
	else if (ncols < 1 || !sup_tensor_is_contiguous(images))
		st = SUP_ERR_ARG;
	if (st) {
		snprintf(err, err_size, "%s: the grid needs contiguous f32 [N, 1 or 3, H, W] images and ncols >= 1",
			 path);
		return st;
	}
	const int64_t n = images->shape[0], c = images->shape[1], h = images->shape[2], w = images->shape[3];
	const int64_t cols = n < ncols ? n : ncols, rows = (n + cols - 1) / cols;
	const int64_t gw = cols * (w + GRID_PAD) + GRID_PAD, gh = rows * (h + GRID_PAD) + GRID_PAD;
	if (gw > 65535 || gh > 65535) {
		snprintf(err, err_size, "%s: a %lldx%lld grid is too large", path, (long long)gw, (long long)gh);
		return SUP_ERR_ARG;
	}
	struct sup_allocator al = sup_allocator_default();
	uint8_t *px = sup_alloc(&al, (size_t)(gw * gh * c), 64);
	if (!px) {
		snprintf(err, err_size, "%s: out of memory for the grid", path);
		return SUP_ERR_NOMEM;
	}
	memset(px, GRID_BORDER, (size_t)(gw * gh * c));
	const float *src = images->data;
	for (int64_t i = 0; i < n; i++) {
		const int64_t oy = GRID_PAD + (i / cols) * (h + GRID_PAD), ox = GRID_PAD + (i % cols) * (w + GRID_PAD);
		for (int64_t k = 0; k < c; k++)
			for (int64_t y = 0; y < h; y++)
				for (int64_t x = 0; x < w; x++) {
					float v = src[((i * c + k) * h + y) * w + x];
					v = v > 0 ? (v < 1 ? v : 1) : 0; /* also maps NaN to 0 */
					px[((oy + y) * gw + ox + x) * c + k] = (uint8_t)lrintf(v * 255.0f);
				}
	}
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)gw;
	img.height = (png_uint_32)gh;
	img.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
	if (!png_image_write_to_file(&img, path, 0, px, 0, NULL)) {
		snprintf(err, err_size, "%s: cannot write the PNG (%s)", path, img.message);
		st = SUP_ERR_IO;
	}
	sup_free(&al, px);
	return st;
}
