/*
 * command: the payloads of meters/<id>/cmd (server -> meter) and
 * meters/<id>/reply (meter -> server), docs/protocol.md "Commands".
 *
 * A command is one JSON object with the same envelope for every kind:
 * {"id":<request id>,"cmd":<name>,<the kind's own fields>,"ts":<issued>}.
 * The server fills a struct command (command_init, then the kind's fields)
 * and encodes it (command_encode); the meter parses it (command_parse),
 * refusing a bad envelope, an unknown name, bad fields and an expired
 * command, each with a message for the error reply. The meter answers with
 * command_reply_encode(); the server reads the answer with
 * command_reply_parse().
 *
 * Kinds are a table in command.c: a new kind is an enum value, its fields in
 * struct command, and one row with the functions that parse and write them.
 *
 * Pure: no I/O, no logging; structs are plain data the caller owns; the
 * encoders append to the caller's dynbuf.
 */
#ifndef SMARTMETER_WIRE_COMMAND_H
#define SMARTMETER_WIRE_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define COMMAND_ID_MAX      64 /* request ids: 1..64 of A-Z a-z 0-9 _ - */
#define COMMAND_NAME_MAX    32 /* command names: the same alphabet, at most 32 */
#define COMMAND_MESSAGE_MAX 160
/* The longest command payload the meter reads (the server's are a few hundred bytes). */
#define COMMAND_PAYLOAD_MAX 65536
/* A command older than this by the meter's clock is answered "command expired", not run. */
#define COMMAND_MAX_AGE_MS INT64_C(120000)
/* ... and one dated further ahead than this (clocks apart, or a forged date) likewise. */
#define COMMAND_MAX_AHEAD_MS INT64_C(5000)
/* Bounds of a capture's duration ("duration_ms"), inclusive. */
#define CAPTURE_MIN_MS 100
#define CAPTURE_MAX_MS 10000
/* Bounds of set_interval's "interval_s" in ms, inclusive: those of meterd's --interval. */
#define COMMAND_INTERVAL_MIN_MS 100
#define COMMAND_INTERVAL_MAX_MS 3600000
/* The longest "result" object a reply carries (as compact JSON) that the server keeps. */
#define COMMAND_RESULT_MAX 2048

enum command_kind {
    COMMAND_INVALID = 0, /* answer an error reply with command.message */
    COMMAND_CAPTURE,     /* "capture": send the newest duration_ms of samples */
    COMMAND_RELAY,       /* "relay": switch the load relay "on" or "off" */
    /* Remote operations (docs/protocol.md "Remote operations"): each reply carries a "result". */
    COMMAND_READ_STATUS,  /* "read_status": the meter's state (struct command_status) */
    COMMAND_SET_INTERVAL, /* "set_interval": publish a reading every interval_ms from now on */
    COMMAND_SYNC_CLOCK,   /* "sync_clock": server_ms is the server's clock when it sent this */
    COMMAND__COUNT
};

struct command {
    enum command_kind kind;
    char id[COMMAND_ID_MAX + 1];     /* "" when the payload carried no usable id */
    char name[COMMAND_NAME_MAX + 1]; /* the "cmd" as sent, "" when missing or unusable */
    int64_t ts_ms;                   /* when the server issued it */
    uint32_t duration_ms;            /* COMMAND_CAPTURE */
    bool relay_on;                   /* COMMAND_RELAY: "state" "on" (true) or "off" */
    uint32_t interval_ms;            /* COMMAND_SET_INTERVAL: "interval_s" (3 decimals at most) */
    int64_t server_ms;               /* COMMAND_SYNC_CLOCK: "server_ms", epoch ms */
    char message[COMMAND_MESSAGE_MAX];
};

bool command_id_valid(const char *id);

/*
 * set_interval's "interval_s" as whole ms: 0 with *ret_ms for seconds within
 * COMMAND_INTERVAL_MIN_MS..MAX_MS with at most 3 decimals, else -EINVAL (NaN
 * and infinities included). The server's API and the meter both take it so.
 */
int command_interval_ms(double seconds, uint32_t *ret_ms);

/* The kind's name on the wire ("capture"); NULL for COMMAND_INVALID and out of range. */
const char *command_name(enum command_kind kind);

/*
 * Server: clears *ret and sets its kind, name, request id and issue time;
 * the caller then sets the kind's own fields. Returns 0, or -EINVAL for an
 * invalid id or kind (*ret untouched).
 */
int command_init(struct command *ret, enum command_kind kind, const char *id, int64_t ts_ms);

