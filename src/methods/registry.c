/* The method registry: one line per built-in method. A new method file defines
 * `const struct sup_method sup_method_<name>` and adds it to the table below. */
#include "selfsup/method.h"

#include <stdio.h>
#include <string.h>

extern const struct sup_method sup_method_toy;
extern const struct sup_method sup_method_dgi;
extern const struct sup_method sup_method_gae;
extern const struct sup_method sup_method_vgae;
extern const struct sup_method sup_method_simclr;
extern const struct sup_method sup_method_moco;
extern const struct sup_method sup_method_mocov2;
extern const struct sup_method sup_method_ae;
extern const struct sup_method sup_method_dae;
extern const struct sup_method sup_method_vae;
extern const struct sup_method sup_method_vqvae;
extern const struct sup_method sup_method_made;
extern const struct sup_method sup_method_pixelcnn;
extern const struct sup_method sup_method_pixel_baseline;
extern const struct sup_method sup_method_instdisc;
extern const struct sup_method sup_method_cmc;
extern const struct sup_method sup_method_pirl;
extern const struct sup_method sup_method_gpt;
extern const struct sup_method sup_method_mlm;
extern const struct sup_method sup_method_electra;

static const struct sup_method *const registry[] = {
    &sup_method_toy, /* test fixture (hidden from `selfsup list`) */
    &sup_method_dgi,
    &sup_method_gae,
    &sup_method_vgae,
    &sup_method_simclr,
    &sup_method_moco,
    &sup_method_mocov2,
    &sup_method_ae,
    &sup_method_dae,
    &sup_method_vae,
    &sup_method_vqvae,
    &sup_method_made,
    &sup_method_pixelcnn,
    &sup_method_pixel_baseline, /* baseline fixture of the generative image methods (hidden) */
    &sup_method_instdisc,
    &sup_method_cmc,
    &sup_method_pirl,
    &sup_method_gpt,
    &sup_method_mlm,
    &sup_method_electra,
};

int sup_method_count(void)
{
	return (int)(sizeof registry / sizeof registry[0]);
}

const struct sup_method *sup_method_at(int i)
{
	SUP_ASSERT(i >= 0 && i < sup_method_count());
	return registry[i];
}

const struct sup_method *sup_method_find(const char *name)
{
	for (int i = 0; i < sup_method_count(); i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const char *sup_method_suggest(const char *name)
{
	const char *best = NULL;
	int bd = 0;
	for (int i = 0; i < sup_method_count(); i++) {
		int d = sup_edit_distance(name, registry[i]->name);
		if (!best || d < bd) {
			best = registry[i]->name;
			bd = d;
		}
	}
	return best;
}

struct sup_tensor *sup_method_encode_with(sup_features_fn f, void *state, struct sup_ctx *c,
					  const struct sup_method_batch *b)
{
	sup_no_grad_begin(c);
	struct sup_tensor *h = f(state, c, b, false);
	sup_no_grad_end(c);
	return h;
}

const char *sup_batch_kind_name(enum sup_batch_kind k)
{
	static const char *const names[] = {"images", "tokens", "graph", "vectors"};
	_Static_assert(sizeof names / sizeof names[0] == SUP_BATCH_KIND_COUNT, "batch kind names");
	return (unsigned)k < SUP_BATCH_KIND_COUNT ? names[k] : "?";
}

char *sup_modalities_str(char *buf, size_t size, unsigned modalities)
{
	static const char *const names[] = {"image", "text", "graph", "vector"};
	size_t len = 0;
	buf[0] = 0;
	for (int i = 0; i < 4; i++) {
		if (!(modalities & (1u << i)))
			continue;
		int n = snprintf(buf + len, size - len, "%s%s", len ? "," : "", names[i]);
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
	return buf;
}
