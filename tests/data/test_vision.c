/* Vision formats: CIFAR-10/100 and STL-10 records written by hand, an ImageFolder tree of PNG and
 * JPEG files written here with libpng and libjpeg, corrupt and truncated files (the error must
 * name the file and the problem), per-channel statistics, and the PNG grid writer. */
#define _XOPEN_SOURCE 700
#include "testutil.h"
#include "selfsup/data.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

static char g_dir[64];

static void path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", g_dir, name);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	TU_CHECK(f != NULL);
	if (!f)
		return;
	if (n)
		fwrite(b, 1, n, f);
	fclose(f);
}

/* Truncates a file to n bytes by rewriting its prefix. */
static void cut_file(const char *path, size_t n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = malloc(n + 1);
	size_t got = fread(b, 1, n, f);
	fclose(f);
	write_bytes(path, b, got);
	free(b);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* ---- CIFAR ---- */

static unsigned char cifar_pixel(int rec, int k)
{
	return (unsigned char)((rec * 31 + k * 7) & 0xFF);
}

static void write_cifar(const char *path, int n_rec, int label_bytes, int first_rec, const int *labels)
{
	size_t rs = (size_t)label_bytes + 3072;
	unsigned char *b = malloc(rs * n_rec);
	for (int r = 0; r < n_rec; r++) {
		for (int j = 0; j < label_bytes; j++)
			b[r * rs + j] = (unsigned char)labels[r * label_bytes + j];
		for (int k = 0; k < 3072; k++)
			b[r * rs + label_bytes + k] = cifar_pixel(first_rec + r, k);
	}
	write_bytes(path, b, rs * n_rec);
	free(b);
}

static void test_cifar(void)
{
	struct sup_allocator al = sup_allocator_default();
	char err[512], p[256];
	struct sup_image_set s;
	/* Five train batches of one record each (labels 0..4), one test batch of two. */
	for (int i = 0; i < 5; i++) {
		char name[32];
		snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
		path_in(p, sizeof p, name);
		write_cifar(p, 1, 1, i, (int[]){ i });
	}
	path_in(p, sizeof p, "test_batch.bin");
	write_cifar(p, 2, 1, 0, (int[]){ 9, 3 });
	TU_CHECK(sup_image_set_load_cifar(&s, g_dir, true, SUP_CIFAR10, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(s.images.shape[0] == 5 && s.images.shape[1] == 3 && s.images.shape[2] == 32 && s.n_classes == 10);
	const uint8_t *img = s.images.data;
	int ok = 1;
	for (int r = 0; r < 5; r++) {
		ok &= ((uint8_t *)s.labels.data)[r] == r;
		/* The record's planes are R, G, B, each row-major: byte k is [k / 1024][k / 32 % 32][k % 32]. */
		for (int k = 0; k < 3072; k++)
			ok &= img[r * 3072 + k] == cifar_pixel(r, k);
	}
	TU_CHECK(ok);
	TU_CHECK(img[3072 + (2 * 32 + 5) * 32 + 7] == cifar_pixel(1, 2 * 1024 + 5 * 32 + 7));
	sup_image_set_free(&s, &al);
	TU_CHECK(sup_image_set_load_cifar(&s, g_dir, false, SUP_CIFAR10, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(s.images.shape[0] == 2 && ((uint8_t *)s.labels.data)[0] == 9);
	sup_image_set_free(&s, &al);

	/* Truncated: one byte short of a record. */
	path_in(p, sizeof p, "data_batch_3.bin");
	cut_file(p, 3072);
	TU_CHECK(sup_image_set_load_cifar(&s, g_dir, true, SUP_CIFAR10, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "data_batch_3.bin") && strstr(err, "records"), "%s", err);
	TU_CHECK(s.images.data == NULL);
	/* An empty file, a label out of range, a missing file. */
	write_bytes(p, "", 0);
	TU_CHECK(sup_image_set_load_cifar(&s, g_dir, true, SUP_CIFAR10, &al, err, sizeof err) == SUP_ERR_FORMAT);
	write_cifar(p, 1, 1, 2, (int[]){ 10 });
	TU_CHECK(sup_image_set_load_cifar(&s, g_dir, true, SUP_CIFAR10, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "data_batch_3.bin") && strstr(err, "label 10"), "%s", err);
	remove(p);
	TU_CHECK(sup_image_set_load_cifar(&s, g_dir, true, SUP_CIFAR10, &al, err, sizeof err) == SUP_ERR_IO);
	TU_CHECK_MSG(strstr(err, "data_batch_3.bin") && strstr(err, "cannot open"), "%s", err);

	/* CIFAR-100: coarse then fine label. */
	path_in(p, sizeof p, "train.bin");
	write_cifar(p, 3, 2, 0, (int[]){ 1, 99, 19, 0, 7, 42 });
	TU_CHECK(sup_image_set_load_cifar(&s, g_dir, true, SUP_CIFAR100_FINE, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(s.n_classes == 100 && s.images.shape[0] == 3);
	TU_CHECK(((uint8_t *)s.labels.data)[0] == 99 && ((uint8_t *)s.labels.data)[2] == 42);
	TU_CHECK(((uint8_t *)s.images.data)[3072 + 5] == cifar_pixel(1, 5));
	sup_image_set_free(&s, &al);
	TU_CHECK(sup_image_set_load_cifar(&s, g_dir, true, SUP_CIFAR100_COARSE, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(s.n_classes == 20 && ((uint8_t *)s.labels.data)[1] == 19);
	sup_image_set_free(&s, &al);
	/* The 2-byte records of CIFAR-100 read as CIFAR-10 do not divide the file. */
	const char *one[] = { p };
	TU_CHECK(sup_image_set_load_cifar_files(&s, one, 1, SUP_CIFAR10, &al, err, sizeof err) == SUP_ERR_FORMAT);
}

/* ---- STL-10 ---- */

#define STL_N 2
static unsigned char stl_value(int i, int ch, int y, int x)
{
	return (unsigned char)((i * 101 + ch * 53 + y * 3 + x * 5) & 0xFF);
}

static void test_stl10(void)
{
	struct sup_allocator al = sup_allocator_default();
	char err[512], px[256], py[256];
	struct sup_image_set s;
	size_t per = 3 * 96 * 96;
	unsigned char *b = malloc(per * STL_N);
	for (int i = 0; i < STL_N; i++)
		for (int ch = 0; ch < 3; ch++)
			for (int x = 0; x < 96; x++)
				for (int y = 0; y < 96; y++) /* column-major planes: y runs fastest */
					b[i * per + (ch * 96 + x) * 96 + y] = stl_value(i, ch, y, x);
	path_in(px, sizeof px, "train_X.bin");
	path_in(py, sizeof py, "train_y.bin");
	write_bytes(px, b, per * STL_N);
	write_bytes(py, (unsigned char[]){ 1, 10 }, 2);
	TU_CHECK(sup_image_set_load_stl10(&s, g_dir, SUP_STL10_TRAIN, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(s.images.shape[0] == STL_N && s.images.shape[2] == 96 && s.n_classes == 10);
	const uint8_t *img = s.images.data;
	TU_CHECK(((uint8_t *)s.labels.data)[0] == 0 && ((uint8_t *)s.labels.data)[1] == 9);
	int ok = 1;
	for (int i = 0; i < STL_N; i++)
		for (int ch = 0; ch < 3; ch++)
			for (int y = 0; y < 96; y++)
				for (int x = 0; x < 96; x++)
					ok &= img[i * per + (ch * 96 + y) * 96 + x] == stl_value(i, ch, y, x);
	TU_CHECK(ok);
	sup_image_set_free(&s, &al);
	/* Unlabeled split: no _y file. */
	path_in(px, sizeof px, "unlabeled_X.bin");
	write_bytes(px, b, per);
	TU_CHECK(sup_image_set_load_stl10(&s, g_dir, SUP_STL10_UNLABELED, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(s.images.shape[0] == 1 && ((uint8_t *)s.labels.data)[0] == SUP_LABEL_NONE);
	sup_image_set_free(&s, &al);
	/* Errors: label 0, label count mismatch, truncated images. */
	write_bytes(py, (unsigned char[]){ 1, 0 }, 2);
	TU_CHECK(sup_image_set_load_stl10(&s, g_dir, SUP_STL10_TRAIN, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "train_y.bin") && strstr(err, "outside 1..10"), "%s", err);
	write_bytes(py, (unsigned char[]){ 1 }, 1);
	TU_CHECK(sup_image_set_load_stl10(&s, g_dir, SUP_STL10_TRAIN, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "1 labels for 2 images"), "%s", err);
	path_in(px, sizeof px, "train_X.bin");
	cut_file(px, per * STL_N - 1);
	TU_CHECK(sup_image_set_load_stl10(&s, g_dir, SUP_STL10_TRAIN, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "train_X.bin") && strstr(err, "truncated"), "%s", err);
	TU_CHECK(sup_image_set_load_stl10(&s, g_dir, SUP_STL10_TEST, &al, err, sizeof err) == SUP_ERR_IO);
	free(b);
}

/* ---- ImageFolder ---- */

/* An 8-bit PNG of w x h with `c` channels (1 gray, 3 RGB, 4 RGBA), pixel (y, x, k) = f. */
static void write_png(const char *path, int w, int h, int c, unsigned char (*f)(int, int, int))
{
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)w;
	img.height = (png_uint_32)h;
	img.format = c == 1 ? PNG_FORMAT_GRAY : c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
	unsigned char *px = malloc((size_t)w * h * c);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int k = 0; k < c; k++)
				px[(y * w + x) * c + k] = f(y, x, k);
	TU_CHECK(png_image_write_to_file(&img, path, 0, px, 0, NULL));
	free(px);
}

static void write_jpeg(const char *path, int w, int h, int c, unsigned char (*f)(int, int, int))
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr em;
	ci.err = jpeg_std_error(&em);
	jpeg_create_compress(&ci);
	FILE *fp = fopen(path, "wb");
	jpeg_stdio_dest(&ci, fp);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = c;
	ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, 100, TRUE);
	jpeg_start_compress(&ci, TRUE);
	unsigned char *row = malloc((size_t)w * c);
	while (ci.next_scanline < ci.image_height) {
		int y = (int)ci.next_scanline;
		for (int x = 0; x < w; x++)
			for (int k = 0; k < c; k++)
				row[x * c + k] = f(y, x, k);
		JSAMPROW r = row;
		jpeg_write_scanlines(&ci, &r, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	fclose(fp);
	free(row);
}

static unsigned char pat_a(int y, int x, int k)
{
	return (unsigned char)(y * 40 + x * 10 + k * 60);
}

/* Flat colours so that the quality-100 JPEG is nearly lossless. */
static unsigned char pat_flat(int y, int x, int k)
{
	(void)y;
	(void)x;
	return (unsigned char)(k == 0 ? 200 : k == 1 ? 100 : 50);
}

/* Opaque except pixel (0, 0), which is fully transparent (composited onto black). */
static unsigned char pat_alpha(int y, int x, int k)
{
	return k == 3 ? (y || x ? 255 : 0) : pat_a(y, x, k);
}

static void make_tree(void)
{
	char p[256];
	path_in(p, sizeof p, "tree");
	mkdir(p, 0700);
	path_in(p, sizeof p, "tree/dog");
	mkdir(p, 0700);
	path_in(p, sizeof p, "tree/cat");
	mkdir(p, 0700);
	path_in(p, sizeof p, "tree/cat/b.jpg");
	write_jpeg(p, 4, 3, 3, pat_flat);
	path_in(p, sizeof p, "tree/cat/a.png");
	write_png(p, 4, 3, 3, pat_a);
	path_in(p, sizeof p, "tree/dog/c.PNG");
	write_png(p, 4, 3, 4, pat_alpha);
	path_in(p, sizeof p, "tree/dog/notes.txt");
	write_bytes(p, "not an image", 12);
}

static void test_folder(void)
{
	struct sup_allocator al = sup_allocator_default();
	char err[512], root[256], p[256];
	struct sup_image_set s;
	make_tree();
	path_in(root, sizeof root, "tree");
	TU_CHECK_MSG(sup_image_set_load_folder(&s, root, NULL, &al, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(s.images.shape[0] == 3 && s.images.shape[1] == 3 && s.images.shape[2] == 3 && s.images.shape[3] == 4);
	TU_CHECK(s.n_classes == 2 && s.class_names && !strcmp(s.class_names[0], "cat") &&
		 !strcmp(s.class_names[1], "dog"));
	const uint8_t *lab = s.labels.data, *img = s.images.data;
	TU_CHECK(lab[0] == 0 && lab[1] == 0 && lab[2] == 1);
	int ok = 1, jpeg_err = 0;
	for (int k = 0; k < 3; k++)
		for (int y = 0; y < 3; y++)
			for (int x = 0; x < 4; x++) {
				ok &= img[(k * 3 + y) * 4 + x] == pat_a(y, x, k);                 /* a.png */
				ok &= img[36 * 2 + (k * 3 + y) * 4 + x] == (y || x ? pat_a(y, x, k) : 0); /* c.PNG */
				int d = (int)img[36 + (k * 3 + y) * 4 + x] - pat_flat(y, x, k); /* b.jpg */
				jpeg_err = abs(d) > jpeg_err ? abs(d) : jpeg_err;
			}
	TU_CHECK(ok);
	TU_CHECK_MSG(jpeg_err <= 3, "JPEG max error %d", jpeg_err);
	sup_image_set_free(&s, &al);

	/* One channel, resized to 6 x 8 (each source pixel becomes a 2x2 block at the centres). */
	struct sup_image_folder_opts o = { .channels = 1, .height = 6, .width = 8 };
	TU_CHECK(sup_image_set_load_folder(&s, root, &o, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(s.images.shape[1] == 1 && s.images.shape[2] == 6 && s.images.shape[3] == 8);
	img = s.images.data;
	/* Output (0, 0) maps to source (0, 0) exactly (clamped); luma of pat_a(0, 0) = (0, 60, 120). */
	TU_CHECK_MSG(abs((int)img[0] - (int)(0.587 * 60 + 0.114 * 120 + 0.5)) <= 1, "%d", img[0]);
	sup_image_set_free(&s, &al);

	/* A size mismatch without resizing names the file. */
	path_in(p, sizeof p, "tree/dog/d.png");
	write_png(p, 5, 3, 3, pat_a);
	TU_CHECK(sup_image_set_load_folder(&s, root, NULL, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "d.png") && strstr(err, "5x3"), "%s", err);
	/* Truncated PNG, truncated JPEG, garbage with a .jpg name. */
	write_png(p, 4, 3, 3, pat_a);
	cut_file(p, 60);
	TU_CHECK(sup_image_set_load_folder(&s, root, NULL, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "d.png") && (strstr(err, "PNG")), "%s", err);
	remove(p);
	path_in(p, sizeof p, "tree/dog/e.jpg");
	write_jpeg(p, 16, 16, 3, pat_a);
	cut_file(p, 400);
	TU_CHECK(sup_image_set_load_folder(&s, root, NULL, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "e.jpg") && strstr(err, "JPEG"), "%s", err);
	write_bytes(p, "GIF89a", 6);
	TU_CHECK(sup_image_set_load_folder(&s, root, NULL, &al, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "e.jpg"), "%s", err);
	remove(p);
	TU_CHECK(s.images.data == NULL && s.class_names == NULL);
	/* No such folder; a folder without class folders. */
	path_in(p, sizeof p, "nowhere");
	TU_CHECK(sup_image_set_load_folder(&s, p, NULL, &al, err, sizeof err) == SUP_ERR_NOT_FOUND);
	path_in(p, sizeof p, "tree/cat");
	TU_CHECK(sup_image_set_load_folder(&s, p, NULL, &al, err, sizeof err) == SUP_ERR_NOT_FOUND);
	o = (struct sup_image_folder_opts){ .channels = 2 };
	TU_CHECK(sup_image_set_load_folder(&s, root, &o, &al, err, sizeof err) == SUP_ERR_ARG);
}

static void test_stats(void)
{
	/* Two 1x2 RGB images: channel 0 values {0, 255, 255, 255}: mean 0.75, std sqrt(3)/4. */
	uint8_t px[12] = { 0, 255, 10, 10, 0, 0, 255, 255, 20, 30, 0, 0 };
	uint8_t lab[2] = { 0, 1 };
	struct sup_image_set s = { .n_classes = 2 };
	sup_tensor_init(&s.images, SUP_U8, 4, (const int64_t[]){ 2, 3, 1, 2 }, px);
	sup_tensor_init(&s.labels, SUP_U8, 1, (const int64_t[]){ 2 }, lab);
	float mean[3], std[3];
	sup_image_set_stats(&s, mean, std);
	TU_CHECK_NEAR(mean[0], 0.75, 1e-6);
	TU_CHECK_NEAR(std[0], sqrt(3.0) / 4, 1e-6);
	TU_CHECK_NEAR(mean[1], 17.5 / 255, 1e-6);
	TU_CHECK_NEAR(std[1], sqrt((100 + 100 + 400 + 900) / 4.0 - 17.5 * 17.5) / 255, 1e-6);
	TU_CHECK(mean[2] == 0 && std[2] == 0);
	float f[3];
	sup_image_u8_to_float(f, (const uint8_t[]){ 0, 51, 255 }, 3);
	TU_CHECK(f[0] == 0 && f[1] == 0.2f && f[2] == 1);
}

static void test_png_grid(void)
{
	char p[256], err[256];
	path_in(p, sizeof p, "grid.png");
	float data[3 * 3 * 2 * 2];
	for (int i = 0; i < 36; i++)
		data[i] = (float)(i % 5) / 4.0f;
	data[0] = -1; /* clamped */
	struct sup_tensor t;
	sup_tensor_init(&t, SUP_F32, 4, (const int64_t[]){ 3, 3, 2, 2 }, data);
	TU_CHECK(sup_png_write_grid(p, &t, 2, err, sizeof err) == SUP_OK);
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	TU_CHECK(png_image_begin_read_from_file(&img, p));
	/* 2 columns x 2 rows of 2x2 tiles with 2-pixel borders: 10 x 10. */
	TU_CHECK(img.width == 10 && img.height == 10);
	img.format = PNG_FORMAT_RGB;
	unsigned char px[10 * 10 * 3];
	TU_CHECK(png_image_finish_read(&img, NULL, px, 0, NULL));
	/* Image 1 (second column), channel 1, pixel (1, 0): data[12 + 4 + 2]. */
	TU_CHECK(px[((2 + 1) * 10 + 6) * 3 + 1] == (unsigned char)lrintf(data[18] * 255));
	TU_CHECK(px[(2 * 10 + 2) * 3] == 0 && px[0] == 128);
	struct sup_tensor bad;
	sup_tensor_init(&bad, SUP_F32, 3, (const int64_t[]){ 3, 2, 2 }, data);
	TU_CHECK(sup_png_write_grid(p, &bad, 2, err, sizeof err) == SUP_ERR_SHAPE);
	TU_CHECK(sup_png_write_grid("/nonexistent-dir/x.png", &t, 2, err, sizeof err) == SUP_ERR_IO &&
		 strstr(err, "/nonexistent-dir/x.png"));
}

int main(void)
{
	snprintf(g_dir, sizeof g_dir, "/tmp/selfsup-vision-XXXXXX");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_cifar();
	test_stl10();
	test_folder();
	test_stats();
	test_png_grid();
	nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tu_finish("vision");
}
