/* selfsup data layer: data sets, augmentations and loaders for images, text and graphs. */
#ifndef SELFSUP_DATA_H
#define SELFSUP_DATA_H

#include "selfsup/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where Debian's dataset-fashion-mnist package puts the files. */
#define SUP_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Reads an IDX file of unsigned bytes (gzip-compressed or plain; zlib reads both) into a u8
 * tensor whose data is one heap block from `alloc` (free it with sup_free(alloc, t->data)).
 * Errors: SUP_ERR_IO (cannot open/read), SUP_ERR_FORMAT (bad magic, dtype other than ubyte, too
 * many dimensions, truncated data, trailing bytes), with a one-line message in err. */
enum sup_status sup_idx_load(const char *path, const struct sup_allocator *alloc, struct sup_tensor *out,
			     char *err, size_t err_size);

/* An image classification set held in memory: images u8 [N, C, H, W], labels u8 [N]. */
struct sup_image_set {
	struct sup_tensor images;
	struct sup_tensor labels;
	int n_classes;
	/* n_classes names (ImageFolder sub-folders) in one allocator block, or NULL. */
	char **class_names;
};

/* Loads the train or test split of an IDX folder in the MNIST naming
 * (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...). */
enum sup_status sup_image_set_load_idx(struct sup_image_set *set, const char *dir, bool train,
				       const struct sup_allocator *alloc, char *err, size_t err_size);
void sup_image_set_free(struct sup_image_set *set, const struct sup_allocator *alloc);

/* ---- vision: more formats, augmentations, multi-view batches, loader (src/data/vision*.c, augment.c, loader.c) */

/* Label value of samples without one (STL-10's unlabeled split). */
#define SUP_LABEL_NONE 255

/* CIFAR binary batches (https://www.cs.toronto.edu/~kriz/cifar.html): records of label byte(s)
 * then 3072 pixel bytes (R plane, G plane, B plane, each 32x32 row-major). CIFAR-10 records have
 * one label byte; CIFAR-100 records have coarse then fine label. */
enum sup_cifar_kind { SUP_CIFAR10, SUP_CIFAR100_FINE, SUP_CIFAR100_COARSE, SUP_CIFAR_KIND_COUNT };

/* Concatenates the records of n_paths files into set (images [N, 3, 32, 32]). Errors name the
 * file: SUP_ERR_IO (cannot open/read), SUP_ERR_FORMAT (size not a whole number of records, empty,
 * label out of range). n_classes is 10, 100 or 20 by kind. */
enum sup_status sup_image_set_load_cifar_files(struct sup_image_set *set, const char *const *paths, int n_paths,
					       enum sup_cifar_kind kind, const struct sup_allocator *alloc,
					       char *err, size_t err_size);
/* The standard file names in dir: CIFAR-10 data_batch_1..5.bin / test_batch.bin; CIFAR-100
 * train.bin / test.bin. */
enum sup_status sup_image_set_load_cifar(struct sup_image_set *set, const char *dir, bool train,
					 enum sup_cifar_kind kind, const struct sup_allocator *alloc, char *err,
					 size_t err_size);

/* STL-10 binary (stl10_binary/): <split>_X.bin holds images [N, 3, 96, 96] stored column-major
 * per channel (each plane is W x H, MATLAB order; we transpose to row-major), <split>_y.bin holds
 * labels 1..10 (we store 0..9). The unlabeled split has no _y file: labels are SUP_LABEL_NONE. */
enum sup_stl10_split { SUP_STL10_TRAIN, SUP_STL10_TEST, SUP_STL10_UNLABELED, SUP_STL10_SPLIT_COUNT };
enum sup_status sup_image_set_load_stl10(struct sup_image_set *set, const char *dir, enum sup_stl10_split split,
					 const struct sup_allocator *alloc, char *err, size_t err_size);

/* ImageFolder (torchvision's layout): root/<class>/<file>.png|.jpg|.jpeg (case-insensitive);
 * classes are the sub-folders in strcmp order, labels their rank, files sorted likewise; other
 * files are skipped. Every image is converted to `channels` (1: luma 0.299R+0.587G+0.114B,
 * 3: RGB; transparency is composited onto black; 0: the first image's count, 1 or 3) and must be height x width
 * (0, 0: the first image's size; otherwise a differing image is resized bilinearly).
 * set->class_names gets the folder names. Errors name the file: SUP_ERR_NOT_FOUND (no classes or
 * no images), SUP_ERR_FORMAT (corrupt/truncated PNG or JPEG, a size mismatch), SUP_ERR_IO. */
struct sup_image_folder_opts {
	int channels;
	int height, width;
};
enum sup_status sup_image_set_load_folder(struct sup_image_set *set, const char *root,
					  const struct sup_image_folder_opts *opts, const struct sup_allocator *alloc,
					  char *err, size_t err_size);

/* Per-channel mean and (population) standard deviation of the pixel values scaled to [0, 1];
 * mean and std have images.shape[1] entries. */
void sup_image_set_stats(const struct sup_image_set *set, float *mean, float *std);

/* u8 pixels to floats in [0, 1] (x / 255). */
void sup_image_u8_to_float(float *dst, const uint8_t *src, int64_t n);

