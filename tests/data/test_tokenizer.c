/* Tokenizers: byte-level round trips on arbitrary bytes, BPE merges checked by hand on tiny
 * corpora (counts and the tie rule), determinism, save/load round trip and malformed files,
 * and a BPE trained on the fortunes when Debian's package is installed. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "selfsup/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");
	fwrite(s, 1, strlen(s), f);
	fclose(f);
}

/* A corpus from NUL-terminated strings (unlabeled), built through a lines file. */
static void corpus_of(struct sup_text_corpus *c, const char *const *texts, int n)
{
	char path[64], err[128];
	snprintf(path, sizeof path, "/tmp/selfsup-tok-%d.txt", (int)getpid());
	FILE *f = fopen(path, "wb");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\n", texts[i]);
	fclose(f);
	struct sup_allocator al = sup_allocator_default();
	TU_CHECK(sup_text_corpus_load_lines(c, path, &al, err, sizeof err) == SUP_OK);
	remove(path);
}

/* Round trips of random byte strings (any byte, so invalid UTF-8, NULs and 0xff included). */
static int64_t round_trip_failures(const struct sup_tokenizer *t, uint64_t seed, int n_strings)
{
	struct sup_rng r = sup_rng_make(seed, 0);
	unsigned char s[300], back[300];
	int32_t ids[300];
	int64_t bad = 0;
	const char alphabet[] = "ab the  \n\n--9";
	for (int k = 0; k < n_strings; k++) {
		int64_t n = (int64_t)sup_rng_below(&r, 300);
		bool text_like = k % 2;
		for (int64_t i = 0; i < n; i++)
			s[i] = text_like ? (unsigned char)alphabet[sup_rng_below(&r, sizeof alphabet - 1)]
					 : (unsigned char)sup_rng_below(&r, 256);
		int64_t m = sup_tokenizer_encode(t, s, n, ids);
		int64_t len = sup_tokenizer_decode(t, ids, m, back, sizeof back);
		bad += m > n || len != n || memcmp(s, back, (size_t)n) != 0;
		for (int64_t i = 0; i < m; i++)
			bad += ids[i] < 0 || ids[i] >= t->vocab_size || sup_token_is_special(ids[i]);
	}
	return bad;
}

static void test_bytes(void)
{
	struct sup_allocator al = sup_allocator_default();
	struct sup_tokenizer t;
	TU_CHECK(sup_tokenizer_init_bytes(&t, &al) == SUP_OK);
	TU_CHECK(t.vocab_size == 260 && SUP_TOK_PAD == 256 && SUP_TOK_MASK == 257 && SUP_TOK_CLS == 258 &&
		 SUP_TOK_SEP == 259);
	const unsigned char s[6] = {0, 0xff, 0xc3, 0x28, 'a', 0x80}; /* 0xc3 0x28: invalid UTF-8 */
	int32_t ids[6];
	TU_CHECK(sup_tokenizer_encode(&t, s, 6, ids) == 6 && ids[0] == 0 && ids[1] == 255 && ids[5] == 0x80);
	TU_CHECK(round_trip_failures(&t, 1, 400) == 0);
	char out[32];
	const int32_t sp[3] = {'x', SUP_TOK_MASK, SUP_TOK_SEP};
	int64_t n = sup_tokenizer_decode(&t, sp, 3, out, sizeof out);
	TU_CHECK(n == 12 && memcmp(out, "x[MASK][SEP]", 12) == 0);
	TU_CHECK(sup_tokenizer_decode(&t, sp, 3, out, 3) == 12 && memcmp(out, "x[M", 3) == 0);
	const int32_t badid[1] = {260};
	TU_CHECK(sup_tokenizer_decode(&t, badid, 1, out, sizeof out) == -1);
	sup_tokenizer_free(&t);
}

