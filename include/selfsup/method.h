/* selfsup methods: the interface every self-supervised method implements, and the registry that
 * names them (DESIGN.md §4).
 *
 * Design rationale.
 * - A method is a table of callbacks plus what a generic driver needs to feed it: the batch
 *   kind it consumes and how many views of each example it wants. `selfsup train` knows nothing
 *   else about a method: it resolves the config (common keys + the method's schema), opens the
 *   data set, calls init, then loops train_step over batches, on_epoch_end after each epoch,
 *   and checkpoints the parts. Three shapes of training all fit:
 *     SimCLR  batch_kind IMAGES, n_views 2: views[0], views[1] are two augmentations [B,C,H,W];
 *     DGI     batch_kind GRAPH: one batch per epoch holding the whole graph (features + CSR);
 *     MLM     batch_kind TOKENS: views[0] is i64 [B, T]; the method masks (80/10/10) itself.
 * - train_step owns the whole update (views -> loss -> backward -> optimizer step), because the
 *   update rule is part of the recipe: GANs alternate two optimizers, MoCo/BYOL follow the step
 *   with an EMA, DeepCluster trains a head against fixed targets. The driver passes the learning
 *   rate of the step (from the run's schedule) and resets the step context afterwards.
 * - Everything that must survive a resume lives in the parts (parameters, buffers such as
 *   queues, memory banks and running statistics, optimizer slots) or in the context RNG, which
 *   the checkpoint saves. Data order and augmentations are a function of (seed, epoch, index),
 *   so the driver restarts an epoch in the middle by position alone. A method that keeps other
 *   state across steps breaks bit-identical resume; the toy method's test catches the generic
 *   parts of that contract.
 * - encode is what evaluation probes: representations [B, D] of the inputs (graphs: [N, D] for
 *   all nodes), computed without gradients in eval mode.
 * - forward_features is the same representation as a differentiable function of the parameters,
 *   in training or eval mode, for the protocols that train through the encoder (finetune). It is
 *   a separate callback, not a flag of encode, so that the many callers of encode keep the
 *   frozen contract, and so that a method whose representation cannot be trained end to end
 *   (features looked up in a table, a fixed random projection) simply leaves it NULL. A method
 *   that has it writes encode as sup_method_encode_with(its forward_features, ...): one code
 *   path for both, so the probed and the fine-tuned representation cannot drift apart.
 * - Configs: each method lists its keys with the paper's defaults and citations; it may also
 *   redefine a common key (lr, epochs, batch_size) to give the paper's default. */
#ifndef SELFSUP_METHOD_H
#define SELFSUP_METHOD_H

#include "selfsup/run.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Modalities a method applies to (bit set). */
enum sup_modality {
	SUP_MODALITY_IMAGE = 1u << 0,
	SUP_MODALITY_TEXT = 1u << 1,
	SUP_MODALITY_GRAPH = 1u << 2,
	SUP_MODALITY_VECTOR = 1u << 3, /* plain feature vectors (synthetic data, tabular) */
};

/* What one batch holds. */
enum sup_batch_kind {
	SUP_BATCH_IMAGES,  /* views[v]: f32 [B, C, H, W] in [0, 1] (augmented when the loader augments) */
	SUP_BATCH_TOKENS,  /* views[0]: i64 [B, T] token ids */
	SUP_BATCH_GRAPH,   /* views[0]: f32 [N, F] node features; graph: the adjacency */
	SUP_BATCH_VECTORS, /* views[v]: f32 [B, D] */
	SUP_BATCH_KIND_COUNT
};

#define SUP_METHOD_MAX_VIEWS 8
#define SUP_MAX_STATS	     8
#define SUP_MAX_PARTS	     4

/* One batch, borrowed until the next batch is made (tensors live in the step arena or in the
 * loader). labels are for evaluation and supervised baselines: a self-supervised train_step
 * must not read them. */
struct sup_method_batch {
	enum sup_batch_kind kind;
	int n_views;
	struct sup_tensor *views[SUP_METHOD_MAX_VIEWS];
	struct sup_tensor *labels;   /* i64 [B] (graphs: [N]), or NULL */
	struct sup_tensor *index;    /* i64 [B]: data-set index of each example (memory banks), or NULL */
	const struct sup_csr *graph; /* SUP_BATCH_GRAPH: adjacency [N, N] (normalised as the data set says) */
	/* SUP_BATCH_GRAPH: views[0] as a CSR [N, F] (f32), for sparse x dense products; or NULL. */
	const struct sup_csr *features;
};

