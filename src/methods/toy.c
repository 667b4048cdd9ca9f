/* "toy": a denoising linear auto-encoder on feature vectors. A TEST FIXTURE, not a method of
 * the survey: it exists so that the driver (`selfsup train`), run folders, checkpoints and
 * bit-identical resume are tested before, and independently of, the real methods. It still
 * exercises everything a method may use that a resume must restore: parameters, optimizer
 * slots and step count (Adam), and the context RNG (the input noise).
 *
 *   x~ = x + noise * e,  e ~ N(0, I)      (denoising corruption, Vincent et al. 2008, sec. 2.3)
 *   h = W_e x~ + b_e,  x^ = W_d h + b_d,  loss = mean((x^ - x)^2)
 * encode(x) = W_e x + b_e. With noise 0 the optimum spans the top principal subspace
 * (Baldi & Hornik 1989), which the synthetic data set makes 2-dimensional. */
#include "selfsup/autograd.h"
#include "selfsup/method.h"

#include <stdlib.h>
#include <string.h>

/* A Linear layer in PyTorch's layout (weight [out, in], bias [out]), declared here with
 * sup_model_add rather than nn's sup_linear so that the fixture depends on the smallest part of
 * the engine (matmul, add, mse). */
struct toy_linear {
	int w, b;
};

struct toy {
	struct sup_model model;
	struct sup_optim optim;
	struct toy_linear enc, dec;
	double noise;
};

static void toy_linear_declare(struct toy_linear *l, struct sup_model *m, const char *prefix, int64_t in, int64_t out)
{
	l->w = sup_model_add(m, prefix, "weight", SUP_KIND_PARAM, 2, (const int64_t[]){out, in},
			     SUP_INIT_KAIMING_UNIFORM, 2.23606797749979, 0);
	l->b = sup_model_add(m, prefix, "bias", SUP_KIND_PARAM, 1, (const int64_t[]){out}, SUP_INIT_FAN_IN_UNIFORM, 0,
			     SUP_PARAM_NO_DECAY);
	if (l->b >= 0)
		sup_model_set_fans(m, l->b, in, out);
}

static struct sup_tensor *toy_linear_forward(struct sup_ctx *c, struct sup_model *m, const struct toy_linear *l,
					     struct sup_tensor *x)
{
	return sup_add(c, sup_matmul(c, x, sup_model_tensor(m, l->w), false, true), sup_model_tensor(m, l->b));
}

