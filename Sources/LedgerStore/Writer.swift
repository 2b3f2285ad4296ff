import Foundation
import Ledger
import LMDB

/// What happened to one submitted command.
public enum WriteOutcome<T: Sendable>: Sendable {
    /// Committed durably. `sequence` is the last event it wrote, or nil when
    /// the command changed nothing (no event); `value` is what the caller's
    /// `read` closure saw right after it, inside the same transaction.
    case accepted(sequence: UInt64?, value: T)
    case rejected(Rejection)
    /// The commit failed (disk full, I/O error): nothing of it was written.
    case failed(String)
}

/// The single writer with group commit: one dedicated thread takes every
/// command waiting, decides each in arrival order against the views as the
/// ones before it left them, appends and applies the accepted ones, commits
/// once (fsync), and only then answers them all. Between commits it folds
/// the event and time indexes in behind the log (Indexer.swift).
public final class Writer: @unchecked Sendable {
    private struct Item {
        let command: Command
        let context: EventContext
        let run: (Views, UInt64?) throws -> Void  // records the outcome
        let reject: (Rejection) -> Void
        let finish: (Bool, String?) -> Void  // after commit: committed?, error
    }

    private let store: LedgerStore
    private let clock: @Sendable () -> Micros
    private let cond = NSCondition()
    private var queue: [Item] = []
    private var stopping = false
    private var thread: Thread?
    private var stopped = false
    /// Called after each commit with the new last sequence (the live feed).
    private let onCommit: (@Sendable (UInt64) -> Void)?
    /// Events written and not yet in the event and time indexes (Indexer.swift),
    /// and the entries worked out for them as they were folded (oldest first).
    private var unindexed: UInt64
    private var pendingIndex: [PendingIndex] = []
    /// The index is caught up once this many events are pending, or when no
    /// command has come for `indexIdle`: a few hundred events share the
    /// pages of one index commit, and no request waits for it.
    static let indexLag: UInt64 = 256
    static let indexIdle = 0.05
    /// Zero pages kept ready past the data (`Environment.keepRunway`): at
    /// least 2 MiB, topped up to 4 MiB, between commits.
    static let runwayMinimum = 2 << 20
    static let runwayTarget = 4 << 20

    public init(store: LedgerStore, clock: @escaping @Sendable () -> Micros = Writer.systemClock,
                onCommit: (@Sendable (UInt64) -> Void)? = nil) {
        self.store = store
        self.clock = clock
        self.onCommit = onCommit
        unindexed = (try? store.unindexedCount()) ?? 0
        let t = Thread { [unowned self] in self.loop() }
        t.name = "ledger-writer"
        thread = t
        t.start()
    }

    /// Wall-clock UTC microseconds.
    public static let systemClock: @Sendable () -> Micros = {
        Micros((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// Submits a command and waits for the commit that holds it.
    /// - Parameter read: runs right after the command's events are applied,
    ///   in the write transaction, to capture what the response shows.
    public func submit<T: Sendable>(_ command: Command, context: EventContext,
                                    read: @escaping @Sendable (Views) throws -> T) async -> WriteOutcome<T> {
        return await withCheckedContinuation { (cont: CheckedContinuation<WriteOutcome<T>, Never>) in
            let box = OutcomeBox<T>()
            let item = Item(
                command: command, context: context,
                run: { views, seq in box.outcome = .accepted(sequence: seq, value: try read(views)) },
                reject: { box.outcome = .rejected($0) },
                finish: { committed, error in
                    if committed, let o = box.outcome {
                        cont.resume(returning: o)
                    } else if case .rejected(let r)? = box.outcome {
                        cont.resume(returning: .rejected(r))
                    } else {
                        cont.resume(returning: .failed(error ?? "write failed"))
                    }
                })
            cond.lock()
            if stopping {
                cond.unlock()
                cont.resume(returning: .failed("the server is shutting down"))
                return
            }
            queue.append(item)
            cond.signal()
            cond.unlock()
        }
    }

    /// Stops taking commands, commits what is queued, and ends the thread.
    public func stop() {
        cond.lock()
        stopping = true
        cond.broadcast()
        while !stopped { cond.wait() }
        cond.unlock()
    }

    private func loop() {
        Writer.nameThisThread("ledger-writer")
        store.env.keepRunway(minimum: Writer.runwayMinimum, target: Writer.runwayTarget)
        while true {
            cond.lock()
            if queue.isEmpty && !stopping && indexPending {
                _ = cond.wait(until: Date(timeIntervalSinceNow: Writer.indexIdle))
            }
            while queue.isEmpty && !stopping && !indexPending { cond.wait() }
            let batch = queue
            queue = []
            let ending = stopping && batch.isEmpty
            cond.unlock()
            if !batch.isEmpty { commit(batch) }
            if indexPending && (unindexed >= Writer.indexLag || batch.isEmpty) { catchUpIndex() }
            store.env.keepRunway(minimum: Writer.runwayMinimum, target: Writer.runwayTarget)
            if ending && !indexPending {
                cond.lock()
                stopped = true
                cond.broadcast()
                cond.unlock()
                return
            }
        }
    }

    /// Foundation's `Thread.name` does not reach the kernel on Linux: `top -H`,
    /// `ps -L` and perf showed the writer under a dispatch queue's name. The
    /// kernel keeps 15 bytes of it.
    private static func nameThisThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        _ = name.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, min(15, $0.count - 1)) }
        close(fd)
    }

