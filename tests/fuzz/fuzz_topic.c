/*
 * The topic splitter (common/wire/topic.c, topic_split), the first parser
 * every MQTT message the server receives meets.
 *
 * Checks: a device id handed back is valid; a topic that splits into a
 * device and a leaf is exactly the topic topic_build() writes for them.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[DEVICE_ID_MAX + 1], built[TOPIC_MAX];
    enum topic_leaf leaf;
    int r = topic_split((const char *)data, size, id, &leaf);
    if (r == -EINVAL)
        return 0;
    FUZZ_CHECK(r == 0 || r == -ENOENT);
    FUZZ_CHECK(device_id_valid(id));
    if (r == 0) {
        FUZZ_CHECK(topic_build(built, id, leaf) == 0);
        FUZZ_CHECK(strlen(built) == size && memcmp(built, data, size) == 0);
    }
    return 0;
}
