/* Byte-level tokenizer and byte-level BPE.
 *
 * BPE: Sennrich, Haddow and Birch, "Neural Machine Translation of Rare Words with Subword Units",
 * ACL 2016, §3.1 and Algorithm 1: start from single symbols, repeatedly replace the most frequent
 * adjacent pair by a new symbol, never across a word boundary. As in GPT-2 we work on bytes (so
 * every byte string, valid UTF-8 or not, has an encoding) and cut text into chunks first (the
 * "words"; rules in data.h). Training keeps pair counts incrementally: a max-heap with lazy
 * deletion finds the best pair, and for each pair a list of the chunk types holding it limits a
 * merge's work to the chunks it changes. Encoding applies merges by rank within each chunk, which
 * reproduces the segmentation training produced. */
#define _POSIX_C_SOURCE 200809L /* fsync, symlink, fileno, mkdir with C11 */
#include "selfsup/data.h"

#include "data/data_hash.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sup_tok_merge_table {
	struct dh_map rank; /* (left << 32 | right) -> rank */
};

static const char *const special_names[4] = {"[PAD]", "[MASK]", "[CLS]", "[SEP]"};

static uint64_t pair_key(int32_t a, int32_t b)
{
	return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

/* ---- chunking ---------------------------------------------------------------------------- */

enum { CH_LETTER, CH_DIGIT, CH_SPACE, CH_OTHER };

static int byte_class(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80)
		return CH_LETTER;
	if (ch >= '0' && ch <= '9')
		return CH_DIGIT;
	if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f')
		return CH_SPACE;
	return CH_OTHER;
}

/* End of the chunk that starts at p (p < n). A space directly before a non-space run joins that
 * run (" word"), so a white-space run leaves its last space to the next word. */
static int64_t chunk_end(const unsigned char *s, int64_t n, int64_t p)
{
	int64_t limit = n - p > SUP_TOK_MAX_CHUNK ? p + SUP_TOK_MAX_CHUNK : n;
	int64_t q = p;
	if (s[p] == ' ' && p + 1 < limit && byte_class(s[p + 1]) != CH_SPACE)
		q++;
	int c = byte_class(s[q]);
	q++;
	while (q < limit && byte_class(s[q]) == c)
		q++;
	if (c == CH_SPACE && q < n && q - p > 1 && s[q - 1] == ' ' && byte_class(s[q]) != CH_SPACE)
		q--;
	return q;
}

/* ---- vocabulary tables ------------------------------------------------------------------- */

static enum sup_status build_tables(struct sup_tokenizer *t, char *err, size_t n)
{
	const struct sup_allocator *a = &t->alloc;
	int32_t V = t->vocab_size;
	t->tok_offset = sup_alloc(a, (size_t)(V + 1) * sizeof *t->tok_offset, 64);
	t->table = sup_alloc(a, sizeof *t->table, 64);
	if (!t->tok_offset || !t->table || !dh_init(&t->table->rank, a, (size_t)t->n_merges)) {
		sup_free(a, t->table);
		t->table = NULL;
		return sup_errf(err, n, SUP_ERR_NOMEM, "tokenizer: out of memory");
	}
	int64_t total = 0;
	for (int32_t id = 0; id < V; id++) {
		t->tok_offset[id] = total;
		if (id < 256)
			total += 1;
		else if (sup_token_is_special(id))
			total += (int64_t)strlen(special_names[id - SUP_TOK_PAD]);
		else {
			const int32_t *m = t->merges[id - SUP_TOK_FIRST_MERGE];
			total += (t->tok_offset[m[0] + 1] - t->tok_offset[m[0]]) +
				 (t->tok_offset[m[1] + 1] - t->tok_offset[m[1]]);
		}
		t->tok_offset[id + 1] = total;
	}
	t->tok_bytes = sup_alloc(a, (size_t)total + 1, 64);
	if (!t->tok_bytes)
		return sup_errf(err, n, SUP_ERR_NOMEM, "tokenizer: out of memory");
	for (int32_t id = 0; id < V; id++) {
		unsigned char *dst = t->tok_bytes + t->tok_offset[id];
		if (id < 256) {
			dst[0] = (unsigned char)id;
		} else if (sup_token_is_special(id)) {
			const char *s = special_names[id - SUP_TOK_PAD];
			memcpy(dst, s, strlen(s));
		} else {
			const int32_t *m = t->merges[id - SUP_TOK_FIRST_MERGE];
			int64_t l0 = t->tok_offset[m[0] + 1] - t->tok_offset[m[0]];
			memcpy(dst, t->tok_bytes + t->tok_offset[m[0]], (size_t)l0);
			memcpy(dst + l0, t->tok_bytes + t->tok_offset[m[1]],
			       (size_t)(t->tok_offset[m[1] + 1] - t->tok_offset[m[1]]));
		}
	}
	for (int32_t r = 0; r < t->n_merges; r++) {
		uint64_t k = pair_key(t->merges[r][0], t->merges[r][1]);
		if (dh_get(&t->table->rank, k, NULL))
			return sup_errf(err, n, SUP_ERR_FORMAT, "tokenizer: merge %d repeats the pair (%d, %d)", (int)r,
				    (int)t->merges[r][0], (int)t->merges[r][1]);
		if (!dh_put(&t->table->rank, k, r))
			return sup_errf(err, n, SUP_ERR_NOMEM, "tokenizer: out of memory");
	}
	return SUP_OK;
}

