/* Learning-rate schedules: linear warm-up, then constant, cosine, step or milestone decay. */
#include "selfsup/optim.h"

#include <math.h>

#define PI 3.14159265358979323846

double sup_schedule_lr(const struct sup_schedule *s, int64_t step)
{
	if (step < s->warmup)
		return s->base_lr * (double)(step + 1) / (double)s->warmup;
	int64_t t = step - s->warmup;
	switch (s->kind) {
	case SUP_SCHED_COSINE: {
		int64_t span = s->total_steps - s->warmup;
		double p = span > 0 ? (double)t / (double)span : 1.0;
		p = p > 1.0 ? 1.0 : p;
		return s->final_lr + (s->base_lr - s->final_lr) * 0.5 * (1.0 + cos(PI * p));
	}
	case SUP_SCHED_STEP:
		return s->base_lr * pow(s->gamma, (double)(s->step_size > 0 ? t / s->step_size : 0));
	case SUP_SCHED_MULTISTEP: {
		int passed = 0;
		for (int i = 0; i < s->n_milestones && i < 4; i++)
			passed += step >= s->milestones[i];
		return s->base_lr * pow(s->gamma, (double)passed);
	}
	case SUP_SCHED_CONST:
	default: return s->base_lr;
	}
}
