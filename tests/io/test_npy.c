/* io layer: .npy reading and writing. */
#define _POSIX_C_SOURCE 200809L

#include "iotest.h"

#include <errno.h>
#include <sys/stat.h>

#define CORA_DIR "/work/shared/data/planetoid/cora"

/* np.arange(6, dtype='<f4').reshape(2, 3) as numpy >= 1.17 saves it: magic, version 1.0, header
 * length 118, the dict, 20 spaces of room to grow shape[0] plus 38 of padding, a newline (the data
 * starts at byte 128), then 0.0 .. 5.0 as little-endian float32. */
static const char known_f32_2x3[] =
	"\x93NUMPY\x01\x00\x76\x00"
	"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	"                    "                   /* 20: growth room for shape[0] = 2 */
	"                                      " /* 38: padding to 64 */
	"\n"
	"\x00\x00\x00\x00" "\x00\x00\x80\x3f" "\x00\x00\x00\x40" "\x00\x00\x40\x40" "\x00\x00\x80\x40" "\x00\x00\xa0\x40";
_Static_assert(sizeof known_f32_2x3 - 1 == 128 + 24, "header 128 bytes + 24 data bytes");

/* np.array([1, -2, 3], dtype='<i8'): shape (3,), growth room 21 - 1 = 20. */
static const char known_i64_3[] =
	"\x93NUMPY\x01\x00\x76\x00"
	"{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"
	"                    "                     /* 20 */
	"                                        " /* 40 */
	"\n"
	"\x01\x00\x00\x00\x00\x00\x00\x00" "\xfe\xff\xff\xff\xff\xff\xff\xff" "\x03\x00\x00\x00\x00\x00\x00\x00";
_Static_assert(sizeof known_i64_3 - 1 == 128 + 24, "header 128 bytes + 24 data bytes");

/* np.float64(2.5) saved as a 0-d array: no growth room, 64 - (10 + 55 + 1) % 64 = 62 spaces. */
static const char known_f64_scalar[] =
	"\x93NUMPY\x01\x00\x76\x00"
	"{'descr': '<f8', 'fortran_order': False, 'shape': (), }"
	"                                                            " /* 60 */
	"  "                                                           /* 62 */
	"\n"
	"\x00\x00\x00\x00\x00\x00\x04\x40";
_Static_assert(sizeof known_f64_scalar - 1 == 128 + 8, "header 128 bytes + 8 data bytes");

static struct sup_allocator al(void)
{
	return sup_allocator_default();
}

static void test_known_bytes(void)
{
	struct sup_allocator a = al();
	struct sup_tensor t;
	char err[256] = "";
	enum sup_status st = sup_npy_parse(&t, &a, known_f32_2x3, sizeof known_f32_2x3 - 1, err, sizeof err);
	TU_CHECK_MSG(st == SUP_OK, "%s", err);
	if (st == SUP_OK) {
		TU_CHECK(t.dtype == SUP_F32 && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3);
		for (int i = 0; i < 6; i++)
			TU_CHECK(sup_tensor_get(&t, i) == i);
		/* Writing the same array gives numpy's bytes exactly. */
		void *enc;
		size_t n;
		TU_CHECK(sup_npy_encode(&enc, &n, &a, &t, err, sizeof err) == SUP_OK);
		TU_CHECK(n == sizeof known_f32_2x3 - 1 && memcmp(enc, known_f32_2x3, n) == 0);
		sup_free(&a, enc);
		sup_free(&a, t.data);
	}
	st = sup_npy_parse(&t, &a, known_i64_3, sizeof known_i64_3 - 1, err, sizeof err);
	TU_CHECK_MSG(st == SUP_OK, "%s", err);
	if (st == SUP_OK) {
		TU_CHECK(t.dtype == SUP_I64 && t.ndim == 1 && t.shape[0] == 3);
		TU_CHECK(((int64_t *)t.data)[0] == 1 && ((int64_t *)t.data)[1] == -2 && ((int64_t *)t.data)[2] == 3);
		void *enc;
		size_t n;
		TU_CHECK(sup_npy_encode(&enc, &n, &a, &t, err, sizeof err) == SUP_OK);
		TU_CHECK(n == sizeof known_i64_3 - 1 && memcmp(enc, known_i64_3, n) == 0);
		sup_free(&a, enc);
		sup_free(&a, t.data);
	}
	st = sup_npy_parse(&t, &a, known_f64_scalar, sizeof known_f64_scalar - 1, err, sizeof err);
	TU_CHECK_MSG(st == SUP_OK, "%s", err);
	if (st == SUP_OK) {
		TU_CHECK(t.dtype == SUP_F64 && t.ndim == 0 && sup_tensor_get(&t, 0) == 2.5);
		void *enc;
		size_t n;
		TU_CHECK(sup_npy_encode(&enc, &n, &a, &t, err, sizeof err) == SUP_OK);
		TU_CHECK(n == sizeof known_f64_scalar - 1 && memcmp(enc, known_f64_scalar, n) == 0);
		sup_free(&a, enc);
		sup_free(&a, t.data);
	}
}

