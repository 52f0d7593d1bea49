/**
 * The Lua scripts of the distributed limiter. Each runs atomically in Redis, reads Redis' own clock (`TIME`), and
 * keeps this state under one hash tag (`{name}`) so every key lives in one cluster slot:
 *
 * - `P:h`     ZSET  every holder's lease: member = lease id, score = expiry (Redis ms)
 * - `P:hk`    HASH  lease id -> key (so an expired lease leaves its key's set too)
 * - `P:k:KEY` ZSET  the holders of one key (same member and score as `P:h`)
 * - `P:q:KEY` ZSET  the FIFO queue of one key: member = waiter id, score = arrival ticket
 * - `P:g`     ZSET  the global FIFO queue (only with a global cap): waiters whose key has room
 * - `P:w`     ZSET  every waiter's heartbeat: member = waiter id, score = expiry (a dead waiter is dropped)
 * - `P:wk`    HASH  waiter id -> key
 * - `P:seq`   the ticket counter
 * - `P:wake`  the pub/sub channel: a comma-separated list of waiter ids now at the front
 *
 * A waiter is admitted when the holders of its key plus the waiters ahead of it in its key's queue are below
 * `perKey`, and (with a global cap) the holders overall plus the waiters ahead of it in the global queue are below
 * `global`. A waiter keeps its key slot while it waits in the global queue, as core's keyed limiter does.
 *
 * @internal
 */
import * as Redis from "effect/persistence/Redis"

const common = `
local P = KEYS[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Drops expired leases and dead waiters; returns the keys they touched.
local function purge(now)
  local touched = {}
  local expired = redis.call('ZRANGEBYSCORE', P .. ':h', '-inf', now)
  for _, id in ipairs(expired) do
    local k = redis.call('HGET', P .. ':hk', id)
    redis.call('ZREM', P .. ':h', id)
    redis.call('HDEL', P .. ':hk', id)
    if k then
      redis.call('ZREM', P .. ':k:' .. k, id)
      touched[k] = true
    end
  end
  local dead = redis.call('ZRANGEBYSCORE', P .. ':w', '-inf', now)
  for _, id in ipairs(dead) do
    local k = redis.call('HGET', P .. ':wk', id)
    redis.call('ZREM', P .. ':w', id)
    redis.call('HDEL', P .. ':wk', id)
    redis.call('ZREM', P .. ':g', id)
    if k then
      redis.call('ZREM', P .. ':q:' .. k, id)
      touched[k] = true
    end
  end
  return touched
end
-- Publishes the waiters that may now be admitted: the heads of the touched keys' queues and of the global queue.
local function wake(touched, perKey, global)
  local ids = {}
  local any = false
  for k, _ in pairs(touched) do
    any = true
    local free = perKey - redis.call('ZCARD', P .. ':k:' .. k)
    if free > 0 then
      for _, id in ipairs(redis.call('ZRANGE', P .. ':q:' .. k, 0, free - 1)) do ids[#ids + 1] = id end
    end
  end
  if any and global > 0 then
    local free = global - redis.call('ZCARD', P .. ':h')
    if free > 0 then
      for _, id in ipairs(redis.call('ZRANGE', P .. ':g', 0, free - 1)) do ids[#ids + 1] = id end
    end
  end
  if #ids > 0 then redis.call('PUBLISH', P .. ':wake', table.concat(ids, ',')) end
end
local function forget(id, k)
  redis.call('ZREM', P .. ':q:' .. k, id)
  redis.call('ZREM', P .. ':g', id)
  redis.call('ZREM', P .. ':w', id)
  redis.call('HDEL', P .. ':wk', id)
end
`

/**
 * Tries to admit waiter `id` for `key`; with `wait`, a waiter not admitted joins (or stays in) the queues and its
 * heartbeat is renewed. Returns 1 when admitted (the lease now runs `ttl` ms from Redis' now), else 0.
 */
