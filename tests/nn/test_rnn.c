/* GRU and LSTM: names and shapes, one step against gates computed by hand from the parameters,
 * the last state against the output sequence, gradchecks (two layers, given initial states). */
#include "nntest.h"

#include <string.h>

static double sigm(double v)
{
	return 1.0 / (1.0 + exp(-v));
}

/* Row `row` of W [rows, n] times v, plus both biases' entry. */
static double pre(const float *W, const float *Wh, const float *bi, const float *bh, int row, const float *x, int I,
		  const float *h, int H, double *hpart)
{
	double a = bi[row], b = bh[row];
	for (int i = 0; i < I; i++)
		a += (double)W[row * I + i] * x[i];
	for (int j = 0; j < H; j++)
		b += (double)Wh[row * H + j] * h[j];
	*hpart = b;
	return a;
}

static void build(struct sup_model *m, struct sup_rnn *r, bool lstm, int64_t I, int64_t H, int layers, uint64_t seed)
{
	sup_model_init(m, sup_allocator_default());
	if (lstm)
		TU_CHECK(sup_lstm_declare(r, m, "rnn", I, H, layers) == 0);
	else
		TU_CHECK(sup_gru_declare(r, m, "rnn", I, H, layers) == 0);
	struct sup_rng ri = sup_rng_make(seed, 0);
	TU_CHECK(sup_model_build(m, &ri) == SUP_OK);
}

