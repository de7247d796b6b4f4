/*
 * conn: one MMS client connection's protocol state, apart from its socket.
 *
 * mms_conn_input() takes the bytes a client sent (any cut), runs whole TPKTs
 * through COTP, session, presentation, ACSE and MMS in turn, and appends
 * what to send back to out. The loop (loop.c) owns sockets and timers; the
 * tests feed bytes directly.
 *
 * Order of an association: CR -> CC; CN(CP(AARQ(Initiate))) ->
 * AC(CPA(AARE(Initiate response))); then DT(MMS requests) -> DT(answers);
 * Conclude; FN(RLRQ) -> DN(RLRE); or DR / AB / the TCP close at any time.
 * Anything out of order or malformed ends the connection (after a DR when
 * COTP is up); conn never answers garbage with garbage.
 *
 * Memory: a struct mms_conn holds the reassembly of at most one TSDU
 * (MMS_TSDU_MAX); the scratch buffers answers are built in belong to the
 * caller and may be shared by every connection of one thread.
 */
#ifndef SMARTMETER_MMS_CONN_H
#define SMARTMETER_MMS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"
#include "iso.h"
#include "report.h"
#include "services.h"

/* A TSDU (one MMS PDU with its session, presentation and ACSE wrapping) at most. */
#define MMS_TSDU_MAX (MMS_PDU_MAX + 1024u)
/* Bytes of output one answer may take: the PDU, its wrapping, COTP headers every 128 octets. */
#define MMS_OUT_MAX (MMS_TSDU_MAX + MMS_TSDU_MAX / 16 + 256u)

enum mms_conn_state { MC_WAIT_CR, MC_WAIT_CN, MC_ASSOCIATED, MC_CLOSED };

/* Why a connection ended (counted by the loop). */
enum mms_end {
    MMS_END_NONE = 0,
    MMS_END_RELEASED,  /* FN/RLRQ answered, or the client's DR */
    MMS_END_ABORTED,   /* the client's AB */
    MMS_END_MALFORMED, /* something that does not parse at some layer */
    MMS_END_REFUSED,   /* well formed but not something we do (class, contexts, out of order) */
    MMS_END_TOO_BIG,   /* a TSDU past MMS_TSDU_MAX */
    MMS_END_REJECTED,  /* the association was answered with a rejecting AARE */
    MMS_END__COUNT
};

struct mms_scratch {
    uint8_t pdu[MMS_PDU_MAX + 64];
    uint8_t wrap[MMS_TSDU_MAX];
    uint8_t out[MMS_OUT_MAX];
};

struct mms_conn {
    enum mms_conn_state state;
    enum mms_end end;
    uint16_t peer_ref, our_ref;
    unsigned tpdu_size;
    uint16_t ses_requirements;
    struct pres_contexts ctx;
    uint32_t max_pdu;
    uint64_t requests, rejects; /* confirmed requests answered; of them rejected */
    uint64_t reports;           /* InformationReports sent */
    struct mms_rcbs rcbs;       /* its report control blocks; the caller sets rcbs.now_ms */
    size_t tsdu_len;
    uint8_t *tsdu; /* MMS_TSDU_MAX, allocated on the first DT and freed when whole */
};

void mms_conn_init(struct mms_conn *c, uint16_t our_ref);
void mms_conn_free(struct mms_conn *c); /* its buffers; the struct is the caller's */

/*
 * Takes bytes from in (*used: how many were taken; the rest is an incomplete
 * TPKT to give again with more, or whole TPKTs left for later because out
 * already holds MMS_OUT_MAX octets or more: give them again once out is
 * sent) and appends answers to out. Returns 0 while
 * the connection goes on, 1 when it ended (c->end says why; out may hold a
 * last answer to send before closing), -ENOMEM when out could not grow.
 */
int mms_conn_input(struct mms_conn *c, const struct mms_provider *p, struct mms_scratch *s,
                   const uint8_t *in, size_t len, size_t *used, struct dynbuf *out);

/*
 * Sends the reports the association's enabled report control blocks owe at
 * now_ms (report.h), appending them to out. 0, or -ENOMEM when out could not
 * grow. Does nothing before the association or after its end.
 */
int mms_conn_tick(struct mms_conn *c, const struct mms_provider *p, struct mms_scratch *s,
                  int64_t now_ms, struct dynbuf *out);

#endif
