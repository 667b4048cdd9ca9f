/* NCE over a memory bank (src/losses/nce.c): the loss against a naive computation straight from
 * Wu et al.'s definitions (P, h, eq. 5-7), its gradients against finite differences, the Monte
 * Carlo estimate of Z (eq. 8) and its "estimate once" rule, the bank's momentum update, row
 * reads and uniform noise samples. */
#include "selfsup/losses.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* loss = (1/B) sum_b [-log h(pos_b) - sum_j log(1 - h(neg_j))], h = P / (P + m/n), P = e^(s/tau) / Z,
 * written with explicit loops and the unsimplified formulas. */
static double naive_nce(const struct sup_tensor *q, const struct sup_tensor *pos, const struct sup_tensor *neg,
			double tau, double z, int64_t n)
{
	int64_t B = q->shape[0], D = q->shape[1], M = neg->shape[0];
	double k = (double)M / (double)n, total = 0;
	for (int64_t b = 0; b < B; b++) {
		double s = 0;
		for (int64_t d = 0; d < D; d++)
			s += sup_tensor_get(q, b * D + d) * sup_tensor_get(pos, b * D + d);
		double p = exp(s / tau) / z;
		total -= log(p / (p + k));
		for (int64_t j = 0; j < M; j++) {
			double sn = 0;
			for (int64_t d = 0; d < D; d++)
				sn += sup_tensor_get(q, b * D + d) * sup_tensor_get(neg, j * D + d);
			double pn = exp(sn / tau) / z;
			total -= log(k / (pn + k)); /* 1 - h = m P_n / (P + m P_n), Wu et al. eq. 6 */
		}
	}
	return total / (double)B;
}

static void test_loss_values(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(11, 0);
	struct {
		int64_t B, D, M, n;
		double tau, z;
	} cases[] = {{3, 5, 4, 50, 0.5, 7.0}, {4, 8, 16, 1000, 0.07, 3e4}, {1, 2, 1, 2, 1.0, 0.3}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sup_tensor *q = tu_leaf(&c, &r, TU_SHAPE(cases[i].B, cases[i].D), -1, 1);
		struct sup_tensor *pos = tu_leaf(&c, &r, TU_SHAPE(cases[i].B, cases[i].D), -1, 1);
		struct sup_tensor *neg = tu_leaf(&c, &r, TU_SHAPE(cases[i].M, cases[i].D), -1, 1);
		struct sup_tensor *l = sup_nce_loss(&c, q, pos, neg, cases[i].tau, log(cases[i].z), cases[i].n);
		TU_CHECK(l && l->ndim == 0);
		double want = naive_nce(q, pos, neg, cases[i].tau, cases[i].z, cases[i].n);
		TU_CHECK_MSG(l && fabs(sup_tensor_get(l, 0) - want) <= 1e-9 * fmax(1, fabs(want)), "case %zu: %.12g vs %.12g",
			     i, l ? sup_tensor_get(l, 0) : NAN, want);
		/* f32 agrees to float precision. */
		struct sup_tensor *q32 = sup_tensor_to(&c, q, SUP_F32), *p32 = sup_tensor_to(&c, pos, SUP_F32),
				  *n32 = sup_tensor_to(&c, neg, SUP_F32);
		struct sup_tensor *l32 = sup_nce_loss(&c, q32, p32, n32, cases[i].tau, log(cases[i].z), cases[i].n);
		TU_CHECK(l32 && fabs(sup_tensor_get(l32, 0) - want) <= 1e-4 * fmax(1, fabs(want)));
	}
	/* Large similarities / tau do not overflow (the softplus form). */
	struct sup_tensor *q = sup_tensor_full(&c, SUP_F32, 2, (const int64_t[]){1, 1}, 1.0);
	struct sup_tensor *l = sup_nce_loss(&c, q, q, q, 0.001, log(2.0), 10);
	TU_CHECK(l && isfinite(sup_tensor_get(l, 0)) && sup_tensor_get(l, 0) > 900);
	/* Bad input is a sticky error, not a crash. */
	TU_CHECK(!sup_nce_loss(&c, q, q, sup_tensor_zeros(&c, SUP_F32, 2, (const int64_t[]){1, 2}), 0.1, 0, 10));
	TU_CHECK(sup_ctx_status(&c) == SUP_ERR_SHAPE);
	sup_ctx_deinit(&c);
}

struct gc_args {
	double tau, log_z;
	int64_t n;
};

