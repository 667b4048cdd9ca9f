/* W3 bert-mlm-mini (shared/WORKLOADS.md): masked language modelling (Devlin et al. 2019, BERT,
 * §3.1 "Task #1: Masked LM"). Batch 32 x 128 random bytes drawn once; 15% of the 4096 positions
 * (614) are chosen once, of which 80% become [MASK], 10% a random byte and 10% stay unchanged;
 * logits on every position, cross-entropy only on the chosen ones (ignore_index elsewhere). */
#include "textlm.h"

enum { W3_B = 32, W3_T = 128 };

static void *w3_setup(uint64_t seed, char *err, size_t err_size)
{
	struct textlm *s = textlm_new(W3_B, W3_T, false, seed, sup_allocator_default(), err, err_size);
	if (!s)
		return NULL;
	const int64_t N = W3_B * W3_T, n_masked = (int64_t)(0.15 * (double)N + 0.5);
	int64_t *perm = malloc(sizeof(int64_t) * (size_t)N);
	if (!perm) {
		snprintf(err, err_size, "out of memory");
		textlm_free(s);
		return NULL;
	}
	struct sup_rng r = sup_rng_make(seed, 1);
	for (int64_t i = 0; i < N; i++) {
		s->ids[i] = (int64_t)sup_rng_below(&r, 256);
		s->targets[i] = TEXTLM_IGNORE;
	}
	sup_rng_permutation(&r, perm, N);
	for (int64_t k = 0; k < n_masked; k++) {
		const int64_t i = perm[k];
		const double u = sup_rng_uniform(&r);
		s->targets[i] = s->ids[i];
		if (u < 0.8)
			s->ids[i] = TEXTLM_MASK;
		else if (u < 0.9)
			s->ids[i] = (int64_t)sup_rng_below(&r, 256);
	}
	free(perm);
	return s;
}

static double w3_step(void *state, struct sup_ctx *c)
{
	return textlm_step(state, c);
}

static double w3_flops(void)
{
	return textlm_flops(W3_B, W3_T);
}

const struct workload workload_w3 = { "W3", "bert-mlm-mini", w3_setup, w3_step, textlm_teardown, w3_flops };
