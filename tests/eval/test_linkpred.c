/* Link prediction and the scalar metrics: ROC AUC and average precision against hand-computed
 * values (with ties and all ties), sigmoid edge scores, the linkpred protocol, top-k accuracy
 * and the nats -> bits conversions. */
#include "testutil.h"
#include "selfsup/eval.h"

#include <string.h>

static void test_auc_ap(void)
{
	double v;
	/* sklearn's docs example: scores 0.1 0.4 0.35 0.8, labels 0 0 1 1. By hand, descending:
	 * 0.8 (P) 0.4 (N) 0.35 (P) 0.1 (N). AUC: 0.8 beats both negatives, 0.35 beats 0.1 -> 3 / 4.
	 * AP: thresholds give (R, P) = (1/2, 1), (1/2, 1/2), (1, 2/3), (1, 1/2):
	 * AP = 1/2 * 1 + 0 + 1/2 * 2/3 + 0 = 5/6. */
	const double s1[] = { 0.1, 0.4, 0.35, 0.8 };
	const uint8_t y1[] = { 0, 0, 1, 1 };
	TU_CHECK(sup_eval_auc(s1, y1, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.75, 1e-15);
	TU_CHECK(sup_eval_average_precision(s1, y1, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 5.0 / 6.0, 1e-15);

	/* Ties: positives 0.5 and 0.2, negatives 0.5, 0.5, 0.9.
	 * AUC: (0.5 vs 0.5, 0.5, 0.9) = 1/2 + 1/2 + 0; (0.2 vs all) = 0 -> 1 / (2 * 3) = 1/6.
	 * AP: threshold 0.9: tp 0, fp 1 (R 0); 0.5: tp 1, fp 3 (R 1/2, P 1/4); 0.2: tp 2, fp 3
	 * (R 1, P 2/5) -> AP = 1/2 * 1/4 + 1/2 * 2/5 = 0.325. */
	const double s2[] = { 0.5, 0.5, 0.5, 0.2, 0.9 };
	const uint8_t y2[] = { 1, 0, 0, 1, 0 };
	TU_CHECK(sup_eval_auc(s2, y2, 5, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0 / 6.0, 1e-15);
	TU_CHECK(sup_eval_average_precision(s2, y2, 5, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.325, 1e-15);

	/* All ties: AUC 1/2; one threshold with R = 1, P = 2/6. */
	const double s3[] = { 0.3, 0.3, 0.3, 0.3, 0.3, 0.3 };
	const uint8_t y3[] = { 1, 0, 0, 1, 0, 0 };
	TU_CHECK(sup_eval_auc(s3, y3, 6, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.5, 1e-15);
	TU_CHECK(sup_eval_average_precision(s3, y3, 6, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0 / 3.0, 1e-15);

	/* Perfectly inverted ranking: AUC 0; AP: the positive comes last, R 1 at P 1/3. */
	const double s4[] = { 0.9, 0.8, 0.1 };
	const uint8_t y4[] = { 0, 0, 1 };
	TU_CHECK(sup_eval_auc(s4, y4, 3, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.0, 1e-15);
	TU_CHECK(sup_eval_average_precision(s4, y4, 3, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0 / 3.0, 1e-15);

	/* errors */
	char err[128] = "";
	const uint8_t none[] = { 0, 0, 0 };
	TU_CHECK(sup_eval_auc(s4, none, 3, &v, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "positives and negatives") != NULL);
	TU_CHECK(sup_eval_average_precision(s4, none, 3, &v, err, sizeof err) == SUP_ERR_ARG);
	const double snan[] = { 0.1, NAN };
	const uint8_t ynan[] = { 1, 0 };
	TU_CHECK(sup_eval_auc(snan, ynan, 2, &v, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "NaN") != NULL);
}

static void test_linkpred(void)
{
	/* z rows (1, 0), (0, 1), (1, 1): 0.2 = 1 -> sigmoid(1); 0.1 = 0 -> 1/2; 2.2 = 2 -> sigmoid(2). */
	const float z[] = { 1, 0, 0, 1, 1, 1 };
	const int64_t pairs[] = { 0, 2, 0, 1, 2, 2 };
	double s[3];
	TU_CHECK(sup_eval_edge_scores(z, 3, 2, pairs, 3, s, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(s[0], 0.7310585786300049, 1e-15);
	TU_CHECK_NEAR(s[1], 0.5, 1e-15);
	TU_CHECK_NEAR(s[2], 0.8807970779778823, 1e-15);

	/* positives (0,2), (2,2) score 0.73, 0.88; negatives (0,1) 0.5 and (1,0) 0.5: perfect. */
	const int64_t pos[] = { 0, 2, 2, 2 }, neg[] = { 0, 1, 1, 0 };
	struct sup_linkpred_result r;
	TU_CHECK(sup_eval_linkpred(z, 3, 2, pos, 2, neg, 2, &r, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(r.auc, 1.0, 0);
	TU_CHECK_NEAR(r.ap, 1.0, 0);
	TU_CHECK(r.n_pos == 2 && r.n_neg == 2);
	/* swap roles: (0,2) 0.73 now a negative above positives 0.5, 0.5; (2,2) 0.88 too -> AUC 0;
	 * AP: thresholds 0.88, 0.73 give P 0; at 0.5 both positives: R 1, P 2/4 -> 1/2. */
	TU_CHECK(sup_eval_linkpred(z, 3, 2, neg, 2, pos, 2, &r, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(r.auc, 0.0, 0);
	TU_CHECK_NEAR(r.ap, 0.5, 1e-15);

	char err[128] = "";
	const int64_t bad[] = { 0, 3 };
	TU_CHECK(sup_eval_linkpred(z, 3, 2, bad, 1, neg, 2, &r, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "outside") != NULL);
	TU_CHECK(sup_eval_linkpred(z, 3, 2, pos, 2, neg, 0, &r, err, sizeof err) == SUP_ERR_ARG);
}

static void test_topk(void)
{
	/* row 0: classes 0 and 1 tie at 0.5, label 1 ranks second (lower id first);
	 * row 1: label 2 is top; row 2: unlabelled; row 3: label 0 ranks third. */
	const float sc[] = { 0.5f, 0.5f, 0.1f, 0.1f, 0.2f, 0.9f, 1, 1, 1, 0.1f, 0.3f, 0.2f };
	const int64_t y[] = { 1, 2, -1, 0 };
	double acc;
	int64_t cnt;
	TU_CHECK(sup_eval_topk_accuracy(sc, 4, 3, y, SUP_I64, 1, &acc, &cnt, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(acc, 1.0 / 3.0, 1e-15);
	TU_CHECK(cnt == 3);
	TU_CHECK(sup_eval_topk_accuracy(sc, 4, 3, y, SUP_I64, 2, &acc, &cnt, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(acc, 2.0 / 3.0, 1e-15);
	TU_CHECK(sup_eval_topk_accuracy(sc, 4, 3, y, SUP_I64, 3, &acc, &cnt, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(acc, 1.0, 1e-15);
	const int32_t bad[] = { 1, 2, -2, 0 }, unl[] = { -1, -1, -1, -1 };
	TU_CHECK(sup_eval_topk_accuracy(sc, 4, 3, bad, SUP_I32, 1, &acc, NULL, NULL, 0) == SUP_ERR_ARG);
	TU_CHECK(sup_eval_topk_accuracy(sc, 4, 3, unl, SUP_I32, 1, &acc, NULL, NULL, 0) == SUP_ERR_ARG);
}

static void test_units(void)
{
	const double ln2 = log(2.0);
	TU_CHECK_NEAR(sup_eval_nats_to_bits(ln2), 1.0, 1e-15);
	TU_CHECK_NEAR(sup_eval_bits_per_byte(100 * ln2, 50), 2.0, 1e-14);
	TU_CHECK_NEAR(sup_eval_perplexity(10 * log(5.0), 10), 5.0, 1e-13);
	TU_CHECK_NEAR(sup_eval_bits_per_dim(784 * 3 * ln2, 784), 3.0, 1e-14);
	/* the uniform density on [0, 1] (total nats 0) puts 1/256 on each 8-bit bin: 8 bits / dim */
	TU_CHECK_NEAR(sup_eval_bits_per_dim_density(0, 784, 1.0 / 256), 8.0, 1e-13);
}

int main(void)
{
	test_auc_ap();
	test_linkpred();
	test_topk();
	test_units();
	return tu_finish("eval/linkpred");
}
