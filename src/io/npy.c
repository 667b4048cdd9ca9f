/* NumPy .npy reader and writer (format versions 1.0 and 2.0, see docs/formats.md).
 *
 * Layout: "\x93NUMPY", major, minor, the header length (2 bytes LE in 1.0, 4 in 2.0), then the
 * header: an ASCII Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}
 * padded with spaces and a newline, then the raw row-major data. The dict parser below accepts
 * the subset of Python literal syntax these three keys need, in any order and spacing. */
#include "io/io_internal.h"

#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* A header beyond this is not something numpy would write for a supported array (numpy itself
 * refuses headers over 10000 bytes by default); refusing it bounds what a reader allocates. */
#define NPY_MAX_HEADER ((size_t)1 << 20)
#define NPY_ALIGN 64
#define NPY_GROWTH_AXIS_MAX_DIGITS 21 /* numpy leaves this much room to grow shape[0] in place */

static const struct {
	const char *descr;
	enum sup_dtype dtype;
} npy_descrs[] = {
	{ "<f4", SUP_F32 }, { "<f8", SUP_F64 }, { "<i4", SUP_I32 }, { "<i8", SUP_I64 },
	{ "|u1", SUP_U8 },  { "<u1", SUP_U8 },  { "|b1", SUP_U8 },
};

/* What the writer emits for each dtype. */
static const char *const npy_write_descr[] = {
	[SUP_F32] = "<f4", [SUP_F64] = "<f8", [SUP_I32] = "<i4", [SUP_I64] = "<i8", [SUP_U8] = "|u1",
};
_Static_assert(sizeof(npy_write_descr) / sizeof(npy_write_descr[0]) == SUP_DTYPE_COUNT, "a descr per dtype");

/* ---- header dict parser ------------------------------------------------------------------------ */

struct lex {
	const char *p, *end;
	char *err;
	size_t err_size;
};

static void skip_ws(struct lex *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
		l->p++;
}

/* Skips spaces, then consumes c if it is next. */
static bool accept(struct lex *l, char c)
{
	skip_ws(l);
	if (l->p < l->end && *l->p == c) {
		l->p++;
		return true;
	}
	return false;
}

static enum sup_status syntax(struct lex *l, const char *expected)
{
	if (l->p >= l->end)
		return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: ended where %s was expected",
				   expected);
	unsigned char c = (unsigned char)*l->p;
	if (c >= 0x20 && c < 0x7f)
		return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: expected %s, found '%c'",
				   expected, c);
	return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: expected %s, found byte 0x%02x",
			   expected, c);
}

/* A Python string literal in ' or " without escapes, copied into out (size cap). */
static enum sup_status parse_str(struct lex *l, char *out, size_t cap)
{
	skip_ws(l);
	if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
		return syntax(l, "a quoted string");
	char q = *l->p++;
	size_t n = 0;
	while (l->p < l->end && *l->p != q) {
		if (*l->p == '\\' || *l->p == '\n')
			return syntax(l, "a string without escapes");
		if (n + 1 >= cap)
			return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: string longer than %zu bytes",
					   cap - 1);
		out[n++] = *l->p++;
	}
	if (l->p >= l->end)
		return syntax(l, "a closing quote");
	l->p++;
	out[n] = '\0';
	return SUP_OK;
}

static enum sup_status parse_descr(struct lex *l, enum sup_dtype *dt)
{
	skip_ws(l);
	if (l->p < l->end && *l->p == '[')
		return sup_errf(l->err, l->err_size, SUP_ERR_DTYPE, "npy header: structured dtypes are not supported");
	char s[32];
	enum sup_status st = parse_str(l, s, sizeof s);
	if (st)
		return st;
	for (size_t i = 0; i < sizeof npy_descrs / sizeof npy_descrs[0]; i++) {
		if (strcmp(s, npy_descrs[i].descr) == 0) {
			*dt = npy_descrs[i].dtype;
			return SUP_OK;
		}
	}
	/* A well-formed type string (byte order, kind letter, digits) we cannot hold is a dtype
	 * problem; anything else is a malformed header. */
	bool typestr = strlen(s) >= 3 && strchr("<>|=", s[0]) && strchr("biufcmMUSV", s[1]);
	for (size_t i = 2; typestr && s[i]; i++)
		typestr = s[i] >= '0' && s[i] <= '9';
	if (typestr)
		return sup_errf(l->err, l->err_size, SUP_ERR_DTYPE,
				   "npy header: dtype '%s' not supported (expected <f4 <f8 <i4 <i8 |u1 <u1 |b1)", s);
	return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: '%s' is not a dtype descr", s);
}

