/* Text corpora: one-document-per-line files, the BSD/Debian fortune files, distinct texts,
 * class selection (the "fortune-8" task) and seeded splits. Contracts in include/selfsup/data.h;
 * the fortune counts are the ones of ../shared/data/README.md §4.1. */
#define _POSIX_C_SOURCE 200809L /* fsync, symlink, fileno, mkdir with C11 */
#include "selfsup/data.h"

#include "data/data_hash.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum sup_status fail(char *err, size_t n, enum sup_status s, const char *fmt, const char *what)
{
	if (err && n)
		snprintf(err, n, fmt, what);
	return s;
}

/* ---- corpus builder ---------------------------------------------------------------------- */

/* Grows arrays while texts are appended, then hands them to a sup_text_corpus. */
struct builder {
	struct sup_allocator a;
	char *bytes;
	int64_t n_bytes, cap_bytes;
	int64_t *offset;
	int32_t *label;
	int64_t n, cap;
	char **names;
	int n_names, cap_names;
};

static bool grow(const struct sup_allocator *a, void **p, int64_t *cap, int64_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	int64_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = sup_alloc(a, (size_t)c * elem, 64);
	if (!q)
		return false;
	if (*p)
		memcpy(q, *p, (size_t)*cap * elem);
	sup_free(a, *p);
	*p = q;
	*cap = c;
	return true;
}

static bool b_add_text(struct builder *b, const char *s, int64_t len, int32_t label)
{
	int64_t cap_off = b->cap, cap_lab = b->cap;
	if (!grow(&b->a, (void **)&b->bytes, &b->cap_bytes, b->n_bytes + len + 1, 1) ||
	    !grow(&b->a, (void **)&b->offset, &cap_off, b->n + 2, sizeof *b->offset) ||
	    !grow(&b->a, (void **)&b->label, &cap_lab, b->n + 2, sizeof *b->label))
		return false;
	/* Both arrays grew to the same capacity: they start equal and double together. */
	b->cap = cap_off < cap_lab ? cap_off : cap_lab;
	b->offset[b->n] = b->n_bytes;
	b->label[b->n] = label;
	if (len)
		memcpy(b->bytes + b->n_bytes, s, (size_t)len);
	b->n_bytes += len;
	b->bytes[b->n_bytes++] = '\0';
	b->n++;
	return true;
}

static bool b_add_class(struct builder *b, const char *name)
{
	int64_t cap = b->cap_names;
	if (!grow(&b->a, (void **)&b->names, &cap, b->n_names + 1, sizeof *b->names))
		return false;
	b->cap_names = (int)cap;
	size_t len = strlen(name);
	char *copy = sup_alloc(&b->a, len + 1, 16);
	if (!copy)
		return false;
	memcpy(copy, name, len + 1);
	b->names[b->n_names++] = copy;
	return true;
}

static void b_free(struct builder *b)
{
	for (int i = 0; i < b->n_names; i++)
		sup_free(&b->a, b->names[i]);
	sup_free(&b->a, b->names);
	sup_free(&b->a, b->bytes);
	sup_free(&b->a, b->offset);
	sup_free(&b->a, b->label);
	memset(b, 0, sizeof *b);
}

/* Moves the arrays into out (empty arrays are still valid blocks). */
static enum sup_status b_finish(struct builder *b, struct sup_text_corpus *out, char *err, size_t n)
{
	int64_t cap_off = b->cap, cap_lab = b->cap, cap_names = b->cap_names;
	if (!grow(&b->a, (void **)&b->offset, &cap_off, b->n + 1, sizeof *b->offset) ||
	    !grow(&b->a, (void **)&b->label, &cap_lab, b->n + 1, sizeof *b->label) ||
	    !grow(&b->a, (void **)&b->bytes, &b->cap_bytes, b->n_bytes + 1, 1) ||
	    !grow(&b->a, (void **)&b->names, &cap_names, b->n_names + 1, sizeof *b->names)) {
		b_free(b);
		return fail(err, n, SUP_ERR_NOMEM, "%s", "text corpus: out of memory");
	}
	b->offset[b->n] = b->n_bytes;
	*out = (struct sup_text_corpus){.alloc = b->a,
					.n_texts = b->n,
					.offset = b->offset,
					.bytes = b->bytes,
					.label = b->label,
					.n_classes = b->n_names,
					.class_names = b->names};
	memset(b, 0, sizeof *b);
	return SUP_OK;
}