/* Takes ownership of merges (n_merges entries, from t->alloc). */
static enum sup_status finish(struct sup_tokenizer *t, int32_t (*merges)[2], int32_t n_merges, char *err, size_t n)
{
	t->merges = merges;
	t->n_merges = n_merges;
	t->vocab_size = SUP_TOK_FIRST_MERGE + n_merges;
	enum sup_status st = build_tables(t, err, n);
	if (st)
		sup_tokenizer_free(t);
	return st;
}

enum sup_status sup_tokenizer_init_bytes(struct sup_tokenizer *t, const struct sup_allocator *alloc)
{
	memset(t, 0, sizeof *t);
	t->alloc = *alloc;
	int32_t(*merges)[2] = sup_alloc(alloc, sizeof *merges, 64);
	if (!merges)
		return SUP_ERR_NOMEM;
	return finish(t, merges, 0, NULL, 0);
}

void sup_tokenizer_free(struct sup_tokenizer *t)
{
	if (!t)
		return;
	if (t->table) {
		dh_free(&t->table->rank);
		sup_free(&t->alloc, t->table);
	}
	sup_free(&t->alloc, t->merges);
	sup_free(&t->alloc, t->tok_offset);
	sup_free(&t->alloc, t->tok_bytes);
	memset(t, 0, sizeof *t);
}

/* ---- encode / decode ----------------------------------------------------------------------- */

static int64_t encode_chunk(const struct sup_tokenizer *t, const unsigned char *s, int64_t n, int32_t *ids)
{
	for (int64_t i = 0; i < n; i++)
		ids[i] = s[i];
	while (n > 1 && t->n_merges > 0) {
		int64_t best = INT64_MAX;
		for (int64_t i = 0; i + 1 < n; i++) {
			int64_t r;
			if (dh_get(&t->table->rank, pair_key(ids[i], ids[i + 1]), &r) && r < best)
				best = r;
		}
		if (best == INT64_MAX)
			break;
		const int32_t *m = t->merges[best];
		int64_t w = 0;
		for (int64_t i = 0; i < n; i++) {
			if (i + 1 < n && ids[i] == m[0] && ids[i + 1] == m[1]) {
				ids[w++] = SUP_TOK_FIRST_MERGE + (int32_t)best;
				i++;
			} else {
				ids[w++] = ids[i];
			}
		}
		n = w;
	}
	return n;
}

int64_t sup_tokenizer_encode(const struct sup_tokenizer *t, const void *bytes, int64_t n, int32_t *ids)
{
	const unsigned char *s = bytes;
	int64_t out = 0;
	for (int64_t p = 0; p < n;) {
		int64_t q = chunk_end(s, n, p);
		out += encode_chunk(t, s + p, q - p, ids + out);
		p = q;
	}
	return out;
}

const unsigned char *sup_tokenizer_token(const struct sup_tokenizer *t, int32_t id, int64_t *len)
{
	if (id < 0 || id >= t->vocab_size)
		return NULL;
	if (len)
		*len = t->tok_offset[id + 1] - t->tok_offset[id];
	return t->tok_bytes + t->tok_offset[id];
}

