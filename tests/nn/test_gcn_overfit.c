/* Overfit test of the GCN encoder (as tests/nn/test_encoders.c does for the image encoders and
 * test_transformer.c for the text encoder): a 2-layer GCN + linear head fits 16 randomly
 * labelled nodes of a small random graph to 100% training accuracy within a bounded number of
 * Adam steps. */
#include "testutil.h"
#include "selfsup/data.h"
#include "selfsup/optim.h"

#define NODES 16
#define FEATS 8

int main(void)
{
	struct sup_rng r = sup_rng_make(21, 0);
	int32_t src[2 * NODES], dst[2 * NODES];
	for (int i = 0; i < NODES; i++) { /* a ring plus one random chord per node */
		src[2 * i] = i;
		dst[2 * i] = (i + 1) % NODES;
		src[2 * i + 1] = i;
		dst[2 * i + 1] = (int32_t)((i + 2 + sup_rng_below(&r, NODES - 3)) % NODES);
	}
	struct sup_allocator al = sup_allocator_default();
	struct sup_csr_buf adjb;
	char err[256];
	TU_CHECK(sup_norm_adj_from_edges(&adjb, NODES, src, dst, 2 * NODES, &al, err, sizeof err) == SUP_OK);
	struct sup_csr adj;
	sup_csr_buf_view(&adjb, &adj);

	struct sup_model m;
	sup_model_init(&m, al);
	struct sup_gcn_encoder enc;
	struct sup_linear head;
	const int64_t dims[3] = { FEATS, 32, 32 };
	sup_gcn_encoder_declare(&enc, &m, "encoder", 2, dims, SUP_GCN_ACT_RELU, true, 0.0);
	sup_linear_declare(&head, &m, "head", 32, 4, true);
	TU_CHECK_MSG(sup_model_build(&m, &r) == SUP_OK, "%s", m.err_msg);
	struct sup_optim opt;
	struct sup_optim_config cfg = { .kind = SUP_OPTIM_ADAM };
	TU_CHECK(sup_optim_init(&opt, &m, &cfg) == SUP_OK);

	struct sup_ctx c;
	tu_ctx(&c, 3);
	float x[NODES * FEATS];
	int64_t y[NODES];
	for (int i = 0; i < NODES * FEATS; i++)
		x[i] = sup_rng_uniform(&r);
	for (int i = 0; i < NODES; i++)
		y[i] = (int64_t)sup_rng_below(&r, 4);
	int steps = 0, correct = 0;
	for (; steps < 300 && correct < NODES; steps++) {
		struct sup_tensor *xt = sup_tensor_wrap(&c, SUP_F32, 2, (const int64_t[]){ NODES, FEATS }, x);
		struct sup_tensor *yt = sup_tensor_wrap(&c, SUP_I64, 1, (const int64_t[]){ NODES }, y);
		struct sup_tensor *logits = sup_linear_forward(&c, &m, &head, sup_gcn_encoder_forward(&c, &m, &enc, &adj, xt, NULL));
		struct sup_tensor *pred = sup_argmax(&c, logits, 1, false);
		correct = 0;
		for (int i = 0; pred && i < NODES; i++)
			correct += ((int64_t *)pred->data)[i] == y[i];
		struct sup_tensor *loss = sup_cross_entropy(&c, logits, yt, -100, 0.0, SUP_REDUCE_MEAN);
		sup_model_zero_grad(&m);
		if (sup_backward(&c, loss) != SUP_OK)
			break;
		sup_optim_step(&opt, 1e-2);
		sup_ctx_reset(&c);
	}
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s", sup_ctx_error(&c));
	TU_CHECK_MSG(correct == NODES, "GCN encoder fitted %d of %d nodes in %d steps", correct, NODES, steps);
	printf("overfit gcn: %d/%d after %d steps\n", correct, NODES, steps);
	sup_ctx_deinit(&c);
	sup_optim_deinit(&opt);
	sup_model_deinit(&m);
	sup_csr_buf_free(&adjb);
	return tu_finish("gcn_overfit");
}
