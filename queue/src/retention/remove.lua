-- Removes finished jobs of one queue, each only if it is still finished:
-- its id in the done or the dead set, not waiting in the scheduled set for a
-- retry, and its status (when it has metadata) Done, Failed or Killed. A job
-- that is pending (active list), scheduled, running (a worker's in-flight
-- set) or retrying is never touched, whatever the caller asked for.
--
-- KEYS[1]: the done set      KEYS[2]: the dead set     KEYS[3]: the failed set
-- KEYS[4]: the scheduled set KEYS[5]: the job data hash
-- ARGV[1]: the metadata key prefix (`<queue>:meta`)
-- ARGV[2]: the idempotency key prefix (`<queue>:idempotency`)
-- ARGV[3..]: job ids
-- Returns {removed, skipped}.
local finished_statuses = { Done = true, Failed = true, Killed = true }
local removed = 0
local skipped = 0

for i = 3, #ARGV do
    local id = ARGV[i]
    local meta_key = ARGV[1] .. ':' .. id
    local finished = redis.call('SISMEMBER', KEYS[1], id) == 1
        or redis.call('SISMEMBER', KEYS[2], id) == 1
    local scheduled = redis.call('ZSCORE', KEYS[4], id)
    local status = redis.call('HGET', meta_key, 'status')
    if finished and not scheduled and (not status or finished_statuses[status]) then
        local idempotency = redis.call('HGET', meta_key, 'idempotency_key')
        if idempotency and #idempotency > 0 then
            local idempotency_key = ARGV[2] .. ':' .. idempotency
            if redis.call('GET', idempotency_key) == id then
                redis.call('DEL', idempotency_key)
            end
        end
        redis.call('SREM', KEYS[1], id)
        redis.call('SREM', KEYS[2], id)
        redis.call('SREM', KEYS[3], id)
        redis.call('HDEL', KEYS[5], id)
        redis.call('HDEL', ARGV[1] .. ':result', id)
        redis.call('DEL', meta_key)
        removed = removed + 1
    else
        skipped = skipped + 1
    end
end

return { removed, skipped }