/*
 * Server: appends the command's payload to out. Returns 0, -EINVAL for a
 * command without a valid kind or id, or the dynbuf's error.
 */
int command_encode(const struct command *c, struct dynbuf *out);

/*
 * Meter: parses a command payload received at now_ms. Always fills *ret.
 * Returns 0 for a command to run; -EINVAL for an invalid payload (also one
 * over COMMAND_PAYLOAD_MAX), -ENOTSUP for an unknown "cmd" and -ETIME for a
 * command issued more than COMMAND_MAX_AGE_MS before now_ms or more than
 * COMMAND_MAX_AHEAD_MS after it (any int64 "ts" is compared without
 * overflow), each with ret->kind COMMAND_INVALID and ret->message saying why
 * (ret->id is kept when it was valid, so the error reply can name the
 * request). A "sig" member (sign.h) is ignored here: the caller checks it.
 */
int command_parse(const void *payload, size_t len, int64_t now_ms, struct command *ret);

/*
 * Meter: appends the reply {"id":..,"cmd":..,"status":"ok"|"error","message":..,"ts":..}
 * to out ("id" and "cmd" are null when empty; "message" is left out when
 * NULL). Returns 0 or the dynbuf's error.
 */
int command_reply_encode(const struct command *c, bool ok, const char *message, int64_t now_ms,
                         struct dynbuf *out);

/*
 * What a remote operation's reply carries as "result" (one object; the
 * meter fills the part of its kind). Text members are the caller's; NULL
 * writes null.
 */
struct command_status {       /* read_status */
    int64_t uptime_s;         /* since meterd started */
    const char *version;      /* meterd's version */
    int64_t clock_offset_ms;  /* the command's "ts" less the meter's clock when it came */
    const char *adc;          /* the ADC driver ("sim", "mcp3208", ...) */
    bool adc_ok;              /* sampling runs and the last read succeeded */
    uint64_t adc_samples;     /* sample frames taken since the start */
    uint64_t adc_read_errors; /* failed reads since the start */
    uint64_t overruns;        /* conversions the sampler missed since the start */
    uint64_t samples_dropped; /* samples lost (overruns, errors, a full ring) */
    double rate_hz;           /* sampling rate */
    double interval_s;        /* one reading every interval_s */
    uint64_t seq;             /* the newest reading's seq */
    uint32_t boot;            /* meterd starts so far */
    uint64_t spool_depth;     /* readings kept until the server acknowledges them */
    int relay;                /* -1 no relay, 0 off, 1 on */
    const char *link;         /* "mqtt" or "tcp" */
    bool link_up;             /* connected to the broker or the gateway */
};
struct command_interval_result { /* set_interval */
    uint32_t interval_ms, previous_ms;
    bool persisted; /* saved in the state directory: a restart keeps it */
};
struct command_clock_result { /* sync_clock */
    int64_t offset_ms;        /* server_ms less the meter's clock when the command came */
    const char *action;       /* "reported", "slewed" or "stepped" */
    const char *note;         /* why nothing was set, or NULL */
};
struct command_result {
    enum command_kind kind; /* which of the members below */
    union {
        struct command_status status;
        struct command_interval_result interval;
        struct command_clock_result clock;
    } u;
};

/*
 * Meter: as command_reply_encode(), with "result": the object of res (NULL:
 * none) before "ts". Returns 0, -EINVAL for a result of another kind than
 * the command's, or the dynbuf's error.
 */
int command_reply_encode_result(const struct command *c, bool ok, const char *message,
                                const struct command_result *res, int64_t now_ms,
                                struct dynbuf *out);

/* The server keeps this much of a reply's message (longer ones are cut). */
#define COMMAND_REPLY_MESSAGE_MAX 255
#define COMMAND_ERR_LEN           160

struct command_reply {
    char id[COMMAND_ID_MAX + 1]; /* the request it answers */
    bool ok;                     /* "status": "ok" or "error" */
    bool has_message;
    char message[COMMAND_REPLY_MESSAGE_MAX + 1]; /* "message", when has_message */
    bool has_result;
    char result[COMMAND_RESULT_MAX + 1]; /* "result" as compact ASCII JSON, when has_result */
};

/*
 * Server: parses a reply (at most 4 levels deep, no duplicate keys). Returns
 * 0 with *ret, or -EINVAL with err naming the first problem ("cmd" and "ts"
 * are not read). A "result" must be an object (null reads as none) of at
 * most COMMAND_RESULT_MAX bytes once written compactly; its members are not
 * interpreted here.
 */
int command_reply_parse(const void *payload, size_t len, struct command_reply *ret,
                        char err[COMMAND_ERR_LEN]);

#endif
