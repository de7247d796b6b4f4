/*
 * commands: what meterd does with the commands the server sends on
 * meters/<id>/cmd, without touching MQTT (docs/protocol.md, "Commands").
 *
 * - command_parse() validates one command payload;
 * - command_reply_encode() and capture_encode() build the payloads of
 *   meters/<id>/reply and meters/<id>/capture;
 * - command_run() runs a parsed command and answers it, reaching the sample
 *   ring and the MQTT client through the callbacks of struct command_env;
 * - struct command_queue carries parsed commands from the MQTT library's
 *   thread (command_queue_handler) to the meter's main loop
 *   (command_queue_pop), so nothing slow runs on the library's thread.
 *
 * Pure apart from the queue's mutex and the callbacks: no I/O, no logging. Ownership: the
 * encoders append to a dynbuf the caller owns; the queue copies commands in
 * and out; command_queue_free() accepts NULL.
 */
#ifndef SMARTMETER_METER_COMMANDS_H
#define SMARTMETER_METER_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"
#include "topic.h"

#define COMMAND_ID_MAX      64 /* request ids: 1..64 of A-Z a-z 0-9 _ - */
#define COMMAND_NAME_MAX    32
#define COMMAND_MESSAGE_MAX 160
/* A command older than this by the meter's clock is answered "command expired", not run. */
#define COMMAND_MAX_AGE_MS INT64_C(120000)
/* Bounds of a capture's duration. */
#define CAPTURE_MIN_MS 100
#define CAPTURE_MAX_MS 10000

enum command_kind {
    COMMAND_INVALID = 0, /* answer an error reply with command.message */
    COMMAND_CAPTURE,
};

struct command {
    enum command_kind kind;
    char id[COMMAND_ID_MAX + 1];     /* "" when the payload carried no usable id */
    char name[COMMAND_NAME_MAX + 1]; /* the "cmd" as sent, "" when missing or unusable */
    int64_t ts_ms;                   /* when the server issued it */
    uint32_t duration_ms;            /* COMMAND_CAPTURE */
    char message[COMMAND_MESSAGE_MAX];
};

bool command_id_valid(const char *id);

/*
 * Parses a command payload received at now_ms. Always fills *ret. Returns 0
 * for a command to run; -EINVAL for an invalid payload, -ENOTSUP for an
 * unknown "cmd" and -ETIME for an expired command, each with ret->kind
 * COMMAND_INVALID and ret->message saying why (ret->id is kept when it was
 * valid, so the error reply can name the request).
 */
int command_parse(const void *payload, size_t len, int64_t now_ms, struct command *ret);

/*
 * Appends the reply {"id":..,"cmd":..,"status":"ok"|"error","message":..,"ts":..}
 * to out ("id" and "cmd" are null when empty; "message" is left out when
 * NULL). Returns 0 or the dynbuf's error.
 */
int command_reply_encode(const struct command *c, bool ok, const char *message, int64_t now_ms,
                         struct dynbuf *out);

struct capture_meta {
    const char *id;       /* the request id */
    double rate_hz;       /* samples per second per channel */
    int64_t start_ms;     /* wall-clock time of the first sample */
    double nominal_hz;    /* 50 or 60 */
    double phase_cal_deg; /* the current channel's lag the analysis must correct */
};

/* Bytes capture_encode() may append for n sample pairs (a cap for the dynbuf). */
size_t capture_payload_max(size_t n);

/*
 * Appends the capture payload for n sample pairs (volts, amperes) to out:
 * metadata plus "v" and "i" as base64 of little-endian IEEE 754 float32.
 * Returns 0, -EINVAL for n == 0 or a non-finite rate, or the dynbuf's error.
 */
int capture_encode(const struct capture_meta *m, const float *v, const float *i, size_t n,
                   struct dynbuf *out);

/* What command_run() needs from the meter. */
struct command_env {
    double rate_hz;       /* of the samples snapshot() returns */
    double nominal_hz;    /* 50 or 60 */
    double phase_cal_deg; /* the current channel's lag the analysis must correct */
    /* Copies the newest n sample pairs (ring_snapshot's contract: 0, -ENODATA, -ERANGE). */
    int (*snapshot)(void *ctx, size_t n, float *v, float *i, int64_t *ret_first_ms);
    /* Publishes on meters/<id>/<leaf> at QoS 1 (publisher_send's contract). */
    int (*send)(void *ctx, enum topic_leaf leaf, const void *payload, size_t len);
    void *ctx;
};

/*
 * Runs one command and answers it on "reply": an invalid one with its error;
 * a capture by sending the newest duration_ms of samples on "capture" and
 * then {"status":"ok"}, or an error reply saying why not ("not enough
 * samples yet", "cannot send the capture: ..."). Allocates the capture's
 * buffers for the call. Returns 0 when the command succeeded, else its
 * -errno (-EINVAL for an invalid command); *why (may be NULL) gets the
 * message sent, for the caller's log.
 */
int command_run(const struct command *c, const struct command_env *env, int64_t now_ms, char *why,
                size_t whylen);

struct command_queue;

/* A queue of at most capacity (>= 1) commands. Returns 0 or -ENOMEM/-EINVAL. */
int command_queue_new(size_t capacity, struct command_queue **ret);
void command_queue_free(struct command_queue *q);
/* Any thread; never blocks for long. Returns 0, or -ENOBUFS when full (c is dropped). */
int command_queue_push(struct command_queue *q, const struct command *c);
/* Any thread: takes the oldest command. Returns false when the queue is empty. */
bool command_queue_pop(struct command_queue *q, struct command *ret);
/* Commands refused because the queue was full, since creation. */
uint64_t command_queue_dropped(struct command_queue *q);

/*
 * A publisher command handler (publisher_set_command_handler, ctx = the
 * queue): parses the payload at the current time and queues the result,
 * valid or not, so the main loop runs it or answers the error.
 */
void command_queue_handler(const void *payload, size_t len, void *ctx);

#endif
