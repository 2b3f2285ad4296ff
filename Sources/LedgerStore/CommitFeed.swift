import Foundation

/// Tells waiters when a commit has made the log longer: the live event feed
/// (`follow=true`) waits here instead of polling.
public final class CommitFeed: @unchecked Sendable {
    private let lock = NSLock()
    private var last: UInt64
    private var waiters: [UUID: (after: UInt64, cont: CheckedContinuation<UInt64, Never>)] = [:]
    private var closed = false

    public init(last: UInt64 = 0) { self.last = last }

    /// Called by the writer after each durable commit.
    public func publish(_ sequence: UInt64) {
        lock.lock()
        last = max(last, sequence)
        let now = last
        let ready = waiters.filter { $0.value.after < now }
        for id in ready.keys { waiters[id] = nil }
        lock.unlock()
        for w in ready.values { w.cont.resume(returning: now) }
    }

    /// The server is stopping: wake every waiter now and from now on, so
    /// streaming responses end and shutdown does not wait for them.
    public func close() {
        lock.lock()
        closed = true
        let all = waiters.values
        waiters.removeAll()
        let now = last
        lock.unlock()
        for w in all { w.cont.resume(returning: now) }
    }

    /// Whether `close` was called.
    public var isClosed: Bool {
        lock.lock(); defer { lock.unlock() }
        return closed
    }

    /// Returns once the log holds an event after `sequence` (at once if it
    /// already does) with the newest sequence number, or after `timeout`
    /// seconds with whatever is newest then, so a streaming response can send
    /// a keep-alive and notice a client that went away.
    public func wait(after sequence: UInt64, timeout: Double) async -> UInt64 {
        let id = UUID()
        return await withCheckedContinuation { (cont: CheckedContinuation<UInt64, Never>) in
            lock.lock()
            if last > sequence || closed {
                let now = last
                lock.unlock()
                cont.resume(returning: now)
                return
            }
            waiters[id] = (sequence, cont)
            lock.unlock()
            Task { [weak self] in
                try? await Task.sleep(nanoseconds: UInt64(timeout * 1_000_000_000))
                self?.expire(id)
            }
        }
    }

    private func expire(_ id: UUID) {
        lock.lock()
        let w = waiters.removeValue(forKey: id)
        let now = last
        lock.unlock()
        w?.cont.resume(returning: now)
    }
}
