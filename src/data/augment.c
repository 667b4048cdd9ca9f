/* Image augmentations and their composition into transforms and multi-view transforms.
 *
 * Semantics follow torchvision.transforms (v0.15 tensor paths) so that recipes from papers carry
 * over: RandomResizedCrop's sampling (10 tries, then a centre crop), bilinear resizing with
 * align_corners=False (no antialiasing), ColorJitter in random order (augment_color.c),
 * GaussianBlur with reflect padding. The SimCLR recipe is from Chen, Kornblith, Norouzi, Hinton,
 * "A Simple Framework for Contrastive Learning of Visual Representations", ICML 2020, appendix A;
 * rotation prediction from Gidaris, Singh, Komodakis, ICLR 2018, section 2.
 *
 * Randomness: a sample's stream is keyed by (seed, epoch, index, view); step s of a transform
 * draws from the sub-stream sup_rng_make(key, s), first its apply decision, then its parameters. */
#include "selfsup/data.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct sup_rng sup_aug_rng(uint64_t seed, int64_t epoch, int64_t index, int view)
{
	uint64_t k = sup_rng_make(seed, 0x617567ull /* "aug" */).key;
	k = sup_rng_make(k, (uint64_t)epoch).key;
	k = sup_rng_make(k, (uint64_t)index).key;
	return sup_rng_make(k, (uint64_t)view);
}

/* ---- step constructors ---- */

static struct sup_aug_step step_of(enum sup_aug_kind kind, float p)
{
	struct sup_aug_step s;
	memset(&s, 0, sizeof s);
	s.kind = kind;
	s.p = p;
	return s;
}

struct sup_aug_step sup_aug_resized_crop(int out_h, int out_w)
{
	struct sup_aug_step s = step_of(SUP_AUG_RESIZED_CROP, 1);
	s.out_h = out_h;
	s.out_w = out_w;
	s.scale_lo = 0.08f;
	s.scale_hi = 1.0f;
	s.ratio_lo = 3.0f / 4.0f;
	s.ratio_hi = 4.0f / 3.0f;
	return s;
}

struct sup_aug_step sup_aug_center_crop(int out_h, int out_w)
{
	struct sup_aug_step s = step_of(SUP_AUG_CENTER_CROP, 1);
	s.out_h = out_h;
	s.out_w = out_w;
	return s;
}

struct sup_aug_step sup_aug_hflip(float p)
{
	return step_of(SUP_AUG_HFLIP, p);
}

struct sup_aug_step sup_aug_color_jitter(float brightness, float contrast, float saturation, float hue, float p)
{
	struct sup_aug_step s = step_of(SUP_AUG_COLOR_JITTER, p);
	s.brightness = brightness;
	s.contrast = contrast;
	s.saturation = saturation;
	s.hue = hue;
	return s;
}

struct sup_aug_step sup_aug_grayscale(float p)
{
	return step_of(SUP_AUG_GRAYSCALE, p);
}

struct sup_aug_step sup_aug_blur(int kernel, float sigma_lo, float sigma_hi, float p)
{
	struct sup_aug_step s = step_of(SUP_AUG_BLUR, p);
	s.kernel = kernel;
	s.sigma_lo = sigma_lo;
	s.sigma_hi = sigma_hi;
	return s;
}

struct sup_aug_step sup_aug_solarize(float threshold, float p)
{
	struct sup_aug_step s = step_of(SUP_AUG_SOLARIZE, p);
	s.threshold = threshold;
	return s;
}

struct sup_aug_step sup_aug_rotate90(int rot_k)
{
	struct sup_aug_step s = step_of(SUP_AUG_ROTATE90, 1);
	s.rot_k = rot_k;
	return s;
}

struct sup_aug_step sup_aug_normalize(int channels, const float *mean, const float *std)
{
	struct sup_aug_step s = step_of(SUP_AUG_NORMALIZE, 1);
	for (int i = 0; i < channels && i < 4; i++) {
		s.mean[i] = mean[i];
		s.std[i] = std[i];
	}
	return s;
}

struct sup_aug_step sup_aug_to_lab(void)
{
	return step_of(SUP_AUG_TO_LAB, 1);
}

enum sup_status sup_transform_add(struct sup_transform *t, struct sup_aug_step step)
{
	if (t->n_steps < 0 || t->n_steps >= SUP_AUG_MAX_STEPS)
		return SUP_ERR_ARG;
	t->steps[t->n_steps++] = step;
	return SUP_OK;
}

