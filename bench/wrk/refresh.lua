-- POST /token grant_type=refresh_token, chaining the rotated refresh token.
-- Refresh tokens rotate and a replayed one revokes its family, so every thread owns one
-- chain and must run exactly one connection (wrk -t N -c N): the next request of a thread
-- is built only after the response of the previous one has been read.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require "common"

local seeds = {}
for tok in (os.getenv("BENCH_REFRESH_TOKENS") or ""):gmatch("%S+") do
   table.insert(seeds, tok)
end

function setup(thread)
   bench_setup(thread)
   local id = thread:get("id")
   if not seeds[id] then
      error("no seed refresh token for thread " .. id)
   end
   thread:set("token", seeds[id])
end

done = bench_done
bad = 0
local headers = {
   ["Authorization"] = os.getenv("BENCH_AUTH"),
   ["Content-Type"] = "application/x-www-form-urlencoded",
}

function request()
   return wrk.format("POST", "/token", headers, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
   local new = body:match('"refresh_token"%s*:%s*"([^"]+)"')
   if status == 200 and new then
      token = new
   else
      -- The chain is broken (and its family revoked); count it. Later requests of this
      -- thread fail too and show up as status errors.
      bad = bad + 1
      sample = status .. " " .. body:sub(1, 200)
   end
end
