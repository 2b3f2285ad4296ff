import Foundation

/// One mutex with a condition for each of the writer's two threads (and
/// one for `stop`, waiting for both to end), so a
/// submitted command wakes the decider only, and a handed batch the
/// committer only. With one `NSCondition` every submit woke both threads;
/// each wake is a futex call and a context switch on a 2-core machine.
final class Handoff: @unchecked Sendable {
    enum Side: Int, CaseIterable { case decider, committer, stopper }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let conditions = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: Side.allCases.count)

    init() {
        pthread_mutex_init(mutex, nil)
        for side in Side.allCases { pthread_cond_init(conditions + side.rawValue, nil) }
    }

    deinit {
        for side in Side.allCases { pthread_cond_destroy(conditions + side.rawValue) }
        pthread_mutex_destroy(mutex)
        conditions.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Wakes `side` (call with the lock held).
    func wake(_ side: Side) { pthread_cond_signal(conditions + side.rawValue) }

    /// Waits, the lock held, until `side` is woken (or spuriously).
    func wait(_ side: Side) { pthread_cond_wait(conditions + side.rawValue, mutex) }

    /// As `wait`, for at most `seconds`.
    func wait(_ side: Side, seconds: Double) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanos = Int(now.tv_nsec) + Int(seconds * 1e9)
        var deadline = timespec(tv_sec: now.tv_sec + nanos / 1_000_000_000, tv_nsec: nanos % 1_000_000_000)
        pthread_cond_timedwait(conditions + side.rawValue, mutex, &deadline)
    }
}
