/* Text corpora and pretext tasks: hand-made line and fortune files, the Debian fortunes counts of
 * ../shared/data/README.md §4.1 (skipped when the package is missing), packing, BERT masking
 * statistics, NSP/SOP pairs and XLNet orders. */
#define _POSIX_C_SOURCE 200809L /* fsync, symlink, fileno, mkdir with C11 */
#include "testutil.h"
#include "selfsup/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");
	fwrite(s, 1, strlen(s), f);
	fclose(f);
}

static bool text_is(const struct sup_text_corpus *c, int64_t i, const char *s)
{
	int64_t len;
	const char *t = sup_text_corpus_get(c, i, &len);
	return len == (int64_t)strlen(s) && memcmp(t, s, (size_t)len) == 0;
}

static void test_lines(void)
{
	struct sup_allocator al = sup_allocator_default();
	char path[64], err[256];
	snprintf(path, sizeof path, "/tmp/selfsup-lines-%d.txt", (int)getpid());
	write_text(path, "first doc\n\n  \t\r\nsecond\r\nlast");
	struct sup_text_corpus c;
	TU_CHECK(sup_text_corpus_load_lines(&c, path, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(c.n_texts == 3 && c.n_classes == 0);
	TU_CHECK(text_is(&c, 0, "first doc") && text_is(&c, 1, "second") && text_is(&c, 2, "last"));
	TU_CHECK(c.label[0] == -1);
	sup_text_corpus_free(&c);
	remove(path);
	TU_CHECK(sup_text_corpus_load_lines(&c, path, &al, err, sizeof err) == SUP_ERR_NOT_FOUND && strstr(err, path));
}

/* A fortune folder with what Debian's has besides the texts: .dat indexes, .u8 symlinks. */
static void test_small_fortunes(void)
{
	struct sup_allocator al = sup_allocator_default();
	char dir[64], path[128], err[256];
	snprintf(dir, sizeof dir, "/tmp/selfsup-fortunes-%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(path, sizeof path, "%s/beta", dir);
	write_text(path, "y  y\n%\nz\nzz\n%\n%\n  \n%\n");
	snprintf(path, sizeof path, "%s/alpha", dir);
	write_text(path, "x\n%\ny\ny");
	snprintf(path, sizeof path, "%s/alpha.dat", dir);
	write_text(path, "\x01\x02garbage");
	char link[128];
	snprintf(link, sizeof link, "%s/alpha.u8", dir);
	TU_CHECK(symlink("alpha", link) == 0);
	struct sup_text_corpus c, d, s;
	TU_CHECK(sup_text_corpus_load_fortunes(&c, dir, &al, err, sizeof err) == SUP_OK);
	TU_CHECK(c.n_classes == 2 && strcmp(c.class_names[0], "alpha") == 0 && strcmp(c.class_names[1], "beta") == 0);
	TU_CHECK_MSG(c.n_texts == 4, "%lld texts", (long long)c.n_texts);
	TU_CHECK(text_is(&c, 0, "x") && text_is(&c, 1, "y\ny") && text_is(&c, 2, "y  y") && text_is(&c, 3, "z\nzz"));
	TU_CHECK(c.label[0] == 0 && c.label[1] == 0 && c.label[2] == 1 && c.label[3] == 1);
	/* "y\ny" and "y  y" are the same text after white-space normalisation. */
	TU_CHECK(sup_text_corpus_distinct(&d, &c, err, sizeof err) == SUP_OK);
	TU_CHECK(d.n_texts == 3 && text_is(&d, 1, "y\ny") && d.label[0] == 0 && d.label[1] == -1 && d.label[2] == 1);
	const char *names[2] = {"beta", "alpha"};
	TU_CHECK(sup_text_corpus_select(&s, &c, names, 2, err, sizeof err) == SUP_OK);
	TU_CHECK(s.n_texts == 2 && text_is(&s, 0, "x") && s.label[0] == 1 && text_is(&s, 1, "z\nzz") &&
		 s.label[1] == 0);
	TU_CHECK(strcmp(s.class_names[0], "beta") == 0);
	const char *bad[1] = {"gamma"};
	sup_text_corpus_free(&s);
	TU_CHECK(sup_text_corpus_select(&s, &c, bad, 1, err, sizeof err) == SUP_ERR_NOT_FOUND && strstr(err, "gamma"));
	sup_text_corpus_free(&c);
	sup_text_corpus_free(&d);
	remove(link);
	snprintf(path, sizeof path, "%s/alpha.dat", dir);
	remove(path);
	snprintf(path, sizeof path, "%s/alpha", dir);
	remove(path);
	snprintf(path, sizeof path, "%s/beta", dir);
	remove(path);
	TU_CHECK(sup_text_corpus_load_fortunes(&c, dir, &al, err, sizeof err) == SUP_ERR_NOT_FOUND);
	rmdir(dir);
}

static int count_label(const struct sup_text_corpus *c, int k)
{
	int n = 0;
	for (int64_t i = 0; i < c->n_texts; i++)
		n += c->label[i] == k;
	return n;
}

static int class_id(const struct sup_text_corpus *c, const char *name)
{
	for (int k = 0; k < c->n_classes; k++)
		if (strcmp(c->class_names[k], name) == 0)
			return k;
	return -1;
}

static void test_split(const struct sup_text_corpus *f8)
{
	char err[256];
	struct sup_text_corpus tr, te, tr2, te2;
	TU_CHECK(sup_text_corpus_split(&tr, &te, f8, 0.2, true, 7, err, sizeof err) == SUP_OK);
	TU_CHECK(tr.n_texts + te.n_texts == f8->n_texts);
	for (int k = 0; k < SUP_FORTUNE8_CLASSES; k++) {
		int n = count_label(f8, k), nt = count_label(&te, k);
		TU_CHECK_MSG(nt == (int)((0.2 * n) + 0.5) && count_label(&tr, k) == n - nt, "class %d: %d of %d", k, nt,
			     n);
	}
	/* Disjoint: fortune-8 texts are distinct, so train and test together hold every text once. */
	int64_t bytes = tr.offset[tr.n_texts] + te.offset[te.n_texts];
	TU_CHECK(bytes == f8->offset[f8->n_texts]);
	TU_CHECK(sup_text_corpus_split(&tr2, &te2, f8, 0.2, true, 7, err, sizeof err) == SUP_OK);
	TU_CHECK(te2.n_texts == te.n_texts && memcmp(te2.bytes, te.bytes, (size_t)te.offset[te.n_texts]) == 0);
	sup_text_corpus_free(&tr2);
	sup_text_corpus_free(&te2);
	TU_CHECK(sup_text_corpus_split(&tr2, &te2, f8, 0.2, true, 8, err, sizeof err) == SUP_OK);
	TU_CHECK(te2.n_texts == te.n_texts && te2.offset[te2.n_texts] != te.offset[te.n_texts]);
	sup_text_corpus_free(&tr2);
	sup_text_corpus_free(&te2);
	TU_CHECK(sup_text_corpus_split(&tr2, &te2, f8, 1.5, true, 8, err, sizeof err) == SUP_ERR_ARG);
	sup_text_corpus_free(&tr);
	sup_text_corpus_free(&te);
}

static void test_debian_fortunes(void)
{
	if (access(SUP_FORTUNES_DIR "/computers", R_OK) != 0 || access(SUP_FORTUNES_DIR "/fortunes", R_OK) != 0) {
		printf("skipping the fortunes counts: Debian's fortunes package is not installed\n");
		return;
	}
	struct sup_allocator al = sup_allocator_default();
	char err[256];
	struct sup_text_corpus all, distinct, f8, tr, te;
	TU_CHECK(sup_text_corpus_load_fortunes(&all, SUP_FORTUNES_DIR, &al, err, sizeof err) == SUP_OK);
	TU_CHECK_MSG(all.n_classes == 43 && all.n_texts == 15217, "%d classes, %lld entries", all.n_classes,
		     (long long)all.n_texts);
	const char *names[6] = {"art", "computers", "pratchett", "zippy", "riddles", "tao"};
	const int want[6] = {465, 1051, 2, 548, 128, 82};
	for (int j = 0; j < 6; j++)
		TU_CHECK_MSG(count_label(&all, class_id(&all, names[j])) == want[j], "%s: %d", names[j],
			     count_label(&all, class_id(&all, names[j])));
	TU_CHECK(sup_text_corpus_distinct(&distinct, &all, err, sizeof err) == SUP_OK);
	TU_CHECK_MSG(distinct.n_texts == 15100, "%lld distinct", (long long)distinct.n_texts);
	TU_CHECK(count_label(&distinct, -1) == 112);
	/* The held-out 10% for perplexity. */
	TU_CHECK(sup_text_corpus_split(&tr, &te, &distinct, 0.1, false, 1, err, sizeof err) == SUP_OK);
	TU_CHECK(te.n_texts == 1510 && tr.n_texts == 13590);
	sup_text_corpus_free(&tr);
	sup_text_corpus_free(&te);
	TU_CHECK(sup_fortune8_load(&f8, SUP_FORTUNES_DIR, &al, err, sizeof err) == SUP_OK);
	const int want8[8] = {463, 1035, 1194, 1234, 692, 618, 701, 624};
	for (int k = 0; k < 8; k++)
		TU_CHECK_MSG(count_label(&f8, k) == want8[k], "fortune-8 class %d (%s): %d", k, f8.class_names[k],
			     count_label(&f8, k));
	TU_CHECK(f8.n_texts == 6561 && f8.n_classes == 8 && strcmp(f8.class_names[6], "songs-poems") == 0);
	test_split(&f8);
	sup_text_corpus_free(&f8);
	sup_text_corpus_free(&distinct);
	sup_text_corpus_free(&all);
}

/* ---- tasks --------------------------------------------------------------------------------- */

static void test_pack(void)
{
	struct sup_allocator al = sup_allocator_default();
	const int32_t tok[7] = {1, 2, 3, 4, 5, 6, 7};
	const int64_t off[4] = {0, 3, 3, 7}; /* docs: [1 2 3], [], [4 5 6 7] */
	struct sup_tensor ids, mask;
	char err[128];
	struct sup_pack_opts o = {.seq_len = 4, .per_document = false, .add_sep = true};
	TU_CHECK(sup_text_pack(&ids, &mask, tok, off, 3, &o, &al, err, sizeof err) == SUP_OK);
	/* 1 2 3 S S 4 5 6 7 S -> 3 rows of 4 */
	const int32_t want[12] = {1, 2, 3, SUP_TOK_SEP, SUP_TOK_SEP, 4, 5, 6, 7, SUP_TOK_SEP, SUP_TOK_PAD, SUP_TOK_PAD};
	TU_CHECK(ids.shape[0] == 3 && ids.shape[1] == 4 && ids.dtype == SUP_I32 && mask.dtype == SUP_U8);
	TU_CHECK(memcmp(ids.data, want, sizeof want) == 0);
	TU_CHECK(((uint8_t *)mask.data)[9] == 1 && ((uint8_t *)mask.data)[10] == 0);
	sup_free(&al, ids.data);
	sup_free(&al, mask.data);
	o = (struct sup_pack_opts){.seq_len = 4, .per_document = true, .add_cls = true, .add_sep = true};
	TU_CHECK(sup_text_pack(&ids, &mask, tok, off, 3, &o, &al, err, sizeof err) == SUP_OK);
	const int32_t want2[12] = {SUP_TOK_CLS, 1,	     2,		  SUP_TOK_SEP, SUP_TOK_CLS, SUP_TOK_SEP,
				   SUP_TOK_PAD, SUP_TOK_PAD, SUP_TOK_CLS, 4,	       5,	    SUP_TOK_SEP};
	TU_CHECK(ids.shape[0] == 3 && memcmp(ids.data, want2, sizeof want2) == 0);
	const uint8_t mwant[12] = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1};
	TU_CHECK(memcmp(mask.data, mwant, sizeof mwant) == 0);
	sup_free(&al, ids.data);
	sup_free(&al, mask.data);
	o.seq_len = 2;
	TU_CHECK(sup_text_pack(&ids, &mask, tok, off, 3, &o, &al, err, sizeof err) == SUP_ERR_ARG);
}

#define MLM_T 128
/* Masking statistics with independent positions (mean_span 1) or spans: the count is exact, only
 * eligible positions are chosen, labels and corruptions are consistent, the 80/10/10 split holds
 * (within tol: span masking decides once per span), draws are deterministic and work in place;
 * returns the mean length of the runs of chosen positions. */
static double check_mlm(double mean_span, double tol)
{
	const int32_t V = 1260;
	struct sup_mlm_opts o = sup_mlm_opts_default(V, 42);
	o.mean_span = mean_span;
	struct sup_rng r = sup_rng_make(3, 0);
	int32_t ids[MLM_T], out[MLM_T], lab[MLM_T], out2[MLM_T], lab2[MLM_T];
	int64_t eligible = 0, chosen = 0, n_mask = 0, n_rand = 0, n_same = 0, bad = 0, rounding = 0, runs = 0;
	for (int s = 0; s < 2000; s++) {
		int64_t len = 8 + (int64_t)sup_rng_below(&r, MLM_T - 8);
		int64_t n_el = 0;
		for (int64_t j = 0; j < MLM_T; j++) {
			int32_t t = (int32_t)sup_rng_below(&r, (uint64_t)(V - 4));
			ids[j] = j == 0		? SUP_TOK_CLS
				 : j == len - 1 ? SUP_TOK_SEP
				 : j >= len	? SUP_TOK_PAD
				 : t < 256	? t
						: t + 4;
			n_el += !sup_token_is_special(ids[j]);
		}
		int64_t k = sup_mlm_mask(&o, 0, s, ids, MLM_T, out, lab);
		rounding += k != (int64_t)(0.15 * (double)n_el + 0.5);
		eligible += n_el, chosen += k;
		int64_t labelled = 0;
		for (int64_t j = 0; j < MLM_T; j++) {
			if (lab[j] == o.ignore_index) {
				bad += out[j] != ids[j];
				continue;
			}
			labelled++;
			runs += j == 0 || lab[j - 1] == o.ignore_index;
			bad += lab[j] != ids[j] || sup_token_is_special(ids[j]);
			bad += sup_token_is_special(out[j]) && out[j] != SUP_TOK_MASK;
			if (out[j] == SUP_TOK_MASK)
				n_mask++;
			else if (out[j] == ids[j])
				n_same++;
			else
				n_rand++;
		}
		bad += labelled != k;
		if (s < 50) { /* determinism per (seed, epoch, sample), and in place */
			memcpy(out2, ids, sizeof ids);
			sup_mlm_mask(&o, 0, s, out2, MLM_T, out2, lab2);
			bad += memcmp(out2, out, sizeof out) != 0 || memcmp(lab2, lab, sizeof lab) != 0;
			sup_mlm_mask(&o, 1, s, ids, MLM_T, out2, lab2);
			bad += memcmp(lab2, lab, sizeof lab) == 0; /* another epoch, other positions */
		}
	}
	TU_CHECK_MSG(bad == 0 && rounding == 0, "span %g: %lld bad positions, %lld rounding", mean_span,
		     (long long)bad, (long long)rounding);
	double f = (double)chosen / (double)eligible;
	TU_CHECK_NEAR(f, 0.15, 0.005);
	TU_CHECK_NEAR((double)n_mask / (double)chosen, 0.8, tol);
	TU_CHECK_NEAR((double)n_rand / (double)chosen, 0.1, tol);
	TU_CHECK_NEAR((double)n_same / (double)chosen, 0.1, tol);
	/* Only special tokens: nothing is chosen. */
	int32_t sp[4] = {SUP_TOK_CLS, SUP_TOK_SEP, SUP_TOK_PAD, SUP_TOK_MASK};
	TU_CHECK(sup_mlm_mask(&o, 0, 0, sp, 4, out, lab) == 0 && lab[0] == -100 && out[1] == SUP_TOK_SEP);
	/* Every eligible position chosen (mask_prob 1): spans must still find them all. */
	o.mask_prob = 1;
	int32_t few[6] = {SUP_TOK_CLS, 7, 8, SUP_TOK_SEP, 9, SUP_TOK_PAD};
	TU_CHECK(sup_mlm_mask(&o, 0, 1, few, 6, out, lab) == 3 && lab[1] == 7 && lab[2] == 8 && lab[4] == 9 &&
		 lab[3] == -100);
	return (double)chosen / (double)runs;
}

static void test_mlm(void)
{
	double run_1 = check_mlm(1, 0.01), run_8 = check_mlm(8, 0.03);
	/* Independent positions rarely touch (~1.2 at 15 %); spans of mean 8 (clipped at the budget
	 * of ~10 per sequence, merged where they meet) are several times longer. */
	TU_CHECK_MSG(run_1 < 1.5 && run_8 > 4 && run_8 < 12, "mean runs: span 1 %.2f, span 8 %.2f", run_1, run_8);
}

static void test_pairs(void)
{
	/* 3 documents: segments 0-3, 4, 5-6. Pairs exist for a = 0, 1, 2, 5. */
	const int64_t doc[7] = {0, 0, 0, 0, 1, 2, 2};
	struct sup_seg_pair p[7];
	int64_t n = sup_nsp_pairs(p, doc, 7, false, 1, 0);
	TU_CHECK(n == 4 && p[0].first == 0 && p[3].first == 5);
	int64_t next = 0, total = 0, bad = 0;
	int64_t many_doc[400];
	struct sup_seg_pair q[400];
	for (int i = 0; i < 400; i++)
		many_doc[i] = i / 4;
	for (uint64_t ep = 0; ep < 20; ep++) {
		int64_t m = sup_nsp_pairs(q, many_doc, 400, false, 9, ep);
		for (int64_t i = 0; i < m; i++) {
			bool is_next = q[i].second == q[i].first + 1;
			bad += (q[i].label == 0) != is_next;
			bad += q[i].label == 1 && many_doc[q[i].second] == many_doc[q[i].first];
			next += q[i].label == 0;
			total++;
		}
		m = sup_nsp_pairs(q, many_doc, 400, true, 9, ep);
		for (int64_t i = 0; i < m; i++) {
			const struct sup_seg_pair *s = &q[i];
			bad += s->label == 0 ? s->second != s->first + 1 : s->first != s->second + 1;
		}
	}
	TU_CHECK(bad == 0 && total == 20 * 300);
	TU_CHECK_NEAR((double)next / (double)total, 0.5, 0.03);
	/* One document: the random segment is any other than the true next one. */
	const int64_t one[3] = {0, 0, 0};
	for (uint64_t ep = 0; ep < 30; ep++) {
		n = sup_nsp_pairs(p, one, 3, false, 2, ep);
		for (int64_t i = 0; i < n; i++)
			TU_CHECK(p[i].label == 0 || p[i].second != p[i].first + 1);
	}
	/* [CLS] A [SEP] B [SEP] with truncation of the longer side. */
	const int32_t tok[9] = {10, 11, 12, 13, 14, 20, 21, 30, 31};
	const int64_t seg_off[4] = {0, 5, 7, 9};
	struct sup_seg_pair pr = {0, 1, 0};
	int32_t ids[8], ty[8];
	uint8_t mk[8];
	TU_CHECK(sup_pair_encode(ids, ty, mk, 8, tok, seg_off, &pr) == SUP_OK);
	const int32_t want[8] = {SUP_TOK_CLS, 10, 11, 12, SUP_TOK_SEP, 20, 21, SUP_TOK_SEP};
	const int32_t want_ty[8] = {0, 0, 0, 0, 0, 1, 1, 1};
	TU_CHECK(memcmp(ids, want, sizeof want) == 0 && memcmp(ty, want_ty, sizeof want_ty) == 0 && mk[7] == 1);
	pr = (struct sup_seg_pair){2, 1, 1};
	TU_CHECK(sup_pair_encode(ids, ty, mk, 8, tok, seg_off, &pr) == SUP_OK);
	TU_CHECK(ids[1] == 30 && ids[4] == 20 && ids[6] == SUP_TOK_SEP && ids[7] == SUP_TOK_PAD && mk[7] == 0 &&
		 mk[6] == 1);
	TU_CHECK(sup_pair_encode(ids, ty, mk, 4, tok, seg_off, &pr) == SUP_ERR_ARG);
}

static void test_plm(void)
{
	enum { T = 8 };
	int64_t order[T], order2[T];
	uint8_t content[T * T], query[T * T], target[T];
	sup_plm_order(order, T, 6, 5, 0, 3);
	sup_plm_order(order2, T, 6, 5, 0, 3);
	TU_CHECK(memcmp(order, order2, sizeof order) == 0);
	int seen[T] = {0};
	for (int k = 0; k < T; k++)
		seen[order[k]]++;
	bool perm = order[6] == 6 && order[7] == 7;
	for (int k = 0; k < T; k++)
		perm &= seen[k] == 1 && (k >= 6 || order[k] < 6);
	TU_CHECK(perm);
	int differ = 0;
	for (int s = 0; s < 10; s++) {
		sup_plm_order(order2, T, 6, 5, 0, 100 + s);
		differ += memcmp(order, order2, sizeof order) != 0;
	}
	TU_CHECK(differ >= 9);
	sup_plm_masks(content, query, target, order, T, 6, 2);
	int rank[T];
	for (int k = 0; k < T; k++)
		rank[order[k]] = k;
	int bad = 0;
	for (int i = 0; i < T; i++) {
		for (int j = 0; j < T; j++) {
			bool valid = i < 6 && j < 6;
			bad += content[i * T + j] != (valid && rank[j] <= rank[i]);
			bad += query[i * T + j] != (valid && rank[j] < rank[i]);
		}
		bad += target[i] != (i < 6 && rank[i] >= 4);
	}
	TU_CHECK(bad == 0);
}

int main(void)
{
	test_lines();
	test_small_fortunes();
	test_debian_fortunes();
	test_pack();
	test_mlm();
	test_pairs();
	test_plm();
	return tu_finish("text");
}
