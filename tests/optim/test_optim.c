/* Optimizers and schedules against hand-computed steps; convergence on a convex problem;
 * micro-batch gradient accumulation equals the full batch; EMA; clipping. */
#include "testutil.h"
#include "selfsup/optim.h"

#include <string.h>

/* A built model with one parameter "w" (values w0) and one NO_DECAY parameter "b". */
static void two_param_model(struct sup_model *m, const float *w0, int n)
{
	sup_model_init(m, sup_allocator_default());
	sup_model_add(m, "", "w", SUP_KIND_PARAM, 1, (const int64_t[]){ n }, SUP_INIT_ZEROS, 0, 0);
	sup_model_add(m, "", "b", SUP_KIND_PARAM, 1, (const int64_t[]){ n }, SUP_INIT_ZEROS, 0, SUP_PARAM_NO_DECAY);
	struct sup_rng r = sup_rng_make(0, 0);
	TU_CHECK(sup_model_build(m, &r) == SUP_OK);
	memcpy(sup_model_tensor(m, 0)->data, w0, sizeof(float) * (size_t)n);
	memcpy(sup_model_tensor(m, 1)->data, w0, sizeof(float) * (size_t)n);
}

static void set_grad(struct sup_model *m, int idx, const float *g, int n)
{
	memcpy(sup_model_tensor(m, idx)->grad, g, sizeof(float) * (size_t)n);
}

static float w_at(struct sup_model *m, int idx, int i)
{
	return ((float *)sup_model_tensor(m, idx)->data)[i];
}

static void test_sgd(void)
{
	struct sup_model m;
	const float w0[2] = { 1, 2 }, g[2] = { 0.5f, -1 };
	two_param_model(&m, w0, 2);
	struct sup_optim o;
	struct sup_optim_config cfg = { .kind = SUP_OPTIM_SGD, .momentum = 0.9, .weight_decay = 0.01 };
	TU_CHECK(sup_optim_init(&o, &m, &cfg) == SUP_OK);
	for (int s = 0; s < 2; s++) {
		set_grad(&m, 0, g, 2);
		sup_optim_step(&o, 0.1);
	}
	/* by hand: d1 = g + 0.01 w = (0.51, -0.98); w1 = (0.949, 2.098);
	 * d2 = (0.50949, -0.97902); buf2 = 0.9 d1 + d2 = (0.96849, -1.86102); w2 = w1 - 0.1 buf2 */
	TU_CHECK_NEAR(w_at(&m, 0, 0), 0.852151, 1e-6);
	TU_CHECK_NEAR(w_at(&m, 0, 1), 2.284102, 1e-6);
	sup_optim_deinit(&o);
	sup_model_deinit(&m);

	two_param_model(&m, w0, 2);
	cfg = (struct sup_optim_config){ .kind = SUP_OPTIM_SGD, .momentum = 0.9, .nesterov = true };
	sup_optim_init(&o, &m, &cfg);
	set_grad(&m, 0, g, 2);
	sup_optim_step(&o, 0.1);
	TU_CHECK_NEAR(w_at(&m, 0, 0), 1 - 0.1 * 1.9 * 0.5, 1e-6); /* d + m buf with buf = d */
	sup_optim_deinit(&o);
	sup_model_deinit(&m);
}

static void test_adam(void)
{
	struct sup_model m;
	const float w0[2] = { 1, 2 }, g[2] = { 0.5f, -1 };
	for (int k = 0; k < 2; k++) {
		two_param_model(&m, w0, 2);
		struct sup_optim o;
		struct sup_optim_config cfg = { .kind = k ? SUP_OPTIM_ADAMW : SUP_OPTIM_ADAM, .weight_decay = k ? 0.1 : 0 };
		sup_optim_init(&o, &m, &cfg);
		set_grad(&m, 0, g, 2);
		sup_optim_step(&o, 0.1);
		/* First Adam step moves by lr * sign(g) (bias-corrected m / sqrt(v) = g / |g|);
		 * AdamW first shrinks w by (1 - lr wd) = 0.99. */
		double s = k ? 0.99 : 1.0;
		TU_CHECK_NEAR(w_at(&m, 0, 0), s * 1 - 0.1, 1e-6);
		TU_CHECK_NEAR(w_at(&m, 0, 1), s * 2 + 0.1, 1e-6);
		/* Second step with the same gradient: m/(1-b1^2) = g, v/(1-b2^2) = g^2 -> again lr sign(g). */
		set_grad(&m, 0, g, 2);
		sup_optim_step(&o, 0.1);
		TU_CHECK_NEAR(w_at(&m, 0, 0), s * (s * 1 - 0.1) - 0.1, 1e-5);
		sup_optim_deinit(&o);
		sup_model_deinit(&m);
	}
}

