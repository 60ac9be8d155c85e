-- GET /healthz: the floor of the stack (gunicorn, the middleware chain, one SELECT 1).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require "common"

wrk.method = "GET"
wrk.path = "/healthz"
setup = bench_setup
done = bench_done
bad = 0

function response(status, headers, body)
   if status ~= 200 then
      bad = bad + 1
      sample = status .. " " .. body:sub(1, 200)
   end
end