static enum sup_status parse_bool(struct lex *l, bool *v)
{
	skip_ws(l);
	size_t left = (size_t)(l->end - l->p);
	if (left >= 4 && memcmp(l->p, "True", 4) == 0) {
		l->p += 4;
		*v = true;
		return SUP_OK;
	}
	if (left >= 5 && memcmp(l->p, "False", 5) == 0) {
		l->p += 5;
		*v = false;
		return SUP_OK;
	}
	return syntax(l, "True or False");
}

/* A non-negative decimal integer, optionally with Python 2's 'L' suffix. */
static enum sup_status parse_dim(struct lex *l, int64_t *v)
{
	skip_ws(l);
	if (l->p < l->end && *l->p == '-')
		return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: negative size in shape");
	if (l->p >= l->end || *l->p < '0' || *l->p > '9')
		return syntax(l, "a size");
	int64_t x = 0;
	while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
		int d = *l->p++ - '0';
		if (x > (INT64_MAX - d) / 10)
			return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: size in shape overflows int64");
		x = x * 10 + d;
	}
	if (l->p < l->end && (*l->p == 'L' || *l->p == 'l'))
		l->p++;
	*v = x;
	return SUP_OK;
}

/* (), (n,), (a, b), (a, b,) */
static enum sup_status parse_shape(struct lex *l, struct sup_npy_header *h)
{
	if (!accept(l, '('))
		return syntax(l, "'(' opening the shape tuple");
	h->ndim = 0;
	if (accept(l, ')'))
		return SUP_OK;
	for (;;) {
		int64_t d = 0;
		enum sup_status st = parse_dim(l, &d);
		if (st)
			return st;
		if (h->ndim == SUP_MAX_DIMS)
			return sup_errf(l->err, l->err_size, SUP_ERR_SHAPE, "npy header: shape has more than %d dims",
					   SUP_MAX_DIMS);
		h->shape[h->ndim++] = d;
		bool comma = accept(l, ',');
		if (accept(l, ')')) {
			/* Python needs the comma in a 1-tuple: "(5)" is the integer 5. */
			if (h->ndim == 1 && !comma)
				return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT,
						   "npy header: shape '(n)' is not a tuple (write '(n,)')");
			return SUP_OK;
		}
		if (!comma)
			return syntax(l, "',' or ')' in the shape");
	}
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

static enum sup_status parse_entry(struct lex *l, struct sup_npy_header *h, unsigned *seen)
{
	char key[32];
	enum sup_status st = parse_str(l, key, sizeof key);
	if (st)
		return st;
	unsigned k = strcmp(key, "descr") == 0 ? KEY_DESCR
		     : strcmp(key, "fortran_order") == 0 ? KEY_FORTRAN
		     : strcmp(key, "shape") == 0 ? KEY_SHAPE
						  : 0;
	if (!k)
		return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: unexpected key '%s'", key);
	if (*seen & k)
		return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: key '%s' appears twice", key);
	*seen |= k;
	if (!accept(l, ':'))
		return syntax(l, "':' after a key");
	if (k == KEY_DESCR)
		return parse_descr(l, &h->dtype);
	if (k == KEY_SHAPE)
		return parse_shape(l, h);
	bool fortran = false;
	st = parse_bool(l, &fortran);
	if (!st && fortran)
		return sup_errf(l->err, l->err_size, SUP_ERR_ARG,
				   "npy header: fortran_order True is not supported (save a C-order array)");
	return st;
}

