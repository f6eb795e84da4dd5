/* SCALE codecs of TfgridModule's structs (see tfgrid_types.h). */
#include "devchain/tfgrid_types.h"

#include <string.h>

#include "common/zerr.h"
#include "devchain/devchain_int.h"

int dev_str_set(struct dev_str *s, const void *p, size_t n)
{
	if (n > DEV_STR_MAX)
		return ZE_TOOBIG;
	if (n)
		memcpy(s->b, p, n);
	s->len = (uint8_t)n;
	return 0;
}

int dev_str_eq(const struct dev_str *a, const struct dev_str *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

int dev_str_encode(const struct dev_str *s, struct zbuf *b)
{
	return scale_put_vec_u8(b, s->b, s->len);
}

int dev_str_decode(struct scale_rd *r, struct dev_str *s)
{
	const uint8_t *p;
	size_t n;
	TRY(scale_get_vec_u8(r, DEV_STR_MAX, &p, &n));
	return dev_str_set(s, p, n);
}

static int get_option(struct scale_rd *r, int *has)
{
	uint8_t tag;
	TRY(scale_get_u8(r, &tag));
	if (tag > 1)
		return ZE_MALFORMED;
	*has = tag;
	return 0;
}

int dev_opt_str_encode(int has, const struct dev_str *s, struct zbuf *b)
{
	TRY(scale_put_u8(b, has ? 1 : 0));
	return has ? dev_str_encode(s, b) : 0;
}

int dev_opt_str_decode(struct scale_rd *r, int *has, struct dev_str *s)
{
	TRY(get_option(r, has));
	if (!*has) {
		s->len = 0;
		return 0;
	}
	return dev_str_decode(r, s);
}

static int get_enum(struct scale_rd *r, uint8_t nvariants, uint8_t *v)
{
	TRY(scale_get_u8(r, v));
	return *v < nvariants ? 0 : ZE_MALFORMED;
}

/* Vec length bounded by the fixed array it is decoded into. */
static int get_count(struct scale_rd *r, size_t max, size_t *n)
{
	uint64_t len;
	TRY(scale_get_compact(r, &len));
	if (len > max)
		return ZE_TOOBIG;
	*n = (size_t)len;
	return 0;
}

/* ---- Twin ---------------------------------------------------------------- */

int dev_twin_encode(const struct dev_twin *t, struct zbuf *b)
{
	TRY(scale_put_u32(b, t->id));
	TRY(scale_put_bytes(b, t->account_id, 32));
	TRY(scale_put_u8(b, t->has_relay ? 1 : 0));
	if (t->has_relay)
		TRY(scale_put_vec_u8(b, t->relay, t->relay_len));
	TRY(scale_put_compact(b, t->nentities));
	for (size_t i = 0; i < t->nentities; i++) {
		TRY(scale_put_u32(b, t->entities[i].entity_id));
		TRY(dev_str_encode(&t->entities[i].signature, b));
	}
	return dev_opt_str_encode(t->has_pk, &t->pk, b);
}

int dev_twin_decode(struct scale_rd *r, struct dev_twin *t)
{
	memset(t, 0, sizeof(*t));
	TRY(scale_get_u32(r, &t->id));
	TRY(scale_get_bytes(r, t->account_id, 32));
	TRY(get_option(r, &t->has_relay));
	if (t->has_relay) {
		const uint8_t *p;
		size_t n;
		TRY(scale_get_vec_u8(r, DEV_RELAY_MAX, &p, &n));
		memcpy(t->relay, p, n);
		t->relay_len = (uint16_t)n;
	}
	TRY(get_count(r, DEV_TWIN_ENTITIES_MAX, &t->nentities));
	for (size_t i = 0; i < t->nentities; i++) {
		TRY(scale_get_u32(r, &t->entities[i].entity_id));
		TRY(dev_str_decode(r, &t->entities[i].signature));
	}
	return dev_opt_str_decode(r, &t->has_pk, &t->pk);
}

/* ---- Farm ---------------------------------------------------------------- */

int dev_public_ip_encode(const struct dev_public_ip *ip, struct zbuf *b)
{
	TRY(dev_str_encode(&ip->ip, b));
	TRY(dev_str_encode(&ip->gateway, b));
	return scale_put_u64(b, ip->contract_id);
}

int dev_public_ip_decode(struct scale_rd *r, struct dev_public_ip *ip)
{
	TRY(dev_str_decode(r, &ip->ip));
	TRY(dev_str_decode(r, &ip->gateway));
	return scale_get_u64(r, &ip->contract_id);
}

static int put_opt_u64(struct zbuf *b, const struct dev_opt_u64 *o)
{
	TRY(scale_put_u8(b, o->has ? 1 : 0));
	return o->has ? scale_put_u64(b, o->v) : 0;
}

static int get_opt_u64(struct scale_rd *r, struct dev_opt_u64 *o)
{
	TRY(get_option(r, &o->has));
	return o->has ? scale_get_u64(r, &o->v) : 0;
}

static int limits_encode(const struct dev_farming_policy_limit *l, struct zbuf *b)
{
	TRY(scale_put_u32(b, l->farming_policy_id));
	TRY(put_opt_u64(b, &l->cu));
	TRY(put_opt_u64(b, &l->su));
	TRY(put_opt_u64(b, &l->end));
	TRY(scale_put_u8(b, l->has_node_count ? 1 : 0));
	if (l->has_node_count)
		TRY(scale_put_u32(b, l->node_count));
	return scale_put_bool(b, l->node_certification);
}

static int limits_decode(struct scale_rd *r, struct dev_farming_policy_limit *l)
{
	TRY(scale_get_u32(r, &l->farming_policy_id));
	TRY(get_opt_u64(r, &l->cu));
	TRY(get_opt_u64(r, &l->su));
	TRY(get_opt_u64(r, &l->end));
	TRY(get_option(r, &l->has_node_count));
	if (l->has_node_count)
		TRY(scale_get_u32(r, &l->node_count));
	return scale_get_bool(r, &l->node_certification);
}

int dev_farm_encode(const struct dev_farm *f, struct zbuf *b)
{
	TRY(scale_put_u32(b, f->version));
	TRY(scale_put_u32(b, f->id));
	TRY(dev_str_encode(&f->name, b));
	TRY(scale_put_u32(b, f->twin_id));
	TRY(scale_put_u32(b, f->pricing_policy_id));
	TRY(scale_put_u8(b, f->certification));
	TRY(scale_put_compact(b, f->npublic_ips));
	for (size_t i = 0; i < f->npublic_ips; i++)
		TRY(dev_public_ip_encode(&f->public_ips[i], b));
	TRY(scale_put_bool(b, f->dedicated_farm));
	TRY(scale_put_u8(b, f->has_limits ? 1 : 0));
	return f->has_limits ? limits_encode(&f->limits, b) : 0;
}

int dev_farm_decode(struct scale_rd *r, struct dev_farm *f)
{
	memset(f, 0, sizeof(*f));
	TRY(scale_get_u32(r, &f->version));
	TRY(scale_get_u32(r, &f->id));
	TRY(dev_str_decode(r, &f->name));
	TRY(scale_get_u32(r, &f->twin_id));
	TRY(scale_get_u32(r, &f->pricing_policy_id));
	TRY(get_enum(r, 2, &f->certification));
	TRY(get_count(r, DEV_FARM_IPS_MAX, &f->npublic_ips));
	for (size_t i = 0; i < f->npublic_ips; i++)
		TRY(dev_public_ip_decode(r, &f->public_ips[i]));
	TRY(scale_get_bool(r, &f->dedicated_farm));
	TRY(get_option(r, &f->has_limits));
	return f->has_limits ? limits_decode(r, &f->limits) : 0;
}

/* ---- Node ---------------------------------------------------------------- */

int dev_resources_encode(const struct dev_resources *res, struct zbuf *b)
{
	TRY(scale_put_u64(b, res->hru));
	TRY(scale_put_u64(b, res->sru));
	TRY(scale_put_u64(b, res->cru));
	return scale_put_u64(b, res->mru);
}

int dev_resources_decode(struct scale_rd *r, struct dev_resources *res)
{
	TRY(scale_get_u64(r, &res->hru));
	TRY(scale_get_u64(r, &res->sru));
	TRY(scale_get_u64(r, &res->cru));
	return scale_get_u64(r, &res->mru);
}

int dev_location_encode(const struct dev_location *l, struct zbuf *b)
{
	TRY(dev_str_encode(&l->city, b));
	TRY(dev_str_encode(&l->country, b));
	TRY(dev_str_encode(&l->latitude, b));
	return dev_str_encode(&l->longitude, b);
}

int dev_location_decode(struct scale_rd *r, struct dev_location *l)
{
	TRY(dev_str_decode(r, &l->city));
	TRY(dev_str_decode(r, &l->country));
	TRY(dev_str_decode(r, &l->latitude));
	return dev_str_decode(r, &l->longitude);
}

static int public_config_encode(const struct dev_public_config *pc, struct zbuf *b)
{
	TRY(dev_str_encode(&pc->ip4_ip, b));
	TRY(dev_str_encode(&pc->ip4_gw, b));
	TRY(scale_put_u8(b, pc->has_ip6 ? 1 : 0));
	if (pc->has_ip6) {
		TRY(dev_str_encode(&pc->ip6_ip, b));
		TRY(dev_str_encode(&pc->ip6_gw, b));
	}
	return dev_opt_str_encode(pc->has_domain, &pc->domain, b);
}

static int public_config_decode(struct scale_rd *r, struct dev_public_config *pc)
{
	TRY(dev_str_decode(r, &pc->ip4_ip));
	TRY(dev_str_decode(r, &pc->ip4_gw));
	TRY(get_option(r, &pc->has_ip6));
	if (pc->has_ip6) {
		TRY(dev_str_decode(r, &pc->ip6_ip));
		TRY(dev_str_decode(r, &pc->ip6_gw));
	}
	return dev_opt_str_decode(r, &pc->has_domain, &pc->domain);
}

int dev_interface_encode(const struct dev_interface *i, struct zbuf *b)
{
	TRY(dev_str_encode(&i->name, b));
	TRY(dev_str_encode(&i->mac, b));
	TRY(scale_put_compact(b, i->nips));
	for (size_t k = 0; k < i->nips; k++)
		TRY(dev_str_encode(&i->ips[k], b));
	return 0;
}

int dev_interface_decode(struct scale_rd *r, struct dev_interface *i)
{
	TRY(dev_str_decode(r, &i->name));
	TRY(dev_str_decode(r, &i->mac));
	TRY(get_count(r, DEV_IFACE_IPS_MAX, &i->nips));
	for (size_t k = 0; k < i->nips; k++)
		TRY(dev_str_decode(r, &i->ips[k]));
	return 0;
}

int dev_node_encode(const struct dev_node *n, struct zbuf *b)
{
	TRY(scale_put_u32(b, n->version));
	TRY(scale_put_u32(b, n->id));
	TRY(scale_put_u32(b, n->farm_id));
	TRY(scale_put_u32(b, n->twin_id));
	TRY(dev_resources_encode(&n->resources, b));
	TRY(dev_location_encode(&n->location, b));
	TRY(scale_put_u8(b, n->has_public_config ? 1 : 0));
	if (n->has_public_config)
		TRY(public_config_encode(&n->public_config, b));
	TRY(scale_put_u64(b, n->created));
	TRY(scale_put_u32(b, n->farming_policy_id));
	TRY(scale_put_compact(b, n->ninterfaces));
	for (size_t i = 0; i < n->ninterfaces; i++)
		TRY(dev_interface_encode(&n->interfaces[i], b));
	TRY(scale_put_u8(b, n->certification));
	TRY(scale_put_bool(b, n->secure_boot));
	TRY(scale_put_bool(b, n->virtualized));
	TRY(dev_opt_str_encode(n->has_serial_number, &n->serial_number, b));
	return scale_put_u32(b, n->connection_price);
}

int dev_node_decode(struct scale_rd *r, struct dev_node *n)
{
	memset(n, 0, sizeof(*n));
	TRY(scale_get_u32(r, &n->version));
	TRY(scale_get_u32(r, &n->id));
	TRY(scale_get_u32(r, &n->farm_id));
	TRY(scale_get_u32(r, &n->twin_id));
	TRY(dev_resources_decode(r, &n->resources));
	TRY(dev_location_decode(r, &n->location));
	TRY(get_option(r, &n->has_public_config));
	if (n->has_public_config)
		TRY(public_config_decode(r, &n->public_config));
	TRY(scale_get_u64(r, &n->created));
	TRY(scale_get_u32(r, &n->farming_policy_id));
	TRY(get_count(r, DEV_NODE_IFACES_MAX, &n->ninterfaces));
	for (size_t i = 0; i < n->ninterfaces; i++)
		TRY(dev_interface_decode(r, &n->interfaces[i]));
	TRY(get_enum(r, 2, &n->certification));
	TRY(scale_get_bool(r, &n->secure_boot));
	TRY(scale_get_bool(r, &n->virtualized));
	TRY(dev_opt_str_decode(r, &n->has_serial_number, &n->serial_number));
	return scale_get_u32(r, &n->connection_price);
}

/* ---- Pricing policy -------------------------------------------------------- */

int dev_policy_encode(const struct dev_policy *p, struct zbuf *b)
{
	TRY(scale_put_u32(b, p->value));
	return scale_put_u8(b, p->unit);
}

int dev_policy_decode(struct scale_rd *r, struct dev_policy *p)
{
	TRY(scale_get_u32(r, &p->value));
	return get_enum(r, DEV_UNIT_COUNT, &p->unit);
}

int dev_pricing_policy_encode(const struct dev_pricing_policy *p, struct zbuf *b)
{
	TRY(scale_put_u32(b, p->version));
	TRY(scale_put_u32(b, p->id));
	TRY(dev_str_encode(&p->name, b));
	TRY(dev_policy_encode(&p->su, b));
	TRY(dev_policy_encode(&p->cu, b));
	TRY(dev_policy_encode(&p->nu, b));
	TRY(dev_policy_encode(&p->ipu, b));
	TRY(dev_policy_encode(&p->unique_name, b));
	TRY(dev_policy_encode(&p->domain_name, b));
	TRY(scale_put_bytes(b, p->foundation_account, 32));
	TRY(scale_put_bytes(b, p->certified_sales_account, 32));
	return scale_put_u8(b, p->discount_for_dedication_nodes);
}

int dev_pricing_policy_decode(struct scale_rd *r, struct dev_pricing_policy *p)
{
	memset(p, 0, sizeof(*p));
	TRY(scale_get_u32(r, &p->version));
	TRY(scale_get_u32(r, &p->id));
	TRY(dev_str_decode(r, &p->name));
	TRY(dev_policy_decode(r, &p->su));
	TRY(dev_policy_decode(r, &p->cu));
	TRY(dev_policy_decode(r, &p->nu));
	TRY(dev_policy_decode(r, &p->ipu));
	TRY(dev_policy_decode(r, &p->unique_name));
	TRY(dev_policy_decode(r, &p->domain_name));
	TRY(scale_get_bytes(r, p->foundation_account, 32));
	TRY(scale_get_bytes(r, p->certified_sales_account, 32));
	return scale_get_u8(r, &p->discount_for_dedication_nodes);
}