static void test_lars(void)
{
	struct sup_model m;
	const float w0[2] = { 3, 4 }, g[2] = { 0.6f, 0.8f };
	two_param_model(&m, w0, 2);
	struct sup_optim o;
	struct sup_optim_config cfg = { .kind = SUP_OPTIM_LARS, .momentum = 0.9, .exclude_no_decay = true };
	sup_optim_init(&o, &m, &cfg);
	set_grad(&m, 0, g, 2);
	set_grad(&m, 1, g, 2);
	sup_optim_step(&o, 1.0);
	/* trust = 0.001 * ||w|| / ||g|| = 0.005 for w; the NO_DECAY parameter is not adapted. */
	TU_CHECK_NEAR(w_at(&m, 0, 0), 3 - 0.005 * 0.6, 1e-6);
	TU_CHECK_NEAR(w_at(&m, 0, 1), 4 - 0.005 * 0.8, 1e-6);
	TU_CHECK_NEAR(w_at(&m, 1, 0), 3 - 0.6, 1e-6);
	sup_optim_deinit(&o);
	sup_model_deinit(&m);
}

static void test_groups_and_clip(void)
{
	struct sup_model m;
	const float w0[2] = { 1, 1 }, g[2] = { 3, 4 };
	two_param_model(&m, w0, 2);
	struct sup_optim o;
	struct sup_optim_config cfg = { .kind = SUP_OPTIM_SGD };
	sup_optim_init(&o, &m, &cfg);
	int grp = sup_optim_add_group(&o, 10.0, 0.0);
	sup_optim_assign(&o, "b", grp);
	set_grad(&m, 0, g, 2);
	set_grad(&m, 1, g, 2);
	double norm = sup_clip_grad_norm(&m, 1.0);
	TU_CHECK_NEAR(norm, sqrt(50.0), 1e-5);
	TU_CHECK_NEAR(sup_model_tensor(&m, 0)->grad ? ((float *)sup_model_tensor(&m, 0)->grad)[0] : 0, 3 / sqrt(50.0), 1e-5);
	sup_optim_step(&o, 0.1);
	TU_CHECK_NEAR(w_at(&m, 0, 0), 1 - 0.1 * 3 / sqrt(50.0), 1e-5);
	TU_CHECK_NEAR(w_at(&m, 1, 0), 1 - 1.0 * 3 / sqrt(50.0), 1e-5);
	sup_optim_deinit(&o);
	sup_model_deinit(&m);
}

static void test_schedules(void)
{
	struct sup_schedule cos = { .kind = SUP_SCHED_COSINE, .base_lr = 1, .warmup = 10, .total_steps = 110, .final_lr = 0 };
	TU_CHECK_NEAR(sup_schedule_lr(&cos, 0), 0.1, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&cos, 9), 1.0, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&cos, 10), 1.0, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&cos, 60), 0.5, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&cos, 110), 0.0, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&cos, 500), 0.0, 1e-12);
	struct sup_schedule st = { .kind = SUP_SCHED_STEP, .base_lr = 1, .step_size = 30, .gamma = 0.1 };
	TU_CHECK_NEAR(sup_schedule_lr(&st, 29), 1.0, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&st, 30), 0.1, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&st, 65), 0.01, 1e-12);
	struct sup_schedule ms = { .kind = SUP_SCHED_MULTISTEP, .base_lr = 0.03, .gamma = 0.1, .milestones = { 60, 80 },
				   .n_milestones = 2 };
	TU_CHECK_NEAR(sup_schedule_lr(&ms, 0), 0.03, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&ms, 59), 0.03, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&ms, 60), 0.003, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&ms, 79), 0.003, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&ms, 80), 0.0003, 1e-12);
	TU_CHECK_NEAR(sup_schedule_lr(&ms, 1000), 0.0003, 1e-12);
}

