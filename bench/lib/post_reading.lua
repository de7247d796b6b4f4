-- wrk script: POST one reading per request. Each wrk thread numbers its own
-- readings (seq) from its own base so no two requests collide.
-- Globals set by the caller with wrk's -s args: device, secret (optional; "" for
-- none), run (optional: a number per run against the same device, so that the
-- seqs of a second run do not repeat those of the first).
local threads_started = 0

function setup(thread)
    threads_started = threads_started + 1
    thread:set("tid", threads_started)
end

function init(args)
    device = args[1]
    secret = args[2]
    local run = tonumber(args[3] or "0") or 0
    counter = 0
    base = (run * 100 + tid) * 100000000
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    if secret and secret ~= "" then
        wrk.headers["Authorization"] = "Bearer " .. secret
    end
end

function request()
    counter = counter + 1
    local body = string.format(
        '{"device_id":"%s","seq":%d,"voltage":230.1,"current":5.02}', device, base + counter)
    return wrk.format(nil, nil, nil, body)
end