/* Writes images f32 [N, C, H, W] (C = 1 or 3, values clamped to [0, 1]) as one 8-bit PNG:
 * a grid of `ncols` columns with a 2-pixel grey border between tiles. SUP_ERR_ARG/SHAPE/DTYPE for
 * a bad tensor, SUP_ERR_IO when the file cannot be written (err names it). */
enum sup_status sup_png_write_grid(const char *path, const struct sup_tensor *images, int ncols, char *err,
				   size_t err_size);

/* ---- augmentations (src/data/augment*.c) ----
 * Images are contiguous float [C, H, W] in [0, 1]. Every random choice of sample `index`, view
 * `view`, epoch `epoch` under run seed `seed` comes from its own counter-based stream
 * (sup_aug_rng), so an augmented sample does not depend on which thread made it or in what order. */
struct sup_image {
	float *data;
	int c, h, w;
};

/* The stream of one (seed, epoch, sample, view); step s of a transform draws from
 * sup_rng_make(rng.key, s), so changing one step's parameters does not move another's draws. */
struct sup_rng sup_aug_rng(uint64_t seed, int64_t epoch, int64_t index, int view);

enum sup_aug_kind {
	SUP_AUG_RESIZED_CROP, /* random resized crop to out_h x out_w (torchvision RandomResizedCrop) */
	SUP_AUG_CENTER_CROP,  /* centre crop to out_h x out_w (no randomness) */
	SUP_AUG_HFLIP,        /* mirror left-right (with probability p) */
	SUP_AUG_COLOR_JITTER, /* brightness, contrast, saturation, hue in random order */
	SUP_AUG_GRAYSCALE,    /* luma into every channel (keeps C) */
	SUP_AUG_BLUR,         /* Gaussian blur, sigma uniform in [sigma_lo, sigma_hi] */
	SUP_AUG_SOLARIZE,     /* x >= threshold -> 1 - x */
	SUP_AUG_ROTATE90,     /* rotate by k * 90 degrees counter-clockwise (square images) */
	SUP_AUG_NORMALIZE,    /* (x - mean[c]) / std[c]; no randomness */
	SUP_AUG_TO_LAB,       /* sRGB -> CIE L*a*b* (D65): L in [0, 100], a, b about [-128, 127] */
	SUP_AUG_KIND_COUNT
};

#define SUP_AUG_MAX_STEPS 12
#define SUP_MAX_VIEWS 8

/* One step of a transform. p is the probability that the step runs at all (RandomApply; for
 * HFLIP and GRAYSCALE it is their usual p). Only the fields of the step's kind are read. */
struct sup_aug_step {
	enum sup_aug_kind kind;
	float p;
	int out_h, out_w;                          /* crops */
	float scale_lo, scale_hi, ratio_lo, ratio_hi; /* RESIZED_CROP: area fraction, aspect w/h */
	float brightness, contrast, saturation, hue; /* COLOR_JITTER: torchvision ranges, hue <= 0.5 */
	int kernel;                                /* BLUR: odd size; 0 = about 10% of min(H, W) */
	float sigma_lo, sigma_hi;                  /* BLUR */
	float threshold;                           /* SOLARIZE */
	int rot_k;                                 /* ROTATE90: 0..3, or -1 = the view index mod 4 (RotNet), -2 = random */
	float mean[4], std[4];                     /* NORMALIZE, per channel */
};

/* A transform: u8 -> float, then the steps in order. */
struct sup_transform {
	int n_steps;
	struct sup_aug_step steps[SUP_AUG_MAX_STEPS];
};

/* K views of every sample, view k made by views[k] (equal transforms for SimCLR/MoCo). */
struct sup_multiview {
	int n_views;
	struct sup_transform views[SUP_MAX_VIEWS];
};

/* Step constructors with the usual defaults (p = 1 unless the name says otherwise). */
struct sup_aug_step sup_aug_resized_crop(int out_h, int out_w); /* scale (0.08, 1), ratio (3/4, 4/3) */
struct sup_aug_step sup_aug_center_crop(int out_h, int out_w);
struct sup_aug_step sup_aug_hflip(float p);
struct sup_aug_step sup_aug_color_jitter(float brightness, float contrast, float saturation, float hue, float p);
struct sup_aug_step sup_aug_grayscale(float p);
struct sup_aug_step sup_aug_blur(int kernel, float sigma_lo, float sigma_hi, float p);
struct sup_aug_step sup_aug_solarize(float threshold, float p);
struct sup_aug_step sup_aug_rotate90(int rot_k);
struct sup_aug_step sup_aug_normalize(int channels, const float *mean, const float *std);
struct sup_aug_step sup_aug_to_lab(void);

/* Appends a step; SUP_ERR_ARG when the transform is full. */
enum sup_status sup_transform_add(struct sup_transform *t, struct sup_aug_step step);

/* SimCLR's recipe (Chen et al. 2020, appendix A): resized crop to size x size, flip 0.5, colour
 * jitter (0.8s, 0.8s, 0.8s, 0.2s) applied with p 0.8, grayscale 0.2; blur (p 0.5) only when
 * `blur` (the paper's ImageNet recipe; it leaves it out for CIFAR). Two equal views. */