static const struct sup_cfg_key toy_keys[] = {
    {"code_dim", SUP_CFG_INT, "2", NULL, "size of the code (representation)", NULL, 0},
    {"noise", SUP_CFG_FLOAT, "0.1", NULL, "std of the Gaussian input corruption", "Vincent et al. 2008, sec. 2.3", 0},
    {"optim.kind", SUP_CFG_ENUM, "adam", "sgd|adam", "optimizer", NULL, 0},
    {"optim.momentum", SUP_CFG_FLOAT, "0.9", NULL, "SGD momentum", NULL, 0},
    {"optim.weight_decay", SUP_CFG_FLOAT, "0", NULL, "L2 weight decay", NULL, 0},
    {"lr", SUP_CFG_FLOAT, "0.05", NULL, "base learning rate", NULL, 0},
    {"epochs", SUP_CFG_INT, "3", NULL, "passes over the training set", NULL, 0},
    {"batch_size", SUP_CFG_INT, "64", NULL, "examples per optimizer step", NULL, 0},
    {"log_every", SUP_CFG_INT, "4", NULL, "optimizer steps between metrics.jsonl records", NULL, SUP_CFG_RUNCTL},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static void toy_free(void *state)
{
	struct toy *t = state;
	if (!t)
		return;
	sup_optim_deinit(&t->optim);
	sup_model_deinit(&t->model);
	free(t);
}

static enum sup_status toy_init(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size)
{
	*state = NULL;
	if (data->modality != SUP_MODALITY_VECTOR || data->dim < 1) {
		snprintf(err, err_size, "toy trains on feature vectors (data=synthetic), not on %s", data->name);
		return SUP_ERR_ARG;
	}
	int64_t k = sup_config_int(cfg, "code_dim");
	if (k < 1) {
		snprintf(err, err_size, "config key 'code_dim' must be >= 1, got %lld", (long long)k);
		return SUP_ERR_ARG;
	}
	struct toy *t = calloc(1, sizeof *t);
	if (!t)
		return SUP_ERR_NOMEM;
	t->noise = sup_config_float(cfg, "noise");
	sup_model_init(&t->model, sup_allocator_default());
	toy_linear_declare(&t->enc, &t->model, "encoder", data->dim, k);
	toy_linear_declare(&t->dec, &t->model, "decoder", k, data->dim);
	enum sup_status s = sup_model_build(&t->model, rng);
	struct sup_optim_config oc = {
	    .kind = sup_config_enum(cfg, "optim.kind") == 0 ? SUP_OPTIM_SGD : SUP_OPTIM_ADAM,
	    .momentum = sup_config_float(cfg, "optim.momentum"),
	    .weight_decay = sup_config_float(cfg, "optim.weight_decay"),
	};
	if (s == SUP_OK)
		s = sup_optim_init(&t->optim, &t->model, &oc);
	if (s != SUP_OK) {
		snprintf(err, err_size, "toy: %s", t->model.err_msg[0] ? t->model.err_msg : sup_status_str(s));
		toy_free(t);
		return s;
	}
	*state = t;
	return SUP_OK;
}

static int toy_parts(void *state, struct sup_ckpt_part *out, int cap)
{
	struct toy *t = state;
	if (cap < 1)
		return 0;
	out[0] = (struct sup_ckpt_part){"model", "", &t->model, &t->optim};
	return 1;
}

static enum sup_status toy_step(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				const struct sup_step_info *si, struct sup_step_stats *out)
{
	struct toy *t = state;
	struct sup_tensor *x = b->views[0], *xn = x;
	sup_model_set_training(&t->model, true);
	if (t->noise > 0) {
		struct sup_tensor *e = sup_tensor_new(c, SUP_F32, x->ndim, x->shape);
		if (e) {
			sup_tensor_fill_normal(e, &c->rng, 0.0, t->noise);
			xn = sup_add(c, x, e);
		}
	}
	struct sup_tensor *h = toy_linear_forward(c, &t->model, &t->enc, xn);
	struct sup_tensor *loss = sup_mse(c, toy_linear_forward(c, &t->model, &t->dec, h), x, SUP_REDUCE_MEAN);
	sup_model_zero_grad(&t->model);
	if (sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	sup_optim_step(&t->optim, si->lr);
	out->loss = sup_tensor_get(loss, 0);
	out->n = 0;
	return SUP_OK;
}

static struct sup_tensor *toy_features(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				       bool training)
{
	struct toy *t = state;
	sup_model_set_training(&t->model, training);
	return toy_linear_forward(c, &t->model, &t->enc, b->views[0]);
}

static struct sup_tensor *toy_encode(void *state, struct sup_ctx *c, const struct sup_method_batch *b)
{
	return sup_method_encode_with(toy_features, state, c, b);
}

const struct sup_method sup_method_toy = {
    .name = "toy",
    .family = "generative",
    .branch = "auto-encoding (test fixture)",
    .modalities = SUP_MODALITY_VECTOR,
    .paper = "denoising linear auto-encoder; Vincent et al. 2008 (test fixture)",
    .default_data = "synthetic",
    .fixture = true,
    .batch_kind = SUP_BATCH_VECTORS,
    .n_views = 1,
    .config = toy_keys,
    .init = toy_init,
    .parts = toy_parts,
    .train_step = toy_step,
    .on_epoch_end = NULL,
    .encode = toy_encode,
    .forward_features = toy_features,
    .sample = NULL,
    .free = toy_free,
};