/* An .npy image with the given version and dict text (no alignment padding), then data. */
static size_t make_npy(unsigned char *out, int major, const char *dict, const void *data, size_t n)
{
	size_t dl = strlen(dict), pre = major == 1 ? 10 : 12;
	memcpy(out, "\x93NUMPY", 6);
	out[6] = (unsigned char)major;
	out[7] = 0;
	out[8] = (unsigned char)(dl & 0xff);
	out[9] = (unsigned char)(dl >> 8);
	if (major != 1)
		out[10] = out[11] = 0;
	memcpy(out + pre, dict, dl);
	if (n)
		memcpy(out + pre + dl, data, n);
	return pre + dl + n;
}

/* Parses dict + data (via an exact-size heap copy) and returns the status; *t owns data on OK. */
static enum sup_status parse_dict(struct sup_tensor *t, int major, const char *dict, const void *data, size_t n,
				  char *err, size_t es)
{
	unsigned char buf[1024];
	size_t len = make_npy(buf, major, dict, data, n);
	void *copy = iot_dup(buf, len);
	struct sup_allocator a = al();
	enum sup_status st = sup_npy_parse(t, &a, copy, len, err, es);
	free(copy);
	return st;
}

static void test_header_forms(void)
{
	static const struct {
		int major;
		const char *dict;
		enum sup_dtype dt;
		int ndim;
		int64_t shape[3];
	} ok[] = {
		{ 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", SUP_F32, 2, { 2, 3 } },
		{ 1, "{'shape':(2,3),'fortran_order':False,'descr':'<f4'}", SUP_F32, 2, { 2, 3 } },
		{ 1, "{ \"descr\" : \"<f8\" ,\n 'shape' : ( 6 , ) , 'fortran_order' : False , }   \n", SUP_F64, 1, { 6 } },
		{ 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 3,), }", SUP_U8, 3, { 2, 1, 3 } },
		{ 1, "{'descr': '<u1', 'fortran_order': False, 'shape': (6,)}", SUP_U8, 1, { 6 } },
		{ 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3L, 2L), }", SUP_U8, 2, { 3, 2 } },
		{ 2, "{'descr': '<i4', 'fortran_order': False, 'shape': (6,), }", SUP_I32, 1, { 6 } },
		{ 2, "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 5), }", SUP_I64, 2, { 0, 5 } },
	};
	unsigned char data[64];
	for (int i = 0; i < 64; i++)
		data[i] = (unsigned char)(i * 7 + 1);
	for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
		size_t bytes = sup_dtype_size(ok[k].dt) * (size_t)sup_shape_numel(ok[k].ndim, ok[k].shape);
		struct sup_tensor t;
		char err[256] = "";
		enum sup_status st = parse_dict(&t, ok[k].major, ok[k].dict, data, bytes, err, sizeof err);
		TU_CHECK_MSG(st == SUP_OK, "case %zu: %s", k, err);
		if (st != SUP_OK)
			continue;
		TU_CHECK_MSG(t.dtype == ok[k].dt && t.ndim == ok[k].ndim, "case %zu", k);
		for (int d = 0; d < t.ndim; d++)
			TU_CHECK(t.shape[d] == ok[k].shape[d]);
		TU_CHECK(bytes == 0 || memcmp(t.data, data, bytes) == 0);
		struct sup_allocator a = al();
		sup_free(&a, t.data);
	}
}