void sup_multiview_simclr(struct sup_multiview *mv, int size, float strength, bool blur);

/* Output shape of t on a c x h x w input, and the scratch floats sup_transform_apply needs.
 * SUP_ERR_ARG/SHAPE (message in err) for an invalid step or a shape it cannot take. */
enum sup_status sup_transform_check(const struct sup_transform *t, int c, int h, int w, int *out_c, int *out_h,
				    int *out_w, size_t *scratch_floats, char *err, size_t err_size);

/* Applies t to one u8 image [c, h, w] into out (out->data sized by sup_transform_check; out's
 * c, h, w are set). scratch has scratch_floats floats. rng is the sample's stream (sup_aug_rng),
 * view its view index (read by ROTATE90 with rot_k -1). t must have passed sup_transform_check. */
void sup_transform_apply(const struct sup_transform *t, const uint8_t *in, int c, int h, int w,
			 struct sup_image *out, float *scratch, struct sup_rng rng, int view);

/* ---- single operations (the steps call these; tests and methods may too) ---- */

/* torchvision RandomResizedCrop.get_params: ten tries of (area fraction, log-uniform aspect),
 * then the centre crop of the clamped aspect. Writes the box top, left, height, width. */
void sup_aug_crop_params(struct sup_rng *rng, int h, int w, float scale_lo, float scale_hi, float ratio_lo,
			 float ratio_hi, int *top, int *left, int *ch, int *cw);
/* Bilinear resize of the box (top, left, ch, cw) of in to out->h x out->w (align_corners=False,
 * no antialiasing); out->c = in->c. */
void sup_image_resize_box(struct sup_image *out, const struct sup_image *in, int top, int left, int ch, int cw);

/* The factors a colour jitter draws: order[i] is the i-th adjustment applied
 * (0 brightness, 1 contrast, 2 saturation, 3 hue); a factor of 1 (0 for hue) is no change. */
struct sup_jitter_draw {
	int order[4];
	float brightness, contrast, saturation, hue;
};
void sup_aug_jitter_params(struct sup_rng *rng, const struct sup_aug_step *jitter, struct sup_jitter_draw *d);
/* Applies drawn factors in place (torchvision functional semantics, clamped to [0, 1]); for C = 1
 * saturation and hue change nothing. */
void sup_image_color_jitter(struct sup_image *img, const struct sup_jitter_draw *d);
void sup_image_grayscale(struct sup_image *img);
void sup_image_hflip(struct sup_image *img);
/* Separable Gaussian blur with reflect padding; tmp has c*h*w floats. kernel odd, >= 1. */
void sup_image_blur(struct sup_image *img, float *tmp, int kernel, float sigma);
void sup_image_solarize(struct sup_image *img, float threshold);
/* out = in rotated k * 90 degrees counter-clockwise (torch.rot90(x, k, dims=(1, 2))). */
void sup_image_rotate90(struct sup_image *out, const struct sup_image *in, int k);

/* sRGB in [0, 1] <-> CIE L*a*b* under D65 (in place; 3 channels). */
void sup_image_rgb_to_lab(struct sup_image *img);
void sup_image_lab_to_rgb(struct sup_image *img);

/* ---- patch tasks ---- */

/* Relative patch position (Doersch, Gupta, Efros, ICCV 2015, section 3): the image is split
 * into a 3x3 grid of cells of size (min(H, W) / 3); each patch is `patch` pixels (patch + gap <=
 * cell leaves the gap the paper uses against trivial edge continuity), placed in its cell with up
 * to `jitter` pixels of random offset. Writes the centre patch and one of its 8 neighbours
 * (c x patch x patch each) and returns the neighbour's label 0..7 (row-major, centre skipped). */
int sup_aug_patch_pair(const struct sup_image *in, int patch, int jitter, struct sup_rng *rng, float *center,
		       float *neighbour);

/* Jigsaw permutations (Noroozi & Favaro, ECCV 2016, section 3.2, Algorithm 1): n permutations
 * of 9 tiles chosen greedily from all 9! so each new one maximises its minimum Hamming distance
 * to those chosen; ties are broken by the seed's stream, the first is drawn from it too.
 * perms gets n * 9 bytes; returns the minimum pairwise Hamming distance of the set, or -1 when
 * n is outside 1..1000 or memory ran out. Takes about n * 9! * 9 steps (100: a fraction of a second). */
int sup_jigsaw_perms_make(uint8_t *perms, int n, uint64_t seed, const struct sup_allocator *alloc);
/* Jigsaw tiles: a 3x3 grid of cells of size min(H, W) / 3, a `tile` x `tile` patch at a random
 * offset inside each cell (tile <= cell); out tile i (c x tile x tile, 9 in a row) is the patch of
 * cell perm[i]. */
void sup_aug_jigsaw(const struct sup_image *in, int tile, const uint8_t perm[9], struct sup_rng *rng, float *tiles);

