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

/// The single writer with group commit, in two threads.
///
/// `ledger-decide` takes commands in arrival order and decides each against
/// the views as the commands before it left them: the committed snapshot
/// plus the changes not yet committed (`StagedViews`). It stages what the
/// accepted ones write (the log record, the views, the undo entries) and
/// gathers them into a batch. `ledger-writer` writes the gathered batch in
/// one transaction and commits it (fsync), and only then are its commands
/// answered. While it commits, the next batch is being decided; it is
/// handed over as soon as the commit is done. Between commits the writer
/// folds the event and time indexes in behind the log (Indexer.swift).
///
/// A commit that fails (disk full, I/O error) fails its commands; the
/// batch decided on top of it is dropped and decided again against what is
/// committed, so no answer ever rests on a change that was not written.
public final class Writer: @unchecked Sendable {
    private struct Item {
        let command: Command
        let context: EventContext
        let run: (Views, UInt64?) throws -> Void  // records the outcome
        let reject: (Rejection) -> Void
        let finish: (Bool, String?) -> Void  // after commit: committed?, error
    }

    /// A decided batch: its commands (accepted or refused), what the
    /// accepted ones write, and the log's last sequence before and after.
    private struct Batch {
        var items: [Item] = []
        var writes: [StagedWrite] = []
        var entries: [PendingIndex] = []
        var before: UInt64
        var last: UInt64
    }

    private let store: LedgerStore
    private let clock: @Sendable () -> Micros
    private let cond = Handoff()
    // Guarded by `cond`:
    private var queue: [Item] = []
    /// The batch handed to the committer, until it is committed or failed.
    private var handed: Batch?
    /// How the handed batch ended (nil: committed), for the decider to take.
    private var ended: String??
    private var stopping = false
    private var decidingDone = false
    private var stopped = false
    private var threads: [Thread] = []
    /// Called after each commit with the new last sequence (the live feed).
    private let onCommit: (@Sendable (UInt64) -> Void)?
    // The committer's own:
    /// Events written and not yet in the event and time indexes (Indexer.swift),
    /// and the entries worked out for them as they were folded (oldest first).
    private var unindexed: UInt64
    private var pendingIndex: [PendingIndex] = []
    /// The index is caught up once this many events are pending, or when no
    /// command has come for `indexIdle`: a few hundred events share the
    /// pages of one index commit, and no request waits for it.
    static let indexLag: UInt64 = 256
    /// The most commands the decider gathers while more wait and the committer is free.
    static let batchLimit = 64
    static let indexIdle = 0.05
    /// Zero pages kept ready past the data (`Environment.keepRunway`): at
    /// least 2 MiB, topped up to 4 MiB, between commits.
    static let runwayMinimum = 2 << 20
    static let runwayTarget = 4 << 20

    /// Tests only: runs before each handed batch is written (counting from
    /// 1); a throw fails that commit as a full disk would.
    private let beforeCommit: ((Int) throws -> Void)?
    private var batchesHanded = 0
    /// Commands decided, and decided again after the batch under them failed (guarded by `cond`).
    private var decidedCount = 0, redecidedCount = 0

    public convenience init(store: LedgerStore, clock: @escaping @Sendable () -> Micros = Writer.systemClock,
                            onCommit: (@Sendable (UInt64) -> Void)? = nil) {
        self.init(store: store, clock: clock, onCommit: onCommit, beforeCommit: nil)
    }

    init(store: LedgerStore, clock: @escaping @Sendable () -> Micros = Writer.systemClock,
         onCommit: (@Sendable (UInt64) -> Void)? = nil, beforeCommit: ((Int) throws -> Void)?) {
        self.store = store
        self.clock = clock
        self.onCommit = onCommit
        self.beforeCommit = beforeCommit
        unindexed = (try? store.unindexedCount()) ?? 0
        let decider = Thread { [unowned self] in self.decideLoop() }
        decider.name = "ledger-decide"
        let committer = Thread { [unowned self] in self.commitLoop() }
        committer.name = "ledger-writer"
        threads = [decider, committer]
        decider.start()
        committer.start()
    }