static void test_header_errors(void)
{
	static const struct {
		const char *dict;
		size_t data_bytes;
		enum sup_status want;
		const char *msg; /* a substring of the message */
	} bad[] = {
		{ "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4, SUP_ERR_DTYPE, "<f2" },
		{ "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, SUP_ERR_DTYPE, ">f4" },
		{ "{'descr': 'float', 'fortran_order': False, 'shape': (2,), }", 8, SUP_ERR_FORMAT, "float" },
		{ "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, SUP_ERR_DTYPE, "structured" },
		{ "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, SUP_ERR_ARG, "fortran_order" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 0, SUP_ERR_FORMAT, "negative" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0, SUP_ERR_FORMAT,
		  "overflow" },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0, SUP_ERR_FORMAT,
		  "too large" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1), }", 4, SUP_ERR_SHAPE, "dims" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8, SUP_ERR_FORMAT, "tuple" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, SUP_ERR_FORMAT, "'('" },
		{ "{'descr': '<f4', 'shape': (2,), }", 8, SUP_ERR_FORMAT, "fortran_order" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr': '<f4'}", 8, SUP_ERR_FORMAT, "twice" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, SUP_ERR_FORMAT, "'x'" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", 8, SUP_ERR_FORMAT, "after" },
		{ "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8, SUP_ERR_FORMAT, "True or False" },
		{ "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", 8, SUP_ERR_FORMAT, "','" },
		{ "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}", 8, SUP_ERR_FORMAT, "escapes" },
		{ "", 0, SUP_ERR_FORMAT, "'{'" },
		/* data sizes that do not match the header */
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7, SUP_ERR_FORMAT, "truncated" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, SUP_ERR_FORMAT, "trailing" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 1, SUP_ERR_FORMAT, "trailing" },
	};
	unsigned char data[64] = { 0 };
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct sup_tensor t;
		char err[256] = "";
		enum sup_status st = parse_dict(&t, 1, bad[k].dict, data, bad[k].data_bytes, err, sizeof err);
		TU_CHECK_MSG(st == bad[k].want, "case %zu: status %s, message '%s'", k, sup_status_str(st), err);
		TU_CHECK_MSG(strstr(err, bad[k].msg) != NULL, "case %zu: message '%s' lacks '%s'", k, err, bad[k].msg);
		TU_CHECK(t.data == NULL);
		if (st == SUP_OK) {
			struct sup_allocator a = al();
			sup_free(&a, t.data);
		}
	}
	/* Bad magic and versions. */
	struct sup_allocator a = al();
	struct sup_tensor t;
	char err[256] = "";
	unsigned char buf[sizeof known_f32_2x3];
	memcpy(buf, known_f32_2x3, sizeof buf);
	buf[1] = 'n';
	TU_CHECK(sup_npy_parse(&t, &a, buf, sizeof buf - 1, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "magic"));
	memcpy(buf, known_f32_2x3, sizeof buf);
	buf[6] = 3;
	TU_CHECK(sup_npy_parse(&t, &a, buf, sizeof buf - 1, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "3.0"));
	buf[6] = 1;
	buf[7] = 1;
	TU_CHECK(sup_npy_parse(&t, &a, buf, sizeof buf - 1, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "1.1"));
	memcpy(buf, known_f32_2x3, sizeof buf);
	buf[9] = 0x7f; /* header length larger than the file */
	TU_CHECK(sup_npy_parse(&t, &a, buf, sizeof buf - 1, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "truncated"));
	/* A header longer than the limit is refused before anything is read or allocated. */
	unsigned char v2[12] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0x7f };
	TU_CHECK(sup_npy_parse(&t, &a, v2, sizeof v2, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "limit"));
	/* NULL or zero-size error buffers are allowed. */
	TU_CHECK(sup_npy_parse(&t, &a, v2, sizeof v2, NULL, 0) == SUP_ERR_FORMAT);
	TU_CHECK(sup_npy_parse(&t, &a, NULL, 0, err, sizeof err) == SUP_ERR_FORMAT);
}

