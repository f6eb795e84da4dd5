/*
 * TfgridModule calls of tfchain that the devchain keeps minimal:
 * user_accept_tc(document_link, document_hash), which the devchain accepts
 * without requiring it before create_twin, and report_uptime_v2(uptime,
 * timestamp_hint), which emits NodeUptimeReported(node_id, now, uptime)
 * for the caller's node like tfchain does (the devchain does not check the
 * hint against its clock).
 */
#include "devchain/pallet_tfgrid.h"

#include "common/zerr.h"
#include "devchain/tfgrid_store.h"
#include "devchain/devchain_int.h"

#define P DEV_TFGRID_PALLET
#define DOC_MAX 1024
int dev_tfgrid_call_user_accept_tc(struct dev_ctx *ctx, struct scale_rd *a)
{
	const uint8_t *p;
	size_t n;

	if (!dev_origin(ctx))
		return DEV_ERR_BAD_ORIGIN;
	TRY(scale_get_vec_u8(a, DOC_MAX, &p, &n));
	if (n < 1)
		return TFG_ERR(TFG_ERR_DOCUMENT_LINK_TOO_SHORT);
	TRY(scale_get_vec_u8(a, DOC_MAX, &p, &n));
	if (n < 1)
		return TFG_ERR(TFG_ERR_DOCUMENT_HASH_TOO_SHORT);
	return 0;
}

int dev_tfgrid_call_report_uptime_v2(struct dev_ctx *ctx, struct scale_rd *a)
{
	struct dev_twin t;
	uint64_t uptime, hint;
	uint32_t node;
	uint8_t tk[4];
	struct zbuf b;
	int rc;

	TRY(dev_origin_twin(ctx, TFG_ERR(TFG_ERR_TWIN_NOT_EXISTS), &t));
	TRY(scale_get_u64(a, &uptime));
	TRY(scale_get_u64(a, &hint));
	dev_le32(tk, t.id);
	rc = dev_get_u32(ctx, P, "NodeIdByTwinID", tk, 4, &node);
	if (rc == ZE_ABSENT || (rc == 0 && node == 0))
		return TFG_ERR(TFG_ERR_NODE_NOT_EXISTS);
	if (rc)
		return rc;
	zbuf_init(&b, 0);
	rc = scale_put_u32(&b, node);
	if (!rc)
		rc = scale_put_u64(&b, dev_block_timestamp_ms(ctx) / 1000);
	if (!rc)
		rc = scale_put_u64(&b, uptime);
	return dev_emit_encoded(ctx, DEV_TFGRID_INDEX, TFG_EV_NODE_UPTIME_REPORTED, &b, rc);
}