    /// Wall-clock UTC microseconds.
    public static let systemClock: @Sendable () -> Micros = {
        Micros((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// Submits a command and waits for the commit that holds it.
    /// - Parameter read: runs right after the command's events are applied,
    ///   against the views as they then stand, to capture what the response shows.
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
            cond.wake(.decider)
            cond.unlock()
        }
    }

    /// Stops taking commands, commits what is queued, and ends the threads.
    public func stop() {
        cond.lock()
        stopping = true
        cond.wake(.decider)
        while !stopped { cond.wait(.stopper) }
        cond.unlock()
    }

    /// Commands decided so far, and how many of those were decisions taken
    /// again because the batch under them failed to commit. A command is
    /// counted at the top of the decider's next pass, so before the pass
    /// that hands its batch over: every answered command is counted.
    var decisions: (all: Int, again: Int) {
        cond.lock()
        defer { cond.unlock() }
        return (decidedCount, redecidedCount)
    }

    // MARK: deciding

    private func decideLoop() {
        Writer.nameThisThread("ledger-decide")
        let staged = StagedViews(dbs: store.dbs)
        var waiting: [Item] = []
        var next = 0  // the first of `waiting` not decided yet
        var gathering = Batch(before: 0, last: 0)
        var inFlight = false
        var lastTime: Micros = 0
        var decidedUncounted = 0  // added to `decidedCount` under the lock the loop takes anyway
        func restart() {
            let last = (try? store.lastSequence()) ?? 0
            gathering = Batch(before: last, last: last)
        }
        restart()
        while true {
            cond.lock()
            decidedCount += decidedUncounted
            decidedUncounted = 0
            while queue.isEmpty && ended == nil && next == waiting.count
                    && (inFlight || gathering.items.isEmpty) && !(stopping && !inFlight) {
                cond.wait(.decider)
            }
            if !queue.isEmpty {
                waiting.removeFirst(next)
                next = 0
                waiting += queue
                queue = []
            }
            let result = ended
            ended = nil
            let done = stopping && !inFlight && gathering.items.isEmpty && next == waiting.count && result == nil
            if done {
                decidingDone = true
                cond.wake(.committer)
            }
            cond.unlock()
            if done { return }

            if let result {
                inFlight = false
                staged.committed()
                if result != nil {
                    // Decided on top of a batch that is not on disk: decide them again.
                    staged.dropGathered()
                    cond.lock()
                    redecidedCount += gathering.items.count
                    cond.unlock()
                    waiting = gathering.items + waiting[next...]
                    next = 0
                    restart()
                }
            }
            // The committer is free: hand over once every command that has
            // arrived is decided (one commit for all of them rather than a
            // commit for the first and another for the rest), or at `batchLimit`.
            if !inFlight && !gathering.items.isEmpty && (next == waiting.count || gathering.items.count >= Writer.batchLimit) {
                gathering.writes = staged.handOver()
                let batch = gathering
                gathering = Batch(before: batch.last, last: batch.last)
                inFlight = true
                cond.lock()
                handed = batch
                cond.wake(.committer)
                cond.unlock()
            }
            if next < waiting.count {
                let item = waiting[next]
                next += 1
                lastTime = max(lastTime, clock())
                decide(item, at: lastTime, into: &gathering, staged)
                decidedUncounted += 1
            }
        }
    }

    /// Decides one command on top of what is staged and gathers it.
    private func decide(_ item: Item, at time: Micros, into batch: inout Batch, _ staged: StagedViews) {
        var entries: [PendingIndex] = []
        do {
            let outcome = try store.env.read { txn in
                staged.base = LMDBViewStore(txn: txn, dbs: store.dbs)
                defer { staged.base = nil }
                return try store.decideAndAppend(item.command, context: item.context, time: time, after: batch.last, index: nil,
                                                 pending: { entries.append($0) }, into: StagedTarget(staged: staged), then: item.run)
            }
            switch outcome {
            case .failure(let rejection):
                staged.dropCommand()
                item.reject(rejection)
            case .success(let last):
                staged.keepCommand()
                batch.last = last
                batch.entries += entries
            }
        } catch {
            // A bug in a fold, or a record LMDB cannot hold: refuse this command alone.
            staged.dropCommand()
            let failure = (error as? FoldFailure).map { "\($0)" } ?? "\(error)"
            item.reject(Rejection(500, "internal error applying the change: \(failure)"))
        }
        batch.items.append(item)
    }

    // MARK: committing

    private func commitLoop() {
        Writer.nameThisThread("ledger-writer")
        store.env.keepRunway(minimum: Writer.runwayMinimum, target: Writer.runwayTarget)
        while true {
            cond.lock()
            if handed == nil && !decidingDone && indexPending {
                cond.wait(.committer, seconds: Writer.indexIdle)
            }
            while handed == nil && !decidingDone && !indexPending { cond.wait(.committer) }
            let batch = handed
            let ending = decidingDone && batch == nil
            cond.unlock()
            if let batch {
                batchesHanded += 1
                let failure: String?
                do {
                    try beforeCommit?(batchesHanded)
                    failure = commit(batch)
                } catch {
                    failure = "\(error)"
                }
                cond.lock()
                handed = nil
                ended = .some(failure)
                cond.wake(.decider)
                cond.unlock()
                for item in batch.items { item.finish(failure == nil, failure) }
                if failure == nil, batch.last > batch.before {
                    unindexed += batch.last - batch.before
                    pendingIndex += batch.entries
                    indexFailed = false
                    onCommit?(batch.last)
                }
            }
            if indexPending && (unindexed >= Writer.indexLag || batch == nil) { catchUpIndex() }
            store.env.keepRunway(minimum: Writer.runwayMinimum, target: Writer.runwayTarget)
            if ending && !indexPending {
                cond.lock()
                stopped = true
                cond.wake(.stopper)
                cond.unlock()
                return
            }
        }
    }

    /// Writes a decided batch and commits it; nil, or why it failed.
    private func commit(_ batch: Batch) -> String? {
        guard !batch.writes.isEmpty else { return nil }
        var attempts = 0
        while true {
            do {
                try store.env.write { txn in
                    let last = try store.lastSequence(txn)
                    guard last == batch.before else {
                        throw WriterInconsistency(description: "the batch was decided after event \(batch.before), the log ends at \(last)")
                    }
                    try txn.write(batch.writes)
                }
                return nil
            } catch let e as LMDBError where e.isMapFull && attempts < 3 {
                attempts += 1
                try? store.env.growIfNeeded(reserve: store.env.mapSize)
            } catch {
                return "\(error)"
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
}

/// A batch met a log other than the one it was decided on: a bug, refused
/// rather than written.
private struct WriterInconsistency: Error, CustomStringConvertible {
    let description: String
}

private final class OutcomeBox<T: Sendable>: @unchecked Sendable {
    var outcome: WriteOutcome<T>?
}
