/*
 * RFC 1006 TPKT and ISO 8073 COTP class 0 (iso.h). Class 0 has no flow
 * control, expedited data or checksums: a connection is CR/CC, then DT
 * TPDUs whose EOT bit ends a TSDU, and DR (or the TCP close) ends it.
 */
#include <errno.h>
#include <string.h>

#include "iso.h"

int tpkt_frame(const uint8_t *buf, size_t len, size_t *ret_len)
{
    if (len < TPKT_HEADER)
        return -EAGAIN;
    if (buf[0] != 3 || buf[1] != 0)
        return -EBADMSG;
    size_t n = (size_t)buf[2] << 8 | buf[3];
    if (n < TPKT_HEADER + 3)
        return -EBADMSG;
    if (len < n)
        return -EAGAIN;
    *ret_len = n;
    return 0;
}

static int parse_params(const uint8_t *p, const uint8_t *end, struct cotp *c)
{
    while (p < end) {
        if (end - p < 2)
            return -EBADMSG;
        uint8_t code = p[0], n = p[1];
        const uint8_t *v = p + 2;
        if ((size_t)(end - v) < n)
            return -EBADMSG;
        switch (code) {
        case 0xc0: /* TPDU size: 2^v octets, 128..8192 (class 0 uses up to 2048) */
            if (n != 1 || v[0] < 7 || v[0] > 13)
                return -EBADMSG;
            c->tpdu_size = 1u << v[0];
            break;
        case 0xc1:
            c->calling_tsap = v;
            c->calling_len = n;
            break;
        case 0xc2:
            c->called_tsap = v;
            c->called_len = n;
            break;
        default: /* others (preferred TPDU size, options) do not matter to class 0 */
            break;
        }
        p = v + n;
    }
    return 0;
}

int cotp_parse(const uint8_t *pkt, size_t len, struct cotp *ret)
{
    if (len < TPKT_HEADER + 2)
        return -EBADMSG;
    const uint8_t *p = pkt + TPKT_HEADER, *end = pkt + len;
    size_t li = p[0];
    if (li < 1 || li == 255 || li > (size_t)(end - p) - 1)
        return -EBADMSG;
    const uint8_t *hend = p + 1 + li;
    struct cotp c = {.code = p[1] & 0xf0, .tpdu_size = COTP_TPDU_DEFAULT};
    switch (c.code) {
    case COTP_DT:
        if (li != 2)
            return -EBADMSG;
        c.eot = p[2] & 0x80;
        c.data = hend;
        c.data_len = (size_t)(end - hend);
        break;
    case COTP_CR:
    case COTP_CC:
    case COTP_DR:
        if (li < 6)
            return -EBADMSG;
        c.dst_ref = (uint16_t)(p[2] << 8 | p[3]);
        c.src_ref = (uint16_t)(p[4] << 8 | p[5]);
        c.cls = p[6];
        if (c.code != COTP_DR) {
            int r = parse_params(p + 7, hend, &c);
            if (r)
                return r;
        }
        break;
    case COTP_ER:
        break;
    default:
        return -EBADMSG;
    }
    if (c.code == COTP_CR && (c.cls >> 4) != 0)
        return -EPROTO; /* only class 0 */
    *ret = c;
    return 0;
}

static void tpkt_header(uint8_t *out, size_t n)
{
    out[0] = 3;
    out[1] = 0;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
}

int cotp_write_cc(uint8_t *out, size_t cap, size_t *ret_len, const struct cotp *cr,
                  uint16_t src_ref, unsigned tpdu_size)
{
    size_t n = TPKT_HEADER + 7 + 3;
    if (cr->calling_len)
        n += 2 + cr->calling_len;
    if (cr->called_len)
        n += 2 + cr->called_len;
    if (n > cap || n > 255 + TPKT_HEADER)
        return -EMSGSIZE;
    uint8_t *p = out + TPKT_HEADER;
    p[0] = (uint8_t)(n - TPKT_HEADER - 1);
    p[1] = COTP_CC;
    p[2] = (uint8_t)(cr->src_ref >> 8);
    p[3] = (uint8_t)cr->src_ref;
    p[4] = (uint8_t)(src_ref >> 8);
    p[5] = (uint8_t)src_ref;
    p[6] = 0; /* class 0 */
    size_t o = 7;
    unsigned exp = 7;
    while ((1u << (exp + 1)) <= tpdu_size && exp < 11)
        exp++;
    p[o++] = 0xc0;
    p[o++] = 1;
    p[o++] = (uint8_t)exp;
    if (cr->calling_len) {
        p[o++] = 0xc1;
        p[o++] = (uint8_t)cr->calling_len;
        memcpy(p + o, cr->calling_tsap, cr->calling_len);
        o += cr->calling_len;
    }
    if (cr->called_len) {
        p[o++] = 0xc2;
        p[o++] = (uint8_t)cr->called_len;
        memcpy(p + o, cr->called_tsap, cr->called_len);
        o += cr->called_len;
    }
    tpkt_header(out, n);
    *ret_len = n;
    return 0;
}

int cotp_write_dr(uint8_t *out, size_t cap, size_t *ret_len, uint16_t dst_ref, uint16_t src_ref)
{
    size_t n = TPKT_HEADER + 7;
    if (n > cap)
        return -EMSGSIZE;
    uint8_t *p = out + TPKT_HEADER;
    p[0] = 6;
    p[1] = COTP_DR;
    p[2] = (uint8_t)(dst_ref >> 8);
    p[3] = (uint8_t)dst_ref;
    p[4] = (uint8_t)(src_ref >> 8);
    p[5] = (uint8_t)src_ref;
    p[6] = 0; /* normal disconnect */
    tpkt_header(out, n);
    *ret_len = n;
    return 0;
}

int cotp_write_data(uint8_t *out, size_t cap, size_t *ret_len, const uint8_t *data, size_t len,
                    unsigned tpdu_size)
{
    size_t per = tpdu_size - 3; /* the DT header: LI, code, EOT|nr */
    size_t o = 0, done = 0;
    do {
        size_t chunk = len - done < per ? len - done : per;
        size_t n = TPKT_HEADER + 3 + chunk;
        if (n > cap - o)
            return -EMSGSIZE;
        tpkt_header(out + o, n);
        out[o + 4] = 2;
        out[o + 5] = COTP_DT;
        out[o + 6] = done + chunk == len ? 0x80 : 0x00;
        if (chunk)
            memcpy(out + o + 7, data + done, chunk);
        o += n;
        done += chunk;
    } while (done < len);
    *ret_len = o;
    return 0;
}