/* ---- loader (src/data/loader.c) ----
 * Turns an image set and a multi-view transform into batches: per epoch a shuffle drawn from the
 * run seed and epoch (or the natural order), batch_size samples per batch (the last one smaller
 * unless drop_last), each view collated into f32 [B, C, H, W]. Worker threads fill up to
 * `prefetch` batches ahead; a batch depends only on (seed, epoch, position), never on the number
 * of workers. n_workers 0 makes each batch in the calling thread. */
struct sup_loader_opts {
	int batch_size;
	bool shuffle;
	bool drop_last;
	int n_workers;
	int prefetch; /* batches made ahead (>= 1) */
	uint64_t seed;
};

/* A batch: borrowed from the loader until its next call to sup_loader_next/epoch/free. */
struct sup_batch {
	int n_views;
	int64_t size;                            /* B (samples) */
	int64_t epoch, step;                     /* step: position of the batch in its epoch */
	struct sup_tensor views[SUP_MAX_VIEWS];  /* f32 [B, C, H, W] */
	struct sup_tensor labels;                /* i64 [B] */
	struct sup_tensor indices;               /* i64 [B]: sample indices in the set */
};

struct sup_loader;

/* The loader reads `set` and `mv` (both must outlive it). Errors in err: SUP_ERR_ARG (options),
 * SUP_ERR_SHAPE (a transform that cannot take the set's images), SUP_ERR_NOMEM, SUP_ERR_STATE
 * (threads could not start). */
enum sup_status sup_loader_new(struct sup_loader **out, const struct sup_image_set *set,
			       const struct sup_multiview *mv, const struct sup_loader_opts *opts,
			       struct sup_allocator alloc, char *err, size_t err_size);
/* Starts epoch `epoch` (abandoning the rest of the current one). */
void sup_loader_epoch(struct sup_loader *l, int64_t epoch);
/* The next batch of the epoch, or NULL after the last one (or before any sup_loader_epoch). */
const struct sup_batch *sup_loader_next(struct sup_loader *l);
int64_t sup_loader_n_batches(const struct sup_loader *l);
/* Stops the workers (also mid-epoch) and frees everything; NULL-safe. */
void sup_loader_free(struct sup_loader *l);

/* (end of the vision section) */

/* ---- text: corpora, tokenizers, masking, sentence pairs (src/data/text*.c, tokenizer.c) ------- */

/* Where Debian's fortunes / fortunes-min packages put the fortune files. */
#define SUP_FORTUNES_DIR "/usr/share/games/fortunes"

/* A corpus of texts held in memory. Text i is the bytes bytes[offset[i] .. offset[i+1] - 1),
 * followed by a NUL that is not part of it (texts may hold any byte, even NUL). label[i] is a
 * class id in 0..n_classes-1 or -1 (no label); class_names[k] names class k. All arrays come
 * from `alloc` and are released by sup_text_corpus_free. */
struct sup_text_corpus {
	struct sup_allocator alloc;
	int64_t n_texts;
	int64_t *offset; /* [n_texts + 1] */
	char *bytes;
	int32_t *label; /* [n_texts] */
	int n_classes;
	char **class_names; /* [n_classes] */
};

/* Text i and its length in bytes. */
const char *sup_text_corpus_get(const struct sup_text_corpus *c, int64_t i, int64_t *len);
/* NULL-safe; leaves *c zeroed. */
void sup_text_corpus_free(struct sup_text_corpus *c);

/* One document per line ('\n'; a trailing '\r' is dropped); lines holding only ASCII white
 * space are skipped. No labels, no classes. SUP_ERR_NOT_FOUND / SUP_ERR_IO name the path. */
enum sup_status sup_text_corpus_load_lines(struct sup_text_corpus *out, const char *path,
					   const struct sup_allocator *alloc, char *err, size_t err_size);

/* Every entry of every fortune file in dir (entries are separated by a line holding only '%';
 * an entry is its lines joined by '\n'; entries of white space only are skipped). A category is
 * a regular file whose name does not start with '.' and does not end in ".dat" or ".u8"; class
 * ids follow the names in strcmp order. Debian's 43 files give 15217 entries. */
enum sup_status sup_text_corpus_load_fortunes(struct sup_text_corpus *out, const char *dir,
					      const struct sup_allocator *alloc, char *err, size_t err_size);

/* Two texts are "the same" when they are equal after white-space normalisation (runs of ASCII
 * white space become one space, leading and trailing white space is dropped); the stored texts
 * stay as they were. */

/* The distinct texts of `in`, first occurrence kept, in order of first occurrence. The label is
 * the one every occurrence agrees on, else -1. Classes are kept. (Fortunes: 15100 texts.) */
enum sup_status sup_text_corpus_distinct(struct sup_text_corpus *out, const struct sup_text_corpus *in,
					 char *err, size_t err_size);

/* The texts of the named classes, relabelled 0..n_names-1 in the order of `names`, dropping every
 * text that occurs in more than one class of `in` (any class, named or not) and repeats within
 * a class. SUP_ERR_NOT_FOUND for a name that is not a class of `in`. */
enum sup_status sup_text_corpus_select(struct sup_text_corpus *out, const struct sup_text_corpus *in,
				       const char *const *names, int n_names, char *err, size_t err_size);

