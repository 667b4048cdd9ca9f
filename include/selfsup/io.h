/* selfsup io layer: NumPy .npy arrays and safetensors checkpoints, read and write.
 *
 * Every fallible function returns enum sup_status and writes a one-line message (no newline)
 * into the caller's buffer `err` of `err_size` bytes (err may be NULL or err_size 0: no message);
 * on SUP_OK the buffer is left untouched. Nothing prints, nothing exits. Memory comes from the
 * caller's allocator (non-NULL). Formats, checks and guarantees: docs/formats.md.
 *
 * Supported element types: f32, f64, i32, i64, u8 (see tensor.h). The byte order on disk is
 * little-endian; the library targets little-endian hosts. */
#ifndef SELFSUP_IO_H
#define SELFSUP_IO_H

#include "selfsup/base.h"
#include "selfsup/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- .npy ------------------------------------------------------------------------------------ */

/* What an .npy header says. data_offset is where the array bytes start (magic + length field +
 * header dict); the data that follows must be exactly numel * dtype size bytes. */
struct sup_npy_header {
	int version_major;  /* 1 or 2 */
	enum sup_dtype dtype;
	int ndim;
	int64_t shape[SUP_MAX_DIMS];
	size_t data_offset;
	size_t data_bytes;  /* numel * dtype size */
};

/* Parses the magic, version and header dict at the start of buf[0..len) (the data need not
 * follow). Accepts versions 1.0 and 2.0; descr '<f4' '<f8' '<i4' '<i8' '|u1' (and '<u1', '|b1'
 * read as u8); fortran_order False; a shape tuple of at most SUP_MAX_DIMS non-negative ints.
 * Errors: SUP_ERR_FORMAT (bad magic, truncated or malformed header), SUP_ERR_DTYPE (a valid descr
 * we do not support, e.g. '>f4' or '<f2'), SUP_ERR_SHAPE (rank above SUP_MAX_DIMS), SUP_ERR_ARG
 * (fortran_order True: transpose the array before saving). */
enum sup_status sup_npy_header_parse(struct sup_npy_header *h, const void *buf, size_t len, char *err,
				     size_t err_size);

/* Parses a whole .npy image: the header, then exactly data_bytes of data (fewer: SUP_ERR_FORMAT
 * "truncated", more: SUP_ERR_FORMAT "trailing bytes"). On SUP_OK `out` is a contiguous tensor
 * (no grad, no node) whose data is one block from `a` owned by the caller, released with
 * sup_free(a, out->data) (non-NULL even for zero elements). On error *out is zeroed. */
enum sup_status sup_npy_parse(struct sup_tensor *out, const struct sup_allocator *a, const void *buf, size_t len,
			      char *err, size_t err_size);

/* sup_npy_parse on a file's content, reading the data straight into its block. Messages start
 * with the path. SUP_ERR_IO when the file cannot be opened or read (SUP_ERR_NOT_FOUND if it does
 * not exist). */
enum sup_status sup_npy_load(struct sup_tensor *out, const struct sup_allocator *a, const char *path, char *err,
			     size_t err_size);

/* Encodes t (any strides; written in row-major order) as an .npy image byte for byte as numpy
 * (>= 1.17) writes it: version 1.0 (the header of an array of rank <= SUP_MAX_DIMS always fits;
 * 2.0 would only be needed beyond 65535 header bytes), header padded with spaces and a newline
 * so the data starts at a multiple of 64. *out is one block from `a` of *out_len bytes, owned
 * by the caller. SUP_ERR_ARG for NULL data with elements or a bad dtype/rank/shape. */
enum sup_status sup_npy_encode(void **out, size_t *out_len, const struct sup_allocator *a, const struct sup_tensor *t,
			       char *err, size_t err_size);

/* Writes the encoding of t to path atomically (see sup_safetensors_save). */
enum sup_status sup_npy_save(const char *path, const struct sup_tensor *t, char *err, size_t err_size);

/* ---- safetensors ------------------------------------------------------------------------------ */

/* Largest JSON header accepted on read (as the reference implementation: 100 MB). */
#define SUP_SAFETENSORS_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

