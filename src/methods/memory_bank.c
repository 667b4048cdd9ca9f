/* Shared pieces of the memory-bank methods; see memory_bank.h. */
#include "methods/memory_bank.h"

#include "methods/image_ssl.h"

#include <math.h>
#include <string.h>

enum sup_status mb_check(const char *method, const struct sup_config *cfg, const struct sup_data_info *d, char *err,
			 size_t err_size)
{
	if (sup_config_int(cfg, "nce.z_epochs") < 0) {
		snprintf(err, err_size, "%s: nce.z_epochs must be >= 0 (0: Z estimated once, at the first step)", method);
		return SUP_ERR_ARG;
	}
	if (d->modality != SUP_MODALITY_IMAGE || d->channels < 1 || d->height < 9 || d->width < 9 ||
	    d->n_examples < 2) {
		snprintf(err, err_size, "%s trains on images (data=fashion-mnist, a CIFAR or ImageFolder set), not on %s",
			 method, d->name ? d->name : "this data");
		return SUP_ERR_ARG;
	}
	return SUP_OK;
}

enum sup_status mb_views_init(struct mb_views *v, const struct sup_data_info *d, const struct mb_aug_opts *o,
			      uint64_t seed, char *err, size_t err_size)
{
	memset(v, 0, sizeof *v);
	v->in_c = d->channels;
	v->in_h = d->height;
	v->in_w = d->width;
	v->seed = seed;
	if (o->augment) {
		struct sup_aug_step crop = sup_aug_resized_crop(d->height, d->width);
		crop.scale_lo = (float)o->crop_scale;
		sup_transform_add(&v->t, crop);
		if (o->jitter > 0) {
			float j = (float)o->jitter;
			sup_transform_add(&v->t, sup_aug_color_jitter(j, j, j, j > 0.5f ? 0.5f : j, 1.0f));
			if (d->channels == 3)
				sup_transform_add(&v->t, sup_aug_grayscale(0.2f));
		}
		sup_transform_add(&v->t, sup_aug_hflip(0.5f));
	}
	if (o->to_lab) {
		/* CMC's code (train_CMC.py): L in [0, 100], a in [-86.183, 98.233], b in
		 * [-107.857, 94.478], each mapped to about [-1, 1] by its mid-point and half-range. */
		static const float mean[3] = {50.0f, 6.025f, -6.6895f}, sd[3] = {50.0f, 92.208f, 101.1675f};
		sup_transform_add(&v->t, sup_aug_to_lab());
		sup_transform_add(&v->t, sup_aug_normalize(3, mean, sd));
		sup_transform_add(&v->det, sup_aug_to_lab());
		sup_transform_add(&v->det, sup_aug_normalize(3, mean, sd));
	}
	int c, h, w, c2, h2, w2;
	enum sup_status s = sup_transform_check(&v->t, d->channels, d->height, d->width, &c, &h, &w, &v->scratch, err,
						err_size);
	if (s == SUP_OK)
		s = sup_transform_check(&v->det, d->channels, d->height, d->width, &c2, &h2, &w2, &v->scratch_det,
					err, err_size);
	v->out_c = c;
	v->out_h = h;
	v->out_w = w;
	return s;
}

/* Applies t to every image of x; rng streams per (seed, epoch, index[b], view), or a fixed
 * stream when index is NULL (deterministic steps only). */
static struct sup_tensor *apply_all(struct sup_ctx *c, const struct mb_views *v, const struct sup_transform *t,
				    size_t scratch, const struct sup_tensor *x, const struct sup_tensor *index,
				    int64_t epoch, int view)
{
	if (!x)
		return NULL;
	if (x->ndim != 4 || x->dtype != SUP_F32 || !sup_tensor_is_contiguous(x) || x->shape[1] != v->in_c ||
	    x->shape[2] != v->in_h || x->shape[3] != v->in_w) {
		sup_ctx_fail(c, SUP_ERR_SHAPE, "views: expected contiguous f32 [B, %d, %d, %d] images", v->in_c,
			     v->in_h, v->in_w);
		return NULL;
	}
	if (t->n_steps == 0)
		return (struct sup_tensor *)x;
	int64_t B = x->shape[0], per = (int64_t)v->in_c * v->in_h * v->in_w;
	int64_t out_per = (int64_t)v->out_c * v->out_h * v->out_w;
	struct sup_tensor *out = sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){B, v->out_c, v->out_h, v->out_w});
	float *scr = sup_ctx_alloc(c, sizeof(float) * scratch * (size_t)B);
	uint8_t *u8 = sup_ctx_alloc(c, (size_t)(per * B));
	if (!out || !scr || !u8)
		return NULL;
	/* Each image has its own stream and scratch, so the result does not depend on threads. */