static void test_one_step(bool lstm)
{
	enum { B = 2, I = 3, H = 4 };
	struct sup_model m;
	struct sup_rnn r;
	build(&m, &r, lstm, I, H, 1, lstm ? 1 : 2);
	const int G = lstm ? 4 : 3;
	const struct sup_tensor *wih = sup_model_tensor(&m, sup_model_find(&m, "rnn.weight_ih_l0"));
	const struct sup_tensor *whh = sup_model_tensor(&m, sup_model_find(&m, "rnn.weight_hh_l0"));
	TU_CHECK(wih->shape[0] == G * H && wih->shape[1] == I && whh->shape[0] == G * H && whh->shape[1] == H);
	TU_CHECK(sup_model_find(&m, "rnn.bias_ih_l0") >= 0 && sup_model_find(&m, "rnn.bias_hh_l0") >= 0);
	double bound = 1.0 / sqrt((double)H), mx = 0;
	for (int64_t i = 0; i < m.n_params; i++)
		mx = fmax(mx, fabs(m.params[i]));
	TU_CHECK(mx <= bound && mx > 0.8 * bound);
	const float *Wi = wih->data, *Wh = whh->data, *bi = sup_model_tensor(&m, r.b_ih[0])->data,
		    *bh = sup_model_tensor(&m, r.b_hh[0])->data;

	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng rr = sup_rng_make(9, 0);
	struct sup_tensor *x = tu_rand(&c, &rr, SUP_F32, TU_SHAPE(B, 1, I), -1, 1);
	struct sup_tensor *h0 = tu_rand(&c, &rr, SUP_F32, TU_SHAPE(1, B, H), -1, 1);
	struct sup_tensor *c0 = tu_rand(&c, &rr, SUP_F32, TU_SHAPE(1, B, H), -1, 1);
	struct sup_tensor *h_n = NULL, *c_n = NULL;
	struct sup_tensor *y = lstm ? sup_lstm_forward(&c, &m, &r, x, h0, c0, &h_n, &c_n)
				    : sup_gru_forward(&c, &m, &r, x, h0, &h_n);
	TU_CHECK(y && h_n && (!lstm || c_n) && y->shape[0] == B && y->shape[1] == 1 && y->shape[2] == H);
	double err = 0;
	for (int b = 0; y && h_n && b < B; b++) {
		const float *xb = (const float *)x->data + b * I, *hb = (const float *)h0->data + b * H;
		for (int j = 0; j < H; j++) {
			double hp[4], gx[4], want_h, want_c = 0;
			for (int k = 0; k < G; k++)
				gx[k] = pre(Wi, Wh, bi, bh, k * H + j, xb, I, hb, H, &hp[k]);
			if (lstm) { /* i, f, g, o */
				want_c = sigm(gx[1] + hp[1]) * ((const float *)c0->data)[b * H + j] +
					 sigm(gx[0] + hp[0]) * tanh(gx[2] + hp[2]);
				want_h = sigm(gx[3] + hp[3]) * tanh(want_c);
				err = fmax(err, fabs(sup_tensor_get(c_n, b * H + j) - want_c));
			} else { /* r, z, n */
				double rg = sigm(gx[0] + hp[0]), z = sigm(gx[1] + hp[1]), n = tanh(gx[2] + rg * hp[2]);
				want_h = (1 - z) * n + z * hb[j];
			}
			err = fmax(err, fabs(sup_tensor_get(y, b * H + j) - want_h));
			err = fmax(err, fabs(sup_tensor_get(h_n, b * H + j) - want_h));
		}
	}
	TU_CHECK_MSG(err < 1e-6, "%s one step: max error %g", lstm ? "lstm" : "gru", err);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* Zero initial state by default; h_n is the last output step; wrong-kind and shape errors. */
static void test_sequence(bool lstm)
{
	enum { B = 3, Tn = 5, I = 2, H = 3 };
	struct sup_model m;
	struct sup_rnn r;
	build(&m, &r, lstm, I, H, 2, 3);
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_rng rr = sup_rng_make(10, 0);
	struct sup_tensor *x = tu_rand(&c, &rr, SUP_F32, TU_SHAPE(B, Tn, I), -1, 1);
	struct sup_tensor *zeros = sup_tensor_zeros(&c, SUP_F32, 3, (const int64_t[]){ 2, B, H });
	struct sup_tensor *h_n = NULL, *y0, *y1;
	if (lstm) {
		y0 = sup_lstm_forward(&c, &m, &r, x, NULL, NULL, &h_n, NULL);
		y1 = sup_lstm_forward(&c, &m, &r, x, zeros, zeros, NULL, NULL);
	} else {
		y0 = sup_gru_forward(&c, &m, &r, x, NULL, &h_n);
		y1 = sup_gru_forward(&c, &m, &r, x, zeros, NULL);
	}
	TU_CHECK(y0 && y1 && h_n && h_n->shape[0] == 2 && h_n->shape[1] == B && h_n->shape[2] == H);
	TU_CHECK(y0 && y1 && memcmp(y0->data, y1->data, sizeof(float) * B * Tn * H) == 0);
	for (int b = 0; y0 && h_n && b < B; b++)
		for (int j = 0; j < H; j++)
			TU_CHECK(sup_tensor_get(h_n, (B + b) * H + j) == sup_tensor_get(y0, (b * Tn + Tn - 1) * H + j));
	TU_CHECK((lstm ? sup_gru_forward(&c, &m, &r, x, NULL, NULL) : sup_lstm_forward(&c, &m, &r, x, NULL, NULL, NULL, NULL)) == NULL);
	sup_ctx_clear_error(&c);
	struct sup_tensor *bad = sup_tensor_zeros(&c, SUP_F32, 3, (const int64_t[]){ 1, B, H });
	TU_CHECK((lstm ? sup_lstm_forward(&c, &m, &r, x, bad, NULL, NULL, NULL) : sup_gru_forward(&c, &m, &r, x, bad, NULL)) == NULL);
	TU_CHECK(sup_ctx_status(&c) == SUP_ERR_SHAPE && strstr(sup_ctx_error(&c), "h0"));
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

struct rnn_case {
	struct sup_model *m;
	struct sup_rnn *r;
	struct sup_tensor *x, *h0, *c0;
};

/* Output sequence and last states together, so every path is checked. */
static struct sup_tensor *rnn_fn(struct sup_ctx *c, struct sup_tensor *const *inputs, void *user)
{
	(void)inputs;
	struct rnn_case *k = user;
	struct sup_tensor *h_n = NULL, *c_n = NULL, *y;
	if (k->r->gates == 4)
		y = sup_lstm_forward(c, k->m, k->r, k->x, k->h0, k->c0, &h_n, &c_n);
	else
		y = sup_gru_forward(c, k->m, k->r, k->x, k->h0, &h_n);
	const int64_t flat = -1;
	struct sup_tensor *parts[3] = { sup_reshape(c, y, 1, &flat), sup_reshape(c, h_n, 1, &flat),
					c_n ? sup_reshape(c, c_n, 1, &flat) : NULL };
	return sup_concat(c, parts, c_n ? 3 : 2, 0);
}

static void test_gradcheck(bool lstm)
{
	struct sup_model m;
	struct sup_rnn r;
	build(&m, &r, lstm, 2, 3, 2, 4);
	double *store = nntest_model_to_f64(&m);
	struct sup_ctx c;
	tu_ctx(&c, 3);
	struct sup_rng rr = sup_rng_make(11, 0);
	struct rnn_case k = { .m = &m, .r = &r, .x = tu_leaf(&c, &rr, TU_SHAPE(2, 3, 2), -1, 1),
			      .h0 = tu_leaf(&c, &rr, TU_SHAPE(2, 2, 3), -1, 1) };
	if (lstm)
		k.c0 = tu_leaf(&c, &rr, TU_SHAPE(2, 2, 3), -1, 1);
	struct sup_tensor *xs[3] = { k.x, k.h0, k.c0 };
	nntest_gradcheck(&c, &m, rnn_fn, &k, xs, lstm ? 3 : 2, lstm ? "lstm" : "gru");
	sup_ctx_deinit(&c);
	free(store);
	sup_model_deinit(&m);
}

int main(void)
{
	for (int lstm = 0; lstm < 2; lstm++) {
		test_one_step(lstm);
		test_sequence(lstm);
		test_gradcheck(lstm);
	}
	return tu_finish("rnn");
}
