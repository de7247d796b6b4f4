/*
 * The MMS services of services.h. Requests are parsed with ber.h's bounded
 * cursors; answers are written into the caller's writer, and one that would
 * pass the negotiated PDU size becomes a confirmed error (resource) instead.
 */
#include "services.h"

#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ConfirmedServiceRequest/Response choices. */
enum {
    SVC_GET_NAME_LIST = 1,
    SVC_IDENTIFY = 2,
    SVC_READ = 4,
    SVC_WRITE = 5,
    SVC_GET_VAA = 6,
    SVC_GET_NVL_ATTRIBUTES = 12
};
/* ObjectClass basicObjectClass values. */
enum { CLASS_NAMED_VARIABLE = 0, CLASS_NAMED_VARIABLE_LIST = 2, CLASS_DOMAIN = 9 };
/* DataAccessError and ServiceError codes used. */
enum {
    DAE_TEMPORARILY_UNAVAILABLE = 2,
    DAE_OBJECT_ACCESS_UNSUPPORTED = 9,
    DAE_OBJECT_NON_EXISTENT = 10
};
enum { EC_RESOURCE = 3, EC_SERVICE = 4, EC_ACCESS = 7, EC_DEFINITION = 2 };
enum {
    ACCESS_OBJECT_NON_EXISTENT = 2,
    DEFINITION_OBJECT_UNDEFINED = 1,
    SERVICE_OTHER = 0,
    RESOURCE_OTHER = 0,
    RESOURCE_CAPABILITY_UNAVAILABLE = 4
};

int mms_initiate(const uint8_t *pdu, size_t len, struct ber_writer *w, uint32_t *ret_max_pdu)
{
    struct ber_cursor c, ci;
    struct ber_tlv req, t;
    int64_t max_pdu = MMS_PDU_MAX, calling = 1, called = 1, nesting = MMS_NESTING;
    int r;
    ber_cursor_init(&c, pdu, len);
    if ((r = ber_next(&c, &req)))
        return -EBADMSG;
    if (req.tag != BER_CTXC(8))
        return -EPROTO;
    if ((r = ber_enter(&req, &ci)))
        return r;
    bool have_detail = false;
    while ((r = ber_next(&ci, &t)) == 0) {
        int64_t v = 0;
        if (!ber_constructed(&t) && ber_get_int(&t, &v))
            return -EBADMSG;
        switch (t.tag) {
        case BER_CTX(0):
            max_pdu = v;
            break;
        case BER_CTX(1):
            calling = v;
            break;
        case BER_CTX(2):
            called = v;
            break;
        case BER_CTX(3):
            nesting = v;
            break;
        case BER_CTXC(4):
            have_detail = true;
            break;
        default:
            break;
        }
    }
    if (r != -ENOENT || !have_detail || calling < 1 || called < 1 || nesting < 0)
        return -EBADMSG;
    if (max_pdu < (int64_t)MMS_PDU_MIN)
        return -EPROTO; /* too small for a directory entry or an LN's value */
    if (max_pdu > (int64_t)MMS_PDU_MAX)
        max_pdu = MMS_PDU_MAX;
    if (nesting > MMS_NESTING)
        nesting = MMS_NESTING;
    /* Parameter CBB: str1, str2, vnam, valt, vlis (as IEC 61850-8-1 servers announce). */
    static const uint8_t cbb[] = {0xf1, 0x00};
    /* Services supported (85 bits): getNameList 1, identify 2, read 4, write 5 (report
       control blocks only), getVariableAccessAttributes 6, getNamedVariableListAttributes 12,
       informationReport 79, conclude 83. */
    uint8_t svc[11] = {0x6e, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x10};
    ber_w_open(w, BER_CTXC(9));
    ber_w_int(w, BER_CTX(0), max_pdu);
    ber_w_int(w, BER_CTX(1), calling < 5 ? calling : 5);
    ber_w_int(w, BER_CTX(2), called < 5 ? called : 5);
    ber_w_int(w, BER_CTX(3), nesting);
    ber_w_open(w, BER_CTXC(4));
    ber_w_int(w, BER_CTX(0), 1); /* version 1 */
    ber_w_bits(w, BER_CTX(1), cbb, 11);
    ber_w_bits(w, BER_CTX(2), svc, 85);
    ber_w_close(w);
    ber_w_close(w);
    *ret_max_pdu = (uint32_t)max_pdu;
    return 0;
}

