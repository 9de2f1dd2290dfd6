-- wrk script for bench/wrk.sh: cycles through the tokens in the file named by
-- the TOKENS environment variable, one request per token, requests pre-built.
local requests = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("GET", "/orders", { ["Authorization"] = "Bearer " .. line })
    end
  end
end

function request()
  i = i % #requests + 1
  return requests[i]
end
