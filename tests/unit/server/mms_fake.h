/*
 * mms_fake: what the MMS unit tests and the fuzz harness share: a provider
 * with fixed devices and a reading the test sets, a client's association
 * (COTP CR, then session CN carrying presentation CP, ACSE AARQ and MMS
 * Initiate, as an independent client encodes them: tests/integration/
 * mms_client.py) and a wrapper putting an MMS PDU into TPKT, COTP DT, session
 * DT and presentation data of the MMS context.
 */
#ifndef SMARTMETER_MMS_FAKE_H
#define SMARTMETER_MMS_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "services.h"

extern const uint8_t mms_fake_cr[];
extern const size_t mms_fake_cr_len;
extern const uint8_t mms_fake_cn[]; /* TPKT+DT+CN(CP(AARQ(Initiate, max PDU 65000))) */
extern const size_t mms_fake_cn_len;

struct mms_fake {
    struct mms_device devs[2]; /* SMARTMETER_m1 (meter "m1"), SMARTMETER_m2 */
    size_t n_devs;
    struct reading reading; /* what latest() gives for any device */
    int latest_err;         /* latest() returns this when not 0 */
    int devices_err;
    unsigned latest_calls;
};

/* Two online devices; a reading with power, voltages, currents and energy set. */
void mms_fake_init(struct mms_fake *f, struct mms_provider *ret);

/* TPKT+DT(EOT)+session GT/DT+presentation data (context 3) around pdu: its length, or 0. */
size_t mms_fake_wrap(uint8_t *out, size_t cap, const uint8_t *pdu, size_t len);

#endif