static enum sup_status nomem(struct builder *b, char *err, size_t n)
{
	b_free(b);
	return fail(err, n, SUP_ERR_NOMEM, "%s", "text corpus: out of memory");
}

const char *sup_text_corpus_get(const struct sup_text_corpus *c, int64_t i, int64_t *len)
{
	SUP_ASSERT(i >= 0 && i < c->n_texts);
	if (len)
		*len = c->offset[i + 1] - c->offset[i] - 1;
	return c->bytes + c->offset[i];
}

void sup_text_corpus_free(struct sup_text_corpus *c)
{
	if (!c || !c->offset)
		return;
	struct builder b = {.a = c->alloc,
			    .bytes = c->bytes,
			    .offset = c->offset,
			    .label = c->label,
			    .names = c->class_names,
			    .n_names = c->n_classes};
	b_free(&b);
	memset(c, 0, sizeof *c);
}

/* ---- reading files ----------------------------------------------------------------------- */

static enum sup_status read_file(const char *path, const struct sup_allocator *a, char **buf, int64_t *len, char *err,
				 size_t n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(err, n, errno == ENOENT ? SUP_ERR_NOT_FOUND : SUP_ERR_IO, "%s: cannot open", path);
	enum sup_status st = SUP_OK;
	long size = -1;
	if (fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
		st = fail(err, n, SUP_ERR_IO, "%s: cannot seek", path);
		goto close_file;
	}
	*buf = sup_alloc(a, (size_t)size + 1, 64);
	if (!*buf) {
		st = fail(err, n, SUP_ERR_NOMEM, "%s: out of memory", path);
		goto close_file;
	}
	if (fread(*buf, 1, (size_t)size, f) != (size_t)size) {
		sup_free(a, *buf);
		*buf = NULL;
		st = fail(err, n, SUP_ERR_IO, "%s: read failed", path);
		goto close_file;
	}
	(*buf)[size] = '\0';
	*len = size;
close_file:
	fclose(f);
	return st;
}

static bool is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static bool all_ws(const char *s, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (!is_ws((unsigned char)s[i]))
			return false;
	return true;
}

enum sup_status sup_text_corpus_load_lines(struct sup_text_corpus *out, const char *path,
					   const struct sup_allocator *alloc, char *err, size_t err_size)
{
	memset(out, 0, sizeof *out);
	char *buf;
	int64_t len;
	enum sup_status st = read_file(path, alloc, &buf, &len, err, err_size);
	if (st)
		return st;
	struct builder b = {.a = *alloc};
	for (int64_t p = 0; p < len;) {
		const char *nl = memchr(buf + p, '\n', (size_t)(len - p));
		int64_t end = nl ? nl - buf : len, e = end;
		if (e > p && buf[e - 1] == '\r')
			e--;
		if (!all_ws(buf + p, e - p) && !b_add_text(&b, buf + p, e - p, -1)) {
			sup_free(alloc, buf);
			return nomem(&b, err, err_size);
		}
		p = end + 1;
	}
	sup_free(alloc, buf);
	return b_finish(&b, out, err, err_size);
}

/* ---- fortunes ---------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the entries of one fortune file with the given label. */
static bool add_fortune_file(struct builder *b, const char *buf, int64_t len, int32_t label)
{
	int64_t start = 0;
	for (int64_t p = 0; p <= len;) {
		const char *nl = p < len ? memchr(buf + p, '\n', (size_t)(len - p)) : NULL;
		int64_t end = nl ? nl - buf : len;
		bool sep = end - p == 1 && buf[p] == '%';
		if (sep || end == len) {
			/* The entry is [start, p) without the newline that ends its last line. */
			int64_t stop = sep ? p : len;
			if (stop > start && buf[stop - 1] == '\n')
				stop--;
			if (stop > start && !all_ws(buf + start, stop - start) &&
			    !b_add_text(b, buf + start, stop - start, label))
				return false;
			start = end + 1;
		}
		if (end == len)
			break;
		p = end + 1;
	}
	return true;
}