static void write_error(struct ber_writer *w, uint64_t invoke, int cls, int code)
{
    w->len = 0;
    w->full = false;
    w->depth = 0;
    ber_w_open(w, BER_CTXC(2)); /* confirmed-ErrorPDU */
    ber_w_uint(w, BER_CTX(0), invoke);
    ber_w_open(w, BER_CTXC(2)); /* serviceError */
    ber_w_open(w, BER_CTXC(0)); /* errorClass */
    ber_w_int(w, BER_CTX((uint32_t)cls), code);
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
}

static void write_reject(struct ber_writer *w, bool have_invoke, uint64_t invoke, int reason)
{
    w->len = 0;
    w->full = false;
    w->depth = 0;
    ber_w_open(w, BER_CTXC(4)); /* rejectPDU */
    if (have_invoke)
        ber_w_uint(w, BER_CTX(0), invoke);
    ber_w_int(w, BER_CTX(1), reason); /* confirmed-requestPDU */
    ber_w_close(w);
}

/* --- names ---------------------------------------------------------------------------------- */

/* An ObjectName that is domain-specific: ret_dom, ret_item. 0 or -EBADMSG/-EPROTO. */
static int object_name(const struct ber_tlv *name, char ret_dom[MMS_ID_MAX + 1],
                       char ret_item[MMS_ID_MAX + 1])
{
    struct ber_cursor c, cd;
    struct ber_tlv t, dom, item;
    int r;
    if ((r = ber_enter(name, &c)) || (r = ber_next(&c, &t)))
        return -EBADMSG;
    if (t.tag != BER_CTXC(1))
        return -EPROTO; /* vmd- or aa-specific: nothing of ours is named so */
    if ((r = ber_enter(&t, &cd)) || (r = ber_expect(&cd, BER_VISIBLE_STR, &dom)) ||
        (r = ber_expect(&cd, BER_VISIBLE_STR, &item)))
        return -EBADMSG;
    if (ber_get_visible(&dom, ret_dom, MMS_ID_MAX + 1) ||
        ber_get_visible(&item, ret_item, MMS_ID_MAX + 1))
        return -EPROTO; /* longer than any name here: no such object */
    return 0;
}

static const struct mms_device *find_device(const struct mms_device *devs, size_t n,
                                            const char *domain)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(devs[mid].domain, domain);
        if (c == 0)
            return &devs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* --- GetNameList ---------------------------------------------------------------------------- */

struct name_list {
    struct ber_writer *w;
    const char *after;
    size_t budget; /* w->len may reach this with room left to close */
    bool more;
};

static int add_name(const char *name, void *ctx)
{
    struct name_list *l = ctx;
    if (l->after && strcmp(name, l->after) <= 0)
        return 0;
    if (l->w->len + 2 + strlen(name) > l->budget) {
        l->more = true;
        return 1;
    }
    ber_w_visible(l->w, BER_VISIBLE_STR, name);
    return 0;
}

static int get_name_list(const struct mms_provider *p, uint32_t max_pdu, const struct ber_tlv *req,
                         struct ber_writer *w, uint64_t invoke)
{
    struct ber_cursor c, cc, cs;
    struct ber_tlv t, cls_t, scope;
    int64_t cls = -1;
    char after[MMS_ID_MAX + 1], dom[MMS_ID_MAX + 1];
    bool have_after = false, vmd = false;
    int r;
    dom[0] = '\0';
    if ((r = ber_enter(req, &c)))
        return r;
    while ((r = ber_next(&c, &t)) == 0) {
        if (t.tag == BER_CTXC(0)) {
            if ((r = ber_enter(&t, &cc)) || (r = ber_expect(&cc, BER_CTX(0), &cls_t)) ||
                (r = ber_get_int(&cls_t, &cls)))
                return -EBADMSG;
        } else if (t.tag == BER_CTXC(1)) {
            if ((r = ber_enter(&t, &cs)) || (r = ber_next(&cs, &scope)))
                return -EBADMSG;
            if (scope.tag == BER_CTX(0))
                vmd = true;
            else if (scope.tag == BER_CTX(1)) {
                if (ber_get_visible(&scope, dom, sizeof(dom)))
                    dom[0] = '\0'; /* longer than any domain: none such */
            } else if (scope.tag != BER_CTX(2))
                return -EBADMSG;
        } else if (t.tag == BER_CTX(2)) {
            if (ber_get_visible(&t, after, sizeof(after)))
                return -EBADMSG;
            have_after = true;
        }
    }
    if (r != -ENOENT || cls < 0)
        return -EBADMSG;