void sup_multiview_simclr(struct sup_multiview *mv, int size, float s, bool blur)
{
	memset(mv, 0, sizeof *mv);
	mv->n_views = 2;
	struct sup_transform *t = &mv->views[0];
	sup_transform_add(t, sup_aug_resized_crop(size, size));
	sup_transform_add(t, sup_aug_hflip(0.5f));
	sup_transform_add(t, sup_aug_color_jitter(0.8f * s, 0.8f * s, 0.8f * s, 0.2f * s, 0.8f));
	sup_transform_add(t, sup_aug_grayscale(0.2f));
	if (blur)
		sup_transform_add(t, sup_aug_blur(0, 0.1f, 2.0f, 0.5f));
	mv->views[1] = *t;
}

/* ---- validation and shapes ---- */

/* SimCLR's kernel: about 10% of the side, odd, at least 3. */
static int blur_kernel(const struct sup_aug_step *s, int h, int w)
{
	if (s->kernel > 0)
		return s->kernel;
	int k = (int)lrintf(0.1f * (float)(h < w ? h : w));
	k |= 1;
	return k < 3 ? 3 : k;
}

static enum sup_status bad(char *err, size_t n, enum sup_status st, int i, const char *why, int c, int h, int w)
{
	if (err && n)
		snprintf(err, n, "transform step %d: %s (input %dx%dx%d)", i, why, c, h, w);
	return st;
}

/* Crops: output size, p = 1 (a crop that might not run would leave the size undetermined). */
static enum sup_status check_crop(const struct sup_aug_step *s, int i, int *c, int *h, int *w, char *err, size_t n)
{
	if (s->out_h < 1 || s->out_w < 1 || s->out_h > 16384 || s->out_w > 16384)
		return bad(err, n, SUP_ERR_ARG, i, "crop output size outside 1..16384", *c, *h, *w);
	if (s->p != 1)
		return bad(err, n, SUP_ERR_ARG, i, "crops change the size: p must be 1", *c, *h, *w);
	*h = s->out_h;
	*w = s->out_w;
	return SUP_OK;
}

/* Checks step i on a c x h x w input and updates the shape. */
static enum sup_status check_step(const struct sup_aug_step *s, int i, int *c, int *h, int *w, char *err, size_t n)
{
	if (!(s->p >= 0 && s->p <= 1))
		return bad(err, n, SUP_ERR_ARG, i, "apply probability outside [0, 1]", *c, *h, *w);
	switch (s->kind) {
	case SUP_AUG_RESIZED_CROP:
		if (!(s->scale_lo > 0 && s->scale_lo <= s->scale_hi && s->scale_hi <= 1 && s->ratio_lo > 0 &&
		      s->ratio_lo <= s->ratio_hi))
			return bad(err, n, SUP_ERR_ARG, i, "crop scale must be 0 < lo <= hi <= 1 and ratio 0 < lo <= hi", *c,
				   *h, *w);
		return check_crop(s, i, c, h, w, err, n);
	case SUP_AUG_CENTER_CROP:
		if (s->out_h > *h || s->out_w > *w)
			return bad(err, n, SUP_ERR_SHAPE, i, "centre crop larger than the image", *c, *h, *w);
		return check_crop(s, i, c, h, w, err, n);
	case SUP_AUG_COLOR_JITTER:
		if (!(s->brightness >= 0 && s->contrast >= 0 && s->saturation >= 0 && s->hue >= 0 && s->hue <= 0.5f))
			return bad(err, n, SUP_ERR_ARG, i, "jitter strengths must be >= 0 and hue <= 0.5", *c, *h, *w);
		if (*c != 1 && *c != 3)
			return bad(err, n, SUP_ERR_SHAPE, i, "colour steps need 1 or 3 channels", *c, *h, *w);
		return SUP_OK;
	case SUP_AUG_GRAYSCALE:
		if (*c != 1 && *c != 3)
			return bad(err, n, SUP_ERR_SHAPE, i, "colour steps need 1 or 3 channels", *c, *h, *w);
		return SUP_OK;
	case SUP_AUG_BLUR: {
		int k = blur_kernel(s, *h, *w);
		if (!(s->sigma_lo > 0 && s->sigma_lo <= s->sigma_hi) || k % 2 == 0 || k / 2 >= (*h < *w ? *h : *w))
			return bad(err, n, SUP_ERR_ARG, i, "blur needs 0 < sigma_lo <= sigma_hi and an odd kernel whose half is below the side",
				   *c, *h, *w);
		return SUP_OK;
	}
	case SUP_AUG_ROTATE90:
		if (s->rot_k < -2 || s->rot_k > 3)
			return bad(err, n, SUP_ERR_ARG, i, "rot_k must be 0..3, -1 (by view) or -2 (random)", *c, *h, *w);
		if (*h != *w && !(s->rot_k == 0 || s->rot_k == 2))
			return bad(err, n, SUP_ERR_SHAPE, i, "quarter turns need square images", *c, *h, *w);
		return SUP_OK;
	case SUP_AUG_NORMALIZE:
		if (*c > 4)
			return bad(err, n, SUP_ERR_SHAPE, i, "normalize takes at most 4 channels", *c, *h, *w);
		for (int k = 0; k < *c; k++)
			if (!(s->std[k] > 0))
				return bad(err, n, SUP_ERR_ARG, i, "normalize std must be > 0", *c, *h, *w);
		return SUP_OK;
	case SUP_AUG_TO_LAB:
		if (*c != 3)
			return bad(err, n, SUP_ERR_SHAPE, i, "Lab conversion needs 3 channels", *c, *h, *w);
		return SUP_OK;
	case SUP_AUG_HFLIP:
	case SUP_AUG_SOLARIZE:
		return SUP_OK;
	default:
		return bad(err, n, SUP_ERR_ARG, i, "unknown step kind", *c, *h, *w);
	}
}

