/* NMI and ARI against hand-computed values and their edge cases; k-means on a hand example and on
 * separated blobs (clustering protocol scores 1), determinism, empty clusters, errors. */
#include "testutil.h"
#include "selfsup/eval.h"

#include <stdlib.h>
#include <string.h>

static void test_nmi_ari(void)
{
	double v;
	/* a = 000111, b = 001122. Contingency rows (2 1 0), (0 1 2); n = 6.
	 * H(a) = ln 2, H(b) = ln 3, H(a, b) = 2/3 ln 3 + 1/3 ln 6, I = H(a) + H(b) - H(a, b)
	 *      = 0.4620981203732968; NMI = I / ((ln 2 + ln 3) / 2) = 0.5158037429793889.
	 * Pairs: sum C(n_ij, 2) = 2, sum C(a_i, 2) = 6, sum C(b_j, 2) = 3, C(6, 2) = 15:
	 * ARI = (2 - 6 * 3 / 15) / ((6 + 3) / 2 - 6 * 3 / 15) = 0.8 / 3.3 = 8 / 33. */
	const int64_t a[] = { 0, 0, 0, 1, 1, 1 }, b[] = { 0, 0, 1, 1, 2, 2 };
	TU_CHECK(sup_eval_nmi(a, b, 6, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.5158037429793889, 1e-14);
	TU_CHECK(sup_eval_ari(a, b, 6, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 8.0 / 33.0, 1e-14);
	/* symmetric */
	TU_CHECK(sup_eval_nmi(b, a, 6, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.5158037429793889, 1e-14);

	/* 0011 vs 0012: H(a) = ln 2, H(b) = H(a, b) = 1.5 ln 2, I = ln 2 -> NMI = 1 / 1.25 = 0.8;
	 * pairs: sum C(n_ij,2) = 1, sum C(a_i,2) = 2, sum C(b_j,2) = 1, C(4,2) = 6:
	 * ARI = (1 - 2/6) / (1.5 - 2/6) = 4/7 (sklearn's docs: 0.5714...). */
	const int64_t c[] = { 0, 0, 1, 1 }, d[] = { 0, 0, 1, 2 };
	TU_CHECK(sup_eval_nmi(c, d, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.8, 1e-14);
	TU_CHECK(sup_eval_ari(c, d, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 4.0 / 7.0, 1e-14);

	/* relabelled identical partitions (arbitrary ids, negatives too): 1 and 1 */
	const int64_t e[] = { 5, 5, -3, -3, 7 }, f[] = { 1, 1, 0, 0, 2 };
	TU_CHECK(sup_eval_nmi(e, f, 5, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0, 1e-14);
	TU_CHECK(sup_eval_ari(e, f, 5, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0, 1e-14);

	/* single cluster on both sides: a perfect match, 1 and 1 */
	const int64_t one[] = { 4, 4, 4, 4 }, all[] = { 0, 1, 2, 3 };
	TU_CHECK(sup_eval_nmi(one, one, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0, 0);
	TU_CHECK(sup_eval_ari(one, one, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0, 0);
	/* single cluster vs all singletons: I = 0 -> NMI 0; pairs tp = fp = tn = 0, fn = 12 -> ARI 0 */
	TU_CHECK(sup_eval_nmi(one, all, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.0, 0);
	TU_CHECK(sup_eval_ari(one, all, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.0, 0);
	/* all singletons on both sides: NMI = ln 4 / ln 4 = 1, ARI: fn = fp = 0 -> 1 */
	TU_CHECK(sup_eval_nmi(all, all, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0, 1e-14);
	TU_CHECK(sup_eval_ari(all, all, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 1.0, 0);
	/* ARI below chance: 0101 vs 0011 -> sum C(n_ij, 2) = 0, expected 2 * 2 / 6 = 2/3, max 2:
	 * ARI = (0 - 2/3) / (2 - 2/3) = -1/2 */
	const int64_t g[] = { 0, 1, 0, 1 };
	TU_CHECK(sup_eval_ari(g, c, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, -0.5, 1e-14);
	TU_CHECK(sup_eval_nmi(g, c, 4, &v, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(v, 0.0, 1e-15);
}

static void test_kmeans_small(void)
{
	/* 1-D points 0, 1, 10, 11 -> {0, 1}, {10, 11}; centres 0.5, 10.5; inertia 4 * 0.25 = 1 */
	const float x[] = { 10, 0, 11, 1 };
	int32_t as[4];
	float cen[2];
	struct sup_kmeans_opts o;
	sup_kmeans_opts_default(&o);
	o.k = 2;
	struct sup_kmeans_result r;
	TU_CHECK(sup_kmeans(x, 4, 1, &o, as, cen, &r, NULL, 0) == SUP_OK);
	TU_CHECK(as[0] == as[2] && as[1] == as[3] && as[0] != as[1]);
	TU_CHECK_NEAR(r.inertia, 1.0, 1e-12);
	TU_CHECK_NEAR(cen[as[1]], 0.5, 1e-6);
	TU_CHECK_NEAR(cen[as[0]], 10.5, 1e-6);
	TU_CHECK(r.converged);

	/* duplicates: 5 equal points and k = 3 -> two clusters start empty or coincide; no crash,
	 * inertia 0, ids in range */
	const float dup[] = { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 };
	int32_t ad[5];
	o.k = 3;
	TU_CHECK(sup_kmeans(dup, 5, 2, &o, ad, NULL, &r, NULL, 0) == SUP_OK);
	TU_CHECK_NEAR(r.inertia, 0.0, 0);
	for (int i = 0; i < 5; i++)
		TU_CHECK(ad[i] >= 0 && ad[i] < 3);

	char err[160] = "";
	o.k = 5;
	TU_CHECK(sup_kmeans(x, 4, 1, &o, as, NULL, &r, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "k <= n") != NULL);
	o.k = 0;
	TU_CHECK(sup_kmeans(x, 4, 1, &o, as, NULL, &r, err, sizeof err) == SUP_ERR_ARG);
}

/* n points in 3 blobs of radius 0.5 around (0,0,0,0), (10,0,..), (0,10,..) in D = 4; labels = blob;
 * every 7th row is unlabelled. */
static void blobs(float *x, int32_t *y, int64_t n, uint64_t seed)
{
	struct sup_rng r = sup_rng_make(seed, 1);
	for (int64_t i = 0; i < n; i++) {
		int c = (int)(i % 3);
		for (int j = 0; j < 4; j++)
			x[i * 4 + j] = (float)(sup_rng_uniform(&r) - 0.5) + (c == 1 && j == 0 ? 10 : c == 2 && j == 1 ? 10 : 0);
		y[i] = i % 7 == 6 ? -1 : c;
	}
}

static void test_cluster_protocol(void)
{
	enum { N = 600 };
	float *x = malloc(N * 4 * sizeof *x);
	int32_t y[N], a1[N], a2[N];
	blobs(x, y, N, 3);
	struct sup_eval_set s = { .x = x, .labels = y, .label_dtype = SUP_I32, .n = N, .d = 4 };
	struct sup_cluster_result r;
	TU_CHECK(sup_eval_cluster(&s, NULL, &r, a1, NULL, 0) == SUP_OK);
	TU_CHECK(r.k == 3);
	TU_CHECK(r.n_eval == N - N / 7);
	TU_CHECK_NEAR(r.nmi, 1.0, 1e-12);
	TU_CHECK_NEAR(r.ari, 1.0, 1e-12);
	/* inertia of uniform [-0.5, 0.5)^4 around the centres: about N * 4 / 12 = 200 */
	TU_CHECK(r.inertia > 150 && r.inertia < 250);
	/* determinism: the same seed gives the same assignment */
	TU_CHECK(sup_eval_cluster(&s, NULL, &r, a2, NULL, 0) == SUP_OK);
	TU_CHECK(memcmp(a1, a2, sizeof a1) == 0);
	/* more clusters than blobs: NMI and ARI drop below 1 */
	struct sup_kmeans_opts o;
	sup_kmeans_opts_default(&o);
	o.k = 6;
	TU_CHECK(sup_eval_cluster(&s, &o, &r, NULL, NULL, 0) == SUP_OK);
	TU_CHECK(r.nmi < 0.95 && r.nmi > 0.5 && r.ari < 0.9);

	char err[160] = "";
	int32_t none[N];
	for (int i = 0; i < N; i++)
		none[i] = -1;
	s.labels = none;
	TU_CHECK(sup_eval_cluster(&s, NULL, &r, NULL, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "no labelled rows") != NULL);
	free(x);
}

int main(void)
{
	test_nmi_ari();
	test_kmeans_small();
	test_cluster_protocol();
	return tu_finish("eval/cluster");
}
