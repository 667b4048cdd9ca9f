/* Text data sources of the `selfsup` driver (issue 8), batch kind SUP_BATCH_TOKENS with the
 * byte-level tokenizer of data.h (vocabulary SUP_TOK_BYTE_VOCAB = 260: 256 bytes + 4 specials),
 * or byte-level BPE with the "-bpe" names.
 *
 *   fortunes   all distinct entries of Debian's fortunes package (15100 texts). train = 90% of
 *              the entries, test = the held-out 10% (data.h: "perplexity uses 0.1 of the
 *              distinct texts"; seed 0, fixed so every run sees the same split). Entries are
 *              packed GPT-style: concatenated, each followed by [SEP], cut into rows of
 *              TEXT_SEQ_LEN tokens (only the last row padded). One example = one row. No labels.
 *   fortune-8  the 8-topic classification set of data.h (6561 texts), split 80/20 stratified
 *              with seed 0; one row per entry (its bytes, then [SEP], truncated to TEXT_SEQ_LEN,
 *              padded with [PAD]). Labels 0..7.
 *   fortunes-bpe, fortune-8-bpe
 *              the same sets in byte-level BPE tokens (Sennrich et al. 2016; GPT-2's byte-level
 *              variant, tokenizer.c): TEXT_BPE_VOCAB tokens learned from the training split of
 *              fortunes (deterministic, so every opening learns the same merges and no tokenizer
 *              file has to travel with a run). Sub-word tokens are what BERT and ELECTRA mask
 *              (WordPiece, Devlin et al. 2019 sec. 3); a token stands for about 3 bytes of
 *              fortunes, so a row of TEXT_SEQ_LEN tokens holds ~380 bytes.
 *
 * Padding is SUP_TOK_PAD in the ids themselves, so a method derives its attention padding mask
 * from the batch (struct sup_method_batch has no mask field). The evaluation protocols that need
 * labels run on the labelled companion set (cli_source_labelled: fortunes -> fortune-8). */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"
#include "selfsup/data.h"

#include <stdlib.h>
#include <string.h>

/* 128 bytes: W3's sequence length; most fortunes (median ~100 bytes) fit one row. */
#define TEXT_SEQ_LEN 128
#define TEXT_SPLIT_SEED 0
/* BPE vocabulary (bytes, specials and 3836 merges): about one token per common word of the 2 MB
 * corpus, with embeddings of 4096 x d still small beside the Transformer. */
#define TEXT_BPE_VOCAB 4096

struct text_src {
	struct sup_allocator al;
	struct sup_tensor ids, mask; /* i32 [N, T], u8 [N, T] (blocks from al) */
	int32_t *label;		     /* [N] or NULL */
};

static void text_free(struct cli_source *s)
{
	struct text_src *d = s->impl;
	if (d) {
		sup_free(&d->al, d->ids.data);
		sup_free(&d->al, d->mask.data);
		free(d->label);
		free(d);
	}
	s->impl = NULL;
}

static enum sup_status text_get(const struct cli_source *s, struct sup_ctx *c, const int64_t *idx, int64_t n,
				int n_views, uint64_t seed, int64_t epoch, struct sup_method_batch *b)
{
	(void)seed;
	(void)epoch;
	const struct text_src *d = s->impl;
	int64_t T = d->ids.shape[1];
	memset(b, 0, sizeof *b);
	b->kind = SUP_BATCH_TOKENS;
	b->n_views = n_views;
	/* Views are identical: the methods corrupt (mask, replace) the tokens themselves. */
	for (int v = 0; v < n_views; v++) {
		struct sup_tensor *x = sup_tensor_new(c, SUP_I64, 2, (const int64_t[]){n, T});
		if (!x)
			return sup_ctx_status(c);
		for (int64_t i = 0; i < n; i++)
			for (int64_t t = 0; t < T; t++)
				((int64_t *)x->data)[i * T + t] = ((const int32_t *)d->ids.data)[idx[i] * T + t];
		b->views[v] = x;
	}
	b->index = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	if (!b->index)
		return sup_ctx_status(c);
	memcpy(b->index->data, idx, sizeof(int64_t) * (size_t)n);
	if (!d->label)
		return SUP_OK;
	b->labels = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	if (!b->labels)
		return sup_ctx_status(c);
	for (int64_t i = 0; i < n; i++)
		((int64_t *)b->labels->data)[i] = d->label[idx[i]];
	return SUP_OK;
}

/* Tokenizes one split with tok and packs it into d. */
static enum sup_status text_pack(struct text_src *d, const struct sup_tokenizer *tok,
				 const struct sup_text_corpus *corp, bool per_document, char *err, size_t es)
{
	int32_t *ids = NULL;
	int64_t *off = NULL;
	enum sup_status st = sup_tokenizer_encode_corpus(tok, corp, &d->al, &ids, &off, err, es);
	if (st == SUP_OK) {
		struct sup_pack_opts o = {.seq_len = TEXT_SEQ_LEN, .per_document = per_document, .add_sep = true};
		st = sup_text_pack(&d->ids, &d->mask, ids, off, corp->n_texts, &o, &d->al, err, es);
	}
	if (st == SUP_OK && per_document && corp->label) {
		/* per_document packing gives one row per text, in corpus order. */
		d->label = malloc(sizeof(int32_t) * (size_t)(corp->n_texts ? corp->n_texts : 1));
		if (!d->label)
			st = SUP_ERR_NOMEM;
		else
			memcpy(d->label, corp->label, sizeof(int32_t) * (size_t)corp->n_texts);
	}
	sup_free(&d->al, ids);
	sup_free(&d->al, off);
	return st;
}

