/* safetensors reader and writer (https://huggingface.co/docs/safetensors, see docs/formats.md).
 *
 * Layout: N as 8 bytes little-endian, N bytes of JSON header
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [2, 3],
 *    "data_offsets": [begin, end]}, ...}
 * padded with spaces, then the data buffer; offsets are relative to the buffer's start.
 *
 * Reading validates the whole header into a plan (entries pointing into the cJSON tree), sizes
 * one block for the object, its strings and the data (each tensor 64-byte aligned), then copies
 * the data in offset order, from memory or straight from the file. */
#include "io/io_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))
#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact in cJSON */

static const char *const st_dtype_names[] = {
	[SUP_F32] = "F32", [SUP_F64] = "F64", [SUP_I32] = "I32", [SUP_I64] = "I64", [SUP_U8] = "U8",
};
_Static_assert(sizeof(st_dtype_names) / sizeof(st_dtype_names[0]) == SUP_DTYPE_COUNT, "a name per dtype");

/* safetensors dtypes that exist but that selfsup tensors cannot hold. */
static const char *const st_unsupported[] = { "F16", "BF16", "I8", "I16", "U16", "U32", "U64", "F8_E4M3",
					      "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64" };

struct plan_entry {
	const char *name; /* points into the cJSON tree */
	enum sup_dtype dtype;
	int ndim;
	int64_t shape[SUP_MAX_DIMS];
	uint64_t begin, end;
};

struct plan {
	cJSON *root;
	const cJSON *meta; /* the "__metadata__" object or NULL */
	int64_t n, n_meta;
	struct plan_entry *e;        /* header order */
	struct plan_entry **by_off;  /* sorted by (begin, end) */
	struct plan_entry **by_name; /* sorted by name */
};

static void plan_free(struct plan *p, const struct sup_allocator *a)
{
	cJSON_Delete(p->root);
	sup_free(a, p->e);
	sup_free(a, p->by_off);
	sup_free(a, p->by_name);
	memset(p, 0, sizeof *p);
}

/* ---- header validation ----------------------------------------------------------------------- */

static bool exact_uint(const cJSON *j, uint64_t *v)
{
	if (!cJSON_IsNumber(j))
		return false;
	double d = j->valuedouble;
	if (!(d >= 0 && d <= MAX_EXACT_INT) || (double)(uint64_t)d != d)
		return false;
	*v = (uint64_t)d;
	return true;
}

static enum sup_status parse_dtype(struct plan_entry *e, const cJSON *j, char *err, size_t es)
{
	if (!cJSON_IsString(j))
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: tensor '%s': dtype missing or not a string",
				   e->name);
	for (int d = 0; d < SUP_DTYPE_COUNT; d++) {
		if (strcmp(j->valuestring, st_dtype_names[d]) == 0) {
			e->dtype = (enum sup_dtype)d;
			return SUP_OK;
		}
	}
	if (strcmp(j->valuestring, "BOOL") == 0) {
		e->dtype = SUP_U8;
		return SUP_OK;
	}
	for (size_t i = 0; i < sizeof st_unsupported / sizeof st_unsupported[0]; i++)
		if (strcmp(j->valuestring, st_unsupported[i]) == 0)
			return sup_errf(err, es, SUP_ERR_DTYPE,
					   "safetensors: tensor '%s': dtype %s not supported (F32 F64 I32 I64 U8 BOOL are)",
					   e->name, j->valuestring);
	return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: tensor '%s': unknown dtype '%.32s'", e->name,
			   j->valuestring);
}

