/* IDX reader: hand-made files (plain and gzip), every truncation, bad magic, and the real
 * Fashion-MNIST files when Debian's package is installed. */
#include "testutil.h"
#include "selfsup/data.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static void write_file(const char *path, const unsigned char *b, size_t n, bool gz)
{
	if (gz) {
		gzFile f = gzopen(path, "wb");
		gzwrite(f, b, (unsigned)n);
		gzclose(f);
	} else {
		FILE *f = fopen(path, "wb");
		fwrite(b, 1, n, f);
		fclose(f);
	}
}

static void test_small(bool gz)
{
	/* 2 images of 2x3: magic 0x00000803, dims 2, 2, 3, then 12 bytes. */
	unsigned char b[] = { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255 };
	char path[64];
	snprintf(path, sizeof path, "/tmp/selfsup-idx-%d%s", (int)getpid(), gz ? ".gz" : "");
	struct sup_allocator al = sup_allocator_default();
	char err[256];
	struct sup_tensor t;
	write_file(path, b, sizeof b, gz);
	TU_CHECK(sup_idx_load(path, &al, &t, err, sizeof err) == SUP_OK);
	TU_CHECK(t.ndim == 3 && t.shape[0] == 2 && t.shape[1] == 2 && t.shape[2] == 3 && t.dtype == SUP_U8);
	TU_CHECK(sup_tensor_get(&t, 11) == 255 && sup_tensor_get(&t, 6) == 7);
	sup_free(&al, t.data);
	for (size_t cut = 0; cut < sizeof b; cut++) {
		write_file(path, b, cut, gz);
		enum sup_status st = sup_idx_load(path, &al, &t, err, sizeof err);
		TU_CHECK_MSG(st == SUP_ERR_FORMAT, "truncated at %zu: %s", cut, sup_status_str(st));
	}
	unsigned char bad[sizeof b];
	memcpy(bad, b, sizeof b);
	bad[2] = 0x0D; /* float data: not supported */
	write_file(path, bad, sizeof bad, gz);
	TU_CHECK(sup_idx_load(path, &al, &t, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "magic"));
	unsigned char longer[sizeof b + 1];
	memcpy(longer, b, sizeof b);
	longer[sizeof b] = 0;
	write_file(path, longer, sizeof longer, gz);
	TU_CHECK(sup_idx_load(path, &al, &t, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "trailing"));
	remove(path);
	TU_CHECK(sup_idx_load(path, &al, &t, err, sizeof err) == SUP_ERR_IO);
}

static void test_fashion_mnist(void)
{
	struct sup_allocator al = sup_allocator_default();
	struct sup_image_set s;
	char err[256];
	if (access(SUP_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte.gz", R_OK) != 0) {
		printf("skipping Fashion-MNIST check: dataset-fashion-mnist is not installed\n");
		return;
	}
	TU_CHECK(sup_image_set_load_idx(&s, SUP_FASHION_MNIST_DIR, false, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(s.images.shape[0] == 10000 && s.images.shape[1] == 1 && s.images.shape[2] == 28 &&
		 s.images.shape[3] == 28 && s.n_classes == 10);
	int counts[10] = { 0 };
	for (int i = 0; i < 10000; i++)
		counts[((uint8_t *)s.labels.data)[i]]++;
	int balanced = 1;
	for (int k = 0; k < 10; k++)
		balanced &= counts[k] == 1000;
	TU_CHECK(balanced);
	sup_image_set_free(&s, &al);
}

int main(void)
{
	test_small(false);
	test_small(true);
	test_fashion_mnist();
	return tu_finish("idx");
}
