-- wrk script: GET /api/devices/<prefix><n> for n = 1, 2 .. count in turn, with a token.
-- args: token, prefix, count
local prefix, count, n = "bench-g-", 100, 0
function init(args)
    wrk.headers["Authorization"] = "Bearer " .. args[1]
    prefix = args[2] or prefix
    count = tonumber(args[3] or count)
end
function request()
    n = n % count + 1
    return wrk.format("GET", "/api/devices/" .. prefix .. n)
end
