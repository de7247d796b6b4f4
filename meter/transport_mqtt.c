#include "transport_mqtt.h"

#include "ack_queue.h"
#include "commands.h"

static int mqtt_start(void *impl, char *err, size_t errlen)
{
    return publisher_start(impl, err, errlen);
}

static bool mqtt_connected(const void *impl)
{
    return publisher_connected(impl);
}

static uint64_t mqtt_generation(const void *impl)
{
    return publisher_generation(impl);
}

static int mqtt_send_readings(void *impl, const struct reading *r, size_t n, bool as_array)
{
    return publisher_send_readings(impl, r, n, as_array);
}

static int mqtt_send(void *impl, enum topic_leaf leaf, const void *payload, size_t len)
{
    return publisher_send(impl, leaf, payload, len, 1);
}

static int mqtt_stop(void *impl, int timeout_ms)
{
    return publisher_stop(impl, timeout_ms);
}

static void mqtt_free(void *impl)
{
    publisher_free(impl);
}

static const struct transport_ops mqtt_ops = {
    .name = "mqtt",
    .start = mqtt_start,
    .connected = mqtt_connected,
    .generation = mqtt_generation,
    .send_readings = mqtt_send_readings,
    .send = mqtt_send,
    .stop = mqtt_stop,
    .free = mqtt_free,
};

int transport_mqtt_new(const struct publisher_config *cfg, const struct transport_sinks *sinks,
                       struct transport *ret, char *err, size_t errlen)
{
    struct publisher *p = NULL;
    int r = publisher_new(cfg, &p, err, errlen);
    if (r)
        return r;
    if (sinks->commands)
        publisher_set_command_handler(p, command_queue_handler, sinks->commands);
    if (sinks->acks)
        publisher_set_ack_handler(p, ack_queue_handler, sinks->acks);
    ret->ops = &mqtt_ops;
    ret->impl = p;
    return 0;
}