/* The "fortune-8" topic classification set: sup_text_corpus_select of the fortunes in dir with
 * the classes art computers definitions people politics science songs-poems work (ids 0..7):
 * 463/1035/1194/1234/692/618/701/624 = 6561 texts with Debian's files. */
#define SUP_FORTUNE8_CLASSES 8
enum sup_status sup_fortune8_load(struct sup_text_corpus *out, const char *dir, const struct sup_allocator *alloc,
				  char *err, size_t err_size);

/* Splits `in` into train and test, both keeping the order of `in`. With stratify, each label
 * (and the unlabeled texts as one more group) contributes round(test_fraction * size) texts to
 * test; without, round(test_fraction * n_texts) texts overall. Which texts is fixed by seed
 * (Philox stream per group). fortune-8 uses 0.2 stratified; perplexity uses 0.1 of the distinct
 * texts. SUP_ERR_ARG for a fraction outside [0, 1]. */
enum sup_status sup_text_corpus_split(struct sup_text_corpus *train, struct sup_text_corpus *test,
				      const struct sup_text_corpus *in, double test_fraction, bool stratify,
				      uint64_t seed, char *err, size_t err_size);

/* ---- tokenizers (tokenizer.c) ---- */

/* Token ids: 0..255 are the bytes, then four special tokens, then the learned BPE merges
 * (id SUP_TOK_FIRST_MERGE + r is merge rank r). The byte-level tokenizer is the one with no
 * merges: vocabulary SUP_TOK_BYTE_VOCAB = 260 (workload W3). */
enum {
	SUP_TOK_PAD = 256,
	SUP_TOK_MASK = 257,
	SUP_TOK_CLS = 258,
	SUP_TOK_SEP = 259,
	SUP_TOK_BYTE_VOCAB = 260,
	SUP_TOK_FIRST_MERGE = 260
};

static inline bool sup_token_is_special(int32_t id)
{
	return id >= SUP_TOK_PAD && id <= SUP_TOK_SEP;
}

struct sup_tok_merge_table; /* private lookup of pair -> rank */

/* Byte-level BPE (Sennrich, Haddow and Birch, ACL 2016, §3.1 and Algorithm 1) over bytes
 * instead of characters, so that every byte string has an encoding. Text is first cut into
 * chunks (a run of letters, bytes >= 0x80 counting as letters, optionally led by one space; a
 * run of digits; a run of other non-space bytes; a run of white space; at most
 * SUP_TOK_MAX_CHUNK bytes each) and merges never cross a chunk boundary. */
#define SUP_TOK_MAX_CHUNK 64
struct sup_tokenizer {
	struct sup_allocator alloc;
	int32_t vocab_size;      /* SUP_TOK_FIRST_MERGE + n_merges */
	int32_t n_merges;
	int32_t (*merges)[2];    /* [n_merges]: merge r joins ids merges[r][0], merges[r][1] */
	int64_t *tok_offset;     /* [vocab_size + 1]: bytes of token id in tok_bytes */
	unsigned char *tok_bytes;
	struct sup_tok_merge_table *table;
};

/* The byte-level tokenizer (no merges). */
enum sup_status sup_tokenizer_init_bytes(struct sup_tokenizer *t, const struct sup_allocator *alloc);
/* Learns vocab_size - 260 merges from the texts of c: at each step the most frequent adjacent
 * pair (counted over chunks) is merged; ties go to the pair with the smaller (left, right) ids,
 * so training is deterministic. Stops early when no pair occurs twice. SUP_ERR_ARG when
 * vocab_size < 260. */
enum sup_status sup_tokenizer_train_bpe(struct sup_tokenizer *t, const struct sup_text_corpus *c, int32_t vocab_size,
					const struct sup_allocator *alloc, char *err, size_t err_size);
/* NULL-safe. */
void sup_tokenizer_free(struct sup_tokenizer *t);

/* Text file: a line "selfsup-bpe 1 <n_merges>", then one line "<left> <right>" per merge in
 * rank order (decimal ids; each id below SUP_TOK_FIRST_MERGE + its own rank and not special).
 * Written atomically. Load errors name the file and line. */
enum sup_status sup_tokenizer_save(const struct sup_tokenizer *t, const char *path, char *err, size_t err_size);
enum sup_status sup_tokenizer_load(struct sup_tokenizer *t, const char *path, const struct sup_allocator *alloc,
				   char *err, size_t err_size);

/* Encodes n bytes into ids (room for n ids; never more are written) and returns the count. */
int64_t sup_tokenizer_encode(const struct sup_tokenizer *t, const void *bytes, int64_t n, int32_t *ids);
/* Writes the bytes of ids into out (at most cap bytes; special tokens decode to "[PAD]",
 * "[MASK]", "[CLS]", "[SEP]") and returns the full length, or -1 for an id outside the vocabulary.
 * decode(encode(s)) == s for every byte string s. */
int64_t sup_tokenizer_decode(const struct sup_tokenizer *t, const int32_t *ids, int64_t n, void *out, int64_t cap);
/* The bytes a token stands for (special tokens: their names). NULL for a bad id. */
const unsigned char *sup_tokenizer_token(const struct sup_tokenizer *t, int32_t id, int64_t *len);

