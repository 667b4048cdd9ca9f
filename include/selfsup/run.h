/* selfsup runs: typed configs (YAML + key=value overrides), run logs (metrics.jsonl and
 * TensorBoard event files), checkpoints (safetensors with optimizer and RNG state) and plots
 * (SVG curves and scatter plots, PNG image grids, t-SNE).
 *
 * These are the io pieces the `selfsup` program and the methods share. Every fallible function
 * returns enum sup_status and writes a one-line message (no newline) into the caller's buffer
 * `err` of `err_size` bytes (NULL/0: no message). Nothing prints or exits. Formats and
 * guarantees: docs/cli.md. */
#ifndef SELFSUP_RUN_H
#define SELFSUP_RUN_H

#include "selfsup/base.h"
#include "selfsup/io.h"
#include "selfsup/optim.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- config schema ------------------------------------------------------------------------
 * A config is a flat set of typed keys named with dots ("optim.lr" is `lr` inside the mapping
 * `optim` of a YAML file). The schema fixes every key a run may set: its type, default, help
 * text and where the default comes from (paper, section), so that an unknown key or a bad value
 * is an error naming it instead of a silently ignored typo (Hydra's strict mode). */

enum sup_cfg_type { SUP_CFG_INT, SUP_CFG_FLOAT, SUP_CFG_BOOL, SUP_CFG_STRING, SUP_CFG_ENUM, SUP_CFG_TYPE_COUNT };

/* Run-control keys (where to write, what to resume, when to stop early) describe one
 * invocation, not the experiment: a resumed run does not inherit them from its checkpoint. */
#define SUP_CFG_RUNCTL 1u

struct sup_cfg_key {
	const char *key; /* [a-z0-9_] segments joined by '.'; NULL ends a schema array */
	enum sup_cfg_type type;
	const char *def;     /* default, written as on the command line ("0.3", "true", "cosine", "") */
	const char *choices; /* SUP_CFG_ENUM: "a|b|c"; NULL otherwise */
	const char *help;    /* one line */
	const char *cite;    /* where the default comes from ("SimCLR, Chen et al. 2020, App. B.1"), or NULL */
	unsigned flags;
};

/* The keys every `train` run has (data, epochs, steps, batch_size, lr, schedule, warmup_epochs,
 * seed, threads, out, eval, seeds, resume, log_every), terminated by a NULL key. */
const struct sup_cfg_key *sup_config_common_keys(void);

/* A resolved config: one value per schema key. Opaque; heap object. */
struct sup_config;

/* A config over the union of the given schemas (each NULL-key terminated), every key at its
 * default. A key in a later schema replaces the entry of an earlier one (a method's own default
 * for `lr` or `epochs`); its type must be the same. SUP_ERR_ARG for a malformed schema (bad key
 * name, a default that does not parse as its type, a type clash). */
enum sup_status sup_config_new(struct sup_config **out, const struct sup_cfg_key *const *schemas, int n_schemas,
			       char *err, size_t err_size);
void sup_config_free(struct sup_config *c); /* NULL-safe */

/* Sets one key from its text form. Errors: SUP_ERR_NOT_FOUND "unknown config key 'optim.lrr'
 * (did you mean 'optim.lr'?)", SUP_ERR_ARG "config key 'epochs' expects an integer, got 'ten'". */
enum sup_status sup_config_set(struct sup_config *c, const char *key, const char *value, char *err, size_t err_size);
/* One command-line override "a.b=value" (SUP_ERR_ARG without '='). */
enum sup_status sup_config_override(struct sup_config *c, const char *kv, char *err, size_t err_size);
/* Applies a YAML document: a mapping whose nested mappings name dotted keys; scalars only
 * (`~`/null sets a string key to ""). `origin` names the source in messages ("simclr.yaml").
 * Errors name the line: SUP_ERR_FORMAT for YAML syntax, sequences or non-mapping documents,
 * else as sup_config_set. */
enum sup_status sup_config_load_yaml(struct sup_config *c, const char *text, size_t len, const char *origin, char *err,
				     size_t err_size);
enum sup_status sup_config_load_yaml_file(struct sup_config *c, const char *path, char *err, size_t err_size);
/* Puts every key with flags & mask back to its default. */
void sup_config_reset_flagged(struct sup_config *c, unsigned mask);

/* The resolved config as YAML (nested mappings, schema order, each line commented with its help
 * text and citation); loading it into a fresh config of the same schema reproduces every value
 * bit for bit (floats are printed with the fewest digits that read back exactly). The string is
 * heap memory for free(); NULL when out of memory. */
char *sup_config_to_yaml(const struct sup_config *c);

/* Typed reads. Contract (aborts otherwise): the key exists with that type; enum keys read with
 * sup_config_str (or sup_config_enum: the index of the value in `choices`). */
int64_t sup_config_int(const struct sup_config *c, const char *key);
double sup_config_float(const struct sup_config *c, const char *key);
bool sup_config_bool(const struct sup_config *c, const char *key);
const char *sup_config_str(const struct sup_config *c, const char *key);
int sup_config_enum(const struct sup_config *c, const char *key);
bool sup_config_has(const struct sup_config *c, const char *key);

/* The schema as the config holds it (for help listings): key i of n. */
int sup_config_n_keys(const struct sup_config *c);
const struct sup_cfg_key *sup_config_key_at(const struct sup_config *c, int i);
/* The current value of key i as text (points into the config; valid until the next set). */
const char *sup_config_value_text(const struct sup_config *c, int i);

/* Levenshtein distance (for "did you mean"); exposed for tests. */
int sup_edit_distance(const char *a, const char *b);

/* ---- run logs -------------------------------------------------------------------------------- */

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), continuing from crc (0 to start). */
uint32_t sup_crc32c(uint32_t crc, const void *data, size_t n);
/* TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
uint32_t sup_crc32c_masked(const void *data, size_t n);
/* One TFRecord: length (u64 LE), masked CRC of the length, data, masked CRC of the data. Returns
 * the bytes written (n + 16) into out (capacity >= n + 16). */