static enum sup_status parse_shape(struct plan_entry *e, const cJSON *j, char *err, size_t es)
{
	if (!cJSON_IsArray(j))
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: tensor '%s': shape missing or not an array",
				   e->name);
	int n = cJSON_GetArraySize(j);
	if (n > SUP_MAX_DIMS)
		return sup_errf(err, es, SUP_ERR_SHAPE, "safetensors: tensor '%s': rank %d above the maximum %d",
				   e->name, n, SUP_MAX_DIMS);
	e->ndim = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, j)
	{
		uint64_t v;
		if (!exact_uint(d, &v))
			return sup_errf(err, es, SUP_ERR_FORMAT,
					   "safetensors: tensor '%s': shape entry %d is not a non-negative integer", e->name,
					   e->ndim);
		e->shape[e->ndim++] = (int64_t)v;
	}
	return SUP_OK;
}

static enum sup_status parse_offsets(struct plan_entry *e, const cJSON *j, uint64_t buf_len, char *err, size_t es)
{
	const cJSON *b = cJSON_GetArrayItem(j, 0), *en = cJSON_GetArrayItem(j, 1);
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 || !exact_uint(b, &e->begin) || !exact_uint(en, &e->end))
		return sup_errf(err, es, SUP_ERR_FORMAT,
				   "safetensors: tensor '%s': data_offsets must be [begin, end] of non-negative integers",
				   e->name);
	if (e->begin > e->end || e->end > buf_len)
		return sup_errf(err, es, SUP_ERR_FORMAT,
				   "safetensors: tensor '%s': data_offsets [%llu, %llu] outside the %llu byte buffer", e->name,
				   (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)buf_len);
	size_t bytes;
	char s[160];
	if (!sup_io_shape_bytes(e->ndim, e->shape, sup_dtype_size(e->dtype), &bytes))
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: tensor '%s': shape %s is too large", e->name,
				   sup_shape_str(s, sizeof s, e->ndim, e->shape));
	if (e->end - e->begin != bytes)
		return sup_errf(err, es, SUP_ERR_FORMAT,
				   "safetensors: tensor '%s': data_offsets span %llu bytes, %s %s needs %zu", e->name,
				   (unsigned long long)(e->end - e->begin), st_dtype_names[e->dtype],
				   sup_shape_str(s, sizeof s, e->ndim, e->shape), bytes);
	return SUP_OK;
}

static enum sup_status parse_entry(struct plan_entry *e, const cJSON *j, uint64_t buf_len, char *err, size_t es)
{
	e->name = j->string;
	if (!cJSON_IsObject(j))
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: tensor '%s' is not an object", e->name);
	enum sup_status st = parse_dtype(e, cJSON_GetObjectItemCaseSensitive(j, "dtype"), err, es);
	if (!st)
		st = parse_shape(e, cJSON_GetObjectItemCaseSensitive(j, "shape"), err, es);
	if (!st)
		st = parse_offsets(e, cJSON_GetObjectItemCaseSensitive(j, "data_offsets"), buf_len, err, es);
	return st;
}

static enum sup_status parse_meta(struct plan *p, const cJSON *j, char *err, size_t es)
{
	if (p->meta)
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: \"__metadata__\" appears twice");
	if (!cJSON_IsObject(j))
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: \"__metadata__\" is not an object");
	const cJSON *kv;
	cJSON_ArrayForEach(kv, j)
	{
		if (!cJSON_IsString(kv))
			return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: metadata value of '%s' is not a string",
					   kv->string);
		for (const cJSON *q = j->child; q != kv; q = q->next)
			if (strcmp(q->string, kv->string) == 0)
				return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: metadata key '%s' appears twice",
						   kv->string);
		p->n_meta++;
	}
	p->meta = j;
	return SUP_OK;
}

static int cmp_off(const void *a, const void *b)
{
	const struct plan_entry *x = *(struct plan_entry *const *)a, *y = *(struct plan_entry *const *)b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(struct plan_entry *const *)a)->name, (*(struct plan_entry *const *)b)->name);
}

