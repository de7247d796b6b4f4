/*
 * ingest: turns MQTT messages from meters into stored readings and device
 * status. Transport-neutral (mqtt_client.c feeds it), so it is tested with
 * plain function calls.
 *
 * Topics: meters/<device_id>/telemetry (one reading or an array),
 * meters/<device_id>/status ({"status":"online"|"offline",...}), and the
 * meter's side of commands: meters/<device_id>/reply ({"id","status",...})
 * and meters/<device_id>/capture (a waveform a meter sends on request, which
 * is decoded, analysed with the power-quality code the meter uses, and stored
 * with its analysis). Valid telemetry goes to the writer (writer.h), which
 * stores it in batches and acknowledges it on meters/<device_id>/ack; the
 * seqs of invalid readings go with it, to be acknowledged as rejected. Messages for unknown devices
 * and invalid payloads are counted, logged at most once per device per minute, and acknowledged so
 * they never block valid data. Valid readings in a batch are stored even when
 * others in it are invalid. docs/protocol.md describes every topic.
 */
#ifndef SMARTMETER_INGEST_H
#define SMARTMETER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "store.h"

struct ingest_limits {
    size_t max_payload_bytes; /* every topic but capture */
    size_t max_batch;
    size_t max_capture_bytes; /* meters/<id>/capture; 0: INGEST_MAX_CAPTURE_BYTES */
};

#define INGEST_MAX_CAPTURE_BYTES ((size_t)4 << 20)

struct ingest;

struct writer;

/* Copies db; opens the database on first use. NULL on ENOMEM or a db with neither url nor open. */
struct ingest *ingest_new(const struct store_source *db, const struct ingest_limits *limits,
                          struct server_counters *stats);
void ingest_free(struct ingest *ing);

/*
 * Hands valid telemetry to w (writer.h), which stores it in batches and
 * acknowledges it after commit; w must outlive every ingest_message() call.
 * Without a writer, telemetry is stored right away, one transaction per
 * message, and not acknowledged.
 */
void ingest_set_writer(struct ingest *ing, struct writer *w);


enum ingest_result {
    INGEST_DONE,  /* handled (stored or queued for the writer, or rejected for good) */
    INGEST_RETRY, /* the database is unavailable (or the writer stopping): deliver again later */
};

enum ingest_result ingest_message(struct ingest *ing, const char *topic, const void *payload,
                                  size_t len);

/*
 * Forgets what ingest keeps of device_id (its key and secret hash, which sign
 * its acks), so the next message reads the device again: call it when the
 * device was deleted or given a new secret. Any thread.
 */
void ingest_forget_device(struct ingest *ing, const char *device_id);

/*
 * The stored secret hash (64 hex characters and a NUL) of device_id, from the
 * same cache as the device's acks (for the terminal gateway's handshake).
 * Returns 0, -ENOENT for an unregistered device, or another negative errno
 * when the database is unavailable (counted and logged). The thread that
 * owns ing only.
 */
int ingest_device_hash(struct ingest *ing, const char *device_id, char ret_hash[65]);

#endif
