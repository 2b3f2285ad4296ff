import Foundation

/// `InternedFold` on two threads, for `verify` of a long log. A profile of
/// the one-thread fold at a million consumers put half its time in reading
/// events into ids (the reader's scans, the interners' probes, most of them
/// cache misses) and most of the rest in folding those ids into the state
/// (`replaceAllocations`). The two halves share nothing but the ids, so here
/// the calling thread reads (a *stager*: an `InternedFold` that only interns
/// and stages) and a worker folds what it staged, a chunk of events at a
/// time, while the next chunk is read.
///
/// The ids are the ones the one-thread fold gives (the stager interns in the
/// same order), so the result is that fold's. An event the fast reader does
/// not take is folded where the one-thread fold folds it, in order: the
/// worker is drained, the interners are lent to the state, and the event is
/// decoded and folded on the calling thread.
///
/// Journaled (`replay`), the worker also journals each event
/// (InternedFold+Journal.swift), which writes records' bytes and so reads
/// the interners while the stager adds to them. There the state keeps
/// interners of its own: each chunk carries the keys the stager added since
/// the last one (`Interner.Tail`), and after an event folded on the calling
/// thread the stager takes the keys the state added. A profile of the
/// one-thread journaled fold put a third of it in the reader and interning,
/// which this takes off the thread that journals.
///
/// `@unchecked Sendable`: the worker touches `state` and the chunk it was
/// handed only between that hand-off (`queue.async`) and the next drain
/// (`queue.sync`), which order every access from the calling thread; the
/// spare chunks and the first failure are behind `lock`.
public final class PipelinedFold: @unchecked Sendable {
    /// One staged allocation event: its consumers end at `end` in the chunk's `pending`.
    struct Staged {
        var time: Micros
        var bumps: Bool
        var end: Int
        var seq: UInt64 = 0
    }

    /// What the stager read since the last hand-off.
    final class Chunk: @unchecked Sendable {
        var events: [Staged] = []
        var pending: [InternedFold.NewAllocations] = []
        var scratch: [InternedFold.Amount] = []
        /// The interners' counts when it was handed off: the state's tables grow to them.
        var providers = 0
        var consumers = 0
        /// Journaled: the keys each interner (`names`) took since the last chunk.
        var tails: [Interner.Tail] = []
    }

    /// The interners a journaled state keeps in step with the stager's.
    private let names: [WritableKeyPath<InternedFold, Interner>] = [\.providerIDs, \.consumerIDs, \.classIDs, \.nameIDs]
    private let journaled: Bool
    /// Journaled: how many keys of each of `names` the state holds or has been handed.
    private var synced: [Int] = []
    /// Journaled: the journal's arrays as the worker last left them (behind `lock`), and how far
    /// the calling thread has faulted each in. See `faultAhead`.
    private var regions: [(start: UInt, used: Int, reserved: Int)] = []
    private var faulted: [(start: UInt, end: Int, used: Int)] = []

    private var stager = InternedFold()
    private var state = InternedFold()
    private var events: [Staged] = []
    private let chunkSize: Int
    private let queue = DispatchQueue(label: "placement-ledger.fold")
    /// Chunks handed off and not yet folded: the stager waits when the worker is this far behind.
    private let inFlight: DispatchSemaphore
    private let lock = NSLock()
    private var spare: [Chunk] = []
    private var failure: (any Error)?

    /// `chunk`: events per hand-off; `ahead`: chunks the stager may read before the worker folds them.
    /// `journaled`: the fold journals every event (`InternedFold.startJournal`,
    /// told `events`: how many there will be), for `apply(stored:seq:index:)`.
    public init(chunk: Int = 4096, ahead: Int = 2, journaled: Bool = false, events expected: Int = 0) {
        chunkSize = chunk
        inFlight = DispatchSemaphore(value: ahead)
        self.journaled = journaled
        stager.stagesOnly = true
        if journaled {
            state.startJournal(events: expected)
            synced = names.map { stager[keyPath: $0].count }
        } else {
            state.internersAway = true
        }
        events.reserveCapacity(chunk)
    }

