/* selfsup optimizers and learning-rate schedules. An optimizer updates a model's parameter block
 * from its gradient block in one pass over the parameters; its state (momentum, Adam moments)
 * lives in slot blocks of the same layout. Gradient accumulation over micro-batches needs no
 * support here: backward adds into the gradient block, so run k backwards (each loss scaled by
 * 1/k), then one step, then zero the gradients. */
#ifndef SELFSUP_OPTIM_H
#define SELFSUP_OPTIM_H

#include "selfsup/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sup_optim_kind {
	SUP_OPTIM_SGD,   /* momentum, Nesterov, L2 weight decay (PyTorch's SGD) */
	SUP_OPTIM_LARS,  /* You, Gitman, Ginsburg 2017, eq. 6-7, with momentum, as SimCLR uses it */
	SUP_OPTIM_ADAM,  /* Kingma & Ba 2015, Algorithm 1; weight decay added to the gradient */
	SUP_OPTIM_ADAMW, /* Loshchilov & Hutter 2019, Algorithm 2: decoupled weight decay */
	SUP_OPTIM_KIND_COUNT
};

struct sup_optim_config {
	enum sup_optim_kind kind;
	double momentum;     /* SGD/LARS, e.g. 0.9 */
	bool nesterov;       /* SGD */
	double weight_decay; /* group 0's weight decay */
	double beta1, beta2, eps; /* Adam(W); 0 means 0.9, 0.999, 1e-8 */
	double trust_coef;   /* LARS eta; 0 means 0.001 */
	/* Parameters flagged SUP_PARAM_NO_DECAY (biases, norm scales) go to group 1: no weight
	 * decay and, for LARS, no trust-ratio adaptation (SimCLR appendix B.1). */
	bool exclude_no_decay;
};

#define SUP_OPTIM_MAX_GROUPS 8

struct sup_param_group {
	double lr_scale;
	double weight_decay;
	bool lars_adapt; /* LARS trust ratio on this group */
};

struct sup_optim {
	struct sup_optim_config cfg;
	struct sup_model *model;
	float *slot1, *slot2; /* momentum / first moment, second moment (same layout as params) */
	int64_t steps;        /* updates done (Adam bias correction) */
	struct sup_param_group groups[SUP_OPTIM_MAX_GROUPS];
	int n_groups;
	unsigned char *group_of; /* per model entry */
};

/* The model must be built. Group 0 = everything, group 1 = the NO_DECAY parameters when
 * cfg.exclude_no_decay. */
enum sup_status sup_optim_init(struct sup_optim *o, struct sup_model *m, const struct sup_optim_config *cfg);
void sup_optim_deinit(struct sup_optim *o);
/* Adds a group; returns its id or -1 when full. */
int sup_optim_add_group(struct sup_optim *o, double lr_scale, double weight_decay);
/* Moves every parameter whose name starts with prefix into group g (e.g. SimSiam's predictor). */
void sup_optim_assign(struct sup_optim *o, const char *prefix, int g);
/* One update with learning rate lr (times the group's lr_scale). Does not zero the gradients. */
void sup_optim_step(struct sup_optim *o, double lr);

/* Global L2 norm of the gradient block; when above max_norm, scales the gradients by
 * max_norm / (norm + 1e-6) (PyTorch's clip_grad_norm_). Returns the norm before clipping. */
double sup_clip_grad_norm(struct sup_model *m, double max_norm);

enum sup_schedule_kind { SUP_SCHED_CONST, SUP_SCHED_COSINE, SUP_SCHED_STEP, SUP_SCHED_MULTISTEP, SUP_SCHED_KIND_COUNT };

/* lr(step) for step = 0, 1, ...: linear warm-up base * (step + 1) / warmup over the first
 * `warmup` steps, then constant, cosine from base to final_lr at total_steps (SGDR without
 * restarts, Loshchilov & Hutter 2017), step decay base * gamma^floor((step - warmup) / step_size),
 * or milestone decay base * gamma^(number of milestones <= step) (PyTorch's MultiStepLR; the
 * milestones count steps from 0, warm-up included). */
struct sup_schedule {
	enum sup_schedule_kind kind;
	double base_lr;
	int64_t warmup;
	int64_t total_steps; /* cosine */
	double final_lr;     /* cosine */
	int64_t step_size;   /* step decay */
	double gamma;        /* step and milestone decay */
	int64_t milestones[4]; /* milestone decay: ascending; unused slots 0 after the last */
	int n_milestones;
};
double sup_schedule_lr(const struct sup_schedule *s, int64_t step);

#ifdef __cplusplus
}
#endif
#endif
