/* io layer: safetensors reading and writing. */
#define _POSIX_C_SOURCE 200809L

#include "iotest.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

static struct sup_allocator al(void)
{
	return sup_allocator_default();
}

/* An image from a JSON header (padded with spaces to a multiple of 8) and a data buffer. The
 * length field says hdr_len_override when it is non-zero. Returns a malloc'd block of *len. */
static unsigned char *make_st(size_t *len, const char *json, const void *data, size_t n, uint64_t hdr_len_override)
{
	size_t jl = strlen(json), padded = (jl + 7) / 8 * 8;
	unsigned char *b = malloc(8 + padded + n + 1);
	uint64_t hl = hdr_len_override ? hdr_len_override : padded;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(hl >> (8 * i));
	memcpy(b + 8, json, jl);
	memset(b + 8 + jl, ' ', padded - jl);
	if (n)
		memcpy(b + 8 + padded, data, n);
	*len = 8 + padded + n;
	return b;
}

/* The writer's exact bytes for a small file. */
static void test_known_bytes(void)
{
	struct sup_allocator a = al();
	float v[2] = { 1.0f, 2.0f };
	uint8_t m[3] = { 7, 8, 9 };
	struct sup_tensor tv, tm;
	sup_tensor_init(&tv, SUP_F32, 1, (const int64_t[]){ 2 }, v);
	sup_tensor_init(&tm, SUP_U8, 2, (const int64_t[]){ 3, 1 }, m);
	const struct sup_named_tensor ts[] = { { "enc.w", &tv }, { "mask", &tm } };
	const struct sup_str_pair meta[] = { { "format", "pt" } };
	void *enc;
	size_t n;
	char err[256] = "";
	TU_CHECK(sup_safetensors_encode(&enc, &n, &a, ts, 2, meta, 1, err, sizeof err) == SUP_OK);
	const char json[] = "{\"__metadata__\":{\"format\":\"pt\"},"
			    "\"enc.w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
			    "\"mask\":{\"dtype\":\"U8\",\"shape\":[3,1],\"data_offsets\":[8,11]}}";
	size_t jl = sizeof json - 1, padded = (jl + 7) / 8 * 8;
	const unsigned char *b = enc;
	TU_CHECK(n == 8 + padded + 11);
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | b[i];
	TU_CHECK(hl == padded && hl % 8 == 0);
	TU_CHECK(memcmp(b + 8, json, jl) == 0);
	bool spaces = true;
	for (size_t i = jl; i < padded; i++)
		spaces &= b[8 + i] == ' ';
	TU_CHECK(spaces);
	TU_CHECK(memcmp(b + 8 + padded, v, 8) == 0 && memcmp(b + 8 + padded + 8, m, 3) == 0);
	sup_free(&a, enc);
	/* No tensors, no metadata: "{}" padded to 8. */
	TU_CHECK(sup_safetensors_encode(&enc, &n, &a, NULL, 0, NULL, 0, err, sizeof err) == SUP_OK);
	TU_CHECK(n == 16 && memcmp((char *)enc + 8, "{}      ", 8) == 0 && ((unsigned char *)enc)[0] == 8);
	struct sup_safetensors *st;
	TU_CHECK(sup_safetensors_parse(&st, &a, enc, n, err, sizeof err) == SUP_OK && st && st->n_entries == 0);
	sup_safetensors_free(st);
	sup_free(&a, enc);
}

static bool same_tensor(const struct sup_tensor *a, const struct sup_tensor *b)
{
	return a && b && a->dtype == b->dtype && sup_tensor_same_shape(a, b) &&
	       memcmp(a->data, b->data, sup_tensor_nbytes(a)) == 0;
}

#define N_RT (SUP_DTYPE_COUNT * 13)

/* Every dtype, rank 0..6, with and without zero-size dims, plus metadata with characters JSON
 * must escape, through memory and through a file. */
