/* Weighted kNN (InstDisc §3.4): a hand example where tau decides the vote, unlabelled train rows
 * excluded, tie rules, clustered synthetic data, agreement with a brute-force reference across
 * block boundaries, determinism, errors. */
#include "testutil.h"
#include "selfsup/eval.h"

#include <stdlib.h>
#include <string.h>

static void test_hand(void)
{
	/* query (1, 0); train A = (1, 0.1) class 0, B1 = (1, 0.3), B2 = (1, 0.35) class 1, and an
	 * unlabelled copy of the query. Cosines: 1/sqrt(1.01) = 0.99504, 1/sqrt(1.09) = 0.95783,
	 * 1/sqrt(1.1225) = 0.94386. tau = 0.07: class 0 gets e^14.215 = 1.49e6, class 1 gets
	 * e^13.683 + e^13.484 = 8.76e5 + 7.18e5 = 1.59e6 -> class 1. tau = 0.01: e^99.5 vs
	 * e^95.8 + e^94.4 -> class 0. k = 1 -> A -> class 0. */
	const float tx[] = { 1, 0.1f, 1, 0.3f, 1, 0, 1, 0.35f };
	const int32_t ty[] = { 0, 1, -1, 1 };
	const float qx[] = { 1, 0, 3, 0.9f };
	const int64_t qy[] = { 1, -1 };
	struct sup_eval_set tr = { tx, ty, SUP_I32, 4, 2 }, te = { qx, qy, SUP_I64, 2, 2 };
	struct sup_knn_opts o;
	sup_knn_opts_default(&o);
	TU_CHECK(o.k == 200 && o.tau == 0.07);
	struct sup_knn_result r;
	int32_t pred[2];
	TU_CHECK(sup_eval_knn(&tr, &te, &o, &r, pred, NULL, 0) == SUP_OK);
	TU_CHECK(r.k == 3); /* clamped to the 3 labelled train rows */
	TU_CHECK(r.n_classes == 2 && !r.has_top5);
	TU_CHECK(pred[0] == 1);
	TU_CHECK(r.n_eval == 1);
	TU_CHECK_NEAR(r.top1, 1.0, 0);
	/* the second query (3, 0.9) is parallel to B1: sim 1 -> class 1 at any tau and k */
	TU_CHECK(pred[1] == 1);
	o.tau = 0.01;
	TU_CHECK(sup_eval_knn(&tr, &te, &o, &r, pred, NULL, 0) == SUP_OK);
	TU_CHECK(pred[0] == 0 && pred[1] == 1);
	TU_CHECK_NEAR(r.top1, 0.0, 0);
	o.tau = 0.07;
	o.k = 1;
	TU_CHECK(sup_eval_knn(&tr, &te, &o, &r, pred, NULL, 0) == SUP_OK);
	TU_CHECK(pred[0] == 0 && pred[1] == 1);

	/* equal similarities: two copies of the query's direction with classes 1 and 0; k = 1 keeps
	 * the lower train index */
	const float dx[] = { 2, 0, 1, 0 };
	const int32_t dy[] = { 1, 0 };
	struct sup_eval_set trd = { dx, dy, SUP_I32, 2, 2 };
	TU_CHECK(sup_eval_knn(&trd, &te, &o, &r, pred, NULL, 0) == SUP_OK);
	TU_CHECK(pred[0] == 1);
}

/* Brute force in f64: full sort of similarities, then the same vote. */
static int ref_pred(const float *tx, const int32_t *ty, int64_t nt, const float *q, int64_t d, int k, double tau,
		    int c)
{
	double *s = malloc((size_t)nt * sizeof *s), nq = 0;
	for (int64_t j = 0; j < d; j++)
		nq += (double)q[j] * q[j];
	for (int64_t i = 0; i < nt; i++) {
		double dot = 0, nn = 0;
		for (int64_t j = 0; j < d; j++)
			dot += (double)tx[i * d + j] * q[j], nn += (double)tx[i * d + j] * tx[i * d + j];
		s[i] = dot / sqrt(nn * nq);
	}
	double votes[16] = { 0 };
	for (int t = 0; t < k; t++) { /* selection: k passes for the largest unused */
		int64_t best = -1;
		for (int64_t i = 0; i < nt; i++)
			if (s[i] > -2 && (best < 0 || s[i] > s[best]))
				best = i;
		votes[ty[best]] += exp(s[best] / tau);
		s[best] = -3;
	}
	int p = 0;
	for (int j = 1; j < c; j++)
		if (votes[j] > votes[p])
			p = j;
	free(s);
	return p;
}