enum sup_status sup_transform_check(const struct sup_transform *t, int c, int h, int w, int *out_c, int *out_h,
				    int *out_w, size_t *scratch_floats, char *err, size_t err_size)
{
	if (t->n_steps < 0 || t->n_steps > SUP_AUG_MAX_STEPS || c < 1 || h < 1 || w < 1)
		return bad(err, err_size, SUP_ERR_ARG, -1, "bad step count or input shape", c, h, w);
	size_t biggest = (size_t)c * h * w;
	for (int i = 0; i < t->n_steps; i++) {
		enum sup_status st = check_step(&t->steps[i], i, &c, &h, &w, err, err_size);
		if (st)
			return st;
		size_t sz = (size_t)c * h * w;
		biggest = sz > biggest ? sz : biggest;
	}
	*out_c = c;
	*out_h = h;
	*out_w = w;
	/* Two ping-pong buffers and a temporary for the separable blur. */
	*scratch_floats = 3 * biggest;
	return SUP_OK;
}

/* ---- geometric operations ---- */

void sup_aug_crop_params(struct sup_rng *rng, int h, int w, float scale_lo, float scale_hi, float ratio_lo,
			 float ratio_hi, int *top, int *left, int *ch, int *cw)
{
	const double area = (double)h * w, log_lo = log(ratio_lo), log_hi = log(ratio_hi);
	for (int attempt = 0; attempt < 10; attempt++) {
		double target = area * (scale_lo + (scale_hi - scale_lo) * (double)sup_rng_uniform(rng));
		double aspect = exp(log_lo + (log_hi - log_lo) * (double)sup_rng_uniform(rng));
		/* Python's round() is round-half-even, as is nearbyint in the default mode. */
		int cw_ = (int)nearbyint(sqrt(target * aspect)), ch_ = (int)nearbyint(sqrt(target / aspect));
		if (cw_ > 0 && cw_ <= w && ch_ > 0 && ch_ <= h) {
			*top = (int)sup_rng_below(rng, (uint64_t)(h - ch_ + 1));
			*left = (int)sup_rng_below(rng, (uint64_t)(w - cw_ + 1));
			*ch = ch_;
			*cw = cw_;
			return;
		}
	}
	const double in_ratio = (double)w / h;
	if (in_ratio < ratio_lo) {
		*cw = w;
		*ch = (int)nearbyint(w / (double)ratio_lo);
	} else if (in_ratio > ratio_hi) {
		*ch = h;
		*cw = (int)nearbyint(h * (double)ratio_hi);
	} else {
		*cw = w;
		*ch = h;
	}
	*ch = *ch < 1 ? 1 : *ch > h ? h : *ch;
	*cw = *cw < 1 ? 1 : *cw > w ? w : *cw;
	*top = (h - *ch) / 2;
	*left = (w - *cw) / 2;
}

/* Source coordinate of output pixel i when n_in pixels map onto n_out (PyTorch's
 * upsample_bilinear2d with align_corners=False): i0, i1 and the weight of i1. */
static void bilinear_src(int i, int n_in, int n_out, int *i0, int *i1, float *a)
{
	float src = ((float)i + 0.5f) * ((float)n_in / (float)n_out) - 0.5f;
	src = src < 0 ? 0 : src;
	int lo = (int)src;
	lo = lo > n_in - 1 ? n_in - 1 : lo;
	*i0 = lo;
	*i1 = lo < n_in - 1 ? lo + 1 : lo;
	*a = src - (float)lo;
}

