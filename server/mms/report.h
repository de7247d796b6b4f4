/*
 * report: unbuffered reporting of the data set (IEC 61850-7-2 URCB, mapped
 * by IEC 61850-8-1): the report control block LLN0$RP$urcbMeas01 of every
 * logical device, its attributes as one association writes them, and the
 * InformationReports it sends.
 *
 * Each association has its own instance of each device's RCB (at most
 * MMS_RCBS_MAX devices at once): what one client enables never changes what
 * another reads or receives. An enabled RCB sends the whole data set on a
 * general interrogation (GI written true) and every IntgPd ms (integrity),
 * and the members whose value changed when the device stores a new reading
 * (data change, checked every tick), as TrgOps allow. OptFlds may ask for the
 * sequence number, the data set name, the reason for inclusion and the
 * configuration revision; other options are cleared when written.
 *
 * Nothing here does I/O: the provider gives the readings, the caller sends
 * the PDUs.
 */
#ifndef SMARTMETER_MMS_REPORT_H
#define SMARTMETER_MMS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ber.h"
#include "model.h"
#include "services.h"

#define MMS_RCBS_MAX    8
#define MMS_RCB_CONFREV 1
#define MMS_DATASET_MAX 16 /* members a data set may have here */

/* TrgOps bits (of 6) and OptFlds bits (of 10), numbered from the first. */
enum { TRG_DCHG = 1, TRG_QCHG = 2, TRG_DUPD = 3, TRG_INTEGRITY = 4, TRG_GI = 5 };
enum {
    OPT_SEQ_NUM = 1,
    OPT_TIME_STAMP = 2,
    OPT_REASON = 3,
    OPT_DATA_SET = 4,
    OPT_DATA_REF = 5,
    OPT_CONF_REV = 8
};

struct mms_rcb {
    char domain[MMS_ID_MAX + 1]; /* "": a free slot */
    char rpt_id[66];             /* "": the RCB's own reference is sent */
    bool ena, resv, gi_pending;
    uint16_t opt_flds; /* bit i of the bit string: 1 << (15 - i) */
    uint8_t trg_ops;   /* bit i: 1 << (7 - i) */
    uint32_t buf_tm_ms, intg_pd_ms;
    uint8_t sq_num;
    int64_t next_integrity_ms;
    bool have_last;
    uint64_t last_seq;
    uint64_t member_hash[MMS_DATASET_MAX]; /* of each member's encoded value, at the last report */
};

struct mms_rcbs {
    struct mms_rcb r[MMS_RCBS_MAX];
    int64_t now_ms; /* the caller's clock (monotonic ms), for a write that enables */
};

/* This association's RCB of a domain, or NULL when it never wrote one. */
const struct mms_rcb *mms_rcb_find(const struct mms_rcbs *rs, const char *domain);

/* Writes an RCB attribute's Data (model.c: a Read of it). rcb NULL: the defaults. */
void mms_rcb_data(struct ber_writer *w, enum mms_src src, const struct mms_rcb *rcb,
                  const char *domain);

/*
 * A Write of one RCB attribute (attr: "RptEna", "IntgPd"...) of the RCB of d
 * with the Data in data: -1 when done, else the DataAccessError to answer
 * (2 temporarily unavailable: no free slot, or the RCB is enabled; 3 access
 * denied: read-only; 7 type inconsistent; 11 value invalid).
 */
int mms_rcb_write(struct mms_rcbs *rs, const struct mms_device *d, const char *attr,
                  const struct ber_tlv *data);

/*
 * Sends what each enabled RCB owes at now_ms: calls emit with each
 * InformationReport (an unconfirmed MMS PDU of at most max_pdu octets, built
 * in buf). Reads each enabled RCB's device's latest reading once.
 */
void mms_rcb_tick(struct mms_rcbs *rs, const struct mms_provider *p, int64_t now_ms,
                  uint32_t max_pdu, uint8_t *buf, size_t cap,
                  void (*emit)(void *ctx, const uint8_t *pdu, size_t len), void *ctx);

#endif