static void test_bpe_by_hand(void)
{
	struct sup_allocator al = sup_allocator_default();
	char err[256];
	struct sup_text_corpus c;
	struct sup_tokenizer t;
	/* Chunks "ab", " ab", " ab", "abc": (a,b) occurs 4 times, then (' ', ab) twice, then
	 * (ab, c) only once, so training stops after two merges however large the vocabulary. */
	const char *texts[2] = {"ab ab ab", "abc"};
	corpus_of(&c, texts, 2);
	TU_CHECK(sup_tokenizer_train_bpe(&t, &c, 300, &al, err, sizeof err) == SUP_OK);
	TU_CHECK_MSG(t.n_merges == 2 && t.vocab_size == 262, "%d merges", (int)t.n_merges);
	TU_CHECK(t.merges[0][0] == 'a' && t.merges[0][1] == 'b' && t.merges[1][0] == ' ' && t.merges[1][1] == 260);
	int32_t ids[16];
	TU_CHECK(sup_tokenizer_encode(&t, "ab ab abc", 9, ids) == 4 && ids[0] == 260 && ids[1] == 261 &&
		 ids[2] == 261 && ids[3] == 'c');
	int64_t len;
	const unsigned char *b = sup_tokenizer_token(&t, 261, &len);
	TU_CHECK(len == 3 && memcmp(b, " ab", 3) == 0);
	sup_tokenizer_free(&t);
	sup_text_corpus_free(&c);
	/* A tie: (x,y) and (z,w) both occur twice; the smaller left id wins ('x' < 'z'), even though
	 * (z,w) comes first in the corpus. */
	const char *tie[4] = {"zw", "xy", "zw", "xy"};
	corpus_of(&c, tie, 4);
	TU_CHECK(sup_tokenizer_train_bpe(&t, &c, 261, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(t.n_merges == 1 && t.merges[0][0] == 'x' && t.merges[0][1] == 'y');
	sup_tokenizer_free(&t);
	TU_CHECK(sup_tokenizer_train_bpe(&t, &c, 100, &al, err, sizeof err) == SUP_ERR_ARG);
	sup_text_corpus_free(&c);
	/* Chunk rules: merges never cross a chunk ("a" | "." is a boundary), and a run of spaces
	 * leaves its last space to the next word ("x" | " " | " y"), so (' ', 'y') is the pair seen
	 * twice, not (' ', ' '). */
	const char *chunks[3] = {"a.a.", "x  y", "x  y"};
	corpus_of(&c, chunks, 3);
	TU_CHECK(sup_tokenizer_train_bpe(&t, &c, 270, &al, err, sizeof err) == SUP_OK);
	TU_CHECK_MSG(t.n_merges == 1 && t.merges[0][0] == ' ' && t.merges[0][1] == 'y', "%d merges", (int)t.n_merges);
	sup_tokenizer_free(&t);
	sup_text_corpus_free(&c);
}

static bool same_merges(const struct sup_tokenizer *a, const struct sup_tokenizer *b)
{
	return a->n_merges == b->n_merges &&
	       memcmp(a->merges, b->merges, (size_t)a->n_merges * sizeof a->merges[0]) == 0;
}

static void test_save_load(const struct sup_tokenizer *t)
{
	struct sup_allocator al = sup_allocator_default();
	char path[64], err[256];
	snprintf(path, sizeof path, "/tmp/selfsup-bpe-%d.txt", (int)getpid());
	struct sup_tokenizer u;
	TU_CHECK(sup_tokenizer_save(t, path, err, sizeof err) == SUP_OK);
	TU_CHECK(sup_tokenizer_load(&u, path, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(same_merges(t, &u) && u.vocab_size == t->vocab_size);
	TU_CHECK(round_trip_failures(&u, 5, 100) == 0);
	int32_t a[64], b[64];
	const char *s = "The quick brown fox; 1234 jumps.";
	int64_t na = sup_tokenizer_encode(t, s, (int64_t)strlen(s), a),
		nb = sup_tokenizer_encode(&u, s, (int64_t)strlen(s), b);
	TU_CHECK(na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0);
	sup_tokenizer_free(&u);
	/* Malformed files: each error names the file and the line. */
	const char *bad[5] = {"bpe 1 0\n", "selfsup-bpe 1 2\n97 98\n97 262\n", "selfsup-bpe 1 1\n97 257\n",
			      "selfsup-bpe 1 1\n97 98\n99 100\n", "selfsup-bpe 1 3\n97 98\n"};
	const char *where[5] = {":1:", ":3:", ":2:", ":3:", ":3:"};
	for (int k = 0; k < 5; k++) {
		write_text(path, bad[k]);
		enum sup_status st = sup_tokenizer_load(&u, path, &al, err, sizeof err);
		TU_CHECK_MSG(st == SUP_ERR_FORMAT && strstr(err, path) && strstr(err, where[k]), "case %d: %s", k, err);
	}
	write_text(path, "selfsup-bpe 1 2\n97 98\n97 98\n");
	TU_CHECK(sup_tokenizer_load(&u, path, &al, err, sizeof err) == SUP_ERR_FORMAT && strstr(err, "repeats"));
	remove(path);
	TU_CHECK(sup_tokenizer_load(&u, path, &al, err, sizeof err) == SUP_ERR_NOT_FOUND);
}

static void test_bpe_trained(void)
{
	struct sup_allocator al = sup_allocator_default();
	char err[256];
	struct sup_text_corpus c;
	bool fortunes = access(SUP_FORTUNES_DIR "/computers", R_OK) == 0;
	if (fortunes) {
		/* A fifth of the distinct fortunes keeps the sanitizer build fast. */
		struct sup_text_corpus all, distinct, rest;
		TU_CHECK(sup_text_corpus_load_fortunes(&all, SUP_FORTUNES_DIR, &al, err, sizeof err) == SUP_OK);
		TU_CHECK(sup_text_corpus_distinct(&distinct, &all, err, sizeof err) == SUP_OK);
		TU_CHECK(sup_text_corpus_split(&rest, &c, &distinct, 0.2, false, 1, err, sizeof err) == SUP_OK);
		sup_text_corpus_free(&all);
		sup_text_corpus_free(&distinct);
		sup_text_corpus_free(&rest);
	} else {
		printf("fortunes not installed: training BPE on a synthetic corpus\n");
		const char *texts[4] = {"the cat sat on the mat", "the dog ate the cat food",
					"a cat and a dog and a mat", "on the mat the cat sat"};
		corpus_of(&c, texts, 4);
	}
	struct sup_tokenizer t, t2;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	TU_CHECK(sup_tokenizer_train_bpe(&t, &c, 760, &al, err, sizeof err) == SUP_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TU_CHECK(sup_tokenizer_train_bpe(&t2, &c, 760, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(same_merges(&t, &t2));
	TU_CHECK(t.vocab_size <= 760 && (!fortunes || t.vocab_size == 760));
	TU_CHECK(round_trip_failures(&t, 2, 400) == 0);
	int32_t *ids;
	int64_t *off;
	TU_CHECK(sup_tokenizer_encode_corpus(&t, &c, &al, &ids, &off, err, sizeof err) == SUP_OK);
	int64_t bytes = c.offset[c.n_texts] - c.n_texts, bad = 0;
	char *back = malloc((size_t)c.offset[c.n_texts] + 1);
	for (int64_t i = 0; i < c.n_texts; i++) {
		int64_t len;
		const char *s = sup_text_corpus_get(&c, i, &len);
		bad += sup_tokenizer_decode(&t, ids + off[i], off[i + 1] - off[i], back, len) != len ||
		       memcmp(back, s, (size_t)len) != 0;
	}
	free(back);
	TU_CHECK(bad == 0);
	double ratio = (double)bytes / (double)off[c.n_texts];
	printf("bpe: %d merges trained on %lld texts (%lld bytes) in %.2f s; %.2f bytes/token\n", (int)t.n_merges,
	       (long long)c.n_texts, (long long)bytes,
	       (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), ratio);
	TU_CHECK(!fortunes || ratio > 2.0); /* English text: about 2.3 with 500 merges */
	test_save_load(&t);
	sup_free(&al, ids);
	sup_free(&al, off);
	sup_tokenizer_free(&t);
	sup_tokenizer_free(&t2);
	sup_text_corpus_free(&c);
}

int main(void)
{
	test_bytes();
	test_bpe_by_hand();
	test_bpe_trained();
	return tu_finish("tokenizer");
}