int64_t sup_tokenizer_decode(const struct sup_tokenizer *t, const int32_t *ids, int64_t n, void *out, int64_t cap)
{
	unsigned char *o = out;
	int64_t total = 0;
	for (int64_t i = 0; i < n; i++) {
		int64_t len;
		const unsigned char *b = sup_tokenizer_token(t, ids[i], &len);
		if (!b)
			return -1;
		for (int64_t j = 0; j < len; j++, total++)
			if (total < cap)
				o[total] = b[j];
	}
	return total;
}

enum sup_status sup_tokenizer_encode_corpus(const struct sup_tokenizer *t, const struct sup_text_corpus *c,
					    const struct sup_allocator *alloc, int32_t **ids, int64_t **doc_offset,
					    char *err, size_t err_size)
{
	/* A text of L bytes never takes more than L tokens. */
	int64_t bound = c->offset[c->n_texts] + 1;
	*ids = sup_alloc(alloc, (size_t)bound * sizeof **ids, 64);
	*doc_offset = sup_alloc(alloc, (size_t)(c->n_texts + 1) * sizeof **doc_offset, 64);
	if (!*ids || !*doc_offset) {
		sup_free(alloc, *ids);
		sup_free(alloc, *doc_offset);
		*ids = NULL, *doc_offset = NULL;
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "tokenizer: out of memory");
	}
	int64_t w = 0;
	for (int64_t i = 0; i < c->n_texts; i++) {
		int64_t len;
		const char *s = sup_text_corpus_get(c, i, &len);
		(*doc_offset)[i] = w;
		w += sup_tokenizer_encode(t, s, len, *ids + w);
	}
	(*doc_offset)[c->n_texts] = w;
	return SUP_OK;
}

/* ---- training ---------------------------------------------------------------------------- */

/* One heap entry: a pair and the count it had when pushed (stale when the count moved on). */
struct heap_item {
	int64_t count;
	int32_t a, b;
};

/* Better = higher count, then smaller left id, then smaller right id: a total order, so the
 * chosen pair does not depend on the order entries were pushed. */
static bool better(const struct heap_item *x, const struct heap_item *y)
{
	if (x->count != y->count)
		return x->count > y->count;
	if (x->a != y->a)
		return x->a < y->a;
	return x->b < y->b;
}

struct trainer {
	const struct sup_allocator *a;
	/* Chunk types: symbols of type w at sym[start[w] .. start[w] + len[w]), freq[w] occurrences. */
	int32_t *sym;
	int64_t *start, *len, *freq, *stamp;
	int64_t n_types;
	struct dh_map counts; /* pair -> occurrences over all chunks */
	struct dh_map head;   /* pair -> first entry of its list of chunk types (in lw_*) */
	int64_t *lw_type, *lw_next;
	int64_t n_lw, cap_lw;
	struct heap_item *heap;
	int64_t n_heap, cap_heap;
	uint64_t *touched; /* pairs whose count one merge changed (with repeats) */
	int64_t n_touched, cap_touched;
};

static bool heap_push(struct trainer *tr, int64_t count, int32_t a, int32_t b)
{
	if (tr->n_heap == tr->cap_heap) {
		int64_t cap = tr->cap_heap ? 2 * tr->cap_heap : 1024;
		struct heap_item *h = sup_alloc(tr->a, (size_t)cap * sizeof *h, 64);
		if (!h)
			return false;
		if (tr->heap)
			memcpy(h, tr->heap, (size_t)tr->n_heap * sizeof *h);
		sup_free(tr->a, tr->heap);
		tr->heap = h, tr->cap_heap = cap;
	}
	int64_t i = tr->n_heap++;
	struct heap_item x = {count, a, b};
	while (i > 0 && better(&x, &tr->heap[(i - 1) / 2])) {
		tr->heap[i] = tr->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	tr->heap[i] = x;
	return true;
}

static struct heap_item heap_pop(struct trainer *tr)
{
	struct heap_item top = tr->heap[0], x = tr->heap[--tr->n_heap];
	int64_t i = 0, n = tr->n_heap;
	for (;;) {
		int64_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && better(&tr->heap[c + 1], &tr->heap[c]))
			c++;
		if (!better(&tr->heap[c], &x))
			break;
		tr->heap[i] = tr->heap[c];
		i = c;
	}
	if (n > 0)
		tr->heap[i] = x;
	return top;
}