/* What the data set looks like, for building models before the first batch. Fields that do not
 * apply to the modality are 0. */
struct sup_data_info {
	const char *name; /* "fashion-mnist", "synthetic", a path */
	enum sup_modality modality;
	int64_t n_examples; /* training examples (graphs: nodes) */
	int n_classes;	    /* labels for evaluation; 0 when unlabelled */
	int channels, height, width;
	int64_t dim; /* vectors: D; graphs: F */
	int64_t vocab_size, seq_len;
};

/* The step's situation, from the driver. */
struct sup_step_info {
	int64_t epoch;	     /* 0-based */
	int64_t step;	     /* optimizer steps done before this one, over the whole run */
	int64_t total_steps; /* epochs * steps per epoch */
	double lr;	     /* the scheduled learning rate for this step */
};

/* What a step reports: the loss and up to SUP_MAX_STATS named numbers (accuracy of the pretext
 * task, positive/negative similarity, ...); names are static strings. */
struct sup_step_stats {
	double loss;
	int n;
	const char *names[SUP_MAX_STATS];
	double values[SUP_MAX_STATS];
	/* Data-parallel runs (docs/dist.md): at log steps the driver logs every value averaged over
	 * the processes, which is the one-process value for a mean over this process's examples
	 * (equal shards) and for a value every process shares. A value that is a mean over a number
	 * of items that differs between processes (MLM's accuracy over its masked tokens) sets bit i
	 * of weighted and weights[i] to that number; the driver then logs sum(w v) / sum(w) over
	 * the processes (0 when the sum of w is 0). Ignored on one process. */
	unsigned weighted;
	double weights[SUP_MAX_STATS];
	/* Early stopping (DGI): the method asks the driver to end training once this step's epoch
	 * is done; the checkpoint then holds whatever parameters the method chose to keep. */
	bool stop;
};

struct sup_method {
	const char *name;	  /* registry key, lower case ("simclr") */
	const char *family;	  /* "generative", "contrastive", "generative-contrastive" */
	const char *branch;	  /* "instance discrimination", "auto-encoding", ... (DESIGN.md §1) */
	unsigned modalities;	  /* enum sup_modality bits */
	const char *paper;	  /* "Chen et al. 2020, A Simple Framework for Contrastive Learning..." */
	const char *default_data; /* data set used when data= is not given */
	bool fixture;		  /* a test fixture: hidden from `selfsup list` unless --all */
	/* train_step follows the data-parallel contract (docs/dist.md), so `mpirun -np K selfsup
	 * train` may run it: with c->comm of size K, the batch is this process's shard (B/K
	 * consecutive examples of the global batch of B), the step averages gradients over c->comm
	 * (sup_model_allreduce_grads) before the update, anything that couples examples across the
	 * batch (batch norm, negatives, queues, masks normalised by a count) is made global, and
	 * every process ends the step with the same parameters, buffers and c->rng. The result must
	 * match one process on the whole batch up to rounding. The driver refuses K > 1 otherwise. */
	bool data_parallel;
	enum sup_batch_kind batch_kind;
	int n_views;			  /* views per example the loader must make (1..SUP_METHOD_MAX_VIEWS) */
	const struct sup_cfg_key *config; /* the method's keys (NULL-key terminated), or NULL */

