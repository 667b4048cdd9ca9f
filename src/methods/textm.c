/* Shared pieces of the text methods: encoder config from the keys, the optimizer, padding and
 * mean pooling (what evaluation probes: Devlin et al. 2019 probe [CLS]; mean pooling of the
 * frozen states is the protocol and treats GPT, MLM and ELECTRA alike). */
#include "methods/textm.h"

#include "selfsup/data.h"

#include <string.h>

enum sup_status textm_encoder_config(struct sup_text_encoder_config *ec, const struct sup_config *cfg,
				     const struct sup_data_info *data, bool causal, const char *method, char *err,
				     size_t err_size)
{
	if (data->modality != SUP_MODALITY_TEXT || data->vocab_size < SUP_TOK_BYTE_VOCAB || data->seq_len < 8) {
		snprintf(err, err_size, "%s trains on token sequences (data=fortunes), not on %s", method, data->name);
		return SUP_ERR_ARG;
	}
	*ec = (struct sup_text_encoder_config){
	    .vocab = data->vocab_size,
	    .max_len = data->seq_len,
	    .dim = sup_config_int(cfg, "dim"),
	    .heads = sup_config_int(cfg, "heads"),
	    .ffn = sup_config_int(cfg, "ffn"),
	    .layers = (int)sup_config_int(cfg, "layers"),
	    .dropout = sup_config_float(cfg, "dropout"),
	    .causal = causal,
	};
	const int64_t probe = sup_config_int(cfg, "probe_layers");
	if (ec->layers >= 1 && (probe < 1 || probe > ec->layers)) {
		snprintf(err, err_size, "%s: probe_layers must be in [1, layers = %d] (got %lld)", method, ec->layers,
			 (long long)probe);
		return SUP_ERR_ARG;
	}
	if (ec->dim < 1 || ec->heads < 1 || ec->dim % ec->heads != 0 || ec->ffn < 1 || ec->layers < 1 ||
	    !(ec->dropout >= 0 && ec->dropout < 1)) {
		snprintf(err, err_size,
			 "%s: need dim, heads, ffn, layers >= 1, dim divisible by heads and dropout in [0, 1) "
			 "(got dim %lld heads %lld ffn %lld layers %d dropout %g)",
			 method, (long long)ec->dim, (long long)ec->heads, (long long)ec->ffn, ec->layers, ec->dropout);
		return SUP_ERR_ARG;
	}
	return SUP_OK;
}

enum sup_status textm_optim_init(struct sup_optim *o, struct sup_model *m, double weight_decay)
{
	struct sup_optim_config oc = {
	    .kind = SUP_OPTIM_ADAMW,
	    .weight_decay = weight_decay,
	    .exclude_no_decay = true,
	};
	return sup_optim_init(o, m, &oc);
}

struct sup_tensor *textm_padding(struct sup_ctx *c, const struct sup_tensor *ids)
{
	if (!ids)
		return NULL;
	struct sup_tensor *p = sup_tensor_new(c, SUP_U8, 2, ids->shape);
	if (!p)
		return NULL;
	int64_t n = sup_tensor_numel(ids);
	for (int64_t i = 0; i < n; i++)
		((uint8_t *)p->data)[i] = sup_tensor_get(ids, i) == SUP_TOK_PAD;
	return p;
}

struct sup_tensor *textm_mean_pool(struct sup_ctx *c, struct sup_tensor *h, const struct sup_tensor *ids)
{
	if (!h || !ids)
		return NULL;
	int64_t B = ids->shape[0], T = ids->shape[1];
	struct sup_tensor *w = sup_tensor_new(c, SUP_F32, 3, (const int64_t[]){B, T, 1});
	struct sup_tensor *cnt = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){B, 1});
	if (!w || !cnt)
		return NULL;
	for (int64_t b = 0; b < B; b++) {
		float k = 0;
		for (int64_t t = 0; t < T; t++) {
			float real = sup_tensor_get(ids, b * T + t) != SUP_TOK_PAD;
			((float *)w->data)[b * T + t] = real;
			k += real;
		}
		((float *)cnt->data)[b] = k > 0 ? k : 1; /* an all-padding row pools to 0, not NaN */
	}
	return sup_div(c, sup_sum(c, sup_mul(c, h, w), (const int[]){1}, 1, false), cnt);
}

int32_t *textm_ids_i32(struct sup_ctx *c, const struct sup_tensor *ids)
{
	int64_t n = sup_tensor_numel(ids);
	int32_t *out = sup_ctx_alloc(c, sizeof(int32_t) * (size_t)(n ? n : 1));
	for (int64_t i = 0; out && i < n; i++)
		out[i] = (int32_t)sup_tensor_get(ids, i);
	return out;
}

struct sup_tensor *textm_probe_features(struct sup_ctx *c, struct sup_model *m, const struct sup_text_encoder *e,
					struct sup_tensor *ids, int n_layers)
{
	struct sup_tensor *states[SUP_TEXT_ENCODER_MAX_LAYERS] = {NULL};
	if (!sup_text_encoder_forward_states(c, m, e, ids, textm_padding(c, ids), n_layers, states))
		return NULL;
	for (int i = 0; i < n_layers; i++)
		states[i] = textm_mean_pool(c, states[i], ids);
	return n_layers == 1 ? states[0] : sup_concat(c, states, n_layers, 1);
}