#pragma omp parallel for schedule(static)
	for (int64_t b = 0; b < B; b++) {
		const float *src = (const float *)x->data + b * per;
		uint8_t *p = u8 + b * per;
		/* The source made these floats from bytes (x / 255): rounding recovers them exactly. */
		for (int64_t j = 0; j < per; j++) {
			float f = src[j] < 0 ? 0 : src[j] > 1 ? 1 : src[j];
			p[j] = (uint8_t)lrintf(f * 255.0f);
		}
		int64_t id = index ? (int64_t)sup_tensor_get(index, b) : 0;
		struct sup_image img = {(float *)out->data + b * out_per, v->out_c, v->out_h, v->out_w};
		sup_transform_apply(t, p, v->in_c, v->in_h, v->in_w, &img, scr + (size_t)b * scratch,
				    sup_aug_rng(v->seed, epoch, id, view), view);
	}
	return out;
}

struct sup_tensor *mb_views_make(struct sup_ctx *c, const struct mb_views *v, const struct sup_tensor *x,
				 const struct sup_tensor *index, int64_t epoch, int view)
{
	if (!index)
		return NULL;
	return apply_all(c, v, &v->t, v->scratch, x, index, epoch, view);
}

struct sup_tensor *mb_views_eval(struct sup_ctx *c, const struct mb_views *v, const struct sup_tensor *x)
{
	return apply_all(c, v, &v->det, v->scratch_det, x, NULL, 0, 0);
}

int mb_encoder_declare(struct sup_image_encoder *e, struct sup_model *m, const char *prefix,
		       const struct sup_config *cfg, int64_t in_channels, int height)
{
	struct sup_image_encoder_config ec = {
	    .name = sup_config_str(cfg, "encoder"),
	    .in_channels = in_channels,
	    .cifar_stem = height <= 64,
	};
	return sup_image_encoder_declare(e, m, prefix, &ec);
}

enum sup_status mb_optim_init(struct sup_optim *o, struct sup_model *m, const struct sup_config *cfg)
{
	struct sup_optim_config oc = image_ssl_optim_config(cfg);
	oc.exclude_no_decay = true; /* SGD too: Wu et al.'s code decays neither BN nor biases */
	return sup_optim_init(o, m, &oc);
}

struct sup_tensor *mb_bank_loss(struct sup_ctx *c, struct sup_model *m, const struct sup_nce *l, enum mb_loss kind,
				struct sup_tensor *q, struct sup_tensor *pos, struct sup_tensor *neg, int64_t n_data)
{
	if (kind == MB_LOSS_SOFTMAX)
		return sup_info_nce_queue(c, q, pos, neg, l->tau, NULL);
	return sup_nce_forward(c, m, l, q, pos, neg, n_data);
}

int mb_head_declare(struct mb_head *h, struct sup_model *m, const char *prefix, int64_t in, int64_t out, bool mlp)
{
	h->mlp = mlp;
	if (!mlp)
		return sup_linear_declare(&h->fc2, m, prefix, in, out, true);
	char p0[96], p2[96];
	snprintf(p0, sizeof p0, "%s.0", prefix);
	snprintf(p2, sizeof p2, "%s.2", prefix);
	return sup_linear_declare(&h->fc1, m, p0, in, in, true) | sup_linear_declare(&h->fc2, m, p2, in, out, true);
}

struct sup_tensor *mb_embed(struct sup_ctx *c, struct sup_model *m, const struct mb_head *head, struct sup_tensor *h)
{
	if (head->mlp)
		h = sup_relu(c, sup_linear_forward(c, m, &head->fc1, h));
	return sup_l2_normalize(c, sup_linear_forward(c, m, &head->fc2, h), 1, 1e-12);
}

const struct sup_tensor *mb_index(struct sup_ctx *c, const struct sup_method_batch *b)
{
	if (!b->index || b->index->ndim != 1 || !b->views[0] || b->index->shape[0] != b->views[0]->shape[0]) {
		sup_ctx_fail(c, SUP_ERR_ARG, "memory-bank methods need the batch's example indices (b->index [B])");
		return NULL;
	}
	return b->index;
}

double mb_mean(const struct sup_tensor *t)
{
	if (!t)
		return NAN;
	int64_t n = sup_tensor_numel(t);
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += sup_tensor_get(t, i);
	return n ? s / (double)n : NAN;
}

void mb_sync_bn(struct sup_ctx *c, struct sup_model *m, struct sup_bn_sync *sync, bool on)
{
	*sync = sup_bn_sync_of_comm(c->comm);
	m->bn_sync = on && sup_comm_size(c->comm) > 1 ? sync : NULL;
}

enum sup_status mb_update(struct sup_ctx *c, struct sup_model *m, struct sup_optim *o, struct sup_tensor *loss,
			  double lr)
{
	if (!loss)
		return sup_ctx_status(c);
	sup_model_zero_grad(m);
	if (sup_backward(c, loss) != SUP_OK)
		return sup_ctx_status(c);
	if (sup_model_allreduce_grads(m, c->comm, 0) != SUP_OK)
		return sup_ctx_fail(c, SUP_ERR_COMM, "the gradient allreduce over %d processes failed",
				    sup_comm_size(c->comm));
	sup_optim_step(o, lr);
	return SUP_OK;
}

enum sup_status mb_model_status(const struct sup_model *m, const char *method, char *err, size_t err_size)
{
	if (m->err != SUP_OK)
		snprintf(err, err_size, "%s: %s", method, m->err_msg[0] ? m->err_msg : sup_status_str(m->err));
	return m->err;
}