static enum sup_status parse_dict(struct lex *l, struct sup_npy_header *h)
{
	unsigned seen = 0;
	if (!accept(l, '{'))
		return syntax(l, "'{' opening the header dict");
	while (!accept(l, '}')) {
		enum sup_status st = parse_entry(l, h, &seen);
		if (st)
			return st;
		if (!accept(l, ',')) {
			if (accept(l, '}'))
				break;
			return syntax(l, "',' or '}' in the header dict");
		}
	}
	skip_ws(l);
	if (l->p != l->end)
		return syntax(l, "only spaces after the header dict");
	if (seen != (KEY_DESCR | KEY_FORTRAN | KEY_SHAPE))
		return sup_errf(l->err, l->err_size, SUP_ERR_FORMAT, "npy header: missing key '%s'",
				   !(seen & KEY_DESCR) ? "descr" : !(seen & KEY_FORTRAN) ? "fortran_order" : "shape");
	return SUP_OK;
}

/* ---- reading ------------------------------------------------------------------------------------- */

/* Magic, version and header length: where the data starts. Needs only the first 12 bytes. */
static enum sup_status parse_prefix(const unsigned char *b, size_t len, int *major, size_t *prefix_len,
				    size_t *data_offset, char *err, size_t es)
{
	size_t m = len < NPY_MAGIC_LEN ? len : NPY_MAGIC_LEN;
	if (len == 0)
		return sup_errf(err, es, SUP_ERR_FORMAT, "truncated npy file: empty");
	if (memcmp(b, NPY_MAGIC, m) != 0)
		return sup_errf(err, es, SUP_ERR_FORMAT, "not an npy file (bad magic)");
	if (len < NPY_MAGIC_LEN + 2)
		return sup_errf(err, es, SUP_ERR_FORMAT, "truncated npy file: %zu bytes, the magic and version need 8",
				   len);
	*major = b[6];
	if ((b[6] != 1 && b[6] != 2) || b[7] != 0)
		return sup_errf(err, es, SUP_ERR_FORMAT, "npy format version %d.%d not supported (1.0 and 2.0 are)",
				   b[6], b[7]);
	*prefix_len = b[6] == 1 ? 10 : 12;
	if (len < *prefix_len)
		return sup_errf(err, es, SUP_ERR_FORMAT, "truncated npy file: %zu bytes, the header length ends at %zu",
				   len, *prefix_len);
	size_t hlen = (size_t)b[8] | (size_t)b[9] << 8;
	if (b[6] == 2)
		hlen |= (size_t)b[10] << 16 | (size_t)b[11] << 24;
	if (hlen > NPY_MAX_HEADER)
		return sup_errf(err, es, SUP_ERR_FORMAT, "npy header of %zu bytes exceeds the %zu byte limit", hlen,
				   NPY_MAX_HEADER);
	*data_offset = *prefix_len + hlen;
	return SUP_OK;
}

enum sup_status sup_npy_header_parse(struct sup_npy_header *h, const void *buf, size_t len, char *err,
				     size_t err_size)
{
	memset(h, 0, sizeof *h);
	if (!buf && len)
		return sup_errf(err, err_size, SUP_ERR_ARG, "NULL buffer");
	const unsigned char *b = buf;
	size_t prefix_len, data_offset;
	enum sup_status st = parse_prefix(b, len, &h->version_major, &prefix_len, &data_offset, err, err_size);
	if (st)
		return st;
	if (len < data_offset)
		return sup_errf(err, err_size, SUP_ERR_FORMAT,
				   "truncated npy file: %zu bytes, the header ends at %zu", len, data_offset);
	struct lex l = { (const char *)b + prefix_len, (const char *)b + data_offset, err, err_size };
	st = parse_dict(&l, h);
	if (st)
		return st;
	if (!sup_io_shape_bytes(h->ndim, h->shape, sup_dtype_size(h->dtype), &h->data_bytes)) {
		char s[160];
		return sup_errf(err, err_size, SUP_ERR_FORMAT, "npy header: shape %s is too large",
				   sup_shape_str(s, sizeof s, h->ndim, h->shape));
	}
	h->data_offset = data_offset;
	return SUP_OK;
}