/* Every text of c encoded: *ids (one block from alloc) holds the tokens of text i at
 * [(*doc_offset)[i], (*doc_offset)[i+1]); doc_offset has n_texts + 1 entries. */
enum sup_status sup_tokenizer_encode_corpus(const struct sup_tokenizer *t, const struct sup_text_corpus *c,
					    const struct sup_allocator *alloc, int32_t **ids, int64_t **doc_offset,
					    char *err, size_t err_size);

/* ---- pretext tasks on token streams (text_tasks.c) ---- */

/* Fixed-length packing into ids [N, T] (i32) and attention mask [N, T] (u8, 1 = real token),
 * padding with SUP_TOK_PAD / 0. per_document false (GPT-style; add_cls unused): the documents
 * are concatenated, each followed by SUP_TOK_SEP when add_sep, and cut into consecutive rows of
 * T tokens; only the last row is padded. per_document true (BERT-style): one row per document, [CLS] first when
 * add_cls, truncated to leave room for a final [SEP] when add_sep, then padded. Both tensors are
 * one block each from alloc (sup_free their data). SUP_ERR_ARG for T < 1 or T too small for the
 * special tokens asked for. */
struct sup_pack_opts {
	int64_t seq_len;
	bool per_document;
	bool add_cls;
	bool add_sep;
};
enum sup_status sup_text_pack(struct sup_tensor *ids, struct sup_tensor *mask, const int32_t *tokens,
			      const int64_t *doc_offset, int64_t n_docs, const struct sup_pack_opts *o,
			      const struct sup_allocator *alloc, char *err, size_t err_size);

/* Masked language modelling (Devlin et al., NAACL 2019, §3.1 "Task #1"): of the n eligible
 * (non-special) positions of a sequence, max(1, round(mask_prob * n)) are chosen (none when
 * n = 0); a chosen position becomes SUP_TOK_MASK with probability p_mask, a random non-special
 * token of the vocabulary with p_random, and stays as it is otherwise. labels = the original id
 * at chosen positions, ignore_index elsewhere. The draw depends only on (seed, epoch, sample),
 * so any loader thread reproduces it.
 * Span masking (mean_span > 1; SpanBERT, Joshi et al. 2020 §3.1): the same number of positions is
 * chosen as contiguous spans, each of length ~ Geometric(1 / mean_span) clipped at 4 x mean_span
 * and at the remaining budget, starting at a uniform position and running over positions not yet
 * chosen until a special token or the end; one 80/10/10 decision per span. Byte-level models need
 * long spans, or the masked bytes are spelled out by their neighbours (ByT5, Xue et al. 2022 §3.1:
 * mean span 20 bytes). */
struct sup_mlm_opts {
	double mask_prob;     /* 0.15 */
	double p_mask;        /* 0.8 */
	double p_random;      /* 0.1 */
	double mean_span;     /* 1: independent positions (BERT); > 1: span masking */
	int32_t vocab_size;   /* random tokens come from [0, vocab_size) minus the specials */
	int32_t ignore_index; /* -100, as PyTorch's cross-entropy default */
	uint64_t seed;
};
struct sup_mlm_opts sup_mlm_opts_default(int32_t vocab_size, uint64_t seed);
/* ids [T] in, out_ids [T] and labels [T] out (out_ids may equal ids). Returns how many
 * positions were chosen. */
int64_t sup_mlm_mask(const struct sup_mlm_opts *o, uint64_t epoch, int64_t sample, const int32_t *ids, int64_t T,
		     int32_t *out_ids, int32_t *labels);

/* Sentence-pair tasks over segments (e.g. the lines of a document). seg_doc[i] is the document
 * of segment i; a document's segments are consecutive. One pair per segment a that has a next
 * segment in its document, in segment order:
 *   NSP (Devlin et al. 2019, §3.1 "Task #2"): with probability 1/2 (a, a+1) label 0 "is next",
 *       else (a, r) label 1 with r a uniform segment of another document (any r != a+1 when
 *       there is only one document);
 *   SOP (Lan et al., ALBERT, ICLR 2020, §3.1): (a, a+1) label 0, or swapped (a+1, a) label 1.
 * Labels follow HuggingFace: 0 = the natural continuation. Draws depend on (seed, epoch) only.
 * pairs has room for n_segments entries; returns the number written. */
struct sup_seg_pair {
	int64_t first, second;
	int32_t label;
};
int64_t sup_nsp_pairs(struct sup_seg_pair *pairs, const int64_t *seg_doc, int64_t n_segments, bool sop,
		      uint64_t seed, uint64_t epoch);
/* [CLS] A [SEP] B [SEP] in T positions (A and B token ranges given by seg_offset[i..i+1));
 * the longer of A, B loses a token until it fits, as in BERT. ids, type_ids (0 for [CLS] A [SEP],
 * 1 for B [SEP], 0 for padding) and mask [T]. SUP_ERR_ARG when T < 5. */
enum sup_status sup_pair_encode(int32_t *ids, int32_t *type_ids, uint8_t *mask, int64_t T, const int32_t *tokens,
				const int64_t *seg_offset, const struct sup_seg_pair *p);