/* Names unique; byte ranges in offset order tile [0, buf_len) exactly. */
static enum sup_status check_layout(struct plan *p, uint64_t buf_len, char *err, size_t es)
{
	for (int64_t i = 0; i < p->n; i++)
		p->by_off[i] = p->by_name[i] = &p->e[i];
	qsort(p->by_name, (size_t)p->n, sizeof *p->by_name, cmp_name);
	for (int64_t i = 1; i < p->n; i++)
		if (strcmp(p->by_name[i - 1]->name, p->by_name[i]->name) == 0)
			return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: tensor name '%s' appears twice",
					   p->by_name[i]->name);
	qsort(p->by_off, (size_t)p->n, sizeof *p->by_off, cmp_off);
	uint64_t at = 0;
	for (int64_t i = 0; i < p->n; i++) {
		const struct plan_entry *e = p->by_off[i];
		if (e->begin != at)
			return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: tensor '%s' at [%llu, %llu] %s byte %llu",
					   e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
					   e->begin < at ? "overlaps the data before" : "leaves a gap before it after",
					   (unsigned long long)at);
		at = e->end;
	}
	if (at != buf_len)
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: tensors cover %llu of the %llu buffer bytes",
				   (unsigned long long)at, (unsigned long long)buf_len);
	return SUP_OK;
}

/* Parses and validates the JSON header text hdr[0..n) for a buffer of buf_len bytes. */
static enum sup_status plan_header(struct plan *p, const struct sup_allocator *a, const char *hdr, size_t n,
				   uint64_t buf_len, char *err, size_t es)
{
	memset(p, 0, sizeof *p);
	if (n == 0 || hdr[0] != '{')
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: header does not start with '{'");
	const char *end = NULL;
	p->root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
	if (!p->root)
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: header is not valid JSON (error at byte %td of %zu)",
				   end ? end - hdr : (ptrdiff_t)0, n);
	for (const char *q = end; q < hdr + n; q++)
		if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
			return sup_errf(err, es, SUP_ERR_FORMAT,
					   "safetensors: header has data after the JSON object (byte %td of %zu)", q - hdr, n);
	if (!cJSON_IsObject(p->root))
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors: header is not a JSON object");
	const cJSON *j;
	cJSON_ArrayForEach(j, p->root)
	{
		if (strcmp(j->string, "__metadata__") != 0)
			p->n++;
	}
	size_t cnt = (size_t)p->n ? (size_t)p->n : 1;
	p->e = sup_alloc(a, cnt * sizeof *p->e, 16);
	p->by_off = sup_alloc(a, cnt * sizeof *p->by_off, 16);
	p->by_name = sup_alloc(a, cnt * sizeof *p->by_name, 16);
	if (!p->e || !p->by_off || !p->by_name)
		return sup_errf(err, es, SUP_ERR_NOMEM, "out of memory for %lld safetensors entries", (long long)p->n);
	int64_t i = 0;
	cJSON_ArrayForEach(j, p->root)
	{
		enum sup_status st = strcmp(j->string, "__metadata__") == 0 ? parse_meta(p, j, err, es)
									   : parse_entry(&p->e[i++], j, buf_len, err, es);
		if (st)
			return st;
	}
	return check_layout(p, buf_len, err, es);
}

/* ---- building the loaded object ------------------------------------------------------------------ */