/* Sorted names of the category files in dir; *names and each name from a. */
static enum sup_status list_fortune_files(const char *dir, const struct sup_allocator *a, char ***names, int *count,
					  char *err, size_t n)
{
	DIR *d = opendir(dir);
	if (!d)
		return fail(err, n, errno == ENOENT ? SUP_ERR_NOT_FOUND : SUP_ERR_IO, "%s: cannot open folder", dir);
	struct builder b = {.a = *a};
	struct dirent *e;
	char path[4096];
	while ((e = readdir(d))) {
		struct stat sb;
		if (e->d_name[0] == '.' || ends_with(e->d_name, ".dat") || ends_with(e->d_name, ".u8"))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (!b_add_class(&b, e->d_name)) {
			closedir(d);
			return nomem(&b, err, n);
		}
	}
	closedir(d);
	if (b.n_names == 0) {
		b_free(&b);
		return fail(err, n, SUP_ERR_NOT_FOUND, "%s: no fortune files", dir);
	}
	qsort(b.names, (size_t)b.n_names, sizeof *b.names, cmp_str);
	*names = b.names;
	*count = b.n_names;
	return SUP_OK;
}

enum sup_status sup_text_corpus_load_fortunes(struct sup_text_corpus *out, const char *dir,
					      const struct sup_allocator *alloc, char *err, size_t err_size)
{
	memset(out, 0, sizeof *out);
	char **names;
	int n_names;
	enum sup_status st = list_fortune_files(dir, alloc, &names, &n_names, err, err_size);
	if (st)
		return st;
	/* The builder takes the names over (they become the class names). */
	struct builder b = {.a = *alloc, .names = names, .n_names = n_names, .cap_names = n_names};
	char path[4096];
	for (int k = 0; k < n_names; k++) {
		char *buf;
		int64_t len;
		snprintf(path, sizeof path, "%s/%s", dir, names[k]);
		st = read_file(path, alloc, &buf, &len, err, err_size);
		if (st) {
			b_free(&b);
			return st;
		}
		bool ok = add_fortune_file(&b, buf, len, k);
		sup_free(alloc, buf);
		if (!ok)
			return nomem(&b, err, err_size);
	}
	return b_finish(&b, out, err, err_size);
}

/* ---- white-space-normalised identity ------------------------------------------------------ */

/* The normalised texts of c, one after another: norm text i is keys[key_off[i] .. key_off[i+1]). */
struct norm_keys {
	const struct sup_allocator *a;
	char *keys;
	int64_t *key_off;
};

static bool norm_eq(const void *user, int64_t val, const void *s, size_t n)
{
	const struct norm_keys *k = user;
	return (size_t)(k->key_off[val + 1] - k->key_off[val]) == n && memcmp(k->keys + k->key_off[val], s, n) == 0;
}

static void norm_keys_free(struct norm_keys *k)
{
	sup_free(k->a, k->keys);
	sup_free(k->a, k->key_off);
}