static void test_round_trip(const char *dir)
{
	struct sup_allocator a = al();
	struct sup_rng r = sup_rng_make(5, 0);
	static const int64_t dims[SUP_MAX_DIMS] = { 3, 2, 1, 4, 2, 3 };
	struct sup_tensor t[N_RT];
	struct sup_named_tensor nt[N_RT];
	char names[N_RT][64];
	void *bufs[N_RT];
	int n = 0;
	for (int dt = 0; dt < SUP_DTYPE_COUNT; dt++) {
		for (int rank = 0; rank <= SUP_MAX_DIMS; rank++) {
			for (int zero = 0; zero <= (rank > 0); zero++) {
				int64_t shape[SUP_MAX_DIMS];
				memcpy(shape, dims, sizeof shape);
				if (zero)
					shape[rank - 1] = 0;
				bufs[n] = malloc(8 * 3 * 2 * 4 * 2 * 3);
				sup_tensor_init(&t[n], (enum sup_dtype)dt, rank, shape, bufs[n]);
				iot_fill_bytes(bufs[n], sup_tensor_nbytes(&t[n]), &r);
				/* Reverse-sorted names, so header order and name order differ. */
				snprintf(names[n], sizeof names[n], "encoder.layer%d.%d.%s%s.weight", 9 - dt, 9 - rank,
					 sup_dtype_name((enum sup_dtype)dt), zero ? "_empty" : "");
				nt[n] = (struct sup_named_tensor){ names[n], &t[n] };
				n++;
			}
		}
	}
	TU_CHECK(n == N_RT);
	const struct sup_str_pair meta[] = { { "format", "pt" },
					     { "note", "quote \" backslash \\ newline \n tab \t bell \x07 utf8 \xc3\xa9" },
					     { "", "empty key" } };
	char err[256] = "", path[4200];
	void *enc;
	size_t len;
	TU_CHECK(sup_safetensors_encode(&enc, &len, &a, nt, n, meta, 3, err, sizeof err) == SUP_OK);
	snprintf(path, sizeof path, "%s/rt.safetensors", dir);
	TU_CHECK(sup_safetensors_save(path, &a, nt, n, meta, 3, err, sizeof err) == SUP_OK);
	size_t fn = 0;
	unsigned char *file = iot_read_file(path, &fn);
	TU_CHECK(file && fn == len && memcmp(file, enc, len) == 0);
	free(file);
	TU_CHECK(iot_count(dir, ".tmp.") == 0);
	for (int via_file = 0; via_file < 2; via_file++) {
		struct sup_safetensors *st;
		enum sup_status s = via_file ? sup_safetensors_load(&st, &a, path, err, sizeof err)
					     : sup_safetensors_parse(&st, &a, enc, len, err, sizeof err);
		TU_CHECK_MSG(s == SUP_OK, "%s", err);
		if (s != SUP_OK)
			continue;
		TU_CHECK(st->n_entries == n && st->n_meta == 3);
		for (int i = 0; i < n && i < st->n_entries; i++) {
			TU_CHECK(strcmp(st->entries[i].name, names[i]) == 0); /* header order kept */
			TU_CHECK_MSG(same_tensor(&t[i], sup_safetensors_get(st, names[i])), "%s", names[i]);
			TU_CHECK((uintptr_t)st->entries[i].tensor.data % SUP_ARENA_ALIGN == 0);
		}
		TU_CHECK(sup_safetensors_get(st, "encoder.layer0.weight") == NULL);
		TU_CHECK(sup_safetensors_get(st, "") == NULL);
		for (int i = 0; i < 3; i++) {
			const char *v = sup_safetensors_meta(st, meta[i].key);
			TU_CHECK_MSG(v && strcmp(v, meta[i].value) == 0, "metadata '%s'", meta[i].key);
		}
		TU_CHECK(sup_safetensors_meta(st, "missing") == NULL);
		sup_safetensors_free(st);
	}
	sup_safetensors_free(NULL);
	sup_free(&a, enc);
	for (int i = 0; i < n; i++)
		free(bufs[i]);
	remove(path);
}

/* A transposed view is stored row-major; headers from other writers (spaces, key order, BOOL,
 * extra keys) are read. */