	/* Builds models, optimizers, queues for the data set; draws initial weights from rng.
	 * *state is the method's object. Errors (bad config combination, data set of the wrong
	 * modality) come back with a message. */
	enum sup_status (*init)(void **state, const struct sup_config *cfg, const struct sup_data_info *data,
				struct sup_rng *rng, char *err, size_t err_size);
	/* Data-parallel methods (may be NULL): the options that depend on the number of processes
	 * (K > 1), such as sub-batches that must split over them. The driver calls it before any file
	 * is written, on every process, so that a bad invocation fails at once and leaves no run
	 * folder. SUP_ERR_ARG with a message naming the option. */
	enum sup_status (*check_processes)(const struct sup_config *cfg, int processes, char *err, size_t err_size);
	/* The models to checkpoint, at most cap (<= SUP_MAX_PARTS); returns how many. */
	int (*parts)(void *state, struct sup_ckpt_part *out, int cap);
	/* One optimizer step on a batch. Uses c for the step's tensors (the driver resets it
	 * afterwards) and c->rng for its randomness. Returns the context's sticky status. */
	enum sup_status (*train_step)(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
				      const struct sup_step_info *si, struct sup_step_stats *out);
	/* After each epoch (may be NULL): re-clustering, bank refresh. */
	enum sup_status (*on_epoch_end)(void *state, struct sup_ctx *c, int64_t epoch);
	/* Representations [B, D] (f32, in c's arena) of views[0] of b; NULL with c's error set. */
	struct sup_tensor *(*encode)(void *state, struct sup_ctx *c, const struct sup_method_batch *b);
	/* The representation of encode as a differentiable function (may be NULL: the method's
	 * representation cannot be trained end to end). [B, D] f32 of views[0] of b (graphs:
	 * [N, D]), recorded on c's tape while c's grad mode is on, so that sup_backward reaches the
	 * parameters of the parts (parts()) it depends on. training true puts those models in
	 * training mode (batch-norm batch statistics, running statistics updated; dropout drawn
	 * from c->rng), false in eval mode. It only reads and writes what a forward pass does (no
	 * optimizer step, no memory-bank or queue update). encode(b) is exactly
	 * forward_features(b, false) under no-grad. */
	struct sup_tensor *(*forward_features)(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					       bool training);
	/* Generative methods (may be NULL): n samples (images [n,C,H,W] in [0,1] or tokens [n,T])
	 * continuing prompt (may be NULL), drawn from c->rng. */
	struct sup_tensor *(*sample)(void *state, struct sup_ctx *c, int64_t n, const char *prompt);
	/* Auto-encoders (may be NULL): the reconstructions of views[0] of b (images [B, C, H, W]),
	 * as images of the same shape with values in [0, 1]: the decoder's mean (the sigmoid of
	 * Bernoulli logits, a squared-error decoder's output clipped to [0, 1]) of the
	 * deterministic code (the VAE's mu(x), the VQ-VAE's quantised code). Eval mode, no
	 * gradients, no draws from c->rng, no change to any parameter or buffer; the tensor lives in
	 * c's arena. NULL with c's error set. `selfsup train` draws reconstructions.png with it. */
	struct sup_tensor *(*reconstruct)(void *state, struct sup_ctx *c, const struct sup_method_batch *b);
	/* Density and language models (may be NULL): the total negative log-likelihood in nats of
	 * the examples of b (views[0], eval mode, no gradients) and the number of dimensions they
	 * hold (pixels, bytes or tokens), for the nll / bpd / bits_per_byte protocols. */
	enum sup_status (*nll)(void *state, struct sup_ctx *c, const struct sup_method_batch *b, double *nats,
			       double *dims);
	void (*free)(void *state); /* NULL-safe on state */
};

/* The registry: every built-in method, in `selfsup list` order (fixtures included). */
int sup_method_count(void);
const struct sup_method *sup_method_at(int i);
/* By name (exact, case-sensitive); NULL when unknown. */
const struct sup_method *sup_method_find(const char *name);
/* The registered name closest to name (edit distance), for "did you mean"; NULL if none. */
const char *sup_method_suggest(const char *name);

/* An encode callback made of a forward_features callback: f(state, c, b, false) under no-grad.
 * Methods with forward_features implement encode with it (see the rationale at the top). */
typedef struct sup_tensor *(*sup_features_fn)(void *state, struct sup_ctx *c, const struct sup_method_batch *b,
					      bool training);
struct sup_tensor *sup_method_encode_with(sup_features_fn f, void *state, struct sup_ctx *c,
					  const struct sup_method_batch *b);

/* Short name of a batch kind / modality bit set ("image,text") into buf. */
const char *sup_batch_kind_name(enum sup_batch_kind k);
char *sup_modalities_str(char *buf, size_t size, unsigned modalities);

#ifdef __cplusplus
}
#endif
#endif