/* group[i] = index of the first text of c equal to text i after normalisation. */
static bool group_texts(const struct sup_text_corpus *c, int64_t *group)
{
	const struct sup_allocator *a = &c->alloc;
	struct norm_keys k = {.a = a,
			      .keys = sup_alloc(a, (size_t)c->offset[c->n_texts] + 1, 64),
			      .key_off = sup_alloc(a, (size_t)(c->n_texts + 1) * sizeof(int64_t), 64)};
	struct dh_map m;
	if (!k.keys || !k.key_off || !dh_init(&m, a, (size_t)c->n_texts)) {
		norm_keys_free(&k);
		return false;
	}
	int64_t w = 0;
	bool ok = true;
	for (int64_t i = 0; i < c->n_texts && ok; i++) {
		int64_t len;
		const char *s = sup_text_corpus_get(c, i, &len);
		k.key_off[i] = w;
		bool pending_space = false;
		for (int64_t j = 0; j < len; j++) {
			if (is_ws((unsigned char)s[j])) {
				pending_space = w > k.key_off[i];
				continue;
			}
			if (pending_space)
				k.keys[w++] = ' ';
			pending_space = false;
			k.keys[w++] = s[j];
		}
		k.key_off[i + 1] = w;
		int64_t first = dh_str_get(&m, k.keys + k.key_off[i], (size_t)(w - k.key_off[i]), norm_eq, &k);
		if (first < 0) {
			first = i;
			ok = dh_str_insert(&m, k.keys + k.key_off[i], (size_t)(w - k.key_off[i]), i);
		}
		group[i] = first;
	}
	dh_free(&m);
	norm_keys_free(&k);
	return ok;
}

static bool copy_classes(struct builder *b, const struct sup_text_corpus *in)
{
	for (int k = 0; k < in->n_classes; k++)
		if (!b_add_class(b, in->class_names[k]))
			return false;
	return true;
}

enum sup_status sup_text_corpus_distinct(struct sup_text_corpus *out, const struct sup_text_corpus *in, char *err,
					 size_t err_size)
{
	memset(out, 0, sizeof *out);
	const struct sup_allocator *a = &in->alloc;
	struct builder b = {.a = *a};
	int64_t *group = sup_alloc(a, (size_t)(in->n_texts + 1) * sizeof *group, 64);
	int32_t *label = sup_alloc(a, (size_t)(in->n_texts + 1) * sizeof *label, 64);
	bool ok = group && label && group_texts(in, group) && copy_classes(&b, in);
	/* label[first] = the label all occurrences agree on, else -1. */
	for (int64_t i = 0; ok && i < in->n_texts; i++) {
		int64_t g = group[i];
		if (g == i)
			label[i] = in->label[i];
		else if (label[g] != in->label[i])
			label[g] = -1;
	}
	for (int64_t i = 0; ok && i < in->n_texts; i++) {
		int64_t len;
		const char *s = sup_text_corpus_get(in, i, &len);
		if (group[i] == i)
			ok = b_add_text(&b, s, len, label[i]);
	}
	sup_free(a, group);
	sup_free(a, label);
	if (!ok)
		return nomem(&b, err, err_size);
	return b_finish(&b, out, err, err_size);
}

enum sup_status sup_text_corpus_select(struct sup_text_corpus *out, const struct sup_text_corpus *in,
				       const char *const *names, int n_names, char *err, size_t err_size)
{
	memset(out, 0, sizeof *out);
	const struct sup_allocator *a = &in->alloc;
	int32_t *new_id = sup_alloc(a, (size_t)(in->n_classes + 1) * sizeof *new_id, 64);
	if (!new_id)
		return fail(err, err_size, SUP_ERR_NOMEM, "%s", "text corpus: out of memory");
	for (int k = 0; k < in->n_classes; k++)
		new_id[k] = -1;
	for (int j = 0; j < n_names; j++) {
		int k = 0;
		while (k < in->n_classes && strcmp(in->class_names[k], names[j]) != 0)
			k++;
		if (k == in->n_classes) {
			sup_free(a, new_id);
			return fail(err, err_size, SUP_ERR_NOT_FOUND, "text corpus: no class named '%s'", names[j]);
		}
		new_id[k] = j;
	}
	struct builder b = {.a = *a};
	int64_t *group = sup_alloc(a, (size_t)(in->n_texts + 1) * sizeof *group, 64);
	uint8_t *multi = sup_alloc(a, (size_t)in->n_texts + 1, 64);
	bool ok = group && multi && group_texts(in, group);
	for (int j = 0; ok && j < n_names; j++)
		ok = b_add_class(&b, names[j]);
	if (ok) {
		memset(multi, 0, (size_t)in->n_texts);
		for (int64_t i = 0; i < in->n_texts; i++)
			if (in->label[i] != in->label[group[i]])
				multi[group[i]] = 1;
	}
	/* Each surviving group is written once, at its first occurrence. */
	for (int64_t i = 0; ok && i < in->n_texts; i++) {
		int32_t l = in->label[i];
		if (group[i] != i || multi[i] || l < 0 || l >= in->n_classes || new_id[l] < 0)
			continue;
		int64_t len;
		const char *s = sup_text_corpus_get(in, i, &len);
		ok = b_add_text(&b, s, len, new_id[l]);
	}
	sup_free(a, group);
	sup_free(a, multi);
	sup_free(a, new_id);
	if (!ok)
		return nomem(&b, err, err_size);
	return b_finish(&b, out, err, err_size);
}