static void test_strided_and_foreign(void)
{
	struct sup_allocator a = al();
	char err[256] = "";
	double base[2][3] = { { 1, 2, 3 }, { 4, 5, 6 } };
	struct sup_tensor t;
	sup_tensor_init(&t, SUP_F64, 2, (const int64_t[]){ 3, 2 }, base);
	t.stride[0] = 1;
	t.stride[1] = 3;
	const struct sup_named_tensor nt[] = { { "w", &t } };
	void *enc;
	size_t len;
	struct sup_safetensors *st = NULL;
	TU_CHECK(sup_safetensors_encode(&enc, &len, &a, nt, 1, NULL, 0, err, sizeof err) == SUP_OK);
	TU_CHECK(sup_safetensors_parse(&st, &a, enc, len, err, sizeof err) == SUP_OK);
	const double want[6] = { 1, 4, 2, 5, 3, 6 };
	const struct sup_tensor *w = sup_safetensors_get(st, "w");
	TU_CHECK(w && memcmp(w->data, want, sizeof want) == 0);
	sup_safetensors_free(st);
	sup_free(&a, enc);

	const char *json = " {\"b\" : {\"shape\": [2], \"data_offsets\": [4, 6], \"dtype\": \"BOOL\", \"x\": null},\n"
			   "  \"a\": {\"data_offsets\": [0, 4], \"dtype\": \"I32\", \"shape\": []}}";
	unsigned char data[6] = { 0x78, 0x56, 0x34, 0x12, 1, 0 };
	unsigned char *img = make_st(&len, json + 1, data, 6, 0);
	enum sup_status s = sup_safetensors_parse(&st, &a, img, len, err, sizeof err);
	TU_CHECK_MSG(s == SUP_OK, "%s", err);
	if (s == SUP_OK) {
		const struct sup_tensor *ta = sup_safetensors_get(st, "a"), *tb = sup_safetensors_get(st, "b");
		TU_CHECK(ta && ta->dtype == SUP_I32 && ta->ndim == 0 && *(int32_t *)ta->data == 0x12345678);
		TU_CHECK(tb && tb->dtype == SUP_U8 && tb->shape[0] == 2 && ((uint8_t *)tb->data)[0] == 1);
		TU_CHECK(st->n_meta == 0 && strcmp(st->entries[0].name, "b") == 0);
		sup_safetensors_free(st);
	}
	free(img);
	/* The spec wants the header to start with '{'. */
	img = make_st(&len, json, data, 6, 0);
	TU_CHECK(sup_safetensors_parse(&st, &a, img, len, err, sizeof err) == SUP_ERR_FORMAT && st == NULL);
	free(img);
}

