/*
 * transport_mqtt: the MQTT transport (transport.h) over publisher.h. Acks
 * (meters/<id>/ack) and commands (meters/<id>/cmd) go to the sinks' queues
 * through their MQTT handlers, which check the server's signatures once
 * ack_queue_require_signature() / command_queue_require_signature() gave
 * the key.
 */
#ifndef SMARTMETER_METER_TRANSPORT_MQTT_H
#define SMARTMETER_METER_TRANSPORT_MQTT_H

#include "publisher.h"
#include "transport.h"

/* Creates the client (no connection yet). 0, or -errno with err set. */
int transport_mqtt_new(const struct publisher_config *cfg, const struct transport_sinks *sinks,
                       struct transport *ret, char *err, size_t errlen);

#endif