/* Every strict prefix of a valid image (and the image plus one byte) is SUP_ERR_FORMAT, from
 * memory and from a file. */
static void check_truncations(const void *img, size_t len, size_t data_offset, const char *dir)
{
	struct sup_allocator a = al();
	char err[256], path[4200];
	snprintf(path, sizeof path, "%s/trunc.npy", dir);
	int bad_mem = 0, bad_file = 0, bad_hdr = 0;
	for (size_t n = 0; n < len; n++) {
		void *copy = iot_dup(img, n);
		struct sup_tensor t;
		err[0] = '\0';
		if (sup_npy_parse(&t, &a, copy, n, err, sizeof err) != SUP_ERR_FORMAT || !err[0] || t.data)
			bad_mem++;
		struct sup_npy_header h;
		enum sup_status hs = sup_npy_header_parse(&h, copy, n, err, sizeof err);
		if (n < data_offset ? hs != SUP_ERR_FORMAT : hs != SUP_OK)
			bad_hdr++;
		/* Files: every header byte, then every 7th data byte. */
		if (n <= data_offset || n % 7 == 0) {
			iot_write_file(path, img, n);
			if (sup_npy_load(&t, &a, path, err, sizeof err) != SUP_ERR_FORMAT || !strstr(err, "trunc.npy"))
				bad_file++;
		}
		free(copy);
	}
	TU_CHECK_MSG(bad_mem == 0, "%d truncated images not refused", bad_mem);
	TU_CHECK_MSG(bad_file == 0, "%d truncated files not refused", bad_file);
	TU_CHECK_MSG(bad_hdr == 0, "%d header parses wrong", bad_hdr);
	unsigned char *longer = malloc(len + 1);
	memcpy(longer, img, len);
	longer[len] = 0;
	struct sup_tensor t;
	TU_CHECK(sup_npy_parse(&t, &a, longer, len + 1, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "trailing"));
	iot_write_file(path, longer, len + 1);
	TU_CHECK(sup_npy_load(&t, &a, path, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "trailing"));
	free(longer);
	remove(path);
}