/* Output columns are done in chunks whose source columns and weights are tabled once. */
#define RESIZE_CHUNK 256

void sup_image_resize_box(struct sup_image *out, const struct sup_image *in, int top, int left, int ch, int cw)
{
	SUP_ASSERT(top >= 0 && left >= 0 && ch >= 1 && cw >= 1 && top + ch <= in->h && left + cw <= in->w);
	out->c = in->c;
	const int oh = out->h, ow = out->w;
	int x0[RESIZE_CHUNK], x1[RESIZE_CHUNK];
	float ax[RESIZE_CHUNK];
	for (int xs = 0; xs < ow; xs += RESIZE_CHUNK) {
		const int nx = ow - xs < RESIZE_CHUNK ? ow - xs : RESIZE_CHUNK;
		for (int x = 0; x < nx; x++)
			bilinear_src(xs + x, cw, ow, &x0[x], &x1[x], &ax[x]);
		for (int y = 0; y < oh; y++) {
			int y0, y1;
			float ay;
			bilinear_src(y, ch, oh, &y0, &y1, &ay);
			for (int k = 0; k < in->c; k++) {
				const float *r0 = in->data + ((size_t)k * in->h + top + y0) * in->w + left;
				const float *r1 = in->data + ((size_t)k * in->h + top + y1) * in->w + left;
				float *o = out->data + ((size_t)k * oh + y) * ow + xs;
				for (int x = 0; x < nx; x++) {
					float t = r0[x0[x]] + ax[x] * (r0[x1[x]] - r0[x0[x]]);
					float b = r1[x0[x]] + ax[x] * (r1[x1[x]] - r1[x0[x]]);
					o[x] = t + ay * (b - t);
				}
			}
		}
	}
}

void sup_image_hflip(struct sup_image *img)
{
	for (int r = 0; r < img->c * img->h; r++) {
		float *p = img->data + (size_t)r * img->w;
		for (int a = 0, b = img->w - 1; a < b; a++, b--) {
			float t = p[a];
			p[a] = p[b];
			p[b] = t;
		}
	}
}

/* Reflect (no edge repeat) index into 0..n-1; |i| < 2n - 1 by the kernel check. */
static int reflect(int i, int n)
{
	if (i < 0)
		i = -i;
	if (i >= n)
		i = 2 * n - 2 - i;
	return i;
}

void sup_image_blur(struct sup_image *img, float *tmp, int kernel, float sigma)
{
	SUP_ASSERT(kernel >= 1 && kernel % 2 == 1 && kernel <= 255);
	float wt[255];
	const int half = kernel / 2;
	float sum = 0;
	for (int i = 0; i < kernel; i++) {
		float x = (float)(i - half) / sigma;
		wt[i] = expf(-0.5f * x * x);
		sum += wt[i];
	}
	for (int i = 0; i < kernel; i++)
		wt[i] /= sum;
	const int h = img->h, w = img->w;
	for (int k = 0; k < img->c; k++) {
		float *p = img->data + (size_t)k * h * w, *t = tmp + (size_t)k * h * w;
		for (int y = 0; y < h; y++) /* horizontal pass into tmp */
			for (int x = 0; x < w; x++) {
				float acc = 0;
				for (int j = -half; j <= half; j++)
					acc += wt[j + half] * p[(size_t)y * w + reflect(x + j, w)];
				t[(size_t)y * w + x] = acc;
			}
		for (int y = 0; y < h; y++) /* vertical pass back */
			for (int x = 0; x < w; x++) {
				float acc = 0;
				for (int j = -half; j <= half; j++)
					acc += wt[j + half] * t[(size_t)reflect(y + j, h) * w + x];
				p[(size_t)y * w + x] = acc;
			}
	}
}

void sup_image_solarize(struct sup_image *img, float threshold)
{
	const size_t n = (size_t)img->c * img->h * img->w;
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		img->data[i] = img->data[i] >= threshold ? 1.0f - img->data[i] : img->data[i];
}

void sup_image_rotate90(struct sup_image *out, const struct sup_image *in, int k)
{
	k = ((k % 4) + 4) % 4;
	const int h = in->h, w = in->w;
	out->c = in->c;
	out->h = k % 2 ? w : h;
	out->w = k % 2 ? h : w;
	for (int c = 0; c < in->c; c++) {
		const float *p = in->data + (size_t)c * h * w;
		float *o = out->data + (size_t)c * h * w;
		for (int i = 0; i < out->h; i++)
			for (int j = 0; j < out->w; j++) {
				/* torch.rot90 on (H, W): k=1 reads in[j][W-1-i]. */
				int si = k == 0 ? i : k == 1 ? j : k == 2 ? h - 1 - i : h - 1 - j;
				int sj = k == 0 ? j : k == 1 ? w - 1 - i : k == 2 ? w - 1 - j : i;
				o[(size_t)i * out->w + j] = p[(size_t)si * w + sj];
			}
	}
}

