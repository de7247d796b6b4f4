/*
 * alarm_json: an alarm as the API and the live stream show it (docs/api.md
 * "Alarms"): one JSON object, written in one place.
 */
#ifndef SMARTMETER_ALARM_JSON_H
#define SMARTMETER_ALARM_JSON_H

#include "jsonw.h"
#include "store.h"

/* Writes a as {"id","device_id","kind","severity","state","value","limit","unit",...}. */
void alarm_json_write(struct jsonw *w, const struct alarm_rec *a);

#endif