    /// The last index commit failed (disk full): not tried again before
    /// the next write commits, so an idle writer does not spin on it.
    private var indexFailed = false

    /// Events wait for the index, and an index commit may be tried.
    private var indexPending: Bool { unindexed > 0 && !indexFailed }

    /// One index commit. On failure the events stay in the tail readers
    /// merge, which answers the same.
    private func catchUpIndex() {
        do {
            let indexed = try store.catchUpIndex(limit: 4096, known: pendingIndex[...])
            pendingIndex.removeAll { $0.seq <= indexed }
            unindexed = try store.unindexedCount()
        } catch {
            indexFailed = true
            // Past this many the log is the cheaper memory of what to index.
            if pendingIndex.count > 100_000 { pendingIndex = [] }
        }
    }

    private func commit(_ batch: [Item]) {
        var batch = batch
        var failure: String?
        var last: UInt64 = 0
        var wrote = false
        var attempts = 0
        var before: UInt64 = 0
        var entries: [PendingIndex] = []
        while attempts < 3 + batch.count {
            attempts += 1
            entries.removeAll(keepingCapacity: true)
            do {
                (before, last, wrote) = try store.env.write { txn in try self.run(batch, in: txn) { entries.append($0) } }
                failure = nil
                break
            } catch let e as BatchItemFailed {
                // A bug in a fold: refuse that command alone and commit the others without it.
                batch[e.index].reject(Rejection(500, "internal error applying the change: \(e.failure)"))
                batch[e.index].finish(false, "\(e.failure)")
                batch.remove(at: e.index)
                failure = nil
                if batch.isEmpty { return }
            } catch let e as LMDBError where e.isMapFull {
                try? store.env.growIfNeeded(reserve: store.env.mapSize)
                failure = e.description
            } catch {
                failure = "\(error)"
                break
            }
        }
        for item in batch { item.finish(failure == nil, failure) }
        if failure == nil, wrote {
            unindexed += last - before
            pendingIndex += entries
            indexFailed = false
            onCommit?(last)
        }
    }

    /// Decides and applies every command of the batch in one transaction.
    private func run(_ batch: [Item], in txn: Transaction, pending: @escaping (PendingIndex) -> Void) throws -> (UInt64, UInt64, Bool) {
        let start = try store.lastSequence(txn)
        var seq = start
        var wrote = false
        let now = clock()
        for (index, item) in batch.enumerated() {
            let outcome: Result<UInt64, Rejection>
            do {
                outcome = try store.decideAndAppend(item.command, context: item.context, time: now, after: seq, index: false, pending: pending, in: txn, then: item.run)
            } catch let f as FoldFailure {
                throw BatchItemFailed(index: index, failure: f)
            }
            switch outcome {
            case .failure(let rejection):
                item.reject(rejection)
            case .success(let newSeq):
                if newSeq != seq { wrote = true }
                seq = newSeq
            }
        }
        return (start, seq, wrote)
    }
}

private struct BatchItemFailed: Error {
    let index: Int
    let failure: FoldFailure
}

private final class OutcomeBox<T: Sendable>: @unchecked Sendable {
    var outcome: WriteOutcome<T>?
}