static void test_truncation(const char *dir)
{
	check_truncations(known_f32_2x3, sizeof known_f32_2x3 - 1, 128, dir);
	check_truncations(known_f64_scalar, sizeof known_f64_scalar - 1, 128, dir);
	unsigned char buf[256];
	size_t n = make_npy(buf, 2, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", "abcdefghijkl", 12);
	check_truncations(buf, n, n - 12, dir);
}

static const int64_t rt_dims[SUP_MAX_DIMS] = { 3, 2, 1, 4, 2, 3 };

/* Every dtype, rank 0..6, with and without a zero-size dim, through memory and through files. */
static void test_round_trip(const char *dir)
{
	struct sup_allocator a = al();
	struct sup_rng r = sup_rng_make(11, 0);
	char err[256] = "", path[4200];
	snprintf(path, sizeof path, "%s/rt.npy", dir);
	unsigned char *data = malloc(8 * 3 * 2 * 4 * 2 * 3);
	for (int dt = 0; dt < SUP_DTYPE_COUNT; dt++) {
		for (int rank = 0; rank <= SUP_MAX_DIMS; rank++) {
			for (int zero = 0; zero <= (rank > 0); zero++) {
				int64_t shape[SUP_MAX_DIMS];
				memcpy(shape, rt_dims, sizeof shape);
				if (zero)
					shape[rank / 2] = 0;
				struct sup_tensor t;
				sup_tensor_init(&t, (enum sup_dtype)dt, rank, shape, data);
				size_t nb = sup_tensor_nbytes(&t);
				iot_fill_bytes(data, nb, &r);
				void *enc;
				size_t n;
				TU_CHECK(sup_npy_encode(&enc, &n, &a, &t, err, sizeof err) == SUP_OK);
				TU_CHECK_MSG(n % 64 == nb % 64, "the data must start 64-byte aligned");
				struct sup_tensor u;
				enum sup_status st = sup_npy_parse(&u, &a, enc, n, err, sizeof err);
				TU_CHECK_MSG(st == SUP_OK, "dtype %d rank %d: %s", dt, rank, err);
				if (st == SUP_OK) {
					TU_CHECK(u.dtype == t.dtype && sup_tensor_same_shape(&t, &u));
					TU_CHECK(memcmp(u.data, data, nb) == 0);
					sup_free(&a, u.data);
				}
				st = sup_npy_save(path, &t, err, sizeof err);
				TU_CHECK_MSG(st == SUP_OK, "%s", err);
				size_t fn = 0;
				unsigned char *file = iot_read_file(path, &fn);
				TU_CHECK(file && fn == n && memcmp(file, enc, n) == 0);
				free(file);
				st = sup_npy_load(&u, &a, path, err, sizeof err);
				TU_CHECK_MSG(st == SUP_OK, "%s", err);
				if (st == SUP_OK) {
					TU_CHECK(u.dtype == t.dtype && sup_tensor_same_shape(&t, &u));
					TU_CHECK(memcmp(u.data, data, nb) == 0);
					TU_CHECK((uintptr_t)u.data % SUP_ARENA_ALIGN == 0);
					sup_free(&a, u.data);
				}
				sup_free(&a, enc);
			}
		}
	}
	free(data);
	remove(path);
	TU_CHECK(iot_count(dir, ".tmp.") == 0);
}

/* A transposed (non-contiguous) view is written in its logical row-major order. */
static void test_strided_write(void)
{
	struct sup_allocator a = al();
	int32_t base[2][3] = { { 1, 2, 3 }, { 4, 5, 6 } };
	struct sup_tensor t;
	sup_tensor_init(&t, SUP_I32, 2, (const int64_t[]){ 3, 2 }, base);
	t.stride[0] = 1;
	t.stride[1] = 3;
	void *enc;
	size_t n;
	char err[256];
	TU_CHECK(sup_npy_encode(&enc, &n, &a, &t, err, sizeof err) == SUP_OK);
	struct sup_tensor u;
	TU_CHECK(sup_npy_parse(&u, &a, enc, n, err, sizeof err) == SUP_OK);
	const int32_t want[6] = { 1, 4, 2, 5, 3, 6 };
	TU_CHECK(u.data && memcmp(u.data, want, sizeof want) == 0);
	sup_free(&a, u.data);
	sup_free(&a, enc);
	/* Bad tensors are refused before anything is written. */
	struct sup_tensor bad;
	sup_tensor_init(&bad, SUP_F32, 1, (const int64_t[]){ 4 }, NULL);
	TU_CHECK(sup_npy_encode(&enc, &n, &a, &bad, err, sizeof err) == SUP_ERR_ARG && strstr(err, "NULL data"));
	bad.shape[0] = -1;
	TU_CHECK(sup_npy_encode(&enc, &n, &a, &bad, err, sizeof err) == SUP_ERR_ARG && strstr(err, "negative"));
}

/* Failed saves: no temporary file left, the old file untouched. */
static void test_atomic_save(const char *dir)
{
	char path[4200], err[256];
	struct sup_tensor t;
	float v[4] = { 1, 2, 3, 4 };
	sup_tensor_init(&t, SUP_F32, 1, (const int64_t[]){ 4 }, v);
	snprintf(path, sizeof path, "%s/missing/x.npy", dir);
	enum sup_status st = sup_npy_save(path, &t, err, sizeof err);
	TU_CHECK_MSG(st == SUP_ERR_NOT_FOUND && strstr(err, "missing"), "%s: %s", sup_status_str(st), err);
	/* The target is a folder: the rename fails, the temporary file goes. */
	snprintf(path, sizeof path, "%s/adir.npy", dir);
	TU_CHECK(mkdir(path, 0700) == 0);
	st = sup_npy_save(path, &t, err, sizeof err);
	TU_CHECK_MSG(st == SUP_ERR_IO && strstr(err, "rename"), "%s: %s", sup_status_str(st), err);
	TU_CHECK(iot_count(dir, ".tmp.") == 0);
	rmdir(path);
}

/* The Cora arrays of the shared data folder (written by numpy). */
static void test_cora(void)
{
	char path[512], err[256];
	struct stat sb;
	if (stat(CORA_DIR, &sb) != 0) {
		printf("test_npy: skipping the Cora files: %s is absent\n", CORA_DIR);
		return;
	}
	static const struct {
		const char *file;
		enum sup_dtype dt;
		int ndim;
		int64_t shape[2];
	} files[] = {
		{ "x_indptr", SUP_I64, 1, { 2709 } },   { "x_indices", SUP_I32, 1, { 49216 } },
		{ "x_data", SUP_F32, 1, { 49216 } },    { "y", SUP_I32, 1, { 2708 } },
		{ "edge_index", SUP_I32, 2, { 2, 10556 } }, { "train_mask", SUP_U8, 1, { 2708 } },
		{ "val_mask", SUP_U8, 1, { 2708 } },    { "test_mask", SUP_U8, 1, { 2708 } },
		{ "x_shape", SUP_I64, 1, { 2 } },
	};
	struct sup_allocator a = al();
	struct sup_tensor t[sizeof files / sizeof files[0]];
	for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
		snprintf(path, sizeof path, "%s/%s.npy", CORA_DIR, files[k].file);
		enum sup_status st = sup_npy_load(&t[k], &a, path, err, sizeof err);
		TU_CHECK_MSG(st == SUP_OK, "%s", err);
		TU_CHECK_MSG(t[k].dtype == files[k].dt && t[k].ndim == files[k].ndim && t[k].shape[0] == files[k].shape[0] &&
				     (files[k].ndim < 2 || t[k].shape[1] == files[k].shape[1]),
			     "%s: dtype or shape", files[k].file);
		/* Our writer reproduces numpy's file byte for byte. */
		size_t fn = 0, en = 0;
		unsigned char *file = iot_read_file(path, &fn);
		void *enc = NULL;
		if (st == SUP_OK)
			TU_CHECK(sup_npy_encode(&enc, &en, &a, &t[k], err, sizeof err) == SUP_OK);
		TU_CHECK_MSG(file && en == fn && memcmp(enc, file, fn) == 0, "%s: re-encoding differs", files[k].file);
		free(file);
		sup_free(&a, enc);
	}
	if (t[0].data && t[1].data && t[4].data && t[5].data && t[8].data) {
		const int64_t *indptr = t[0].data, *xs = t[8].data;
		TU_CHECK(indptr[0] == 0 && indptr[2708] == 49216);
		TU_CHECK(xs[0] == 2708 && xs[1] == 1433);
		int64_t bad = 0, train = 0;
		for (int64_t i = 0; i < 49216; i++)
			bad += ((const int32_t *)t[1].data)[i] < 0 || ((const int32_t *)t[1].data)[i] >= 1433;
		for (int64_t i = 0; i < 2 * 10556; i++)
			bad += ((const int32_t *)t[4].data)[i] < 0 || ((const int32_t *)t[4].data)[i] >= 2708;
		for (int64_t i = 0; i < 2708; i++)
			train += ((const uint8_t *)t[5].data)[i];
		TU_CHECK(bad == 0);
		TU_CHECK_MSG(train == 140, "train nodes: %lld", (long long)train);
	}
	for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
		sup_free(&a, t[k].data);
}