    const struct mms_device *devs = NULL;
    size_t n = 0;
    ber_w_open(w, BER_CTXC(1)); /* confirmed-ResponsePDU */
    ber_w_uint(w, BER_INTEGER, invoke);
    ber_w_open(w, BER_CTXC(SVC_GET_NAME_LIST));
    ber_w_open(w, BER_CTXC(0)); /* listOfIdentifier */
    struct name_list l = {.w = w, .after = have_after ? after : NULL, .budget = max_pdu - 16};
    if (cls == CLASS_DOMAIN && vmd) {
        if ((r = p->devices(p->ctx, &devs, &n))) {
            write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
            return 0;
        }
        for (size_t i = 0; i < n && !l.more; i++)
            (void)add_name(devs[i].domain, &l);
    } else if (cls == CLASS_NAMED_VARIABLE && !vmd && dom[0]) {
        if ((r = p->devices(p->ctx, &devs, &n)) == 0 && !find_device(devs, n, dom)) {
            write_error(w, invoke, EC_ACCESS, ACCESS_OBJECT_NON_EXISTENT);
            return 0;
        }
        if (r) {
            write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
            return 0;
        }
        (void)mms_model_walk(add_name, &l);
    } else if (cls == CLASS_NAMED_VARIABLE_LIST && !vmd && dom[0]) {
        if ((r = p->devices(p->ctx, &devs, &n)) == 0 && !find_device(devs, n, dom)) {
            write_error(w, invoke, EC_ACCESS, ACCESS_OBJECT_NON_EXISTENT);
            return 0;
        }
        if (r) {
            write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
            return 0;
        }
        (void)add_name(MMS_DATASET, &l);
    }
    /* Anything else (data sets, journals, named variables of the VMD...): there are none. */
    ber_w_close(w);
    ber_w_bool(w, BER_CTX(1), l.more); /* moreFollows */
    ber_w_close(w);
    ber_w_close(w);
    return 0;
}

/* --- Identify ----------------------------------------------------------------------------- */

static void identify(struct ber_writer *w, uint64_t invoke)
{
    ber_w_open(w, BER_CTXC(1));
    ber_w_uint(w, BER_INTEGER, invoke);
    ber_w_open(w, BER_CTXC(SVC_IDENTIFY));
    ber_w_visible(w, BER_CTX(0), MMS_VENDOR);
    ber_w_visible(w, BER_CTX(1), MMS_MODEL);
    ber_w_visible(w, BER_CTX(2), MMS_REVISION);
    ber_w_close(w);
    ber_w_close(w);
}

/* --- GetVariableAccessAttributes ------------------------------------------------------------ */

static int get_vaa(const struct mms_provider *p, const struct ber_tlv *req, struct ber_writer *w,
                   uint64_t invoke)
{
    struct ber_cursor c;
    struct ber_tlv name;
    char dom[MMS_ID_MAX + 1], item[MMS_ID_MAX + 1];
    int r;
    if ((r = ber_enter(req, &c)) || (r = ber_next(&c, &name)))
        return -EBADMSG;
    if (name.tag != BER_CTXC(0)) { /* by address: we have none */
        write_error(w, invoke, EC_ACCESS, ACCESS_OBJECT_NON_EXISTENT);
        return 0;
    }
    r = object_name(&name, dom, item);
    if (r == -EBADMSG)
        return r;
    const struct mms_device *devs;
    size_t n;
    enum mms_src src;
    const struct mms_node *node = NULL;
    if (r == 0) {
        if (p->devices(p->ctx, &devs, &n)) {
            write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
            return 0;
        }
        if (find_device(devs, n, dom))
            node = mms_model_find(item, &src);
    }
    if (!node) {
        write_error(w, invoke, EC_ACCESS, ACCESS_OBJECT_NON_EXISTENT);
        return 0;
    }
    ber_w_open(w, BER_CTXC(1));
    ber_w_uint(w, BER_INTEGER, invoke);
    ber_w_open(w, BER_CTXC(SVC_GET_VAA));
    ber_w_bool(w, BER_CTX(0), false); /* mmsDeletable */
    ber_w_open(w, BER_CTXC(2));       /* typeDescription */
    mms_model_type(w, node);
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
    return 0;
}

