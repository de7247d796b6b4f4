/*
 * rules_json: what clients send about alarms, parsed (pure): a device's rule
 * overrides (the "rules" object of PUT /api/devices/:id/alarm-rules) and
 * the state filter of GET /api/alarms. The API answers 400 with the message.
 */
#ifndef SMARTMETER_ALARM_RULES_JSON_H
#define SMARTMETER_ALARM_RULES_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "rules.h"
#include "store.h"

#define ALARM_PARSE_ERR_LEN      200
#define ALARM_MIN_DURATION_MAX_S 604800 /* a week */

/*
 * rules: {"<kind>": {"enabled"?: bool, "limit"?: number, "min_duration_s"?:
 * 0..604800, "hysteresis"?: number >= 0} | null, ...}; a member null keeps
 * the default. Fills ret[0..*ret_n) (kinds once each, in the object's
 * order). 0, or -EINVAL with err naming the member.
 */
int alarm_overrides_parse(const json_t *rules, struct alarm_rule_override ret[AK__COUNT],
                          size_t *ret_n, char err[ALARM_PARSE_ERR_LEN]);

/*
 * "raised,acknowledged" (also "open": raised and acknowledged) into
 * ALARM_BIT()s. 0, or -EINVAL for an empty list or an unknown state.
 */
int alarm_states_parse(const char *text, unsigned *ret_mask);

#endif