    /// Folds one stored event (after the ones before it).
    public func apply(stored raw: UnsafeRawBufferPointer) throws {
        precondition(!journaled)
        if stage(raw, seq: 0) != nil { return }
        try foldHere(raw)
    }

    /// Journaled: folds and journals stored event `seq` (after the ones
    /// before it) and returns its time. `index` gives an event's index
    /// entries (kind, id) from the views before it, for the events `apply`
    /// folds (on this thread).
    public func apply(stored raw: UnsafeRawBufferPointer, seq: UInt64,
                      index: (Event, Views) throws -> [(kind: String, id: String)]) throws -> Micros {
        precondition(journaled)
        if let time = stage(raw, seq: seq) { return time }
        handOff()
        try drain()
        // The keys the reader made before it gave up (no chunk carried them if none was due), to the state;
        // then the keys the event adds, to the stager.
        for name in names { state[keyPath: name].indexAll() }
        catchUp(&state, from: stager)
        state.catchUpTables(providers: state.providerIDs.count, consumers: state.consumerIDs.count)
        let time = try state.foldJournaled(seq: seq, decoding: raw, index: index)
        catchUp(&stager, from: state)
        return time
    }

    /// Journaled, with the worker idle: `behind` takes the keys `ahead` holds past `synced`.
    private func catchUp(_ behind: inout InternedFold, from ahead: InternedFold) {
        for (k, name) in names.enumerated() where ahead[keyPath: name].count > synced[k] {
            behind[keyPath: name].take(ahead[keyPath: name].tail(from: synced[k]))
            synced[k] = ahead[keyPath: name].count
        }
    }

    /// Stages an event the fast reader takes and returns its time; nil for any other.
    private func stage(_ raw: UnsafeRawBufferPointer, seq: UInt64) -> Micros? {
        let pendingBefore = stager.pending.count, scratchBefore = stager.scratch.count
        var reader = StoredAllocationReader(raw)
        if let time = reader.read(into: &stager) {
            events.append(Staged(time: time, bumps: reader.bumps, end: stager.pending.count, seq: seq))
            if events.count >= chunkSize { handOff() }
            return time
        }
        // What the reader staged before it gave up is not this event's; the ids it made stay, as in one thread.
        stager.pending.removeSubrange(pendingBefore...)
        stager.scratch.removeSubrange(scratchBefore...)
        return nil
    }

    /// The fold of every event applied, once the worker is done. Called once, last.
    public func finish() throws -> InternedFold {
        handOff()
        try drain()
        if !journaled { lendInterners() }
        return state
    }

    /// An event for `Event.decoded`, folded on this thread after every event before it.
    private func foldHere(_ raw: UnsafeRawBufferPointer) throws {
        handOff()
        try drain()
        lendInterners()
        defer { lendInterners() }
        state.count += 1
        try state.fold(try Event.decoded(raw))
    }

    /// Moves the interners between the stager and the state (and back, called
    /// again); lent to the state, its tables grow to every id the stager gave.
    private func lendInterners() {
        swap(&stager.providerIDs, &state.providerIDs)
        swap(&stager.consumerIDs, &state.consumerIDs)
        swap(&stager.classIDs, &state.classIDs)
        swap(&stager.nameIDs, &state.nameIDs)
        state.internersAway.toggle()
        if !state.internersAway {
            state.catchUpTables(providers: state.providerIDs.count, consumers: state.consumerIDs.count)
        }
    }

    private func handOff() {
        guard !events.isEmpty else { return }
        let chunk = lock.withLock { spare.popLast() } ?? Chunk()
        swap(&chunk.events, &events)
        swap(&chunk.pending, &stager.pending)
        swap(&chunk.scratch, &stager.scratch)
        chunk.providers = stager.providerIDs.count
        chunk.consumers = stager.consumerIDs.count
        if journaled {
            chunk.tails = names.indices.map { stager[keyPath: names[$0]].tail(from: synced[$0]) }
            synced = names.map { stager[keyPath: $0].count }
            faultAhead()
        }
        inFlight.wait()
        queue.async { self.fold(chunk) }
    }