/* Every allocation failure is reported as SUP_ERR_NOMEM without leaks. */
static void test_alloc_failure(const char *dir)
{
	char path[4200], err[256];
	snprintf(path, sizeof path, "%s/oom.npy", dir);
	iot_write_file(path, known_f32_2x3, sizeof known_f32_2x3 - 1);
	for (int k = 0; k < 4; k++) {
		struct iot_failing f = { 0, k, 0 };
		struct sup_allocator a = { iot_fail_alloc, iot_fail_free, &f };
		struct sup_tensor t;
		enum sup_status st = sup_npy_load(&t, &a, path, err, sizeof err);
		TU_CHECK(st == SUP_OK || st == SUP_ERR_NOMEM);
		if (st == SUP_OK)
			sup_free(&a, t.data);
		TU_CHECK(f.live == 0);
		f.calls = 0;
		st = sup_npy_parse(&t, &a, known_f32_2x3, sizeof known_f32_2x3 - 1, err, sizeof err);
		TU_CHECK(k == 0 ? st == SUP_ERR_NOMEM : st == SUP_OK);
		if (st == SUP_OK)
			sup_free(&a, t.data);
		TU_CHECK(f.live == 0);
	}
	remove(path);
	struct sup_allocator a = al();
	struct sup_tensor t;
	snprintf(path, sizeof path, "%s/none.npy", dir);
	TU_CHECK(sup_npy_load(&t, &a, path, err, sizeof err) == SUP_ERR_NOT_FOUND && strstr(err, "none.npy"));
	TU_CHECK(sup_npy_load(&t, &a, dir, err, sizeof err) == SUP_ERR_IO);
}

