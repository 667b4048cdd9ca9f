/* Vision data sets in binary layouts: CIFAR-10/100 batches (Krizhevsky 2009, "Learning multiple
 * layers of features from tiny images", appendix and the data set page's "binary version") and
 * STL-10 (Coates, Lee, Ng, AISTATS 2011; the stl10_binary files), plus per-channel statistics.
 * ImageFolder trees are in vision_folder.c. */
#include "selfsup/data.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CIFAR_PIXELS 3072
#define STL_SIDE 96
#define STL_PIXELS (3 * STL_SIDE * STL_SIDE)

/* Size of a regular file, or -1 (errno set). */
static long long file_size(FILE *f)
{
	if (fseek(f, 0, SEEK_END) != 0)
		return -1;
	long long n = ftell(f);
	if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
		return -1;
	return n;
}

/* Opens path and checks its size is a positive multiple of `record` bytes; *n_records gets the count. */
static enum sup_status open_records(const char *path, size_t record, FILE **out, int64_t *n_records, char *err,
				    size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
	long long n = file_size(f);
	if (n < 0) {
		fclose(f);
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot determine the size", path);
	}
	if (n == 0 || (size_t)n % record != 0) {
		fclose(f);
		return sup_errf(err, err_size, SUP_ERR_FORMAT,
			     "%s: %lld bytes is not a whole number of %zu-byte records (truncated or not this format)",
			     path, n, record);
	}
	*out = f;
	*n_records = (int64_t)((size_t)n / record);
	return SUP_OK;
}

static enum sup_status alloc_set(struct sup_image_set *set, int64_t n, int c, int h, int w,
				 const struct sup_allocator *alloc, const char *what, char *err, size_t err_size)
{
	uint8_t *img = sup_alloc(alloc, (size_t)n * (size_t)(c * h * w), 64);
	uint8_t *lab = sup_alloc(alloc, (size_t)(n ? n : 1), 64);
	if (!img || !lab) {
		sup_free(alloc, img);
		sup_free(alloc, lab);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "%s: out of memory for %lld images", what, (long long)n);
	}
	sup_tensor_init(&set->images, SUP_U8, 4, (const int64_t[]){ n, c, h, w }, img);
	sup_tensor_init(&set->labels, SUP_U8, 1, (const int64_t[]){ n }, lab);
	return SUP_OK;
}

enum sup_status sup_image_set_load_cifar_files(struct sup_image_set *set, const char *const *paths, int n_paths,
					       enum sup_cifar_kind kind, const struct sup_allocator *alloc,
					       char *err, size_t err_size)
{
	memset(set, 0, sizeof *set);
	if (n_paths < 1 || (unsigned)kind >= SUP_CIFAR_KIND_COUNT)
		return sup_errf(err, err_size, SUP_ERR_ARG, "CIFAR: no files or a bad kind");
	const size_t label_bytes = kind == SUP_CIFAR10 ? 1 : 2;
	const size_t record = label_bytes + CIFAR_PIXELS;
	const int label_at = kind == SUP_CIFAR100_FINE ? 1 : 0; /* CIFAR-100: coarse byte, then fine */
	const int n_classes = kind == SUP_CIFAR10 ? 10 : kind == SUP_CIFAR100_FINE ? 100 : 20;
	/* First pass: sizes, so that the images are one block. */
	int64_t total = 0;
	for (int i = 0; i < n_paths; i++) {
		FILE *f;
		int64_t n;
		enum sup_status st = open_records(paths[i], record, &f, &n, err, err_size);
		if (st)
			return st;
		fclose(f);
		total += n;
	}
	enum sup_status st = alloc_set(set, total, 3, 32, 32, alloc, paths[0], err, err_size);
	if (st)
		return st;
	uint8_t *img = set->images.data, *lab = set->labels.data;
	unsigned char rec[2 + CIFAR_PIXELS];
	int64_t k = 0;
	for (int i = 0; i < n_paths && !st; i++) {
		FILE *f = NULL;
		int64_t n;
		st = open_records(paths[i], record, &f, &n, err, err_size);
		for (int64_t r = 0; r < n && !st; r++, k++) {
			if (k >= total || fread(rec, 1, record, f) != record) {
				st = sup_errf(err, err_size, SUP_ERR_IO, "%s: read failed at record %lld (file changed?)",
					   paths[i], (long long)r);
				break;
			}
			if (rec[label_at] >= n_classes) {
				st = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: record %lld has label %d, outside 0..%d",
					   paths[i], (long long)r, rec[label_at], n_classes - 1);
				break;
			}
			lab[k] = rec[label_at];
			memcpy(img + k * CIFAR_PIXELS, rec + label_bytes, CIFAR_PIXELS);
		}
		if (f)
			fclose(f);
	}
	if (!st && k != total)
		st = sup_errf(err, err_size, SUP_ERR_IO, "%s: files changed while reading", paths[0]);
	if (st) {
		sup_image_set_free(set, alloc);
		return st;
	}
	set->n_classes = n_classes;
	return SUP_OK;
}