/* XLNet permutation language modelling (Yang et al., NeurIPS 2019, §2.2-2.3): a factorisation
 * order of the first n_valid positions (positions >= n_valid, the padding, stay last and are
 * never attended or predicted), uniform and fixed by (seed, epoch, sample). order[k] = the
 * position predicted k-th. */
void sup_plm_order(int64_t *order, int64_t T, int64_t n_valid, uint64_t seed, uint64_t epoch, int64_t sample);
/* Masks of the two-stream attention for an order: content[i*T + j] = 1 when position i may see
 * the content of j (rank(j) <= rank(i)); query[i*T + j] = 1 when rank(j) < rank(i); target[i] =
 * 1 for the last n_predict positions of the order (partial prediction, §2.3: n_predict ~
 * n_valid / K, K = 6 or 7). */
void sup_plm_masks(uint8_t *content, uint8_t *query, uint8_t *target, const int64_t *order, int64_t T,
		   int64_t n_valid, int64_t n_predict);

/* (end of the text section) */

/* ---- graphs: graph folders, LINQS, adjacency, augmentations, edge splits (src/data/graph*.c) --- */

/* A node-attributed graph held in memory. Features: CSR [n_nodes, n_features] (x_indptr i64,
 * x_indices i32 ascending within a row, x_values f32). Labels y in 0..n_classes-1 or -1 (no
 * label). Edges: a directed list (edge_src[e] -> edge_dst[e]) sorted by (src, dst), without
 * duplicates or self loops, holding both directions of every undirected edge when the input was
 * undirected; adj_indptr [n_nodes + 1] indexes it, so the neighbours of i are
 * edge_dst[adj_indptr[i] .. adj_indptr[i+1]). Masks u8 [n_nodes] (1 = in the split; all 0 when
 * the data has none). Every array is its own block from alloc; sup_graph_free releases them. */
struct sup_graph {
	struct sup_allocator alloc;
	int64_t n_nodes, n_features;
	int64_t *x_indptr;
	int32_t *x_indices;
	float *x_values;
	int32_t *y;
	int n_classes;
	char **class_names; /* [n_classes] */
	int64_t n_edges;    /* directed */
	int32_t *edge_src, *edge_dst;
	int64_t *adj_indptr;
	uint8_t *train_mask, *val_mask, *test_mask;
	int64_t n_dropped_edges; /* input edges dropped: self loops, duplicates, unknown LINQS ids */
};

/* Where the project's shared data sets are: env SELFSUP_SHARED_DATA, else ../shared/data (from
 * the working directory), else /work/shared/data; the first that is a folder. Writes the path
 * into buf; false when none exists. */
bool sup_shared_data_dir(char *buf, size_t size);

/* Reads a graph folder (../shared/data/README.md §2): x_indptr.npy, x_indices.npy, x_data.npy,
 * x_shape.npy, y.npy, edge_index.npy required; {train,val,test}_mask.npy and class_names.txt
 * optional (no masks: all 0; no names: "0", "1", ...; n_classes = max(names, max y + 1)).
 * Integer arrays may be i32 or i64. Edges need not be sorted; self loops and duplicates are
 * dropped (counted in n_dropped_edges). Errors name the file: SUP_ERR_NOT_FOUND (missing),
 * SUP_ERR_SHAPE (lengths that disagree), SUP_ERR_FORMAT (ids out of range, indptr not
 * monotone, labels below -1), SUP_ERR_DTYPE (wrong dtype). */
enum sup_status sup_graph_load_folder(struct sup_graph *g, const char *dir, const struct sup_allocator *alloc,
				      char *err, size_t err_size);

/* Reads LINQS text form: <dir>/<name>.content (lines "<paper id>\t<F values>\t<class name>",
 * ids any string without white space) and <dir>/<name>.cites (lines "<cited id>\t<citing id>").
 * Nodes in .content order; classes named in strcmp order; features kept sparse. The citation
 * graph is made undirected (both directions), self loops and duplicates dropped; citations of
 * ids missing from .content are dropped and counted. All nodes labelled; no masks. */
enum sup_status sup_graph_load_linqs(struct sup_graph *g, const char *dir, const char *name,
				     const struct sup_allocator *alloc, char *err, size_t err_size);

/* NULL-safe; leaves *g zeroed. */
void sup_graph_free(struct sup_graph *g);

/* Divides every feature row by its sum of absolute values (rows that sum to 0 stay 0), in place,
 * as GCN / DGI preprocess bag-of-words features. */
void sup_graph_row_normalize(struct sup_graph *g);
struct sup_csr; /* selfsup/ops.h */
/* The feature matrix as a sup_csr (f32) borrowing g's arrays. */
void sup_graph_features_csr(const struct sup_graph *g, struct sup_csr *out);

/* A CSR matrix that owns its arrays (f32 values), usable with sup_spmm through sup_csr_buf_view. */
struct sup_csr_buf {
	struct sup_allocator alloc;
	int64_t rows, cols, nnz;
	int64_t *indptr;
	int32_t *indices;
	float *values;
};
void sup_csr_buf_view(const struct sup_csr_buf *m, struct sup_csr *out);
void sup_csr_buf_free(struct sup_csr_buf *m); /* NULL-safe */

