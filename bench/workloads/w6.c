/* W6 vae-mlp (shared/WORKLOADS.md): the variational auto-encoder of Kingma & Welling, ICLR 2014
 * (sec. 2.4 reparameterisation, appendix B: the Gaussian KL in closed form, appendix C.2: the
 * Bernoulli MLP decoder), at the sizes of PyTorch's examples/vae:
 *   encoder 784 -> 400 ReLU, separate 400 -> 20 heads for mu and logvar (fc21, fc22);
 *   z = mu + exp(logvar / 2) * eps with fresh eps ~ N(0, I) every step (drawn inside the step);
 *   decoder 20 -> 400 ReLU -> 784 sigmoid;
 *   loss = BCE(reconstruction, x, sum) + KL(N(mu, exp(logvar)) || N(0, I)) summed; Adam lr 1e-3.
 * The sigmoid and the BCE are computed as one: BCE-with-logits on the decoder's pre-sigmoid
 * output is the same function as BCE(sigmoid(.)), without the log of a saturated sigmoid.
 * Input: B = 128 images of 784 values uniform in [0, 1), drawn once. */
#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { W6_B = 128, W6_IN = 784, W6_HID = 400, W6_Z = 20 };

struct w6 {
	struct sup_model m;
	struct sup_linear fc1, fc21, fc22, fc3, fc4;
	struct sup_optim o;
	bool opt_ready;
	float *x;
	struct sup_rng noise;
};

static void w6_teardown(void *state)
{
	struct w6 *s = state;
	if (!s)
		return;
	if (s->opt_ready)
		sup_optim_deinit(&s->o);
	sup_model_deinit(&s->m);
	free(s->x);
	free(s);
}

static void *w6_setup(uint64_t seed, char *err, size_t err_size)
{
	struct w6 *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	sup_model_init(&s->m, sup_allocator_default());
	sup_linear_declare(&s->fc1, &s->m, "fc1", W6_IN, W6_HID, true);
	sup_linear_declare(&s->fc21, &s->m, "fc21", W6_HID, W6_Z, true);
	sup_linear_declare(&s->fc22, &s->m, "fc22", W6_HID, W6_Z, true);
	sup_linear_declare(&s->fc3, &s->m, "fc3", W6_Z, W6_HID, true);
	sup_linear_declare(&s->fc4, &s->m, "fc4", W6_HID, W6_IN, true);
	struct sup_rng r = sup_rng_make(seed, 0);
	enum sup_status st = sup_model_build(&s->m, &r);
	const struct sup_optim_config oc = { .kind = SUP_OPTIM_ADAM };
	if (st == SUP_OK)
		st = sup_optim_init(&s->o, &s->m, &oc);
	s->opt_ready = st == SUP_OK;
	s->x = malloc(sizeof(float) * W6_B * W6_IN);
	if (st != SUP_OK || !s->x) {
		snprintf(err, err_size, "%s", s->m.err ? s->m.err_msg : "out of memory");
		w6_teardown(s);
		return NULL;
	}
	struct sup_rng ri = sup_rng_make(seed, 1);
	for (int64_t i = 0; i < W6_B * W6_IN; i++)
		s->x[i] = sup_rng_uniform(&ri);
	s->noise = sup_rng_make(seed, 2);
	return s;
}

static double w6_step(void *state, struct sup_ctx *c)
{
	struct w6 *s = state;
	struct sup_model *m = &s->m;
	struct sup_tensor *x = sup_tensor_wrap(c, SUP_F32, 2, (const int64_t[]){ W6_B, W6_IN }, s->x);
	struct sup_tensor *h = sup_relu(c, sup_linear_forward(c, m, &s->fc1, x));
	struct sup_tensor *mu = sup_linear_forward(c, m, &s->fc21, h);
	struct sup_tensor *logvar = sup_linear_forward(c, m, &s->fc22, h);
	struct sup_tensor *eps = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){ W6_B, W6_Z });
	if (eps)
		sup_tensor_fill_normal(eps, &s->noise, 0.0, 1.0);
	struct sup_tensor *z = sup_add(c, mu, sup_mul(c, eps, sup_exp(c, sup_mul_scalar(c, logvar, 0.5))));
	struct sup_tensor *logits = sup_linear_forward(c, m, &s->fc4, sup_relu(c, sup_linear_forward(c, m, &s->fc3, z)));
	struct sup_tensor *loss = sup_add(c, sup_bce_with_logits(c, logits, x, SUP_REDUCE_SUM),
					  sup_gaussian_kl(c, mu, logvar, SUP_REDUCE_SUM));
	sup_model_zero_grad(m);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return NAN;
	sup_optim_step(&s->o, 1e-3);
	return sup_tensor_get(loss, 0);
}

/* Multiply-adds x 2 of the five Linear layers, x 3 for forward + backward. */
static double w6_flops(void)
{
	const double macs = W6_IN * W6_HID + 2.0 * W6_HID * W6_Z + W6_Z * W6_HID + W6_HID * W6_IN;
	return 3.0 * 2.0 * W6_B * macs;
}

const struct workload workload_w6 = { "W6", "vae-mlp", w6_setup, w6_step, w6_teardown, w6_flops };
