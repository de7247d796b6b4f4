/*
 * counters: what meter-server counts while it runs (messages, readings
 * stored, duplicates, invalid input, the writer's batches and acks, HTTP
 * uploads), served by GET /api/stats. One struct for the whole process,
 * owned by main; every field is atomic, so any thread adds to it.
 */
#ifndef SMARTMETER_SERVER_COUNTERS_H
#define SMARTMETER_SERVER_COUNTERS_H

#include <stdatomic.h>

#include "histogram.h"

struct server_counters {
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
    /* how long each batch's transaction took to commit (GET /metrics) */
    struct histogram commit_duration;
};

#endif