static struct sup_tensor *gc_fn(struct sup_ctx *c, struct sup_tensor *const *in, void *user)
{
	const struct gc_args *a = user;
	return sup_nce_loss(c, in[0], in[1], in[2], a->tau, a->log_z, a->n);
}

static void test_gradients(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_rng r = sup_rng_make(12, 0);
	struct sup_tensor *in[3] = {tu_leaf(&c, &r, TU_SHAPE(3, 4), -1, 1), tu_leaf(&c, &r, TU_SHAPE(3, 4), -1, 1),
				    tu_leaf(&c, &r, TU_SHAPE(5, 4), -1, 1)};
	struct gc_args a = {0.3, log(40.0), 100};
	struct sup_gradcheck_report rep;
	enum sup_status st = sup_gradcheck(&c, gc_fn, &a, in, 3, NULL, &rep);
	TU_CHECK_MSG(st == SUP_OK && rep.ok && rep.checked == 12 + 12 + 20, "status %d, checked %lld, worst %g vs %g",
		     (int)st, (long long)rep.checked, rep.worst_analytic, rep.worst_numeric);
	sup_ctx_deinit(&c);
}

/* Wu et al. eq. 8 by explicit loops: (n / (B M)) sum_b sum_j exp(neg_j . q_b / tau). */
static double naive_z(const struct sup_tensor *q, const struct sup_tensor *neg, double tau, int64_t n)
{
	int64_t B = q->shape[0], M = neg->shape[0], D = q->shape[1];
	double acc = 0;
	for (int64_t b = 0; b < B; b++)
		for (int64_t j = 0; j < M; j++) {
			double s = 0;
			for (int64_t d = 0; d < D; d++)
				s += sup_tensor_get(q, b * D + d) * sup_tensor_get(neg, j * D + d);
			acc += exp(s / tau);
		}
	return (double)n * acc / (double)(B * M);
}

static void test_z(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 3);
	struct sup_rng r = sup_rng_make(13, 0);
	struct sup_tensor *q = tu_rand(&c, &r, SUP_F32, TU_SHAPE(4, 6), -1, 1);
	struct sup_tensor *neg = tu_rand(&c, &r, SUP_F32, TU_SHAPE(7, 6), -1, 1);
	const double want = naive_z(q, neg, 0.2, 500);

	/* The head estimates Z on its first forward only, and the loss uses it. */
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_nce l;
	TU_CHECK(sup_nce_declare(&l, &m, "nce", 0.2, 7) == 0);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	TU_CHECK(sup_nce_z(&m, &l) == 0);
	struct sup_tensor *loss = sup_nce_forward(&c, &m, &l, q, q, neg, 500);
	double z1 = sup_nce_z(&m, &l);
	TU_CHECK_NEAR(z1, want, 1e-5 * want);
	TU_CHECK(loss && fabs(sup_tensor_get(loss, 0) - naive_nce(q, q, neg, 0.2, z1, 500)) < 1e-4);
	struct sup_tensor *q2 = tu_rand(&c, &r, SUP_F32, TU_SHAPE(4, 6), -2, 2);
	sup_nce_forward(&c, &m, &l, q2, q2, neg, 500);
	TU_CHECK(sup_nce_z(&m, &l) == z1);
	/* Forgotten, Z is estimated again on the next forward, from that forward's batch. */
	sup_nce_forget_z(&m, &l);
	TU_CHECK(sup_nce_z(&m, &l) == 0);
	sup_nce_forward(&c, &m, &l, q2, q2, neg, 500);
	const double z2 = naive_z(q2, neg, 0.2, 500);
	TU_CHECK_NEAR(sup_nce_z(&m, &l), z2, 1e-5 * z2);
	TU_CHECK(fabs(z2 - z1) > 1e-3 * z1);
	/* f64 inputs (scores read through sup_tensor_get) give the same estimate. */
	sup_nce_forget_z(&m, &l);
	struct sup_tensor *q64 = sup_tensor_to(&c, q, SUP_F64);
	sup_nce_forward(&c, &m, &l, q64, q64, sup_tensor_to(&c, neg, SUP_F64), 500);
	TU_CHECK_NEAR(sup_nce_z(&m, &l), want, 1e-5 * want);
	TU_CHECK(m.entries[l.z].kind == SUP_KIND_BUFFER && strcmp(m.entries[l.z].name, "nce.z") == 0);
	sup_model_deinit(&m);
	sup_ctx_deinit(&c);
}

