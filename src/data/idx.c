/* IDX files (the MNIST format): 4-byte magic (0, 0, dtype, ndim), ndim big-endian u32 sizes,
 * then the data row-major. Only dtype 0x08 (unsigned byte) occurs in the data sets we read. */
#include "selfsup/data.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAX_DIMS 4

static enum sup_status fail(char *err, size_t n, enum sup_status s, const char *path, const char *why)
{
	if (err && n)
		snprintf(err, n, "%s: %s", path, why);
	return s;
}

static bool read_exact(gzFile f, void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
		int got = gzread(f, p, chunk);
		if (got <= 0)
			return false;
		p += got;
		n -= (size_t)got;
	}
	return true;
}

enum sup_status sup_idx_load(const char *path, const struct sup_allocator *alloc, struct sup_tensor *out,
			     char *err, size_t err_size)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return fail(err, err_size, SUP_ERR_IO, path, "cannot open");
	enum sup_status st = SUP_OK;
	unsigned char magic[4], szb[4];
	int64_t dims[IDX_MAX_DIMS];
	void *data = NULL;
	if (!read_exact(f, magic, 4)) {
		st = fail(err, err_size, SUP_ERR_FORMAT, path, "truncated IDX header");
		goto close_file;
	}
	if (magic[0] || magic[1] || magic[2] != 0x08 || magic[3] < 1 || magic[3] > IDX_MAX_DIMS) {
		st = fail(err, err_size, SUP_ERR_FORMAT, path, "not an unsigned-byte IDX file (bad magic)");
		goto close_file;
	}
	int ndim = magic[3];
	size_t total = 1;
	for (int i = 0; i < ndim; i++) {
		if (!read_exact(f, szb, 4)) {
			st = fail(err, err_size, SUP_ERR_FORMAT, path, "truncated IDX header");
			goto close_file;
		}
		dims[i] = ((int64_t)szb[0] << 24) | (szb[1] << 16) | (szb[2] << 8) | szb[3];
		if (dims[i] > 0 && total > ((size_t)1 << 40) / (size_t)dims[i]) {
			st = fail(err, err_size, SUP_ERR_FORMAT, path, "IDX sizes too large");
			goto close_file;
		}
		total *= (size_t)dims[i];
	}
	data = sup_alloc(alloc, total ? total : 1, 64);
	if (!data) {
		st = fail(err, err_size, SUP_ERR_NOMEM, path, "out of memory");
		goto close_file;
	}
	unsigned char extra;
	if (!read_exact(f, data, total)) {
		st = fail(err, err_size, SUP_ERR_FORMAT, path, "truncated IDX data");
		goto free_data;
	}
	if (gzread(f, &extra, 1) != 0) {
		st = fail(err, err_size, SUP_ERR_FORMAT, path, "trailing bytes after the IDX data");
		goto free_data;
	}
	sup_tensor_init(out, SUP_U8, ndim, dims, data);
	goto close_file;
free_data:
	sup_free(alloc, data);
close_file:
	gzclose(f);
	return st;
}

/* Tries "<dir>/<name>.gz" then "<dir>/<name>". */
static enum sup_status load_named(const char *dir, const char *name, const struct sup_allocator *alloc,
				  struct sup_tensor *out, char *err, size_t err_size)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.gz", dir, name);
	FILE *probe = fopen(path, "rb");
	if (probe)
		fclose(probe);
	else
		snprintf(path, sizeof path, "%s/%s", dir, name);
	return sup_idx_load(path, alloc, out, err, err_size);
}

enum sup_status sup_image_set_load_idx(struct sup_image_set *set, const char *dir, bool train,
				       const struct sup_allocator *alloc, char *err, size_t err_size)
{
	memset(set, 0, sizeof *set);
	const char *pre = train ? "train" : "t10k";
	char name[64];
	snprintf(name, sizeof name, "%s-images-idx3-ubyte", pre);
	struct sup_tensor img;
	enum sup_status st = load_named(dir, name, alloc, &img, err, err_size);
	if (st)
		return st;
	snprintf(name, sizeof name, "%s-labels-idx1-ubyte", pre);
	st = load_named(dir, name, alloc, &set->labels, err, err_size);
	if (st) {
		sup_free(alloc, img.data);
		return st;
	}
	if (img.ndim != 3 || set->labels.ndim != 1 || img.shape[0] != set->labels.shape[0]) {
		snprintf(err, err_size, "%s: images and labels of the %s split do not match", dir, pre);
		sup_free(alloc, img.data);
		sup_free(alloc, set->labels.data);
		return SUP_ERR_FORMAT;
	}
	/* [N, H, W] -> [N, 1, H, W]: every image set is NCHW. */
	sup_tensor_init(&set->images, SUP_U8, 4, (const int64_t[]){ img.shape[0], 1, img.shape[1], img.shape[2] },
			img.data);
	int max_label = 0;
	for (int64_t i = 0; i < set->labels.shape[0]; i++) {
		int l = ((uint8_t *)set->labels.data)[i];
		max_label = l > max_label ? l : max_label;
	}
	set->n_classes = max_label + 1;
	return SUP_OK;
}

void sup_image_set_free(struct sup_image_set *set, const struct sup_allocator *alloc)
{
	sup_free(alloc, set->images.data);
	sup_free(alloc, set->labels.data);
	sup_free(alloc, set->class_names);
	memset(set, 0, sizeof *set);
}