/* The file or buffer must hold exactly the promised bytes after the header. */
static enum sup_status check_data_size(const struct sup_npy_header *h, uint64_t total, char *err, size_t es)
{
	uint64_t have = total - h->data_offset;
	if (have < h->data_bytes)
		return sup_errf(err, es, SUP_ERR_FORMAT, "truncated npy data: %llu of %zu bytes present",
				   (unsigned long long)have, h->data_bytes);
	if (have > h->data_bytes)
		return sup_errf(err, es, SUP_ERR_FORMAT, "npy file has %llu trailing bytes after the %zu data bytes",
				   (unsigned long long)(have - h->data_bytes), h->data_bytes);
	return SUP_OK;
}

static enum sup_status alloc_tensor(struct sup_tensor *out, const struct sup_allocator *a,
				    const struct sup_npy_header *h, char *err, size_t es)
{
	void *data = sup_alloc(a, h->data_bytes ? h->data_bytes : 1, SUP_ARENA_ALIGN);
	if (!data)
		return sup_errf(err, es, SUP_ERR_NOMEM, "out of memory for %zu bytes of npy data", h->data_bytes);
	sup_tensor_init(out, h->dtype, h->ndim, h->shape, data);
	return SUP_OK;
}

enum sup_status sup_npy_parse(struct sup_tensor *out, const struct sup_allocator *a, const void *buf, size_t len,
			      char *err, size_t err_size)
{
	memset(out, 0, sizeof *out);
	if (!a)
		return sup_errf(err, err_size, SUP_ERR_ARG, "NULL allocator");
	struct sup_npy_header h;
	enum sup_status st = sup_npy_header_parse(&h, buf, len, err, err_size);
	if (!st)
		st = check_data_size(&h, len, err, err_size);
	if (!st)
		st = alloc_tensor(out, a, &h, err, err_size);
	if (st)
		return st;
	if (h.data_bytes)
		memcpy(out->data, (const unsigned char *)buf + h.data_offset, h.data_bytes);
	return SUP_OK;
}

/* Reads the header of an open file into a block from a and parses it. */
static enum sup_status load_header(struct sup_npy_header *h, FILE *f, uint64_t size, const struct sup_allocator *a,
				   char *err, size_t es)
{
	unsigned char pre[12];
	size_t n = size < sizeof pre ? (size_t)size : sizeof pre;
	enum sup_status st = sup_io_read_exact(f, pre, n, err, es);
	int major;
	size_t prefix_len, data_offset;
	if (!st)
		st = parse_prefix(pre, n, &major, &prefix_len, &data_offset, err, es);
	if (st)
		return st;
	if (size < data_offset)
		return sup_errf(err, es, SUP_ERR_FORMAT, "truncated npy file: %llu bytes, the header ends at %zu",
				   (unsigned long long)size, data_offset);
	unsigned char *hdr = sup_alloc(a, data_offset, 16);
	if (!hdr)
		return sup_errf(err, es, SUP_ERR_NOMEM, "out of memory for a %zu byte npy header", data_offset);
	memcpy(hdr, pre, n);
	st = sup_io_read_exact(f, hdr + n, data_offset - n, err, es);
	if (!st)
		st = sup_npy_header_parse(h, hdr, data_offset, err, es);
	sup_free(a, hdr);
	return st;
}

enum sup_status sup_npy_load(struct sup_tensor *out, const struct sup_allocator *a, const char *path, char *err,
			     size_t err_size)
{
	memset(out, 0, sizeof *out);
	if (!a)
		return sup_errf(err, err_size, SUP_ERR_ARG, "NULL allocator");
	FILE *f;
	uint64_t size;
	enum sup_status st = sup_io_open_read(&f, &size, path, err, err_size);
	if (st)
		return st;
	struct sup_npy_header h;
	st = load_header(&h, f, size, a, err, err_size);
	if (!st)
		st = check_data_size(&h, size, err, err_size);
	if (!st)
		st = alloc_tensor(out, a, &h, err, err_size);
	if (!st) {
		st = sup_io_read_exact(f, out->data, h.data_bytes, err, err_size);
		if (st) {
			sup_free(a, out->data);
			memset(out, 0, sizeof *out);
		}
	}
	fclose(f);
	if (st)
		sup_io_prefix(err, err_size, path);
	return st;
}

