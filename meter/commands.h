/*
 * commands: what meterd does with the commands the server sends on
 * meters/<id>/cmd, without touching MQTT (docs/protocol.md, "Commands").
 * The payloads themselves (commands, replies, captures) are the wire
 * format's: common/wire/command.h and capture.h.
 *
 * - command_run() runs a parsed command and answers it, reaching the sample
 *   ring and the MQTT client through the callbacks of struct command_env;
 *   a remote operation (read_status, set_interval, sync_clock) runs once per
 *   command id: struct command_memory keeps the answers of the last
 *   COMMAND_MEMORY_MAX, and a resend of one is answered again without acting;
 * - struct command_queue carries parsed commands from the MQTT library's
 *   thread (command_queue_handler) to the meter's main loop
 *   (command_queue_pop), so nothing slow runs on the library's thread. On
 *   the way it refuses, unanswered, a command without the server's signature
 *   (once command_queue_require_signature() gave the key) and a command
 *   whose id it has taken in the last COMMAND_REMEMBER_MS (a replay).
 *
 * Pure apart from the queue's mutex and the callbacks: no I/O, no logging.
 * Ownership: the queue copies commands in and out; command_queue_free()
 * accepts NULL.
 */
#ifndef SMARTMETER_METER_COMMANDS_H
#define SMARTMETER_METER_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "command.h"
#include "sign.h"
#include "topic.h"

/* What command_run() needs from the meter. */
struct command_env {
    double rate_hz;       /* of the samples snapshot() returns */
    double nominal_hz;    /* 50 or 60 */
    double phase_cal_deg; /* the current channel's lag the analysis must correct */
    /* Copies the newest n sample pairs (ring_snapshot's contract: 0, -ENODATA, -ERANGE). */
    int (*snapshot)(void *ctx, size_t n, float *v, float *i, int64_t *ret_first_ms);
    /* A three-phase meter: the channels its captures carry (capture.h), each with its phase
     * correction; NULL for a single-phase one, whose captures are v, i and phase_cal_deg. */
    const struct capture_layout *layout;
    /* With layout: copies the newest n samples of every channel, x[k] of layout->ch[k]
     * (ring_snapshot_frames' contract). */
    int (*snapshot_set)(void *ctx, size_t n, float *const x[], int64_t *ret_first_ms);
    /* Runs a relay command (relay.h relay_apply, then the line and the LED): 0, or -errno with
     * why filled for the error reply. NULL: the meter answers that it has no relay. */
    int (*relay)(void *ctx, const struct command *c, char *why, size_t whylen);
    /* Publishes on meters/<id>/<leaf> at QoS 1 (publisher_send's contract). */
    int (*send)(void *ctx, enum topic_leaf leaf, const void *payload, size_t len);
    /*
     * Remote operations; NULL: the meter answers that it cannot. Each acts
     * and fills its result (text members must outlive the meter: static or
     * options), or returns -errno with why filled for the error reply.
     * status: the meter's state at now_ms (clock_offset_ms is filled by
     * command_run from the command's "ts").
     */
    int (*status)(void *ctx, int64_t now_ms, struct command_status *ret);
    int (*set_interval)(void *ctx, const struct command *c, struct command_interval_result *ret,
                        char *why, size_t whylen);
    int (*sync_clock)(void *ctx, const struct command *c, int64_t now_ms,
                      struct command_clock_result *ret, char *why, size_t whylen);
    /* The operations answered (command_memory_new); NULL: none remembered. */
    struct command_memory *memory;
    void *ctx;
};

/* Operations whose answers are remembered: a resend of one of them is answered again. */
#define COMMAND_MEMORY_MAX 32
struct command_memory;
/* 0 or -ENOMEM. */
int command_memory_new(struct command_memory **ret);
void command_memory_free(struct command_memory *m); /* NULL is fine */

/*
 * Runs one command and answers it on "reply": an invalid one with its error;
 * a capture by sending the newest duration_ms of samples on "capture" and
 * then {"status":"ok"}, or an error reply saying why not ("not enough
 * samples yet", "cannot send the capture: ..."). Allocates the capture's
 * buffers for the call. A remote operation is answered with its "result"
 * after it acted; one whose id env->memory holds is answered as before
 * without acting again. Returns 0 when the command succeeded, else its
 * -errno (-EINVAL for an invalid command); *why (may be NULL) gets the
 * message sent, for the caller's log.
 */
int command_run(const struct command *c, const struct command_env *env, int64_t now_ms, char *why,
                size_t whylen);

struct command_queue;

/*
 * How long a command id is remembered: a copy arriving later is refused
 * anyway, as its (signed) "ts" is then past COMMAND_MAX_AGE_MS.
 */
#define COMMAND_REMEMBER_MS (COMMAND_MAX_AGE_MS + COMMAND_MAX_AHEAD_MS)
/* Ids remembered at most; with that many fresh ones, further commands are refused. */
#define COMMAND_REMEMBER_MAX 64

/* A queue of at most capacity (>= 1) commands. Returns 0 or -ENOMEM/-EINVAL. */
int command_queue_new(size_t capacity, struct command_queue **ret);
/*
 * From now on only commands signed with key for topic (sign.h) are taken;
 * the others are counted and dropped. Call before the handler runs.
 */
void command_queue_require_signature(struct command_queue *q, const struct sign_key *key,
                                     const char *topic);
void command_queue_free(struct command_queue *q);
/* Any thread; never blocks for long. Returns 0, or -ENOBUFS when full (c is dropped). */
int command_queue_push(struct command_queue *q, const struct command *c);
/* Any thread: takes the oldest command. Returns false when the queue is empty. */
bool command_queue_pop(struct command_queue *q, struct command *ret);
/* Commands refused because the queue was full, since creation. */
uint64_t command_queue_dropped(struct command_queue *q);
/*
 * Commands refused unanswered since creation: without a valid signature, and
 * replayed (an id taken before; or more fresh ids than COMMAND_REMEMBER_MAX).
 */
void command_queue_refused(struct command_queue *q, uint64_t *ret_bad_signature,
                           uint64_t *ret_replayed);

/*
 * A publisher command handler (publisher_set_command_handler, ctx = the
 * queue): checks the signature, parses the payload at the current time,
 * refuses a replay and queues the result, valid or not, so the main loop runs
 * it or answers the error.
 */
void command_queue_handler(const void *payload, size_t len, void *ctx);

/*
 * The same for a command its transport authenticated already (the terminal
 * link: a COMMAND frame whose MAC checked, carrying no "sig"): no signature
 * is asked for; a replayed id is refused all the same.
 */
void command_queue_handler_authenticated(const void *payload, size_t len, void *ctx);

#endif
