-- wrk script: GET with an Authorization header (args: token, or nothing).
function init(args)
    if args[1] and args[1] ~= "" then
        wrk.headers["Authorization"] = "Bearer " .. args[1]
    end
end
