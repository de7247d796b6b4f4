/*
 * ingest: turns MQTT messages from meters into stored readings and device
 * status. Transport-neutral (mqtt_ingest.c feeds it), so it is tested with
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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct ingest_stats {
    atomic_uint_fast64_t messages;
    atomic_uint_fast64_t readings_stored;
    atomic_uint_fast64_t duplicates;
    atomic_uint_fast64_t invalid;        /* readings or messages that failed validation */
    atomic_uint_fast64_t unknown_device; /* messages for devices we do not know */
    atomic_uint_fast64_t bad_topic;
    atomic_uint_fast64_t too_large;
    atomic_uint_fast64_t db_errors;
    atomic_uint_fast64_t status_updates;
    atomic_uint_fast64_t captures_stored; /* waveform captures completed */
    atomic_uint_fast64_t unknown_request; /* replies and captures for no pending request */
    atomic_bool mqtt_connected;
    /* the writer (writer.h): batches, acknowledgements, back-pressure */
    atomic_uint_fast64_t batches;        /* transactions committed */
    atomic_uint_fast64_t batch_readings; /* readings in them (stored and duplicates) */
    atomic_uint_fast64_t rejected_acked; /* invalid readings acknowledged as rejected */
    atomic_uint_fast64_t acks_sent;      /* ack messages the MQTT client took */
    atomic_uint_fast64_t ack_failures;   /* ack messages it could not take (not connected) */
    atomic_uint_fast64_t retries;        /* batch attempts that failed and were retried */
    atomic_uint_fast64_t queue_depth;    /* readings queued or being written now */
    atomic_uint_fast64_t queue_full;     /* messages that waited for room in the queue */
    /* uploads over HTTP (POST /api/device/data) */
    atomic_uint_fast64_t http_uploads;
    atomic_uint_fast64_t http_readings_stored;
    atomic_uint_fast64_t http_duplicates;
};

struct ingest_limits {
    size_t max_payload_bytes; /* every topic but capture */
    size_t max_batch;
    size_t max_capture_bytes; /* meters/<id>/capture; 0: INGEST_MAX_CAPTURE_BYTES */
};

#define INGEST_MAX_CAPTURE_BYTES ((size_t)4 << 20)
/* A capture still pending this long after it was requested has failed (the meter is away). */
#define INGEST_CAPTURE_TIMEOUT_MS      INT64_C(30000)
#define INGEST_CAPTURE_TIMEOUT_MESSAGE "the meter did not answer within 30 s"

struct ingest;

struct writer;

/* Copies db_url; opens the database on first use. NULL on ENOMEM. */
struct ingest *ingest_new(const char *db_url, const struct ingest_limits *limits,
                          struct ingest_stats *stats);
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

#endif
