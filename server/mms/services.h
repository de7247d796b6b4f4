/*
 * services: the MMS PDUs (ISO 9506) an associated client sends and what the
 * server answers: Initiate, Conclude and the confirmed services Identify,
 * GetNameList, GetVariableAccessAttributes and Read over the model of
 * model.h. Everything else gets a Reject (unrecognized service) or a
 * confirmed error; nothing here writes anything anywhere but the answer.
 *
 * The devices and their values come from a provider (the server's store, or
 * a fake in the tests); services never keep what it returns past one call.
 */
#ifndef SMARTMETER_MMS_SERVICES_H
#define SMARTMETER_MMS_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ber.h"
#include "model.h"
#include "telemetry.h"
#include "topic.h"

/* The PDU size the server negotiates at most, both ways (a client may ask for less). */
#define MMS_PDU_MAX 32000u
#define MMS_PDU_MIN 1024u
/* Nesting of our data structures (MMXU1$MX$PhV$phsA$cVal$mag$f: 6 levels). */
#define MMS_NESTING 10
/* Variables one Read may name at most. */
#define MMS_READ_MAX 200

struct mms_device {
    char domain[MMS_ID_MAX + 1]; /* model.h's mms_domain_name() of device_id */
    char device_id[DEVICE_ID_MAX + 1];
    int64_t pk;
    bool online;
};

struct mms_provider {
    /*
     * Every device shown, sorted by domain (strcmp), without two of one
     * domain; *ret stays valid until the next call. 0 or a negative errno.
     */
    int (*devices)(void *ctx, const struct mms_device **ret, size_t *ret_n);
    /* The device's latest reading: 0, -ENOENT when it has none yet, another -errno on failure. */
    int (*latest)(void *ctx, const struct mms_device *d, struct reading *ret);
    void *ctx;
};

/* Identify's answer. */
#define MMS_VENDOR "smartmeter"
#define MMS_MODEL  "meter-server"

/*
 * Answers an Initiate-RequestPDU (pdu: its TLV). Writes the
 * Initiate-ResponsePDU to w and the negotiated PDU size to *ret_max_pdu:
 * 0; -EBADMSG for a malformed or -EPROTO for another PDU (nothing written).
 */
int mms_initiate(const uint8_t *pdu, size_t len, struct ber_writer *w, uint32_t *ret_max_pdu);

/* What mms_serve() did. */
enum mms_outcome { MMS_ANSWERED, MMS_CONCLUDED, MMS_REJECTED };

/*
 * Answers one MMS PDU of an associated client into w (max_pdu octets at
 * most), with rcbs (report.h; NULL: none) the association's report control
 * blocks, which a Write changes: a confirmed request (a response, a confirmed error, or a Reject),
 * a Conclude-Request (Conclude-Response, *ret MMS_CONCLUDED). A PDU it
 * cannot parse gets a Reject (*ret MMS_REJECTED). Returns 0 with the answer
 * in w, or -EBADMSG when not even a Reject can be written (no invoke id: the
 * caller drops the association).
 */
struct mms_rcbs;
int mms_serve(const struct mms_provider *p, struct mms_rcbs *rcbs, uint32_t max_pdu,
              const uint8_t *pdu, size_t len, struct ber_writer *w, enum mms_outcome *ret);

#endif
