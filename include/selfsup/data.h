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
 * so any loader thread reproduces it. */
struct sup_mlm_opts {
	double mask_prob;     /* 0.15 */
	double p_mask;        /* 0.8 */
	double p_random;      /* 0.1 */
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
