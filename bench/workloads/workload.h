/* The six reference workloads of shared/WORKLOADS.md. Each file in bench/workloads/ defines one
 * `const struct workload workload_wN`; driver.c times them. A step is forward + backward +
 * optimizer update on fixed random inputs drawn once. */
#ifndef SELFSUP_BENCH_WORKLOAD_H
#define SELFSUP_BENCH_WORKLOAD_H

#include "selfsup/autograd.h"
#include "selfsup/nn.h"
#include "selfsup/optim.h"

#include <stddef.h>

struct workload {
	const char *name;  /* "W1" */
	const char *title; /* "simclr-convnet" */
	/* Builds model, optimizer and inputs; returns the state, or NULL with a message in err. */
	void *(*setup)(uint64_t seed, char *err, size_t err_size);
	/* One step; c is reset by the driver after each step. Returns the loss (NaN on failure,
	 * with the reason in the context). */
	double (*step)(void *state, struct sup_ctx *c);
	void (*teardown)(void *state);
	/* Floating-point operations of one step, counted from the layer shapes (forward + backward). */
	double (*flops)(void);
};

#define WORKLOAD_LIST(X) X(w1) X(w2) X(w3) X(w4) X(w5) X(w6)
#define WORKLOAD_DECLARE(n) extern const struct workload workload_##n __attribute__((weak));
WORKLOAD_LIST(WORKLOAD_DECLARE)
#undef WORKLOAD_DECLARE

#endif