static void test_blocks(void)
{
	/* 5000 train rows (two train blocks), 300 test rows (two query blocks), D = 6, 4 classes with
	 * overlapping random features so the votes are not trivial. */
	enum { NT = 5000, NQ = 300, D = 6, C = 4 };
	float *tx = malloc(NT * D * sizeof *tx), *qx = malloc(NQ * D * sizeof *qx);
	int32_t *ty = malloc(NT * sizeof *ty), qy[NQ], p1[NQ], p2[NQ];
	struct sup_rng r = sup_rng_make(11, 0);
	for (int i = 0; i < NT; i++) {
		ty[i] = (int32_t)sup_rng_below(&r, C);
		for (int j = 0; j < D; j++)
			tx[i * D + j] = (float)sup_rng_normal(&r) + (j == ty[i] ? 1.5f : 0);
	}
	for (int i = 0; i < NQ; i++) {
		qy[i] = (int32_t)sup_rng_below(&r, C);
		for (int j = 0; j < D; j++)
			qx[i * D + j] = (float)sup_rng_normal(&r) + (j == qy[i] ? 1.5f : 0);
	}
	struct sup_eval_set tr = { tx, ty, SUP_I32, NT, D }, te = { qx, qy, SUP_I32, NQ, D };
	struct sup_knn_opts o;
	sup_knn_opts_default(&o);
	o.k = 20;
	struct sup_knn_result res;
	TU_CHECK(sup_eval_knn(&tr, &te, &o, &res, p1, NULL, 0) == SUP_OK);
	int agree = 0, correct = 0;
	for (int i = 0; i < NQ; i++) {
		agree += p1[i] == ref_pred(tx, ty, NT, qx + i * D, D, o.k, o.tau, C);
		correct += p1[i] == qy[i];
	}
	TU_CHECK_MSG(agree == NQ, "%d of %d predictions agree with the brute-force reference", agree, NQ);
	TU_CHECK_NEAR(res.top1, (double)correct / NQ, 1e-15);
	TU_CHECK(res.top1 > 0.5); /* far above chance (0.25) */
	/* determinism */
	struct sup_knn_result res2;
	TU_CHECK(sup_eval_knn(&tr, &te, &o, &res2, p2, NULL, 0) == SUP_OK);
	TU_CHECK(memcmp(p1, p2, sizeof p1) == 0 && res.top1 == res2.top1);
	/* no test labels: predictions only */
	te.labels = NULL;
	TU_CHECK(sup_eval_knn(&tr, &te, &o, &res2, p2, NULL, 0) == SUP_OK);
	TU_CHECK(res2.n_eval == 0 && memcmp(p1, p2, sizeof p1) == 0);
	free(tx), free(qx), free(ty);
}

static void test_clustered(void)
{
	/* 8 classes: class c is centred on 3 e_c in D = 16 with uniform noise in [-0.5, 0.5):
	 * every neighbour set is pure, so top-1 = top-5 = 1 with the default k = 200, tau = 0.07. */
	enum { NT = 1600, NQ = 400, D = 16 };
	float *tx = malloc(NT * D * sizeof *tx), *qx = malloc(NQ * D * sizeof *qx);
	uint8_t ty[NT], qy[NQ];
	struct sup_rng r = sup_rng_make(5, 0);
	for (int i = 0; i < NT + NQ; i++) {
		float *row = i < NT ? tx + i * D : qx + (i - NT) * D;
		uint8_t c = (uint8_t)(i % 8);
		for (int j = 0; j < D; j++)
			row[j] = sup_rng_uniform(&r) - 0.5f + (j == c ? 3 : 0);
		if (i < NT)
			ty[i] = c;
		else
			qy[i - NT] = c;
	}
	struct sup_eval_set tr = { tx, ty, SUP_U8, NT, D }, te = { qx, qy, SUP_U8, NQ, D };
	struct sup_knn_result res;
	TU_CHECK(sup_eval_knn(&tr, &te, NULL, &res, NULL, NULL, 0) == SUP_OK);
	TU_CHECK(res.k == 200 && res.n_classes == 8 && res.has_top5);
	TU_CHECK_NEAR(res.top1, 1.0, 0);
	TU_CHECK_NEAR(res.top5, 1.0, 0);
	free(tx), free(qx);
}

static void test_errors(void)
{
	const float x[] = { 1, 0, 0, 1 };
	const int32_t y[] = { 0, 1 }, none[] = { -1, -1 }, bad[] = { 0, -2 };
	struct sup_eval_set tr = { x, y, SUP_I32, 2, 2 }, te = { x, y, SUP_I32, 1, 4 };
	struct sup_knn_result r;
	char err[160] = "";
	TU_CHECK(sup_eval_knn(&tr, &te, NULL, &r, NULL, err, sizeof err) == SUP_ERR_SHAPE);
	TU_CHECK(strstr(err, "dimensions differ") != NULL);
	te.d = 2;
	tr.labels = none;
	TU_CHECK(sup_eval_knn(&tr, &te, NULL, &r, NULL, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "no labelled train rows") != NULL);
	tr.labels = bad;
	TU_CHECK(sup_eval_knn(&tr, &te, NULL, &r, NULL, err, sizeof err) == SUP_ERR_ARG);
	tr.labels = y;
	tr.labels = NULL;
	TU_CHECK(sup_eval_knn(&tr, &te, NULL, &r, NULL, err, sizeof err) == SUP_ERR_ARG);
	tr.labels = y;
	struct sup_knn_opts o;
	sup_knn_opts_default(&o);
	o.tau = 0;
	TU_CHECK(sup_eval_knn(&tr, &te, &o, &r, NULL, err, sizeof err) == SUP_ERR_ARG);
	o.tau = 0.07;
	o.k = 0;
	TU_CHECK(sup_eval_knn(&tr, &te, &o, &r, NULL, err, sizeof err) == SUP_ERR_ARG);
}

int main(void)
{
	test_hand();
	test_blocks();
	test_clustered();
	test_errors();
	return tu_finish("eval/knn");
}