enum sup_status sup_fortune8_load(struct sup_text_corpus *out, const char *dir, const struct sup_allocator *alloc,
				  char *err, size_t err_size)
{
	static const char *const names[SUP_FORTUNE8_CLASSES] = {"art",	    "computers", "definitions", "people",
								"politics", "science",	 "songs-poems", "work"};
	struct sup_text_corpus all;
	enum sup_status st = sup_text_corpus_load_fortunes(&all, dir, alloc, err, err_size);
	if (st)
		return st;
	st = sup_text_corpus_select(out, &all, names, SUP_FORTUNE8_CLASSES, err, err_size);
	sup_text_corpus_free(&all);
	return st;
}

/* ---- splits ------------------------------------------------------------------------------ */

enum sup_status sup_text_corpus_split(struct sup_text_corpus *train, struct sup_text_corpus *test,
				      const struct sup_text_corpus *in, double test_fraction, bool stratify,
				      uint64_t seed, char *err, size_t err_size)
{
	memset(train, 0, sizeof *train);
	memset(test, 0, sizeof *test);
	if (!(test_fraction >= 0.0 && test_fraction <= 1.0))
		return fail(err, err_size, SUP_ERR_ARG, "%s", "text split: test_fraction must lie in [0, 1]");
	const struct sup_allocator *a = &in->alloc;
	int64_t n = in->n_texts, n_groups = stratify ? in->n_classes + 1 : 1;
	int64_t *members = sup_alloc(a, (size_t)(n + 1) * sizeof *members, 64);
	int64_t *perm = sup_alloc(a, (size_t)(n + 1) * sizeof *perm, 64);
	uint8_t *in_test = sup_alloc(a, (size_t)n + 1, 64);
	struct builder bt = {.a = *a}, bv = {.a = *a};
	bool ok = members && perm && in_test && copy_classes(&bt, in) && copy_classes(&bv, in);
	if (ok)
		memset(in_test, 0, (size_t)n);
	/* Group g holds label g - 1 (group 0: unlabeled, and labels out of range). */
	for (int64_t g = 0; ok && g < n_groups; g++) {
		int64_t m = 0;
		for (int64_t i = 0; i < n; i++) {
			int32_t l = in->label[i];
			int64_t gi = stratify && l >= 0 && l < in->n_classes ? l + 1 : 0;
			if (gi == g)
				members[m++] = i;
		}
		struct sup_rng r = sup_rng_make(seed, (uint64_t)g);
		sup_rng_permutation(&r, perm, m);
		int64_t k = (int64_t)llround(test_fraction * (double)m);
		for (int64_t j = 0; j < k; j++)
			in_test[members[perm[j]]] = 1;
	}
	for (int64_t i = 0; ok && i < n; i++) {
		int64_t len;
		const char *s = sup_text_corpus_get(in, i, &len);
		ok = b_add_text(in_test[i] ? &bv : &bt, s, len, in->label[i]);
	}
	sup_free(a, members);
	sup_free(a, perm);
	sup_free(a, in_test);
	if (!ok) {
		b_free(&bv);
		return nomem(&bt, err, err_size);
	}
	enum sup_status st = b_finish(&bt, train, err, err_size);
	if (st) {
		b_free(&bv);
		return st;
	}
	st = b_finish(&bv, test, err, err_size);
	if (st)
		sup_text_corpus_free(train);
	return st;
}
