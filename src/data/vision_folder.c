/* ImageFolder trees (torchvision.datasets.ImageFolder's layout: root/<class>/<image>) decoded with
 * libpng (its simplified png_image API) and libjpeg-turbo. Decoder errors never exit: libpng
 * reports through png_image.message, libjpeg through an error manager that longjmps back here,
 * and libjpeg's warnings (a truncated file is only a warning there) count as errors too. */
#define _POSIX_C_SOURCE 200809L
#include "selfsup/data.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#define MAX_SIDE 16384

/* ---- a growable list of strings (one allocation per string) ---- */

struct strlist {
	char **s;
	size_t n, cap;
};

static bool strlist_push(struct strlist *l, const struct sup_allocator *a, const char *str)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **s = sup_alloc(a, cap * sizeof *s, 16);
		if (!s)
			return false;
		if (l->n)
			memcpy(s, l->s, l->n * sizeof *s);
		sup_free(a, l->s);
		l->s = s;
		l->cap = cap;
	}
	size_t len = strlen(str) + 1;
	char *copy = sup_alloc(a, len, 16);
	if (!copy)
		return false;
	memcpy(copy, str, len);
	l->s[l->n++] = copy;
	return true;
}

static void strlist_free(struct strlist *l, const struct sup_allocator *a)
{
	for (size_t i = 0; i < l->n; i++)
		sup_free(a, l->s[i]);
	sup_free(a, l->s);
	memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_image_ext(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* Names in dir (no "." entries) that are directories (want_dirs) or image files, sorted. */
static enum sup_status list_dir(const char *dir, bool want_dirs, struct strlist *out, const struct sup_allocator *a,
				char *err, size_t err_size)
{
	DIR *d = opendir(dir);
	if (!d)
		return sup_errf(err, err_size, errno == ENOENT ? SUP_ERR_NOT_FOUND : SUP_ERR_IO, "%s: cannot open folder (%s)",
			     dir, strerror(errno));
	struct dirent *e;
	char path[4096];
	enum sup_status st = SUP_OK;
	while (!st && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat sb;
		if (stat(path, &sb) != 0)
			continue;
		bool keep = want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode) && has_image_ext(e->d_name);
		if (keep && !strlist_push(out, a, e->d_name))
			st = sup_errf(err, err_size, SUP_ERR_NOMEM, "%s: out of memory listing the folder", dir);
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->s, out->n, sizeof *out->s, cmp_str);
	return st;
}

/* ---- decoders: interleaved 8-bit pixels [h][w][c], c = 1 or 3, in one allocator block ---- */

struct decoded {
	uint8_t *px;
	int c, h, w;
};

static enum sup_status decode_png(const char *path, struct decoded *d, const struct sup_allocator *a, char *err,
				  size_t err_size)
{
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, path))
		return sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: not a readable PNG (%s)", path, img.message);
	/* Gray stays gray; anything with colour becomes RGB. Alpha is removed by compositing onto
	 * black (without a background libpng would composite onto the buffer's old contents). */
	d->c = (img.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
	img.format = d->c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
	if (img.width == 0 || img.height == 0 || img.width > MAX_SIDE || img.height > MAX_SIDE) {
		png_image_free(&img);
		return sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: PNG size %ux%u outside 1..%d", path, img.width,
			     img.height, MAX_SIDE);
	}
	d->h = (int)img.height;
	d->w = (int)img.width;
	d->px = sup_alloc(a, PNG_IMAGE_SIZE(img), 64);
	if (!d->px) {
		png_image_free(&img);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "%s: out of memory", path);
	}
	const png_color black = { 0, 0, 0 };
	if (!png_image_finish_read(&img, &black, d->px, 0, NULL)) {
		sup_free(a, d->px);
		d->px = NULL;
		return sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: corrupt or truncated PNG (%s)", path, img.message);
	}
	return SUP_OK;
}

struct jpeg_fail {
	struct jpeg_error_mgr mgr;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
};

static void jpeg_on_error(j_common_ptr cinfo)
{
	struct jpeg_fail *f = (struct jpeg_fail *)cinfo->err;
	f->mgr.format_message(cinfo, f->msg);
	longjmp(f->jump, 1);
}

