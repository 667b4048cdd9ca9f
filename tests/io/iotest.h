/* Helpers for the io tests: a scratch folder, whole-file read/write, random tensors, a failing
 * allocator. Header-only (static inline) so each test program stays one file. */
#ifndef SELFSUP_TESTS_IOTEST_H
#define SELFSUP_TESTS_IOTEST_H

#include "selfsup/io.h"
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh folder under /tmp (mkdtemp); NULL on failure. */
static inline char *iot_tmpdir(char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/selfsup_io_XXXXXX");
	return mkdtemp(buf);
}

/* Removes the folder's plain files and sub-folders one level deep, then the folder. */
static inline void iot_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[4096];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		if (remove(p) != 0)
			rmdir(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Entries of dir whose name contains needle. */
static inline int iot_count(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, needle))
			n++;
	closedir(d);
	return n;
}

static inline bool iot_write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok;
}

/* The whole file in a malloc'd block (*n bytes, then a NUL so text can be searched as a string),
 * NULL when it cannot be read. */
static inline unsigned char *iot_read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	unsigned char *p = malloc(cap);
	size_t got;
	while (p && (got = fread(p + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			unsigned char *q = realloc(p, cap *= 2);
			if (!q)
				free(p);
			p = q;
		}
	}
	fclose(f);
	if (p)
		p[len] = 0; /* len < cap: the loop grows the block whenever it fills up */
	*n = len;
	return p;
}

/* A heap copy of exactly n bytes (so ASan sees any read past a truncated image). */
static inline void *iot_dup(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* Fills a tensor's storage (contiguous, numel elements) with random bytes. */
static inline void iot_fill_bytes(void *data, size_t n, struct sup_rng *r)
{
	unsigned char *b = data;
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)sup_rng_u32(r);
}

/* An allocator that fails from the `fail_at`-th call on (0-based), counting live blocks. */
struct iot_failing {
	int calls, fail_at, live;
};
static inline void *iot_fail_alloc(void *u, size_t size, size_t align)
{
	struct iot_failing *f = u;
	if (f->calls++ >= f->fail_at)
		return NULL;
	void *p = sup_allocator_default().alloc(NULL, size, align);
	if (p)
		f->live++;
	return p;
}
static inline void iot_fail_free(void *u, void *p)
{
	((struct iot_failing *)u)->live--;
	free(p);
}

#endif