enum sup_status sup_image_set_load_cifar(struct sup_image_set *set, const char *dir, bool train,
					 enum sup_cifar_kind kind, const struct sup_allocator *alloc, char *err,
					 size_t err_size)
{
	char buf[6][4096];
	const char *paths[6];
	int n = 0;
	if (kind == SUP_CIFAR10 && train) {
		for (n = 0; n < 5; n++)
			snprintf(buf[n], sizeof buf[n], "%s/data_batch_%d.bin", dir, n + 1);
	} else {
		const char *name = kind == SUP_CIFAR10 ? "test_batch.bin" : train ? "train.bin" : "test.bin";
		snprintf(buf[0], sizeof buf[0], "%s/%s", dir, name);
		n = 1;
	}
	for (int i = 0; i < n; i++)
		paths[i] = buf[i];
	return sup_image_set_load_cifar_files(set, paths, n, kind, alloc, err, err_size);
}

enum sup_status sup_image_set_load_stl10(struct sup_image_set *set, const char *dir, enum sup_stl10_split split,
					 const struct sup_allocator *alloc, char *err, size_t err_size)
{
	memset(set, 0, sizeof *set);
	if ((unsigned)split >= SUP_STL10_SPLIT_COUNT)
		return sup_errf(err, err_size, SUP_ERR_ARG, "STL-10: bad split %d", (int)split);
	static const char *const names[] = { "train", "test", "unlabeled" };
	_Static_assert(sizeof names / sizeof names[0] == SUP_STL10_SPLIT_COUNT, "one file prefix per split");
	char xpath[4096], ypath[4096];
	snprintf(xpath, sizeof xpath, "%s/%s_X.bin", dir, names[split]);
	snprintf(ypath, sizeof ypath, "%s/%s_y.bin", dir, names[split]);
	FILE *fx, *fy = NULL;
	int64_t n, ny;
	enum sup_status st = open_records(xpath, STL_PIXELS, &fx, &n, err, err_size);
	if (st)
		return st;
	if (split != SUP_STL10_UNLABELED) {
		st = open_records(ypath, 1, &fy, &ny, err, err_size);
		if (!st && ny != n)
			st = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: %lld labels for %lld images in %s", ypath,
				   (long long)ny, (long long)n, xpath);
		if (st)
			goto close_files;
	}
	st = alloc_set(set, n, 3, STL_SIDE, STL_SIDE, alloc, xpath, err, err_size);
	if (st)
		goto close_files;
	uint8_t *img = set->images.data, *lab = set->labels.data;
	unsigned char rec[STL_PIXELS];
	for (int64_t i = 0; i < n && !st; i++) {
		if (fread(rec, 1, STL_PIXELS, fx) != STL_PIXELS) {
			st = sup_errf(err, err_size, SUP_ERR_IO, "%s: read failed at image %lld", xpath, (long long)i);
			break;
		}
		/* Each plane is stored column by column (x outer, y inner): transpose to [y][x]. */
		uint8_t *dst = img + i * STL_PIXELS;
		for (int ch = 0; ch < 3; ch++)
			for (int x = 0; x < STL_SIDE; x++)
				for (int y = 0; y < STL_SIDE; y++)
					dst[(ch * STL_SIDE + y) * STL_SIDE + x] = rec[(ch * STL_SIDE + x) * STL_SIDE + y];
		if (!fy) {
			lab[i] = SUP_LABEL_NONE;
			continue;
		}
		int l = fgetc(fy);
		if (l < 1 || l > 10) {
			st = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: label %d of image %lld is outside 1..10", ypath, l,
				   (long long)i);
			break;
		}
		lab[i] = (uint8_t)(l - 1);
	}
	if (st)
		sup_image_set_free(set, alloc);
	else
		set->n_classes = 10;
close_files:
	fclose(fx);
	if (fy)
		fclose(fy);
	return st;
}

void sup_image_set_stats(const struct sup_image_set *set, float *mean, float *std)
{
	const int64_t n = set->images.shape[0], c = set->images.shape[1];
	const int64_t hw = set->images.shape[2] * set->images.shape[3];
	const uint8_t *p = set->images.data;
	for (int64_t ch = 0; ch < c; ch++) {
		/* Exact integer sums (fit in 64 bits for any set that fits in memory), then one division. */
		uint64_t s = 0, s2 = 0;
		for (int64_t i = 0; i < n; i++) {
			const uint8_t *q = p + (i * c + ch) * hw;
			for (int64_t k = 0; k < hw; k++) {
				s += q[k];
				s2 += (uint64_t)q[k] * q[k];
			}
		}
		double cnt = (double)(n * hw);
		double m = cnt > 0 ? (double)s / cnt : 0.0;
		double var = cnt > 0 ? (double)s2 / cnt - m * m : 0.0;
		mean[ch] = (float)(m / 255.0);
		std[ch] = (float)(sqrt(var > 0 ? var : 0) / 255.0);
	}
}

void sup_image_u8_to_float(float *dst, const uint8_t *src, int64_t n)
{
	/* Division (not a multiply by 1/255) so that values are the correctly rounded quotients. */
#pragma omp simd
	for (int64_t i = 0; i < n; i++)
		dst[i] = (float)src[i] / 255.0f;
}