/* Level -1 is a warning about corrupt data (e.g. "Premature end of JPEG file"): an error here. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
	if (level < 0)
		jpeg_on_error(cinfo);
}

/* Only called through decode_jpeg's setjmp; `volatile` keeps px valid after a longjmp. */
static enum sup_status decode_jpeg(const char *path, struct decoded *d, const struct sup_allocator *a, char *err,
				   size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
	struct jpeg_decompress_struct cinfo;
	struct jpeg_fail jf;
	uint8_t *volatile px = NULL;
	cinfo.err = jpeg_std_error(&jf.mgr);
	jf.mgr.error_exit = jpeg_on_error;
	jf.mgr.emit_message = jpeg_on_message;
	if (setjmp(jf.jump)) {
		jpeg_destroy_decompress(&cinfo);
		fclose(f);
		sup_free(a, px);
		return sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: corrupt or truncated JPEG (%s)", path, jf.msg);
	}
	jpeg_create_decompress(&cinfo);
	jpeg_stdio_src(&cinfo, f);
	jpeg_read_header(&cinfo, TRUE);
	if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
		snprintf(jf.msg, sizeof jf.msg, "CMYK JPEGs are not supported");
		longjmp(jf.jump, 1);
	}
	cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_start_decompress(&cinfo);
	if (cinfo.output_width > MAX_SIDE || cinfo.output_height > MAX_SIDE) {
		snprintf(jf.msg, sizeof jf.msg, "size %ux%u above %d", cinfo.output_width, cinfo.output_height, MAX_SIDE);
		longjmp(jf.jump, 1);
	}
	const int c = cinfo.output_components, w = (int)cinfo.output_width, h = (int)cinfo.output_height;
	px = sup_alloc(a, (size_t)c * w * h, 64);
	if (!px) {
		snprintf(jf.msg, sizeof jf.msg, "out of memory");
		longjmp(jf.jump, 1);
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = px + (size_t)cinfo.output_scanline * c * w;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	fclose(f);
	*d = (struct decoded){ .px = px, .c = c, .h = h, .w = w };
	return SUP_OK;
}

static enum sup_status decode_any(const char *path, struct decoded *d, const struct sup_allocator *a, char *err,
				  size_t err_size)
{
	const char *dot = strrchr(path, '.');
	if (dot && !strcasecmp(dot, ".png"))
		return decode_png(path, d, a, err, err_size);
	return decode_jpeg(path, d, a, err, err_size);
}

/* Pixel (y, x) of d in `c` channels (luma for 1 from 3; replicated for 3 from 1), as floats. */
static void pixel(const struct decoded *d, int y, int x, int c, float *out)
{
	const uint8_t *p = d->px + ((size_t)y * d->w + x) * d->c;
	if (c == d->c) {
		for (int k = 0; k < c; k++)
			out[k] = p[k];
	} else if (c == 1) {
		out[0] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
	} else {
		out[0] = out[1] = out[2] = p[0];
	}
}

/* Writes d into dst [c, h, w] u8, converting channels and resizing bilinearly (align_corners
 * false, as torchvision's Resize without antialiasing) when sizes differ. */
static void convert_into(uint8_t *dst, int c, int h, int w, const struct decoded *d)
{
	const float sy = (float)d->h / h, sx = (float)d->w / w;
	for (int y = 0; y < h; y++) {
		float fy = d->h == h ? (float)y : fmaxf((y + 0.5f) * sy - 0.5f, 0.0f);
		int y0 = (int)fy, y1 = y0 + 1 < d->h ? y0 + 1 : y0;
		float ay = fy - y0;
		for (int x = 0; x < w; x++) {
			float fx = d->w == w ? (float)x : fmaxf((x + 0.5f) * sx - 0.5f, 0.0f);
			int x0 = (int)fx, x1 = x0 + 1 < d->w ? x0 + 1 : x0;
			float ax = fx - x0, p00[3], p01[3], p10[3], p11[3];
			pixel(d, y0, x0, c, p00);
			pixel(d, y0, x1, c, p01);
			pixel(d, y1, x0, c, p10);
			pixel(d, y1, x1, c, p11);
			for (int k = 0; k < c; k++) {
				float v = (1 - ay) * ((1 - ax) * p00[k] + ax * p01[k]) + ay * ((1 - ax) * p10[k] + ax * p11[k]);
				v = v < 0 ? 0 : v > 255 ? 255 : v;
				dst[((size_t)k * h + y) * w + x] = (uint8_t)lrintf(v);
			}
		}
	}
}

/* The class names as one block: n pointers, then the strings. */
static char **names_block(const struct strlist *l, const struct sup_allocator *a)
{
	size_t bytes = l->n * sizeof(char *);
	for (size_t i = 0; i < l->n; i++)
		bytes += strlen(l->s[i]) + 1;
	char **names = sup_alloc(a, bytes, 16);
	if (!names)
		return NULL;
	char *p = (char *)(names + l->n);
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strlen(l->s[i]) + 1;
		memcpy(p, l->s[i], len);
		names[i] = p;
		p += len;
	}
	return names;
}

/* Lists every image as "class/file"; class k's files end at files->n just after it was listed,
 * recorded in end[k] (end has room for 255 entries). */
