/* Pretext tasks on token streams: fixed-length packing, BERT masking (Devlin et al., NAACL 2019,
 * §3.1 and Appendix A.1), NSP pairs (ibid. §3.1 "Task #2"), SOP pairs (Lan et al., ALBERT, ICLR
 * 2020, §3.1 "inter-sentence coherence loss") and XLNet factorisation orders (Yang et al.,
 * NeurIPS 2019, §2.2 eq. 3-5 and §2.3 "partial prediction"). Contracts in include/selfsup/data.h.
 *
 * Randomness: every draw comes from a Philox stream keyed by (seed, epoch, purpose) and indexed
 * by the sample, so loader threads can build any sample in any order and get the same result. */
#include "selfsup/data.h"

#include "data/data_hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PURPOSE_MLM = 1, PURPOSE_PAIRS = 2, PURPOSE_PLM = 3 };

static struct sup_rng task_rng(uint64_t seed, uint64_t epoch, int purpose, uint64_t sample)
{
	uint64_t key = dh_mix(seed ^ dh_mix(epoch * 4 + (uint64_t)purpose));
	return sup_rng_make(key, sample);
}

/* ---- packing ----------------------------------------------------------------------------- */

static enum sup_status fail(char *err, size_t n, enum sup_status s, const char *msg)
{
	if (err && n)
		snprintf(err, n, "%s", msg);
	return s;
}

enum sup_status sup_text_pack(struct sup_tensor *ids, struct sup_tensor *mask, const int32_t *tokens,
			      const int64_t *doc_offset, int64_t n_docs, const struct sup_pack_opts *o,
			      const struct sup_allocator *alloc, char *err, size_t err_size)
{
	memset(ids, 0, sizeof *ids);
	memset(mask, 0, sizeof *mask);
	int64_t T = o->seq_len;
	int64_t reserved = o->per_document ? (int64_t)o->add_cls + (int64_t)o->add_sep : 0;
	if (T < 1 || T <= reserved)
		return fail(err, err_size, SUP_ERR_ARG, "text pack: seq_len too small for the special tokens");
	int64_t N;
	if (o->per_document) {
		N = n_docs;
	} else {
		int64_t total = doc_offset[n_docs] - doc_offset[0] + (o->add_sep ? n_docs : 0);
		N = (total + T - 1) / T;
	}
	int32_t *id = sup_alloc(alloc, (size_t)(N * T + 1) * sizeof *id, 64);
	uint8_t *m = sup_alloc(alloc, (size_t)(N * T + 1), 64);
	if (!id || !m) {
		sup_free(alloc, id);
		sup_free(alloc, m);
		return fail(err, err_size, SUP_ERR_NOMEM, "text pack: out of memory");
	}
	for (int64_t i = 0; i < N * T; i++)
		id[i] = SUP_TOK_PAD, m[i] = 0;
	if (o->per_document) {
		for (int64_t d = 0; d < n_docs; d++) {
			int32_t *row = id + d * T;
			int64_t w = 0, len = doc_offset[d + 1] - doc_offset[d];
			if (len > T - reserved)
				len = T - reserved;
			if (o->add_cls)
				row[w++] = SUP_TOK_CLS;
			memcpy(row + w, tokens + doc_offset[d], (size_t)len * sizeof *row);
			w += len;
			if (o->add_sep)
				row[w++] = SUP_TOK_SEP;
			memset(m + d * T, 1, (size_t)w);
		}
	} else {
		int64_t w = 0;
		for (int64_t d = 0; d < n_docs; d++) {
			for (int64_t k = doc_offset[d]; k < doc_offset[d + 1]; k++)
				id[w] = tokens[k], m[w++] = 1;
			if (o->add_sep)
				id[w] = SUP_TOK_SEP, m[w++] = 1;
		}
	}
	int64_t shape[2] = {N, T};
	sup_tensor_init(ids, SUP_I32, 2, shape, id);
	sup_tensor_init(mask, SUP_U8, 2, shape, m);
	return SUP_OK;
}

/* ---- masked language modelling ------------------------------------------------------------ */

