/*
 * iso: the OSI layers under MMS, as far as an MMS server needs them
 * (IEC 61850-8-1's A-profile over TCP):
 *   RFC 1006 TPKT      4-byte packets on the TCP stream
 *   ISO 8073 COTP      class 0: CR/CC to connect, DT carrying data, DR
 *   ISO 8327 session   kernel: CN/AC, DT with give-tokens, FN/DN, AB
 *   ISO 8823 pres.     kernel: CP/CPA with the ACSE and MMS contexts,
 *                      fully-encoded user data
 *   ISO 8650 ACSE      AARQ/AARE, RLRQ/RLRE
 * Each function parses or writes one layer; conn.c chains them. Parsers
 * point into the caller's buffer (nothing is copied or allocated) and return
 * 0 or -EBADMSG (malformed), -EPROTO (well formed but not something this
 * server does: another class, a missing context). Writers return 0 or
 * -EMSGSIZE (the output does not fit). Nothing here logs.
 */
#ifndef SMARTMETER_MMS_ISO_H
#define SMARTMETER_MMS_ISO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ber.h"

/* --- TPKT and COTP -------------------------------------------------------------------------- */

#define TPKT_HEADER 4
#define TPKT_MAX    65535u
/* COTP class 0 TPDU sizes: 128 (the default) up to 2048 octets. */
#define COTP_TPDU_DEFAULT 128u
#define COTP_TPDU_MAX     2048u

/*
 * Whether buf starts with a whole TPKT: 0 with its size in *ret_len,
 * -EAGAIN when more bytes are needed, -EBADMSG when the header is not a TPKT
 * (version 3) or its length is below 7 (a COTP header at least).
 */
int tpkt_frame(const uint8_t *buf, size_t len, size_t *ret_len);

enum cotp_code { COTP_CR = 0xe0, COTP_CC = 0xd0, COTP_DR = 0x80, COTP_DT = 0xf0, COTP_ER = 0x70 };

struct cotp {
    uint8_t code; /* enum cotp_code */
    uint16_t dst_ref, src_ref;
    uint8_t cls;        /* CR: the class and options byte */
    unsigned tpdu_size; /* CR: the size asked for, COTP_TPDU_DEFAULT when not given */
    const uint8_t *calling_tsap, *called_tsap;
    size_t calling_len, called_len;
    bool eot;            /* DT: the last TPDU of a TSDU */
    const uint8_t *data; /* DT: user data */
    size_t data_len;
};

/* Parses the TPDU inside one TPKT (the TPKT header included in pkt). */
int cotp_parse(const uint8_t *pkt, size_t len, struct cotp *ret);

/* Writes TPKT+CC answering cr, with our reference and the TPDU size we take. */
int cotp_write_cc(uint8_t *out, size_t cap, size_t *ret_len, const struct cotp *cr,
                  uint16_t src_ref, unsigned tpdu_size);
/* Writes TPKT+DR (reason 0: normal). */
int cotp_write_dr(uint8_t *out, size_t cap, size_t *ret_len, uint16_t dst_ref, uint16_t src_ref);
/* Writes data as TPKT+DT TPDUs of at most tpdu_size octets, EOT on the last. */
int cotp_write_data(uint8_t *out, size_t cap, size_t *ret_len, const uint8_t *data, size_t len,
                    unsigned tpdu_size);

/* --- session ------------------------------------------------------------------------------ */

enum ses_si { SES_DT = 1, SES_FN = 9, SES_DN = 10, SES_CN = 13, SES_AC = 14, SES_AB = 25 };

struct ses {
    uint8_t si;
    uint16_t requirements;    /* CN: session user requirements (PI 20), 0x0002 when absent */
    const uint8_t *user_data; /* CN, FN: PGI 193 (or 194); DT: what follows the SPDUs */
    size_t user_len;
};

/* Parses one TSDU: CN, FN, AB, or GT followed by DT. */
int ses_parse(const uint8_t *tsdu, size_t len, struct ses *ret);
/* The SPDU header that carries user data of user_len octets (AC, DN, or GT+DT). */
int ses_write_header(uint8_t *out, size_t cap, size_t *ret_len, uint8_t si, uint16_t requirements,
                     size_t user_len);

/* --- presentation ------------------------------------------------------------------------- */

/* The presentation contexts an association uses, as the CP defined them. */
struct pres_contexts {
    int64_t acse_id, mms_id; /* 0: not proposed */
    unsigned n;              /* contexts proposed, in order (answered one by one in the CPA) */
    bool accepted[8];        /* per proposed context: an abstract syntax we know, BER offered */
};

struct pres_cp {
    struct pres_contexts ctx;
    const uint8_t *calling_sel, *called_sel;
    size_t calling_len, called_len;
    const uint8_t *acse; /* the AARQ (user data of the ACSE context) */
    size_t acse_len;
};

int pres_parse_cp(const uint8_t *buf, size_t len, struct pres_cp *ret);
/* User data (CPC-type / fully-encoded-data): one PDV of context *ret_ctx, its single ASN.1 value.
 */
int pres_parse_data(const uint8_t *buf, size_t len, int64_t *ret_ctx, const uint8_t **ret_pdu,
                    size_t *ret_len);
/* Writes the CPA around an AARE. */
void pres_write_cpa(struct ber_writer *w, const struct pres_cp *cp, const uint8_t *aare,
                    size_t aare_len);
/* Writes user data: one PDV of context ctx holding pdu. */
void pres_write_data(struct ber_writer *w, int64_t ctx, const uint8_t *pdu, size_t len);

/* --- ACSE --------------------------------------------------------------------------------- */

/* The MMS PDU inside an AARQ's user information (the EXTERNAL of the MMS context). */
int acse_parse_aarq(const uint8_t *buf, size_t len, int64_t mms_ctx, const uint8_t **ret_mms,
                    size_t *ret_len);
/* AARE: accepted (result 0) carrying mms, or rejected permanently (result 1). */
void acse_write_aare(struct ber_writer *w, bool accepted, int64_t mms_ctx, const uint8_t *mms,
                     size_t mms_len);
/* 0 when buf is an RLRQ. */
int acse_parse_rlrq(const uint8_t *buf, size_t len);
void acse_write_rlre(struct ber_writer *w);

#endif
