-- Deletes the metadata of workers no longer registered. apalis-redis writes
-- a worker's metadata when it registers, in the same script that adds it to
-- the workers set, and drops it from that set once its heartbeats stop, but
-- never deletes the metadata: every worker start left a key behind forever.
--
-- KEYS[1]: the workers set
-- ARGV[1]: the metadata key prefix (`<queue>:workers:metadata:`)
-- ARGV[2..]: worker names
-- Returns how many were deleted.
local deleted = 0
for i = 2, #ARGV do
    if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
        deleted = deleted + redis.call('DEL', ARGV[1] .. ARGV[i])
    end
end
return deleted