/* One tensor to write. Names are PyTorch-style ("encoder.layer1.0.conv1.weight"): non-empty,
 * unique, not "__metadata__". */
struct sup_named_tensor {
	const char *name;
	const struct sup_tensor *tensor;
};

/* One metadata entry (both strings, any UTF-8). */
struct sup_str_pair {
	const char *key;
	const char *value;
};

/* One tensor of a loaded file. The tensor is contiguous, untracked, its data 64-byte aligned. */
struct sup_safetensors_entry {
	const char *name;
	struct sup_tensor tensor;
};

/* A loaded safetensors file: every name, tensor, metadata string and byte of data lives in one
 * block from `alloc`, released by sup_safetensors_free. Entries keep the header's order;
 * metadata keeps the order of "__metadata__". Read-only for the caller, except that tensor data
 * may be modified in place. */
struct sup_safetensors {
	struct sup_allocator alloc;
	int64_t n_entries;
	struct sup_safetensors_entry *entries;
	int64_t n_meta;
	struct sup_str_pair *meta;
	const int64_t *by_name; /* entry indices sorted by name (lookup) */
};

/* Parses a whole safetensors image: 8-byte little-endian header length N, N bytes of JSON
 * header, then the data buffer. Checks: N fits the image and SUP_SAFETENSORS_MAX_HEADER, the
 * JSON is one object followed only by spaces, every entry has a known dtype, a shape of at most
 * SUP_MAX_DIMS non-negative integers and data_offsets [begin, end] inside the buffer with
 * end - begin = numel * dtype size, names are unique, the ranges do not overlap and cover the
 * buffer exactly, "__metadata__" (optional) maps strings to strings. dtypes F32 F64 I32 I64 U8
 * (BOOL is read as u8); other safetensors dtypes give SUP_ERR_DTYPE, rank above SUP_MAX_DIMS
 * SUP_ERR_SHAPE, every other defect SUP_ERR_FORMAT. On SUP_OK *out is the new object; on error
 * *out is NULL. */
enum sup_status sup_safetensors_parse(struct sup_safetensors **out, const struct sup_allocator *a, const void *buf,
				      size_t len, char *err, size_t err_size);

/* The same from a file, reading the data straight into the object's block. */
enum sup_status sup_safetensors_load(struct sup_safetensors **out, const struct sup_allocator *a, const char *path,
				     char *err, size_t err_size);

/* NULL-safe. */
void sup_safetensors_free(struct sup_safetensors *st);

/* The tensor called name, or NULL. */
const struct sup_tensor *sup_safetensors_get(const struct sup_safetensors *st, const char *name);
/* The metadata value of key, or NULL. */
const char *sup_safetensors_meta(const struct sup_safetensors *st, const char *key);

/* Encodes tensors (any strides, stored row-major and contiguous in the order given) and
 * metadata (n_meta may be 0, meta then NULL) as a safetensors image: the header lists
 * "__metadata__" first (when n_meta > 0) and is padded with spaces to a multiple of 8 bytes.
 * *out is one block from `a` of *out_len bytes. SUP_ERR_ARG for a bad name (empty, duplicate,
 * "__metadata__"), NULL data with elements, a NULL metadata string. */
enum sup_status sup_safetensors_encode(void **out, size_t *out_len, const struct sup_allocator *a,
				       const struct sup_named_tensor *tensors, int64_t n_tensors,
				       const struct sup_str_pair *meta, int64_t n_meta, char *err, size_t err_size);

/* Writes the encoding to path atomically: the bytes go to "<path>.tmp.<pid>", which is flushed,
 * fsync'ed and renamed over path, then the folder is fsync'ed. A failure at any point removes
 * the temporary file and leaves whatever was at path untouched, so a crash never leaves a
 * partial file at path. Uses `a` for the header only; tensor data is written from the tensors. */
enum sup_status sup_safetensors_save(const char *path, const struct sup_allocator *a,
				     const struct sup_named_tensor *tensors, int64_t n_tensors,
				     const struct sup_str_pair *meta, int64_t n_meta, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
