#include "topic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PREFIX     "meters/"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

static const char *const leaf_names[TOPIC__COUNT] = {
    [TOPIC_TELEMETRY] = "telemetry", [TOPIC_STATUS] = "status", [TOPIC_CMD] = "cmd",
    [TOPIC_REPLY] = "reply",         [TOPIC_ACK] = "ack",       [TOPIC_CAPTURE] = "capture",
};

bool wire_name_valid(const char *s, size_t max, const char *extra)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr(extra, c) != NULL;
        if (!ok || n >= max)
            return false;
    }
    return n > 0;
}

bool device_id_valid(const char *id)
{
    return wire_name_valid(id, DEVICE_ID_MAX, "_-.:");
}

bool topic_share_group_valid(const char *group)
{
    return wire_name_valid(group, TOPIC_SHARE_GROUP_MAX, "_-.");
}

const char *topic_leaf_name(enum topic_leaf leaf)
{
    return (unsigned)leaf < TOPIC__COUNT ? leaf_names[leaf] : NULL;
}

int topic_build(char out[TOPIC_MAX], const char *device_id, enum topic_leaf leaf)
{
    const char *name = topic_leaf_name(leaf);
    if (!name || !device_id_valid(device_id))
        return -EINVAL;
    snprintf(out, TOPIC_MAX, PREFIX "%s/%s", device_id, name);
    return 0;
}

int topic_split(const char *topic, size_t len, char ret_id[DEVICE_ID_MAX + 1],
                enum topic_leaf *ret_leaf)
{
    if (len <= PREFIX_LEN || memcmp(topic, PREFIX, PREFIX_LEN) != 0)
        return -EINVAL;
    const char *id = topic + PREFIX_LEN, *end = topic + len;
    const char *slash = memchr(id, '/', (size_t)(end - id));
    size_t id_len = slash ? (size_t)(slash - id) : 0;
    if (id_len == 0 || id_len > DEVICE_ID_MAX)
        return -EINVAL;
    char buf[DEVICE_ID_MAX + 1];
    memcpy(buf, id, id_len);
    buf[id_len] = '\0';
    if (!device_id_valid(buf) || strlen(buf) != id_len) /* not an id that stops at a NUL */
        return -EINVAL;
    memcpy(ret_id, buf, id_len + 1);
    const char *leaf = slash + 1;
    size_t leaf_len = (size_t)(end - leaf);
    for (int k = 0; k < TOPIC__COUNT; k++) {
        if (strlen(leaf_names[k]) == leaf_len && memcmp(leaf, leaf_names[k], leaf_len) == 0) {
            *ret_leaf = (enum topic_leaf)k;
            return 0;
        }
    }
    return -ENOENT;
}

int topic_filter(char out[TOPIC_FILTER_MAX], enum topic_leaf leaf, const char *group)
{
    const char *name = topic_leaf_name(leaf);
    if (!name)
        return -EINVAL;
    if (!group || !*group) {
        snprintf(out, TOPIC_FILTER_MAX, PREFIX "+/%s", name);
        return 0;
    }
    if (!topic_share_group_valid(group))
        return -EINVAL;
    snprintf(out, TOPIC_FILTER_MAX, "$share/%s/" PREFIX "+/%s", group, name);
    return 0;
}