size_t sup_tfrecord_frame(unsigned char *out, const void *data, size_t n);
/* A tensorflow.Event protobuf with wall_time, step and one Summary.Value{tag, simple_value}
 * (the scalars TensorBoard plots), or, with tag NULL, the file_version "brain.Event:2" event
 * that opens every event file. Returns the encoded length, or 0 when cap is too small. */
size_t sup_tb_encode_scalar(unsigned char *out, size_t cap, double wall_time, int64_t step, const char *tag,
			    float value);

/* A run folder's logs: metrics.jsonl (one JSON object per logged step or epoch) and one
 * TensorBoard event file. Heap object. */
struct sup_runlog;

/* Opens the logs in the existing folder dir (appending to metrics.jsonl when it exists, as a
 * resumed run does; a new event file per process as TensorBoard expects). */
enum sup_status sup_runlog_open(struct sup_runlog **out, const char *dir, char *err, size_t err_size);
/* Flushes and closes; returns the first write error met (the run's logs are then incomplete). */
enum sup_status sup_runlog_close(struct sup_runlog *lg, char *err, size_t err_size);

/* One record: `kind` ("step", "epoch", "eval") and integer fields go first, then the named
 * values; every value also becomes the TensorBoard scalar "<kind>/<name>" at `step`.
 * Non-finite values are written as JSON null. */
struct sup_metric {
	const char *name;
	double value;
};
void sup_runlog_write(struct sup_runlog *lg, const char *kind, int64_t epoch, int64_t step, double seconds,
		      const struct sup_metric *m, int n);

/* Writes s as a JSON string literal (quotes and escapes) to f. */
void sup_json_write_string(FILE *f, const char *s);
/* Writes v as a JSON number that reads back exactly, or null when not finite. */
void sup_json_write_number(FILE *f, double v);