/* D^-1/2 (A + I) D^-1/2 (Kipf and Welling, ICLR 2017, eq. 2) for the n-node graph with the given
 * directed edges, A made symmetric (an edge in either direction is an edge both ways), self loops
 * and duplicates ignored, D the degree of A + I. Columns ascending in each row. Cora: nnz 13264. */
enum sup_status sup_norm_adj_from_edges(struct sup_csr_buf *out, int64_t n, const int32_t *src, const int32_t *dst,
					int64_t n_edges, const struct sup_allocator *alloc, char *err, size_t err_size);
enum sup_status sup_graph_norm_adj(struct sup_csr_buf *out, const struct sup_graph *g, char *err, size_t err_size);

/* ---- augmentations, negatives, edge split (graph_aug.c) ----
 * GraphCL (You et al., NeurIPS 2020, §3.1 "data augmentation for graphs") and GRACE (Zhu et al.,
 * 2020, §3.2 "removing edges" and "masking node features"). Every draw depends only on key (mix
 * seed, epoch and view into it with sup_rng_make), not on thread count or call order. */

/* Keeps each edge with probability 1 - p into src_out/dst_out (room for g->n_edges; order
 * kept). With undirected, both directions of a pair share one draw, so the view stays
 * symmetric. Returns the number kept. */
int64_t sup_graph_drop_edges(const struct sup_graph *g, double p, bool undirected, uint64_t key, int32_t *src_out,
			     int32_t *dst_out);
/* Masks each feature column with probability p (the same columns for every node): values_out
 * [g's feature nnz] holds the values with masked columns set to 0 (same CSR structure).
 * Returns the number of masked columns. */
int64_t sup_graph_mask_features(const struct sup_graph *g, double p, uint64_t key, float *values_out);
/* Drops each node with probability p: keep_out[i] = 0 for dropped nodes, and the edges between
 * kept nodes go to src_out/dst_out (room for g->n_edges). Returns the number of edges kept. */
int64_t sup_graph_drop_nodes(const struct sup_graph *g, double p, uint64_t key, uint8_t *keep_out, int32_t *src_out,
			     int32_t *dst_out);

/* Random walk with restart from `start` (GCC, Qiu et al., KDD 2020, §3.2 "subgraph sampling"):
 * each step returns to start with probability restart, else moves to a uniform neighbour; the
 * distinct nodes visited, start first then in order of first visit, until max_nodes nodes or
 * max_steps steps. nodes_out has room for max_nodes. Returns the count (1 for an isolated
 * start). */
int64_t sup_graph_rwr(const struct sup_graph *g, int64_t start, double restart, int64_t max_nodes, int64_t max_steps,
		      uint64_t key, int64_t *nodes_out);
/* Edges of g among nodes[0..n) renumbered 0..n-1 by position in nodes (the induced subgraph),
 * sorted by (src, dst). Room for g->n_edges. Returns the count. scratch: g->n_nodes int64, all
 * -1 on entry and left so (set it once, reuse it for every subgraph: the call costs O(edges of
 * the subgraph), not O(N)). */
int64_t sup_graph_induced_edges(const struct sup_graph *g, const int64_t *nodes, int64_t n, int64_t *scratch,
				int32_t *src_out, int32_t *dst_out);

/* n distinct negative pairs, uniform over unordered node pairs {u, v} with u != v that are not
 * edges of g (either direction), written with src < dst; fixed by key. SUP_ERR_ARG when fewer
 * than n such pairs exist. */
enum sup_status sup_graph_sample_negatives(const struct sup_graph *g, int64_t n, uint64_t key, int32_t *src_out,
					   int32_t *dst_out, char *err, size_t err_size);

/* The link-prediction split of GAE / VGAE (Kipf and Welling, NIPS workshop 2016, §4; the
 * "mask_test_edges" protocol): the undirected edges (u < v) are shuffled once by seed;
 * floor(E * test_fraction) go to test, floor(E * val_fraction) to val, the rest to train, which
 * is kept with both directions (sorted) for the encoder's adjacency. val and test get as many
 * negatives (non-edges of the whole graph, distinct, disjoint from each other). Pos/neg lists
 * have u < v. Cora with 0.05 / 0.10: 4488 / 263 / 527 undirected edges. */
struct sup_edge_split {
	struct sup_allocator alloc;
	int64_t n_train; /* directed: 2 x the undirected training edges */
	int32_t *train_src, *train_dst;
	int64_t n_val, n_test;
	int32_t *val_src, *val_dst, *val_neg_src, *val_neg_dst;
	int32_t *test_src, *test_dst, *test_neg_src, *test_neg_dst;
};
enum sup_status sup_edge_split_make(struct sup_edge_split *s, const struct sup_graph *g, double val_fraction,
				    double test_fraction, uint64_t seed, char *err, size_t err_size);
void sup_edge_split_free(struct sup_edge_split *s); /* NULL-safe */

/* (end of the graph section) */

#ifdef __cplusplus
}
#endif
#endif