export const acquire = Redis.script(
  (
    prefix: string,
    id: string,
    key: string,
    perKey: number,
    global: number,
    ttl: number,
    waitTtl: number,
    wait: 0 | 1
  ) => [prefix, id, key, perKey, global, ttl, waitTtl, wait],
  {
    numberOfKeys: 1,
    lua: common + `
local id, k = ARGV[1], ARGV[2]
local perKey, global, ttl, waitTtl, wait = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local now = now_ms()
local touched = purge(now)
local kh, kq = P .. ':k:' .. k, P .. ':q:' .. k
local granted = false
if redis.call('ZSCORE', P .. ':h', id) then
  granted = true
else
  local ticket = redis.call('ZSCORE', kq, id)
  local keyRank = redis.call('ZRANK', kq, id)
  if not keyRank then keyRank = redis.call('ZCARD', kq) end
  if redis.call('ZCARD', kh) + keyRank < perKey then
    if global <= 0 then
      granted = true
    else
      local gRank = redis.call('ZRANK', P .. ':g', id)
      local inG = gRank
      if not gRank then gRank = redis.call('ZCARD', P .. ':g') end
      if redis.call('ZCARD', P .. ':h') + gRank < global then
        granted = true
      elseif wait and not inG then
        if not ticket then
          ticket = redis.call('INCR', P .. ':seq')
          redis.call('ZADD', kq, ticket, id)
        end
        redis.call('ZADD', P .. ':g', ticket, id)
      end
    end
  end
  if not granted and wait and not redis.call('ZSCORE', kq, id) then
    redis.call('ZADD', kq, redis.call('INCR', P .. ':seq'), id)
  end
end
if granted then
  forget(id, k)
  redis.call('ZADD', P .. ':h', now + ttl, id)
  redis.call('ZADD', kh, now + ttl, id)
  redis.call('HSET', P .. ':hk', id, k)
elseif wait then
  redis.call('ZADD', P .. ':w', now + waitTtl, id)
  redis.call('HSET', P .. ':wk', id, k)
end
wake(touched, perKey, global)
if granted then return 1 end
return 0
`
  }
).withReturnType<number>()

/**
 * Gives back the lease `id` of `key` or, for a waiter, leaves the queues; wakes whoever may now be admitted.
 * Returns 1 when a lease was held.
 */
export const release = Redis.script(
  (prefix: string, id: string, key: string, perKey: number, global: number) => [prefix, id, key, perKey, global],
  {
    numberOfKeys: 1,
    lua: common + `
local id, k = ARGV[1], ARGV[2]
local perKey, global = tonumber(ARGV[3]), tonumber(ARGV[4])
local touched = purge(now_ms())
local held = redis.call('ZREM', P .. ':h', id)
redis.call('ZREM', P .. ':k:' .. k, id)
redis.call('HDEL', P .. ':hk', id)
forget(id, k)
touched[k] = true
wake(touched, perKey, global)
return held
`
  }
).withReturnType<number>()

/** Extends lease `id` to `ttl` ms from Redis' now if it is still valid; returns 1, or 0 when it is gone. */
export const refresh = Redis.script(
  (prefix: string, id: string, key: string, ttl: number) => [prefix, id, key, ttl],
  {
    numberOfKeys: 1,
    lua: `
local P = KEYS[1]
local id, k, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', P .. ':h', id)
if not score or tonumber(score) <= now then return 0 end
redis.call('ZADD', P .. ':h', 'XX', now + ttl, id)
redis.call('ZADD', P .. ':k:' .. k, 'XX', now + ttl, id)
return 1
`
  }
).withReturnType<number>()

/**
 * The fleet's state: `[holders, waiters, key1, holders1, waiters1, key2, …]` counting only valid leases and live
 * waiters (nothing is modified).
 */
export const stats = Redis.script(
  (prefix: string) => [prefix],
  {
    numberOfKeys: 1,
    lua: `
local P = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holders = redis.call('ZRANGEBYSCORE', P .. ':h', '(' .. now, '+inf')
local waiters = redis.call('ZRANGEBYSCORE', P .. ':w', '(' .. now, '+inf')
local byKey, order = {}, {}
for _, id in ipairs(holders) do
  local k = redis.call('HGET', P .. ':hk', id)
  if k then
    if not byKey[k] then byKey[k] = { 0, 0 }; order[#order + 1] = k end
    byKey[k][1] = byKey[k][1] + 1
  end
end
for _, id in ipairs(waiters) do
  local k = redis.call('HGET', P .. ':wk', id)
  if k then
    if not byKey[k] then byKey[k] = { 0, 0 }; order[#order + 1] = k end
    byKey[k][2] = byKey[k][2] + 1
  end
end
local out = { #holders, #waiters }
for _, k in ipairs(order) do
  out[#out + 1] = k
  out[#out + 1] = byKey[k][1]
  out[#out + 1] = byKey[k][2]
end
return out
`
  }
).withReturnType<ReadonlyArray<string | number>>()