/* --- Read --------------------------------------------------------------------------------- */

struct read_cache {
    const struct mms_device *dev;
    int status; /* of p->latest() */
    struct reading reading;
};

/* Writes the AccessResult of one named variable. */
static void read_named(const struct mms_provider *p, const struct mms_rcbs *rcbs,
                       const struct mms_device *d, const char *item, struct read_cache *cache,
                       struct ber_writer *w)
{
    enum mms_src src;
    const struct mms_node *node = d ? mms_model_find(item, &src) : NULL;
    if (!node) {
        ber_w_int(w, BER_CTX(0), DAE_OBJECT_NON_EXISTENT);
        return;
    }
    if (cache->dev != d) {
        cache->dev = d;
        cache->status = p->latest(p->ctx, d, &cache->reading);
    }
    if (cache->status && cache->status != -ENOENT) {
        ber_w_int(w, BER_CTX(0), DAE_TEMPORARILY_UNAVAILABLE);
        return;
    }
    struct mms_values v = {.reading = cache->status ? NULL : &cache->reading,
                           .online = d->online,
                           .domain = d->domain,
                           .rcb = mms_rcb_find(rcbs, d->domain)};
    mms_model_data(w, node, src, &v);
}

static void read_one(const struct mms_provider *p, const struct mms_rcbs *rcbs,
                     const struct mms_device *devs, size_t n, const struct ber_tlv *spec,
                     struct read_cache *cache, struct ber_writer *w)
{
    struct ber_cursor c;
    struct ber_tlv name, alt;
    char dom[MMS_ID_MAX + 1], item[MMS_ID_MAX + 1];
    if (ber_enter(spec, &c) || ber_next(&c, &name) || name.tag != BER_CTXC(0) ||
        object_name(&name, dom, item)) {
        ber_w_int(w, BER_CTX(0), DAE_OBJECT_NON_EXISTENT);
        return;
    }
    if (ber_next(&c, &alt) == 0) { /* alternateAccess: not supported */
        ber_w_int(w, BER_CTX(0), DAE_OBJECT_ACCESS_UNSUPPORTED);
        return;
    }
    read_named(p, rcbs, find_device(devs, n, dom), item, cache, w);
}

/* The device whose data set a (domain-specific) ObjectName names; NULL when none. */
static const struct mms_device *dataset_of(const struct mms_device *devs, size_t n,
                                           const struct ber_tlv *name)
{
    char dom[MMS_ID_MAX + 1], item[MMS_ID_MAX + 1];
    if (object_name(name, dom, item) || strcmp(item, MMS_DATASET) != 0)
        return NULL;
    return find_device(devs, n, dom);
}

