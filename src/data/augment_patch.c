/* Patch-based pretext inputs.
 * Relative position: Doersch, Gupta, Efros, "Unsupervised Visual Representation Learning by
 * Context Prediction", ICCV 2015, section 3 (3x3 grid, gaps between patches, jitter of the patch
 * locations, predict which of the 8 neighbours was sampled).
 * Jigsaw: Noroozi & Favaro, "Unsupervised Learning of Visual Representations by Solving Jigsaw
 * Puzzles", ECCV 2016, section 3 (3x3 tiles with random offsets inside their cells) and
 * section 3.2, Algorithm 1 (a permutation set of maximal Hamming distance, chosen greedily). */
#include "selfsup/data.h"

#include <string.h>

#define N_PERMS_ALL 362880 /* 9! */

/* Copies the c x size x size patch at (y, x) of img into dst. */
static void copy_patch(float *dst, const struct sup_image *img, int y, int x, int size)
{
	for (int k = 0; k < img->c; k++)
		for (int r = 0; r < size; r++)
			memcpy(dst + ((size_t)k * size + r) * size,
			       img->data + ((size_t)k * img->h + y + r) * img->w + x, (size_t)size * sizeof(float));
}

/* Top-left corner of a patch in cell (row, col) of the centred 3x3 grid, offset by up to
 * `jitter` pixels each way (clamped so the patch stays in its cell). */
static void place(const struct sup_image *in, int cell, int patch, int jitter, int row, int col,
		  struct sup_rng *rng, int *y, int *x)
{
	const int oy = (in->h - 3 * cell) / 2, ox = (in->w - 3 * cell) / 2, base = (cell - patch) / 2;
	int dy = jitter ? (int)sup_rng_below(rng, (uint64_t)(2 * jitter + 1)) - jitter : 0;
	int dx = jitter ? (int)sup_rng_below(rng, (uint64_t)(2 * jitter + 1)) - jitter : 0;
	int py = base + dy, px = base + dx;
	py = py < 0 ? 0 : py > cell - patch ? cell - patch : py;
	px = px < 0 ? 0 : px > cell - patch ? cell - patch : px;
	*y = oy + row * cell + py;
	*x = ox + col * cell + px;
}

int sup_aug_patch_pair(const struct sup_image *in, int patch, int jitter, struct sup_rng *rng, float *center,
		       float *neighbour)
{
	const int cell = (in->h < in->w ? in->h : in->w) / 3;
	SUP_ASSERT(patch >= 1 && patch <= cell && jitter >= 0);
	const int label = (int)sup_rng_below(rng, 8);
	const int pos = label < 4 ? label : label + 1; /* row-major cell, the centre (4) skipped */
	int y, x;
	place(in, cell, patch, jitter, 1, 1, rng, &y, &x);
	copy_patch(center, in, y, x, patch);
	place(in, cell, patch, jitter, pos / 3, pos % 3, rng, &y, &x);
	copy_patch(neighbour, in, y, x, patch);
	return label;
}

void sup_aug_jigsaw(const struct sup_image *in, int tile, const uint8_t perm[9], struct sup_rng *rng, float *tiles)
{
	const int cell = (in->h < in->w ? in->h : in->w) / 3;
	SUP_ASSERT(tile >= 1 && tile <= cell);
	const int oy = (in->h - 3 * cell) / 2, ox = (in->w - 3 * cell) / 2;
	const size_t tile_floats = (size_t)in->c * tile * tile;
	int ys[9], xs[9];
	for (int k = 0; k < 9; k++) { /* offsets drawn in cell order, independent of the permutation */
		ys[k] = oy + (k / 3) * cell + (int)sup_rng_below(rng, (uint64_t)(cell - tile + 1));
		xs[k] = ox + (k % 3) * cell + (int)sup_rng_below(rng, (uint64_t)(cell - tile + 1));
	}
	for (int i = 0; i < 9; i++) {
		SUP_ASSERT(perm[i] < 9);
		copy_patch(tiles + i * tile_floats, in, ys[perm[i]], xs[perm[i]], tile);
	}
}

/* All permutations of 0..8 in lexicographic order (next_permutation). */
static void all_perms(uint8_t *out)
{
	uint8_t p[9] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	for (int n = 0; n < N_PERMS_ALL; n++) {
		memcpy(out + 9 * n, p, 9);
		int i = 7;
		while (i >= 0 && p[i] > p[i + 1])
			i--;
		if (i < 0)
			break;
		int j = 8;
		while (p[j] < p[i])
			j--;
		uint8_t t = p[i];
		p[i] = p[j];
		p[j] = t;
		for (int a = i + 1, b = 8; a < b; a++, b--) {
			t = p[a];
			p[a] = p[b];
			p[b] = t;
		}
	}
}

static int hamming9(const uint8_t *a, const uint8_t *b)
{
	int d = 0;
	for (int i = 0; i < 9; i++)
		d += a[i] != b[i];
	return d;
}

int sup_jigsaw_perms_make(uint8_t *perms, int n, uint64_t seed, const struct sup_allocator *alloc)
{
	if (n < 1 || n > 1000)
		return -1;
	uint8_t *all = sup_alloc(alloc, (size_t)N_PERMS_ALL * 9, 64), *dmin = sup_alloc(alloc, N_PERMS_ALL, 64);
	if (!all || !dmin) {
		sup_free(alloc, all);
		sup_free(alloc, dmin);
		return -1;
	}
	all_perms(all);
	memset(dmin, 10, N_PERMS_ALL); /* above any Hamming distance: nothing chosen yet */
	struct sup_rng rng = sup_rng_make(seed, 0x6A6967ull /* "jig" */);
	int pick = (int)sup_rng_below(&rng, N_PERMS_ALL), set_min = 9;
	for (int k = 0; k < n; k++) {
		memcpy(perms + 9 * k, all + 9 * (size_t)pick, 9);
		if (k > 0 && dmin[pick] < set_min)
			set_min = dmin[pick];
		const uint8_t *chosen = all + 9 * (size_t)pick;
		int best = -1, ties = 0;
		for (int i = 0; i < N_PERMS_ALL; i++) {
			int d = hamming9(all + 9 * (size_t)i, chosen);
			if (d < dmin[i])
				dmin[i] = (uint8_t)d;
			if (dmin[i] > best) {
				best = dmin[i];
				ties = 1;
			} else if (dmin[i] == best) {
				ties++;
			}
		}
		/* The next pick: a uniformly drawn one among the candidates of maximal distance. */
		int r = (int)sup_rng_below(&rng, (uint64_t)ties);
		for (int i = 0; i < N_PERMS_ALL; i++)
			if (dmin[i] == best && r-- == 0) {
				pick = i;
				break;
			}
	}
	sup_free(alloc, all);
	sup_free(alloc, dmin);
	return set_min;
}
