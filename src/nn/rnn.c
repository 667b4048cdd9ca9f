/* GRU (Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder", §2.3,
 * eq. 5-8, in PyTorch's variant where the reset gate multiplies (W_hn h + b_hn)) and LSTM
 * (Hochreiter & Schmidhuber 1997 with the forget gate of Gers et al. 2000; PyTorch's equations):
 *
 *   GRU:  r = s(W_ir x + b_ir + W_hr h + b_hr)     LSTM: i = s(W_ii x + b_ii + W_hi h + b_hi)
 *         z = s(W_iz x + b_iz + W_hz h + b_hz)           f = s(...f...), g = tanh(...g...), o = s(...o...)
 *         n = tanh(W_in x + b_in + r (W_hn h + b_hn))    c' = f c + i g
 *         h' = (1 - z) n + z h                           h' = o tanh(c')
 *
 * Parameters per layer l (PyTorch's names and layouts; gates stacked in the order above):
 * weight_ih_l{l} [G H, I_l], weight_hh_l{l} [G H, H], bias_ih_l{l} [G H], bias_hh_l{l} [G H],
 * G = 3 (GRU) or 4 (LSTM), all U(-1/sqrt(H), 1/sqrt(H)).
 *
 * The input projection of every time step is one matmul on the time-major input [T, B, I], so
 * step t's slice of it is contiguous; only the recurrent product runs inside the time loop. */
#include "selfsup/nn.h"

#include <math.h>
#include <stdio.h>

#define T(m, i) sup_model_tensor((m), (i))

static int rnn_declare(struct sup_rnn *r, struct sup_model *m, const char *prefix, int64_t input, int64_t hidden,
		       int layers, int gates)
{
	*r = (struct sup_rnn){ .input = input, .hidden = hidden, .layers = layers, .gates = gates };
	if (layers < 1 || layers > SUP_RNN_MAX_LAYERS || input < 1 || hidden < 1)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: recurrent layer needs input, hidden >= 1 and 1 to %d layers",
				      prefix, SUP_RNN_MAX_LAYERS);
	const double bound = 1.0 / sqrt((double)hidden);
	const int64_t G = gates * hidden;
	char name[SUP_NAME_MAX];
	for (int l = 0; l < layers; l++) {
		const int64_t in = l == 0 ? input : hidden;
		snprintf(name, sizeof name, "weight_ih_l%d", l);
		r->w_ih[l] = sup_model_add(m, prefix, name, SUP_KIND_PARAM, 2, (const int64_t[]){ G, in }, SUP_INIT_UNIFORM,
					   bound, 0);
		snprintf(name, sizeof name, "weight_hh_l%d", l);
		r->w_hh[l] = sup_model_add(m, prefix, name, SUP_KIND_PARAM, 2, (const int64_t[]){ G, hidden },
					   SUP_INIT_UNIFORM, bound, 0);
		snprintf(name, sizeof name, "bias_ih_l%d", l);
		r->b_ih[l] = sup_model_add(m, prefix, name, SUP_KIND_PARAM, 1, &G, SUP_INIT_UNIFORM, bound,
					   SUP_PARAM_NO_DECAY);
		snprintf(name, sizeof name, "bias_hh_l%d", l);
		r->b_hh[l] = sup_model_add(m, prefix, name, SUP_KIND_PARAM, 1, &G, SUP_INIT_UNIFORM, bound,
					   SUP_PARAM_NO_DECAY);
	}
	return m->err ? -1 : 0;
}

int sup_gru_declare(struct sup_rnn *r, struct sup_model *m, const char *prefix, int64_t input, int64_t hidden,
		    int layers)
{
	return rnn_declare(r, m, prefix, input, hidden, layers, 3);
}

int sup_lstm_declare(struct sup_rnn *r, struct sup_model *m, const char *prefix, int64_t input, int64_t hidden,
		     int layers)
{
	return rnn_declare(r, m, prefix, input, hidden, layers, 4);
}

/* Gate k of a [B, G H] pre-activation (a strided view). */
static struct sup_tensor *gate(struct sup_ctx *c, struct sup_tensor *g, int k, int64_t H)
{
	return sup_slice(c, g, 1, k * H, (k + 1) * H, 1);
}

/* One GRU step: gx = W_ih x + b_ih (precomputed), h [B, H] -> h'. */
static struct sup_tensor *gru_cell(struct sup_ctx *c, struct sup_tensor *gx, struct sup_tensor *gh,
				   struct sup_tensor *h, int64_t H)
{
	struct sup_tensor *r = sup_sigmoid(c, sup_add(c, gate(c, gx, 0, H), gate(c, gh, 0, H)));
	struct sup_tensor *z = sup_sigmoid(c, sup_add(c, gate(c, gx, 1, H), gate(c, gh, 1, H)));
	struct sup_tensor *n = sup_tanh(c, sup_add(c, gate(c, gx, 2, H), sup_mul(c, r, gate(c, gh, 2, H))));
	/* (1 - z) n + z h = n + z (h - n) */
	return sup_add(c, n, sup_mul(c, z, sup_sub(c, h, n)));
}

