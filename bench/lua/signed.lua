-- wrk script: POSTs signed MMOLove callbacks like MMOLove does.
--
-- BENCH_LIST   file of `SIGNATURE<TAB>BODY` lines (exec_bench sign).
--              One line: every request is that one (a heart.test).
--              Several: each thread takes every BENCH_THREADS-th line
--              from its own offset and cycles through them, so that no
--              two requests carry the same heart_id until a list wraps;
--              wraps are counted and reported in done().
-- BENCH_THREADS the -t given to wrk.
-- BENCH_STOP_AFTER  when set, each thread stops after its share of
--              that many responses (the worker-RSS run).

local threads = {}
local counter = 0

function setup(thread)
	thread:set("id", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

local function split(line)
	local tab = line:find("\t", 1, true)
	return line:sub(1, tab - 1), line:sub(tab + 1)
end

-- Whether the list has one line decides, here at the top, whether a
-- request() function exists at all: without one, wrk sends one fixed
-- request at full speed.
local nlines = 0
for _ in io.lines(os.getenv("BENCH_LIST")) do
	nlines = nlines + 1
end

local list = {}
local pos = 1
wrapped = 0
responses = 0
local stop_after = nil

local function event_of(body)
	return body:match('"event":"([^"]*)"') or "heart.counted"
end

function init(args)
	local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
	local n = 0
	for line in io.lines(os.getenv("BENCH_LIST")) do
		if n % nthreads == id then
			table.insert(list, line)
		end
		n = n + 1
	end
	if n == 1 then
		list = {}
		local sig, body = split(io.lines(os.getenv("BENCH_LIST"))())
		wrk.method = "POST"
		wrk.body = body
		wrk.headers["Content-Type"] = "application/json"
		wrk.headers["X-MMOLove-Event"] = event_of(body)
		wrk.headers["X-MMOLove-Signature"] = sig
	end
	local s = os.getenv("BENCH_STOP_AFTER")
	if s then
		stop_after = math.ceil(tonumber(s) / nthreads)
	end
end

if nlines > 1 then
function request()
	local sig, body = split(list[pos])
	pos = pos + 1
	if pos > #list then
		pos = 1
		wrapped = wrapped + 1
	end
	return wrk.format("POST", nil, {
		["Content-Type"] = "application/json",
		["X-MMOLove-Event"] = event_of(body),
		["X-MMOLove-Signature"] = sig,
	}, body)
end
end

if os.getenv("BENCH_STOP_AFTER") then
	function response(status, headers, body)
		responses = responses + 1
		if responses >= stop_after then
			wrk.thread:stop()
		end
	end
end

function done(summary, latency, requests)
	local w, r = 0, 0
	for _, t in ipairs(threads) do
		w = w + (t:get("wrapped") or 0)
		r = r + (t:get("responses") or 0)
	end
	io.write(string.format("bench: wraps %d\n", w))
	io.write(string.format("bench: completed %d\n", summary.requests))
end