/* ---- writing ------------------------------------------------------------------------------------- */

/* The header exactly as numpy (>= 1.17) writes it: sorted keys, repr() of the values, room to
 * grow shape[0] in place, padding so magic + length + header + '\n' is a multiple of 64 (a full
 * 64 spaces when it already is). Returns the total prefix length written into out (cap must be
 * >= 512, always enough for SUP_MAX_DIMS int64 sizes). */
static size_t npy_header(unsigned char *out, size_t cap, const struct sup_tensor *t)
{
	char dict[384];
	size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
				    npy_write_descr[t->dtype]);
	for (int i = 0; i < t->ndim; i++)
		n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
	n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", t->ndim == 1 ? "," : "");
	if (t->ndim > 0) {
		char d0[24];
		int digits = snprintf(d0, sizeof d0, "%lld", (long long)t->shape[0]);
		for (int i = digits; i < NPY_GROWTH_AXIS_MAX_DIGITS; i++)
			dict[n++] = ' ';
	}
	size_t hlen = n + 1; /* the final newline */
	size_t pad = NPY_ALIGN - (10 + hlen) % NPY_ALIGN;
	SUP_ASSERT(10 + hlen + pad <= cap && hlen + pad <= 0xffff);
	memcpy(out, NPY_MAGIC "\x01\x00", 8);
	out[8] = (unsigned char)((hlen + pad) & 0xff);
	out[9] = (unsigned char)((hlen + pad) >> 8);
	memcpy(out + 10, dict, n);
	memset(out + 10 + n, ' ', pad);
	out[10 + n + pad] = '\n';
	return 10 + hlen + pad;
}

enum sup_status sup_npy_encode(void **out, size_t *out_len, const struct sup_allocator *a, const struct sup_tensor *t,
			       char *err, size_t err_size)
{
	*out = NULL;
	*out_len = 0;
	if (!a)
		return sup_errf(err, err_size, SUP_ERR_ARG, "NULL allocator");
	size_t nbytes;
	enum sup_status st = sup_io_check_tensor(t, "npy", &nbytes, err, err_size);
	if (st)
		return st;
	unsigned char hdr[512];
	size_t hn = npy_header(hdr, sizeof hdr, t);
	if (nbytes > SIZE_MAX - hn)
		return sup_errf(err, err_size, SUP_ERR_ARG, "npy: %zu data bytes too large to encode", nbytes);
	unsigned char *mem = sup_alloc(a, hn + nbytes, SUP_ARENA_ALIGN);
	if (!mem)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory for a %zu byte npy image", hn + nbytes);
	struct sup_io_sink s;
	sup_io_sink_mem(&s, mem, hn + nbytes);
	sup_io_sink_write(&s, hdr, hn);
	sup_io_sink_write_tensor(&s, t);
	st = sup_io_sink_finish(&s, err, err_size);
	if (st) {
		sup_free(a, mem);
		return st;
	}
	*out = mem;
	*out_len = hn + nbytes;
	return SUP_OK;
}

enum sup_status sup_npy_save(const char *path, const struct sup_tensor *t, char *err, size_t err_size)
{
	size_t nbytes;
	enum sup_status st = sup_io_check_tensor(t, "npy", &nbytes, err, err_size);
	if (st)
		return st;
	unsigned char hdr[512];
	size_t hn = npy_header(hdr, sizeof hdr, t);
	struct sup_io_sink s;
	st = sup_io_sink_open_atomic(&s, path, err, err_size);
	if (st)
		return st;
	sup_io_sink_write(&s, hdr, hn);
	sup_io_sink_write_tensor(&s, t);
	return sup_io_sink_finish(&s, err, err_size);
}
