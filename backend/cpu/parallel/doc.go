// Package parallel is encc's CPU worker pool: a fixed set of goroutines,
// started once, that run index ranges of a loop body in parallel.
//
// Design
//
//   - Persistent helpers. New(size) starts size-1 goroutines; the caller of
//     For is always participant 0, so no goroutine is spawned per call and
//     a one-participant pool runs everything inline. Default() is sized to
//     GOMAXPROCS at its first use.
//   - Cheap hand-off. A job is published with one atomic store of an epoch
//     word (sequence number and the number of helpers taking part). After
//     a job, helpers poll the epoch for spinFor (200 µs) before parking on a
//     per-helper channel, so the back-to-back kernels of a training step
//     find them awake. On this 2-core Zen 4, two chunks of 1.6 µs take
//     ≈1.85 µs in parallel against 3.3 µs serially (BenchmarkSplit2us):
//     the hand-off costs ≈0.2 µs. An empty parallel For costs ≈0.2 µs
//     (BenchmarkHandoff), against ≈6 ns inline. A parked helper costs a channel wake-up (a few µs).
//     Completion is a counter the caller polls, then parks on, in the same
//     way. ForRangerSmall is for jobs too small to pay for a wake-up:
//     when every helper is parked (Parked), the caller runs the chunks
//     itself, with the same bounds; Wakeups counts the wake-ups (the CPU
//     backend's BenchmarkTrainStep reports them per step).
//   - Never wait for a helper that has not started. Chunks are claimed
//     from an atomic counter, the caller included. Each helper is invited
//     with a ticket (the job's epoch) that it must CAS to "joined" before
//     touching the job; once every chunk is claimed, the caller CASes the
//     tickets still outstanding to "cancelled" and stops counting those
//     helpers. On a machine whose other core is busy with another process
//     (a compiler, say), a helper that is not scheduled in time costs the
//     caller nothing beyond doing the chunks itself, instead of a
//     scheduler time slice. A helper that joined and is then preempted in
//     the middle of a chunk is still waited for: cut big jobs into more
//     chunks than workers (Tasks) to bound that.
//   - Deterministic splitting. For(n, grain, fn) cuts [0, n) into
//     min(max(n/grain, 1), Size()) nearly equal chunks (Split, Chunk). The
//     chunks depend only on n, grain and the pool size, never on timing;
//     which goroutine runs a chunk does, so a body must not let that
//     matter (ForWorker's worker index is for choosing scratch space only).
//     Tasks(t, body) makes every index its own chunk, claimed dynamically,
//     for load balance under a disturbed core.
//   - No allocation. ForRanger, ForWorker and Tasks take interfaces; a
//     pointer to a long-lived struct converts to one without allocating.
//     For(fn) allocates nothing itself, but a closure that captures
//     variables is heap-allocated by its creator when passed here.
//   - Nesting and concurrency. One job runs at a time. A For issued while
//     the pool is busy (from inside a body, or from another goroutine)
//     runs its chunks inline, in order, with the same bounds and worker
//     index 0, instead of waiting or deadlocking.
//   - Panics. A body that panics on a helper goroutine takes the program
//     down (nothing recovers it there); validate inputs before calling
//     For, as gemm does.
package parallel
