/* Bag-of-words baseline of the fortune-8 topic task (issue 8): the same 80/20 stratified split
 * (seed 0) as `eval=linear` on the text methods, features = log(1 + count) of the 4096 most
 * frequent training words (lower-cased runs of ASCII letters), L2-normalised, and the same
 * L2-regularised logistic regression (sup_eval_linear_probe, its default l2 grid). Prints one
 * JSON line {"bow_linear_acc": ...}. */
#include "selfsup/data.h"
#include "selfsup/eval.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOW_VOCAB 4096
#define WORD_MAX 32

struct word {
	char w[WORD_MAX];
	int64_t count;
};

static int by_count(const void *a, const void *b)
{
	const struct word *x = a, *y = b;
	return x->count != y->count ? (x->count < y->count) - (x->count > y->count) : strcmp(x->w, y->w);
}

/* Calls fn(word) for each word of text i. */
static void each_word(const struct sup_text_corpus *c, int64_t i, void (*fn)(const char *, void *), void *arg)
{
	int64_t len;
	const char *s = sup_text_corpus_get(c, i, &len);
	char w[WORD_MAX];
	int k = 0;
	for (int64_t j = 0; j <= len; j++) {
		if (j < len && isalpha((unsigned char)s[j])) {
			if (k < WORD_MAX - 1)
				w[k++] = (char)tolower((unsigned char)s[j]);
		} else if (k) {
			w[k] = 0;
			fn(w, arg);
			k = 0;
		}
	}
}

struct vocab {
	struct word *v;
	int64_t n, cap;
};

static void count_word(const char *w, void *arg)
{
	struct vocab *vb = arg;
	for (int64_t i = 0; i < vb->n; i++)
		if (strcmp(vb->v[i].w, w) == 0) {
			vb->v[i].count++;
			return;
		}
	if (vb->n == vb->cap) {
		vb->cap = vb->cap ? 2 * vb->cap : 1024;
		vb->v = realloc(vb->v, sizeof *vb->v * (size_t)vb->cap);
	}
	snprintf(vb->v[vb->n].w, WORD_MAX, "%s", w);
	vb->v[vb->n++].count = 1;
}

struct row {
	const struct vocab *vb;
	float *x;
};

static void add_word(const char *w, void *arg)
{
	struct row *r = arg;
	int64_t n = r->vb->n < BOW_VOCAB ? r->vb->n : BOW_VOCAB;
	for (int64_t i = 0; i < n; i++)
		if (strcmp(r->vb->v[i].w, w) == 0) {
			r->x[i] += 1;
			return;
		}
}

static float *features(const struct sup_text_corpus *c, const struct vocab *vb, int64_t **labels)
{
	float *x = calloc((size_t)(c->n_texts * BOW_VOCAB), sizeof *x);
	*labels = malloc(sizeof(int64_t) * (size_t)c->n_texts);
	for (int64_t i = 0; i < c->n_texts; i++) {
		struct row r = {vb, x + i * BOW_VOCAB};
		each_word(c, i, add_word, &r);
		double nn = 0;
		for (int j = 0; j < BOW_VOCAB; j++) {
			r.x[j] = logf(1 + r.x[j]);
			nn += r.x[j] * r.x[j];
		}
		for (int j = 0; j < BOW_VOCAB && nn > 0; j++)
			r.x[j] /= (float)sqrt(nn);
		(*labels)[i] = c->label[i];
	}
	return x;
}

int main(void)
{
	struct sup_allocator al = sup_allocator_default();
	struct sup_text_corpus all = {0}, tr = {0}, te = {0};
	char err[512] = "";
	if (sup_fortune8_load(&all, SUP_FORTUNES_DIR, &al, err, sizeof err) != SUP_OK ||
	    sup_text_corpus_split(&tr, &te, &all, 0.2, true, 0, err, sizeof err) != SUP_OK) {
		fprintf(stderr, "text_bow: %s\n", err);
		return 1;
	}
	struct vocab vb = {0};
	for (int64_t i = 0; i < tr.n_texts; i++)
		each_word(&tr, i, count_word, &vb);
	qsort(vb.v, (size_t)vb.n, sizeof *vb.v, by_count);
	int64_t *ytr, *yte;
	float *xtr = features(&tr, &vb, &ytr), *xte = features(&te, &vb, &yte);
	struct sup_eval_set a = {.x = xtr, .labels = ytr, .label_dtype = SUP_I64, .n = tr.n_texts, .d = BOW_VOCAB};
	struct sup_eval_set b = {.x = xte, .labels = yte, .label_dtype = SUP_I64, .n = te.n_texts, .d = BOW_VOCAB};
	struct sup_linear_probe_opts o;
	sup_linear_probe_opts_default(&o);
	struct sup_linear_probe_result r;
	int code = 0;
	if (sup_eval_linear_probe(&a, NULL, &b, &o, &r, err, sizeof err) != SUP_OK) {
		fprintf(stderr, "text_bow: %s\n", err);
		code = 1;
	} else {
		printf("{\"bow_linear_acc\":%.4f,\"train\":%lld,\"test\":%lld,\"vocab\":%d}\n", r.top1,
		       (long long)tr.n_texts, (long long)te.n_texts, BOW_VOCAB);
	}
	free(xtr);
	free(xte);
	free(ytr);
	free(yte);
	free(vb.v);
	sup_text_corpus_free(&all);
	sup_text_corpus_free(&tr);
	sup_text_corpus_free(&te);
	return code;
}