static int read_service(const struct mms_provider *p, const struct mms_rcbs *rcbs, uint32_t max_pdu,
                        const struct ber_tlv *req, struct ber_writer *w, uint64_t invoke)
{
    struct ber_cursor c, cv, cl;
    struct ber_tlv t, vas, list, spec;
    int r;
    if ((r = ber_enter(req, &c)))
        return -EBADMSG;
    bool found = false;
    while ((r = ber_next(&c, &t)) == 0)
        if (t.tag == BER_CTXC(1)) {
            vas = t;
            found = true;
        }
    if (r != -ENOENT || !found)
        return -EBADMSG;
    if ((r = ber_enter(&vas, &cv)) || (r = ber_next(&cv, &list)))
        return -EBADMSG;
    if (list.tag != BER_CTXC(0) && list.tag != BER_CTXC(1))
        return -EBADMSG;
    const struct mms_device *devs, *ds = NULL;
    size_t n;
    if (p->devices(p->ctx, &devs, &n)) {
        write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
        return 0;
    }
    if (list.tag == BER_CTXC(1) && !(ds = dataset_of(devs, n, &list))) {
        /* variableListName: the data set of a device, or nothing */
        write_error(w, invoke, EC_ACCESS, ACCESS_OBJECT_NON_EXISTENT);
        return 0;
    }
    struct read_cache cache = {.dev = NULL};
    ber_w_open(w, BER_CTXC(1));
    ber_w_uint(w, BER_INTEGER, invoke);
    ber_w_open(w, BER_CTXC(SVC_READ));
    ber_w_open(w, BER_CTXC(1)); /* listOfAccessResult */
    unsigned count = 0;
    if (ds) {
        for (unsigned i = 0; i < mms_n_dataset_members; i++)
            read_named(p, rcbs, ds, mms_dataset_members[i], &cache, w);
        count = mms_n_dataset_members;
        r = -ENOENT;
    } else if ((r = ber_enter(&list, &cl))) {
        return -EBADMSG;
    }
    while (!ds && (r = ber_next(&cl, &spec)) == 0) {
        if (spec.tag != BER_SEQUENCE)
            return -EBADMSG;
        if (++count > MMS_READ_MAX) {
            write_error(w, invoke, EC_RESOURCE, RESOURCE_CAPABILITY_UNAVAILABLE);
            return 0;
        }
        read_one(p, rcbs, devs, n, &spec, &cache, w);
    }
    if (r != -ENOENT || count == 0)
        return -EBADMSG;
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
    if (!ber_w_ok(w) || w->len > max_pdu)
        write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
    return 0;
}

/* --- Write (report control blocks only) ------------------------------------------------------ */

static int write_service(const struct mms_provider *p, struct mms_rcbs *rcbs,
                         const struct ber_tlv *req, struct ber_writer *w, uint64_t invoke)
{
    struct ber_cursor c, cv, cd;
    struct ber_tlv vars, datas, spec, data;
    if (ber_enter(req, &c) || ber_expect(&c, BER_CTXC(0), &vars) ||
        ber_expect(&c, BER_CTXC(0), &datas) || ber_enter(&vars, &cv) || ber_enter(&datas, &cd))
        return -EBADMSG;
    const struct mms_device *devs;
    size_t n;
    if (p->devices(p->ctx, &devs, &n)) {
        write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
        return 0;
    }
    ber_w_open(w, BER_CTXC(1));
    ber_w_uint(w, BER_INTEGER, invoke);
    ber_w_open(w, BER_CTXC(SVC_WRITE));
    unsigned count = 0;
    int r;
    while ((r = ber_next(&cv, &spec)) == 0) {
        if (ber_next(&cd, &data) || ++count > MMS_READ_MAX)
            return -EBADMSG; /* fewer values than variables */
        struct ber_cursor cs;
        struct ber_tlv name;
        char dom[MMS_ID_MAX + 1], item[MMS_ID_MAX + 1];
        int err = 10; /* object-non-existent */
        if (spec.tag == BER_SEQUENCE && ber_enter(&spec, &cs) == 0 && ber_next(&cs, &name) == 0 &&
            name.tag == BER_CTXC(0) && object_name(&name, dom, item) == 0) {
            const struct mms_device *d = find_device(devs, n, dom);
            enum mms_src src;
            size_t rl = strlen(MMS_RCB_ITEM);
            if (d && mms_model_find(item, &src)) {
                err = 3; /* object-access-denied: everything but an RCB's attributes */
                if (rcbs && strncmp(item, MMS_RCB_ITEM, rl) == 0 && item[rl] == '$')
                    err = mms_rcb_write(rcbs, d, item + rl + 1, &data);
            }
        }
        if (err < 0)
            ber_w_null(w, BER_CTX(1)); /* success */
        else
            ber_w_int(w, BER_CTX(0), err);
    }
    if (r != -ENOENT || count == 0 || !ber_at_end(&cd))
        return -EBADMSG;
    ber_w_close(w);
    ber_w_close(w);
    return 0;
}

/* --- GetNamedVariableListAttributes -------------------------------------------------------- */