/* Block layout: struct | entries | by_name | meta | strings | pad to 64 | data (each 64-aligned). */
static enum sup_status build(struct sup_safetensors **out, const struct sup_allocator *a, const struct plan *p,
			     size_t *data_off, char *err, size_t es)
{
	size_t off = ALIGN_UP(sizeof(struct sup_safetensors), 16);
	size_t ent_off = off;
	off += (size_t)p->n * sizeof(struct sup_safetensors_entry);
	size_t idx_off = off;
	off += (size_t)p->n * sizeof(int64_t);
	size_t meta_off = off;
	off += (size_t)p->n_meta * sizeof(struct sup_str_pair);
	size_t str_off = off;
	for (int64_t i = 0; i < p->n; i++)
		off += strlen(p->e[i].name) + 1;
	const cJSON *kv;
	if (p->meta)
		cJSON_ArrayForEach(kv, p->meta) off += strlen(kv->string) + strlen(kv->valuestring) + 2;
	off = ALIGN_UP(off, SUP_ARENA_ALIGN);
	*data_off = off;
	for (int64_t i = 0; i < p->n; i++) {
		size_t bytes = (size_t)(p->e[i].end - p->e[i].begin);
		if (bytes > SIZE_MAX - off - SUP_ARENA_ALIGN)
			return sup_errf(err, es, SUP_ERR_NOMEM, "safetensors: data too large for memory");
		off += ALIGN_UP(bytes, SUP_ARENA_ALIGN);
	}
	unsigned char *blk = sup_alloc(a, off, SUP_ARENA_ALIGN);
	if (!blk)
		return sup_errf(err, es, SUP_ERR_NOMEM, "out of memory for a %zu byte safetensors object", off);
	struct sup_safetensors *st = (struct sup_safetensors *)blk;
	st->alloc = *a;
	st->n_entries = p->n;
	st->entries = (struct sup_safetensors_entry *)(blk + ent_off);
	int64_t *by_name = (int64_t *)(blk + idx_off);
	st->by_name = by_name;
	st->n_meta = p->n_meta;
	st->meta = (struct sup_str_pair *)(blk + meta_off);
	char *s = (char *)blk + str_off;
	unsigned char *data = blk + *data_off;
	for (int64_t i = 0; i < p->n; i++) {
		const struct plan_entry *e = &p->e[i];
		size_t len = strlen(e->name) + 1;
		st->entries[i].name = memcpy(s, e->name, len);
		s += len;
		sup_tensor_init(&st->entries[i].tensor, e->dtype, e->ndim, e->shape, data);
		data += ALIGN_UP((size_t)(e->end - e->begin), SUP_ARENA_ALIGN);
		by_name[i] = p->by_name[i] - p->e;
	}
	int64_t m = 0;
	if (p->meta) {
		cJSON_ArrayForEach(kv, p->meta)
		{
			size_t kl = strlen(kv->string) + 1, vl = strlen(kv->valuestring) + 1;
			st->meta[m].key = memcpy(s, kv->string, kl);
			st->meta[m++].value = memcpy(s + kl, kv->valuestring, vl);
			s += kl + vl;
		}
	}
	*out = st;
	return SUP_OK;
}

static enum sup_status read_prefix(uint64_t *hlen, const unsigned char *b, uint64_t total, char *err, size_t es)
{
	if (total < 8)
		return sup_errf(err, es, SUP_ERR_FORMAT, "truncated safetensors file: %llu bytes, the header length needs 8",
				   (unsigned long long)total);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | b[i];
	if (n > SUP_SAFETENSORS_MAX_HEADER)
		return sup_errf(err, es, SUP_ERR_FORMAT, "safetensors header length %llu exceeds the limit %llu",
				   (unsigned long long)n, (unsigned long long)SUP_SAFETENSORS_MAX_HEADER);
	if (n > total - 8)
		return sup_errf(err, es, SUP_ERR_FORMAT,
				   "truncated safetensors file: header length %llu exceeds the %llu bytes after it",
				   (unsigned long long)n, (unsigned long long)(total - 8));
	*hlen = n;
	return SUP_OK;
}

enum sup_status sup_safetensors_parse(struct sup_safetensors **out, const struct sup_allocator *a, const void *buf,
				      size_t len, char *err, size_t err_size)
{
	*out = NULL;
	if (!a || (!buf && len))
		return sup_errf(err, err_size, SUP_ERR_ARG, "NULL allocator or buffer");
	const unsigned char *b = buf;
	uint64_t n;
	enum sup_status st = read_prefix(&n, b, len, err, err_size);
	if (st)
		return st;
	struct plan p;
	size_t data_off;
	st = plan_header(&p, a, (const char *)b + 8, (size_t)n, len - 8 - n, err, err_size);
	if (!st)
		st = build(out, a, &p, &data_off, err, err_size);
	if (!st) {
		const unsigned char *src = b + 8 + n;
		for (int64_t i = 0; i < p.n; i++) {
			const struct plan_entry *e = &p.e[i];
			if (e->end > e->begin)
				memcpy((*out)->entries[i].tensor.data, src + e->begin, (size_t)(e->end - e->begin));
		}
	}
	plan_free(&p, a);
	return st;
}