/* One LSTM step; *cell is updated. */
static struct sup_tensor *lstm_cell(struct sup_ctx *c, struct sup_tensor *gx, struct sup_tensor *gh,
				    struct sup_tensor **cell, int64_t H)
{
	struct sup_tensor *g = sup_add(c, gx, gh);
	struct sup_tensor *i = sup_sigmoid(c, gate(c, g, 0, H)), *f = sup_sigmoid(c, gate(c, g, 1, H));
	struct sup_tensor *gg = sup_tanh(c, gate(c, g, 2, H)), *o = sup_sigmoid(c, gate(c, g, 3, H));
	*cell = sup_add(c, sup_mul(c, f, *cell), sup_mul(c, i, gg));
	return sup_mul(c, o, sup_tanh(c, *cell));
}

/* Layer l's initial state from s0 [L, B, H] (or zeros). */
static struct sup_tensor *initial(struct sup_ctx *c, struct sup_tensor *s0, int l, enum sup_dtype dt, int64_t B,
				  int64_t H)
{
	if (!s0)
		return sup_tensor_zeros(c, dt, 2, (const int64_t[]){ B, H });
	return sup_reshape(c, sup_slice(c, s0, 0, l, l + 1, 1), 2, (const int64_t[]){ B, H });
}

static bool check_state(struct sup_ctx *c, const struct sup_rnn *r, const struct sup_tensor *s, int64_t B,
			const char *what)
{
	if (!s || (s->ndim == 3 && s->shape[0] == r->layers && s->shape[1] == B && s->shape[2] == r->hidden))
		return true;
	char got[64];
	sup_shape_str(got, sizeof got, s->ndim, s->shape);
	sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: %s must be [%d, %lld, %lld], got %s", r->gates == 3 ? "gru" : "lstm", what,
		     r->layers, (long long)B, (long long)r->hidden, got);
	return false;
}

/* Runs every layer; xs is time-major [T, B, I]. */
static struct sup_tensor *rnn_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_rnn *r,
				      struct sup_tensor *x, struct sup_tensor *h0, struct sup_tensor *c0,
				      struct sup_tensor **h_n, struct sup_tensor **c_n)
{
	const char *name = r->gates == 3 ? "gru" : "lstm";
	if (!x || c->err)
		return NULL;
	if (x->ndim != 3 || x->shape[2] != r->input || x->shape[1] < 1) {
		char got[64];
		sup_shape_str(got, sizeof got, x->ndim, x->shape);
		sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: input must be [B, T >= 1, %lld], got %s", name, (long long)r->input, got);
		return NULL;
	}
	const int64_t B = x->shape[0], Tn = x->shape[1], H = r->hidden;
	if (!check_state(c, r, h0, B, "h0") || !check_state(c, r, c0, B, "c0"))
		return NULL;
	struct sup_tensor **hs = sup_ctx_alloc(c, sizeof *hs * (size_t)Tn);
	struct sup_tensor *h_last[SUP_RNN_MAX_LAYERS], *c_last[SUP_RNN_MAX_LAYERS];
	if (!hs)
		return NULL;
	struct sup_tensor *seq = sup_permute(c, x, (const int[]){ 1, 0, 2 }); /* [T, B, I] */
	for (int l = 0; l < r->layers; l++) {
		struct sup_tensor *gx = sup_add(c, sup_matmul(c, seq, T(m, r->w_ih[l]), false, true), T(m, r->b_ih[l]));
		struct sup_tensor *h = initial(c, h0, l, x->dtype, B, H);
		struct sup_tensor *cell = r->gates == 4 ? initial(c, c0, l, x->dtype, B, H) : NULL;
		for (int64_t t = 0; t < Tn && !c->err; t++) {
			struct sup_tensor *gxt = sup_reshape(c, sup_slice(c, gx, 0, t, t + 1, 1), 2,
							     (const int64_t[]){ B, r->gates * H });
			struct sup_tensor *gh = sup_add(c, sup_matmul(c, h, T(m, r->w_hh[l]), false, true), T(m, r->b_hh[l]));
			h = r->gates == 3 ? gru_cell(c, gxt, gh, h, H) : lstm_cell(c, gxt, gh, &cell, H);
			hs[t] = h;
		}
		if (c->err)
			return NULL;
		h_last[l] = h;
		c_last[l] = cell;
		seq = sup_stack(c, hs, (int)Tn, 0); /* [T, B, H]: the next layer's input */
	}
	if (h_n)
		*h_n = sup_stack(c, h_last, r->layers, 0);
	if (c_n)
		*c_n = r->gates == 4 ? sup_stack(c, c_last, r->layers, 0) : NULL;
	return sup_contiguous(c, sup_permute(c, seq, (const int[]){ 1, 0, 2 }));
}

struct sup_tensor *sup_gru_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_rnn *r,
				   struct sup_tensor *x, struct sup_tensor *h0, struct sup_tensor **h_n)
{
	if (r->gates != 3) {
		sup_ctx_fail(c, SUP_ERR_ARG, "gru: module was declared as an LSTM");
		return NULL;
	}
	return rnn_forward(c, m, r, x, h0, NULL, h_n, NULL);
}

struct sup_tensor *sup_lstm_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_rnn *r,
				    struct sup_tensor *x, struct sup_tensor *h0, struct sup_tensor *c0,
				    struct sup_tensor **h_n, struct sup_tensor **c_n)
{
	if (r->gates != 4) {
		sup_ctx_fail(c, SUP_ERR_ARG, "lstm: module was declared as a GRU");
		return NULL;
	}
	return rnn_forward(c, m, r, x, h0, c0, h_n, c_n);
}
