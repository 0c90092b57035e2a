-- Lease tokens from one identity's GCRA (dataplane/ratelimit/gcra, the
-- same virtual scheduling as the local limiter), atomically over all the
-- windows of a limit. KEYS: one per window, each holding that window's
-- theoretical arrival time (TAT) in microseconds since 2023-11-14 (Unix
-- 1700000000; doubles keep 1/8 us precision for a century). ARGV: want,
-- debt, then per window T and tolerance in microseconds.
--
-- The debt (requests a gateway granted on credit) is charged first and
-- unconditionally; then up to want tokens are granted, as many as every
-- window allows. A refusal (0 granted) writes nothing unless there was
-- debt, so refused requests consume no quota. Each key expires when its
-- bucket is full again (plus a second): memory follows active clients.
--
-- Returns {granted, wait_us, backlog_ppm, window}: when nothing was
-- granted, how long until one token is free; and the fullest window's
-- backlog in ppm of its tolerance, with that window's index (0-based).
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) * 1000000 + tonumber(t[2])
local want = tonumber(ARGV[1])
local debt = tonumber(ARGV[2])
local n = #KEYS
local tats, ts, tols = {}, {}, {}
local grant = want
local wait = 0
for i = 1, n do
	local T = tonumber(ARGV[1 + 2 * i])
	local tol = tonumber(ARGV[2 + 2 * i])
	local tat = tonumber(redis.call('GET', KEYS[i])) or now
	if tat < now then
		tat = now
	end
	tat = tat + debt * T
	-- the largest k with tat + k*T - now <= tol
	local k = math.floor((now + tol - tat) / T + 1e-9)
	if k < grant then
		grant = k
	end
	if k < 1 then
		local w = tat + T - tol - now
		if w > wait then
			wait = w
		end
	end
	tats[i], ts[i], tols[i] = tat, T, tol
end
if grant < 0 then
	grant = 0
end
local worst, worstAt = -1, 0
for i = 1, n do
	local tat = tats[i] + grant * ts[i]
	if grant > 0 or debt > 0 then
		redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
	end
	local f = math.floor((tat - now) * 1000000 / tols[i])
	if f > worst then
		worst, worstAt = f, i - 1
	end
end
if grant > 0 then
	wait = 0
end
return {grant, math.ceil(wait), worst, worstAt}