/* Copies the data from a file positioned at the buffer start, in offset order (the ranges tile
 * the buffer, so this is one sequential read). */
static enum sup_status read_data(struct sup_safetensors *st, const struct plan *p, FILE *f, char *err, size_t es)
{
	for (int64_t i = 0; i < p->n; i++) {
		const struct plan_entry *e = p->by_off[i];
		enum sup_status s = sup_io_read_exact(f, st->entries[e - p->e].tensor.data, (size_t)(e->end - e->begin),
						     err, es);
		if (s)
			return s;
	}
	return SUP_OK;
}

enum sup_status sup_safetensors_load(struct sup_safetensors **out, const struct sup_allocator *a, const char *path,
				     char *err, size_t err_size)
{
	*out = NULL;
	if (!a)
		return sup_errf(err, err_size, SUP_ERR_ARG, "NULL allocator");
	FILE *f;
	uint64_t size;
	enum sup_status st = sup_io_open_read(&f, &size, path, err, err_size);
	if (st)
		return st;
	unsigned char pre[8];
	uint64_t n = 0;
	st = sup_io_read_exact(f, pre, size < 8 ? (size_t)size : 8, err, err_size);
	if (!st)
		st = read_prefix(&n, pre, size, err, err_size);
	char *hdr = NULL;
	if (!st) {
		hdr = sup_alloc(a, n ? (size_t)n : 1, 16);
		st = hdr ? sup_io_read_exact(f, hdr, (size_t)n, err, err_size)
			 : sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory for a %llu byte header",
				       (unsigned long long)n);
	}
	struct plan p;
	memset(&p, 0, sizeof p);
	size_t data_off;
	if (!st)
		st = plan_header(&p, a, hdr, (size_t)n, size - 8 - n, err, err_size);
	if (!st)
		st = build(out, a, &p, &data_off, err, err_size);
	if (!st)
		st = read_data(*out, &p, f, err, err_size);
	if (st && *out) {
		sup_safetensors_free(*out);
		*out = NULL;
	}
	plan_free(&p, a);
	sup_free(a, hdr);
	fclose(f);
	if (st)
		sup_io_prefix(err, err_size, path);
	return st;
}

void sup_safetensors_free(struct sup_safetensors *st)
{
	if (!st)
		return;
	struct sup_allocator a = st->alloc;
	sup_free(&a, st);
}

const struct sup_tensor *sup_safetensors_get(const struct sup_safetensors *st, const char *name)
{
	if (!st || !name)
		return NULL;
	int64_t lo = 0, hi = st->n_entries;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		const struct sup_safetensors_entry *e = &st->entries[st->by_name[mid]];
		int c = strcmp(name, e->name);
		if (c == 0)
			return &e->tensor;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *sup_safetensors_meta(const struct sup_safetensors *st, const char *key)
{
	if (!st || !key)
		return NULL;
	for (int64_t i = 0; i < st->n_meta; i++)
		if (strcmp(st->meta[i].key, key) == 0)
			return st->meta[i].value;
	return NULL;
}

/* ---- writing ------------------------------------------------------------------------------------- */

/* A JSON text under construction; with p == NULL it only counts (the first of two passes). */
struct jbuf {
	char *p;
	size_t len;
};

static void jb_raw(struct jbuf *b, const char *s, size_t n)
{
	if (b->p)
		memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void jb_str(struct jbuf *b, const char *s)
{
	jb_raw(b, s, strlen(s));
}

/* A JSON string literal: quotes, backslashes and control bytes escaped, UTF-8 passed through. */
static void jb_quoted(struct jbuf *b, const char *s)
{
	jb_raw(b, "\"", 1);
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		char esc[8];
		if (*q == '"' || *q == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*q;
			jb_raw(b, esc, 2);
		} else if (*q < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", *q);
			jb_raw(b, esc, 6);
		} else {
			jb_raw(b, (const char *)q, 1);
		}
	}
	jb_raw(b, "\"", 1);
}

static void jb_u64(struct jbuf *b, uint64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof s, "%llu", (unsigned long long)v);
	jb_raw(b, s, (size_t)n);
}

