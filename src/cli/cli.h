/* Internal pieces of the `selfsup` program shared by its command files (not a public header). */
#ifndef SELFSUP_CLI_H
#define SELFSUP_CLI_H

#include "selfsup/method.h"

#include <stdio.h>

/* Exit statuses (docs/cli.md). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Each command: argv holds the arguments after the command name. */
int cli_cmd_demo(int argc, char **argv);
int cli_cmd_list(int argc, char **argv);
/* train takes the process group of a data-parallel run (dist.h; NULL: one process). */
struct sup_dist;
int cli_cmd_train(int argc, char **argv, struct sup_dist *dist);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_embed(int argc, char **argv);
int cli_cmd_sample(int argc, char **argv);
int cli_cmd_data(int argc, char **argv);

/* Prints "selfsup <cmd>: <message>" as one line on stderr; returns code. */
int cli_fail(int code, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool cli_is_help(const char *arg);
double cli_now(void); /* monotonic seconds */

/* ---- data sources ----------------------------------------------------------------------------
 * The driver's view of a data set: a number of examples and a way to make the batch of given
 * example indices. Loaders with augmentation plug in here as another source kind (the vision
 * loader of data.h once it lands); until then image views are the un-augmented images. */
struct cli_source {
	struct sup_data_info info;
	enum sup_batch_kind kind;
	int64_t n; /* examples in the chosen split */
	void *impl;
	/* Makes the batch of examples idx[0..n) with n_views views in c's arena. Views are a
	 * function of (seed, epoch, index) when the source augments. */
	enum sup_status (*get)(const struct cli_source *s, struct sup_ctx *c, const int64_t *idx, int64_t n,
			       int n_views, uint64_t seed, int64_t epoch, struct sup_method_batch *b);
	void (*free)(struct cli_source *s);
	/* Settings from the run's config (may be NULL): the graph source's edge split. */
	enum sup_status (*configure)(struct cli_source *s, const struct sup_config *cfg, char *err, size_t err_size);
};

/* Opens a registered name (fashion-mnist, synthetic) or a folder (IDX files) and the train or
 * test split. SUP_ERR_NOT_FOUND names what is missing. */
enum sup_status cli_source_open(struct cli_source *s, const char *data, bool train, char *err, size_t err_size);
void cli_source_close(struct cli_source *s);
/* Applies the run's config to an opened source (a no-op for most kinds). Call it after open,
 * before the first batch, with the config of the run that trains or trained the method. */
enum sup_status cli_source_configure(struct cli_source *s, const struct sup_config *cfg, char *err, size_t err_size);

/* Graph folders (source_graph.c). A name without '/' is looked up as planetoid/<name> in the
 * shared data folder (sup_shared_data_dir); otherwise data is a folder holding edge_index.npy.
 * resolve writes the folder into dir and says whether data names a graph. */
struct sup_graph;
struct sup_edge_split;
bool cli_graph_source_resolve(const char *data, char *dir, size_t size);
enum sup_status cli_graph_source_open(struct cli_source *s, const char *dir, char *err, size_t err_size);
/* The loaded graph (masks, labels) and the configured edge split; NULL when s is not a graph
 * source / no split is configured. */
const struct sup_graph *cli_graph_source_graph(const struct cli_source *s);
const struct sup_edge_split *cli_graph_source_split(const struct cli_source *s);
/* Image folders (source_image.c): IDX, CIFAR-10/100 binary, ImageFolder (root/<class>/ or
 * root/{train,test}/<class>/). Views are the plain images until augmentation is set. */
enum sup_status cli_source_open_image(struct cli_source *s, const char *dir, bool train, char *err, size_t err_size);
/* Training views for a method whose config has the key `aug.recipe` (recipe: none, simclr, instdisc,
 * mocov1, mocov2) and optionally aug.crop_min, aug.jitter, aug.blur: view v of example i in epoch
 * e is drawn from sup_aug_rng(seed, e, i, v). Only the training driver calls this; evaluation
 * sources stay un-augmented. Returns a CLI exit status with a message in err. */
int cli_source_augment_config(struct cli_source *s, const struct sup_config *cfg, int n_views, char *err,
			      size_t err_size);
/* Variants of image sources (source_image_variants.c): fashion-mnist-binary, binary:<data>. */
bool cli_source_is_variant(const char *data);
enum sup_status cli_source_variant_open(struct cli_source *s, const char *data, bool train, char *err, size_t err_size);
/* Which batch kinds a source kind can produce for a method (same kind only, for now). */
bool cli_source_fits(const struct cli_source *s, const struct sup_method *m);
/* Text sources (source_text.c): fortunes (packed rows; 90/10 split) and fortune-8 (labelled). */
bool cli_source_is_text(const char *data);
enum sup_status cli_source_open_text(struct cli_source *s, const char *data, bool train, char *err, size_t err_size);
/* The labelled set the feature protocols (linear, knn, cluster) use for data: fortunes ->
 * fortune-8; every other name maps to itself. */
const char *cli_source_labelled(const char *data);
/* The fortunes set in the tokens the config's `tokenizer` asks for (fortunes + bpe ->
 * fortunes-bpe, fortune-8-bpe + byte -> fortune-8); data itself when it is no fortunes set or the
 * method has no tokenizer key. Returns a static string or data. */
const char *cli_text_data_for(const struct sup_config *cfg, const char *data);
/* The fortunes set data in the tokens of the set a model was trained on (trained_on), so that a
 * checkpoint is evaluated in its own vocabulary; data itself when either is no fortunes set. */
const char *cli_text_data_like(const char *data, const char *trained_on);

/* ---- progress on stderr ------------------------------------------------------------------- */
struct cli_progress {
	bool tty, quiet;
	double t0, last_draw;
	int64_t step0, total;
	int64_t every; /* plain mode: a line every `every` steps */
};
void cli_progress_init(struct cli_progress *p, int64_t step0, int64_t total, int64_t every);
void cli_progress_update(struct cli_progress *p, int64_t epoch, int64_t epochs, int64_t step, double loss);
void cli_progress_done(struct cli_progress *p);

/* ---- training ------------------------------------------------------------------------------ */
/* Named metrics of the evaluation protocols (linear_acc, knn_acc, nmi, ...), fractions. */
#define CLI_MAX_METRICS 16
struct cli_metrics {
	int n;
	char names[CLI_MAX_METRICS][32];
	double values[CLI_MAX_METRICS];
};

struct cli_train_result {
	struct cli_metrics metrics; /* of train ... eval= */
	double final_loss, seconds;
	int64_t epochs, steps;
	char run_dir[1024], checkpoint[1100];
};

/* Trains one run of method m with the resolved config; resume (may be NULL) is an opened
 * checkpoint whose parts and position are restored. comm (NULL: one process) is the group of a
 * data-parallel run: every process calls this with the same config; each trains its shard of
 * every batch, and only rank 0 writes the run folder (out->run_dir is "" on the others).
 * Returns a CLI exit status; on failure a one-line message is in err. */
int cli_train_run(const struct sup_method *m, struct sup_config *cfg, const struct sup_safetensors *resume,
		  const struct sup_ckpt_meta *resume_meta, const struct sup_comm *comm, struct cli_train_result *out,
		  char *err, size_t err_size);

/* The PNG grids of a finished run of an image method into its run folder dir (train_grids.c):
 * samples.png when m has sample, reconstructions.png when m has reconstruct (test inputs when
 * data has a test split, then training inputs, each row followed by its reconstructions). A
 * no-op for other methods, other data or an empty dir. Call it after the last checkpoint.
 * Returns a CLI exit status; on failure a one-line message naming the file is in err. */
int cli_train_write_grids(const struct sup_method *m, void *state, const struct cli_source *train, const char *data,
			  const char *dir, char *err, size_t err_size);

/* Builds the config of method m: schema defaults, then (resume) the checkpoint's config with
 * run-control keys reset, then the YAML file, then the overrides. */
int cli_config_build(struct sup_config **out, const struct sup_method *m, const char *ckpt_yaml, const char *yaml_path,
		     char **overrides, int n_overrides, char *err, size_t err_size);

/* Opens a checkpoint, finds its method and rebuilds its config (eval, embed, sample). Returns a
 * CLI exit status. */
struct cli_loaded {
	const struct sup_method *method; /* NULL: the raw-input baseline (cli_encode_split flattens) */
	struct sup_config *cfg;
	void *state;
	struct sup_safetensors *st;
	struct sup_ckpt_meta meta;
};
int cli_load_checkpoint(struct cli_loaded *l, const char *path, char *err, size_t err_size);
/* Then: init the method for the data set and restore its parts from the checkpoint. */
int cli_loaded_build(struct cli_loaded *l, const struct sup_data_info *info, char *err, size_t err_size);
void cli_loaded_free(struct cli_loaded *l);
/* The representations (method encode, eval mode, no gradients) of every example of src in
 * data-set order: *emb [N, D] f32 and *lab [N] (NULL when unlabelled), both malloc'd. This is what
 * `embed` writes and what the evaluation protocols of src/eval/ take as features. */
int cli_encode_split(struct cli_loaded *l, const struct cli_source *src, int64_t batch, float **emb, int64_t *dim,
		     int64_t **lab, char *err, size_t err_size);
/* resume= may name a run folder: its checkpoint.safetensors. Writes the file path into buf. */
const char *cli_checkpoint_path(const char *arg, char *buf, size_t size);

/* Evaluation protocols available to `eval` and `train ... eval=` (eval_run.c). */
bool cli_eval_known(const char *protocol);
void cli_eval_list(FILE *f); /* " linear knn ..." */
/* Runs the comma-separated protocols on the checkpoint (a file or run folder) with data (NULL:
 * the data set it was trained on); appends their metrics to out. Returns a CLI exit status.
 * Two baselines take the checkpoint's place: "raw" (the flattened inputs as features; data
 * required) and "random" (method's randomly initialised model, config defaults and seed 0;
 * method required, data defaults to the method's). opts[0..n_opts) are evaluation options
 * ("finetune.epochs=2"), checked before anything runs; an option of a protocol not in the list
 * is an error. overrides[0..n_overrides) ("probe_layers=4") change the method's config (the
 * checkpoint's, or the baseline's defaults) before its model is built: keys that only steer
 * evaluation; a key that changes the model's shapes fails when the checkpoint is restored. */
int cli_eval_run(const char *protocols, const char *checkpoint, const char *data, const char *method,
		 char **opts, int n_opts, char **overrides, int n_overrides, struct cli_metrics *out, char *err,
		 size_t err_size);

/* Evaluation options: "KEY=VALUE" whose key starts with a protocol that takes options
 * ("finetune."; eval_finetune.c). cli_eval_check_options (eval_run.c): every option belongs to a
 * protocol of list, no key is unknown (the message names the closest valid one), every value
 * parses and is in range; a CLI exit status with the message naming the option. `train` calls it
 * before training, cli_eval_run before opening anything. */
bool cli_eval_is_option(const char *kv);
int cli_eval_check_options(const char *list, char **opts, int n_opts, char *err, size_t err_size);
int cli_finetune_check_options(char **kv, int n_kv, char *err, size_t err_size);
void cli_eval_options_help(FILE *f); /* every option with its defaults per modality and citation */
/* The finetune protocol on the train and test splits (for a graph: one source, its node masks)
 * with the options kv; the method's parts are left as they were. A CLI exit status. */
struct sup_finetune_result;
int cli_eval_finetune(struct cli_loaded *l, const struct cli_source *train, const struct cli_source *test, char **kv,
		      int n_kv, struct sup_finetune_result *r, char *err, size_t err_size);

#endif