/* The distinct fortunes split into train (90%) and held-out (10%) entries. */
static enum sup_status fortunes_split(struct text_src *d, struct sup_text_corpus *tr, struct sup_text_corpus *te,
				      char *err, size_t es)
{
	struct sup_text_corpus all = {0}, dist = {0};
	enum sup_status st = sup_text_corpus_load_fortunes(&all, SUP_FORTUNES_DIR, &d->al, err, es);
	if (st == SUP_OK)
		st = sup_text_corpus_distinct(&dist, &all, err, es);
	if (st == SUP_OK)
		st = sup_text_corpus_split(tr, te, &dist, 0.1, false, TEXT_SPLIT_SEED, err, es);
	sup_text_corpus_free(&all);
	sup_text_corpus_free(&dist);
	return st;
}

/* Loads the named corpus, tokenizes it (bytes, or BPE learned from fortunes' training split)
 * and keeps the wanted split. */
static enum sup_status text_load(struct text_src *d, bool fortune8, bool bpe, bool train, struct sup_tokenizer *tok,
				 char *err, size_t es)
{
	struct sup_text_corpus f8 = {0}, tr = {0}, te = {0}, ftr = {0}, fte = {0};
	enum sup_status st = fortune8 ? sup_fortune8_load(&f8, SUP_FORTUNES_DIR, &d->al, err, es)
				      : fortunes_split(d, &tr, &te, err, es);
	if (st == SUP_OK && fortune8)
		st = sup_text_corpus_split(&tr, &te, &f8, 0.2, true, TEXT_SPLIT_SEED, err, es);
	if (st == SUP_OK && bpe && fortune8)
		st = fortunes_split(d, &ftr, &fte, err, es);
	if (st == SUP_OK)
		st = bpe ? sup_tokenizer_train_bpe(tok, fortune8 ? &ftr : &tr, TEXT_BPE_VOCAB, &d->al, err, es)
			 : sup_tokenizer_init_bytes(tok, &d->al);
	if (st == SUP_OK)
		st = text_pack(d, tok, train ? &tr : &te, fortune8, err, es);
	sup_text_corpus_free(&f8);
	sup_text_corpus_free(&tr);
	sup_text_corpus_free(&te);
	sup_text_corpus_free(&ftr);
	sup_text_corpus_free(&fte);
	return st;
}

static const char *const text_names[] = {"fortunes", "fortune-8", "fortunes-bpe", "fortune-8-bpe"};

static bool text_name(const char *data, bool *fortune8, bool *bpe)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(data, text_names[i]) == 0) {
			*fortune8 = i % 2 == 1;
			*bpe = i >= 2;
			return true;
		}
	return false;
}

bool cli_source_is_text(const char *data)
{
	bool f8, bpe;
	return text_name(data, &f8, &bpe);
}

const char *cli_text_data_for(const struct sup_config *cfg, const char *data)
{
	bool f8, bpe;
	if (!cfg || !sup_config_has(cfg, "tokenizer") || !text_name(data, &f8, &bpe))
		return data;
	return text_names[(strcmp(sup_config_str(cfg, "tokenizer"), "bpe") == 0 ? 2 : 0) + f8];
}

const char *cli_text_data_like(const char *data, const char *trained_on)
{
	bool f8, bpe, f8t, bpet;
	if (!text_name(data, &f8, &bpe) || !text_name(trained_on, &f8t, &bpet))
		return data;
	return text_names[(bpet ? 2 : 0) + f8];
}

const char *cli_source_labelled(const char *data)
{
	bool f8, bpe;
	return text_name(data, &f8, &bpe) ? text_names[(bpe ? 2 : 0) + 1] : data;
}

enum sup_status cli_source_open_text(struct cli_source *s, const char *data, bool train, char *err, size_t es)
{
	bool f8 = false, bpe = false;
	text_name(data, &f8, &bpe);
	struct text_src *d = calloc(1, sizeof *d);
	if (!d)
		return SUP_ERR_NOMEM;
	d->al = sup_allocator_default();
	struct sup_tokenizer tok = {0};
	enum sup_status st = text_load(d, f8, bpe, train, &tok, err, es);
	const int32_t vocab = tok.vocab_size;
	sup_tokenizer_free(&tok);
	if (st != SUP_OK) {
		if (st == SUP_ERR_NOT_FOUND)
			snprintf(err + strlen(err), es - strlen(err), " (apt-get install fortunes)");
		s->impl = d;
		text_free(s);
		return st;
	}
	s->impl = d;
	s->kind = SUP_BATCH_TOKENS;
	s->n = d->ids.shape[0];
	s->info.modality = SUP_MODALITY_TEXT;
	s->info.n_examples = s->n;
	s->info.n_classes = f8 ? SUP_FORTUNE8_CLASSES : 0;
	s->info.vocab_size = vocab;
	s->info.seq_len = TEXT_SEQ_LEN;
	s->get = text_get;
	s->free = text_free;
	return SUP_OK;
}