/* The header JSON, without padding. Tensors have been checked; sizes[i] are their byte sizes. */
static void header_json(struct jbuf *b, const struct sup_named_tensor *t, int64_t n, const size_t *sizes,
			const struct sup_str_pair *meta, int64_t n_meta)
{
	jb_str(b, "{");
	if (n_meta > 0) {
		jb_str(b, "\"__metadata__\":{");
		for (int64_t i = 0; i < n_meta; i++) {
			if (i)
				jb_str(b, ",");
			jb_quoted(b, meta[i].key);
			jb_str(b, ":");
			jb_quoted(b, meta[i].value);
		}
		jb_str(b, n > 0 ? "}," : "}");
	}
	uint64_t off = 0;
	for (int64_t i = 0; i < n; i++) {
		const struct sup_tensor *x = t[i].tensor;
		if (i)
			jb_str(b, ",");
		jb_quoted(b, t[i].name);
		jb_str(b, ":{\"dtype\":\"");
		jb_str(b, st_dtype_names[x->dtype]);
		jb_str(b, "\",\"shape\":[");
		for (int d = 0; d < x->ndim; d++) {
			if (d)
				jb_str(b, ",");
			jb_u64(b, (uint64_t)x->shape[d]);
		}
		jb_str(b, "],\"data_offsets\":[");
		jb_u64(b, off);
		jb_str(b, ",");
		off += sizes[i];
		jb_u64(b, off);
		jb_str(b, "]}");
	}
	jb_str(b, "}");
}

/* Checks names, tensors and metadata; fills sizes and the total data size. */
static enum sup_status check_inputs(const struct sup_named_tensor *t, int64_t n, const struct sup_str_pair *meta,
				    int64_t n_meta, size_t *sizes, size_t *total, char *err, size_t es)
{
	*total = 0;
	for (int64_t i = 0; i < n; i++) {
		const char *name = t[i].name;
		if (!name || !*name || strcmp(name, "__metadata__") == 0)
			return sup_errf(err, es, SUP_ERR_ARG, "safetensors: tensor %lld has an invalid name '%s'",
					   (long long)i, name ? name : "(null)");
		for (int64_t k = 0; k < i; k++)
			if (strcmp(t[k].name, name) == 0)
				return sup_errf(err, es, SUP_ERR_ARG, "safetensors: tensor name '%s' given twice", name);
		char what[96];
		snprintf(what, sizeof what, "safetensors: tensor '%s'", name);
		enum sup_status st = sup_io_check_tensor(t[i].tensor, what, &sizes[i], err, es);
		if (st)
			return st;
		if (sizes[i] > SIZE_MAX / 2 - *total)
			return sup_errf(err, es, SUP_ERR_ARG, "safetensors: total data size too large");
		*total += sizes[i];
	}
	for (int64_t i = 0; i < n_meta; i++) {
		if (!meta[i].key || !meta[i].value)
			return sup_errf(err, es, SUP_ERR_ARG, "safetensors: metadata entry %lld has a NULL string",
					   (long long)i);
		for (int64_t k = 0; k < i; k++)
			if (strcmp(meta[k].key, meta[i].key) == 0)
				return sup_errf(err, es, SUP_ERR_ARG, "safetensors: metadata key '%s' given twice",
						   meta[i].key);
	}
	return SUP_OK;
}