/* min ||A w - b||^2 for a well-conditioned 3x3 A: every optimizer reaches w* = A^-1 b. */
static void test_convergence(void)
{
	const double A[3][3] = { { 2, 0.5, 0 }, { 0.5, 1.5, 0.2 }, { 0, 0.2, 1 } }, wstar[3] = { 1, -2, 0.5 };
	double b[3];
	for (int i = 0; i < 3; i++)
		b[i] = A[i][0] * wstar[0] + A[i][1] * wstar[1] + A[i][2] * wstar[2];
	const enum sup_optim_kind kinds[] = { SUP_OPTIM_SGD, SUP_OPTIM_ADAM, SUP_OPTIM_ADAMW };
	const double lrs[] = { 0.05, 0.05, 0.05 };
	for (int k = 0; k < 3; k++) {
		struct sup_model m;
		const float zero[3] = { 0, 0, 0 };
		two_param_model(&m, zero, 3);
		struct sup_optim o;
		struct sup_optim_config cfg = { .kind = kinds[k], .momentum = 0.9 };
		sup_optim_init(&o, &m, &cfg);
		float *w = sup_model_tensor(&m, 0)->data;
		for (int step = 0; step < 3000; step++) {
			double r[3];
			float g[3];
			for (int i = 0; i < 3; i++)
				r[i] = A[i][0] * w[0] + A[i][1] * w[1] + A[i][2] * w[2] - b[i];
			for (int j = 0; j < 3; j++)
				g[j] = (float)(2 * (A[0][j] * r[0] + A[1][j] * r[1] + A[2][j] * r[2]));
			sup_model_zero_grad(&m);
			set_grad(&m, 0, g, 3);
			sup_optim_step(&o, step < 2000 ? lrs[k] : lrs[k] * 0.1);
		}
		for (int j = 0; j < 3; j++)
			TU_CHECK_MSG(fabs(w[j] - wstar[j]) < 1e-3, "optimizer %d: w[%d] = %g, want %g", k, j, w[j], wstar[j]);
		sup_optim_deinit(&o);
		sup_model_deinit(&m);
	}
}

/* Gradients of two half batches (loss scaled by 1/2 each) add up to the full batch's. */
static void test_accumulation(void)
{
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	int wi = sup_model_add(&m, "", "w", SUP_KIND_PARAM, 2, (const int64_t[]){ 5, 3 }, SUP_INIT_NORMAL, 1.0, 0);
	struct sup_rng r = sup_rng_make(9, 9);
	sup_model_build(&m, &r);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ 8, 5 }, -1, 1);
	struct sup_tensor *gy = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ 8, 3 }, -1, 1);
	struct sup_tensor *W = sup_model_tensor(&m, wi);
	sup_backward_grad(&c, sup_matmul(&c, x, W, false, false), gy->data);
	float full[15];
	memcpy(full, W->grad, sizeof full);
	sup_model_zero_grad(&m);
	for (int half = 0; half < 2; half++) {
		struct sup_tensor *xh = sup_slice(&c, x, 0, 4 * half, 4 * half + 4, 1);
		struct sup_tensor *gh = sup_contiguous(&c, sup_slice(&c, gy, 0, 4 * half, 4 * half + 4, 1));
		TU_CHECK(sup_backward_grad(&c, sup_matmul(&c, xh, W, false, false), gh->data) == SUP_OK);
	}
	double worst = 0;
	for (int i = 0; i < 15; i++)
		worst = fmax(worst, fabs(((float *)W->grad)[i] - full[i]) / (1e-6 + fabs(full[i])));
	TU_CHECK_MSG(worst < 1e-5, "accumulated vs full batch: relative difference %g", worst);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

static void test_ema(void)
{
	struct sup_model a, b;
	const float wa[2] = { 1, 2 }, wb[2] = { 3, 6 };
	two_param_model(&a, wa, 2);
	two_param_model(&b, wb, 2);
	TU_CHECK(sup_model_ema(&a, &b, 0.99) == SUP_OK);
	TU_CHECK_NEAR(w_at(&a, 0, 0), 0.99 * 1 + 0.01 * 3, 1e-6);
	TU_CHECK_NEAR(w_at(&a, 1, 1), 0.99 * 2 + 0.01 * 6, 1e-6);
	struct sup_model c3;
	const float w3[3] = { 0, 0, 0 };
	two_param_model(&c3, w3, 3);
	TU_CHECK(sup_model_ema(&a, &c3, 0.5) == SUP_ERR_SHAPE);
	sup_model_deinit(&a);
	sup_model_deinit(&b);
	sup_model_deinit(&c3);
}

int main(void)
{
	test_sgd();
	test_adam();
	test_lars();
	test_groups_and_clip();
	test_schedules();
	test_convergence();
	test_accumulation();
	test_ema();
	return tu_finish("optim");
}