static enum sup_status scan_tree(const char *root, struct strlist *classes, struct strlist *files, size_t *end,
				 const struct sup_allocator *a, char *err, size_t err_size)
{
	enum sup_status st = list_dir(root, true, classes, a, err, err_size);
	if (st)
		return st;
	if (classes->n == 0 || classes->n > 255)
		return sup_errf(err, err_size, classes->n ? SUP_ERR_FORMAT : SUP_ERR_NOT_FOUND,
			     "%s: %zu class folders (need 1..255)", root, classes->n);
	char path[4096];
	for (size_t k = 0; k < classes->n && !st; k++) {
		struct strlist names = { 0 };
		snprintf(path, sizeof path, "%s/%s", root, classes->s[k]);
		st = list_dir(path, false, &names, a, err, err_size);
		for (size_t i = 0; i < names.n && !st; i++) {
			snprintf(path, sizeof path, "%s/%s", classes->s[k], names.s[i]);
			if (!strlist_push(files, a, path))
				st = sup_errf(err, err_size, SUP_ERR_NOMEM, "%s: out of memory", root);
		}
		strlist_free(&names, a);
		end[k] = files->n;
	}
	if (!st && files->n == 0)
		st = sup_errf(err, err_size, SUP_ERR_NOT_FOUND, "%s: no .png/.jpg/.jpeg images in the class folders", root);
	return st;
}

/* Decodes file i into the set (allocating the set on the first image, whose size and channel
 * count are the defaults). */
static enum sup_status load_one(struct sup_image_set *set, const char *root, const struct strlist *files, size_t i,
				int *c, int *h, int *w, bool resize, const struct sup_allocator *a, char *err,
				size_t err_size)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, files->s[i]);
	struct decoded d = { 0 };
	enum sup_status st = decode_any(path, &d, a, err, err_size);
	if (st)
		return st;
	if (i == 0) {
		*c = *c ? *c : d.c;
		*h = *h ? *h : d.h;
		*w = *w ? *w : d.w;
		const int64_t n = (int64_t)files->n;
		void *img = sup_alloc(a, (size_t)n * (size_t)(*c * *h * *w), 64), *lab = sup_alloc(a, files->n, 64);
		if (!img || !lab) {
			sup_free(a, img);
			sup_free(a, lab);
			sup_free(a, d.px);
			return sup_errf(err, err_size, SUP_ERR_NOMEM, "%s: out of memory for %zu images", root, files->n);
		}
		sup_tensor_init(&set->images, SUP_U8, 4, (const int64_t[]){ n, *c, *h, *w }, img);
		sup_tensor_init(&set->labels, SUP_U8, 1, (const int64_t[]){ n }, lab);
	}
	if (!resize && (d.h != *h || d.w != *w))
		st = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: image is %dx%d, the folder's images are %dx%d", path, d.w,
			   d.h, *w, *h);
	else
		convert_into((uint8_t *)set->images.data + i * (size_t)(*c * *h * *w), *c, *h, *w, &d);
	sup_free(a, d.px);
	return st;
}

enum sup_status sup_image_set_load_folder(struct sup_image_set *set, const char *root,
					  const struct sup_image_folder_opts *opts, const struct sup_allocator *alloc,
					  char *err, size_t err_size)
{
	memset(set, 0, sizeof *set);
	struct sup_image_folder_opts o = opts ? *opts : (struct sup_image_folder_opts){ 0 };
	if ((o.channels != 0 && o.channels != 1 && o.channels != 3) || o.height < 0 || o.width < 0 ||
	    (o.height == 0) != (o.width == 0) || o.height > MAX_SIDE || o.width > MAX_SIDE)
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s: channels must be 0, 1 or 3 and height/width both 0 or both set",
			     root);
	struct strlist classes = { 0 }, files = { 0 };
	size_t end[256];
	enum sup_status st = scan_tree(root, &classes, &files, end, alloc, err, err_size);
	int c = o.channels, h = o.height, w = o.width;
	for (size_t i = 0; !st && i < files.n; i++)
		st = load_one(set, root, &files, i, &c, &h, &w, o.height > 0, alloc, err, err_size);
	if (!st) {
		uint8_t *lab = set->labels.data;
		for (size_t k = 0, i = 0; k < classes.n; k++)
			for (; i < end[k]; i++)
				lab[i] = (uint8_t)k;
		set->n_classes = (int)classes.n;
		set->class_names = names_block(&classes, alloc);
		if (!set->class_names)
			st = sup_errf(err, err_size, SUP_ERR_NOMEM, "%s: out of memory", root);
	}
	if (st)
		sup_image_set_free(set, alloc);
	strlist_free(&classes, alloc);
	strlist_free(&files, alloc);
	return st;
}