/* The 8-byte length and the padded header in one block from a; *sizes_out (one block too) holds
 * each tensor's byte size. */
static enum sup_status make_header(unsigned char **hdr, size_t *hdr_len, size_t *data_total,
				   const struct sup_allocator *a, const struct sup_named_tensor *t, int64_t n,
				   const struct sup_str_pair *meta, int64_t n_meta, char *err, size_t es)
{
	*hdr = NULL;
	if (!a || n < 0 || n_meta < 0 || (n > 0 && !t) || (n_meta > 0 && !meta))
		return sup_errf(err, es, SUP_ERR_ARG, "safetensors: NULL allocator or bad tensor/metadata list");
	size_t *sizes = sup_alloc(a, (size_t)(n ? n : 1) * sizeof *sizes, 16);
	if (!sizes)
		return sup_errf(err, es, SUP_ERR_NOMEM, "out of memory");
	enum sup_status st = check_inputs(t, n, meta, n_meta, sizes, data_total, err, es);
	if (st)
		goto free_sizes;
	struct jbuf b = { NULL, 0 };
	header_json(&b, t, n, sizes, meta, n_meta);
	size_t padded = ALIGN_UP(b.len, 8);
	unsigned char *out = sup_alloc(a, 8 + padded, 16);
	if (!out) {
		st = sup_errf(err, es, SUP_ERR_NOMEM, "out of memory for a %zu byte header", padded);
		goto free_sizes;
	}
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	b.p = (char *)out + 8;
	b.len = 0;
	header_json(&b, t, n, sizes, meta, n_meta);
	memset(out + 8 + b.len, ' ', padded - b.len);
	*hdr = out;
	*hdr_len = 8 + padded;
free_sizes:
	sup_free(a, sizes);
	return st;
}

enum sup_status sup_safetensors_encode(void **out, size_t *out_len, const struct sup_allocator *a,
				       const struct sup_named_tensor *tensors, int64_t n_tensors,
				       const struct sup_str_pair *meta, int64_t n_meta, char *err, size_t err_size)
{
	*out = NULL;
	*out_len = 0;
	unsigned char *hdr;
	size_t hn, total;
	enum sup_status st = make_header(&hdr, &hn, &total, a, tensors, n_tensors, meta, n_meta, err, err_size);
	if (st)
		return st;
	unsigned char *mem = total <= SIZE_MAX - hn ? sup_alloc(a, hn + total, SUP_ARENA_ALIGN) : NULL;
	if (!mem) {
		sup_free(a, hdr);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory for a safetensors image");
	}
	struct sup_io_sink s;
	sup_io_sink_mem(&s, mem, hn + total);
	sup_io_sink_write(&s, hdr, hn);
	for (int64_t i = 0; i < n_tensors; i++)
		sup_io_sink_write_tensor(&s, tensors[i].tensor);
	sup_free(a, hdr);
	st = sup_io_sink_finish(&s, err, err_size);
	if (st) {
		sup_free(a, mem);
		return st;
	}
	*out = mem;
	*out_len = hn + total;
	return SUP_OK;
}

enum sup_status sup_safetensors_save(const char *path, const struct sup_allocator *a,
				     const struct sup_named_tensor *tensors, int64_t n_tensors,
				     const struct sup_str_pair *meta, int64_t n_meta, char *err, size_t err_size)
{
	unsigned char *hdr;
	size_t hn, total;
	enum sup_status st = make_header(&hdr, &hn, &total, a, tensors, n_tensors, meta, n_meta, err, err_size);
	if (st)
		return st;
	struct sup_io_sink s;
	st = sup_io_sink_open_atomic(&s, path, err, err_size);
	if (!st) {
		sup_io_sink_write(&s, hdr, hn);
		for (int64_t i = 0; i < n_tensors; i++)
			sup_io_sink_write_tensor(&s, tensors[i].tensor);
		st = sup_io_sink_finish(&s, err, err_size);
	}
	sup_free(a, hdr);
	return st;
}
