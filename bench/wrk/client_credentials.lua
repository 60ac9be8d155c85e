-- POST /token grant_type=client_credentials with HTTP Basic client authentication.
-- Every request is the same, so wrk builds it once; any number of connections per thread.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require "common"

wrk.method = "POST"
wrk.path = "/token"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&scope=" .. (os.getenv("BENCH_SCOPE") or "")

setup = bench_setup
done = bench_done
bad = 0

function response(status, headers, body)
   if status ~= 200 or not body:find('"access_token"', 1, true) then
      bad = bad + 1
      sample = status .. " " .. body:sub(1, 200)
   end
end