static int get_nvl_attributes(const struct mms_provider *p, const struct ber_tlv *req,
                              struct ber_writer *w, uint64_t invoke)
{
    const struct mms_device *devs, *d;
    size_t n;
    char dom[MMS_ID_MAX + 1], item[MMS_ID_MAX + 1];
    int r = object_name(req, dom, item); /* the request is the ObjectName */
    if (r == -EBADMSG)
        return r;
    if (p->devices(p->ctx, &devs, &n)) {
        write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
        return 0;
    }
    if (r || !(d = dataset_of(devs, n, req))) {
        write_error(w, invoke, EC_ACCESS, ACCESS_OBJECT_NON_EXISTENT);
        return 0;
    }
    ber_w_open(w, BER_CTXC(1));
    ber_w_uint(w, BER_INTEGER, invoke);
    ber_w_open(w, BER_CTXC(SVC_GET_NVL_ATTRIBUTES));
    ber_w_bool(w, BER_CTX(0), false); /* mmsDeletable */
    ber_w_open(w, BER_CTXC(1));       /* listOfVariable */
    for (unsigned i = 0; i < mms_n_dataset_members; i++) {
        ber_w_open(w, BER_SEQUENCE);
        ber_w_open(w, BER_CTXC(0)); /* variableSpecification: name */
        ber_w_open(w, BER_CTXC(1)); /* domain-specific */
        ber_w_visible(w, BER_VISIBLE_STR, d->domain);
        ber_w_visible(w, BER_VISIBLE_STR, mms_dataset_members[i]);
        ber_w_close(w);
        ber_w_close(w);
        ber_w_close(w);
    }
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
    return 0;
}

/* --- dispatch ------------------------------------------------------------------------------- */

int mms_serve(const struct mms_provider *p, struct mms_rcbs *rcbs, uint32_t max_pdu,
              const uint8_t *pdu, size_t len, struct ber_writer *w, enum mms_outcome *ret)
{
    struct ber_cursor c, cr;
    struct ber_tlv t, id, svc;
    uint64_t invoke = 0;
    *ret = MMS_ANSWERED;
    ber_cursor_init(&c, pdu, len);
    if (ber_next(&c, &t) || !ber_at_end(&c))
        return -EBADMSG;
    if (t.tag == BER_CTX(11)) { /* conclude-RequestPDU */
        ber_w_null(w, BER_CTX(12));
        *ret = MMS_CONCLUDED;
        return ber_w_ok(w) ? 0 : -EMSGSIZE;
    }
    if (t.tag != BER_CTXC(0)) /* only confirmed requests are served */
        return -EBADMSG;
    if (ber_enter(&t, &cr) || ber_expect(&cr, BER_INTEGER, &id) || ber_get_uint(&id, &invoke) ||
        invoke > UINT32_MAX)
        return -EBADMSG;
    int r = ber_next(&cr, &svc);
    if (r == 0 && svc.tag == BER_SEQUENCE) /* listOfModifier: none supported */
        r = -EPROTO;
    if (r == 0) {
        switch (svc.tag) {
        case BER_CTXC(SVC_GET_NAME_LIST):
            r = get_name_list(p, max_pdu, &svc, w, invoke);
            break;
        case BER_CTX(SVC_IDENTIFY):
            identify(w, invoke);
            break;
        case BER_CTXC(SVC_READ):
            r = read_service(p, rcbs, max_pdu, &svc, w, invoke);
            break;
        case BER_CTXC(SVC_GET_VAA):
            r = get_vaa(p, &svc, w, invoke);
            break;
        case BER_CTXC(SVC_WRITE):
            r = write_service(p, rcbs, &svc, w, invoke);
            break;
        case BER_CTXC(SVC_GET_NVL_ATTRIBUTES):
            r = get_nvl_attributes(p, &svc, w, invoke);
            break;
        default:
            write_reject(w, true, invoke, 1); /* unrecognized-service */
            *ret = MMS_REJECTED;
            return ber_w_ok(w) ? 0 : -EMSGSIZE;
        }
    }
    if (r) {
        write_reject(w, true, invoke, 4); /* invalid-argument */
        *ret = MMS_REJECTED;
    }
    if (!ber_w_ok(w) || w->len > max_pdu)
        write_error(w, invoke, EC_RESOURCE, RESOURCE_OTHER);
    return ber_w_ok(w) ? 0 : -EMSGSIZE;
}
