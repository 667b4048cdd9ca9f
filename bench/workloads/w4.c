/* W4 gpt-char (shared/WORKLOADS.md): autoregressive byte language model (Radford et al. 2018,
 * GPT, §3.1 eq. 1): the W3 model with causal self-attention (additive mask), batch 16 x 256,
 * next-byte cross-entropy on every position. One random byte string of 257 per row is drawn
 * once; the inputs are bytes 0..255 and the targets bytes 1..256. */
#include "textlm.h"

enum { W4_B = 16, W4_T = 256 };

static void *w4_setup(uint64_t seed, char *err, size_t err_size)
{
	struct textlm *s = textlm_new(W4_B, W4_T, true, seed, sup_allocator_default(), err, err_size);
	if (!s)
		return NULL;
	struct sup_rng r = sup_rng_make(seed, 1);
	for (int64_t b = 0; b < W4_B; b++) {
		int64_t prev = (int64_t)sup_rng_below(&r, 256);
		for (int64_t t = 0; t < W4_T; t++) {
			const int64_t next = (int64_t)sup_rng_below(&r, 256);
			s->ids[b * W4_T + t] = prev;
			s->targets[b * W4_T + t] = next;
			prev = next;
		}
	}
	return s;
}

static double w4_step(void *state, struct sup_ctx *c)
{
	return textlm_step(state, c);
}

static double w4_flops(void)
{
	return textlm_flops(W4_B, W4_T);
}

const struct workload workload_w4 = { "W4", "gpt-char", w4_setup, w4_step, textlm_teardown, w4_flops };
