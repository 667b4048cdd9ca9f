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
};

/* Loads the train or test split of an IDX folder in the MNIST naming
 * (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...). */
enum sup_status sup_image_set_load_idx(struct sup_image_set *set, const char *dir, bool train,
				       const struct sup_allocator *alloc, char *err, size_t err_size);
void sup_image_set_free(struct sup_image_set *set, const struct sup_allocator *alloc);

/* ---- vision: more formats, augmentations, multi-view batches, loader (src/data/vision*.c, augment.c, loader.c) */

/* (end of the vision section) */

/* ---- text: corpora, tokenizers, masking, sentence pairs (src/data/text*.c, tokenizer.c) ------- */

/* (end of the text section) */

/* ---- graphs: graph folders, LINQS, adjacency, augmentations, edge splits (src/data/graph*.c) --- */

/* (end of the graph section) */

#ifdef __cplusplus
}
#endif
#endif