/* Records that chunk type w holds pair (a, b) (duplicates are fine: see the stamp). */
static bool list_push(struct trainer *tr, int32_t a, int32_t b, int64_t w)
{
	if (tr->n_lw == tr->cap_lw) {
		int64_t cap = tr->cap_lw ? 2 * tr->cap_lw : 4096;
		int64_t *t = sup_alloc(tr->a, (size_t)cap * sizeof *t, 64),
			*nx = sup_alloc(tr->a, (size_t)cap * sizeof *nx, 64);
		if (!t || !nx) {
			sup_free(tr->a, t);
			sup_free(tr->a, nx);
			return false;
		}
		if (tr->n_lw) {
			memcpy(t, tr->lw_type, (size_t)tr->n_lw * sizeof *t);
			memcpy(nx, tr->lw_next, (size_t)tr->n_lw * sizeof *nx);
		}
		sup_free(tr->a, tr->lw_type);
		sup_free(tr->a, tr->lw_next);
		tr->lw_type = t, tr->lw_next = nx, tr->cap_lw = cap;
	}
	int64_t h = -1;
	dh_get(&tr->head, pair_key(a, b), &h);
	tr->lw_type[tr->n_lw] = w;
	tr->lw_next[tr->n_lw] = h;
	return dh_put(&tr->head, pair_key(a, b), tr->n_lw++);
}

static void trainer_free(struct trainer *tr)
{
	const struct sup_allocator *a = tr->a;
	sup_free(a, tr->sym);
	sup_free(a, tr->start);
	sup_free(a, tr->len);
	sup_free(a, tr->freq);
	sup_free(a, tr->stamp);
	sup_free(a, tr->lw_type);
	sup_free(a, tr->lw_next);
	sup_free(a, tr->heap);
	sup_free(a, tr->touched);
	dh_free(&tr->counts);
	dh_free(&tr->head);
}

/* The chunk types of the corpus and their frequencies. */
struct chunk_index {
	const unsigned char *bytes; /* the corpus */
	const int64_t *at, *n;	    /* chunk type w = bytes[at[w] .. at[w] + n[w]) */
};

static bool chunk_eq(const void *user, int64_t val, const void *s, size_t n)
{
	const struct chunk_index *ci = user;
	return (size_t)ci->n[val] == n && memcmp(ci->bytes + ci->at[val], s, n) == 0;
}

static bool collect_chunks(struct trainer *tr, const struct sup_text_corpus *c)
{
	const struct sup_allocator *a = tr->a;
	int64_t total = c->offset[c->n_texts] + 1; /* bounds the number of chunks and of symbols */
	int64_t *at = sup_alloc(a, (size_t)total * sizeof *at, 64);
	tr->start = sup_alloc(a, (size_t)total * sizeof *tr->start, 64);
	tr->len = sup_alloc(a, (size_t)total * sizeof *tr->len, 64);
	tr->freq = sup_alloc(a, (size_t)total * sizeof *tr->freq, 64);
	tr->stamp = sup_alloc(a, (size_t)total * sizeof *tr->stamp, 64);
	tr->sym = sup_alloc(a, (size_t)total * sizeof *tr->sym, 64);
	struct dh_map types;
	bool ok = at && tr->start && tr->len && tr->freq && tr->stamp && tr->sym && dh_init(&types, a, 1024);
	if (!ok) {
		sup_free(a, at);
		return false;
	}
	struct chunk_index ci = {(const unsigned char *)c->bytes, at, tr->len};
	int64_t n_sym = 0;
	for (int64_t i = 0; ok && i < c->n_texts; i++) {
		int64_t n;
		const unsigned char *s = (const unsigned char *)sup_text_corpus_get(c, i, &n);
		for (int64_t p = 0; ok && p < n;) {
			int64_t q = chunk_end(s, n, p);
			int64_t w = dh_str_get(&types, s + p, (size_t)(q - p), chunk_eq, &ci);
			if (w < 0) {
				w = tr->n_types++;
				at[w] = (s + p) - ci.bytes, tr->len[w] = q - p, tr->freq[w] = 0, tr->stamp[w] = -1;
				tr->start[w] = n_sym;
				for (int64_t j = p; j < q; j++)
					tr->sym[n_sym++] = s[j];
				ok = dh_str_insert(&types, s + p, (size_t)(q - p), w);
			}
			tr->freq[w]++;
			p = q;
		}
	}
	dh_free(&types);
	sup_free(a, at);
	return ok;
}