/* Random byte mutations of a valid image: any status, never a crash, a message on every error. */
static void test_mutations(void)
{
	struct sup_allocator a = al();
	struct sup_rng r = sup_rng_make(99, 0);
	static const char alphabet[] = "{}()[]',:0123456789-L <>|fiub TrueFalse\n\"";
	const size_t len = sizeof known_f32_2x3 - 1;
	int no_msg = 0, ok = 0;
	for (int it = 0; it < 4000; it++) {
		unsigned char *img = iot_dup(known_f32_2x3, len);
		int edits = 1 + (int)sup_rng_below(&r, 4);
		for (int e = 0; e < edits; e++) {
			size_t pos = (size_t)sup_rng_below(&r, 128);
			img[pos] = sup_rng_below(&r, 2) ? (unsigned char)alphabet[sup_rng_below(&r, sizeof alphabet - 1)]
							 : (unsigned char)sup_rng_u32(&r);
		}
		size_t n = sup_rng_below(&r, 4) ? len : (size_t)sup_rng_below(&r, len + 1);
		struct sup_tensor t;
		char err[256] = "";
		enum sup_status st = sup_npy_parse(&t, &a, img, n, err, sizeof err);
		if (st == SUP_OK) {
			ok++;
			sup_free(&a, t.data);
		} else if (!err[0]) {
			no_msg++;
		}
		free(img);
	}
	TU_CHECK(no_msg == 0);
	TU_CHECK_MSG(ok > 0 && ok < 4000, "%d of 4000 mutations parsed", ok);
}

int main(void)
{
	char dirbuf[64];
	const char *dir = iot_tmpdir(dirbuf, sizeof dirbuf);
	if (!dir) {
		fprintf(stderr, "test_npy: cannot create a scratch folder: %s\n", strerror(errno));
		return 1;
	}
	test_known_bytes();
	test_header_forms();
	test_header_errors();
	test_truncation(dir);
	test_mutations();
	test_round_trip(dir);
	test_strided_write();
	test_atomic_save(dir);
	test_cora();
	test_alloc_failure(dir);
	iot_rmdir(dir);
	return tu_finish("test_npy");
}
