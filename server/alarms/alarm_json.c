/* alarm_json: an alarm as JSON (alarm_json.h). */
#include "alarm_json.h"

#include "rules.h"

static void opt_time(struct jsonw *w, const char *key, int64_t ms)
{
    jsonw_key(w, key);
    if (ms)
        jsonw_time(w, ms);
    else
        jsonw_null(w);
}

void alarm_json_write(struct jsonw *w, const struct alarm_rec *a)
{
    int k = alarm_kind_parse(a->kind);
    jsonw_obj_begin(w);
    jsonw_kint(w, "id", a->id);
    jsonw_kstr(w, "device_id", a->device_id);
    jsonw_kstr(w, "kind", a->kind);
    jsonw_kstr(w, "severity", a->severity);
    jsonw_kstr(w, "state", alarm_state_name(a->state));
    jsonw_kstr(w, "site", a->site);
    jsonw_key(w, "value");
    if (a->has_value)
        jsonw_double(w, a->value);
    else
        jsonw_null(w);
    jsonw_key(w, "limit");
    if (a->has_limit)
        jsonw_double(w, a->limit);
    else
        jsonw_null(w);
    jsonw_kstr(w, "unit", k >= 0 ? alarm_kinds[k].unit : "");
    jsonw_kstr(w, "message", a->message);
    jsonw_ktime(w, "raised_at", a->raised_ms);
    opt_time(w, "acknowledged_at", a->acked_ms);
    jsonw_key(w, "acknowledged_by");
    if (a->acked_ms)
        jsonw_str(w, a->acked_by);
    else
        jsonw_null(w);
    jsonw_key(w, "note");
    if (a->acked_ms)
        jsonw_str(w, a->ack_note);
    else
        jsonw_null(w);
    opt_time(w, "cleared_at", a->cleared_ms);
    jsonw_obj_end(w);
}