static bool count_pairs(struct trainer *tr)
{
	for (int64_t w = 0; w < tr->n_types; w++) {
		const int32_t *s = tr->sym + tr->start[w];
		for (int64_t i = 0; i + 1 < tr->len[w]; i++)
			if (!dh_add(&tr->counts, pair_key(s[i], s[i + 1]), tr->freq[w]) ||
			    !list_push(tr, s[i], s[i + 1], w))
				return false;
	}
	for (size_t i = 0; i < tr->counts.cap; i++)
		if (tr->counts.used[i] && !heap_push(tr, tr->counts.vals[i], (int32_t)(tr->counts.keys[i] >> 32),
						     (int32_t)(uint32_t)tr->counts.keys[i]))
			return false;
	return true;
}

static bool touch(struct trainer *tr, uint64_t k)
{
	if (tr->n_touched == tr->cap_touched) {
		int64_t cap = tr->cap_touched ? 2 * tr->cap_touched : 4096;
		uint64_t *t = sup_alloc(tr->a, (size_t)cap * sizeof *t, 64);
		if (!t)
			return false;
		if (tr->n_touched)
			memcpy(t, tr->touched, (size_t)tr->n_touched * sizeof *t);
		sup_free(tr->a, tr->touched);
		tr->touched = t, tr->cap_touched = cap;
	}
	tr->touched[tr->n_touched++] = k;
	return true;
}

/* Adds sign * freq to every adjacent pair of chunk type w (and notes the pair as touched). */
static bool account(struct trainer *tr, int64_t w, int64_t sign)
{
	const int32_t *s = tr->sym + tr->start[w];
	for (int64_t i = 0; i + 1 < tr->len[w]; i++) {
		uint64_t k = pair_key(s[i], s[i + 1]);
		int64_t v = 0;
		dh_get(&tr->counts, k, &v);
		v += sign * tr->freq[w];
		if (!dh_put(&tr->counts, k, v) || !touch(tr, k))
			return false;
	}
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* One heap entry per pair a merge changed, with its final count (decrements included: a pair
 * the merge removed must keep a current entry). Pushing once per pair instead of once per
 * change keeps the heap small, which is most of the training time. */
static bool push_touched(struct trainer *tr)
{
	qsort(tr->touched, (size_t)tr->n_touched, sizeof *tr->touched, cmp_u64);
	for (int64_t i = 0; i < tr->n_touched; i++) {
		if (i > 0 && tr->touched[i] == tr->touched[i - 1])
			continue;
		int64_t v = 0;
		dh_get(&tr->counts, tr->touched[i], &v);
		if (v > 0 && !heap_push(tr, v, (int32_t)(tr->touched[i] >> 32), (int32_t)(uint32_t)tr->touched[i]))
			return false;
	}
	tr->n_touched = 0;
	return true;
}

/* Replaces (a, b) by id in every chunk type that holds it. */
static bool apply_merge(struct trainer *tr, int32_t a, int32_t b, int32_t id, int64_t rank)
{
	int64_t e = -1;
	dh_get(&tr->head, pair_key(a, b), &e);
	for (; e >= 0; e = tr->lw_next[e]) {
		int64_t w = tr->lw_type[e];
		if (tr->stamp[w] == rank)
			continue;
		tr->stamp[w] = rank;
		if (!account(tr, w, -1))
			return false;
		int32_t *s = tr->sym + tr->start[w];
		int64_t n = tr->len[w], o = 0;
		for (int64_t i = 0; i < n; i++) {
			if (i + 1 < n && s[i] == a && s[i + 1] == b)
				s[o++] = id, i++;
			else
				s[o++] = s[i];
		}
		tr->len[w] = o;
		if (!account(tr, w, +1))
			return false;
		for (int64_t i = 0; i + 1 < o; i++)
			if ((s[i] == id || s[i + 1] == id) && !list_push(tr, s[i], s[i + 1], w))
				return false;
	}
	return push_touched(tr);
}

enum sup_status sup_tokenizer_train_bpe(struct sup_tokenizer *t, const struct sup_text_corpus *c, int32_t vocab_size,
					const struct sup_allocator *alloc, char *err, size_t err_size)
{
	memset(t, 0, sizeof *t);
	t->alloc = *alloc;
	if (vocab_size < SUP_TOK_BYTE_VOCAB)
		return sup_errf(err, err_size, SUP_ERR_ARG, "bpe: vocab_size %d is below the %d byte and special tokens",
			    (int)vocab_size, SUP_TOK_BYTE_VOCAB);
	int32_t want = vocab_size - SUP_TOK_FIRST_MERGE;
	int32_t(*merges)[2] = sup_alloc(alloc, (size_t)(want + 1) * sizeof *merges, 64);
	struct trainer tr = {.a = alloc};
	bool ok = merges && dh_init(&tr.counts, alloc, 4096) && dh_init(&tr.head, alloc, 4096) &&
		  collect_chunks(&tr, c) && count_pairs(&tr);
	int32_t r = 0;
	while (ok && r < want && tr.n_heap > 0) {
		struct heap_item top = heap_pop(&tr);
		int64_t v = 0;
		dh_get(&tr.counts, pair_key(top.a, top.b), &v);
		if (v != top.count || v <= 0)
			continue; /* stale entry */
		if (v < 2)
			break; /* merging a pair seen once compresses nothing that generalises */
		merges[r][0] = top.a, merges[r][1] = top.b;
		ok = apply_merge(&tr, top.a, top.b, SUP_TOK_FIRST_MERGE + r, r);
		r++;
	}
	trainer_free(&tr);
	if (!ok) {
		sup_free(alloc, merges);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "bpe: out of memory");
	}
	return finish(t, merges, r, err, err_size);
}