    /// On the worker.
    private func fold(_ chunk: Chunk) {
        defer {
            chunk.events.removeAll(keepingCapacity: true)
            chunk.pending.removeAll(keepingCapacity: true)
            chunk.scratch.removeAll(keepingCapacity: true)
            lock.withLock { spare.append(chunk) }
            inFlight.signal()
        }
        // After a failure the one-thread fold would have stopped: nothing later counts.
        guard lock.withLock({ failure == nil }) else { return }
        do {
            if journaled {
                // Read by id only, here: indexed when an event is folded on the calling thread.
                for (name, tail) in zip(names, chunk.tails) { state[keyPath: name].take(tail, indexing: false) }
                try state.fold(staged: chunk, journaling: true)
                let now = state.journal!.regions()
                lock.withLock { regions = now }
            } else {
                try state.fold(staged: chunk)
            }
        } catch {
            lock.withLock { failure = error }
        }
    }

    /// Faults in, from the calling thread, the pages the worker's journal
    /// will write next: four times as far past what it has used as it used
    /// since the last look (the worker may be two chunks behind this thread).
    /// A replay's journal is new memory it only ever grows into; at 1.8M
    /// events the worker's page faults were 31% of its samples (3.4% with
    /// this), while this thread waits on it most of the time.
    /// MADV_POPULATE_WRITE maps the pages without changing what they hold,
    /// so it may overlap the worker's writes; an array that has moved since
    /// (it outgrew its reserve) is at worst populated for nothing.
    private func faultAhead() {
        let now = lock.withLock { regions }
        if faulted.count != now.count { faulted = now.map { ($0.start, 0, 0) } }
        let page = 4096
        for (k, r) in now.enumerated() where r.start != 0 && r.reserved > 0 {
            if faulted[k].start != r.start { faulted[k] = (r.start, 0, 0) }
            let step = max(r.used - faulted[k].used, 1 << 20)
            faulted[k].used = r.used
            let target = min(r.reserved, r.used + 4 * step)
            // From the first page past those faulted in or in use, to the last whole page before the target.
            let from = (Int(r.start) + max(faulted[k].end, r.used) + page - 1) / page * page
            let to = (Int(r.start) + target) / page * page
            guard to > from, madvise(UnsafeMutableRawPointer(bitPattern: from), to - from, Self.populateWrite) == 0 else { continue }
            faulted[k].end = target
        }
    }

    /// MADV_POPULATE_WRITE (Linux 5.14), which Glibc's module does not name.
    private static let populateWrite: Int32 = 23

    /// Waits for the worker; throws its failure, with the provider named.
    private func drain() throws {
        queue.sync {}
        guard let failure = lock.withLock({ failure }) else { return }
        if let missing = failure as? InternedFold.MissingProvider {
            throw FoldError.missing("provider \(stager.providerIDs.string(missing.id))")
        }
        throw failure
    }
}

extension InternedFold {
    /// A provider an allocation names that is not in the views, by id, thrown
    /// while the interners that would name it are with the pipelined fold's stager.
    struct MissingProvider: Error {
        let id: Int32
    }

    /// Makes room in the tables for ids the stager gave.
    mutating func catchUpTables(providers p: Int, consumers c: Int) {
        if providers.count < p { providers += repeatElement(nil, count: p - providers.count) }
        if consumers.count < c { consumers += repeatElement(nil, count: c - consumers.count) }
    }

    /// Folds the allocation events a stager read (PipelinedFold).
    mutating func fold(staged chunk: PipelinedFold.Chunk, journaling: Bool = false) throws {
        catchUpTables(providers: chunk.providers, consumers: chunk.consumers)
        swap(&pending, &chunk.pending)
        swap(&scratch, &chunk.scratch)
        defer {
            swap(&pending, &chunk.pending)
            swap(&scratch, &chunk.scratch)
        }
        var from = 0
        for e in chunk.events {
            if journaling {
                try foldJournaled(seq: e.seq, time: e.time, bumps: e.bumps, from..<e.end)
            } else {
                count += 1
                readFast += 1
                try replaceAllocations(bump: e.bumps, now: e.time, from..<e.end)
            }
            from = e.end
        }
    }
}