static void test_bank(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 4);
	struct sup_rng r = sup_rng_make(14, 0);
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_memory_bank bank;
	TU_CHECK(sup_memory_bank_declare(&bank, &m, "bank", 10, 4, 0.5) == 0);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	TU_CHECK(m.entries[bank.memory].kind == SUP_KIND_BUFFER && strcmp(m.entries[bank.memory].name, "bank.memory") == 0);
	float *mem = sup_model_tensor(&m, bank.memory)->data;
	double stdv = 1.0 / sqrt(4.0 / 3.0), mx = 0;
	for (int i = 0; i < 40; i++)
		mx = fmax(mx, fabs(mem[i]));
	TU_CHECK(mx <= stdv && mx > 0.3 * stdv);

	float before[40];
	memcpy(before, mem, sizeof before);
	/* Rows 3, 7 and 3 again: the second update of row 3 starts from the first one's result. */
	struct sup_tensor *idx = sup_tensor_new(&c, SUP_I64, 1, (const int64_t[]){3});
	((int64_t *)idx->data)[0] = 3;
	((int64_t *)idx->data)[1] = 7;
	((int64_t *)idx->data)[2] = 3;
	struct sup_tensor *rows = sup_memory_bank_rows(&c, &m, &bank, idx);
	TU_CHECK(rows && rows->shape[0] == 3 && rows->shape[1] == 4);
	TU_CHECK(rows && sup_tensor_get(rows, 4 + 2) == before[7 * 4 + 2] && sup_tensor_get(rows, 8 + 1) == before[13]);
	struct sup_tensor *f = tu_rand(&c, &r, SUP_F32, TU_SHAPE(3, 4), -1, 1);
	TU_CHECK(sup_memory_bank_update(&c, &m, &bank, f, idx) == SUP_OK);
	double want[2][4];
	for (int k = 0; k < 2; k++) { /* rows 7 (f row 1) and 3 (f rows 0 then 2) */
		int row = k == 0 ? 7 : 3;
		double v[4], ss = 0;
		for (int d = 0; d < 4; d++) {
			v[d] = 0.5 * before[row * 4 + d] + 0.5 * sup_tensor_get(f, (k == 0 ? 1 : 0) * 4 + d);
			ss += v[d] * v[d];
		}
		for (int d = 0; d < 4; d++)
			v[d] /= sqrt(ss);
		if (k == 1) {
			ss = 0;
			for (int d = 0; d < 4; d++) {
				v[d] = 0.5 * (float)v[d] + 0.5 * sup_tensor_get(f, 2 * 4 + d);
				ss += v[d] * v[d];
			}
			for (int d = 0; d < 4; d++)
				v[d] /= sqrt(ss);
		}
		memcpy(want[k], v, sizeof v);
	}
	double err = 0, untouched = 0;
	for (int d = 0; d < 4; d++) {
		err = fmax(err, fabs(mem[7 * 4 + d] - want[0][d]));
		err = fmax(err, fabs(mem[3 * 4 + d] - want[1][d]));
	}
	for (int i = 0; i < 10; i++)
		if (i != 3 && i != 7)
			for (int d = 0; d < 4; d++)
				untouched = fmax(untouched, fabs(mem[i * 4 + d] - before[i * 4 + d]));
	TU_CHECK_MSG(err < 1e-6, "update error %g", err);
	TU_CHECK(untouched == 0);

	/* An index outside the bank is an error, not a write. */
	((int64_t *)idx->data)[1] = 10;
	TU_CHECK(sup_memory_bank_update(&c, &m, &bank, f, idx) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);

	/* Noise samples: in range, a function of the RNG state, covering the bank. */
	struct sup_rng r1 = sup_rng_make(5, 9), r2 = r1;
	struct sup_tensor *s1 = sup_memory_bank_sample(&c, &r1, 10, 2000), *s2 = sup_memory_bank_sample(&c, &r2, 10, 2000);
	int count[10] = {0};
	bool same = true;
	for (int i = 0; i < 2000; i++) {
		int64_t v = ((int64_t *)s1->data)[i];
		TU_CHECK(v >= 0 && v < 10);
		count[v < 0 || v > 9 ? 0 : v]++;
		same = same && v == ((int64_t *)s2->data)[i];
	}
	TU_CHECK(same && r1.counter == r2.counter);
	for (int i = 0; i < 10; i++)
		TU_CHECK(count[i] > 140 && count[i] < 260);
	sup_model_deinit(&m);
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_loss_values();
	test_gradients();
	test_z();
	test_bank();
	return tu_finish("losses/nce");
}
