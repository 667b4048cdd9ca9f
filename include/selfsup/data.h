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

/* (end of the text section) */

/* ---- graphs: graph folders, LINQS, adjacency, augmentations, edge splits (src/data/graph*.c) --- */

/* (end of the graph section) */

#ifdef __cplusplus
}
#endif
#endif