static void test_header_errors(void)
{
	static const struct {
		const char *json;
		size_t data_bytes;
		enum sup_status want;
		const char *msg;
	} bad[] = {
		{ "not json", 0, SUP_ERR_FORMAT, "'{'" },
		{ "{\"a\":", 0, SUP_ERR_FORMAT, "not valid JSON" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, SUP_ERR_FORMAT, "after the JSON" },
		{ "{\"a\":[1]}", 0, SUP_ERR_FORMAT, "not an object" },
		{ "{\"a\":{\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SUP_ERR_FORMAT, "unknown dtype" },
		{ "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, SUP_ERR_DTYPE, "BF16" },
		{ "{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SUP_ERR_FORMAT, "dtype" },
		{ "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SUP_ERR_FORMAT, "dtype missing" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, SUP_ERR_FORMAT, "non-negative" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, SUP_ERR_FORMAT, "non-negative" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, SUP_ERR_FORMAT, "shape entry" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, SUP_ERR_FORMAT, "shape entry" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740992,9007199254740992],\"data_offsets\":[0,0]}}", 0,
		  SUP_ERR_FORMAT, "too large" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, SUP_ERR_FORMAT, "not an array" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, SUP_ERR_SHAPE, "rank 7" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, SUP_ERR_FORMAT, "outside" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, SUP_ERR_FORMAT, "outside" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, SUP_ERR_FORMAT, "data_offsets" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, SUP_ERR_FORMAT, "data_offsets" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, SUP_ERR_FORMAT, "data_offsets" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, SUP_ERR_FORMAT, "needs 8" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, SUP_ERR_FORMAT, "overlaps" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, SUP_ERR_FORMAT, "gap" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6, SUP_ERR_FORMAT, "cover 4 of the 6" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, SUP_ERR_FORMAT, "twice" },
		{ "{\"__metadata__\":{\"k\":1}}", 0, SUP_ERR_FORMAT, "not a string" },
		{ "{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, SUP_ERR_FORMAT, "twice" },
		{ "{\"__metadata__\":[\"k\"]}", 0, SUP_ERR_FORMAT, "not an object" },
		{ "{\"__metadata__\":{},\"__metadata__\":{}}", 0, SUP_ERR_FORMAT, "twice" },
		{ "[]", 0, SUP_ERR_FORMAT, "'{'" },
	};
	struct sup_allocator a = al();
	unsigned char data[16] = { 0 };
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		size_t len;
		unsigned char *img = make_st(&len, bad[k].json, data, bad[k].data_bytes, 0);
		struct sup_safetensors *st = (void *)1;
		char err[256] = "";
		enum sup_status s = sup_safetensors_parse(&st, &a, img, len, err, sizeof err);
		TU_CHECK_MSG(s == bad[k].want, "case %zu: status %s, message '%s'", k, sup_status_str(s), err);
		TU_CHECK_MSG(strstr(err, bad[k].msg) != NULL, "case %zu: message '%s' lacks '%s'", k, err, bad[k].msg);
		TU_CHECK(st == NULL);
		sup_safetensors_free(st);
		free(img);
	}
	/* Header length field larger than the file, or than the limit. */
	size_t len;
	char err[256] = "";
	struct sup_safetensors *st;
	unsigned char *img = make_st(&len, "{}", NULL, 0, 1000);
	TU_CHECK(sup_safetensors_parse(&st, &a, img, len, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "exceeds"));
	free(img);
	img = make_st(&len, "{}", NULL, 0, UINT64_MAX);
	TU_CHECK(sup_safetensors_parse(&st, &a, img, len, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "limit"));
	free(img);
	TU_CHECK(sup_safetensors_parse(&st, &a, NULL, 0, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK(sup_safetensors_parse(&st, &a, "\x02\0\0\0\0\0\0\0{}", 10, NULL, 0) == SUP_OK);
	sup_safetensors_free(st);
}

/* Every strict prefix of an image: every header byte, some data bytes; memory and files. */
static void test_truncation(const char *dir)
{
	struct sup_allocator a = al();
	float w[6] = { 1, 2, 3, 4, 5, 6 };
	int64_t idx[3] = { -1, 0, 7 };
	struct sup_tensor tw, ti;
	sup_tensor_init(&tw, SUP_F32, 2, (const int64_t[]){ 2, 3 }, w);
	sup_tensor_init(&ti, SUP_I64, 1, (const int64_t[]){ 3 }, idx);
	const struct sup_named_tensor nt[] = { { "layer.0.weight", &tw }, { "layer.0.idx", &ti } };
	const struct sup_str_pair meta[] = { { "epoch", "3" } };
	void *enc;
	size_t len;
	char err[256], path[4200];
	TU_CHECK(sup_safetensors_encode(&enc, &len, &a, nt, 2, meta, 1, err, sizeof err) == SUP_OK);
	size_t hdr_end = len - 48;
	snprintf(path, sizeof path, "%s/trunc.safetensors", dir);
	int bad_mem = 0, bad_file = 0;
	for (size_t n = 0; n < len; n++) {
		if (n > hdr_end && n % 5 != 0)
			continue;
		void *copy = iot_dup(enc, n);
		struct sup_safetensors *st = (void *)1;
		err[0] = '\0';
		if (sup_safetensors_parse(&st, &a, copy, n, err, sizeof err) != SUP_ERR_FORMAT || !err[0] || st)
			bad_mem++;
		iot_write_file(path, copy, n);
		if (sup_safetensors_load(&st, &a, path, err, sizeof err) != SUP_ERR_FORMAT || !strstr(err, "trunc") || st)
			bad_file++;
		free(copy);
	}
	TU_CHECK_MSG(bad_mem == 0, "%d truncated images not refused", bad_mem);
	TU_CHECK_MSG(bad_file == 0, "%d truncated files not refused", bad_file);
	/* One byte too many: the buffer is not covered. */
	unsigned char *longer = malloc(len + 1);
	memcpy(longer, enc, len);
	longer[len] = 0;
	struct sup_safetensors *st;
	TU_CHECK(sup_safetensors_parse(&st, &a, longer, len + 1, err, sizeof err) == SUP_ERR_FORMAT);
	free(longer);
	sup_free(&a, enc);
	remove(path);
}

/* Bad inputs to the writer. */
static void test_write_errors(void)
{
	struct sup_allocator a = al();
	float v[2] = { 0 };
	struct sup_tensor t, nodata;
	sup_tensor_init(&t, SUP_F32, 1, (const int64_t[]){ 2 }, v);
	sup_tensor_init(&nodata, SUP_F32, 1, (const int64_t[]){ 2 }, NULL);
	static const struct {
		const char *n0, *n1;
		bool nodata;
		const char *msg;
	} cases[] = {
		{ "a", "a", false, "twice" },  { "a", "", false, "invalid name" },
		{ "__metadata__", "b", false, "invalid name" }, { "a", NULL, false, "invalid name" },
		{ "a", "b", true, "NULL data" },
	};
	void *enc;
	size_t len;
	char err[256];
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const struct sup_named_tensor nt[] = { { cases[k].n0, &t }, { cases[k].n1, cases[k].nodata ? &nodata : &t } };
		enum sup_status s = sup_safetensors_encode(&enc, &len, &a, nt, 2, NULL, 0, err, sizeof err);
		TU_CHECK_MSG(s == SUP_ERR_ARG && strstr(err, cases[k].msg), "case %zu: %s", k, err);
		TU_CHECK(enc == NULL);
	}
	const struct sup_named_tensor one[] = { { "a", &t } };
	const struct sup_str_pair m1[] = { { "k", NULL } }, m2[] = { { "k", "1" }, { "k", "2" } };
	TU_CHECK(sup_safetensors_encode(&enc, &len, &a, one, 1, m1, 1, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(sup_safetensors_encode(&enc, &len, &a, one, 1, m2, 2, err, sizeof err) == SUP_ERR_ARG &&
		 strstr(err, "twice"));
	TU_CHECK(sup_safetensors_encode(&enc, &len, &a, one, -1, NULL, 0, err, sizeof err) == SUP_ERR_ARG);
	/* Zero-element tensors need no data. */
	struct sup_tensor empty;
	sup_tensor_init(&empty, SUP_I64, 2, (const int64_t[]){ 0, 3 }, NULL);
	const struct sup_named_tensor e1[] = { { "e", &empty }, { "a", &t } };
	TU_CHECK(sup_safetensors_encode(&enc, &len, &a, e1, 2, NULL, 0, err, sizeof err) == SUP_OK);
	sup_free(&a, enc);
}

/* A save into a read-only folder fails and leaves the old file (only testable when not root). */
static void check_readonly_folder(const char *dir, const unsigned char *old, size_t old_n)
{
	struct sup_allocator a = al();
	char ro[4250], path[4400], err[256] = "";
	snprintf(ro, sizeof ro, "%s/ro", dir);
	TU_CHECK(mkdir(ro, 0700) == 0);
	snprintf(path, sizeof path, "%s/ckpt.safetensors", ro);
	TU_CHECK(iot_write_file(path, old, old_n));
	TU_CHECK(chmod(ro, 0500) == 0);
	if (access(ro, W_OK) != 0) {
		enum sup_status s = sup_safetensors_save(path, &a, NULL, 0, NULL, 0, err, sizeof err);
		TU_CHECK_MSG(s == SUP_ERR_IO, "%s: %s", sup_status_str(s), err);
		size_t now_n = 0;
		unsigned char *now = iot_read_file(path, &now_n);
		TU_CHECK(now && now_n == old_n && memcmp(now, old, old_n) == 0);
		free(now);
		TU_CHECK(iot_count(ro, ".tmp.") == 0);
	} else {
		printf("test_safetensors: running as root, skipping the read-only folder case\n");
	}
	chmod(ro, 0700);
	remove(path);
	rmdir(ro);
}

/* Atomic saves: a failure leaves no temporary file and the old file byte-identical. */
static void test_atomic_save(const char *dir)
{
	struct sup_allocator a = al();
	char path[4200], err[256] = "";
	float small[2] = { 1, 2 };
	struct sup_tensor ts;
	sup_tensor_init(&ts, SUP_F32, 1, (const int64_t[]){ 2 }, small);
	const struct sup_named_tensor ns[] = { { "w", &ts } };
	snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
	TU_CHECK(sup_safetensors_save(path, &a, ns, 1, NULL, 0, err, sizeof err) == SUP_OK);
	size_t old_n = 0;
	unsigned char *old = iot_read_file(path, &old_n);
	TU_CHECK(old != NULL);

	/* 1. Invalid input: refused before the file is touched. */
	const struct sup_named_tensor dup[] = { { "w", &ts }, { "w", &ts } };
	TU_CHECK(sup_safetensors_save(path, &a, dup, 2, NULL, 0, err, sizeof err) == SUP_ERR_ARG);

	/* 2. The write itself fails half-way: a file size limit below the new file's size (EFBIG). */
	size_t big_n = 1 << 18;
	float *big = calloc(big_n, sizeof *big);
	struct sup_tensor tb;
	sup_tensor_init(&tb, SUP_F32, 1, (const int64_t[]){ (int64_t)big_n }, big);
	const struct sup_named_tensor nb[] = { { "w", &tb } };
	struct rlimit saved, lim;
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	TU_CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
	lim = saved;
	lim.rlim_cur = 65536;
	TU_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	enum sup_status s = sup_safetensors_save(path, &a, nb, 1, NULL, 0, err, sizeof err);
	TU_CHECK(setrlimit(RLIMIT_FSIZE, &saved) == 0);
	signal(SIGXFSZ, old_handler);
	TU_CHECK_MSG(s == SUP_ERR_IO && strstr(err, "ckpt.safetensors"), "%s: %s", sup_status_str(s), err);
	free(big);
	size_t now_n = 0;
	unsigned char *now = iot_read_file(path, &now_n);
	TU_CHECK(now && now_n == old_n && memcmp(now, old, old_n) == 0);
	free(now);
	TU_CHECK(iot_count(dir, ".tmp.") == 0);

	/* 3. A folder that does not exist: nothing is created. */
	char missing[4400];
	snprintf(missing, sizeof missing, "%s/nope/ckpt.safetensors", dir);
	s = sup_safetensors_save(missing, &a, ns, 1, NULL, 0, err, sizeof err);
	TU_CHECK_MSG(s == SUP_ERR_NOT_FOUND && strstr(err, "nope"), "%s: %s", sup_status_str(s), err);

	/* 4. The target is a folder: the rename fails, the temporary file is removed. */
	char folder[4300];
	snprintf(folder, sizeof folder, "%s/isdir.safetensors", dir);
	TU_CHECK(mkdir(folder, 0700) == 0);
	s = sup_safetensors_save(folder, &a, ns, 1, NULL, 0, err, sizeof err);
	TU_CHECK_MSG(s == SUP_ERR_IO && strstr(err, "rename"), "%s: %s", sup_status_str(s), err);
	TU_CHECK(iot_count(dir, ".tmp.") == 0);
	rmdir(folder);

	check_readonly_folder(dir, old, old_n);

	/* The old file still loads. */
	struct sup_safetensors *st;
	TU_CHECK(sup_safetensors_load(&st, &a, path, err, sizeof err) == SUP_OK && sup_safetensors_get(st, "w"));
	sup_safetensors_free(st);
	free(old);
	remove(path);
}

/* Each allocation failure, in parse, load and encode, is SUP_ERR_NOMEM without leaks. */
static void test_alloc_failure(const char *dir)
{
	struct sup_allocator d = al();
	float v[3] = { 1, 2, 3 };
	struct sup_tensor t;
	sup_tensor_init(&t, SUP_F32, 1, (const int64_t[]){ 3 }, v);
	const struct sup_named_tensor nt[] = { { "a", &t }, { "b", &t } };
	const struct sup_str_pair meta[] = { { "k", "v" } };
	void *enc;
	size_t len;
	char err[256], path[4200];
	TU_CHECK(sup_safetensors_encode(&enc, &len, &d, nt, 2, meta, 1, err, sizeof err) == SUP_OK);
	snprintf(path, sizeof path, "%s/oom.safetensors", dir);
	iot_write_file(path, enc, len);
	int leaks = 0, wrong = 0;
	for (int k = 0; k < 8; k++) {
		for (int which = 0; which < 3; which++) {
			struct iot_failing f = { 0, k, 0 };
			struct sup_allocator a = { iot_fail_alloc, iot_fail_free, &f };
			struct sup_safetensors *st = NULL;
			void *e2 = NULL;
			size_t l2;
			enum sup_status s = which == 0   ? sup_safetensors_parse(&st, &a, enc, len, err, sizeof err)
					    : which == 1 ? sup_safetensors_load(&st, &a, path, err, sizeof err)
							 : sup_safetensors_encode(&e2, &l2, &a, nt, 2, meta, 1, err, sizeof err);
			wrong += s != SUP_OK && s != SUP_ERR_NOMEM;
			sup_safetensors_free(st);
			sup_free(&a, e2);
			leaks += f.live != 0;
		}
	}
	TU_CHECK(wrong == 0);
	TU_CHECK(leaks == 0);
	sup_free(&d, enc);
	remove(path);
	struct sup_safetensors *st;
	snprintf(path, sizeof path, "%s/none.safetensors", dir);
	TU_CHECK(sup_safetensors_load(&st, &d, path, err, sizeof err) == SUP_ERR_NOT_FOUND && st == NULL);
}

/* Random byte mutations of a valid image's header: any status, never a crash, a message on
 * every error. */
static void test_mutations(void)
{
	struct sup_allocator a = al();
	struct sup_rng r = sup_rng_make(77, 0);
	float w[4] = { 1, 2, 3, 4 };
	struct sup_tensor t;
	sup_tensor_init(&t, SUP_F32, 2, (const int64_t[]){ 2, 2 }, w);
	const struct sup_named_tensor nt[] = { { "a.weight", &t }, { "a.bias", &t } };
	const struct sup_str_pair meta[] = { { "format", "pt" } };
	void *enc;
	size_t len;
	char err[256] = "";
	TU_CHECK(sup_safetensors_encode(&enc, &len, &a, nt, 2, meta, 1, err, sizeof err) == SUP_OK);
	static const char alphabet[] = "{}[]\":,0123456789-.eE \\u";
	size_t hdr_end = len - 32;
	int no_msg = 0, ok = 0;
	for (int it = 0; it < 4000; it++) {
		unsigned char *img = iot_dup(enc, len);
		int edits = 1 + (int)sup_rng_below(&r, 3);
		for (int e = 0; e < edits; e++) {
			size_t pos = (size_t)sup_rng_below(&r, hdr_end);
			img[pos] = sup_rng_below(&r, 2) ? (unsigned char)alphabet[sup_rng_below(&r, sizeof alphabet - 1)]
							 : (unsigned char)sup_rng_u32(&r);
		}
		struct sup_safetensors *st;
		err[0] = '\0';
		if (sup_safetensors_parse(&st, &a, img, len, err, sizeof err) == SUP_OK) {
			ok++;
			TU_CHECK(st->n_entries <= 2);
			sup_safetensors_free(st);
		} else if (!err[0]) {
			no_msg++;
		}
		free(img);
	}
	TU_CHECK(no_msg == 0);
	TU_CHECK_MSG(ok > 0 && ok < 4000, "%d of 4000 mutations parsed", ok);
	sup_free(&a, enc);
}

int main(void)
{
	char dirbuf[64];
	const char *dir = iot_tmpdir(dirbuf, sizeof dirbuf);
	if (!dir) {
		fprintf(stderr, "test_safetensors: cannot create a scratch folder: %s\n", strerror(errno));
		return 1;
	}
	test_known_bytes();
	test_round_trip(dir);
	test_strided_and_foreign();
	test_header_errors();
	test_truncation(dir);
	test_mutations();
	test_write_errors();
	test_atomic_save(dir);
	test_alloc_failure(dir);
	iot_rmdir(dir);
	return tu_finish("test_safetensors");
}