/* ---- save / load ------------------------------------------------------------------------- */

enum sup_status sup_tokenizer_save(const struct sup_tokenizer *t, const char *path, char *err, size_t err_size)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot create", tmp);
	bool ok = fprintf(f, "selfsup-bpe 1 %d\n", (int)t->n_merges) > 0;
	for (int32_t r = 0; ok && r < t->n_merges; r++)
		ok = fprintf(f, "%d %d\n", (int)t->merges[r][0], (int)t->merges[r][1]) > 0;
	ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		remove(tmp);
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: write failed", path);
	}
	return SUP_OK;
}

enum sup_status sup_tokenizer_load(struct sup_tokenizer *t, const char *path, const struct sup_allocator *alloc,
				   char *err, size_t err_size)
{
	memset(t, 0, sizeof *t);
	t->alloc = *alloc;
	FILE *f = fopen(path, "rb");
	if (!f)
		return sup_errf(err, err_size, errno == ENOENT ? SUP_ERR_NOT_FOUND : SUP_ERR_IO, "%s: cannot open", path);
	char line[128], tail;
	int n = -1, version = 0;
	if (!fgets(line, sizeof line, f) || sscanf(line, "selfsup-bpe %d %d %c", &version, &n, &tail) != 2 ||
	    version != 1 || n < 0 || n > (1 << 24)) {
		fclose(f);
		return sup_errf(err, err_size, SUP_ERR_FORMAT, "%s:1: expected 'selfsup-bpe 1 <n_merges>'", path);
	}
	int32_t(*merges)[2] = sup_alloc(alloc, (size_t)(n + 1) * sizeof *merges, 64);
	if (!merges) {
		fclose(f);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "%s: out of memory", path);
	}
	for (int r = 0; r < n; r++) {
		long x, y;
		bool ok = fgets(line, sizeof line, f) && sscanf(line, "%ld %ld %c", &x, &y, &tail) == 2;
		long limit = SUP_TOK_FIRST_MERGE + r;
		ok = ok && x >= 0 && y >= 0 && x < limit && y < limit && !sup_token_is_special((int32_t)x) &&
		     !sup_token_is_special((int32_t)y);
		if (!ok) {
			fclose(f);
			sup_free(alloc, merges);
			return sup_errf(err, err_size, SUP_ERR_FORMAT,
				    "%s:%d: expected two non-special token ids below %ld", path, r + 2, limit);
		}
		merges[r][0] = (int32_t)x, merges[r][1] = (int32_t)y;
	}
	bool extra = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	if (extra) {
		sup_free(alloc, merges);
		return sup_errf(err, err_size, SUP_ERR_FORMAT, "%s:%d: more lines than the %d merges announced", path,
			    n + 2, n);
	}
	char why[192] = "";
	enum sup_status st = finish(t, merges, n, why, sizeof why);
	if (st)
		sup_errf(err, err_size, st, "%s: %s", path, why);
	return st;
}