struct sup_mlm_opts sup_mlm_opts_default(int32_t vocab_size, uint64_t seed)
{
	return (struct sup_mlm_opts){.mask_prob = 0.15,
				     .p_mask = 0.8,
				     .p_random = 0.1,
				     .mean_span = 1,
				     .vocab_size = vocab_size,
				     .ignore_index = -100,
				     .seed = seed};
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* A uniform non-special token of [0, vocab). */
static int32_t random_token(struct sup_rng *r, int32_t vocab)
{
	int32_t n_special = vocab <= SUP_TOK_PAD ? 0 : (vocab >= SUP_TOK_SEP + 1 ? 4 : vocab - SUP_TOK_PAD);
	int32_t x = (int32_t)sup_rng_below(r, (uint64_t)(vocab - n_special));
	return x >= SUP_TOK_PAD ? x + 4 : x;
}

/* The corruption of one chosen position or span: [MASK] with p_mask, else a random token with
 * p_random, else unchanged; u is the span's uniform draw. */
static int32_t corrupt_token(const struct sup_mlm_opts *o, struct sup_rng *r, double u, int32_t orig)
{
	if (u < o->p_mask)
		return SUP_TOK_MASK;
	if (u < o->p_mask + o->p_random)
		return random_token(r, o->vocab_size);
	return orig;
}

/* Span masking (see data.h): k of the eligible positions of ids (a copy of the input, corrupted
 * in place) in spans. labels holds ignore_index everywhere on entry; a position is free while its
 * label is ignore_index, so a corrupted position is never read as an input again. A start on a chosen or special position is redrawn; the number of
 * draws is bounded (each draw that finds a free eligible position chooses at least one), so the
 * loop ends even when the free positions are few; a run that exhausts the draws (vanishingly
 * unlikely) takes the remaining free positions in order. */
static int64_t mask_spans(const struct sup_mlm_opts *o, struct sup_rng *r, int64_t T, int64_t k, int32_t *ids,
			  int32_t *labels)
{
	const double p = 1.0 / o->mean_span;
	const int64_t max_len = (int64_t)ceil(4 * o->mean_span);
	int64_t chosen = 0;
	for (int64_t draw = 0; chosen < k && draw < 64 * T; draw++) {
		int64_t s = (int64_t)sup_rng_below(r, (uint64_t)T);
		if (sup_token_is_special(ids[s]) || labels[s] != o->ignore_index)
			continue;
		int64_t len = 1; /* Geometric(p) on {1, 2, ...}: mean 1 / p */
		while (len < max_len && sup_rng_uniform(r) >= p)
			len++;
		if (len > k - chosen)
			len = k - chosen;
		const double u = sup_rng_uniform(r);
		for (int64_t j = s; j < T && j < s + len; j++) {
			if (sup_token_is_special(ids[j]) || labels[j] != o->ignore_index)
				break;
			labels[j] = ids[j];
			ids[j] = corrupt_token(o, r, u, ids[j]);
			chosen++;
		}
	}
	for (int64_t j = 0; j < T && chosen < k; j++) {
		if (!sup_token_is_special(ids[j]) && labels[j] == o->ignore_index) {
			labels[j] = ids[j];
			ids[j] = corrupt_token(o, r, sup_rng_uniform(r), ids[j]);
			chosen++;
		}
	}
	return chosen;
}

int64_t sup_mlm_mask(const struct sup_mlm_opts *o, uint64_t epoch, int64_t sample, const int32_t *ids, int64_t T,
		     int32_t *out_ids, int32_t *labels)
{
	SUP_ASSERT(o->vocab_size > 4 && T < INT32_MAX);
	if (out_ids != ids)
		memmove(out_ids, ids, (size_t)T * sizeof *ids);
	int64_t n = 0;
	for (int64_t j = 0; j < T; j++)
		n += !sup_token_is_special(ids[j]);
	int64_t k = llround(o->mask_prob * (double)n);
	if (k == 0 && o->mask_prob > 0 && n > 0)
		k = 1; /* as BERT's create_pretraining_data: at least one prediction per sequence */
	if (k > n)
		k = n;
	struct sup_rng r = task_rng(o->seed, epoch, PURPOSE_MLM, (uint64_t)sample);
	if (o->mean_span > 1) {
		for (int64_t j = 0; j < T; j++)
			labels[j] = o->ignore_index;
		return mask_spans(o, &r, T, k, out_ids, labels);
	}
	/* labels[0..n) first holds the eligible positions; the first k after a partial
	 * Fisher-Yates shuffle are the chosen ones. */
	n = 0;
	for (int64_t j = 0; j < T; j++)
		if (!sup_token_is_special(ids[j]))
			labels[n++] = (int32_t)j;
	for (int64_t i = 0; i < k; i++) {
		int64_t j = i + (int64_t)sup_rng_below(&r, (uint64_t)(n - i));
		int32_t tmp = labels[i];
		labels[i] = labels[j], labels[j] = tmp;
	}
	qsort(labels, (size_t)k, sizeof *labels, cmp_i32);
	/* Walk the chosen positions from the last: position labels[i] >= i, so the writes below
	 * (all at indices >= labels[i]) only touch entries already read. */
	int64_t fill = T - 1;
	for (int64_t i = k - 1; i >= 0; i--) {
		int64_t pos = labels[i];
		int32_t orig = out_ids[pos];
		for (; fill > pos; fill--)
			labels[fill] = o->ignore_index;
		labels[pos] = orig;
		fill = pos - 1;
		out_ids[pos] = corrupt_token(o, &r, sup_rng_uniform(&r), orig);
	}
	for (; fill >= 0; fill--)
		labels[fill] = o->ignore_index;
	return k;
}

/* ---- sentence pairs ------------------------------------------------------------------------ */

int64_t sup_nsp_pairs(struct sup_seg_pair *pairs, const int64_t *seg_doc, int64_t n_segments, bool sop, uint64_t seed,
		      uint64_t epoch)
{
	int64_t w = 0, ds = 0, de = 0; /* segments of the current document: [ds, de) */
	for (int64_t a = 0; a + 1 < n_segments; a++) {
		if (a >= de) {
			ds = a;
			for (de = a + 1; de < n_segments && seg_doc[de] == seg_doc[a]; de++)
				;
		}
		if (seg_doc[a + 1] != seg_doc[a])
			continue;
		struct sup_rng r = task_rng(seed, epoch, PURPOSE_PAIRS, (uint64_t)a);
		bool natural = (sup_rng_u32(&r) & 1) == 0;
		struct sup_seg_pair p = {a, a + 1, 0};
		if (!natural && sop) {
			p = (struct sup_seg_pair){a + 1, a, 1};
		} else if (!natural) {
			int64_t others = n_segments - (de - ds);
			if (others > 0) {
				int64_t x = (int64_t)sup_rng_below(&r, (uint64_t)others);
				p.second = x < ds ? x : x + (de - ds);
			} else {
				int64_t x = (int64_t)sup_rng_below(&r, (uint64_t)(n_segments - 1));
				p.second = x < a + 1 ? x : x + 1;
			}
			p.label = 1;
		}
		pairs[w++] = p;
	}
	return w;
}

enum sup_status sup_pair_encode(int32_t *ids, int32_t *type_ids, uint8_t *mask, int64_t T, const int32_t *tokens,
				const int64_t *seg_offset, const struct sup_seg_pair *p)
{
	if (T < 5)
		return SUP_ERR_ARG;
	int64_t a0 = seg_offset[p->first], la = seg_offset[p->first + 1] - a0;
	int64_t b0 = seg_offset[p->second], lb = seg_offset[p->second + 1] - b0;
	while (la + lb > T - 3) {
		if (la > lb)
			la--;
		else
			lb--;
	}
	int64_t w = 0;
	ids[w] = SUP_TOK_CLS, type_ids[w++] = 0;
	for (int64_t i = 0; i < la; i++)
		ids[w] = tokens[a0 + i], type_ids[w++] = 0;
	ids[w] = SUP_TOK_SEP, type_ids[w++] = 0;
	for (int64_t i = 0; i < lb; i++)
		ids[w] = tokens[b0 + i], type_ids[w++] = 1;
	ids[w] = SUP_TOK_SEP, type_ids[w++] = 1;
	for (int64_t i = 0; i < T; i++)
		mask[i] = i < w;
	for (; w < T; w++)
		ids[w] = SUP_TOK_PAD, type_ids[w] = 0;
	return SUP_OK;
}

/* ---- permutation language modelling -------------------------------------------------------- */

void sup_plm_order(int64_t *order, int64_t T, int64_t n_valid, uint64_t seed, uint64_t epoch, int64_t sample)
{
	SUP_ASSERT(n_valid >= 0 && n_valid <= T);
	struct sup_rng r = task_rng(seed, epoch, PURPOSE_PLM, (uint64_t)sample);
	sup_rng_permutation(&r, order, n_valid);
	for (int64_t k = n_valid; k < T; k++)
		order[k] = k;
}

void sup_plm_masks(uint8_t *content, uint8_t *query, uint8_t *target, const int64_t *order, int64_t T, int64_t n_valid,
		   int64_t n_predict)
{
	SUP_ASSERT(n_valid >= 0 && n_valid <= T && n_predict >= 0 && n_predict <= n_valid);
	memset(content, 0, (size_t)(T * T));
	memset(query, 0, (size_t)(T * T));
	memset(target, 0, (size_t)T);
	/* The k-th position of the order sees the content of positions 0..k of the order (itself
	 * included) and, in the query stream, only 0..k-1 (§2.3, eq. 4-5). */
	for (int64_t k = 0; k < n_valid; k++) {
		int64_t i = order[k];
		for (int64_t m = 0; m <= k; m++) {
			content[i * T + order[m]] = 1;
			if (m < k)
				query[i * T + order[m]] = 1;
		}
		target[i] = k >= n_valid - n_predict;
	}
}