/* ---- checkpoints ----------------------------------------------------------------------------
 * A checkpoint is one safetensors file: every part's parameters and buffers under their
 * PyTorch-style names (prefixed by the part's prefix), the optimizer slots as
 * "optim.slot1.<name>" / "optim.slot2.<name>", and string metadata: format, format_version,
 * method, config (YAML), data, epoch, step, epoch_step, epoch_loss_sum, rng (the context RNG's
 * key and counter), optim.steps.<part>. Files are written atomically (temporary file, fsync,
 * rename), so a crash leaves the previous checkpoint, never a partial one. */

#define SUP_CHECKPOINT_FORMAT  "selfsup-checkpoint"
#define SUP_CHECKPOINT_VERSION 1

/* One model of a method with its optimizer (NULL when it has none, as a momentum encoder). */
struct sup_ckpt_part {
	const char *name;   /* unique among a method's parts ("model", "momentum", "generator") */
	const char *prefix; /* prepended to tensor names, "" for the main model */
	struct sup_model *model;
	struct sup_optim *optim;
};

/* Where training stands. Strings point into the loaded file (valid until it is freed). */
struct sup_ckpt_meta {
	const char *method;
	const char *config_yaml;
	const char *data;
	int64_t epoch;	    /* epochs completed */
	int64_t step;	    /* optimizer steps completed in total */
	int64_t epoch_step; /* steps completed in the current epoch (0 after an epoch end) */
	double epoch_loss_sum;
	struct sup_rng rng;
};

enum sup_status sup_checkpoint_save(const char *path, const struct sup_ckpt_part *parts, int n_parts,
				    const struct sup_ckpt_meta *meta, char *err, size_t err_size);

/* Opens and checks a checkpoint (format, version, metadata present and well-formed). Messages
 * start with the path. On SUP_OK *st is the file (sup_safetensors_free) and *meta points into it. */
enum sup_status sup_checkpoint_open(struct sup_safetensors **st, struct sup_ckpt_meta *meta, const char *path,
				    char *err, size_t err_size);

/* Copies the file's tensors into the parts after checking that the names and shapes are exactly
 * those of the parts (missing or unexpected tensors, shape mismatches are SUP_ERR_SHAPE /
 * SUP_ERR_FORMAT naming the tensor); nothing is modified unless all checks pass. With
 * with_optim false the optimizer slots are neither required nor restored (evaluation). */
enum sup_status sup_checkpoint_restore(const struct sup_safetensors *st, const struct sup_ckpt_part *parts, int n_parts,
				       bool with_optim, char *err, size_t err_size);

/* ---- plots ------------------------------------------------------------------------------------ */

/* One curve: n points (x[i], y[i]); non-finite points are skipped. */
struct sup_plot_series {
	const char *name;
	const double *x, *y;
	int64_t n;
};

/* Training curves as SVG: one panel per series (its own y range), stacked. */
enum sup_status sup_plot_curves_svg(const char *path, const char *title, const struct sup_plot_series *s, int n,
				    char *err, size_t err_size);
/* A scatter plot of n points xy [n, 2] coloured by labels (NULL: one colour), as SVG. */
enum sup_status sup_plot_scatter_svg(const char *path, const char *title, const float *xy, const int64_t *labels,
				     int64_t n, char *err, size_t err_size);
/* A grid of images [N, C, H, W] (C = 1 or 3, float values clipped to [0, 1]) as an RGB PNG with
 * ncol images per row and 2-pixel white gaps. */
enum sup_status sup_plot_grid_png(const char *path, const struct sup_tensor *images, int ncol, char *err,
				  size_t err_size);
/* Exact t-SNE (van der Maaten & Hinton 2008) of x [n, d] into out [n, 2]: perplexity (capped at
 * (n - 1) / 3), iters gradient steps, initial map drawn from seed. O(n^2) time and memory: n is
 * at most 20000 (SUP_ERR_ARG beyond); subsample to a few thousand. Deterministic for a given
 * thread count. SUP_ERR_NOMEM when the n x n matrices do not fit. */
enum sup_status sup_tsne(float *out, const float *x, int64_t n, int64_t d, double perplexity, int iters, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
