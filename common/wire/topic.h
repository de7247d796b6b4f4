/*
 * topic: the MQTT topics both daemons speak (docs/protocol.md), all of the
 * form meters/<device_id>/<leaf>, and the rules for the names in them.
 *
 * - device_id_valid() is the one rule for device ids (also in URLs, files
 *   and logs); wire_name_valid() is the alphabet every protocol name is made
 *   of (device ids, share groups, request ids, command names).
 * - topic_build() writes meters/<id>/<leaf>; topic_split() takes a received
 *   topic apart; topic_filter() writes the server's subscription filters,
 *   meters/+/<leaf> or $share/<group>/meters/+/<leaf>.
 *
 * Nothing else builds or splits a topic. Pure: no allocation, no I/O; every
 * function writes only into the caller's buffers, and only on success.
 */
#ifndef SMARTMETER_WIRE_TOPIC_H
#define SMARTMETER_WIRE_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/* Longest device id; ids are [A-Za-z0-9_.:-]+ so they are safe in topics, URLs and logs. */
#define DEVICE_ID_MAX 64
/* Longest shared-subscription group name: 1..64 of A-Z a-z 0-9 _ - . */
#define TOPIC_SHARE_GROUP_MAX 64

enum topic_leaf {
    TOPIC_TELEMETRY, /* meter -> server: readings */
    TOPIC_STATUS,    /* meter (and its last will) -> server, retained: online/offline */
    TOPIC_CMD,       /* server -> meter: commands */
    TOPIC_REPLY,     /* meter -> server: the outcome of a command */
    TOPIC_ACK,       /* server -> meter: readings whose fate is final */
    TOPIC_CAPTURE,   /* meter -> server: a waveform capture */
    TOPIC__COUNT
};

/* Longest leaf name ("telemetry"), and room for a whole topic or filter with its NUL. */
#define TOPIC_LEAF_MAX 9
#define TOPIC_MAX      (sizeof("meters/") + DEVICE_ID_MAX + 1 + TOPIC_LEAF_MAX)
#define TOPIC_FILTER_MAX                                                                           \
    (sizeof("$share/") + TOPIC_SHARE_GROUP_MAX + sizeof("/meters/+/") + TOPIC_LEAF_MAX)

/* True when s is 1..max characters of A-Z a-z 0-9 and of the characters in extra. */
bool wire_name_valid(const char *s, size_t max, const char *extra);

bool device_id_valid(const char *id);

/* Share groups cannot hold '/', '+' or '#': they are part of a topic filter. */
bool topic_share_group_valid(const char *group);

/* The leaf's name as it stands in topics ("telemetry", ...); NULL for a value out of range. */
const char *topic_leaf_name(enum topic_leaf leaf);

/*
 * Writes meters/<device_id>/<leaf> into out. Returns 0, or -EINVAL for an
 * invalid device id or leaf (out is then untouched).
 */
int topic_build(char out[TOPIC_MAX], const char *device_id, enum topic_leaf leaf);

/*
 * Splits topic[0..len) (no NUL needed). Returns 0 with ret_id and *ret_leaf
 * for meters/<valid id>/<leaf>; -ENOENT when the id is valid but the leaf is
 * none of the above (ret_id is written, so the caller can name the device);
 * -EINVAL when the topic is not meters/<valid id>/... at all.
 */
int topic_split(const char *topic, size_t len, char ret_id[DEVICE_ID_MAX + 1],
                enum topic_leaf *ret_leaf);

/*
 * Writes the filter that matches leaf for every device: meters/+/<leaf>, or
 * $share/<group>/meters/+/<leaf> when group is neither NULL nor "". Returns
 * 0, or -EINVAL for an invalid group or leaf.
 */
int topic_filter(char out[TOPIC_FILTER_MAX], enum topic_leaf leaf, const char *group);

#endif
