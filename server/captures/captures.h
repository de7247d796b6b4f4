/*
 * captures: the life of a waveform capture on the server (docs/protocol.md,
 * "Waveform capture"). An operator's request creates it pending (the API);
 * the meter's answer completes it with the samples and their analysis, made
 * here with the meter's own power-quality code; a request the meter leaves
 * unanswered for CAPTURES_TIMEOUT_MS has failed, and is recorded so when
 * someone looks at it or the late answer arrives.
 *
 * Library code: no logging; store errors are returned as the store gave them.
 */
#ifndef SMARTMETER_CAPTURES_H
#define SMARTMETER_CAPTURES_H

#include <stdbool.h>
#include <stdint.h>

#include "capture.h"
#include "store.h"

#define CAPTURES_TIMEOUT_MS      INT64_C(30000)
#define CAPTURES_TIMEOUT_MESSAGE "the meter did not answer within 30 s"

/* The capture is pending and its time is up at now_ms. */
bool captures_timed_out(const struct capture_rec *cap, int64_t now_ms);
/* Shows a timed-out capture as what it is: failed, at its deadline, with the timeout message. */
void captures_show_timeout(struct capture_rec *cap);
/* Records a timed-out capture as failed (-ENOENT: it was no longer pending). */
int captures_expire(struct store *st, int64_t device_pk, const struct capture_rec *cap);

/*
 * Analyses the samples c the meter sent at now_ms and completes the pending
 * capture request_id with them and the analysis. A capture that cannot be
 * analysed (too short, a rate out of range) is still completed, with a note
 * instead of an analysis: *ret_note is then that note, else NULL. Returns
 * store_capture_complete()'s result (-ENOENT: no longer pending).
 */
int captures_complete(struct store *st, int64_t device_pk, const char *request_id,
                      const struct capture_samples *c, int64_t now_ms, const char **ret_note);

#endif