/* ---- applying a transform ---- */

/* Runs step s (already decided to apply) from *cur into *cur or *other, swapping when it wrote
 * to *other. tmp has room for the largest stage. */
static void run_step(const struct sup_aug_step *s, struct sup_rng *r, int view, struct sup_image *cur,
		     struct sup_image *other, float *tmp)
{
	switch (s->kind) {
	case SUP_AUG_RESIZED_CROP:
	case SUP_AUG_CENTER_CROP: {
		int top = (cur->h - s->out_h) / 2, left = (cur->w - s->out_w) / 2, ch = s->out_h, cw = s->out_w;
		if (s->kind == SUP_AUG_RESIZED_CROP)
			sup_aug_crop_params(r, cur->h, cur->w, s->scale_lo, s->scale_hi, s->ratio_lo, s->ratio_hi, &top,
					    &left, &ch, &cw);
		other->h = s->out_h;
		other->w = s->out_w;
		sup_image_resize_box(other, cur, top, left, ch, cw);
		break;
	}
	case SUP_AUG_HFLIP:
		sup_image_hflip(cur);
		return;
	case SUP_AUG_COLOR_JITTER: {
		struct sup_jitter_draw d;
		sup_aug_jitter_params(r, s, &d);
		sup_image_color_jitter(cur, &d);
		return;
	}
	case SUP_AUG_GRAYSCALE:
		sup_image_grayscale(cur);
		return;
	case SUP_AUG_BLUR: {
		float sigma = s->sigma_lo + (s->sigma_hi - s->sigma_lo) * sup_rng_uniform(r);
		sup_image_blur(cur, tmp, blur_kernel(s, cur->h, cur->w), sigma);
		return;
	}
	case SUP_AUG_SOLARIZE:
		sup_image_solarize(cur, s->threshold);
		return;
	case SUP_AUG_ROTATE90: {
		int k = s->rot_k >= 0 ? s->rot_k : s->rot_k == -1 ? view % 4 : (int)sup_rng_below(r, 4);
		if (k == 0)
			return;
		sup_image_rotate90(other, cur, k);
		break;
	}
	case SUP_AUG_NORMALIZE: {
		const size_t hw = (size_t)cur->h * cur->w;
		for (int k = 0; k < cur->c; k++)
			for (size_t i = 0; i < hw; i++)
				cur->data[k * hw + i] = (cur->data[k * hw + i] - s->mean[k]) / s->std[k];
		return;
	}
	case SUP_AUG_TO_LAB:
		sup_image_rgb_to_lab(cur);
		return;
	default:
		SUP_ASSERT(!"unchecked transform step");
	}
	struct sup_image t = *cur;
	*cur = *other;
	*other = t;
}

void sup_transform_apply(const struct sup_transform *t, const uint8_t *in, int c, int h, int w,
			 struct sup_image *out, float *scratch, struct sup_rng rng, int view)
{
	/* The scratch is three equal parts (sup_transform_check): A, B, blur temporary. The part
	 * size is recomputed here from the shapes along the way. */
	size_t part = (size_t)c * h * w;
	int sc = c, sh = h, sw = w;
	for (int i = 0; i < t->n_steps; i++) {
		if (t->steps[i].kind == SUP_AUG_RESIZED_CROP || t->steps[i].kind == SUP_AUG_CENTER_CROP) {
			sh = t->steps[i].out_h;
			sw = t->steps[i].out_w;
		}
		size_t sz = (size_t)sc * sh * sw;
		part = sz > part ? sz : part;
	}
	struct sup_image cur = { scratch, c, h, w }, other = { scratch + part, c, h, w };
	float *tmp = scratch + 2 * part;
	sup_image_u8_to_float(cur.data, in, (int64_t)c * h * w);
	for (int i = 0; i < t->n_steps; i++) {
		struct sup_rng r = sup_rng_make(rng.key, (uint64_t)i);
		const struct sup_aug_step *s = &t->steps[i];
		bool apply = sup_rng_uniform(&r) < s->p; /* always drawn: word 0 is the decision */
		if (apply)
			run_step(s, &r, view, &cur, &other, tmp);
	}
	memcpy(out->data, cur.data, (size_t)cur.c * cur.h * cur.w * sizeof(float));
	out->c = cur.c;
	out->h = cur.h;
	out->w = cur.w;
}
